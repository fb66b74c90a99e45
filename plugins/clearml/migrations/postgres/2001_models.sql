-- ClearML's model registry: each model as its ClearML document (JSON), with the columns its
-- reads filter on. Models outlive the tasks that made them, as in ClearML.
CREATE TABLE clearml_models (
    id          TEXT PRIMARY KEY,
    task_id     TEXT,
    project_id  TEXT,
    name        TEXT NOT NULL,
    uri         TEXT,
    created     BIGINT NOT NULL,
    document    TEXT NOT NULL
);
CREATE INDEX clearml_models_task ON clearml_models (task_id);
CREATE INDEX clearml_models_uri ON clearml_models (uri);
