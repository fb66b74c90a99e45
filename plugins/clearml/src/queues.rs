//! `queues.*` over Runyard's queues.

use crate::document::project;
use crate::envelope::{name_filter, required_str, str_list, Answer, ClearmlError};
use crate::Ctx;
use runyard_api::Queue;
use runyard_daemon::services::fleet;
use runyard_daemon::store::Principal;
use serde_json::{json, Value};

fn document(q: &Queue) -> Value {
    let iso = q.created.to_rfc3339_opts(chrono::SecondsFormat::Millis, false);
    let system_tags: Vec<&str> = if q.name == "default" { vec!["default"] } else { vec![] };
    json!({"id": q.id, "name": q.name, "created": iso, "last_update": iso, "tags": [], "system_tags": system_tags,
           "company": "", "user": "", "entries": []})
}

/// `queues.get_all`: `id` and `name` (a regex, anchored by the SDK, not by the agent) filters.
pub async fn get_all(ctx: &Ctx, body: &Value) -> Answer {
    let mut queues = ctx.store.list_queues().await?;
    if let Some(ids) = str_list(body, "id")? {
        queues.retain(|q| ids.contains(&q.id));
    }
    if let Some(re) = name_filter(body, false)? {
        queues.retain(|q| re.is_match(&q.name));
    }
    let only = str_list(body, "only_fields")?;
    Ok(json!({"queues": queues.iter().map(|q| project(&document(q), only.as_deref())).collect::<Vec<_>>()}))
}

/// `queues.get_by_id`: an unknown id is an error with `data: {}` (the SDK first tries a queue
/// *name* here and falls back to `get_all`).
pub async fn get_by_id(ctx: &Ctx, body: &Value) -> Answer {
    let id = required_str(body, "queue")?;
    let queues = ctx.store.list_queues().await?;
    let Some(q) = queues.iter().find(|q| q.id == id) else {
        return Err(ClearmlError::new(400, 701, format!("Invalid queue id: id={id}")));
    };
    let mut doc = document(q);
    let detail = ctx.store.queue_detail(id).await?;
    doc["entries"] = detail
        .entries
        .iter()
        .map(|e| json!({"task": e.task, "added": e.added.to_rfc3339_opts(chrono::SecondsFormat::Millis, false)}))
        .collect();
    Ok(json!({"queue": doc}))
}

pub async fn get_default(ctx: &Ctx) -> Answer {
    let queues = ctx.store.list_queues().await?;
    match queues.iter().find(|q| q.name == "default") {
        Some(q) => Ok(json!({"id": q.id, "name": q.name})),
        None => Err(ClearmlError::new(400, 707, "No default queue")),
    }
}

pub async fn create(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let name = required_str(body, "name")?;
    let q = fleet::create_queue(&ctx.store, who, name.trim()).await?;
    Ok(json!({"id": q.id}))
}

pub async fn delete(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let queue = required_str(body, "queue")?;
    ctx.tasks.delete_queue(who, queue, crate::envelope::flag(body, "force")).await?;
    Ok(json!({"deleted": 1}))
}

pub async fn get_num_entries(ctx: &Ctx, body: &Value) -> Answer {
    let queue = required_str(body, "queue")?;
    Ok(json!({"num": ctx.store.queue_detail(queue).await?.entries.len()}))
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
pub async fn remove_task(ctx: &Ctx, who: &runyard_daemon::store::Principal, body: &Value) -> Answer {
    let queue = required_str(body, "queue")?;
    let task = required_str(body, "task")?;
    if !ctx.store.is_waiting_in(queue, task).await? {
        return Ok(json!({"removed": 0}));
    }
    let req = runyard_api::ActionRequest::default();
    ctx.tasks.act_one(who, task, runyard_api::Action::Dequeue, req).await?;
    Ok(json!({"removed": 1}))
}
