//! The HTTP API: the native REST API under `/api/v1`, its OpenAPI document, and `/healthz`.
//!
//! Architecture invariant: only this module knows about axum; handlers are thin and call
//! `services` or `store`, and only `runyard_api` types go on the wire.

mod admin;
mod console;
mod error;
mod events;
pub mod extract;
pub mod open;
mod queues;
pub mod serve;
mod tasks;
mod workers;

use crate::auth::Auth;
use crate::error::Error;
use crate::metrics::{Metrics, RequestLabels};
use crate::services::dispatch::Dispatcher;
use crate::services::tasks::TaskService;
use crate::store::Store;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    /// Clients reach the daemon over HTTPS (its public URL says so): cookies are `Secure`.
    pub https: bool,
    pub store: Arc<Store>,
    pub auth: Arc<Auth>,
    pub tasks: TaskService,
    pub dispatcher: Arc<Dispatcher>,
    pub metrics: Arc<Metrics>,
    /// Event streams and long-polls held per identity.
    pub open: Arc<open::OpenRequests>,
    /// The longest a long-poll waits: within the request timeout ([`open::longest_wait`]).
    pub longest_wait: f64,
}

/// Default limit on request bodies: large enough for ClearML's 15 MiB event batches.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

static MAX_BODY_BYTES: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_BODY_BYTES);

fn max_body_bytes() -> usize {
    MAX_BODY_BYTES.load(Ordering::Relaxed)
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Runyard API", description = "Projects, tasks and their lifecycle, queues, dispatch, workers and users."),
    paths(
        admin::health, admin::login, admin::sign_in, admin::sign_out, admin::me, admin::create_user, admin::logout, admin::list_users,
        admin::remove_user, admin::create_key, admin::delete_key, admin::revoke_tokens,
        admin::list_projects, admin::create_project, admin::get_project, admin::update_project, admin::delete_project,
        queues::list, queues::create, queues::show, queues::rename, queues::delete,
        queues::move_entry, queues::remove_entry, queues::pop, queues::history, workers::history,
        workers::register, workers::list, workers::show, workers::report, workers::drain,
        workers::undrain, workers::unregister, events::stream, metrics,
        tasks::create, tasks::list, tasks::get, tasks::edit, tasks::outputs, tasks::token, tasks::batch, tasks::act,
        console::append, console::read,
    ),
    modifiers(&SecurityAddon)
)]
pub struct ApiDoc;

struct SecurityAddon;

impl utoipa::Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        components.add_security_scheme("basic", SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)));
        openapi.security = Some(vec![
            utoipa::openapi::security::SecurityRequirement::new("basic", Vec::<String>::new()),
            utoipa::openapi::security::SecurityRequirement::new("bearer", Vec::<String>::new()),
        ]);
    }
}

/// The browser session's cookie.
pub const SESSION_COOKIE: &str = "runyard_session";

/// The header a browser session's changing requests must carry: a cross-site form cannot set it.
pub const CLIENT_HEADER: &str = "x-runyard-client";

/// A `Set-Cookie` value for the session token (`max_age` 0 clears it); `secure` when the
/// browser reached the daemon over HTTPS.
fn session_cookie(token: String, max_age: i64, secure: bool) -> header::HeaderValue {
    let cookie = cookie::Cookie::build((SESSION_COOKIE, token))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(cookie::SameSite::Strict)
        .max_age(cookie::time::Duration::seconds(max_age))
        .build();
    header::HeaderValue::from_str(&cookie.to_string()).expect("a cookie is a valid header value")
}

/// The `Authorization` header, or a Bearer credential made of the session cookie. A cookie
/// alone authorises only reads: a changing request must also carry [`CLIENT_HEADER`].
fn credential(req: &Request) -> Result<Option<String>, Error> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        return Ok(value.to_str().ok().map(str::to_string));
    }
    let Some(session) = session_token(req.headers()) else { return Ok(None) };
    if !req.method().is_safe() && !req.headers().contains_key(CLIENT_HEADER) {
        return Err(Error::Forbidden(format!(
            "a request authenticated by the session cookie must send {CLIENT_HEADER}"
        )));
    }
    Ok(Some(format!("Bearer {session}")))
}

/// The token of the browser's session cookie, if it sent one.
fn session_token(headers: &header::HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(|c| c.ok())
        .find(|c| c.name() == SESSION_COOKIE && !c.value().is_empty())
        .map(|c| c.value().to_string())
}

