//! `/api/v1/workers`: agents register, report, drain and leave.

use super::extract::AppJson;
use super::AppState;
use crate::error::{Error, Result};
use axum::extract::{Path, State};
use axum::Json;
use runyard_api::{ErrorBody, RegisterWorker, ReportAnswer, Worker, WorkerReport};
use serde_json::{json, Value};

/// Register (or re-register) a worker.
#[utoipa::path(post, path = "/api/v1/workers", tag = "workers", request_body = RegisterWorker,
    responses((status = 200, body = Worker), (status = 400, body = ErrorBody)))]
pub async fn register(State(s): State<AppState>, AppJson(req): AppJson<RegisterWorker>) -> Result<Json<Worker>> {
    if req.id.trim().is_empty() || req.id.len() > 255 || req.id.chars().any(|c| c.is_control() || c == '/') {
        return Err(Error::invalid("id", "must be 1 to 255 characters without '/' or control characters"));
    }
    if req.queues.is_empty() {
        return Err(Error::invalid("queues", "a worker listens to at least one queue"));
    }
    s.store.resolve_queues(&req.queues).await?;
    if req.timeout_seconds == Some(0) {
        return Err(Error::invalid("timeout_seconds", "must be at least 1"));
    }
    Ok(Json(s.store.register_worker(&req).await?))
}

#[utoipa::path(get, path = "/api/v1/workers", tag = "workers", responses((status = 200, body = Vec<Worker>)))]
pub async fn list(State(s): State<AppState>) -> Result<Json<Vec<Worker>>> {
    Ok(Json(s.store.list_workers().await?))
}

#[utoipa::path(get, path = "/api/v1/workers/{id}", tag = "workers", params(("id" = String, Path)),
    responses((status = 200, body = Worker), (status = 404, body = ErrorBody)))]
pub async fn show(State(s): State<AppState>, Path(id): Path<String>) -> Result<Json<Worker>> {
    Ok(Json(s.store.worker(&id).await?))
}

/// A worker's periodic status; the answer says whether to drain and which tasks to abort.
#[utoipa::path(post, path = "/api/v1/workers/{id}/report", tag = "workers", params(("id" = String, Path)),
    request_body = WorkerReport,
    responses((status = 200, body = ReportAnswer), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn report(
    State(s): State<AppState>,
    Path(id): Path<String>,
    AppJson(r): AppJson<WorkerReport>,
) -> Result<Json<ReportAnswer>> {
    let (drain, abort) = s.store.report_worker(&id, &r).await?;
    Ok(Json(ReportAnswer { drain, abort }))
}

/// Let the worker finish its current task, then pull nothing more.
#[utoipa::path(post, path = "/api/v1/workers/{id}/drain", tag = "workers", params(("id" = String, Path)),
    responses((status = 200, body = Worker), (status = 404, body = ErrorBody)))]
pub async fn drain(State(s): State<AppState>, Path(id): Path<String>) -> Result<Json<Worker>> {
    Ok(Json(s.store.set_drained(&id, true).await?))
}

#[utoipa::path(post, path = "/api/v1/workers/{id}/undrain", tag = "workers", params(("id" = String, Path)),
    responses((status = 200, body = Worker), (status = 404, body = ErrorBody)))]
pub async fn undrain(State(s): State<AppState>, Path(id): Path<String>) -> Result<Json<Worker>> {
    Ok(Json(s.store.set_drained(&id, false).await?))
}

/// A worker leaves; tasks it was handed but never started go back to their queues.
#[utoipa::path(delete, path = "/api/v1/workers/{id}", tag = "workers", params(("id" = String, Path)),
    responses((status = 200, description = "unregistered"), (status = 404, body = ErrorBody)))]
pub async fn unregister(State(s): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>> {
    s.store.unregister_worker(&id).await?;
    Ok(Json(json!({ "unregistered": id })))
}
