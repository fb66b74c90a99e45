//! `/api/v1/workers`: agents register, report, drain and leave.

use super::extract::{AppJson, AppQuery, Caller};
use super::AppState;
use crate::error::{Error, Result};
use crate::services::fleet;
use axum::extract::{Path, State};
use axum::Json;
use runyard_api::{ErrorBody, History, HistoryQuery, RegisterWorker, ReportAnswer, Worker, WorkerReport};
use serde_json::{json, Value};

/// Longest a worker may stay silent before it is dropped: a week.
const MAX_TIMEOUT_SECONDS: u64 = runyard_api::rules::MAX_WORKER_TIMEOUT_SECONDS;

/// Register (or re-register) a worker.
#[utoipa::path(post, path = "/api/v1/workers", tag = "workers", request_body = RegisterWorker,
    responses((status = 200, body = Worker), (status = 400, body = ErrorBody)))]
pub async fn register(
    State(s): State<AppState>,
    Caller(who): Caller,
    AppJson(req): AppJson<RegisterWorker>,
) -> Result<Json<Worker>> {
    runyard_api::rules::WORKER_ID.check(&req.id).map_err(|m| Error::invalid("id", m))?;
    if req.queues.is_empty() {
        return Err(Error::invalid("queues", "a worker listens to at least one queue"));
    }
    s.store.resolve_queues(&req.queues).await?;
    if req.timeout_seconds.is_some_and(|t| !(1..=MAX_TIMEOUT_SECONDS).contains(&t)) {
        return Err(Error::invalid("timeout_seconds", format!("must be between 1 and {MAX_TIMEOUT_SECONDS}")));
    }
    Ok(Json(fleet::register_worker(&s.store, &who, &req).await?))
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
    Caller(who): Caller,
    Path(id): Path<String>,
    AppJson(r): AppJson<WorkerReport>,
) -> Result<Json<ReportAnswer>> {
    let (drain, abort) = fleet::report_worker(&s.store, &who, &id, &r).await?;
    s.store.record_history(&format!("worker:{id}"), &report_samples(&r), crate::store::now_ms()).await?;
    Ok(Json(ReportAnswer { drain, abort }))
}

/// The series a report adds to the worker's history.
fn report_samples(r: &WorkerReport) -> Vec<(String, f64)> {
    let mut out = vec![
        ("cpu_percent".to_string(), r.cpu_percent),
        ("memory_used_bytes".to_string(), r.memory_used_bytes as f64),
        ("disk_used_bytes".to_string(), r.disk_used_bytes as f64),
        ("network_rx_bytes_per_second".to_string(), r.network_rx_bytes_per_second),
        ("network_tx_bytes_per_second".to_string(), r.network_tx_bytes_per_second),
        (crate::store::history::RUNNING.to_string(), if r.task.is_some() { 1.0 } else { 0.0 }),
    ];
    for g in &r.gpus {
        out.push((format!("gpu{}_utilization_percent", g.index), g.utilization_percent));
        out.push((format!("gpu{}_memory_used_bytes", g.index), g.memory_used_bytes as f64));
        out.push((format!("gpu{}_temperature_celsius", g.index), g.temperature_celsius));
    }
    out
}

/// A worker's resource use over time (avg/min/max per interval).
#[utoipa::path(get, path = "/api/v1/workers/{id}/history", tag = "workers", params(("id" = String, Path), HistoryQuery),
    responses((status = 200, body = History), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn history(
    State(s): State<AppState>,
    Path(id): Path<String>,
    AppQuery(q): AppQuery<HistoryQuery>,
) -> Result<Json<History>> {
    Ok(Json(read_history(&s, &format!("worker:{id}"), q).await?))
}

/// Reads a subject's history for a query, with its defaults (the last hour, 120 points).
pub(super) async fn read_history(s: &AppState, subject: &str, q: HistoryQuery) -> Result<History> {
    let to = q.to.map(|t| t.timestamp_millis()).unwrap_or_else(crate::store::now_ms);
    let from = q.from.map(|t| t.timestamp_millis()).unwrap_or(to - 3600 * 1000);
    let interval = match q.interval_seconds {
        Some(i) if i > 365 * 24 * 3600 => {
            return Err(Error::invalid("interval_seconds", "must be at most a year (31536000)"));
        }
        Some(i) => i as i64,
        None => ((to - from) / 1000 / 120).max(10),
    };
    let metrics: Vec<String> =
        q.metrics.as_deref().unwrap_or("").split(',').filter(|m| !m.is_empty()).map(str::to_string).collect();
    s.store.history(subject, &metrics, from, to, interval).await
}

/// Let the worker finish its current task, then pull nothing more.
#[utoipa::path(post, path = "/api/v1/workers/{id}/drain", tag = "workers", params(("id" = String, Path)),
    responses((status = 200, body = Worker), (status = 404, body = ErrorBody)))]
pub async fn drain(State(s): State<AppState>, Caller(who): Caller, Path(id): Path<String>) -> Result<Json<Worker>> {
    Ok(Json(fleet::set_drained(&s.store, &who, &id, true).await?))
}

#[utoipa::path(post, path = "/api/v1/workers/{id}/undrain", tag = "workers", params(("id" = String, Path)),
    responses((status = 200, body = Worker), (status = 404, body = ErrorBody)))]
pub async fn undrain(State(s): State<AppState>, Caller(who): Caller, Path(id): Path<String>) -> Result<Json<Worker>> {
    Ok(Json(fleet::set_drained(&s.store, &who, &id, false).await?))
}

/// A worker leaves; tasks it was handed but never started go back to their queues.
#[utoipa::path(delete, path = "/api/v1/workers/{id}", tag = "workers", params(("id" = String, Path)),
    responses((status = 200, description = "unregistered"), (status = 404, body = ErrorBody)))]
pub async fn unregister(State(s): State<AppState>, Caller(who): Caller, Path(id): Path<String>) -> Result<Json<Value>> {
    fleet::unregister_worker(&s.store, &who, &id).await?;
    Ok(Json(json!({ "unregistered": id })))
}
