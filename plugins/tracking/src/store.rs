//! The tracking plugin's SQL: writes of a batch inside the caller's transaction, and reads.
//! Multi-row statements keep a batch to a handful of round trips.

use crate::series::{self, Point};
use runyard_api::tracking::{Float, MetricSummary, Plot, Sample, SingleValue};
use runyard_daemon::error::Result;
use runyard_daemon::store::{delete_in, placeholders, to_time, Store};
use sea_query::{Value, Values};
use sea_query_binder::SqlxValues;
use sqlx::{AnyConnection, Row};
use std::collections::BTreeMap;

/// Bound values per statement, well under both databases' limits.
const MAX_PARAMS: usize = 10_000;

/// Last, min, max, first and count of the points of one series in one batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub count: i64,
    pub first: (f64, i64),
    /// Value, iteration, time.
    pub last: (f64, i64, i64),
    /// `None` when every value is NaN.
    pub min: Option<(f64, i64)>,
    pub max: Option<(f64, i64)>,
}

impl Summary {
    /// The summary of points in report order: on equal iterations the later report is the
    /// "last" and the earlier the "first".
    pub fn of(points: &[Point]) -> Summary {
        let p0 = points[0];
        let mut s = Summary {
            count: points.len() as i64,
            first: (p0.value, p0.iteration),
            last: (p0.value, p0.iteration, p0.time),
            min: None,
            max: None,
        };
        for p in points {
            if p.iteration < s.first.1 {
                s.first = (p.value, p.iteration);
            }
            if p.iteration >= s.last.1 {
                s.last = (p.value, p.iteration, p.time);
            }
            if !p.value.is_nan() {
                if s.min.is_none_or(|(v, _)| p.value < v) {
                    s.min = Some((p.value, p.iteration));
                }
                if s.max.is_none_or(|(v, _)| p.value > v) {
                    s.max = Some((p.value, p.iteration));
                }
            }
        }
        s
    }
}

/// The points of one series a batch carried, in report order.
pub struct SeriesWrite {
    pub task: String,
    pub metric: String,
    pub variant: String,
    pub points: Vec<Point>,
}

/// Everything one batch stores.
#[derive(Default)]
pub struct Writes {
    pub series: Vec<SeriesWrite>,
    /// Task, name, value, time.
    pub singles: Vec<(String, String, f64, i64)>,
    /// Task, metric, variant, iteration, time, figure (JSON text).
    pub plots: Vec<(String, String, String, i64, i64, String)>,
    /// Task, metric, variant, iteration, time, URI.
    pub samples: Vec<(String, String, String, i64, i64, String)>,
}

fn text(s: &str) -> Value {
    Value::String(Some(Box::new(s.to_string())))
}

fn int(v: i64) -> Value {
    Value::BigInt(Some(v))
}

/// NaN is stored as NULL (SQLite cannot store it), read back as NaN.
fn float(v: f64) -> Value {
    Value::Double(if v.is_nan() { None } else { Some(v) })
}

fn opt_float(v: Option<f64>) -> Value {
    Value::Double(v.filter(|v| !v.is_nan()))
}

/// `<alias>task_id IN (…)`, then `AND <alias><column> = $n` for each condition given, with
/// the values to bind.
fn task_conditions(alias: &str, tasks: &[String], conditions: &[(&str, Option<Value>)]) -> (String, Vec<Value>) {
    let mut sql = format!("{alias}task_id IN ({})", placeholders(0, tasks.len()));
    let mut values: Vec<Value> = tasks.iter().map(|t| text(t)).collect();
    for (column, value) in conditions {
        if let Some(v) = value {
            values.push(v.clone());
            sql.push_str(&format!(" AND {alias}{column} = ${}", values.len()));
        }
    }
    (sql, values)
}

