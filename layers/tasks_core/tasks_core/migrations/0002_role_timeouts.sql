-- Session defaults for the role the API connects as. They live on the role because RDS Proxy
-- refuses startup options (-c statement_timeout=...) and a per-session SET would pin the
-- connection. A role may always set its own defaults; they apply to new sessions.
-- The statement timeout stays well under the functions' timeout (template.yaml), so a slow
-- query becomes a 503 rather than a killed function.
ALTER ROLE CURRENT_USER SET statement_timeout = '5s';
ALTER ROLE CURRENT_USER SET idle_in_transaction_session_timeout = '10s';
ALTER ROLE CURRENT_USER SET lock_timeout = '3s';
