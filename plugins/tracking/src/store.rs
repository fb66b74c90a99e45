//! The tracking plugin's SQL: writes of a batch inside the caller's transaction, and reads.
//! Multi-row statements keep a batch to a handful of round trips.

use crate::series::{self, Point};
use runyard_api::tracking::{Float, MetricSummary, Plot, Sample, SingleValue};
use runyard_daemon::error::Result;
use runyard_daemon::store::{col, delete_in, execute, fetch_all, to_time, Store};
use sea_query::{Cond, Condition, Expr, OnConflict, Order, Query, SimpleExpr, SubQueryStatement, Value};
use sqlx::{AnyConnection, Row};
use std::collections::BTreeMap;

/// Bound values per statement, well under both databases' limits.
const MAX_PARAMS: usize = 10_000;

/// The columns of `scalar_summaries`.
const SUMMARY_COLUMNS: [&str; 14] = [
    "task_id",
    "metric",
    "variant",
    "count",
    "first_value",
    "first_iter",
    "last_value",
    "last_iter",
    "last_time",
    "min_value",
    "min_iter",
    "max_value",
    "max_iter",
    "total",
];

/// Last, min, max, first, count and sum of the points of one series in one batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub count: i64,
    /// NaN once any value is.
    pub total: f64,
    pub first: (f64, i64),
    /// Value, iteration, time.
    pub last: (f64, i64, i64),
    /// `None` when every value is NaN.
    pub min: Option<(f64, i64)>,
    pub max: Option<(f64, i64)>,
}

impl Summary {
    /// The summary of points in report order: the "last" is the newest report (by time, then
    /// iteration, then report order), the "first" the earliest iteration's first report.
    pub fn of(points: &[Point]) -> Summary {
        let p0 = points[0];
        let mut s = Summary {
            count: points.len() as i64,
            total: points.iter().map(|p| p.value).sum(),
            first: (p0.value, p0.iteration),
            last: (p0.value, p0.iteration, p0.time),
            min: None,
            max: None,
        };
        for p in points {
            if p.iteration < s.first.1 {
                s.first = (p.value, p.iteration);
            }
            if (p.time, p.iteration) >= (s.last.2, s.last.1) {
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

/// `<table>.task_id IN (…)`, and `<table>.<column> = value` for each condition given.
fn task_conditions(table: &str, tasks: &[String], conditions: &[(&str, Option<Value>)]) -> Condition {
    let mut cond = Cond::all().add(Expr::col((col(table), col("task_id"))).is_in(tasks.iter().map(String::as_str)));
    for (column, value) in conditions {
        if let Some(v) = value {
            cond = cond.add(Expr::col((col(table), col(column))).eq(v.clone()));
        }
    }
    cond
}

/// Multi-row INSERTs of `rows` into `table`, as many statements as the parameter limit
/// needs, each with `on_conflict` if given.
async fn insert_rows(
    conn: &mut AnyConnection,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<Value>>,
    on_conflict: Option<OnConflict>,
) -> Result<()> {
    let per_statement = (MAX_PARAMS / columns.len()).max(1);
    for chunk in rows.chunks(per_statement) {
        let mut insert = Query::insert();
        insert.into_table(col(table)).columns(columns.iter().map(|c| col(c)));
        for row in chunk {
            insert.values_panic(row.iter().cloned().map(SimpleExpr::Value));
        }
        if let Some(merge) = &on_conflict {
            insert.on_conflict(merge.clone());
        }
        execute(conn, &insert).await?;
    }
    Ok(())
}

/// Keeps a summary row current: counts and sums add up, the last is the newest report (by
/// time, then iteration; the later batch on a tie), the first follows the iterations, min/max
/// ignore NaN (a NULL bound is "none yet").
fn summary_merge() -> OnConflict {
    let first = "excluded.first_iter < scalar_summaries.first_iter";
    let last = "excluded.last_time > scalar_summaries.last_time OR (excluded.last_time = scalar_summaries.last_time \
                AND excluded.last_iter >= scalar_summaries.last_iter)";
    let min = "scalar_summaries.min_value IS NULL OR excluded.min_value < scalar_summaries.min_value";
    let max = "scalar_summaries.max_value IS NULL OR excluded.max_value > scalar_summaries.max_value";
    let pick = |column: &str, when: &str| {
        let expr = format!("CASE WHEN {when} THEN excluded.{column} ELSE scalar_summaries.{column} END");
        (col(column), Expr::cust(expr))
    };
    OnConflict::columns([col("task_id"), col("metric"), col("variant")])
        .values([
            (col("count"), Expr::cust("scalar_summaries.count + excluded.count")),
            (col("total"), Expr::cust("scalar_summaries.total + excluded.total")),
            pick("first_value", first),
            pick("first_iter", first),
            pick("last_value", last),
            pick("last_time", last),
            pick("last_iter", last),
            pick("min_value", min),
            pick("min_iter", min),
            pick("max_value", max),
            pick("max_iter", max),
        ])
        .to_owned()
}

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
        let columns = ["task_id", "metric", "variant", "first_iter", "last_iter", "points", "created", "data"];
        insert_rows(conn, "scalar_chunks", &columns, chunks, None).await?;
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
                    float(m.total),
                ]
            })
            .collect();
        let columns = SUMMARY_COLUMNS;
        insert_rows(conn, "scalar_summaries", &columns, rows, Some(summary_merge())).await?;
    }
    if !w.singles.is_empty() {
        // The last report of a name wins, within the batch too.
        let mut last: BTreeMap<(&str, &str), (f64, i64)> = BTreeMap::new();
        for (task, name, value, time) in &w.singles {
            last.insert((task, name), (*value, *time));
        }
        let rows = last.into_iter().map(|((t, n), (v, time))| vec![text(t), text(n), float(v), int(time)]).collect();
        let replace =
            OnConflict::columns([col("task_id"), col("name")]).update_columns([col("value"), col("time")]).to_owned();
        insert_rows(conn, "single_values", &["task_id", "name", "value", "time"], rows, Some(replace)).await?;
    }
    for (table, column, rows) in [("plots", "figure", &w.plots), ("debug_samples", "uri", &w.samples)] {
        if rows.is_empty() {
            continue;
        }
        let values = rows
            .iter()
            .map(|(t, m, v, i, time, x)| vec![text(t), text(m), text(v), int(*i), int(*time), text(x)])
            .collect();
        insert_rows(conn, table, &["task_id", "metric", "variant", "iteration", "time", column], values, None).await?;
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
    Ok(summaries_of(store, &[task.to_string()]).await?.remove(task).unwrap_or_default())
}