/// `INSERT INTO … VALUES (…), (…) …` for rows of `width` values, as many statements as the
/// parameter limit needs, each followed by `tail`.
async fn insert_rows(
    conn: &mut AnyConnection,
    head: &str,
    width: usize,
    rows: Vec<Vec<Value>>,
    tail: &str,
) -> Result<()> {
    let per_statement = (MAX_PARAMS / width).max(1);
    for chunk in rows.chunks(per_statement) {
        let groups: Vec<String> = (0..chunk.len()).map(|i| format!("({})", placeholders(i * width, width))).collect();
        let sql = format!("{head} VALUES {}{tail}", groups.join(", "));
        let values: Vec<Value> = chunk.iter().flatten().cloned().collect();
        sqlx::query_with(&sql, SqlxValues(Values(values))).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Keeps a summary row current: counts add up, first/last follow the iterations, min/max
/// ignore NaN (a NULL bound is "none yet").
const SUMMARY_MERGE: &str = " ON CONFLICT (task_id, metric, variant) DO UPDATE SET \
    count = scalar_summaries.count + excluded.count, \
    first_value = CASE WHEN excluded.first_iter < scalar_summaries.first_iter THEN excluded.first_value ELSE scalar_summaries.first_value END, \
    first_iter = CASE WHEN excluded.first_iter < scalar_summaries.first_iter THEN excluded.first_iter ELSE scalar_summaries.first_iter END, \
    last_value = CASE WHEN excluded.last_iter >= scalar_summaries.last_iter THEN excluded.last_value ELSE scalar_summaries.last_value END, \
    last_time = CASE WHEN excluded.last_iter >= scalar_summaries.last_iter THEN excluded.last_time ELSE scalar_summaries.last_time END, \
    last_iter = CASE WHEN excluded.last_iter >= scalar_summaries.last_iter THEN excluded.last_iter ELSE scalar_summaries.last_iter END, \
    min_value = CASE WHEN scalar_summaries.min_value IS NULL OR excluded.min_value < scalar_summaries.min_value THEN excluded.min_value ELSE scalar_summaries.min_value END, \
    min_iter = CASE WHEN scalar_summaries.min_value IS NULL OR excluded.min_value < scalar_summaries.min_value THEN excluded.min_iter ELSE scalar_summaries.min_iter END, \
    max_value = CASE WHEN scalar_summaries.max_value IS NULL OR excluded.max_value > scalar_summaries.max_value THEN excluded.max_value ELSE scalar_summaries.max_value END, \
    max_iter = CASE WHEN scalar_summaries.max_value IS NULL OR excluded.max_value > scalar_summaries.max_value THEN excluded.max_iter ELSE scalar_summaries.max_iter END";

/// Writes a batch inside the caller's transaction.
pub async fn write(conn: &mut AnyConnection, w: &Writes, now: i64) -> Result<()> {
    if !w.series.is_empty() {
        let mut chunks = Vec::with_capacity(w.series.len());
        let mut summaries: Vec<(&SeriesWrite, Summary)> = Vec::with_capacity(w.series.len());
        for s in &w.series {
            let first = s.points.iter().map(|p| p.iteration).min().unwrap_or(0);
            let last = s.points.iter().map(|p| p.iteration).max().unwrap_or(0);
            chunks.push(vec![
                text(&s.task),
                text(&s.metric),
                text(&s.variant),
                int(first),
                int(last),
                int(s.points.len() as i64),
                int(now),
                Value::Bytes(Some(Box::new(series::encode(&s.points)))),
            ]);
            summaries.push((s, Summary::of(&s.points)));
        }
        insert_rows(
            conn,
            "INSERT INTO scalar_chunks (task_id, metric, variant, first_iter, last_iter, points, created, data)",
            8,
            chunks,
            "",
        )
        .await?;
        // One order for every writer, so concurrent batches lock summary rows without deadlock.
        summaries.sort_by(|a, b| (&a.0.task, &a.0.metric, &a.0.variant).cmp(&(&b.0.task, &b.0.metric, &b.0.variant)));
        let rows = summaries
            .into_iter()
            .map(|(s, m)| {
                vec![
                    text(&s.task),
                    text(&s.metric),
                    text(&s.variant),
                    int(m.count),
                    float(m.first.0),
                    int(m.first.1),
                    float(m.last.0),
                    int(m.last.1),
                    int(m.last.2),
                    opt_float(m.min.map(|x| x.0)),
                    int(m.min.map_or(0, |x| x.1)),
                    opt_float(m.max.map(|x| x.0)),
                    int(m.max.map_or(0, |x| x.1)),
                ]
            })
            .collect();
        insert_rows(
            conn,
            "INSERT INTO scalar_summaries (task_id, metric, variant, count, first_value, first_iter, last_value, \
             last_iter, last_time, min_value, min_iter, max_value, max_iter)",
            13,
            rows,
            SUMMARY_MERGE,
        )
        .await?;
    }
    if !w.singles.is_empty() {
        // The last report of a name wins, within the batch too.
        let mut last: BTreeMap<(&str, &str), (f64, i64)> = BTreeMap::new();
        for (task, name, value, time) in &w.singles {
            last.insert((task, name), (*value, *time));
        }
        let rows = last.into_iter().map(|((t, n), (v, time))| vec![text(t), text(n), float(v), int(time)]).collect();
        insert_rows(
            conn,
            "INSERT INTO single_values (task_id, name, value, time)",
            4,
            rows,
            " ON CONFLICT (task_id, name) DO UPDATE SET value = excluded.value, time = excluded.time",
        )
        .await?;
    }
    for (table, column, rows) in [("plots", "figure", &w.plots), ("debug_samples", "uri", &w.samples)] {
        if rows.is_empty() {
            continue;
        }
        let values = rows
            .iter()
            .map(|(t, m, v, i, time, x)| vec![text(t), text(m), text(v), int(*i), int(*time), text(x)])
            .collect();
        let head = format!("INSERT INTO {table} (task_id, metric, variant, iteration, time, {column})");
        insert_rows(conn, &head, 6, values, "").await?;
    }
    Ok(())
}

/// Removes everything kept for the tasks (a reset or a delete).
pub async fn clear(conn: &mut AnyConnection, ids: &[&str]) -> Result<()> {
    for table in ["scalar_chunks", "scalar_summaries", "single_values", "plots", "debug_samples"] {
        delete_in(conn, table, "task_id", ids).await?;
    }
    Ok(())
}

fn nan_if_null(v: Option<f64>) -> Float {
    Float(v.unwrap_or(f64::NAN))
}

/// A task's scalar summaries, by metric and variant.
pub async fn summaries(store: &Store, task: &str) -> Result<Vec<MetricSummary>> {
    let rows = sqlx::query(
        "SELECT metric, variant, count, first_value, first_iter, last_value, last_iter, last_time, min_value, \
         min_iter, max_value, max_iter FROM scalar_summaries WHERE task_id = $1 ORDER BY metric, variant",
    )
    .bind(task)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(MetricSummary {
                metric: r.try_get("metric")?,
                variant: r.try_get("variant")?,
                count: r.try_get("count")?,
                first: nan_if_null(r.try_get("first_value")?),
                first_iteration: r.try_get("first_iter")?,
                last: nan_if_null(r.try_get("last_value")?),
                last_iteration: r.try_get("last_iter")?,
                last_time: to_time(r.try_get("last_time")?),
                min: nan_if_null(r.try_get("min_value")?),
                min_iteration: r.try_get("min_iter")?,
                max: nan_if_null(r.try_get("max_value")?),
                max_iteration: r.try_get("max_iter")?,
            })
        })
        .collect()
}

