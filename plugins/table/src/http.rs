//! The table plugin's routes, under `/api/v1/table`. Queries come as the query string of
//! [`TableQuery`], exactly as the UI keeps it in its URL.

use crate::{actions, catalogue, compare, export, query, views};
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use runyard_api::table::*;
use runyard_api::{Action, ActionRequest, ActionResponse, ErrorBody};
use runyard_daemon::error::{Error, Result};
use runyard_daemon::http::extract::{AppJson, AppQuery, Caller};
use runyard_daemon::services::tasks::TaskService;
use runyard_daemon::store::Store;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(paths(
    tasks,
    count,
    catalogue_of,
    values,
    csv,
    selection,
    act,
    list_views,
    create_view,
    update_view,
    delete_view,
    compare_scalars,
    compare_plots,
    compare_params
))]
pub struct TableDoc;

pub fn routes(store: Arc<Store>, tasks_service: TaskService) -> Router {
    let actions = Router::new().route("/table/actions/{action}", post(act)).with_state((store.clone(), tasks_service));
    Router::new()
        .route("/table/tasks", get(tasks))
        .route("/table/count", get(count))
        .route("/table/catalogue", get(catalogue_of))
        .route("/table/values", get(values))
        .route("/table/csv", get(csv))
        .route("/table/selection", get(selection))
        .route("/table/views", get(list_views).post(create_view))
        .route("/table/views/{id}", patch(update_view).delete(delete_view))
        .route("/table/compare/scalars", get(compare_scalars))
        .route("/table/compare/plots", get(compare_plots))
        .route("/table/compare/params", get(compare_params))
        .with_state(store)
        .merge(actions)
}

/// The query in a request's query string; a 400 names the parameter at fault.
pub fn parse(raw: Option<String>) -> Result<TableQuery> {
    TableQuery::from_query_string(raw.as_deref().unwrap_or("")).map_err(|e| Error::invalid(&e.param, e.message))
}

