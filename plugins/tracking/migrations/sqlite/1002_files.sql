-- Files a task stored through the daemon: where (`local` is the daemon's own file store, or an
-- object store URL such as `s3://bucket`) and under which path (`<project>/<task>/<name>`).
CREATE TABLE task_files (
    location TEXT NOT NULL,
    path     TEXT NOT NULL,
    task_id  TEXT NOT NULL,
    size     INTEGER NOT NULL,
    hash     TEXT NOT NULL,
    created  INTEGER NOT NULL,
    PRIMARY KEY (location, path)
) WITHOUT ROWID;
CREATE INDEX task_files_task ON task_files (task_id);

-- Files of reset or deleted tasks still to be removed: taken over from task_files in the
-- transaction that clears the task, removed after it commits, retried with back-off.
CREATE TABLE file_removals (
    location   TEXT NOT NULL,
    path       TEXT NOT NULL,
    task_id    TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_try   INTEGER NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (location, path)
) WITHOUT ROWID;
CREATE INDEX file_removals_due ON file_removals (next_try);
