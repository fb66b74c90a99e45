-- The agent role: a worker machine's identity.
-- SQLite cannot change a CHECK in place: the users table is rebuilt, its key pairs with it (the
-- key pairs first point at the new table, so dropping the old one cascades to nothing).
CREATE TABLE users_new (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL UNIQUE,
    role    TEXT NOT NULL CHECK (role IN ('admin', 'user', 'agent')),
    created INTEGER NOT NULL
);
INSERT INTO users_new (id, name, role, created) SELECT id, name, role, created FROM users;
CREATE TABLE access_keys_new (
    access_key  TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users_new (id) ON DELETE CASCADE,
    created     INTEGER NOT NULL
);
INSERT INTO access_keys_new (access_key, secret_hash, user_id, created)
    SELECT access_key, secret_hash, user_id, created FROM access_keys;
DROP TABLE access_keys;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
ALTER TABLE access_keys_new RENAME TO access_keys;

-- A worker id is bound to the identity (user id) that first registered it; NULL for workers
-- registered before binding, which the next registration binds.
ALTER TABLE workers ADD COLUMN owner TEXT;

-- Fencing: how many times each task was handed to a worker (a pop counts one up). An agent's
-- reports carry the attempt they belong to; an earlier one's are refused.
ALTER TABLE tasks ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;
