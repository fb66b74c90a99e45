//! The ClearML plugin: the ClearML REST API under `/clearml` (`CLEARML_API_HOST=<daemon>/clearml`)
//! and its files server under `/files` (`CLEARML_FILES_HOST=<daemon>/files`), so the stock
//! `clearml` SDK works against Runyard unchanged. A mapping, not a second model: every call reads
//! and writes Runyard's own tasks, projects and tracking data.
//!
//! `envelope` is the transport (routing by `service.action`, `{meta, data}` answers, ClearML's
//! error codes); `document` maps ClearML's task document to and from Runyard's task; `tasks`,
//! `projects` and `events` map the calls; `files` is the files server.

pub mod artifacts;
pub mod catalogue;
pub mod cleanup;
pub mod distinct;
pub mod document;
pub mod envelope;
pub mod events;
pub mod extras;
pub mod files;
pub mod histogram;
pub mod legacy_tags;
pub mod logs;
pub mod lookup;
pub mod metrics;
pub mod models;
pub mod order;
pub mod organization;
pub mod params;
pub mod project_moves;
pub mod project_stats;
pub mod projects;
pub mod queues;
pub mod ranges;
pub mod samples;
pub mod tag_reads;
pub mod tags;
pub mod task_models;
pub mod tasks;
pub mod transitions;
pub mod users;
pub mod verbatim;
pub mod worker_stats;
pub mod workers;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::Response;
use axum::routing::any;
use axum::{Extension, Router};
use envelope::{parse_body, respond, Answer, ClearmlError, API_VERSION};
use runyard_api::Action;
use runyard_daemon::auth::Auth;
use runyard_daemon::http::open::shedding;
use runyard_daemon::plugin::{Mounted, Plugin, PluginContext};
use runyard_daemon::store::{Backend, Principal, Store};
use serde_json::{json, Value};
use std::sync::Arc;

/// The server version a token advertises (ClearML's clients only display it).
const SERVER_VERSION: &str = "2.0.0";

/// The plugin; with `ports`, the API and the files server are also served at the root of
/// ClearML's own ports (API, files), so an existing `clearml.conf` needs only a new host name.
#[derive(Default)]
pub struct Clearml {
    pub ports: Option<(std::net::SocketAddr, std::net::SocketAddr)>,
}

/// What every call gets.
#[derive(Clone)]
pub struct Ctx {
    pub store: Arc<Store>,
    pub tasks: runyard_daemon::services::tasks::TaskService,
    pub auth: Arc<Auth>,
    pub files: Arc<runyard_tracking::files::Files>,
    pub dispatcher: Arc<runyard_daemon::services::dispatch::Dispatcher>,
}

impl Plugin for Clearml {
    fn name(&self) -> &'static str {
        "clearml"
    }

    /// One table of its own, the model registry; everything else maps onto Runyard's.
    fn migrator(&self, backend: Backend) -> sqlx::migrate::Migrator {
        match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        }
    }

    fn mount(&self, ctx: &PluginContext) -> anyhow::Result<Mounted> {
        let (max_body, header_timeout, in_flight) = (ctx.max_body_bytes, ctx.header_timeout, ctx.in_flight.clone());
        let files = runyard_tracking::files::Files::new(ctx)?;
        let ctx = Ctx {
            store: ctx.store.clone(),
            tasks: ctx.tasks.clone(),
            auth: ctx.auth.clone(),
            files: Arc::new(files),
            dispatcher: ctx.dispatcher.clone(),
        };
        let root = Router::new()
            .route("/clearml", any(call_root))
            .route("/clearml/{*path}", any(call))
            .merge(files::routes())
            .with_state(ctx.clone());
        let background = match self.ports {
            None => None,
            Some((api, files)) => {
                // The same body limit as the daemon's own API (ClearML's event batches are large).
                // One count of requests in flight with the daemon's own port.
                let api_router = Router::new()
                    .route("/", any(call_root))
                    .route("/{*path}", any(call))
                    .layer(axum::extract::DefaultBodyLimit::max(max_body))
                    .with_state(ctx.clone());
                let api_router = shedding(api_router, in_flight.clone());
                let files_router = shedding(files::root_routes().with_state(ctx), in_flight);
                let listeners = [(bind(api)?, api_router), (bind(files)?, files_router)];
                let job: Box<
                    dyn FnOnce(tokio_util::sync::CancellationToken) -> futures::future::BoxFuture<'static, ()> + Send,
                > = Box::new(move |stop| Box::pin(serve_ports(listeners, header_timeout, stop)));
                Some(job)
            }
        };
        Ok(Mounted {
            routes: Router::new(),
            root_routes: Some(root),
            openapi: Default::default(),
            hooks: None,
            background,
        })
    }
}

