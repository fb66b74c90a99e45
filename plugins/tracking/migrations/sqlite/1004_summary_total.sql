-- The sum of a series' values, for its mean. NULL once a NaN was reported (or for series
-- summarised before the column existed): the mean is then unknown.
ALTER TABLE scalar_summaries ADD COLUMN total DOUBLE PRECISION;
