-- Users and their key pairs. Secrets are stored as argon2 hashes only.
CREATE TABLE users (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL UNIQUE,
    role    TEXT NOT NULL CHECK (role IN ('admin', 'user')),
    created INTEGER NOT NULL
);

CREATE TABLE access_keys (
    access_key  TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created     INTEGER NOT NULL
);

-- Server-wide settings shared by every replica (e.g. the token signing key).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Projects are a flat table of full paths ("a/b/c"); nesting is a name prefix.
CREATE TABLE projects (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    user_id     TEXT,
    created     INTEGER NOT NULL
);

CREATE TABLE queues (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL UNIQUE,
    created INTEGER NOT NULL
);

-- Times are milliseconds since the Unix epoch. Nested parts of a task are JSON text.
-- Ids are time-ordered, so the clustered primary key grows at its right edge.
CREATE TABLE tasks (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    project_id     TEXT NOT NULL REFERENCES projects (id),
    type           TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('created', 'queued', 'in_progress', 'stopped', 'completed', 'failed', 'published')),
    status_reason  TEXT NOT NULL DEFAULT '',
    status_message TEXT NOT NULL DEFAULT '',
    archived       INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)),
    user_id        TEXT NOT NULL,
    comment        TEXT NOT NULL DEFAULT '',
    parent         TEXT,
    system_tags    TEXT NOT NULL DEFAULT '[]',
    created        INTEGER NOT NULL,
    started        INTEGER,
    completed      INTEGER,
    last_update    INTEGER NOT NULL,
    last_change    INTEGER NOT NULL,
    last_iteration INTEGER NOT NULL DEFAULT 0,
    worker         TEXT,
    queue_id       TEXT,
    script         TEXT NOT NULL DEFAULT '{}',
    environment    TEXT NOT NULL DEFAULT '{}',
    container      TEXT NOT NULL DEFAULT '{}',
    execution      TEXT NOT NULL DEFAULT '{}',
    hyperparams    TEXT NOT NULL DEFAULT '{}',
    configuration  TEXT NOT NULL DEFAULT '{}',
    runtime        TEXT NOT NULL DEFAULT '{}',
    input_models   TEXT NOT NULL DEFAULT '[]',
    output_models  TEXT NOT NULL DEFAULT '[]',
    artifacts      TEXT NOT NULL DEFAULT '[]'
) WITHOUT ROWID;
CREATE INDEX tasks_project ON tasks (project_id, archived, created);
CREATE INDEX tasks_parent ON tasks (parent);

CREATE TABLE task_tags (
    task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    tag     TEXT NOT NULL,
    PRIMARY KEY (task_id, tag)
) WITHOUT ROWID;
CREATE INDEX task_tags_tag ON task_tags (tag);

-- A queue is its entries ordered by position.
CREATE TABLE queue_entries (
    task_id  TEXT PRIMARY KEY REFERENCES tasks (id) ON DELETE CASCADE,
    queue_id TEXT NOT NULL REFERENCES queues (id),
    position INTEGER NOT NULL,
    added    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX queue_entries_order ON queue_entries (queue_id, position);
