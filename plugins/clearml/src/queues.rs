//! `queues.*` over Runyard's queues; their tags, display name and metadata are ClearML extras.

use crate::document::project;
use crate::envelope::{flag, name_filter, required_str, str_list, Answer, ClearmlError};
use crate::extras::{self, Kind};
use crate::Ctx;
use runyard_api::{Queue, QueueEntry};
use runyard_daemon::services::{access, fleet};
use runyard_daemon::store::Principal;
use serde_json::{json, Map, Value};

/// The system tag that hides a queue from listings unless asked for (ClearML's `hidden_tags`).
const HIDDEN_TAG: &str = "k8s-glue";

fn millis(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
}

/// A queue as ClearML's document, its extras laid over it.
fn document(q: &Queue, extras: Option<&Map<String, Value>>) -> Value {
    let iso = millis(q.created);
    let system_tags: Vec<&str> = if q.name == "default" { vec!["default"] } else { vec![] };
    let mut doc = json!({"id": q.id, "name": q.name, "display_name": null, "created": iso, "last_update": iso,
           "tags": [], "system_tags": system_tags, "metadata": {}, "company": "", "user": "", "entries": []});
    for (k, v) in extras.into_iter().flatten() {
        doc[k] = v.clone();
    }
    doc
}

/// `entries` as `get_all` lists them (task ids) or `get_all_ex` (the task's id and name).
fn entries(entries: &[QueueEntry], max: Option<usize>, named: bool) -> Value {
    let take = max.unwrap_or(usize::MAX);
    entries
        .iter()
        .take(take)
        .map(|e| {
            let task = if named { json!({"id": e.task, "name": e.name}) } else { json!(e.task) };
            json!({"task": task, "added": millis(e.added)})
        })
        .collect()
}

/// `queues.get_all` / `get_all_ex`: `id` and `name` (a regex, anchored by the SDK, not by the
/// agent) filters, `tags`/`system_tags` (`-tag` excludes); hidden queues only with
/// `search_hidden` or when asked for by id or name; entries up to `max_task_entries`.
pub async fn get_all(ctx: &Ctx, body: &Value, ex: bool) -> Answer {
    let mut queues = ctx.store.list_queues().await?;
    let extras = extras::all(ctx, Kind::Queue).await?;
    let mut docs: Vec<Value> = Vec::with_capacity(queues.len());
    if let Some(ids) = str_list(body, "id")? {
        queues.retain(|q| ids.contains(&q.id));
    }
    if let Some(re) = name_filter(body, false)? {
        queues.retain(|q| re.is_match(&q.name));
    }
    let max = body.get("max_task_entries").and_then(Value::as_u64).map(|m| usize::try_from(m).unwrap_or(usize::MAX));
    let listeners = if ex { crate::workers::listeners(ctx).await? } else { Vec::new() };
    for q in &queues {
        let mut doc = document(q, extras.get(&q.id));
        if q.length > 0 {
            doc["entries"] = entries(&ctx.store.queue_detail(&q.id).await?.entries, max, ex);
        }
        if ex {
            let listening = listeners.iter().filter(|(queues, _)| queues.iter().any(|n| *n == q.id || *n == q.name));
            doc["workers"] = json!(listening.map(|(_, w)| w).collect::<Vec<_>>());
        }
        docs.push(doc);
    }
    let shown = flag(body, "search_hidden") || body.get("id").is_some() || body.get("name").is_some();
    if !shown {
        docs.retain(|d| !has_tag(d, "system_tags", HIDDEN_TAG));
    }
    for field in ["tags", "system_tags"] {
        for tag in str_list(body, field)?.unwrap_or_default() {
            match tag.strip_prefix('-') {
                Some(excluded) => docs.retain(|d| !has_tag(d, field, excluded)),
                None => docs.retain(|d| has_tag(d, field, &tag)),
            }
        }
    }
    let only = str_list(body, "only_fields")?;
    Ok(json!({"queues": docs.iter().map(|d| project(d, only.as_deref())).collect::<Vec<_>>()}))
}

fn has_tag(doc: &Value, field: &str, tag: &str) -> bool {
    doc[field].as_array().is_some_and(|a| a.iter().any(|t| t == tag))
}

fn invalid_queue(id: &str) -> ClearmlError {
    ClearmlError::new(400, 701, format!("Invalid queue id: id={id}"))
}

async fn find(ctx: &Ctx, id: &str) -> Result<Queue, ClearmlError> {
    let queues = ctx.store.list_queues().await?;
    queues.into_iter().find(|q| q.id == id).ok_or_else(|| invalid_queue(id))
}

