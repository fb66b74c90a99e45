//! Rows: the shown columns of just the page's tasks.

use crate::sql::Sql;
use runyard_api::table::*;
use runyard_api::TaskStatus;
use runyard_daemon::error::{Error, Result};
use runyard_daemon::store::Store;
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
    // The task columns the shown columns need (the runtime properties only when they hold a
    // progress), and only the joins those need.
    let mut select =
        vec!["t.id", "t.status", "t.archived", "CASE WHEN t.runtime LIKE '%progress%' THEN t.runtime END AS runtime"];
    let mut joins = String::new();
    for c in columns {
        let Column::Builtin(b) = c else { continue };
        match b {
            Builtin::Name => select.push("t.name"),
            Builtin::Type => select.push("t.type"),
            Builtin::Project => {
                select.push("p.name AS project");
                joins.push_str(" JOIN projects p ON p.id = t.project_id");
            }
            Builtin::User => {
                select.push("u.name AS user_name");
                joins.push_str(" LEFT JOIN users u ON u.id = t.user_id");
            }
            Builtin::Started => select.push("t.started"),
            Builtin::Updated => select.push("t.last_update"),
            Builtin::Created => select.push("t.created"),
            Builtin::Completed => select.push("t.completed"),
            Builtin::Runtime => select.extend(["t.started", "t.completed"]),
            Builtin::Iteration => select.push("t.last_iteration"),
            Builtin::Description => select.push("t.comment"),
            Builtin::Queue => {
                select.push("q.name AS queue");
                joins.push_str(" LEFT JOIN queues q ON q.id = t.queue_id");
            }
            Builtin::Worker => select.push("t.worker"),
            Builtin::Parent => select.push("t.parent"),
            Builtin::Id | Builtin::Status | Builtin::Tags => {}
        }
    }
    let mut seen = std::collections::HashSet::new();
    select.retain(|s| seen.insert(*s));
    let mut base = HashMap::new();
    let mut sql = Sql::new(&format!("SELECT {} FROM tasks t{joins} WHERE t.id IN ", select.join(", ")));
    sql.bind_list(ids);
    for r in sql.query().fetch_all(&mut *conn).await? {
        base.insert(r.try_get::<String, _>("id")?, r);
    }

    // Metric and parameter values of the page, by task: just the series and parameters shown.
    let mut summaries: HashMap<(String, String, String), [Option<f64>; 3]> = HashMap::new();
    let mut wanted = Sql::new("");
    for c in columns {
        if let Column::Metric { metric, variant, .. } = c {
            wanted.push(if wanted.is_empty() { "(" } else { " OR " });
            wanted.push("(metric = ").bind(metric).push(" AND variant = ").bind(variant).push(")");
        }
    }
    if !wanted.is_empty() {
        let mut sql = Sql::new(
            "SELECT task_id, metric, variant, last_value, min_value, max_value FROM scalar_summaries WHERE task_id IN ",
        );
        sql.bind_list(ids).push(" AND ").append(&wanted).push(")");
        for r in sql.query().fetch_all(&mut *conn).await? {
            summaries.insert(
                (r.try_get("task_id")?, r.try_get("metric")?, r.try_get("variant")?),
                [r.try_get("last_value")?, r.try_get("min_value")?, r.try_get("max_value")?],
            );
        }
    }
    let mut params: HashMap<(String, String, String), String> = HashMap::new();
    let mut wanted = Sql::new("");
    for (section, name) in columns.iter().filter_map(|c| c.param()) {
        wanted.push(if wanted.is_empty() { "(" } else { " OR " });
        wanted.push("(section = ").bind(section).push(" AND name = ").bind(name).push(")");
    }
    if !wanted.is_empty() {
        let mut sql = Sql::new("SELECT task_id, section, name, value FROM task_params WHERE task_id IN ");
        sql.bind_list(ids).push(" AND ").append(&wanted).push(")");
        for r in sql.query().fetch_all(&mut *conn).await? {
            params.insert((r.try_get("task_id")?, r.try_get("section")?, r.try_get("name")?), r.try_get("value")?);
        }
    }
    let mut tags: HashMap<String, Vec<String>> = HashMap::new();
    if columns.contains(&&Column::Builtin(Builtin::Tags)) {
        let mut sql = Sql::new("SELECT task_id, tag FROM task_tags WHERE task_id IN ");
        sql.bind_list(ids).push(" ORDER BY task_id, tag");
        for r in sql.query().fetch_all(&mut *conn).await? {
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
