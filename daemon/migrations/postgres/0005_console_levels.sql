-- Console lines reported as log events carry their level and the worker that sent them.
ALTER TABLE task_console ADD COLUMN level TEXT;
ALTER TABLE task_console ADD COLUMN worker TEXT;
