//! `events.get_task_log` and `events.clear_task_log`: a task's console as ClearML's log
//! events, paged by time and filtered by the metric a line was filed under.

use crate::envelope::{str_list, Answer, ClearmlError};
use crate::lookup::task_of;
use crate::Ctx;
use runyard_api::ConsoleEntry;
use runyard_daemon::store::{LogMetrics, Principal};
use serde_json::{json, Value};

/// One console line as a log event.
pub fn event(task: &str, e: &ConsoleEntry) -> Value {
    let mut event = json!({"type": "log", "task": task, "timestamp": e.time.timestamp_millis(),
                           "iter": e.iteration.unwrap_or(0), "level": e.level.as_deref().unwrap_or("info"),
                           "worker": e.worker, "msg": e.text.trim_end_matches('\n')});
    if let Some(metric) = &e.metric {
        event["metric"] = json!(metric);
        event["variant"] = json!(e.variant.as_deref().unwrap_or_default());
    }
    event
}

/// The metric names of a `metrics: [{metric, variants}]` filter, `None` without one.
fn metric_names(body: &Value) -> Result<Option<Vec<String>>, ClearmlError> {
    let Some(filter) = body.get("metrics").filter(|m| !m.is_null()) else { return Ok(None) };
    let entries =
        filter.as_array().ok_or_else(|| ClearmlError::validation("Validation error: metrics must be a list"))?;
    let names = entries.iter().map(|m| m.get("metric").and_then(Value::as_str).map(str::to_string));
    let names: Option<Vec<String>> = names.collect();
    match names {
        Some(names) if !names.is_empty() => Ok(Some(names)),
        Some(_) => Ok(None),
        None => Err(ClearmlError::validation("Validation error: metrics[].metric must be a string")),
    }
}

/// `events.get_task_log`: `batch_size` lines before `from_timestamp` (the newest first), or
/// after it with `navigate_earlier: false` (the oldest first); `order` turns the page round.
/// `total` counts every line the metric filter takes.
pub async fn get_task_log(ctx: &Ctx, body: &Value) -> Answer {
    let task = task_of(body)?;
    crate::lookup::task(ctx, &task).await?;
    let batch = body.get("batch_size").and_then(Value::as_u64).unwrap_or(500).clamp(1, 10_000) as u32;
    let earlier = match body.get("navigate_earlier").and_then(Value::as_bool) {
        Some(earlier) => earlier,
        None => body.get("from").and_then(Value::as_str) != Some("head"),
    };
    let from = body.get("from_timestamp").and_then(Value::as_i64);
    let include = metric_names(body)?;
    let metrics = LogMetrics { include: include.as_deref(), exclude: &[] };
    let page = ctx.store.log_lines(&task, metrics, from, earlier, batch).await?;
    let mut events: Vec<Value> = page.lines.iter().map(|e| event(&task, e)).collect();
    let order = body.get("order").and_then(Value::as_str);
    if (earlier && order == Some("asc")) || (!earlier && order == Some("desc")) {
        events.reverse();
    }
    Ok(json!({"events": events, "returned": events.len(), "total": page.total}))
}

/// `events.clear_task_log`: removes the task's log lines (only those of `include_metrics`,
/// never those of `exclude_metrics`; with `threshold_sec`, only older ones).
pub async fn clear_task_log(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let task = task_of(body)?;
    crate::lookup::task(ctx, &task).await?;
    let include = str_list(body, "include_metrics")?;
    let exclude = str_list(body, "exclude_metrics")?.unwrap_or_default();
    let threshold = body.get("threshold_sec").and_then(Value::as_i64).filter(|s| *s > 0);
    let before = threshold.map(|seconds| runyard_daemon::store::now_ms().saturating_sub(seconds.saturating_mul(1000)));
    let metrics = LogMetrics { include: include.as_deref(), exclude: &exclude };
    let deleted = runyard_daemon::services::console::clear(&ctx.store, who, &task, metrics, before).await?;
    Ok(json!({"deleted": deleted}))
}
