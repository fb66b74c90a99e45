//! `workers.*` and `queues.get_next_task`: a clearml-agent is a Runyard worker, named by the
//! host it runs on (its `X-ClearML-Worker` header, which every call carries), so the task it
//! pops is leased to it and only it can start that task.

use crate::document::iso;
use crate::envelope::{str_list, Answer, ClearmlError};
use crate::Ctx;
use axum::http::HeaderMap;
use runyard_api::{PopRequest, RegisterWorker, WorkerReport};
use runyard_daemon::error::Error;
use runyard_daemon::services::fleet;
use runyard_daemon::store::Principal;
use serde_json::{json, Value};

/// A clearml-agent reports every 30 s by default; it is dropped after this much silence.
const TIMEOUT_SECONDS: u64 = 600;

/// The worker a call is about: the body's `worker` field, else the caller's
/// `X-ClearML-Worker` (or `X-Trains-Worker`) header (a services-mode agent reports for the
/// workers it runs tasks as).
pub fn worker_of(headers: &HeaderMap, body: &Value) -> Option<String> {
    body.get("worker")
        .and_then(Value::as_str)
        .filter(|w| !w.trim().is_empty())
        .map(str::to_string)
        .or_else(|| {
            ["x-clearml-worker", "x-trains-worker"]
                .iter()
                .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
                .map(str::to_string)
        })
        .map(|w| w.replace('/', "_"))
        .filter(|w| !w.trim().is_empty())
}

fn required_worker(headers: &HeaderMap, body: &Value) -> Result<String, ClearmlError> {
    worker_of(headers, body)
        .ok_or_else(|| ClearmlError::validation("Validation error: missing required field 'worker'"))
}

/// Registers (or re-registers) the worker for `queues` (the default queue when none), dropped
/// after `timeout` seconds of silence (ClearML's default when none).
async fn register_for(
    ctx: &Ctx,
    who: &Principal,
    id: &str,
    queues: Vec<String>,
    timeout: Option<u64>,
) -> Result<(), ClearmlError> {
    let queues = if queues.is_empty() { vec!["default".to_string()] } else { queues };
    ctx.store.resolve_queues(&queues).await?;
    let req = RegisterWorker {
        id: id.to_string(),
        queues,
        capabilities: Default::default(),
        timeout_seconds: Some(timeout.filter(|t| *t > 0).unwrap_or(TIMEOUT_SECONDS)),
    };
    fleet::register_worker(&ctx.store, who, &req).await?;
    Ok(())
}

pub async fn register(ctx: &Ctx, who: &Principal, headers: &HeaderMap, body: &Value) -> Answer {
    let id = required_worker(headers, body)?;
    let timeout = body.get("timeout").and_then(Value::as_u64);
    register_for(ctx, who, &id, str_list(body, "queues")?.unwrap_or_default(), timeout).await?;
    Ok(json!({}))
}

pub async fn unregister(ctx: &Ctx, who: &Principal, headers: &HeaderMap, body: &Value) -> Answer {
    let id = required_worker(headers, body)?;
    match fleet::unregister_worker(&ctx.store, who, &id).await {
        Ok(()) | Err(Error::NotFound { .. }) => Ok(json!({})),
        Err(e) => Err(e.into()),
    }
}

