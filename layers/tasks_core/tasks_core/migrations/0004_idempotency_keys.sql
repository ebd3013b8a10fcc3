-- Idempotency-Key (API.md, "Retries and concurrent edits"): the first 201 answered for a key,
-- stored in the same statement as its task (sql.CREATE_TASK_WITH_KEY) and answered again
-- to a retry with the same key until it expires. The task may be changed or deleted since, so
-- the answer is kept here whole, not read from tasks.
CREATE TABLE idempotency_keys (
    user_id text NOT NULL,
    key text NOT NULL
        CONSTRAINT idempotency_keys_key_format CHECK (key ~ '^[!-~]{1,255}$'),
    -- SHA-256 of the request after parsing and normalising (tasks_core/idempotency.py).
    fingerprint text NOT NULL,
    task_id bigint NOT NULL,
    etag text NOT NULL,
    body text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, key)
);

-- Serves the scheduled purge (functions/purge_idempotency_keys).
CREATE INDEX idempotency_keys_expires_at_idx ON idempotency_keys (expires_at);
