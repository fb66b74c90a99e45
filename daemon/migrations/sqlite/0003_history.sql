-- Resource and queue history, pre-aggregated per bucket at several resolutions (seconds), so
-- a chart over any range reads few rows. Older, finer buckets are pruned by the watchdog.
-- subject: 'worker:<id>' or 'queue:<id>'.
CREATE TABLE history (
    subject    TEXT NOT NULL,
    metric     TEXT NOT NULL,
    resolution INTEGER NOT NULL,
    bucket     INTEGER NOT NULL,
    n          INTEGER NOT NULL,
    sum        DOUBLE PRECISION NOT NULL,
    min        DOUBLE PRECISION NOT NULL,
    max        DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (subject, metric, resolution, bucket)
) WITHOUT ROWID;
CREATE INDEX history_age ON history (resolution, bucket);