fn bind(addr: std::net::SocketAddr) -> anyhow::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr)
        .map_err(|e| anyhow::anyhow!("could not listen on {addr} for the ClearML clients: {e}"))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Serves ClearML's own ports until `stop`.
async fn serve_ports(
    listeners: [(std::net::TcpListener, Router); 2],
    header_timeout: std::time::Duration,
    stop: tokio_util::sync::CancellationToken,
) {
    let mut servers = Vec::new();
    for (listener, router) in listeners {
        let stop = stop.clone();
        servers.push(tokio::spawn(async move {
            let addr = listener.local_addr().ok();
            let listener = match tokio::net::TcpListener::from_std(listener) {
                Ok(l) => l,
                Err(error) => return tracing::error!(%error, "ClearML port unavailable"),
            };
            tracing::info!(?addr, "serving the ClearML clients");
            let served = runyard_daemon::http::serve::serve(listener, router, header_timeout, stop.cancelled_owned());
            if let Err(error) = served.await {
                tracing::error!(%error, "ClearML port failed");
            }
        }));
    }
    for server in servers {
        let _ = server.await;
    }
}

async fn call_root() -> Response {
    respond("", API_VERSION, Err(ClearmlError::new(404, 0, "Unable to find endpoint for name  and version")))
}

/// One API call: authenticate, dispatch on `service.action`, answer in the envelope.
async fn call(
    State(ctx): State<Ctx>,
    Path(path): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    peer: Option<Extension<ConnectInfo<std::net::SocketAddr>>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (name, version) = envelope::endpoint(&path);
    // A body the daemon will not read (over its size limit, broken off) is answered in the
    // envelope too.
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let error = ClearmlError::new(rejection.status().as_u16(), 0, rejection.body_text());
            return respond(&name, &version, Err(error));
        }
    };
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let answer = if name == "auth.login" {
        login(&ctx, authorization, query.as_deref()).await
    } else {
        match authorization {
            None => Err(ClearmlError::new(401, 20, "Unauthorized (missing credentials)")),
            Some(header) => match ctx.auth.authenticate(Some(header)).await {
                Err(e) => {
                    Err(ClearmlError::new(401, if header.starts_with("Bearer") { 30 } else { 22 }, e.to_string()))
                }
                Ok(who) => {
                    let peer = peer.map(|Extension(ConnectInfo(addr))| addr.ip());
                    dispatch(&ctx, &who, &headers, peer, &name, &version, &body).await
                }
            },
        }
    };
    respond(&name, &version, answer)
}

/// `auth.login`: a key pair (Basic) or a token (Bearer) for a token whose claims tell the
/// clients which API to speak.
async fn login(ctx: &Ctx, authorization: Option<&str>, query: Option<&str>) -> Answer {
    let ttl = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("expiration_sec="))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(runyard_daemon::auth::MAX_TOKEN_TTL_SECONDS);
    let claims = |who: &Principal| {
        let mut claims = serde_json::Map::new();
        claims.insert("api_version".into(), json!(API_VERSION));
        claims.insert("server_version".into(), json!(SERVER_VERSION));
        claims.insert("feature_set".into(), json!("basic"));
        claims.insert(
            "identity".into(),
            json!({"user": who.user_id, "user_name": who.name, "company": "", "role": "user"}),
        );
        claims
    };
    let token = ctx
        .auth
        .login(authorization, ttl, claims)
        .await
        .map_err(|e| ClearmlError::new(401, 22, format!("Unauthorized (invalid credentials): {e}")))?;
    Ok(json!({"token": token.token}))
}