/// `queues.get_by_id`: an unknown id is an error with `data: {}` (the SDK first tries a queue
/// *name* here and falls back to `get_all`).
pub async fn get_by_id(ctx: &Ctx, body: &Value) -> Answer {
    let id = required_str(body, "queue")?;
    let q = find(ctx, id).await?;
    let mut doc = document(&q, Some(&extras::get(ctx, Kind::Queue, id).await?));
    doc["entries"] = entries(&ctx.store.queue_detail(id).await?.entries, None, false);
    Ok(json!({"queue": doc}))
}

pub async fn get_default(ctx: &Ctx) -> Answer {
    let queues = ctx.store.list_queues().await?;
    match queues.iter().find(|q| q.name == "default") {
        Some(q) => Ok(json!({"id": q.id, "name": q.name})),
        None => Err(ClearmlError::new(400, 707, "No default queue")),
    }
}

/// `queues.create`: a queue, with its tags, display name and metadata.
pub async fn create(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let name = required_str(body, "name")?;
    let mut doc = Map::new();
    extras::apply(&mut doc, body)?;
    let q = fleet::create_queue(&ctx.store, who, name.trim()).await?;
    if !doc.is_empty() {
        extras::put(ctx, Kind::Queue, &q.id, &doc).await?;
    }
    Ok(json!({"id": q.id}))
}

/// `queues.update`: a new name, tags, system tags, display name or metadata (admins).
pub async fn update(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    access::admin(who, "change queues")?;
    let id = required_str(body, "queue")?;
    let q = find(ctx, id).await?;
    let mut doc = extras::get(ctx, Kind::Queue, id).await?;
    let mut fields = extras::apply(&mut doc, body)?;
    if let Some(name) = body.get("name").and_then(Value::as_str).filter(|n| *n != q.name) {
        fleet::rename_queue(&ctx.store, who, id, name.trim()).await?;
        fields.insert("name".into(), json!(name.trim()));
    }
    extras::put(ctx, Kind::Queue, id, &doc).await?;
    Ok(json!({"updated": 1, "fields": fields}))
}

/// `queues.add_or_update_metadata` and `queues.delete_metadata` (admins).
pub async fn edit_metadata(ctx: &Ctx, who: &Principal, body: &Value, delete: bool) -> Answer {
    access::admin(who, "change queues")?;
    let id = required_str(body, "queue")?;
    find(ctx, id).await?;
    let mut doc = extras::get(ctx, Kind::Queue, id).await?;
    extras::edit_metadata(&mut doc, body, delete)?;
    extras::put(ctx, Kind::Queue, id, &doc).await?;
    Ok(json!({"updated": 1}))
}

pub async fn delete(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let queue = required_str(body, "queue")?;
    ctx.tasks.delete_queue(who, queue, flag(body, "force")).await?;
    extras::remove(ctx, Kind::Queue, queue).await?;
    Ok(json!({"deleted": 1}))
}

pub async fn get_num_entries(ctx: &Ctx, body: &Value) -> Answer {
    let queue = required_str(body, "queue")?;
    Ok(json!({"num": ctx.store.queue_detail(queue).await?.entries.len()}))
}

/// `queues.peek_task`: the task next in line, without taking it.
pub async fn peek_task(ctx: &Ctx, body: &Value) -> Answer {
    let queue = required_str(body, "queue")?;
    let detail = ctx.store.queue_detail(queue).await?;
    Ok(json!({"task": detail.entries.first().map(|e| e.task.clone())}))
}

/// `queues.clear_queue`: every waiting task leaves the queue, back to Draft.
pub async fn clear_queue(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let queue = required_str(body, "queue")?;
    let detail = ctx.store.queue_detail(queue).await?;
    let mut removed = Vec::with_capacity(detail.entries.len());
    for entry in &detail.entries {
        let req = runyard_api::ActionRequest::default();
        ctx.tasks.act_one(who, &entry.task, runyard_api::Action::Dequeue, req).await?;
        removed.push(entry.task.clone());
    }
    Ok(json!({"removed_tasks": removed}))
}

/// The task's 0-based position in the queue after a move.
async fn position(ctx: &Ctx, queue: &str, task: &str) -> Answer {
    let detail = ctx.store.queue_detail(queue).await?;
    let at = detail.entries.iter().position(|e| e.task == task);
    Ok(json!({"position": at}))
}

