//! The extension point: a [`Plugin`] brings its own tables (migrations), routes (mounted under
//! `/api/v1`, behind authentication), task lifecycle hooks and background work. The daemon knows
//! nothing of what a plugin stores; the task service calls the hooks inside the transactions
//! that reset, delete or clone tasks, so a plugin's rows go with the task or not at all.

pub use crate::services::tasks::TaskHooks;
use crate::services::tasks::TaskService;
use crate::store::{Backend, Store};
use futures::future::BoxFuture;
use std::path::PathBuf;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// What a plugin is given when it is mounted.
#[derive(Clone)]
pub struct PluginContext {
    pub store: Arc<Store>,
    /// Every task read, edit and lifecycle action goes through it.
    pub tasks: TaskService,
    /// For plugins that authenticate requests themselves (routes outside `/api/v1`).
    pub auth: Arc<crate::auth::Auth>,
    /// The queue dispatcher (the atomic pop, with its wake-ups and metrics).
    pub dispatcher: Arc<crate::services::dispatch::Dispatcher>,
    /// The daemon's data dir: a plugin keeps its files under `data_dir/<plugin name>`.
    pub data_dir: PathBuf,
    /// The daemon's own base URL as clients reach it, e.g. `http://127.0.0.1:8080`.
    pub public_url: String,
    /// The largest request body the daemon reads (`--max-body-bytes`): a plugin serving ports
    /// of its own applies it there too.
    pub max_body_bytes: usize,
    /// How long a client has to send a request's headers (`--header-timeout-seconds`), on a
    /// plugin's own ports too.
    pub header_timeout: std::time::Duration,
    /// The most bytes of files one task may store (`--task-files-quota-bytes`); `None`: no limit.
    pub task_files_quota: Option<u64>,
    /// Object-storage destinations tasks may send files to (`--output-allow`).
    pub output_allow: Vec<String>,
    /// The daemon's count of requests in flight (`--max-in-flight`): a plugin serving ports of
    /// its own counts its requests there too.
    pub in_flight: std::sync::Arc<crate::http::open::InFlight>,
}

/// A plugin's running parts.
pub struct Mounted {
    /// Routes relative to `/api/v1`.
    pub routes: axum::Router,
    /// Routes from the root, outside `/api/v1` and its authentication: the plugin
    /// authenticates them itself (e.g. another product's API under its own prefix).
    pub root_routes: Option<axum::Router>,
    /// Its part of the OpenAPI document.
    pub openapi: utoipa::openapi::OpenApi,
    pub hooks: Option<Arc<dyn TaskHooks>>,
    /// Runs until the token is cancelled (the daemon stopping).
    pub background: Option<Box<dyn FnOnce(CancellationToken) -> BoxFuture<'static, ()> + Send>>,
}

pub trait Plugin: Send + Sync {
    fn name(&self) -> &'static str;
    /// The plugin's migrations for `backend`. Their versions must not collide with the core's
    /// or another plugin's (each plugin takes its own thousand: tracking 1000–1999, …).
    fn migrator(&self, backend: Backend) -> sqlx::migrate::Migrator;
    fn mount(&self, ctx: &PluginContext) -> anyhow::Result<Mounted>;
}