/// The scalar summaries of tasks, by task, each by metric and variant.
pub async fn summaries_of(store: &Store, tasks: &[String]) -> Result<BTreeMap<String, Vec<MetricSummary>>> {
    let mut out: BTreeMap<String, Vec<MetricSummary>> = BTreeMap::new();
    let mut conn = store.pool().acquire().await?;
    for chunk in tasks.chunks(MAX_PARAMS) {
        let select = Query::select()
            .columns(SUMMARY_COLUMNS.map(col))
            .from(col("scalar_summaries"))
            .cond_where(task_conditions("scalar_summaries", chunk, &[]))
            .order_by(col("task_id"), Order::Asc)
            .order_by(col("metric"), Order::Asc)
            .order_by(col("variant"), Order::Asc)
            .to_owned();
        for r in fetch_all(&mut conn, &select).await? {
            let count: i64 = r.try_get("count")?;
            out.entry(r.try_get("task_id")?).or_default().push(MetricSummary {
                metric: r.try_get("metric")?,
                variant: r.try_get("variant")?,
                first: nan_if_null(r.try_get("first_value")?),
                first_iteration: r.try_get("first_iter")?,
                last: nan_if_null(r.try_get("last_value")?),
                last_iteration: r.try_get("last_iter")?,
                last_time: to_time(r.try_get("last_time")?),
                min: nan_if_null(r.try_get("min_value")?),
                min_iteration: r.try_get("min_iter")?,
                max: nan_if_null(r.try_get("max_value")?),
                max_iteration: r.try_get("max_iter")?,
                mean: match r.try_get::<Option<f64>, _>("total")? {
                    Some(total) if count > 0 => Float(total / count as f64),
                    _ => Float(f64::NAN),
                },
                count,
            });
        }
    }
    Ok(out)
}

/// The single values of tasks, by task.
pub async fn single_values(store: &Store, tasks: &[String]) -> Result<BTreeMap<String, Vec<SingleValue>>> {
    let select = Query::select()
        .columns(["task_id", "name", "value", "time"].map(col))
        .from(col("single_values"))
        .cond_where(task_conditions("single_values", tasks, &[]))
        .order_by(col("task_id"), Order::Asc)
        .order_by(col("name"), Order::Asc)
        .to_owned();
    let mut out: BTreeMap<String, Vec<SingleValue>> = BTreeMap::new();
    for r in fetch_all(&mut *store.pool().acquire().await?, &select).await? {
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
    let select = Query::select()
        .columns(["task_id", "metric", "variant", "points", "data"].map(col))
        .from(col("scalar_chunks"))
        .cond_where(task_conditions(
            "scalar_chunks",
            tasks,
            &[("metric", metric.map(text)), ("variant", variant.map(text))],
        ))
        .order_by_columns(["task_id", "metric", "variant", "first_iter", "id"].map(|c| (col(c), Order::Asc)))
        .to_owned();
    let rows = fetch_all(&mut *store.pool().acquire().await?, &select).await?;
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
/// How a plot's stored text is read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    /// As JSON (text that is not JSON stays a string).
    Parsed,
    /// As the text sent.
    AsSent,
}

pub async fn plots(
    store: &Store,
    tasks: &[String],
    metric: Option<&str>,
    variant: Option<&str>,
    all_iterations: bool,
    read: Figure,
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
                figure: match read {
                    Figure::Parsed => serde_json::from_str(&figure).unwrap_or(serde_json::Value::String(figure)),
                    Figure::AsSent => serde_json::Value::String(figure),
                },
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
    let x = |c: &str| (col("x"), col(c));
    let y = |c: &str| (col("y"), col(c));
    let mut select = Query::select();
    select
        .columns(["task_id", "metric", "variant", "iteration", "time", column].map(x))
        .from_as(col(table), col("x"))
        .cond_where(task_conditions("x", tasks, &conditions))
        .order_by_columns(["task_id", "metric", "variant", "iteration", "id"].map(|c| (x(c), Order::Asc)));
    if !all_iterations && iteration.is_none() {
        let latest = Query::select()
            .column(y("id"))
            .from_as(col(table), col("y"))
            .and_where(Expr::col(y("task_id")).equals(x("task_id")))
            .and_where(Expr::col(y("metric")).equals(x("metric")))
            .and_where(Expr::col(y("variant")).equals(x("variant")))
            .order_by(y("iteration"), Order::Desc)
            .order_by(y("id"), Order::Desc)
            .limit(1)
            .to_owned();
        select.and_where(
            Expr::col(x("id")).eq(SimpleExpr::SubQuery(None, Box::new(SubQueryStatement::SelectStatement(latest)))),
        );
    }
    fetch_all(&mut *store.pool().acquire().await?, &select).await
}
