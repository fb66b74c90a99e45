//! Health, login, users, projects and queues.

use super::extract::{AppJson, AppQuery, Caller};
use super::AppState;
use crate::auth::DEFAULT_TOKEN_TTL_SECONDS;
use crate::error::{Error, Result};
use crate::services::access;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use runyard_api::{
    CreateProject, CreateUser, Credentials, DeleteProject, ErrorBody, LoginQuery, Project, ProjectDeleted, SignIn,
    Token, UpdateProject, User,
};
use serde_json::{json, Value};

/// Liveness and database reachability. Needs no token.
#[utoipa::path(get, path = "/healthz", tag = "system", responses((status = 200, description = "healthy"), (status = 503, description = "database unreachable")))]
pub async fn health(State(s): State<AppState>) -> (StatusCode, Json<Value>) {
    match s.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "database unreachable"}))),
    }
}

/// Exchange a key pair (HTTP Basic) or a valid token (Bearer) for a new signed token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", params(LoginQuery),
    responses((status = 200, body = Token), (status = 401, body = ErrorBody)))]
pub async fn login(
    State(s): State<AppState>,
    headers: HeaderMap,
    AppQuery(q): AppQuery<LoginQuery>,
) -> Result<Json<Token>> {
    let header = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let ttl = q.expiration_sec.unwrap_or(DEFAULT_TOKEN_TTL_SECONDS);
    Ok(Json(s.auth.login(header, ttl, |_| serde_json::Map::new()).await?))
}

/// Revoke the token this request carries (signing out): it is refused from now on, on every
/// replica.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn logout(State(s): State<AppState>, headers: HeaderMap) -> Result<StatusCode> {
    let header = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let token = header.and_then(|h| h.strip_prefix("Bearer ")).ok_or_else(|| {
        Error::invalid(
            "Authorization",
            "send the token to revoke as a Bearer credential (key pairs are revoked with \
             DELETE /api/v1/users/{user}/keys/{key})",
        )
    })?;
    s.auth.revoke(token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Browser sign-in: a key pair exchanged for a session cookie (HttpOnly, SameSite=Strict), so
/// the token never reaches page scripts. Requests authenticated by the cookie must also carry
/// `X-Runyard-Client` when they change anything (see `super::require_auth`).
#[utoipa::path(post, path = "/api/v1/auth/session", tag = "auth", request_body = SignIn,
    responses((status = 200, body = User), (status = 401, body = ErrorBody)))]
pub async fn sign_in(
    State(s): State<AppState>,
    headers: HeaderMap,
    AppJson(req): AppJson<SignIn>,
) -> Result<(HeaderMap, Json<User>)> {
    let who = s.auth.verify_key_pair(req.access_key.trim(), &req.secret_key).await?;
    let token = s.auth.issue(&who, DEFAULT_TOKEN_TTL_SECONDS).await?;
    let user = s
        .store
        .user_by_name(&who.name)
        .await?
        .ok_or_else(|| Error::Unauthorized("the user no longer exists".into()))?;
    let cookie = super::session_cookie(token.token, DEFAULT_TOKEN_TTL_SECONDS as i64, over_https(&s, &headers));
    Ok((HeaderMap::from_iter([(header::SET_COOKIE, cookie)]), Json(user)))
}

/// Whether the browser reached the daemon over HTTPS: its public URL says so, or the proxy in
/// front of it does (`X-Forwarded-Proto`; it can only make the cookie stricter).
fn over_https(s: &AppState, headers: &HeaderMap) -> bool {
    s.https || headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) == Some("https")
}

/// Browser sign-out: the session's token is revoked and its cookie cleared.
#[utoipa::path(delete, path = "/api/v1/auth/session", tag = "auth", responses((status = 204)))]
pub async fn sign_out(State(s): State<AppState>, headers: HeaderMap) -> (StatusCode, HeaderMap) {
    if let Some(token) = super::session_token(&headers) {
        // An expired or already revoked token needs no revoking.
        let _ = s.auth.revoke(&token).await;
    }
    let cookie = super::session_cookie(String::new(), 0, over_https(&s, &headers));
    (StatusCode::NO_CONTENT, HeaderMap::from_iter([(header::SET_COOKIE, cookie)]))
}

/// The calling user.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", responses((status = 200, body = User)))]
pub async fn me(State(s): State<AppState>, Caller(who): Caller) -> Result<Json<User>> {
    s.store
        .user_by_name(&who.name)
        .await?
        .map(Json)
        .ok_or_else(|| Error::Unauthorized("the user no longer exists".into()))
}

/// Create a user and a key pair for them (admins only). The secret is shown once.
#[utoipa::path(post, path = "/api/v1/users", tag = "auth", request_body = CreateUser,
    responses((status = 201, body = Credentials), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_user(
    State(s): State<AppState>,
    Caller(who): Caller,
    AppJson(req): AppJson<CreateUser>,
) -> Result<(StatusCode, Json<Credentials>)> {
    access::admin(&who, "create users")?;
    Ok((StatusCode::CREATED, Json(s.auth.create_user(&req.name, req.role).await?)))
}

/// Every user (admins only).
#[utoipa::path(get, path = "/api/v1/users", tag = "auth",
    responses((status = 200, body = Vec<User>), (status = 403, body = ErrorBody)))]
