-- Create with an Idempotency-Key (sql.CREATE_TASK_WITH_KEY calls this), in one statement and one
-- transaction:
-- - `task` is the new task as it will be stored: its id drawn from the identity sequence and its
--   timestamps the transaction's now(), so its response can be written before the row exists;
-- - `claim` inserts the key with that response. A key held by a request still in flight makes
--   this wait for it (the unique index), then find its row; an expired key is taken over, and a
--   live one is left as it is (the no-op update only makes RETURNING give the stored row);
-- - `created` inserts the task only when the claim is ours (its task id is the one just drawn).
-- A key never exists without its task, nor a task without its key; a failure stores neither.
--
-- Why a function: sent as one statement, PostgreSQL planned this one anew on every call (0.34 ms
-- of planning for 0.31 ms of execution; the plain create plans in 0.07 ms), since the API never
-- prepares statements (RDS Proxy would pin the connection). PL/pgSQL keeps the statement's plan
-- in the server session, which outlives the client's connection behind RDS Proxy: `make bench`
-- measured the create with a key at 1,061 us sent whole and 642 us through this function.
--
-- The task's JSON and ETag are written as sql._task_json and sql._etag write them for every other
-- statement; tests/integration/test_task_json.py checks that the bodies of both creates are the
-- ones pydantic writes, and tests/handlers/test_idempotency.py that a replay is the same bytes.
-- `#variable_conflict use_column`: the result's column names are also the table's.
CREATE FUNCTION create_task_with_key(
    p_user_id text, p_title text, p_description text, p_completed boolean,
    p_key text, p_fingerprint text, p_ttl_s integer
) RETURNS TABLE (task_id bigint, fingerprint text, etag text, body text, created boolean)
LANGUAGE plpgsql AS $function$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH new_user AS (
        INSERT INTO users (id) VALUES (p_user_id) ON CONFLICT (id) DO NOTHING
    ),
    task AS (
        SELECT nextval(pg_get_serial_sequence('tasks', 'id')) AS id, p_user_id AS user_id,
               p_title AS title, p_description AS description, p_completed AS completed,
               now() AS created_at, now() AS updated_at
    ),
    claim AS (
        INSERT INTO idempotency_keys AS k (user_id, key, fingerprint, task_id, etag, body, expires_at)
        SELECT t.user_id, p_key, p_fingerprint, t.id,
               ('"' || (extract(epoch FROM t.updated_at) * 1000000)::bigint || '"'),
               ('{"id":' || t.id
                || ',"title":' || to_json(t.title)::text
                || ',"description":' || coalesce(to_json(t.description)::text, 'null')
                || ',"completed":' || t.completed
                || ',"user_id":' || to_json(t.user_id)::text
                || ',"created_at":"' || to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
                || '","updated_at":"' || to_char(t.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
                || '"}'),
               now() + make_interval(secs => p_ttl_s)
        FROM task t
        ON CONFLICT (user_id, key) DO UPDATE SET
            fingerprint = CASE WHEN k.expires_at > now() THEN k.fingerprint ELSE excluded.fingerprint END,
            task_id = CASE WHEN k.expires_at > now() THEN k.task_id ELSE excluded.task_id END,
            etag = CASE WHEN k.expires_at > now() THEN k.etag ELSE excluded.etag END,
            body = CASE WHEN k.expires_at > now() THEN k.body ELSE excluded.body END,
            expires_at = CASE WHEN k.expires_at > now() THEN k.expires_at ELSE excluded.expires_at END
        RETURNING k.task_id, k.fingerprint, k.etag, k.body
    ),
    created AS (
        INSERT INTO tasks (id, user_id, title, description, completed, created_at, updated_at)
        OVERRIDING SYSTEM VALUE
        SELECT t.id, t.user_id, t.title, t.description, t.completed, t.created_at, t.updated_at
        FROM task t JOIN claim ON claim.task_id = t.id
        RETURNING id
    )
    SELECT claim.task_id, claim.fingerprint, claim.etag, claim.body, EXISTS (SELECT FROM created) FROM claim;
END
$function$;

-- Least privilege: only the API's role may call it (PUBLIC may call a new function by default).
-- It runs with the caller's rights (SECURITY INVOKER), which the API's role already has.
REVOKE EXECUTE ON FUNCTION create_task_with_key(text, text, text, boolean, text, text, integer) FROM PUBLIC;
DO $migration$
BEGIN
    EXECUTE format('GRANT EXECUTE ON FUNCTION create_task_with_key(text, text, text, boolean, text, text, integer) TO %I',
                   current_setting('tasks.app_role'));
END
$migration$;
