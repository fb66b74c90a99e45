-- The tracking plugin's tables. Every row names its task; a reset or delete of the task
-- removes them (the plugin's hooks; the foreign keys cascade as a safety net). Each table
-- carries the time its rows were written, so per-project retention is a range delete.

-- Scalar series in chunks: the points of one series that one batch carried, packed by
-- `series::encode` (iteration and time as varint deltas, the value's 8 bytes, so NaN and ±Inf
-- keep their bits; about 10 bytes a point), so a million points are a few thousand rows.
CREATE TABLE scalar_chunks (
    id         BIGSERIAL PRIMARY KEY,
    task_id    TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    metric     TEXT NOT NULL,
    variant    TEXT NOT NULL,
    first_iter BIGINT NOT NULL,
    last_iter  BIGINT NOT NULL,
    points     BIGINT NOT NULL,
    created    BIGINT NOT NULL,
    data       BYTEA NOT NULL
);
CREATE INDEX scalar_chunks_series ON scalar_chunks (task_id, metric, variant, first_iter);

-- Per task and series, kept current in the transaction that stores its points, so the task
-- table filters and sorts on metrics without touching series. A NULL value is NaN; NULL
-- min/max means no value other than NaN was reported.
CREATE TABLE scalar_summaries (
    task_id     TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    metric      TEXT NOT NULL,
    variant     TEXT NOT NULL,
    count       BIGINT NOT NULL,
    first_value DOUBLE PRECISION,
    first_iter  BIGINT NOT NULL,
    last_value  DOUBLE PRECISION,
    last_iter   BIGINT NOT NULL,
    last_time   BIGINT NOT NULL,
    min_value   DOUBLE PRECISION,
    min_iter    BIGINT NOT NULL,
    max_value   DOUBLE PRECISION,
    max_iter    BIGINT NOT NULL,
    PRIMARY KEY (task_id, metric, variant)
);
CREATE INDEX scalar_summaries_metric ON scalar_summaries (metric, variant);

-- Values with no iteration; the last one reported wins. NULL is NaN.
CREATE TABLE single_values (
    task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    name    TEXT NOT NULL,
    value   DOUBLE PRECISION,
    time    BIGINT NOT NULL,
    PRIMARY KEY (task_id, name)
);

-- Plotly figures as JSON text, every reported iteration.
CREATE TABLE plots (
    id        BIGSERIAL PRIMARY KEY,
    task_id   TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    metric    TEXT NOT NULL,
    variant   TEXT NOT NULL,
    iteration BIGINT NOT NULL,
    time      BIGINT NOT NULL,
    figure    TEXT NOT NULL
);
CREATE INDEX plots_series ON plots (task_id, metric, variant, iteration);

-- Debug samples: files by reference.
CREATE TABLE debug_samples (
    id        BIGSERIAL PRIMARY KEY,
    task_id   TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    metric    TEXT NOT NULL,
    variant   TEXT NOT NULL,
    iteration BIGINT NOT NULL,
    time      BIGINT NOT NULL,
    uri       TEXT NOT NULL
);
CREATE INDEX debug_samples_series ON debug_samples (task_id, metric, variant, iteration);