/// `queues.move_task_forward|backward|to_front|to_back`: moves inside the queue (forward is
/// toward dispatch, by `count`, default 1).
pub async fn move_task(ctx: &Ctx, who: &Principal, body: &Value, how: &str) -> Answer {
    let queue = required_str(body, "queue")?;
    let task = required_str(body, "task")?;
    let detail = ctx.store.queue_detail(queue).await?;
    let at = detail
        .entries
        .iter()
        .position(|e| e.task == task)
        .ok_or_else(|| ClearmlError::new(400, 704, format!("Task not found in queue: task={task}")))?;
    let count = usize::try_from(body.get("count").and_then(Value::as_u64).unwrap_or(1)).unwrap_or(usize::MAX);
    let to = match how {
        "front" => runyard_api::MoveEntry { to: Some("top".into()), ..Default::default() },
        "back" => runyard_api::MoveEntry { to: Some("bottom".into()), ..Default::default() },
        "forward" => runyard_api::MoveEntry { position: Some(at.saturating_sub(count) as u64), ..Default::default() },
        _ => runyard_api::MoveEntry {
            position: Some(at.saturating_add(count).min(detail.entries.len().saturating_sub(1)) as u64),
            ..Default::default()
        },
    };
    fleet::move_entry(&ctx.store, who, queue, task, &to).await?;
    position(ctx, queue, task).await
}

/// `queues.add_task`: the task joins the queue as if enqueued.
pub async fn add_task(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let queue = required_str(body, "queue")?;
    let task = required_str(body, "task")?;
    let req = runyard_api::ActionRequest { queue: Some(queue.to_string()), ..Default::default() };
    ctx.tasks.act_one(who, task, runyard_api::Action::Enqueue, req).await?;
    Ok(json!({"added": 1}))
}

/// `queues.remove_task`: the task leaves the queue (back to Draft).
pub async fn remove_task(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let queue = required_str(body, "queue")?;
    let task = required_str(body, "task")?;
    if !ctx.store.is_waiting_in(queue, task).await? {
        return Ok(json!({"removed": 0}));
    }
    let req = runyard_api::ActionRequest::default();
    ctx.tasks.act_one(who, task, runyard_api::Action::Dequeue, req).await?;
    Ok(json!({"removed": 1}))
}

/// `queues.get_queue_metrics`: per queue (`queue_ids`, else all), its length and the wait of
/// its oldest entry (seconds) averaged over each `interval` seconds between `from_date` and
/// `to_date` (seconds since the epoch), from the queue's sampled history; an interval that
/// reaches now ends with the queue as it is now.
pub async fn get_queue_metrics(ctx: &Ctx, body: &Value) -> Answer {
    let seconds = |field: &str| -> Result<f64, ClearmlError> {
        body.get(field)
            .and_then(Value::as_f64)
            .filter(|s| s.is_finite())
            .ok_or_else(|| ClearmlError::validation(format!("Validation error: {field} must be a number of seconds")))
    };
    let (from, to) = ((seconds("from_date")? * 1000.0) as i64, (seconds("to_date")? * 1000.0) as i64);
    let interval = body.get("interval").and_then(Value::as_i64).unwrap_or(60);
    let mut queues = ctx.store.list_queues().await?;
    if let Some(ids) = str_list(body, "queue_ids")? {
        queues.retain(|q| ids.contains(&q.id));
    }
    let now = runyard_daemon::store::now_ms();
    let mut metrics = Vec::new();
    for q in queues {
        let wanted = ["length".to_string(), "oldest_wait_seconds".to_string()];
        let history = ctx.store.history(&format!("queue:{}", q.id), &wanted, from, to, interval).await?;
        let step = history.interval_seconds as i64 * 1000;
        let points = |metric: &str| history.series.get(metric).cloned().unwrap_or_default();
        let (lengths, waits) = (points("length"), points("oldest_wait_seconds"));
        let mut dates: Vec<i64> = lengths.iter().map(|p| p.t.timestamp_millis()).collect();
        let mut queue_lengths: Vec<f64> = lengths.iter().map(|p| p.avg).collect();
        let mut waiting: Vec<f64> = waits.iter().map(|p| p.avg).collect();
        let current = now - now.rem_euclid(step.max(1));
        if to >= current && dates.last().is_none_or(|&d| d < current) {
            let wait = q.oldest_entry.map_or(0.0, |t| (now - t.timestamp_millis()) as f64 / 1000.0);
            dates.push(current);
            queue_lengths.push(q.length as f64);
            waiting.push(wait);
        }
        waiting.resize(dates.len(), 0.0);
        metrics.push(json!({"queue": q.id, "dates": dates, "queue_lengths": queue_lengths,
                            "avg_waiting_times": waiting}));
    }
    Ok(json!({"queues": metrics}))
}
