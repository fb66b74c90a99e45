//! ClearML's files server under `/files`: multipart uploads to the root, each part stored at the
//! path its field names (`/<project>/<task name>.<task id>/artifacts/…`), downloads and deletes
//! by path. Files land in Runyard's file store, recorded for the task the path names (so a reset
//! or delete of the task removes them), else for the task of a task's own process, else for the
//! uploader; only their holder or an admin writes over or removes them.

use crate::Ctx;
use axum::extract::{Multipart, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::TryStreamExt;
use runyard_daemon::store::Principal;
use serde_json::{json, Map, Value};

/// The files server under `/files` on the daemon's port.
pub fn routes() -> Router<Ctx> {
    Router::new()
        .route("/files", post(upload).get(alive))
        .route("/files/", post(upload).get(alive))
        .route("/files/{*path}", get(download).delete(remove).post(upload_at))
        .layer(axum::extract::DefaultBodyLimit::disable())
}

/// The files server at the root, for ClearML's own files port.
pub fn root_routes() -> Router<Ctx> {
    Router::new()
        .route("/", post(upload).get(alive))
        .route("/{*path}", get(download).delete(remove).post(upload_at))
        .layer(axum::extract::DefaultBodyLimit::disable())
}

/// The task a ClearML file path belongs to: the first segment ending in `.<task id>`
/// (ClearML's layout) or that is one (Runyard's).
pub fn task_of(path: &str) -> Option<&str> {
    path.split('/').find_map(|segment| {
        let id = segment.rsplit_once('.').map_or(segment, |(_, id)| id);
        runyard_api::is_valid_id(id).then_some(id)
    })
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

/// A failed file operation, with the status its error carries.
fn failed(e: runyard_daemon::error::Error) -> Response {
    if let runyard_daemon::error::Error::Internal(inner) = &e {
        tracing::error!(error = format!("{inner:#}"), "file operation failed");
    }
    error(StatusCode::from_u16(e.code().http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), e.to_string())
}

async fn authorized(ctx: &Ctx, headers: &HeaderMap) -> Result<Principal, Response> {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    ctx.auth.authenticate(authorization).await.map_err(|e| error(StatusCode::UNAUTHORIZED, e.to_string()))
}

async fn alive() -> &'static str {
    "OK"
}

/// `POST /files/`: every part is stored at the path its field names; answers `{field: path}`.
async fn upload(State(ctx): State<Ctx>, headers: HeaderMap, mut form: Multipart) -> Response {
    let who = match authorized(&ctx, &headers).await {
        Ok(who) => who,
        Err(denied) => return denied,
    };
    let mut stored = Map::new();
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("malformed multipart body: {e}")),
        };
        let Some(name) = field.name().map(str::to_string) else {
            return error(StatusCode::BAD_REQUEST, "a part has no field name (its path)");
        };
        let path = name.trim_start_matches('/').to_string();
        let task = task_of(&path).map(str::to_string);
        match ctx.files.put_at(&who, task.as_deref(), &path, field.map_err(|e| e.to_string())).await {
            Ok(file) => {
                stored.insert(name, Value::String(file.path));
            }
            Err(e) => return failed(e),
        }
    }
    Json(Value::Object(stored)).into_response()
}

/// `POST /files/<path>` with a multipart body: the same, the path taken from the URL when a
/// part names none.
async fn upload_at(state: State<Ctx>, headers: HeaderMap, _path: Path<String>, form: Multipart) -> Response {
    upload(state, headers, form).await
}

async fn download(State(ctx): State<Ctx>, headers: HeaderMap, Path(path): Path<String>) -> Response {
    if let Err(denied) = authorized(&ctx, &headers).await {
        return denied;
    }
    match ctx.files.get(&path).await {
        Ok(file) => runyard_tracking::http::file_response(file),
        Err(e) => failed(e),
    }
}

async fn remove(State(ctx): State<Ctx>, headers: HeaderMap, Path(path): Path<String>) -> Response {
    let who = match authorized(&ctx, &headers).await {
        Ok(who) => who,
        Err(denied) => return denied,
    };
    match ctx.files.delete_local(&who, &path).await {
        Ok(()) => Json(json!({"deleted": path})).into_response(),
        Err(e) => failed(e),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths_name_their_task() {
        let id = "0123456789abcdef0123456789abcdef";
        assert_eq!(super::task_of(&format!("p/t clone.{id}/artifacts/a/a.json")), Some(id));
        assert_eq!(super::task_of(&format!("p/{id}/a.json")), Some(id));
        assert_eq!(super::task_of("p/t/artifacts/a.json"), None);
    }
}
