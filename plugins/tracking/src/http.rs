//! The tracking plugin's routes, under `/api/v1`.

use crate::files::Files;
use crate::{ingest, reads};
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use runyard_api::tracking::*;
use runyard_api::ErrorBody;
use runyard_daemon::error::Result;
use runyard_daemon::http::extract::{AppJson, AppQuery, Caller};
use runyard_daemon::store::Store;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::sync::Arc;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(paths(
    batch,
    task_metrics,
    project_metrics,
    scalars,
    raw_scalars,
    single_values,
    plots,
    samples,
    upload,
    download
))]
pub struct TrackingDoc;

pub fn routes(store: Arc<Store>, files: Arc<Files>) -> Router {
    let file_routes = Router::new()
        // Uploads stream to their destination: no whole-body limit.
        .route("/tasks/{id}/files/{*name}", put(upload).layer(DefaultBodyLimit::disable()))
        .route("/files/{*path}", get(download))
        .with_state(files);
    Router::new()
        .route("/events/batch", post(batch))
        .route("/tasks/{id}/metrics", get(task_metrics))
        .route("/tasks/{id}/scalars/raw", get(raw_scalars))
        .route("/tasks/{id}/samples", get(samples))
        .route("/projects/{id}/metrics", get(project_metrics))
        .route("/scalars", get(scalars))
        .route("/single-values", get(single_values))
        .route("/plots", get(plots))
        .with_state(store)
        .merge(file_routes)
}

/// The batch as it arrives: each event is parsed on its own, so one bad event is reported
/// without failing the rest.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBatch {
    events: Vec<Box<RawValue>>,
}

/// Store a batch of events (scalars, single values, plots, log lines, debug samples) of any
/// tasks, in one transaction. Rejected events are listed with their reason; the rest is stored.
#[utoipa::path(post, path = "/api/v1/events/batch", tag = "tracking", request_body = EventBatch,
    responses((status = 200, body = BatchResult), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody)))]
async fn batch(
    State(store): State<Arc<Store>>,
    Caller(who): Caller,
    AppJson(batch): AppJson<RawBatch>,
) -> Result<Json<BatchResult>> {
    Ok(Json(ingest::ingest(&store, &who, &batch.events).await?))
}

/// A task's metrics: scalar summaries (last/min/max/first/count), single values, and the
/// metric/variants with plots and debug samples.
#[utoipa::path(get, path = "/api/v1/tasks/{id}/metrics", tag = "tracking", params(("id" = String, Path)),
    responses((status = 200, body = TaskMetrics), (status = 404, body = ErrorBody)))]
async fn task_metrics(State(store): State<Arc<Store>>, Path(id): Path<String>) -> Result<Json<TaskMetrics>> {
    Ok(Json(reads::task_metrics(&store, &id).await?))
}

/// The metrics reported in a project and its subprojects.
#[utoipa::path(get, path = "/api/v1/projects/{id}/metrics", tag = "tracking", params(("id" = String, Path)),
    responses((status = 200, body = MetricCatalogue), (status = 404, body = ErrorBody)))]
async fn project_metrics(State(store): State<Arc<Store>>, Path(id): Path<String>) -> Result<Json<MetricCatalogue>> {
    Ok(Json(reads::project_metrics(&store, &id).await?))
}

/// Scalar series of up to 100 tasks, downsampled to a point budget (min and max of each bucket).
#[utoipa::path(get, path = "/api/v1/scalars", tag = "tracking", params(ScalarQuery),
    responses((status = 200, body = ScalarSeries), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn scalars(State(store): State<Arc<Store>>, AppQuery(q): AppQuery<ScalarQuery>) -> Result<Json<ScalarSeries>> {
    Ok(Json(reads::scalars(&store, q).await?))
}

/// One series at full resolution, a page at a time.
#[utoipa::path(get, path = "/api/v1/tasks/{id}/scalars/raw", tag = "tracking", params(("id" = String, Path), RawScalarQuery),
    responses((status = 200, body = RawScalars), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn raw_scalars(
    State(store): State<Arc<Store>>,
    Path(id): Path<String>,
    AppQuery(q): AppQuery<RawScalarQuery>,
) -> Result<Json<RawScalars>> {
    Ok(Json(reads::raw(&store, &id, q).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct TasksQuery {
    /// Task ids, comma-separated.
    /// Comma-separated task ids (at most 100).
    tasks: String,
}

/// Single values of up to 100 tasks, by task.
#[utoipa::path(get, path = "/api/v1/single-values", tag = "tracking", params(TasksQuery),
    responses((status = 200, body = BTreeMap<String, Vec<SingleValue>>), (status = 404, body = ErrorBody)))]
async fn single_values(
    State(store): State<Arc<Store>>,
    AppQuery(q): AppQuery<TasksQuery>,
) -> Result<Json<BTreeMap<String, Vec<SingleValue>>>> {
    Ok(Json(reads::single_values(&store, &q.tasks).await?))
}

/// Plots of up to 100 tasks: the last iteration of each metric/variant, or all.
#[utoipa::path(get, path = "/api/v1/plots", tag = "tracking", params(PlotQuery),
    responses((status = 200, body = Vec<Plot>), (status = 404, body = ErrorBody)))]
async fn plots(State(store): State<Arc<Store>>, AppQuery(q): AppQuery<PlotQuery>) -> Result<Json<Vec<Plot>>> {
    Ok(Json(reads::plots(&store, q).await?))
}

/// A task's debug samples.
#[utoipa::path(get, path = "/api/v1/tasks/{id}/samples", tag = "tracking", params(("id" = String, Path), SampleQuery),
    responses((status = 200, body = Vec<Sample>), (status = 404, body = ErrorBody)))]
async fn samples(
    State(store): State<Arc<Store>>,
    Path(id): Path<String>,
    AppQuery(q): AppQuery<SampleQuery>,
) -> Result<Json<Vec<Sample>>> {
    Ok(Json(reads::samples(&store, &id, q).await?))
}

/// Upload a file of a task (an artifact, a model, a debug sample) to the task's output
/// destination, at `<project>/<task>/<name>`. The answer gives the URI to record.
#[utoipa::path(put, path = "/api/v1/tasks/{id}/files/{name}", tag = "files",
    params(("id" = String, Path), ("name" = String, Path, description = "The file's path inside the task's folder")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = StoredFile), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn upload(
    State(files): State<Arc<Files>>,
    Caller(who): Caller,
    Path((id, name)): Path<(String, String)>,
    body: Body,
) -> Result<Json<StoredFile>> {
    if !runyard_api::is_valid_id(&id) {
        return Err(runyard_daemon::error::Error::not_found("task", id));
    }
    Ok(Json(files.put(&who, &id, &name, body.into_data_stream()).await?))
}

/// Download a file of the daemon's file store.
#[utoipa::path(get, path = "/api/v1/files/{path}", tag = "files", params(("path" = String, Path)),
    responses((status = 200, content_type = "application/octet-stream"), (status = 404, body = ErrorBody)))]
async fn download(State(files): State<Arc<Files>>, Path(path): Path<String>) -> Result<Response> {
    Ok(file_response(files.get(&path).await?))
}

/// A stored file as a response body, streamed.
pub fn file_response<S>((size, stream): (u64, S)) -> Response
where
    S: futures::Stream<Item = object_store::Result<bytes::Bytes>> + Send + 'static,
{
    (
        [(header::CONTENT_TYPE, "application/octet-stream".to_string()), (header::CONTENT_LENGTH, size.to_string())],
        Body::from_stream(stream),
    )
        .into_response()
}
