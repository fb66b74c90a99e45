//! `/api/v1/queues`: queue management and dispatch.

use super::extract::{AppJson, AppQuery, Caller};
use super::AppState;
use crate::error::Result;
use crate::services::fleet;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use runyard_api::{
    Action, ActionOutcome, ActionRequest, CreateQueue, DeleteQueueQuery, ErrorBody, History, HistoryQuery, MoveEntry,
    PopRequest, PopResponse, Queue, QueueDetail, RenameQueue,
};
use serde_json::{json, Value};

/// Queues with their length, listening workers and oldest entry.
#[utoipa::path(get, path = "/api/v1/queues", tag = "queues", responses((status = 200, body = Vec<Queue>)))]
pub async fn list(State(s): State<AppState>) -> Result<Json<Vec<Queue>>> {
    Ok(Json(s.store.list_queues().await?))
}

#[utoipa::path(post, path = "/api/v1/queues", tag = "queues", request_body = CreateQueue,
    responses((status = 201, body = Queue), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    Caller(who): Caller,
    AppJson(req): AppJson<CreateQueue>,
) -> Result<(StatusCode, Json<Queue>)> {
    Ok((StatusCode::CREATED, Json(fleet::create_queue(&s.store, &who, req.name.trim()).await?)))
}

/// A queue (by name or id) and its entries in dispatch order.
#[utoipa::path(get, path = "/api/v1/queues/{queue}", tag = "queues", params(("queue" = String, Path)),
    responses((status = 200, body = QueueDetail), (status = 404, body = ErrorBody)))]
pub async fn show(State(s): State<AppState>, Path(queue): Path<String>) -> Result<Json<QueueDetail>> {
    Ok(Json(s.store.queue_detail(&queue).await?))
}

#[utoipa::path(patch, path = "/api/v1/queues/{queue}", tag = "queues", params(("queue" = String, Path)),
    request_body = RenameQueue,
    responses((status = 200, body = Queue), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn rename(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(queue): Path<String>,
    AppJson(req): AppJson<RenameQueue>,
) -> Result<Json<Queue>> {
    Ok(Json(fleet::rename_queue(&s.store, &who, &queue, req.name.trim()).await?))
}

/// Delete a queue. One that holds tasks is refused (409) unless `force`: then they go back to Draft.
#[utoipa::path(delete, path = "/api/v1/queues/{queue}", tag = "queues", params(("queue" = String, Path), DeleteQueueQuery),
    responses((status = 200, description = "deleted; `returned_to_draft` lists the tasks it held"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(queue): Path<String>,
    AppQuery(q): AppQuery<DeleteQueueQuery>,
) -> Result<Json<Value>> {
    let returned = s.tasks.delete_queue(&who, &queue, q.force).await?;
    Ok(Json(json!({ "deleted": queue, "returned_to_draft": returned })))
}

/// Move a waiting task to the top, the bottom, a position, or before/after another task.
#[utoipa::path(post, path = "/api/v1/queues/{queue}/entries/{task}/move", tag = "queues",
    params(("queue" = String, Path), ("task" = String, Path)), request_body = MoveEntry,
    responses((status = 200, body = QueueDetail), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn move_entry(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path((queue, task)): Path<(String, String)>,
    AppJson(to): AppJson<MoveEntry>,
) -> Result<Json<QueueDetail>> {
    Ok(Json(fleet::move_entry(&s.store, &who, &queue, &task, &to).await?))
}

/// Take a task out of the queue (Pending -> Draft).
#[utoipa::path(delete, path = "/api/v1/queues/{queue}/entries/{task}", tag = "queues",
    params(("queue" = String, Path), ("task" = String, Path)),
    responses((status = 200, body = ActionOutcome), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn remove_entry(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path((queue, task)): Path<(String, String)>,
) -> Result<Json<ActionOutcome>> {
    if !s.store.is_waiting_in(&queue, &task).await? {
        return Err(crate::error::Error::not_found("queue entry", format!("{queue}/{task}")));
    }
    Ok(Json(s.tasks.act_one(&who, &task, Action::Dequeue, ActionRequest::default()).await?))
}

/// A queue's length and oldest wait over time (avg/min/max per interval).
#[utoipa::path(get, path = "/api/v1/queues/{queue}/history", tag = "queues", params(("queue" = String, Path), HistoryQuery),
    responses((status = 200, body = History), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn history(
    State(s): State<AppState>,
    Path(queue): Path<String>,
    AppQuery(q): AppQuery<HistoryQuery>,
) -> Result<Json<History>> {
    let id = s.store.resolve_queues(std::slice::from_ref(&queue)).await?.remove(0).0;
    Ok(Json(super::workers::read_history(&s, &format!("queue:{id}"), q).await?))
}

/// An agent asks for its next task from its queues (in priority order), waiting up to
/// `wait_seconds`; it is answered the instant a task is queued.
#[utoipa::path(post, path = "/api/v1/queues/pop", tag = "dispatch", request_body = PopRequest,
    responses((status = 200, body = PopResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn pop(
    State(s): State<AppState>,
    Caller(who): Caller,
    AppJson(mut req): AppJson<PopRequest>,
) -> Result<Json<PopResponse>> {
    req.wait_seconds = super::open::bounded_wait(req.wait_seconds, s.longest_wait);
    // A long-poll holds one of its identity's places while it waits.
    let _waiting = (req.wait_seconds > 0.0)
        .then(|| s.open.take(&who.user_id, "long-polls", super::open::MAX_LONG_POLLS))
        .transpose()?;
    Ok(Json(s.dispatcher.pop(&who, req).await?))
}
