-- Priority inside a queue: higher first, ties in queue order. `queue_entries.priority` is the
-- effective sort key (a manual move sets it to its new neighbours'); `tasks.priority` is what
-- the task asked for.
ALTER TABLE tasks ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE queue_entries ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
DROP INDEX queue_entries_order;
CREATE INDEX queue_entries_order ON queue_entries (queue_id, priority DESC, position);

-- Tasks handed to an agent that has not yet said "started". Past the deadline they go back
-- to the head of their queue.
CREATE TABLE task_leases (
    task_id  TEXT PRIMARY KEY REFERENCES tasks (id) ON DELETE CASCADE,
    queue_id TEXT NOT NULL,
    worker   TEXT NOT NULL,
    priority INTEGER NOT NULL,
    popped   INTEGER NOT NULL,
    deadline INTEGER NOT NULL,
    -- When the task was enqueued, kept so a requeue and the dispatch latency both see it.
    added    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX task_leases_deadline ON task_leases (deadline);

-- Agents. A worker silent for longer than its timeout is dropped by the watchdog.
CREATE TABLE workers (
    id              TEXT PRIMARY KEY,
    queues          TEXT NOT NULL DEFAULT '[]',
    capabilities    TEXT NOT NULL DEFAULT '{}',
    last_report     TEXT NOT NULL DEFAULT '{}',
    task_id         TEXT,
    registered      INTEGER NOT NULL,
    last_seen       INTEGER NOT NULL,
    timeout_seconds INTEGER NOT NULL,
    drained         INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Only running tasks: the watchdog looks for silent ones; other tasks pay nothing.
CREATE INDEX tasks_running ON tasks (last_update) WHERE status = 'in_progress';