/// The single values of tasks, by task.
pub async fn single_values(store: &Store, tasks: &[String]) -> Result<BTreeMap<String, Vec<SingleValue>>> {
    let sql = format!(
        "SELECT task_id, name, value, time FROM single_values WHERE task_id IN ({}) ORDER BY task_id, name",
        placeholders(0, tasks.len())
    );
    let mut q = sqlx::query(&sql);
    for t in tasks {
        q = q.bind(t.as_str());
    }
    let mut out: BTreeMap<String, Vec<SingleValue>> = BTreeMap::new();
    for r in q.fetch_all(store.pool()).await? {
        out.entry(r.try_get("task_id")?).or_default().push(SingleValue {
            name: r.try_get("name")?,
            value: nan_if_null(r.try_get("value")?),
            time: to_time(r.try_get("time")?),
        });
    }
    Ok(out)
}

/// metric → variants of one table, for a task.
pub async fn variants(store: &Store, table: &str, task: &str) -> Result<BTreeMap<String, Vec<String>>> {
    let sql = format!("SELECT DISTINCT metric, variant FROM {table} WHERE task_id = $1 ORDER BY metric, variant");
    let rows = sqlx::query(&sql).bind(task).fetch_all(store.pool()).await?;
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in rows {
        out.entry(r.try_get("metric")?).or_default().push(r.try_get("variant")?);
    }
    Ok(out)
}