/// Resolves the caller from the `Authorization` header (or the browser's session cookie) and
/// refuses anonymous requests.
async fn require_auth(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let credential = match credential(&req) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    match state.auth.authenticate(credential.as_deref()).await {
        Ok(principal) => {
            req.extensions_mut().insert(principal);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

/// Records every request's latency under its route template.
async fn record_latency(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(req).await;
    let labels = RequestLabels { method, route, status: response.status().as_u16() };
    state.metrics.observe_request(labels, started.elapsed());
    response
}

/// Prometheus metrics (text format).
#[utoipa::path(get, path = "/metrics", tag = "system", responses((status = 200, description = "Prometheus text format")))]
async fn metrics(State(state): State<AppState>) -> Result<Response, Error> {
    let body = state.metrics.render(&state.store).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response())
}

async fn not_found(req: Request) -> Error {
    Error::NotFound { kind: "route", id: format!("{} {}", req.method(), req.uri().path()) }
}

/// Handlers of different modules share names (`list`, `create`, …): an operation id used more
/// than once gets its tag as a prefix (`queues_list`), so generated clients tell them apart.
fn unique_operation_ids(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::{Operation, PathItem};
    fn each(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
        [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch, &mut item.head]
            .into_iter()
            .filter_map(Option::as_mut)
    }
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for op in doc.paths.paths.values_mut().flat_map(each) {
        *seen.entry(op.operation_id.clone().unwrap_or_default()).or_default() += 1;
    }
    for op in doc.paths.paths.values_mut().flat_map(each) {
        let (Some(id), Some(tag)) = (&op.operation_id, op.tags.as_ref().and_then(|t| t.first())) else { continue };
        if seen.get(id).copied().unwrap_or(0) > 1 {
            op.operation_id = Some(format!("{tag}_{id}"));
        }
    }
}

/// The whole HTTP application, with the plugins' routes and OpenAPI parts.
pub fn router(
    state: AppState,
    max_body: usize,
    request_timeout: std::time::Duration,
    in_flight: Arc<open::InFlight>,
    plugins: Vec<(Router, Option<Router>, utoipa::openapi::OpenApi)>,
) -> Router {
    MAX_BODY_BYTES.store(max_body, Ordering::Relaxed);
    let mut doc = ApiDoc::openapi();
    let (mut plugin_routes, mut plugin_roots) = (Router::new(), Router::new());
    for (routes, root, part) in plugins {
        doc.merge(part);
        plugin_routes = plugin_routes.merge(routes);
        if let Some(root) = root {
            plugin_roots = plugin_roots.merge(root);
        }
    }
    unique_operation_ids(&mut doc);
    let stale = runyard_api::rules::document(&mut doc);
    debug_assert!(stale.is_empty(), "rules for properties the API document lacks: {stale:?}");
    let doc = Arc::new(doc);
    let api = Router::new()
        .route("/me", get(admin::me))
        .route("/users", get(admin::list_users).post(admin::create_user))
        .route("/users/{user}", delete(admin::remove_user))
        .route("/users/{user}/keys", post(admin::create_key))
        .route("/users/{user}/keys/{key}", delete(admin::delete_key))
        .route("/users/{user}/revoke-tokens", post(admin::revoke_tokens))
        .route("/projects", get(admin::list_projects).post(admin::create_project))
        .route("/projects/{id}", get(admin::get_project).patch(admin::update_project).delete(admin::delete_project))
        .route("/queues", get(queues::list).post(queues::create))
        .route("/queues/pop", post(queues::pop))
        .route("/queues/{queue}", get(queues::show).patch(queues::rename).delete(queues::delete))
        .route("/queues/{queue}/entries/{task}", delete(queues::remove_entry))
        .route("/queues/{queue}/history", get(queues::history))
        .route("/queues/{queue}/entries/{task}/move", post(queues::move_entry))
        .route("/workers", get(workers::list).post(workers::register))
        .route("/workers/{id}", get(workers::show).delete(workers::unregister))
        .route("/workers/{id}/report", post(workers::report))
        .route("/workers/{id}/history", get(workers::history))
        .route("/workers/{id}/drain", post(workers::drain))
        .route("/workers/{id}/undrain", post(workers::undrain))
        .route("/tasks", get(tasks::list).post(tasks::create))
        .route("/tasks/actions/{action}", post(tasks::batch))
        .route("/tasks/{id}", get(tasks::get).patch(tasks::edit))
        .route("/tasks/{id}/console", get(console::read).post(console::append))
        .route("/tasks/{id}/outputs", post(tasks::outputs))
        .route("/tasks/{id}/token", post(tasks::token))
        .route("/tasks/{id}/{action}", post(tasks::act))
        .route("/events", get(events::stream))
        .route("/openapi.json", get(move || std::future::ready(Json(doc.clone()))))
        // The core API answers in time (408 otherwise); long-polls wait within it, and streams
        // answer at once and then stream. Plugins' uploads and exports may take longer.
        .route_layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, request_timeout))
        .with_state(state.clone())
        .merge(plugin_routes)
        .route_layer(middleware::from_fn_with_state(state.clone(), require_auth))
        // Login authenticates the key pair itself.
        .merge(
            Router::new()
                .route("/auth/login", post(admin::login))
                .route("/auth/logout", post(admin::logout))
                .route("/auth/session", post(admin::sign_in).delete(admin::sign_out))
                .with_state(state.clone()),
        );
    let metrics_route = Router::new()
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_auth));
    let app = Router::new()
        .route("/healthz", get(admin::health))
        .merge(metrics_route)
        .with_state(state.clone())
        .nest("/api/v1", api)
        .merge(plugin_roots)
        .fallback(not_found)
        .route_layer(middleware::from_fn_with_state(state.clone(), record_latency));
    open::shedding(app, in_flight)
        .layer(DefaultBodyLimit::max(max_body))
        // No response is sniffed into another type (an uploaded file served as a page).
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            header::HeaderValue::from_static("nosniff"),
        ))
        .layer(TraceLayer::new_for_http())
}
