-- A narrow index to check a task's project and archive flag by id without reading its wide
-- row: index walks in sort order check every task they pass.
CREATE INDEX IF NOT EXISTS tasks_scope ON tasks (id, project_id, archived);