pub async fn list_users(State(s): State<AppState>, Caller(who): Caller) -> Result<Json<Vec<User>>> {
    access::admin(&who, "list users")?;
    Ok(Json(s.store.list_users().await?))
}

/// Remove a user (admins only): every key pair deleted and every token revoked at once, on
/// every replica; the name stays on their tasks.
#[utoipa::path(delete, path = "/api/v1/users/{user}", tag = "auth", params(("user" = String, Path, description = "id or name")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn remove_user(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(user): Path<String>,
) -> Result<StatusCode> {
    access::admin(&who, "remove users")?;
    let user = s.store.user(&user).await?;
    if user.id == who.user_id {
        return Err(Error::Conflict("an admin cannot remove themselves: another admin must".into()));
    }
    s.store.remove_user(&user.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new key pair for a user (the user themselves or an admin). The secret is shown once.
#[utoipa::path(post, path = "/api/v1/users/{user}/keys", tag = "auth", params(("user" = String, Path, description = "id or name")),
    responses((status = 201, body = Credentials), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn create_key(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(user): Path<String>,
) -> Result<(StatusCode, Json<Credentials>)> {
    let user = s.store.user(&user).await?;
    access::account(&who, &user.id, "make key pairs")?;
    Ok((StatusCode::CREATED, Json(s.auth.create_key(user).await?)))
}

/// Revoke one of a user's key pairs (the user themselves or an admin), at once on every replica.
#[utoipa::path(delete, path = "/api/v1/users/{user}/keys/{key}", tag = "auth",
    params(("user" = String, Path, description = "id or name"), ("key" = String, Path, description = "the access key")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_key(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path((user, key)): Path<(String, String)>,
) -> Result<StatusCode> {
    let user = s.store.user(&user).await?;
    access::account(&who, &user.id, "revoke key pairs")?;
    s.store.delete_access_key(&user.id, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revoke every token a user holds (the user themselves or an admin): sessions, renewals and
/// their tasks' tokens alike; key pairs stay.
#[utoipa::path(post, path = "/api/v1/users/{user}/revoke-tokens", tag = "auth", params(("user" = String, Path, description = "id or name")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_tokens(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(user): Path<String>,
) -> Result<StatusCode> {
    let user = s.store.user(&user).await?;
    access::account(&who, &user.id, "revoke tokens")?;
    s.store.revoke_tokens(&user.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/projects", tag = "projects", responses((status = 200, body = Vec<Project>)))]
pub async fn list_projects(State(s): State<AppState>) -> Result<Json<Vec<Project>>> {
    Ok(Json(s.store.list_projects().await?))
}

/// Create a project (and its missing parents): `a/b/c`.
#[utoipa::path(post, path = "/api/v1/projects", tag = "projects", request_body = CreateProject,
    responses((status = 201, body = Project), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_project(
    State(s): State<AppState>,
    Caller(who): Caller,
    AppJson(req): AppJson<CreateProject>,
) -> Result<(StatusCode, Json<Project>)> {
    access::person(&who, "create projects")?;
    Ok((StatusCode::CREATED, Json(s.store.create_project(&req.name, &req.description, &who.user_id).await?)))
}

/// Rename a project (its subprojects move with it) or change its description.
#[utoipa::path(patch, path = "/api/v1/projects/{id}", tag = "projects", params(("id" = String, Path)),
    request_body = UpdateProject,
    responses((status = 200, body = Project), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn update_project(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    AppJson(req): AppJson<UpdateProject>,
) -> Result<Json<Project>> {
    access::person(&who, "change projects")?;
    Ok(Json(s.store.update_project(&id, &req, &who.user_id).await?))
}

/// Delete a project with its subprojects: refused (409) while it holds active tasks, unless
/// they are deleted with it (`delete_contents`) or moved out (`force`); archived tasks move to
/// the parent project (`unassigned` at the top) unless deleted with it. Its owner or an admin.
#[utoipa::path(delete, path = "/api/v1/projects/{id}", tag = "projects", params(("id" = String, Path), DeleteProject),
    responses((status = 200, body = ProjectDeleted), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn delete_project(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    AppQuery(q): AppQuery<DeleteProject>,
) -> Result<Json<ProjectDeleted>> {
    Ok(Json(crate::services::projects::delete(&s.store, &s.tasks, &who, &id, &q).await?))
}

/// A project by id or path (URL-encode the slashes).
#[utoipa::path(get, path = "/api/v1/projects/{id}", tag = "projects", params(("id" = String, Path)),
    responses((status = 200, body = Project), (status = 404, body = ErrorBody)))]
pub async fn get_project(State(s): State<AppState>, Path(id): Path<String>) -> Result<Json<Project>> {
    Ok(Json(s.store.project(&id).await?))
}
