//! `queues.*` over Runyard's queues.

use crate::envelope::{required_str, str_list, Answer, ClearmlError};
use crate::tasks::project;
use crate::Ctx;
use runyard_api::Queue;
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
    if let Some(ids) = str_list(body, "id") {
        queues.retain(|q| ids.contains(&q.id));
    }
    if let Some(pattern) = body.get("name").and_then(Value::as_str) {
        let re = regex::Regex::new(pattern)
            .map_err(|e| ClearmlError::validation(format!("Validation error: name is not a valid pattern: {e}")))?;
        queues.retain(|q| re.is_match(&q.name));
    }
    let only = str_list(body, "only_fields");
    Ok(json!({"queues": queues.iter().map(|q| project(&document(q), only.as_deref())).collect::<Vec<_>>()}))
}

/// `queues.get_by_id`: an unknown id is an error with `data: {}` (the SDK first tries a queue
/// *name* here and falls back to `get_all`).
pub async fn get_by_id(ctx: &Ctx, body: &Value) -> Answer {
    let id = required_str(body, "queue")?;
    let queues = ctx.store.list_queues().await?;
    match queues.iter().find(|q| q.id == id) {
        Some(q) => Ok(json!({"queue": document(q)})),
        None => Err(ClearmlError::new(400, 701, format!("Invalid queue id: id={id}"))),
    }
}

pub async fn get_default(ctx: &Ctx) -> Answer {
    let queues = ctx.store.list_queues().await?;
    match queues.iter().find(|q| q.name == "default") {
        Some(q) => Ok(json!({"id": q.id, "name": q.name})),
        None => Err(ClearmlError::new(400, 707, "No default queue")),
    }
}
