//! `/api/v1/tasks/{id}/console`: a task's console output.

use super::extract::{AppJson, AppQuery, Caller};
use super::AppState;
use crate::error::Result;
use crate::services::console as service;
use axum::extract::{Path, State};
use axum::Json;
use runyard_api::{AppendConsole, ConsolePage, ConsoleQuery, ErrorBody};

/// Append output to a task's console (agents do this while the task runs).
#[utoipa::path(post, path = "/api/v1/tasks/{id}/console", tag = "console", params(("id" = String, Path)),
    request_body = AppendConsole,
    responses((status = 200, description = "The chunk's id: {\"id\": n}"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn append(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    AppJson(req): AppJson<AppendConsole>,
) -> Result<Json<serde_json::Value>> {
    let chunk = service::append(&s.store, &who, &id, req).await?;
    Ok(Json(serde_json::json!({ "id": chunk })))
}

/// Read a task's console from a point on; with `wait_seconds`, wait for new output.
#[utoipa::path(get, path = "/api/v1/tasks/{id}/console", tag = "console", params(("id" = String, Path), ConsoleQuery),
    responses((status = 200, body = ConsolePage), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn read(
    State(s): State<AppState>,
    Path(id): Path<String>,
    AppQuery(mut q): AppQuery<ConsoleQuery>,
) -> Result<Json<ConsolePage>> {
    q.wait_seconds = q.wait_seconds.map(|w| super::open::bounded_wait(w, s.longest_wait));
    Ok(Json(service::read(&s.store, &id, q).await?))
}
