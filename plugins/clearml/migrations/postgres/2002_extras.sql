-- ClearML's attributes of Runyard's queues and projects that Runyard's own model does not
-- carry (tags, system tags, a display name, metadata): one JSON document per entity.
CREATE TABLE clearml_extras (
    kind        TEXT NOT NULL,
    id          TEXT NOT NULL,
    document    TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
