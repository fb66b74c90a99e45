-- The column pickers' catalogues: per project, the metric/variant pairs and hyperparameters
-- (section/name) its tasks have. Entries are added by triggers as series and parameters
-- appear (or tasks move in); entries no task has any more are swept by the plugin's
-- background job. An entry that exists already costs a lookup, no lock.
CREATE TABLE table_catalogue (
    project_id TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('metric', 'param')),
    a          TEXT NOT NULL,
    b          TEXT NOT NULL,
    PRIMARY KEY (project_id, kind, a, b)
);

CREATE FUNCTION runyard_catalogue_add(project TEXT, entry_kind TEXT, entry_a TEXT, entry_b TEXT) RETURNS VOID AS $$
    INSERT INTO table_catalogue (project_id, kind, a, b)
    SELECT project, entry_kind, entry_a, entry_b
    WHERE project IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM table_catalogue
        WHERE project_id = project AND kind = entry_kind AND a = entry_a AND b = entry_b)
    ON CONFLICT DO NOTHING;
$$ LANGUAGE sql;

CREATE FUNCTION runyard_catalogue_metric() RETURNS TRIGGER AS $$
BEGIN
    PERFORM runyard_catalogue_add((SELECT project_id FROM tasks WHERE id = NEW.task_id), 'metric', NEW.metric, NEW.variant);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION runyard_catalogue_param() RETURNS TRIGGER AS $$
BEGIN
    PERFORM runyard_catalogue_add((SELECT project_id FROM tasks WHERE id = NEW.task_id), 'param', NEW.section, NEW.name);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION runyard_catalogue_move() RETURNS TRIGGER AS $$
BEGIN
    PERFORM runyard_catalogue_add(NEW.project_id, 'metric', metric, variant) FROM scalar_summaries WHERE task_id = NEW.id;
    PERFORM runyard_catalogue_add(NEW.project_id, 'param', section, name) FROM task_params WHERE task_id = NEW.id;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER catalogue_metric AFTER INSERT ON scalar_summaries
    FOR EACH ROW EXECUTE FUNCTION runyard_catalogue_metric();
CREATE TRIGGER catalogue_param AFTER INSERT ON task_params
    FOR EACH ROW EXECUTE FUNCTION runyard_catalogue_param();
CREATE TRIGGER catalogue_move AFTER UPDATE OF project_id ON tasks
    FOR EACH ROW WHEN (OLD.project_id IS DISTINCT FROM NEW.project_id) EXECUTE FUNCTION runyard_catalogue_move();

INSERT INTO table_catalogue (project_id, kind, a, b)
SELECT DISTINCT t.project_id, 'metric', s.metric, s.variant FROM scalar_summaries s JOIN tasks t ON t.id = s.task_id;
INSERT INTO table_catalogue (project_id, kind, a, b)
SELECT DISTINCT t.project_id, 'param', p.section, p.name FROM task_params p JOIN tasks t ON t.id = p.task_id;
