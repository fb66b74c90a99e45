//! `/api/v1/ui/*`: the custom actions.

use crate::custom::Actions;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use runyard_api::ui::{CustomAction, CustomActionResult, RunCustomAction};
use runyard_api::ErrorBody;
use runyard_daemon::error::Result;
use runyard_daemon::http::extract::{AppJson, Caller};
use std::sync::Arc;

#[derive(utoipa::OpenApi)]
#[openapi(paths(list, run))]
pub struct Doc;

pub fn routes(actions: Arc<Actions>) -> Router {
    Router::new().route("/ui/actions", get(list)).route("/ui/actions/{name}", post(run)).with_state(actions)
}

/// The custom context-menu actions of the server's configuration.
#[utoipa::path(get, path = "/api/v1/ui/actions", tag = "ui", responses((status = 200, body = Vec<CustomAction>)))]
async fn list(State(actions): State<Arc<Actions>>) -> Json<Vec<CustomAction>> {
    Json(actions.list())
}

/// Issue a custom action for the given tasks (those in a status it applies to).
#[utoipa::path(post, path = "/api/v1/ui/actions/{name}", tag = "ui", params(("name" = String, Path)),
    request_body = RunCustomAction,
    responses((status = 200, body = CustomActionResult), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn run(
    State(actions): State<Arc<Actions>>,
    Caller(who): Caller,
    Path(name): Path<String>,
    AppJson(req): AppJson<RunCustomAction>,
) -> Result<Json<CustomActionResult>> {
    Ok(Json(actions.run(&who, &name, &req.ids).await?))
}
