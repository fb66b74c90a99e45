-- The task table's indexes. Hyperparameters live in `tasks.hyperparams` (JSON); their values
-- are mirrored here, one row per task and parameter, by a trigger on every write of that
-- column, so filters and sorts on any hyperparameter use an index whichever code path wrote
-- it. `num` is the value as a number, where it is one (numbers sort as numbers).
CREATE TABLE task_params (
    task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    section TEXT NOT NULL,
    name    TEXT NOT NULL,
    value   TEXT NOT NULL,
    num     DOUBLE PRECISION,
    PRIMARY KEY (task_id, section, name)
);
CREATE INDEX task_params_value ON task_params (section, name, value);
CREATE INDEX task_params_num ON task_params (section, name, num);

CREATE FUNCTION runyard_task_params(task TEXT, params TEXT) RETURNS VOID AS $$
    INSERT INTO task_params (task_id, section, name, value, num)
    SELECT task, s.key, p.key, COALESCE(p.value ->> 'value', ''),
           CASE WHEN (p.value ->> 'value') ~ '^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]{1,2})?\s*$'
                THEN (p.value ->> 'value')::DOUBLE PRECISION END
    FROM jsonb_each(params::jsonb) s, jsonb_each(s.value) p
    WHERE jsonb_typeof(s.value) = 'object' AND jsonb_typeof(p.value) = 'object';
$$ LANGUAGE sql;

CREATE FUNCTION runyard_task_params_trigger() RETURNS TRIGGER AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM task_params WHERE task_id = NEW.id;
    END IF;
    PERFORM runyard_task_params(NEW.id, NEW.hyperparams);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER task_params_insert AFTER INSERT ON tasks
    FOR EACH ROW EXECUTE FUNCTION runyard_task_params_trigger();
CREATE TRIGGER task_params_update AFTER UPDATE OF hyperparams ON tasks
    FOR EACH ROW EXECUTE FUNCTION runyard_task_params_trigger();

SELECT runyard_task_params(id, hyperparams) FROM tasks;

-- Metric columns filter and sort on the summaries' values.
CREATE INDEX scalar_summaries_last ON scalar_summaries (metric, variant, last_value);
CREATE INDEX scalar_summaries_min ON scalar_summaries (metric, variant, min_value);
CREATE INDEX scalar_summaries_max ON scalar_summaries (metric, variant, max_value);
CREATE INDEX tasks_created ON tasks (archived, created);

-- Saved views: a named table state (its query string) per project, shared with the team.
CREATE TABLE table_views (
    id         TEXT PRIMARY KEY,
    project_id TEXT REFERENCES projects (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    state      TEXT NOT NULL,
    created    BIGINT NOT NULL,
    updated    BIGINT NOT NULL
);
CREATE UNIQUE INDEX table_views_name ON table_views (COALESCE(project_id, ''), name);
