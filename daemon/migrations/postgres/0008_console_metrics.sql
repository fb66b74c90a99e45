-- Console lines reported as log events may carry an iteration and be filed under a metric
-- and variant, to be read and cleared by them.
ALTER TABLE task_console ADD COLUMN iteration BIGINT;
ALTER TABLE task_console ADD COLUMN metric TEXT;
ALTER TABLE task_console ADD COLUMN variant TEXT;
