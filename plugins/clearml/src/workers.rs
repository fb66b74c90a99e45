//! `workers.*` and `queues.get_next_task`: a clearml-agent is a Runyard worker, named by the
//! host it runs on (its `X-ClearML-Worker` header, which every call carries), so the task it
//! pops is leased to it and only it can start that task.

use crate::document::iso;
use crate::envelope::{str_list, Answer, ClearmlError};
use crate::extras::{self, Kind};
use crate::tags::TagFilter;
use crate::Ctx;
use axum::http::HeaderMap;
use runyard_api::{PopRequest, RegisterWorker, WorkerReport};
use runyard_daemon::error::Error;
use runyard_daemon::services::fleet;
use runyard_daemon::store::Principal;
use serde_json::{json, Map, Value};
use std::net::IpAddr;

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

/// Keeps what a call says of the worker that Runyard's worker does not carry: its tags and
/// system tags (when given), and the task it reports.
async fn remember(
    ctx: &Ctx,
    (who, peer): (&Principal, Option<IpAddr>),
    id: &str,
    body: &Value,
    task: Option<Option<&str>>,
) -> Result<(), ClearmlError> {
    let mut doc = extras::get(ctx, Kind::Worker, id).await?;
    let before = doc.clone();
    doc.insert("user".into(), json!({"id": who.user_id, "name": who.name}));
    if let Some(ip) = peer {
        doc.insert("ip".into(), json!(ip.to_string()));
    }
    for field in ["tags", "system_tags"] {
        if let Some(tags) = str_list(body, field)? {
            doc.insert(field.into(), json!(tags));
        }
    }
    if let Some(task) = task {
        doc.insert("task".into(), json!(task));
    }
    if doc != before {
        extras::put(ctx, Kind::Worker, id, &doc).await?;
    }
    Ok(())
}

pub async fn register(ctx: &Ctx, who: &Principal, headers: &HeaderMap, peer: Option<IpAddr>, body: &Value) -> Answer {
    let id = required_worker(headers, body)?;
    let timeout = body.get("timeout").and_then(Value::as_u64);
    register_for(ctx, who, &id, str_list(body, "queues")?.unwrap_or_default(), timeout).await?;
    remember(ctx, (who, peer), &id, body, None).await?;
    Ok(json!({}))
}

