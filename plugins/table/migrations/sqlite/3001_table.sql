-- The task table's indexes. Hyperparameters live in `tasks.hyperparams` (JSON); their values
-- are mirrored here, one row per task and parameter, by triggers on every write of that
-- column, so filters and sorts on any hyperparameter use an index whichever code path wrote
-- it. `num` is the value as a number, where it is one (numbers sort as numbers).
CREATE TABLE task_params (
    task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    section TEXT NOT NULL,
    name    TEXT NOT NULL,
    value   TEXT NOT NULL,
    num     REAL,
    PRIMARY KEY (task_id, section, name)
) WITHOUT ROWID;
CREATE INDEX task_params_value ON task_params (section, name, value);
CREATE INDEX task_params_num ON task_params (section, name, num);

CREATE TRIGGER task_params_insert AFTER INSERT ON tasks BEGIN
    INSERT INTO task_params (task_id, section, name, value, num)
    SELECT NEW.id, s.key, p.key, COALESCE(json_extract(p.value, '$.value'), ''),
           CASE WHEN json_valid(json_extract(p.value, '$.value'))
                 AND json_type(json_extract(p.value, '$.value')) IN ('integer', 'real')
                THEN CAST(json_extract(p.value, '$.value') AS REAL) END
    FROM json_each(NEW.hyperparams) s, json_each(s.value) p
    WHERE s.type = 'object' AND p.type = 'object';
END;

CREATE TRIGGER task_params_update AFTER UPDATE OF hyperparams ON tasks BEGIN
    DELETE FROM task_params WHERE task_id = NEW.id;
    INSERT INTO task_params (task_id, section, name, value, num)
    SELECT NEW.id, s.key, p.key, COALESCE(json_extract(p.value, '$.value'), ''),
           CASE WHEN json_valid(json_extract(p.value, '$.value'))
                 AND json_type(json_extract(p.value, '$.value')) IN ('integer', 'real')
                THEN CAST(json_extract(p.value, '$.value') AS REAL) END
    FROM json_each(NEW.hyperparams) s, json_each(s.value) p
    WHERE s.type = 'object' AND p.type = 'object';
END;

INSERT INTO task_params (task_id, section, name, value, num)
SELECT t.id, s.key, p.key, COALESCE(json_extract(p.value, '$.value'), ''),
       CASE WHEN json_valid(json_extract(p.value, '$.value'))
             AND json_type(json_extract(p.value, '$.value')) IN ('integer', 'real')
            THEN CAST(json_extract(p.value, '$.value') AS REAL) END
FROM tasks t, json_each(t.hyperparams) s, json_each(s.value) p
WHERE s.type = 'object' AND p.type = 'object';

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
    created    INTEGER NOT NULL,
    updated    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE UNIQUE INDEX table_views_name ON table_views (COALESCE(project_id, ''), name);
