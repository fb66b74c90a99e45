//! `tasks.*` lifecycle calls: ClearML's status changes as Runyard's actions, each under the
//! daemon's transition rules; a task already in the status asked for succeeds unchanged.

use crate::document::text_of;
use crate::envelope::{flag, str_list, Answer, ClearmlError};
use crate::lookup::{task as load, task_id};
use crate::Ctx;
use runyard_api::{Action, ActionRequest, TaskStatus};
use runyard_daemon::store::Principal;
use serde_json::{json, Value};

/// The request's `status_reason` and `status_message`, as an action's request.
fn noted(body: &Value) -> ActionRequest {
    ActionRequest {
        reason: body.get("status_reason").and_then(text_of).filter(|s| !s.is_empty()),
        message: body.get("status_message").and_then(text_of).filter(|s| !s.is_empty()),
        ..Default::default()
    }
}

/// A lifecycle action; moving a task to the status it already has succeeds (the SDK and the
/// agent both do it).
pub async fn act(ctx: &Ctx, who: &Principal, action: Action, body: &Value) -> Answer {
    act_as(ctx, who, action, body, None).await
}

/// `tasks.stopped`: a running task's agent reports it stopped. With `force` (what the SDK sends
/// after closing a run it hands over to an agent), a finished task is reset for its run there
/// and a Draft stays one; a Published task stays as it is.
pub async fn stopped(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let id = task_id(body)?;
    let task = load(ctx, id).await?;
    match task.status {
        TaskStatus::Completed | TaskStatus::Failed if flag(body, "force") => {
            ctx.tasks.act_one(who, id, Action::Reset, ActionRequest::default()).await?;
            Ok(json!({"updated": 1, "fields": {"status": "created"}}))
        }
        TaskStatus::Created if flag(body, "force") => Ok(json!({"updated": 0, "fields": {"status": "created"}})),
        _ => act(ctx, who, Action::Stopped, body).await,
    }
}

/// [`act`] on behalf of a worker: a task leased to it (popped from a queue) can be started only
/// by it.
pub async fn act_as(ctx: &Ctx, who: &Principal, action: Action, body: &Value, worker: Option<String>) -> Answer {
    let id = task_id(body)?;
    let task = load(ctx, id).await?;
    let same = matches!(
        (action, task.status),
        (Action::Started, TaskStatus::InProgress)
            | (Action::Completed, TaskStatus::Completed)
            | (Action::Failed, TaskStatus::Failed)
            | (Action::Stopped, TaskStatus::Stopped)
    );
    if same {
        return Ok(json!({"updated": 0, "fields": {"status": task.status.as_str()}}));
    }
    let req = ActionRequest { worker: worker.or_else(|| task.worker.clone()), ..noted(body) };
    let outcome = ctx.tasks.act_one(who, id, action, req).await?;
    let status = outcome.status.map(TaskStatus::as_str);
    Ok(json!({"updated": 1, "fields": {"status": status}}))
}

/// `tasks.completed`: the task completes, and with `publish` is published too.
pub async fn completed(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let mut answer = act(ctx, who, Action::Completed, body).await?;
    answer["published"] = json!(0);
    if flag(body, "publish") {
        if let Some(published) = crate::models::publish_task(ctx, who, task_id(body)?, false, true).await? {
            answer["fields"] = published["fields"].clone();
            answer["updated"] = json!(1);
            answer["published"] = json!(1);
        }
    }
    Ok(answer)
}

/// `tasks.publish`: the task and (unless `publish_model` is false) its last output model.
pub async fn publish_one(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let id = task_id(body)?;
    let with_model = body.get("publish_model").and_then(Value::as_bool).unwrap_or(true);
    let answer = crate::models::publish_task(ctx, who, id, flag(body, "force"), with_model).await?;
    Ok(answer.unwrap_or_else(|| json!({"updated": 0, "fields": {"status": "published"}})))
}

/// `tasks.stop`: a running task is asked to stop (`status_message: "stopping"`, which the SDK
/// and agents watch for); any other stops at once.
pub async fn stop(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    act(ctx, who, Action::Abort, body).await
}

/// `tasks.enqueue`: into the queue given by id (or name), or the default queue.
pub async fn enqueue(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let id = task_id(body)?;
    load(ctx, id).await?;
    let queue =
        body.get("queue").or_else(|| body.get("queue_name")).and_then(Value::as_str).unwrap_or("default").to_string();
    let req = ActionRequest { queue: Some(queue), ..Default::default() };
    ctx.tasks.act_one(who, id, Action::Enqueue, req).await?;
    Ok(json!({"queued": 1, "updated": 1, "fields": {"status": "queued"}}))
}

/// `tasks.dequeue`: back to Draft (a task already taken off its queue keeps its status).
pub async fn dequeue(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let id = task_id(body)?;
    let task = load(ctx, id).await?;
    if task.status != TaskStatus::Queued {
        return Ok(json!({"dequeued": 0, "updated": 0}));
    }
    ctx.tasks.act_one(who, id, Action::Dequeue, ActionRequest::default()).await?;
    Ok(json!({"dequeued": 1, "updated": 1, "fields": {"status": "created"}}))
}

/// `tasks.*_many`: one action on many tasks in one transaction; each task that the action is
/// not valid for is listed in `failed` with the reason.
pub async fn many(ctx: &Ctx, who: &Principal, action: Action, body: &Value) -> Answer {
    let ids = str_list(body, "ids")?
        .filter(|ids| !ids.is_empty())
        .ok_or_else(|| ClearmlError::validation("Validation error: missing required field 'ids'"))?;
    if action == Action::Delete {
        // ClearML deletes without archiving first; Runyard deletes from the archive.
        // Tasks archived already are skipped by the archive and deleted all the same.
        let archive = ActionRequest { ids: ids.clone(), ..Default::default() };
        ctx.tasks.act(who, Action::Archive, archive).await?;
    }
    let queue = body.get("queue").and_then(Value::as_str).or((action == Action::Enqueue).then_some("default"));
    let req = ActionRequest { ids, queue: queue.map(str::to_string), ..noted(body) };
    let response = ctx.tasks.act(who, action, req).await?;
    let (mut succeeded, mut failed) = (Vec::new(), Vec::new());
    for r in response.results {
        if r.ok {
            succeeded.push(json!({"id": r.id, "updated": 1, "fields": {"status": r.status.map(TaskStatus::as_str)}}));
        } else {
            let msg = r.error.unwrap_or_default();
            failed.push(json!({"id": r.id, "error": {"codes": [400, 110], "msg": msg, "data": {}}}));
        }
    }
    Ok(json!({"succeeded": succeeded, "failed": failed}))
}

/// `tasks.archive`: archives the tasks listed in `tasks` (those archived already count too),
/// each under its own rules: a refusal names the task and why.
pub async fn archive(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let ids = str_list(body, "tasks")?
        .filter(|ids| !ids.is_empty())
        .ok_or_else(|| ClearmlError::validation("Validation error: missing required field 'tasks'"))?;
    for id in &ids {
        if !load(ctx, id).await?.archived() {
            ctx.tasks.act_one(who, id, Action::Archive, noted(body)).await?;
        }
    }
    Ok(json!({"archived": ids.len()}))
}