pub async fn unregister(ctx: &Ctx, who: &Principal, headers: &HeaderMap, body: &Value) -> Answer {
    let id = required_worker(headers, body)?;
    match fleet::unregister_worker(&ctx.store, who, &id).await {
        Ok(()) | Err(Error::NotFound { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    extras::remove(ctx, Kind::Worker, &id).await?;
    Ok(json!({}))
}

fn average(v: Option<&Value>) -> f64 {
    match v {
        Some(Value::Array(xs)) if !xs.is_empty() => xs.iter().filter_map(Value::as_f64).sum::<f64>() / xs.len() as f64,
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// `workers.status_report`: a sign of life with the machine's use (ClearML reports memory in
/// MB), its tags and the task it runs. A task the worker does not hold (one a person started by
/// hand) is kept as what it says it runs; the worker gains no rights over it.
pub async fn status_report(
    ctx: &Ctx,
    who: &Principal,
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    body: &Value,
) -> Answer {
    let id = required_worker(headers, body)?;
    let samples = crate::worker_stats::samples(body)?;
    let stats = body.get("machine_stats").cloned().unwrap_or(Value::Null);
    const MB: f64 = 1024.0 * 1024.0;
    let used = average(stats.get("memory_used")) * MB;
    let free = average(stats.get("memory_free")) * MB;
    let task = body.get("task").and_then(Value::as_str).filter(|t| !t.is_empty());
    let mut report = WorkerReport {
        task: task.map(str::to_string),
        cpu_percent: average(stats.get("cpu_usage")),
        memory_used_bytes: used as u64,
        memory_total_bytes: (used + free) as u64,
        ..Default::default()
    };
    if let Err(Error::NotFound { .. }) = fleet::check_worker(&ctx.store, who, &id).await {
        register_for(ctx, who, &id, str_list(body, "queues")?.unwrap_or_default(), None).await?;
    }
    match fleet::report_worker(&ctx.store, who, &id, &report).await {
        Err(Error::Conflict(_)) => {
            report.task = None;
            fleet::report_worker(&ctx.store, who, &id, &report).await?;
        }
        other => {
            other?;
        }
    }
    crate::worker_stats::record(ctx, &id, body, samples, task.is_some()).await?;
    remember(ctx, (who, peer), &id, body, Some(task)).await?;
    Ok(json!({}))
}

/// `workers.set_runtime_properties`: accepted for a worker of the caller's (Runyard schedules
/// by its own settings, so the properties change nothing).
pub async fn set_runtime_properties(ctx: &Ctx, who: &Principal, headers: &HeaderMap, body: &Value) -> Answer {
    let id = required_worker(headers, body)?;
    fleet::check_worker(&ctx.store, who, &id).await?;
    Ok(json!({}))
}

/// The workers `workers.get_all` and `get_count` select, with their extras: those seen within
/// `last_seen` seconds (all when absent), passing the `tags` and `system_tags` filters.
async fn selected(ctx: &Ctx, body: &Value) -> Result<Vec<(runyard_api::Worker, Map<String, Value>)>, ClearmlError> {
    let mut workers = ctx.store.list_workers().await?;
    if let Some(seconds) = body.get("last_seen").and_then(Value::as_i64).filter(|s| *s > 0) {
        let since = chrono::Utc::now() - chrono::Duration::seconds(seconds);
        workers.retain(|w| w.last_seen >= since);
    }
    let mut extras = extras::all(ctx, Kind::Worker).await?;
    let mut found: Vec<_> = workers
        .into_iter()
        .map(|w| {
            let e = extras.remove(&w.id).unwrap_or_default();
            (w, e)
        })
        .collect();
    for field in ["tags", "system_tags"] {
        if let Some(filter) = TagFilter::of(body, field)? {
            found.retain(|(_, e)| filter.matches(&crate::tags::of_doc(&Value::Object(e.clone()), field)));
        }
    }
    Ok(found)
}

/// `workers.get_all`: the workers as ClearML's worker documents (their queues by id, name and
/// display name, the task each runs or says it runs, their tags, key and address).
pub async fn get_all(ctx: &Ctx, body: &Value) -> Answer {
    let workers = selected(ctx, body).await?;
    // A worker's queues are kept as it named them: by name or by id.
    let listed = ctx.store.list_queues().await?;
    let by_id: std::collections::HashMap<&str, &str> =
        listed.iter().map(|q| (q.id.as_str(), q.name.as_str())).collect();
    let by_name: std::collections::HashMap<&str, &str> =
        listed.iter().map(|q| (q.name.as_str(), q.id.as_str())).collect();
    let queue_extras = extras::all(ctx, Kind::Queue).await?;
    let queue = |q: &String| {
        let (id, name) = match by_id.get(q.as_str()) {
            Some(name) => (q.as_str(), *name),
            None => (by_name.get(q.as_str()).copied().unwrap_or_default(), q.as_str()),
        };
        let display_name = queue_extras.get(id).and_then(|e| e.get("display_name"));
        json!({"id": id, "name": name, "display_name": display_name})
    };
    let docs: Vec<Value> = workers
        .iter()
        .map(|(w, extras)| {
            let task = running_task(w, extras);
            json!({
                "id": w.id,
                "key": key(w, extras),
                "ip": extras.get("ip"),
                "user": extras.get("user"),
                "company": {"id": "", "name": ""},
                "register_time": iso(w.registered),
                "last_activity_time": iso(w.last_seen),
                "last_report_time": iso(w.last_seen),
                "queues": w.queues.iter().map(queue).collect::<Vec<_>>(),
                "task": task.map(|t| json!({"id": t})),
                "tags": extras.get("tags").cloned().unwrap_or_else(|| json!([])),
                "system_tags": extras.get("system_tags").cloned().unwrap_or_else(|| json!([])),
            })
        })
        .collect();
    Ok(json!({"workers": docs}))
}

/// A worker's key as ClearML forms it: `worker_<company>_<user>_<worker>`.
fn key(w: &runyard_api::Worker, extras: &Map<String, Value>) -> String {
    let user = extras.get("user").and_then(|u| u["id"].as_str()).unwrap_or_default();
    format!("worker__{user}_{}", w.id)
}

/// The workers with the queues each listens to (by id or name, as it named them), as
/// `queues.get_all_ex` lists them: name, address, key, and the task it runs with its name.
pub async fn listeners(ctx: &Ctx) -> Result<Vec<(Vec<String>, Value)>, ClearmlError> {
    let workers = selected(ctx, &Value::Null).await?;
    let running: Vec<String> = workers.iter().filter_map(|(w, e)| running_task(w, e).map(str::to_string)).collect();
    let names: std::collections::HashMap<String, String> =
        ctx.tasks.get_many(&running).await?.into_iter().map(|t| (t.id, t.name)).collect();
    Ok(workers
        .iter()
        .map(|(w, e)| {
            let task = running_task(w, e).map(|t| json!({"id": t, "name": names.get(t)}));
            (w.queues.clone(), json!({"name": w.id, "ip": e.get("ip"), "key": key(w, e), "task": task}))
        })
        .collect())
}

/// The task a worker holds, else the one it says it runs.
fn running_task<'a>(w: &'a runyard_api::Worker, extras: &'a Map<String, Value>) -> Option<&'a str> {
    w.task.as_deref().or(extras.get("task").and_then(Value::as_str))
}

/// `workers.get_count`: how many workers `workers.get_all` would list.
pub async fn get_count(ctx: &Ctx, body: &Value) -> Answer {
    Ok(json!({"count": selected(ctx, body).await?.len()}))
}

/// `queues.get_next_task`: the atomic pop. `{entry: {task, added}}`, or `{}` when the queue is
/// empty. A caller that names no worker takes the task as a worker of its own name.
pub async fn get_next_task(ctx: &Ctx, who: &Principal, headers: &HeaderMap, body: &Value) -> Answer {
    let queue = body
        .get("queue")
        .and_then(Value::as_str)
        .ok_or_else(|| ClearmlError::validation("Validation error: missing required field 'queue'"))?;
    let worker = worker_of(headers, body).unwrap_or_else(|| who.name.clone());
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
