//! `tasks.reset` and `tasks.delete` as ClearML has them: what goes with the task (its draft
//! output models, unless `delete_output_models` is false), what stays without it (its published
//! models, its children), the URLs of the files left behind (`return_file_urls`), and the
//! refusals `force` overrides (a published task, published children or models).

use crate::envelope::{flag, Answer, ClearmlError};
use crate::lookup::{task as load, task_id};
use crate::transitions::act;
use crate::Ctx;
use runyard_api::{Action, ActionRequest, EditTask, Task, TaskStatus};
use runyard_daemon::store::Principal;
use serde_json::{json, Value};

/// 400/123: a delete that needs `force`.
fn cannot_delete(id: &str, why: &str) -> ClearmlError {
    ClearmlError::new(400, 123, format!("Task cannot be deleted: {why} (use force), task={id}"))
}

/// The URLs of the files the task leaves behind: its output artifacts and the draft models
/// deleted with it.
fn urls(task: &Task, model_urls: Vec<String>) -> Value {
    let artifacts: Vec<&str> =
        task.artifacts.iter().filter(|a| a.mode.as_deref() != Some("input")).filter_map(|a| a.uri.as_deref()).collect();
    json!({"model_urls": model_urls, "event_urls": [], "artifact_urls": artifacts})
}

/// `tasks.reset`: back to Draft, its results cleared. A Draft is one already, a queued task
/// leaves its queue, a running one is stopped first; a published one stays as it is (Runyard
/// never unpublishes).
pub async fn reset(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let id = task_id(body)?;
    let task = load(ctx, id).await?;
    let mut answer = match task.status {
        TaskStatus::Created => {
            ctx.tasks.edit(who, id, EditTask::default()).await?;
            json!({"updated": 0, "fields": {"status": "created"}})
        }
        TaskStatus::Queued => {
            ctx.tasks.act_one(who, id, Action::Dequeue, ActionRequest::default()).await?;
            json!({"updated": 1, "fields": {"status": "created"}, "dequeued": {"removed": 1}})
        }
        status => {
            if status == TaskStatus::InProgress {
                let req = ActionRequest { worker: task.worker.clone(), ..Default::default() };
                ctx.tasks.act_one(who, id, Action::Stopped, req).await?;
            }
            act(ctx, who, Action::Reset, body).await?
        }
    };
    let delete_models = body.get("delete_output_models").and_then(Value::as_bool).unwrap_or(true);
    let (deleted, updated) = crate::models::release_outputs(ctx, id, delete_models).await?;
    answer["deleted_models"] = json!(deleted.len());
    answer["updated_models"] = json!(updated);
    if flag(body, "return_file_urls") {
        answer["urls"] = urls(&task, deleted);
    }
    Ok(answer)
}

/// `tasks.delete`: the task and everything kept for it (archived first, as Runyard deletes from
/// the archive). Without `force`, refused for a task that is not a Draft (or archived), has
/// published children or published output models.
pub async fn delete(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let id = task_id(body)?;
    let task = load(ctx, id).await?;
    let children =
        crate::tasks::get_all(ctx, &json!({"parent": id, "search_hidden": true, "only_fields": ["status"]})).await?;
    let children = children["tasks"].as_array().cloned().unwrap_or_default();
    let published_models = crate::models::outputs_of(ctx, id).await?.iter().filter(|(_, ready)| *ready).count();
    if !flag(body, "force") {
        if task.status != TaskStatus::Created && !task.archived() {
            return Err(cannot_delete(id, &format!("its status is {}", task.status.as_str())));
        }
        if children.iter().any(|c| c["status"] == "published") {
            return Err(cannot_delete(id, "it has published children"));
        }
        if published_models > 0 {
            return Err(cannot_delete(id, "it has published output models"));
        }
    }
    if !task.archived() {
        ctx.tasks.act_one(who, id, Action::Archive, ActionRequest::default()).await?;
    }
    ctx.tasks.act_one(who, id, Action::Delete, ActionRequest::default()).await?;
    let delete_models = body.get("delete_output_models").and_then(Value::as_bool).unwrap_or(true);
    let (deleted, updated) = crate::models::release_outputs(ctx, id, delete_models).await?;
    let mut answer = json!({"deleted": true, "updated_children": children.len(), "updated_models": updated,
                            "deleted_models": deleted.len()});
    if flag(body, "return_file_urls") {
        answer["urls"] = urls(&task, deleted);
    }
    Ok(answer)
}

/// `tasks.validate`: whether a task document would be accepted (its name and type).
pub async fn validate(body: &Value) -> Answer {
    if let Some(kind) = body.get("type").filter(|t| !t.is_null()) {
        let known = kind.as_str().and_then(runyard_api::TaskType::parse).is_some();
        if !known {
            return Err(ClearmlError::validation(format!("Validation error: unknown task type {kind}")));
        }
    }
    if body.get("name").is_some_and(|n| !n.is_string()) {
        return Err(ClearmlError::validation("Validation error: name must be a string"));
    }
    Ok(json!({}))
}