/// metric → variants of one table over a project's tasks and its subprojects' (a name prefix).
pub async fn project_variants(store: &Store, table: &str, project: &str) -> Result<BTreeMap<String, Vec<String>>> {
    let (metric, variant) = if table == "single_values" { ("x.name", "''") } else { ("x.metric", "x.variant") };
    let sql = format!(
        "SELECT DISTINCT {metric} AS metric, {variant} AS variant FROM {table} x \
         JOIN tasks t ON t.id = x.task_id JOIN projects p ON p.id = t.project_id \
         WHERE p.id = $1 OR p.name LIKE (SELECT name FROM projects WHERE id = $1) || '/%' ORDER BY 1, 2"
    );
    let rows = sqlx::query(&sql).bind(project).fetch_all(store.pool()).await?;
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in rows {
        out.entry(r.try_get("metric")?).or_default().push(r.try_get("variant")?);
    }
    Ok(out)
}

/// Every series of the tasks (optionally one metric/variant), merged and in iteration order.
pub async fn series(
    store: &Store,
    tasks: &[String],
    metric: Option<&str>,
    variant: Option<&str>,
) -> Result<Vec<((String, String, String), Vec<Point>)>> {
    let (filter, values) = task_conditions("", tasks, &[("metric", metric.map(text)), ("variant", variant.map(text))]);
    let sql = format!(
        "SELECT task_id, metric, variant, points, data FROM scalar_chunks WHERE {filter} \
         ORDER BY task_id, metric, variant, first_iter, id"
    );
    let q = sqlx::query_with(&sql, SqlxValues(Values(values)));
    let rows = q.fetch_all(store.pool()).await?;
    let key = |r: &sqlx::any::AnyRow| -> Result<(String, String, String)> {
        Ok((r.try_get("task_id")?, r.try_get("metric")?, r.try_get("variant")?))
    };
    // The chunks of one series are adjacent: decode each run into one vector sized for it.
    let mut out: Vec<((String, String, String), Vec<Point>)> = Vec::new();
    let mut start = 0;
    while start < rows.len() {
        let this = key(&rows[start])?;
        let (mut end, mut total) = (start, 0);
        while end < rows.len() && key(&rows[end])? == this {
            total += rows[end].try_get::<i64, _>("points")? as usize;
            end += 1;
        }
        let mut points = Vec::with_capacity(total);
        for r in &rows[start..end] {
            series::decode_into(r.try_get("data")?, &mut points);
        }
        out.push((this, points));
        start = end;
    }
    for (_, points) in &mut out {
        series::normalize(points);
    }
    Ok(out)
}