fn average(v: Option<&Value>) -> f64 {
    match v {
        Some(Value::Array(xs)) if !xs.is_empty() => xs.iter().filter_map(Value::as_f64).sum::<f64>() / xs.len() as f64,
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// `workers.status_report`: a sign of life with the machine's use (ClearML reports memory in
/// MB).
pub async fn status_report(ctx: &Ctx, who: &Principal, headers: &HeaderMap, body: &Value) -> Answer {
    let id = required_worker(headers, body)?;
    let stats = body.get("machine_stats").cloned().unwrap_or(Value::Null);
    const MB: f64 = 1024.0 * 1024.0;
    let used = average(stats.get("memory_used")) * MB;
    let free = average(stats.get("memory_free")) * MB;
    let report = WorkerReport {
        task: body.get("task").and_then(Value::as_str).map(str::to_string),
        cpu_percent: average(stats.get("cpu_usage")),
        memory_used_bytes: used as u64,
        memory_total_bytes: (used + free) as u64,
        ..Default::default()
    };
    match fleet::report_worker(&ctx.store, who, &id, &report).await {
        Err(Error::NotFound { .. }) => {
            register_for(ctx, who, &id, str_list(body, "queues")?.unwrap_or_default(), None).await?;
            fleet::report_worker(&ctx.store, who, &id, &report).await?;
        }
        other => {
            other?;
        }
    }
    Ok(json!({}))
}

/// `workers.set_runtime_properties`: accepted for a worker of the caller's (Runyard schedules
/// by its own settings, so the properties change nothing).
pub async fn set_runtime_properties(ctx: &Ctx, who: &Principal, headers: &HeaderMap, body: &Value) -> Answer {
    let id = required_worker(headers, body)?;
    fleet::check_worker(&ctx.store, who, &id).await?;
    Ok(json!({}))
}

/// The workers `workers.get_all` and `get_count` select: those seen within `last_seen`
/// seconds (all when absent); Runyard's workers carry no tags, so a filter that asks for one
/// matches none.
async fn selected(ctx: &Ctx, body: &Value) -> Result<Vec<runyard_api::Worker>, ClearmlError> {
    let mut workers = ctx.store.list_workers().await?;
    if let Some(seconds) = body.get("last_seen").and_then(Value::as_i64).filter(|s| *s > 0) {
        let since = chrono::Utc::now() - chrono::Duration::seconds(seconds);
        workers.retain(|w| w.last_seen >= since);
    }
    for field in ["tags", "system_tags"] {
        if str_list(body, field)?.unwrap_or_default().iter().any(|t| !t.starts_with('-')) {
            workers.clear();
        }
    }
    Ok(workers)
}

/// `workers.get_all`: the workers as ClearML's worker documents (their queues by id and name,
/// the task each runs).
pub async fn get_all(ctx: &Ctx, body: &Value) -> Answer {
    let workers = selected(ctx, body).await?;
    // A worker's queues are kept as it named them: by name or by id.
    let listed = ctx.store.list_queues().await?;
    let by_id: std::collections::HashMap<&str, &str> =
        listed.iter().map(|q| (q.id.as_str(), q.name.as_str())).collect();
    let by_name: std::collections::HashMap<&str, &str> =
        listed.iter().map(|q| (q.name.as_str(), q.id.as_str())).collect();
    let queue = |q: &String| match by_id.get(q.as_str()) {
        Some(name) => json!({"id": q, "name": name}),
        None => json!({"id": by_name.get(q.as_str()).copied().unwrap_or_default(), "name": q}),
    };
    let docs: Vec<Value> = workers
        .iter()
        .map(|w| {
            json!({
                "id": w.id,
                "company": {"id": "", "name": ""},
                "register_time": iso(w.registered),
                "last_activity_time": iso(w.last_seen),
                "last_report_time": iso(w.last_seen),
                "queues": w.queues.iter().map(queue).collect::<Vec<_>>(),
                "task": w.task.as_ref().map(|t| json!({"id": t})),
                "tags": [],
                "system_tags": [],
            })
        })
        .collect();
    Ok(json!({"workers": docs}))
}

/// `workers.get_count`: how many workers `workers.get_all` would list.
pub async fn get_count(ctx: &Ctx, body: &Value) -> Answer {
    Ok(json!({"count": selected(ctx, body).await?.len()}))
}

/// `queues.get_next_task`: the atomic pop. `{entry: {task, added}}`, or `{}` when the queue is
/// empty.
pub async fn get_next_task(ctx: &Ctx, who: &Principal, headers: &HeaderMap, body: &Value) -> Answer {
    let queue = body
        .get("queue")
        .and_then(Value::as_str)
        .ok_or_else(|| ClearmlError::validation("Validation error: missing required field 'queue'"))?;
    let worker = required_worker(headers, body)?;
    if ctx.store.worker(&worker).await.is_err() {
        register_for(ctx, who, &worker, vec![queue.to_string()], None).await?;
    }
    let req = PopRequest { queues: vec![queue.to_string()], worker, wait_seconds: 0.0, order_fairness: false };
    let popped = ctx.dispatcher.pop(who, req).await?;
    Ok(match popped.task {
        Some(task) => {
            json!({"entry": {"task": task.id, "added": task.last_change.to_rfc3339_opts(chrono::SecondsFormat::Millis, false)}})
        }
        None => json!({}),
    })
}
