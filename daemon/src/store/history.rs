//! Resource and queue history: samples folded into buckets at several resolutions as they
//! arrive, so a chart over an hour or a year reads a bounded number of rows.

use super::{to_time, Backend, Store};
use crate::error::{Error, Result};
use runyard_api::{History, HistoryPoint};
use sea_query::{Alias, Expr, OnConflict, Order, Query};
use sqlx::Row;
use std::collections::BTreeMap;

/// `(bucket width, how long buckets of that width are kept)`, in seconds, finest first.
pub const RESOLUTIONS: [(i64, i64); 4] =
    [(10, 24 * 3600), (60, 7 * 24 * 3600), (600, 30 * 24 * 3600), (3600, 365 * 24 * 3600)];

/// The metric each report of a worker records: 1 while it runs a task, else 0. Which workers
/// reported when, and which were busy, are read from it.
pub const RUNNING: &str = "running";

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
        let mut insert = Query::insert();
        insert
            .into_table(Alias::new("history"))
            .columns(["subject", "metric", "resolution", "bucket", "n", "sum", "min", "max"].map(Alias::new))
            .on_conflict(
                OnConflict::columns(["subject", "metric", "resolution", "bucket"].map(Alias::new))
                    .values([
                        (Alias::new("n"), Expr::cust("history.n + excluded.n")),
                        (Alias::new("sum"), Expr::cust("history.sum + excluded.sum")),
                        (Alias::new("min"), Expr::cust(format!("{least}(history.min, excluded.min)"))),
                        (Alias::new("max"), Expr::cust(format!("{greatest}(history.max, excluded.max)"))),
                    ])
                    .to_owned(),
            );
        for (metric, value) in samples {
            for (width, _) in RESOLUTIONS {
                let bucket = at - at.rem_euclid(width * 1000);
                insert.values_panic([
                    subject.into(),
                    metric.into(),
                    width.into(),
                    bucket.into(),
                    1i64.into(),
                    value.into(),
                    value.into(),
                    value.into(),
                ]);
            }
        }
        let mut tx = self.write().await?;
        super::execute(&mut tx, &insert).await?;
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
        let (width, step) = resolution(from, interval);
        let mut select = Query::select();
        select
            .columns(["metric", "bucket", "n", "sum", "min", "max"].map(Alias::new))
            .from(Alias::new("history"))
            .and_where(Expr::col(Alias::new("subject")).eq(subject))
            .and_where(Expr::col(Alias::new("resolution")).eq(width))
            .and_where(Expr::col(Alias::new("bucket")).between(from - from.rem_euclid(width * 1000), to))
            .order_by(Alias::new("metric"), Order::Asc)
            .order_by(Alias::new("bucket"), Order::Asc);
        if !metrics.is_empty() {
            select.and_where(Expr::col(Alias::new("metric")).is_in(metrics.iter().map(String::as_str)));
        }
        let mut conn = self.pool.acquire().await?;
        let mut series: BTreeMap<String, Vec<Bin>> = BTreeMap::new();
        for row in super::fetch_all(&mut conn, &select).await? {
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

    /// The metrics recorded for the subjects whose name starts with `prefix` (`worker:`), as
    /// `(subject, metric)` pairs.
    pub async fn history_metrics(&self, prefix: &str) -> Result<Vec<(String, String)>> {
        let (coarsest, _) = RESOLUTIONS[RESOLUTIONS.len() - 1];
        let mut select = Query::select();
        select
            .distinct()
            .columns(["subject", "metric"].map(Alias::new))
            .from(Alias::new("history"))
            .and_where(Expr::col(Alias::new("resolution")).eq(coarsest))
            .and_where(Expr::col(Alias::new("subject")).like(format!("{prefix}%")))
            .order_by(Alias::new("subject"), Order::Asc)
            .order_by(Alias::new("metric"), Order::Asc);
        let mut conn = self.pool.acquire().await?;
        super::fetch_all(&mut conn, &select)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("subject")?, r.try_get("metric")?)))
            .collect()
    }

    /// For each point `interval` seconds wide between `from` and `to` (ms) in which subjects
    /// whose name starts with `prefix` recorded `metric`: its start (ms), how many subjects
    /// did, and how many of them with a value above 0.
    pub async fn history_presence(
        &self,
        prefix: &str,
        metric: &str,
        from: i64,
        to: i64,
        interval: i64,
    ) -> Result<Vec<(i64, usize, usize)>> {
        let (width, step) = resolution(from, interval.max(1));
        let mut select = Query::select();
        select
            .columns(["subject", "bucket", "max"].map(Alias::new))
            .from(Alias::new("history"))
            .and_where(Expr::col(Alias::new("subject")).like(format!("{prefix}%")))
            .and_where(Expr::col(Alias::new("metric")).eq(metric))
            .and_where(Expr::col(Alias::new("resolution")).eq(width))
            .and_where(Expr::col(Alias::new("bucket")).between(from - from.rem_euclid(width * 1000), to));
        let mut conn = self.pool.acquire().await?;
        let mut points: BTreeMap<i64, BTreeMap<String, bool>> = BTreeMap::new();
        for row in super::fetch_all(&mut conn, &select).await? {
            let bucket: i64 = row.try_get("bucket")?;
            let max: f64 = row.try_get("max")?;
            let seen = points.entry(bucket - bucket.rem_euclid(step)).or_default();
            *seen.entry(row.try_get("subject")?).or_default() |= max > 0.0;
        }
        Ok(points
            .into_iter()
            .map(|(start, subjects)| (start, subjects.len(), subjects.values().filter(|a| **a).count()))
            .collect())
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

/// The resolution to read for points `interval` seconds wide from `from` (ms) on: the finest
/// that still covers `from`, and the width of a point in ms (a multiple of it).
fn resolution(from: i64, interval: i64) -> (i64, i64) {
    let age = (super::now_ms() - from) / 1000;
    let (width, _) = RESOLUTIONS
        .iter()
        .copied()
        .find(|(w, keep)| *keep >= age && *w <= interval.max(RESOLUTIONS[0].0))
        .unwrap_or(RESOLUTIONS[RESOLUTIONS.len() - 1]);
    (width, (interval.max(width) / width) * width * 1000)
}
