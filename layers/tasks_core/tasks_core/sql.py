"""Every SQL statement of the API, as constants with named parameters (repository.py runs them).

One statement per operation, each scoped by user_id, so another user's task is simply not
found. A task leaves the database as the response body itself: PostgreSQL writes its JSON
(compact, as pydantic would; tests/integration/test_task_json.py) and its ETag, so a stored
response (Idempotency-Key) and a fresh one are the same text.
"""

from __future__ import annotations

_UTC = """'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'"""


def _task_json(t: str) -> str:
    """SQL for the task `t` as the API's JSON text: the fields of models.Task, in order, compact."""
    return f"""(
        '{{"id":' || {t}.id
        || ',"title":' || to_json({t}.title)::text
        || ',"description":' || coalesce(to_json({t}.description)::text, 'null')
        || ',"completed":' || {t}.completed
        || ',"user_id":' || to_json({t}.user_id)::text
        || ',"created_at":"' || to_char({t}.created_at AT TIME ZONE 'UTC', {_UTC})
        || '","updated_at":"' || to_char({t}.updated_at AT TIME ZONE 'UTC', {_UTC}) || '"}}'
    )"""


def _etag(t: str) -> str:
    """SQL for the strong ETag of the task `t`: its updated_at in microseconds, quoted.

    updated_at moves forward on every update that sets a field (UPDATE_TASK), and ids are never
    reused, so the tag changes whenever the task does.
    """
    return f"""('"' || (extract(epoch FROM {t}.updated_at) * 1000000)::bigint || '"')"""


# The user row is created on a user's first task, in the same statement: the FK check at the
# end of the statement sees the CTE's insert, and ON CONFLICT makes concurrent first tasks safe.
CREATE_TASK = f"""
WITH new_user AS (
    INSERT INTO users (id) VALUES (%(user_id)s) ON CONFLICT (id) DO NOTHING
)
INSERT INTO tasks AS t (user_id, title, description, completed)
VALUES (%(user_id)s, %(title)s, %(description)s, %(completed)s)
RETURNING t.id, {_etag("t")}, {_task_json("t")}
"""

# Create with an Idempotency-Key, in one statement: the key, its stored answer and the task
# together, or none of them. The statement is a PL/pgSQL function of migration
# 0005_create_task_with_key.sql, whose comment says how it works and why it is a function (its
# plan is kept by the server; sent whole, it was planned anew on every call).
CREATE_TASK_WITH_KEY = """
SELECT * FROM create_task_with_key(
    %(user_id)s, %(title)s, %(description)s, %(completed)s, %(key)s, %(fingerprint)s, %(ttl_s)s
)
"""

GET_TASK = f"""
SELECT t.id, {_etag("t")}, {_task_json("t")} FROM tasks t WHERE t.id = %(task_id)s AND t.user_id = %(user_id)s
"""

# Keyset pagination on (user_id, id), served by tasks_user_id_id_idx; LIMIT reads one row more
# to know whether another page follows, and the last id of this page is set when one does.
LIST_TASKS_JSON = f"""
WITH page AS (
    SELECT t.*, row_number() OVER (ORDER BY t.id) AS n FROM tasks t
    WHERE t.user_id = %(user_id)s
      AND t.id > %(after_id)s
      AND (%(completed)s::boolean IS NULL OR t.completed = %(completed)s::boolean)
    ORDER BY t.id
    LIMIT %(fetch)s
)
SELECT '[' || coalesce(string_agg({_task_json("page")}, ',' ORDER BY page.id) FILTER (WHERE n <= %(limit)s), '')
           || ']',
       CASE WHEN count(*) > %(limit)s THEN max(page.id) FILTER (WHERE n <= %(limit)s) END
FROM page
"""

# A field changes only when its set_* flag is true, so one constant statement serves every
# subset of fields (no SQL built at run time, nothing read first). updated_at moves forward
# on every update, by at least a microsecond even if the clock has not.
# `if_match` (the If-Match tags, or NULL for none or `*`) guards the write inside the statement:
# of racing writers with the same tag the first wins, and the others, re-checked against the
# row it wrote, match nothing. `target` (the statement's snapshot) tells 412 from 404.
UPDATE_TASK = f"""
WITH target AS (
    SELECT id FROM tasks WHERE id = %(task_id)s AND user_id = %(user_id)s
),
updated AS (
    UPDATE tasks t SET
        title = CASE WHEN %(set_title)s THEN %(title)s::text ELSE t.title END,
        description = CASE WHEN %(set_description)s THEN %(description)s::text ELSE t.description END,
        completed = CASE WHEN %(set_completed)s THEN %(completed)s::boolean ELSE t.completed END,
        updated_at = greatest(now(), t.updated_at + interval '1 microsecond')
    WHERE t.id = %(task_id)s AND t.user_id = %(user_id)s
      AND (%(if_match)s::text[] IS NULL OR {_etag("t")} = ANY (%(if_match)s::text[]))
    RETURNING t.id, {_etag("t")} AS etag, {_task_json("t")} AS body
)
SELECT id, etag, body FROM updated
UNION ALL
SELECT id, NULL, NULL FROM target WHERE NOT EXISTS (SELECT FROM updated)
"""

DELETE_TASK = f"""
WITH target AS (
    SELECT id FROM tasks WHERE id = %(task_id)s AND user_id = %(user_id)s
),
deleted AS (
    DELETE FROM tasks t
    WHERE t.id = %(task_id)s AND t.user_id = %(user_id)s
      AND (%(if_match)s::text[] IS NULL OR {_etag("t")} = ANY (%(if_match)s::text[]))
    RETURNING t.id
)
SELECT EXISTS (SELECT FROM deleted), EXISTS (SELECT FROM target)
"""

# Expired keys in batches, so one run holds few locks and ends well within its timeout.
PURGE_EXPIRED_KEYS = """
WITH purged AS (
    DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM idempotency_keys WHERE expires_at <= now() LIMIT %(batch)s
    ))
    RETURNING 1
)
SELECT count(*) FROM purged
"""

PING = "SELECT 1"
