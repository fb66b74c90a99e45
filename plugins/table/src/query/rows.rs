//! Rows: the shown columns of just the page's tasks.

use crate::sql::{any, c, col};
use runyard_api::table::*;
use runyard_api::TaskStatus;
use runyard_daemon::error::{Error, Result};
use runyard_daemon::store::{self, Store};
use sea_query::{Expr, ExprTrait, JoinType, Order, Query};
use serde_json::{json, Value};
use sqlx::Row;
use std::collections::HashMap;

fn time(ms: Option<i64>) -> Value {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| json!(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)))
        .unwrap_or(Value::Null)
}

fn float(v: f64) -> Value {
    serde_json::to_value(runyard_api::tracking::Float(v)).unwrap_or(Value::Null)
}

/// A task's reported progress (percent) from its runtime properties, where it has one.
fn progress(runtime: &str) -> Option<f64> {
    let v: Value = serde_json::from_str(runtime).ok()?;
    match v.get("progress")? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|p| p.is_finite())
    .map(|p| p.clamp(0.0, 100.0))
}

/// The rows of `ids` (in that order) with the values of `columns`.
pub async fn rows(store: &Store, ids: &[String], columns: &[&Column], now: i64) -> Result<Vec<TableRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut conn = store.pool().acquire().await?;
    let page = || c("task_id").is_in(ids.iter().map(String::as_str));
    // The task columns the shown columns need (the runtime properties only when they hold a
    // progress), and only the joins those need.
    let mut select = vec![
        ("id", c("t.id")),
        ("status", c("t.status")),
        ("archived", c("t.archived")),
        ("runtime", Expr::case(c("t.runtime").like("%progress%"), c("t.runtime")).into()),
    ];
    let (mut projects, mut users, mut queues) = (false, false, false);
    for column in columns {
        let Column::Builtin(b) = column else { continue };
        let task = |column: &'static str| (column, c(&format!("t.{column}")));
        match b {
            Builtin::Name => select.push(task("name")),
            Builtin::Type => select.push(task("type")),
            Builtin::Project => {
                select.push(("project", c("p.name")));
                projects = true;
            }
            Builtin::User => {
                select.push(("user_name", c("u.name")));
                users = true;
            }
            Builtin::Started => select.push(task("started")),
            Builtin::Updated => select.push(task("last_update")),
            Builtin::Created => select.push(task("created")),
            Builtin::Completed => select.push(task("completed")),
            Builtin::Runtime => select.extend([task("started"), task("completed")]),
            Builtin::Iteration => select.push(task("last_iteration")),
            Builtin::Description => select.push(task("comment")),
            Builtin::Queue => {
                select.push(("queue", c("q.name")));
                queues = true;
            }
            Builtin::Worker => select.push(task("worker")),
            Builtin::Parent => select.push(task("parent")),
            Builtin::Id | Builtin::Status | Builtin::Tags => {}
        }
    }
    let mut seen = std::collections::HashSet::new();
    select.retain(|(alias, _)| seen.insert(*alias));
    let mut statement = Query::select();
    statement.from_as(col("tasks"), col("t")).and_where(c("t.id").is_in(ids.iter().map(String::as_str)));
    for (alias, expr) in select {
        statement.expr_as(expr, col(alias));
    }
    if projects {
        statement.join_as(JoinType::Join, col("projects"), col("p"), c("p.id").eq(c("t.project_id")));
    }
    if users {
        statement.join_as(JoinType::LeftJoin, col("users"), col("u"), c("u.id").eq(c("t.user_id")));
    }
    if queues {
        statement.join_as(JoinType::LeftJoin, col("queues"), col("q"), c("q.id").eq(c("t.queue_id")));
    }
    let mut base = HashMap::new();
    for r in store::fetch_all(&mut conn, &statement).await? {
        base.insert(r.try_get::<String, _>("id")?, r);
    }

    // Metric and parameter values of the page, by task: just the series and parameters shown.
    let mut summaries: HashMap<(String, String, String), [Option<f64>; 3]> = HashMap::new();
    let series = columns.iter().filter_map(|column| match column {
        Column::Metric { metric, variant, .. } => {
            Some(c("metric").eq(metric.as_str()).and(c("variant").eq(variant.as_str())))
        }
        _ => None,
    });
    if let Some(wanted) = any(series) {
        let statement = Query::select()
            .columns(["task_id", "metric", "variant", "last_value", "min_value", "max_value"].map(col))
            .from(col("scalar_summaries"))
            .and_where(page())
            .and_where(wanted)
            .to_owned();
        for r in store::fetch_all(&mut conn, &statement).await? {
            summaries.insert(
                (r.try_get("task_id")?, r.try_get("metric")?, r.try_get("variant")?),
                [r.try_get("last_value")?, r.try_get("min_value")?, r.try_get("max_value")?],
            );
        }
    }
    let mut params: HashMap<(String, String, String), String> = HashMap::new();
    let shown = columns
        .iter()
        .filter_map(|c0| c0.param())
        .map(|(section, param)| c("section").eq(section).and(c("name").eq(param)));
    if let Some(wanted) = any(shown) {
        let statement = Query::select()
            .columns(["task_id", "section", "name", "value"].map(col))
            .from(col("task_params"))
            .and_where(page())
            .and_where(wanted)
            .to_owned();
        for r in store::fetch_all(&mut conn, &statement).await? {
            params.insert((r.try_get("task_id")?, r.try_get("section")?, r.try_get("name")?), r.try_get("value")?);
        }
    }
    let mut tags: HashMap<String, Vec<String>> = HashMap::new();
    if columns.contains(&&Column::Builtin(Builtin::Tags)) {
        let statement = Query::select()
            .columns([col("task_id"), col("tag")])
            .from(col("task_tags"))
            .and_where(page())
            .order_by(col("task_id"), Order::Asc)
            .order_by(col("tag"), Order::Asc)
            .to_owned();
        for r in store::fetch_all(&mut conn, &statement).await? {
            tags.entry(r.try_get("task_id")?).or_default().push(r.try_get("tag")?);
        }
    }

    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(r) = base.get(id) else { continue }; // Deleted between the two reads.
        let status: String = r.try_get("status")?;
        let mut values = Vec::with_capacity(columns.len());
        for c in columns {
            values.push(match c {
                Column::Builtin(b) => match b {
                    Builtin::Id => json!(id),
                    Builtin::Name => json!(r.try_get::<String, _>("name")?),
                    Builtin::Type => json!(r.try_get::<String, _>("type")?),
                    Builtin::Status => json!(status),
                    Builtin::Project => json!(r.try_get::<String, _>("project")?),
                    Builtin::User => json!(r.try_get::<Option<String>, _>("user_name")?),
                    Builtin::Tags => json!(tags.get(id).cloned().unwrap_or_default()),
                    Builtin::Started => time(r.try_get("started")?),
                    Builtin::Updated => time(r.try_get("last_update")?),
                    Builtin::Created => time(r.try_get("created")?),
                    Builtin::Completed => time(r.try_get("completed")?),
                    Builtin::Iteration => json!(r.try_get::<i64, _>("last_iteration")?),
                    Builtin::Runtime => {
                        let started: Option<i64> = r.try_get("started")?;
                        let end = r.try_get::<Option<i64>, _>("completed")?.unwrap_or(now);
                        started.map(|s| json!((end - s) as f64 / 1000.0)).unwrap_or(Value::Null)
                    }
                    Builtin::Description => json!(r.try_get::<String, _>("comment")?),
                    Builtin::Queue => json!(r.try_get::<Option<String>, _>("queue")?),
                    Builtin::Worker => json!(r.try_get::<Option<String>, _>("worker")?),
                    Builtin::Parent => json!(r.try_get::<Option<String>, _>("parent")?),
                },
                Column::Metric { metric, variant, agg } => {
                    match summaries.get(&(id.clone(), metric.clone(), variant.clone())) {
                        // A summary whose value is NULL holds NaN.
                        Some(values) => float(values[*agg as usize].unwrap_or(f64::NAN)),
                        None => Value::Null,
                    }
                }
                c => {
                    let (section, name) = c.param().expect("the other columns");
                    params
                        .get(&(id.clone(), section.to_string(), name.to_string()))
                        .map(|v| json!(v))
                        .unwrap_or(Value::Null)
                }
            });
        }
        out.push(TableRow {
            id: id.clone(),
            status: TaskStatus::parse(&status)
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("bad status {status}")))?,
            archived: r.try_get::<i64, _>("archived")? != 0,
            progress: r.try_get::<Option<String>, _>("runtime")?.as_deref().and_then(progress),
            values,
        });
    }
    Ok(out)
}
