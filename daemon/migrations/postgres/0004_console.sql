-- A task's console output (stdout and stderr merged, in order), in chunks of lines as the
-- agent sends them. `id` orders the chunks and lets a reader follow from where it stopped.
CREATE TABLE task_console (
    id      BIGSERIAL PRIMARY KEY,
    task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    time    BIGINT NOT NULL,
    text    TEXT NOT NULL
);
CREATE INDEX task_console_task ON task_console (task_id, id);
