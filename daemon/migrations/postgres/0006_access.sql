-- The agent role: a worker machine's identity.
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('admin', 'user', 'agent'));

-- A worker id is bound to the identity (user id) that first registered it; NULL for workers
-- registered before binding, which the next registration binds.
ALTER TABLE workers ADD COLUMN owner TEXT;

-- Fencing: how many times each task was handed to a worker (a pop counts one up). An agent's
-- reports carry the attempt they belong to; an earlier one's are refused.
ALTER TABLE tasks ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;