async fn dispatch(
    ctx: &Ctx,
    who: &Principal,
    headers: &HeaderMap,
    peer: Option<std::net::IpAddr>,
    name: &str,
    version: &str,
    bytes: &[u8],
) -> Answer {
    // Batches are json-lines; everything else one JSON object.
    if name == "events.add_batch" || name == "events.add" {
        return events::add_batch(ctx, who, bytes).await;
    }
    let mut body: Value = parse_body(bytes)?;
    if !legacy_tags::applies(version) {
        return route(ctx, who, headers, peer, name, version, body).await;
    }
    legacy_tags::split(name, &mut body);
    let mut answer = route(ctx, who, headers, peer, name, version, body).await?;
    legacy_tags::merge(&mut answer);
    Ok(answer)
}

/// The endpoint's handler.
async fn route(
    ctx: &Ctx,
    who: &Principal,
    headers: &HeaderMap,
    peer: Option<std::net::IpAddr>,
    name: &str,
    version: &str,
    body: Value,
) -> Answer {
    match name {
        "projects.get_all" | "projects.get_all_ex" => projects::get_all(ctx, &body).await,
        "projects.get_by_id" => projects::get_by_id(ctx, &body).await,
        "projects.create" => projects::create(ctx, who, &body).await,
        "projects.update" => projects::update(ctx, who, &body).await,
        "projects.delete" => projects::delete(ctx, who, &body).await,
        "projects.get_task_parents" => projects::get_task_parents(ctx, &body).await,
        "projects.move" => project_moves::move_to(ctx, who, &body).await,
        "projects.merge" => project_moves::merge(ctx, who, &body).await,
        "organization.get_entities_count" => organization::get_entities_count(ctx, &body).await,
        "projects.validate_delete" => projects::validate_delete(ctx, &body).await,
        "tasks.create" => tasks::create(ctx, who, &body).await,
        "tasks.get_by_id" => tasks::get_by_id(ctx, &body).await,
        "tasks.get_all" => tasks::get_all(ctx, &body).await,
        "tasks.get_all_ex" | "tasks.get_by_id_ex" => tasks::get_all_ex(ctx, &body).await,
        "tasks.edit" => tasks::edit(ctx, who, &body).await,
        "tasks.update" => tasks::update(ctx, who, &body).await,
        "tasks.set_requirements" => tasks::set_requirements(ctx, who, &body).await,
        "tasks.add_or_update_artifacts" => artifacts::add_or_update(ctx, who, &body).await,
        "tasks.delete_artifacts" => artifacts::delete(ctx, who, &body).await,
        "tasks.add_or_update_model" => task_models::add_to_task(ctx, who, &body).await,
        "models.create" => models::create(ctx, who, &body).await,
        "models.get_by_id" => models::get_by_id(ctx, &body).await,
        "models.get_all" => models::get_all(ctx, &body).await,
        "models.get_all_ex" => models::get_all_ex(ctx, &body).await,
        "tasks.delete_models" => task_models::delete_from_task(ctx, who, &body).await,
        "models.move" => models::move_to(ctx, who, &body).await,
        "models.edit" | "models.update" => models::edit(ctx, who, &body).await,
        "models.get_frameworks" => models::get_frameworks(ctx, &body).await,
        "models.set_ready" => models::set_ready(ctx, who, &body).await,
        "models.publish_many" => models::publish_many(ctx, who, &body).await,
        "models.add_or_update_metadata" => models::edit_metadata(ctx, who, &body, false).await,
        "models.delete_metadata" => models::edit_metadata(ctx, who, &body, true).await,
        "models.update_tags" => models::update_tags(ctx, who, &body).await,
        "tasks.update_tags" => tags::update_task_tags(ctx, who, &body).await,
        "projects.get_hyper_parameters" => distinct::hyper_parameters(ctx, &body).await,
        "projects.get_hyperparam_values" => distinct::hyperparam_values(ctx, &body).await,
        "projects.get_model_metadata_keys" => distinct::model_metadata_keys(ctx, &body).await,
        "projects.get_model_metadata_values" => distinct::model_metadata_values(ctx, &body).await,
        "projects.get_task_tags" => tag_reads::task_tags(ctx, &body).await,
        "projects.get_model_tags" => tag_reads::model_tags(ctx, &body).await,
        "projects.get_project_tags" => tag_reads::project_tags(ctx, &body).await,
        "organization.get_tags" => tag_reads::organization_tags(ctx, &body).await,
        "models.delete" => models::delete(ctx, who, &body).await,
        "models.update_for_task" => task_models::update_for_task(ctx, who, &body).await,
        "tasks.started" => {
            let worker = workers::worker_of(headers, &Value::Null);
            transitions::act_as(ctx, who, Action::Started, &body, worker).await
        }
        "tasks.completed" => transitions::completed(ctx, who, &body).await,
        "tasks.failed" => transitions::act(ctx, who, Action::Failed, &body).await,
        "tasks.stopped" => transitions::stopped(ctx, who, &body).await,
        "tasks.ping" => transitions::act(ctx, who, Action::Ping, &body).await,
        "tasks.stop" => transitions::stop(ctx, who, &body).await,
        "tasks.reset" => cleanup::reset(ctx, who, &body).await,
        "tasks.validate" => cleanup::validate(&body).await,
        "tasks.publish" => transitions::publish_one(ctx, who, &body).await,
        "tasks.clone" => tasks::clone(ctx, who, &body).await,
        "tasks.delete" => cleanup::delete(ctx, who, &body).await,
        "tasks.reset_many" => transitions::many(ctx, who, Action::Reset, &body).await,
        "tasks.delete_many" => transitions::many(ctx, who, Action::Delete, &body).await,
        "tasks.get_types" => tasks::get_types(ctx, &body).await,
        "tasks.archive" => transitions::archive(ctx, who, &body).await,
        "tasks.move" => tasks::move_to(ctx, who, &body).await,
        "tasks.archive_many" => transitions::many(ctx, who, Action::Archive, &body).await,
        "tasks.unarchive_many" => transitions::many(ctx, who, Action::Restore, &body).await,
        "tasks.enqueue_many" => transitions::many(ctx, who, Action::Enqueue, &body).await,
        "tasks.dequeue_many" => transitions::many(ctx, who, Action::Dequeue, &body).await,
        "tasks.stop_many" => transitions::many(ctx, who, Action::Abort, &body).await,
        "tasks.publish_many" => transitions::many(ctx, who, Action::Publish, &body).await,
        "tasks.enqueue" => transitions::enqueue(ctx, who, &body).await,
        "tasks.dequeue" => transitions::dequeue(ctx, who, &body).await,
        "tasks.get_hyper_params" => params::get_hyper_params(ctx, &body).await,
        "tasks.edit_hyper_params" => params::edit_hyper_params(ctx, who, &body).await,
        "tasks.delete_hyper_params" => params::delete_hyper_params(ctx, who, &body).await,
        "tasks.get_configurations" => params::get_configurations(ctx, &body).await,
        "tasks.get_configuration_names" => params::get_configuration_names(ctx, &body).await,
        "tasks.edit_configuration" => params::edit_configuration(ctx, who, &body).await,
        "tasks.delete_configuration" => params::delete_configuration(ctx, who, &body).await,
        "events.get_task_log" => logs::get_task_log(ctx, &body).await,
        "events.clear_task_log" => logs::clear_task_log(ctx, who, &body).await,
        "events.get_task_metrics" => catalogue::get_task_metrics(ctx, &body).await,
        "events.get_multi_task_metrics" => catalogue::get_multi_task_metrics(ctx, &body).await,
        "events.get_multi_task_plots" => catalogue::get_multi_task_plots(ctx, &body).await,
        "events.get_task_latest_scalar_values" => catalogue::get_task_latest_scalar_values(ctx, &body).await,
        "events.get_task_events" => events::get_task_events(ctx, &body).await,
        "events.scalar_metrics_iter_histogram" => histogram::task(ctx, &body).await,
        "events.scalar_metrics_iter_raw" => metrics::scalar_metrics_iter_raw(ctx, &body).await,
        "events.multi_task_scalar_metrics_iter_histogram" => histogram::tasks(ctx, &body).await,
        "projects.get_unique_metric_variants" => metrics::get_unique_metric_variants(ctx, &body).await,
        "events.get_task_single_value_metrics" => events::get_task_single_value_metrics(ctx, &body).await,
        "events.get_task_plots" => events::get_task_plots(ctx, &body).await,
        "events.debug_images" => samples::debug_images(ctx, &body).await,
        "events.plots" => samples::plots(ctx, &body).await,
        "events.get_plot_sample" => samples::get_plot_sample(ctx, &body).await,
        "events.next_plot_sample" => samples::next_plot_sample(ctx, &body).await,
        "events.get_debug_image_sample" => samples::get_debug_image_sample(ctx, &body).await,
        "events.next_debug_image_sample" => samples::next_debug_image_sample(ctx, &body).await,
        "queues.get_all" => queues::get_all(ctx, &body, false).await,
        "queues.get_all_ex" => queues::get_all(ctx, &body, true).await,
        "queues.update" => queues::update(ctx, who, &body).await,
        "queues.add_or_update_metadata" => queues::edit_metadata(ctx, who, &body, false).await,
        "queues.delete_metadata" => queues::edit_metadata(ctx, who, &body, true).await,
        "queues.get_queue_metrics" => queues::get_queue_metrics(ctx, &body).await,
        "queues.peek_task" => queues::peek_task(ctx, &body).await,
        "queues.clear_queue" => queues::clear_queue(ctx, who, &body).await,
        "queues.get_by_id" => queues::get_by_id(ctx, &body).await,
        "queues.get_default" => queues::get_default(ctx).await,
        "queues.create" => queues::create(ctx, who, &body).await,
        "queues.delete" => queues::delete(ctx, who, &body).await,
        "queues.get_num_entries" => queues::get_num_entries(ctx, &body).await,
        "queues.add_task" => queues::add_task(ctx, who, &body).await,
        "queues.remove_task" => queues::remove_task(ctx, who, &body).await,
        "queues.move_task_forward" => queues::move_task(ctx, who, &body, "forward").await,
        "queues.move_task_backward" => queues::move_task(ctx, who, &body, "backward").await,
        "queues.move_task_to_front" => queues::move_task(ctx, who, &body, "front").await,
        "queues.move_task_to_back" => queues::move_task(ctx, who, &body, "back").await,
        "queues.get_next_task" => workers::get_next_task(ctx, who, headers, &body).await,
        "users.get_current_user" => users::get_current_user(ctx, who).await,
        "users.get_by_id" => users::get_by_id(ctx, &body).await,
        "workers.get_all" => workers::get_all(ctx, &body).await,
        "workers.get_metric_keys" => worker_stats::get_metric_keys(ctx, &body).await,
        "workers.get_stats" => worker_stats::get_stats(ctx, &body).await,
        "workers.get_activity_report" => worker_stats::get_activity_report(ctx, &body).await,
        "workers.get_count" => workers::get_count(ctx, &body).await,
        "workers.set_runtime_properties" => workers::set_runtime_properties(ctx, who, headers, &body).await,
        "workers.register" => workers::register(ctx, who, headers, peer, &body).await,
        "workers.unregister" => workers::unregister(ctx, who, headers, &body).await,
        "workers.status_report" => workers::status_report(ctx, who, headers, peer, &body).await,
        _ => Err(ClearmlError::new(404, 0, format!("Unable to find endpoint for name {name} and version {version}"))),
    }
}
