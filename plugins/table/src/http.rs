//! The table plugin's routes, under `/api/v1/table`. Queries come as the query string of
//! [`TableQuery`], exactly as the UI keeps it in its URL.

use crate::query;
use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use runyard_api::table::{TablePage, TableQuery};
use runyard_api::ErrorBody;
use runyard_daemon::error::{Error, Result};
use runyard_daemon::store::Store;
use serde::Serialize;
use std::sync::Arc;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(paths(tasks, count))]
pub struct TableDoc;

pub fn routes(store: Arc<Store>) -> Router {
    Router::new().route("/table/tasks", get(tasks)).route("/table/count", get(count)).with_state(store)
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
