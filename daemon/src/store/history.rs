//! Resource and queue history: samples folded into buckets at several resolutions as they
//! arrive, so a chart over an hour or a year reads a bounded number of rows.

use super::{placeholders, to_time, Backend, Store};
use crate::error::{Error, Result};
use runyard_api::{History, HistoryPoint};
use sqlx::Row;
use std::collections::BTreeMap;

/// `(bucket width, how long buckets of that width are kept)`, in seconds, finest first.
pub const RESOLUTIONS: [(i64, i64); 4] =
    [(10, 24 * 3600), (60, 7 * 24 * 3600), (600, 30 * 24 * 3600), (3600, 365 * 24 * 3600)];

/// Most points one history answer may hold per series.
pub const MAX_POINTS: i64 = 10_000;

/// One output interval being summed up.
struct Bin {
    start: i64,
    n: i64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Store {
    /// Folds one sample of each metric, taken at `at` (ms), into every resolution.
    pub async fn record_history(&self, subject: &str, samples: &[(String, f64)], at: i64) -> Result<()> {
        // One value per metric (the last given), so one statement never upserts a key twice.
        let samples: BTreeMap<&str, f64> =
            samples.iter().filter(|(_, v)| v.is_finite()).map(|(m, v)| (m.as_str(), *v)).collect();
        if samples.is_empty() {
            return Ok(());
        }
        let (least, greatest) = match self.backend {
            Backend::Sqlite => ("min", "max"),
            Backend::Postgres => ("LEAST", "GREATEST"),
        };
        let rows = samples.len() * RESOLUTIONS.len();
        let values = (0..rows).map(|i| format!("({})", placeholders(i * 8, 8))).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "INSERT INTO history (subject, metric, resolution, bucket, n, sum, min, max) VALUES {values} \
             ON CONFLICT (subject, metric, resolution, bucket) DO UPDATE SET n = history.n + excluded.n, \
             sum = history.sum + excluded.sum, min = {least}(history.min, excluded.min), \
             max = {greatest}(history.max, excluded.max)"
        );
        let mut q = sqlx::query(&sql);
        for (metric, value) in samples {
            for (width, _) in RESOLUTIONS {
                let bucket = at - at.rem_euclid(width * 1000);
                q = q
                    .bind(subject)
                    .bind(metric)
                    .bind(width)
                    .bind(bucket)
                    .bind(1i64)
                    .bind(value)
                    .bind(value)
                    .bind(value);
            }
        }
        let mut tx = self.write().await?;
        q.execute(&mut **tx).await?;
        tx.commit().await
    }

    /// A subject's history between `from` and `to` (ms), in points `interval` seconds wide,
    /// read from the finest resolution that still covers `from`.
    pub async fn history(
        &self,
        subject: &str,
        metrics: &[String],
        from: i64,
        to: i64,
        interval: i64,
    ) -> Result<History> {
        if from >= to {
            return Err(Error::invalid("from", "must be before to"));
        }
        if interval <= 0 {
            return Err(Error::invalid("interval_seconds", "must be at least 1"));
        }
        if (to - from) / (interval * 1000) > MAX_POINTS {
            return Err(Error::invalid(
                "interval_seconds",
                format!("the range would hold more than {MAX_POINTS} points"),
            ));
        }
        let age = (super::now_ms() - from) / 1000;
        let (width, _) = RESOLUTIONS
            .iter()
            .copied()
            .find(|(w, keep)| *keep >= age && *w <= interval.max(RESOLUTIONS[0].0))
            .unwrap_or(RESOLUTIONS[RESOLUTIONS.len() - 1]);
        let step = (interval.max(width) / width) * width * 1000;
        let mut sql = String::from(
            "SELECT metric, bucket, n, sum, min, max FROM history WHERE subject = $1 AND resolution = $2 \
             AND bucket >= $3 AND bucket <= $4",
        );
        if !metrics.is_empty() {
            sql.push_str(&format!(" AND metric IN ({})", placeholders(4, metrics.len())));
        }
        sql.push_str(" ORDER BY metric, bucket");
        let mut q = sqlx::query(&sql).bind(subject).bind(width).bind(from - from.rem_euclid(width * 1000)).bind(to);
        for m in metrics {
            q = q.bind(m);
        }
        let mut series: BTreeMap<String, Vec<Bin>> = BTreeMap::new();
        for row in q.fetch_all(&self.pool).await? {
            let metric: String = row.try_get("metric")?;
            let bucket: i64 = row.try_get("bucket")?;
            let (n, sum, min, max): (i64, f64, f64, f64) =
                (row.try_get("n")?, row.try_get("sum")?, row.try_get("min")?, row.try_get("max")?);
            let start = bucket - bucket.rem_euclid(step);
            let points = series.entry(metric).or_default();
            match points.last_mut() {
                Some(p) if p.start == start => {
                    p.n += n;
                    p.sum += sum;
                    p.min = p.min.min(min);
                    p.max = p.max.max(max);
                }
                _ => points.push(Bin { start, n, sum, min, max }),
            }
        }
        Ok(History {
            interval_seconds: (step / 1000) as u64,
            series: series
                .into_iter()
                .map(|(m, points)| {
                    let points = points
                        .into_iter()
                        .map(|b| HistoryPoint {
                            t: to_time(b.start),
                            avg: b.sum / b.n.max(1) as f64,
                            min: b.min,
                            max: b.max,
                        })
                        .collect();
                    (m, points)
                })
                .collect(),
        })
    }

    /// Drops buckets older than their resolution keeps.
    pub async fn prune_history(&self, now: i64) -> Result<()> {
        let mut tx = self.write().await?;
        for (width, keep) in RESOLUTIONS {
            sqlx::query("DELETE FROM history WHERE resolution = $1 AND bucket < $2")
                .bind(width)
                .bind(now - keep * 1000)
                .execute(&mut **tx)
                .await?;
        }
        tx.commit().await
    }
}