/// A page of the task table: the tasks a query selects, in its order, with its columns.
/// Parameters: `project`, `subprojects`, `group`, `archived`, `search`, `filter` (repeatable),
/// `sort`, `columns`, `ids`, `limit`, `cursor` (see the README's task table section).
#[utoipa::path(get, path = "/api/v1/table/tasks", tag = "table",
    responses((status = 200, body = TablePage), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn tasks(State(store): State<Arc<Store>>, RawQuery(raw): RawQuery) -> Result<Json<TablePage>> {
    Ok(Json(query::page(&store, &parse(raw)?).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
struct Count {
    count: u64,
}

/// How many tasks a query selects (the same parameters as `/table/tasks`).
#[utoipa::path(get, path = "/api/v1/table/count", tag = "table",
    responses((status = 200, body = Count), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn count(State(store): State<Arc<Store>>, RawQuery(raw): RawQuery) -> Result<Json<Count>> {
    let q = parse(raw)?;
    let plan = query::plan(&store, &q, chrono::Utc::now().timestamp_millis()).await?;
    Ok(Json(Count { count: query::count(&store, &plan).await? }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ProjectParams {
    /// A project path or id (default: all projects).
    project: Option<String>,
    /// Include the subprojects (default true).
    subprojects: Option<bool>,
}

/// The metric/variant pairs, hyperparameters and user properties of a project's tasks (with
/// its subprojects): what the column pickers offer.
#[utoipa::path(get, path = "/api/v1/table/catalogue", tag = "table", params(ProjectParams),
    responses((status = 200, body = ColumnCatalogue), (status = 404, body = ErrorBody)))]
async fn catalogue_of(
    State(store): State<Arc<Store>>,
    AppQuery(p): AppQuery<ProjectParams>,
) -> Result<Json<ColumnCatalogue>> {
    Ok(Json(catalogue::catalogue(&store, p.project.as_deref(), p.subprojects.unwrap_or(true)).await?))
}

/// The distinct values of a column (for value-set filters), with how many tasks have each;
/// searchable and paged.
#[utoipa::path(get, path = "/api/v1/table/values", tag = "table", params(ValuesQuery),
    responses((status = 200, body = ColumnValues), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn values(State(store): State<Arc<Store>>, AppQuery(q): AppQuery<ValuesQuery>) -> Result<Json<ColumnValues>> {
    Ok(Json(catalogue::values(&store, &q).await?))
}

/// The rows a query selects (or its `ids`) as CSV: its visible columns in order, every row
/// (streamed), numbers at full precision.
#[utoipa::path(get, path = "/api/v1/table/csv", tag = "table",
    responses((status = 200, content_type = "text/csv", body = String), (status = 400, body = ErrorBody)))]
async fn csv(State(store): State<Arc<Store>>, RawQuery(raw): RawQuery) -> Result<Response> {
    let q = parse(raw)?;
    let name = export::file_name(&store, &q).await?;
    let stream = export::csv(store, &q).await?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// For the tasks a query selects (or its `ids`): how many there are and how many each batch
/// action applies to — a dry run of every action.
#[utoipa::path(get, path = "/api/v1/table/selection", tag = "table",
    responses((status = 200, body = SelectionSummary), (status = 400, body = ErrorBody)))]
async fn selection(State(store): State<Arc<Store>>, RawQuery(raw): RawQuery) -> Result<Json<SelectionSummary>> {
    Ok(Json(actions::summary(&store, &parse(raw)?).await?))
}

/// Apply a batch action to every task the query (in the query string) selects; the body holds
/// the action's parameters (queue, tags, project…) without `ids`. Each task's outcome is
/// reported.
#[utoipa::path(post, path = "/api/v1/table/actions/{action}", tag = "table", params(("action" = Action, Path)),
    request_body = ActionRequest,
    responses((status = 200, body = ActionResponse), (status = 400, body = ErrorBody)))]
async fn act(
    State((store, tasks)): State<(Arc<Store>, TaskService)>,
    Caller(who): Caller,
    Path(action): Path<String>,
    RawQuery(raw): RawQuery,
    AppJson(req): AppJson<ActionRequest>,
) -> Result<Json<ActionResponse>> {
    let action =
        Action::parse(&action).ok_or_else(|| Error::invalid("action", format!("unknown action '{action}'")))?;
    Ok(Json(actions::apply(&store, &tasks, &who, action, &parse(raw)?, req).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ViewsParams {
    /// A project path or id; absent: the views of all projects.
    project: Option<String>,
}

/// The saved views of a project.
#[utoipa::path(get, path = "/api/v1/table/views", tag = "table", params(ViewsParams),
    responses((status = 200, body = Vec<SavedView>), (status = 404, body = ErrorBody)))]
async fn list_views(
    State(store): State<Arc<Store>>,
    AppQuery(p): AppQuery<ViewsParams>,
) -> Result<Json<Vec<SavedView>>> {
    Ok(Json(views::list(&store, p.project.as_deref()).await?))
}

/// Save a table state under a name, for everyone who sees the project.
#[utoipa::path(post, path = "/api/v1/table/views", tag = "table", request_body = SaveView,
    responses((status = 201, body = SavedView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_view(
    State(store): State<Arc<Store>>,
    Caller(who): Caller,
    AppJson(req): AppJson<SaveView>,
) -> Result<(StatusCode, Json<SavedView>)> {
    Ok((StatusCode::CREATED, Json(views::create(&store, &who, &req).await?)))
}

/// Rename a saved view or replace its state (its owner or an admin).
#[utoipa::path(patch, path = "/api/v1/table/views/{id}", tag = "table", params(("id" = String, Path)),
    request_body = UpdateView,
    responses((status = 200, body = SavedView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn update_view(
    State(store): State<Arc<Store>>,
    Caller(who): Caller,
    Path(id): Path<String>,
    AppJson(req): AppJson<UpdateView>,
) -> Result<Json<SavedView>> {
    Ok(Json(views::update(&store, &who, &id, &req).await?))
}

/// Delete a saved view (its owner or an admin).
#[utoipa::path(delete, path = "/api/v1/table/views/{id}", tag = "table", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_view(
    State(store): State<Arc<Store>>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    views::delete(&store, &who, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Scalars of up to 100 tasks (`tasks=…`, or a table query's first 100): a chart per
/// metric/variant with every task's line on one x grid (`x`, `points`, `metric`, `variant`),
/// and the single values as one table.
#[utoipa::path(get, path = "/api/v1/table/compare/scalars", tag = "table",
    responses((status = 200, body = CompareScalars), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn compare_scalars(State(store): State<Arc<Store>>, RawQuery(raw): RawQuery) -> Result<Json<CompareScalars>> {
    let sel = compare::selection(&store, raw.as_deref().unwrap_or("")).await?;
    Ok(Json(compare::scalars(&store, &sel).await?))
}

/// The latest plot of each metric/variant of up to 100 tasks, marked mergeable when every
/// trace is a line, scatter, bar or box.
#[utoipa::path(get, path = "/api/v1/table/compare/plots", tag = "table",
    responses((status = 200, body = ComparePlots), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn compare_plots(State(store): State<Arc<Store>>, RawQuery(raw): RawQuery) -> Result<Json<ComparePlots>> {
    let sel = compare::selection(&store, raw.as_deref().unwrap_or("")).await?;
    Ok(Json(compare::plots(&store, &sel).await?))
}

/// Hyperparameters and configuration of up to 100 tasks side by side, differences marked.
#[utoipa::path(get, path = "/api/v1/table/compare/params", tag = "table",
    responses((status = 200, body = CompareParams), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn compare_params(State(store): State<Arc<Store>>, RawQuery(raw): RawQuery) -> Result<Json<CompareParams>> {
    let sel = compare::selection(&store, raw.as_deref().unwrap_or("")).await?;
    Ok(Json(compare::params(&store, &sel).await?))
}
