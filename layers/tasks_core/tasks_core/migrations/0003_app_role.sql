-- The role the API functions connect as: it logs in, owns nothing, and may only read and write
-- the API's rows (SELECT, INSERT, UPDATE, DELETE; USAGE and SELECT on their sequences, which
-- nextval needs). No TRUNCATE, no DDL, no CREATE in the schema or database, no temporary tables
-- (they would pin an RDS Proxy connection), nothing on schema_migrations. Migrations, this one
-- included, run as the owner, which keeps every other right.
--
-- The role's name comes from the runner (tasks.app_role: DB_APP_ROLE, the template's
-- DatabaseUser, tasks_app by default) and is quoted with format('%I'), never spliced in.
-- Roles belong to the whole cluster, so this file only writes a role when it must: two runners
-- on two databases of one server then rarely touch the same catalog row, and when they do the
-- runner retries (see tasks_core/migrate.py).
DO $migration$
DECLARE
    app_role text := current_setting('tasks.app_role');
    existing pg_roles%ROWTYPE;
    app_oid oid;
BEGIN
    IF app_role = current_user THEN
        RAISE EXCEPTION 'the API''s role % is the role running the migrations', app_role
            USING HINT = 'Connect the migrations as the owner and give the API another role '
                         '(DB_APP_ROLE; DatabaseUser in template.yaml).';
    END IF;

    SELECT * INTO existing FROM pg_roles WHERE rolname = app_role;
    IF NOT FOUND THEN
        EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS',
                       app_role);
    ELSIF existing.rolsuper THEN
        RAISE EXCEPTION 'the API''s role % exists and is a superuser', app_role;
    ELSIF NOT existing.rolcanlogin OR existing.rolcreatedb OR existing.rolcreaterole
          OR existing.rolreplication OR existing.rolbypassrls THEN
        EXECUTE format('ALTER ROLE %I LOGIN NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS', app_role);
    END IF;

    SELECT oid INTO app_oid FROM pg_roles WHERE rolname = app_role;

    -- A role created by someone else could carry rights through its memberships or objects.
    IF EXISTS (SELECT FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
               WHERE m.member = app_oid AND r.rolname <> 'rds_iam') THEN
        RAISE EXCEPTION 'the API''s role % is a member of other roles', app_role
            USING HINT = 'It must hold only the grants of this migration (and rds_iam on RDS).';
    END IF;
    IF EXISTS (SELECT FROM pg_shdepend WHERE refclassid = 'pg_authid'::regclass
               AND refobjid = app_oid AND deptype = 'o') THEN
        RAISE EXCEPTION 'the API''s role % owns objects', app_role
            USING HINT = 'It must own nothing: reassign them (REASSIGN OWNED BY ...) to the owner.';
    END IF;

    -- RDS and Aurora: IAM authentication (RDS Proxy's end-to-end IAM included) needs rds_iam.
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam')
       AND NOT pg_has_role(app_role, 'rds_iam', 'MEMBER') THEN
        EXECUTE format('GRANT rds_iam TO %I', app_role);
    END IF;

    -- Session defaults of the role that serves requests (as 0002 set them on the owner). RDS Proxy
    -- refuses startup options and a per-session SET pins its connections, so they live on the
    -- role. Set for this database only: a row of its own per database, which runners on other
    -- databases never update.
    EXECUTE format('ALTER ROLE %I IN DATABASE %I SET statement_timeout = %L', app_role, current_database(), '5s');
    EXECUTE format('ALTER ROLE %I IN DATABASE %I SET idle_in_transaction_session_timeout = %L',
                   app_role, current_database(), '10s');
    EXECUTE format('ALTER ROLE %I IN DATABASE %I SET lock_timeout = %L', app_role, current_database(), '3s');

    -- No temporary tables (PUBLIC has TEMPORARY by default); CONNECT stated, not inherited.
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), app_role);

    -- Servers older than PostgreSQL 15, and databases upgraded from them, let PUBLIC create
    -- objects in the public schema.
    REVOKE CREATE ON SCHEMA public FROM PUBLIC;
    EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', app_role);

    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE users, tasks TO %I', app_role);
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %I', app_role);

    -- Tables and sequences later migrations create (they run as this same owner) get the same
    -- rights as they are created, in the migration's own transaction.
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I',
                   app_role);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO %I', app_role);
END
$migration$;
