-- Users and their tasks. The CHECK constraints mirror the API's validation rules
-- (tasks_core/models.py), so the database itself refuses a row the API would refuse.

CREATE TABLE users (
    id text PRIMARY KEY
        CONSTRAINT users_id_format CHECK (id ~ '^[A-Za-z0-9._~@:+|-]{1,128}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tasks (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title text NOT NULL
        CONSTRAINT tasks_title_length CHECK (char_length(title) BETWEEN 1 AND 500)
        -- Stripped of every character Python's str.isspace() accepts, as the API strips it.
        CONSTRAINT tasks_title_stripped CHECK (title = btrim(title, U&'\0009\000A\000B\000C\000D\001C\001D\001E\001F\0020\0085\00A0\1680\2000\2001\2002\2003\2004\2005\2006\2007\2008\2009\200A\2028\2029\202F\205F\3000')),
    description text
        CONSTRAINT tasks_description_length CHECK (char_length(description) <= 5000),
    completed boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tasks_updated_after_created CHECK (updated_at >= created_at)
);

-- Serves the list (WHERE user_id = ? AND id > ? ORDER BY id) and user-scoped lookups.
CREATE INDEX tasks_user_id_id_idx ON tasks (user_id, id);
