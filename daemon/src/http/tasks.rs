//! `/api/v1/tasks`: create, read, list, edit and act.

use super::extract::{AppJson, AppQuery, Caller};
use super::AppState;
use crate::error::{Error, Result};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use runyard_api::{
    Action, ActionOutcome, ActionRequest, ActionResponse, CreateTask, EditTask, ErrorBody, Task, TaskList, TaskQuery,
};

fn parse_action(name: &str) -> Result<Action> {
    Action::parse(name).ok_or_else(|| {
        let known = runyard_api::Action::ALL.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ");
        Error::invalid("action", format!("unknown action '{name}' (known: {known})"))
    })
}

/// Create a task: a Draft, or Pending at once when `queue` is given.
#[utoipa::path(post, path = "/api/v1/tasks", tag = "tasks", request_body = CreateTask,
    responses((status = 201, body = Task), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    Caller(who): Caller,
    AppJson(req): AppJson<CreateTask>,
) -> Result<(StatusCode, Json<Task>)> {
    let job = s.tasks.prepare_create(&who, req)?;
    Ok((StatusCode::CREATED, Json(s.tasks.create(job).await?)))
}

/// List tasks, newest first.
#[utoipa::path(get, path = "/api/v1/tasks", tag = "tasks", params(TaskQuery),
    responses((status = 200, body = TaskList), (status = 400, body = ErrorBody)))]
pub async fn list(State(s): State<AppState>, AppQuery(q): AppQuery<TaskQuery>) -> Result<Json<TaskList>> {
    let (tasks, total) = s.tasks.list(q).await?;
    Ok(Json(TaskList { tasks, total }))
}

/// Read one task.
#[utoipa::path(get, path = "/api/v1/tasks/{id}", tag = "tasks", params(("id" = String, Path)),
    responses((status = 200, body = Task), (status = 404, body = ErrorBody)))]
pub async fn get(State(s): State<AppState>, Path(id): Path<String>) -> Result<Json<Task>> {
    Ok(Json(s.tasks.get(&id).await?))
}

/// Edit a task: name, comment and tags in any status; everything else on Drafts only.
#[utoipa::path(patch, path = "/api/v1/tasks/{id}", tag = "tasks", params(("id" = String, Path)), request_body = EditTask,
    responses((status = 200, body = Task), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn edit(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    AppJson(req): AppJson<EditTask>,
) -> Result<Json<Task>> {
    Ok(Json(s.tasks.edit(&who, &id, req).await?))
}

/// The token a task's process runs with: its owner's rights, its reports on its own task good
/// only while the attempt is the current one. For the agent whose worker holds the task.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/token", tag = "tasks", params(("id" = String, Path)),
    request_body = runyard_api::TaskTokenRequest,
    responses((status = 200, body = runyard_api::Token), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn token(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    AppJson(req): AppJson<runyard_api::TaskTokenRequest>,
) -> Result<Json<runyard_api::Token>> {
    let process = s.tasks.process_identity(&who, &id, req.attempt).await?;
    Ok(Json(s.auth.issue(&process, crate::auth::DEFAULT_TOKEN_TTL_SECONDS).await?))
}

/// Register artifacts and models of a task (upserted by name); not on Published tasks.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/outputs", tag = "tasks", params(("id" = String, Path)),
    request_body = runyard_api::RegisterOutputs,
    responses((status = 200, body = Task), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn outputs(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    AppJson(req): AppJson<runyard_api::RegisterOutputs>,
) -> Result<Json<Task>> {
    Ok(Json(s.tasks.register_outputs(&who, &id, req).await?))
}

/// Apply an action to many tasks. Tasks the action is not valid for are skipped and reported.
#[utoipa::path(post, path = "/api/v1/tasks/actions/{action}", tag = "tasks",
    params(("action" = Action, Path, description = "enqueue, dequeue, reset, abort, abort_children, retry, publish, archive, restore, delete, add_tag, remove_tag, clone, move, started, completed, failed, stopped, ping")),
    request_body = ActionRequest,
    responses((status = 200, body = ActionResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn batch(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(action): Path<String>,
    AppJson(req): AppJson<ActionRequest>,
) -> Result<Json<ActionResponse>> {
    let action = parse_action(&action)?;
    Ok(Json(s.tasks.act(&who, action, req).await?))
}

/// Apply an action to one task; an action not valid in its status is a 409 naming the valid states.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/{action}", tag = "tasks",
    params(("id" = String, Path), ("action" = Action, Path)),
    request_body = ActionRequest,
    responses((status = 200, body = ActionOutcome), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn act(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path((id, action)): Path<(String, String)>,
    AppJson(req): AppJson<ActionRequest>,
) -> Result<Json<ActionOutcome>> {
    let action = parse_action(&action)?;
    if !req.ids.is_empty() {
        return Err(Error::invalid("ids", "the task is in the path; use /api/v1/tasks/actions/{action} for a batch"));
    }
    Ok(Json(s.tasks.report(&who, &id, action, req).await?))
}
