-- The column pickers' catalogues: per project, the metric/variant pairs and hyperparameters
-- (section/name) its tasks have. Entries are added by triggers as series and parameters
-- appear (or tasks move in); entries no task has any more are swept by the plugin's
-- background job.
CREATE TABLE table_catalogue (
    project_id TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('metric', 'param')),
    a          TEXT NOT NULL,
    b          TEXT NOT NULL,
    PRIMARY KEY (project_id, kind, a, b)
) WITHOUT ROWID;

CREATE TRIGGER catalogue_metric AFTER INSERT ON scalar_summaries BEGIN
    INSERT INTO table_catalogue (project_id, kind, a, b)
    SELECT project_id, 'metric', NEW.metric, NEW.variant FROM tasks WHERE id = NEW.task_id
    ON CONFLICT DO NOTHING;
END;

CREATE TRIGGER catalogue_param AFTER INSERT ON task_params BEGIN
    INSERT INTO table_catalogue (project_id, kind, a, b)
    SELECT project_id, 'param', NEW.section, NEW.name FROM tasks WHERE id = NEW.task_id
    ON CONFLICT DO NOTHING;
END;

CREATE TRIGGER catalogue_move AFTER UPDATE OF project_id ON tasks WHEN OLD.project_id <> NEW.project_id BEGIN
    INSERT INTO table_catalogue (project_id, kind, a, b)
    SELECT NEW.project_id, 'metric', metric, variant FROM scalar_summaries WHERE task_id = NEW.id
    ON CONFLICT DO NOTHING;
    INSERT INTO table_catalogue (project_id, kind, a, b)
    SELECT NEW.project_id, 'param', section, name FROM task_params WHERE task_id = NEW.id
    ON CONFLICT DO NOTHING;
END;

INSERT INTO table_catalogue (project_id, kind, a, b)
SELECT DISTINCT t.project_id, 'metric', s.metric, s.variant FROM scalar_summaries s JOIN tasks t ON t.id = s.task_id;
INSERT INTO table_catalogue (project_id, kind, a, b)
SELECT DISTINCT t.project_id, 'param', p.section, p.name FROM task_params p JOIN tasks t ON t.id = p.task_id;