/// Up to `limit` points of one series after iteration `after`, in order; and whether more
/// follow. Chunks are read in order of their first iteration until no later chunk can hold
/// a point of the page.
pub async fn raw_points(
    store: &Store,
    task: &str,
    metric: &str,
    variant: &str,
    after: i64,
    limit: usize,
) -> Result<(Vec<Point>, bool)> {
    use futures::TryStreamExt;
    let mut rows = sqlx::query(
        "SELECT first_iter, data FROM scalar_chunks WHERE task_id = $1 AND metric = $2 AND variant = $3 \
         AND last_iter > $4 ORDER BY first_iter, id",
    )
    .bind(task)
    .bind(metric)
    .bind(variant)
    .bind(after)
    .fetch(store.pool());
    let mut points: Vec<Point> = Vec::new();
    // Once a page is full, the iteration it ends at: later chunks starting beyond it are not read.
    let mut bound: Option<i64> = None;
    let mut more = false;
    while let Some(r) = rows.try_next().await? {
        let first: i64 = r.try_get("first_iter")?;
        if bound.is_some_and(|b| first > b) {
            more = true;
            break;
        }
        let data: &[u8] = r.try_get("data")?;
        let mut chunk = Vec::new();
        series::decode_into(data, &mut chunk);
        points.extend(chunk.into_iter().filter(|p| p.iteration > after));
        if points.len() >= limit {
            series::normalize(&mut points);
            if points.len() > limit {
                points.truncate(limit);
                more = true;
            }
            bound = points.last().map(|p| p.iteration);
        }
    }
    series::normalize(&mut points);
    if points.len() > limit {
        points.truncate(limit);
        more = true;
    }
    Ok((points, more))
}

/// Plots of tasks: the last reported iteration of each metric/variant, or every iteration.
pub async fn plots(
    store: &Store,
    tasks: &[String],
    metric: Option<&str>,
    variant: Option<&str>,
    all_iterations: bool,
) -> Result<Vec<Plot>> {
    let rows = reported(store, "plots", "figure", tasks, metric, variant, None, all_iterations).await?;
    rows.iter()
        .map(|r| {
            let figure: String = r.try_get("figure")?;
            Ok(Plot {
                task: r.try_get("task_id")?,
                metric: r.try_get("metric")?,
                variant: r.try_get("variant")?,
                iteration: r.try_get("iteration")?,
                time: to_time(r.try_get("time")?),
                figure: serde_json::from_str(&figure).unwrap_or(serde_json::Value::Null),
            })
        })
        .collect()
}

/// Debug samples of a task: one iteration, the last of each metric/variant, or all.
pub async fn samples(
    store: &Store,
    task: &str,
    metric: Option<&str>,
    variant: Option<&str>,
    iteration: Option<i64>,
    all_iterations: bool,
) -> Result<Vec<Sample>> {
    let tasks = [task.to_string()];
    let rows = reported(store, "debug_samples", "uri", &tasks, metric, variant, iteration, all_iterations).await?;
    rows.iter()
        .map(|r| {
            Ok(Sample {
                metric: r.try_get("metric")?,
                variant: r.try_get("variant")?,
                iteration: r.try_get("iteration")?,
                time: to_time(r.try_get("time")?),
                uri: r.try_get("uri")?,
            })
        })
        .collect()
}

/// Rows of `plots` or `debug_samples`: those of one iteration, every one, or the latest report
/// of each metric/variant (its highest iteration, the last reported there).
#[allow(clippy::too_many_arguments)]
async fn reported(
    store: &Store,
    table: &str,
    column: &str,
    tasks: &[String],
    metric: Option<&str>,
    variant: Option<&str>,
    iteration: Option<i64>,
    all_iterations: bool,
) -> Result<Vec<sqlx::any::AnyRow>> {
    let conditions = [("metric", metric.map(text)), ("variant", variant.map(text)), ("iteration", iteration.map(int))];
    let (filter, values) = task_conditions("x.", tasks, &conditions);
    let mut sql =
        format!("SELECT x.task_id, x.metric, x.variant, x.iteration, x.time, x.{column} FROM {table} x WHERE {filter}");
    if !all_iterations && iteration.is_none() {
        sql.push_str(&format!(
            " AND x.id = (SELECT y.id FROM {table} y WHERE y.task_id = x.task_id AND y.metric = x.metric \
             AND y.variant = x.variant ORDER BY y.iteration DESC, y.id DESC LIMIT 1)"
        ));
    }
    sql.push_str(" ORDER BY x.task_id, x.metric, x.variant, x.iteration, x.id");
    let q = sqlx::query_with(&sql, SqlxValues(Values(values)));
    Ok(q.fetch_all(store.pool()).await?)
}
