//! The table plugin: the API behind the task table — one query model ([`runyard_api::table`])
//! for filters, sorts, custom columns and paging, shared by the API, the CLI and the UI's URL.
//!
//! `query` turns a query into SQL over the core tables, the tracking plugin's summaries and
//! this plugin's `task_params` (hyperparameter values, kept by database triggers on every
//! write of a task's hyperparameters), within the project `scope` resolves; `catalogue` lists what the column pickers and value
//! filters offer; `export` streams CSV; `actions` applies batch actions to a query's selection
//! (and counts them dry); `views` keeps saved table states; `compare` shapes comparison data;
//! `http` serves it all.

pub mod actions;
pub mod catalogue;
pub mod compare;
pub mod export;
pub mod http;
pub mod query;
pub mod scope;
pub mod sql;
pub mod views;

use runyard_daemon::plugin::{Mounted, Plugin, PluginContext};
use runyard_daemon::store::{Backend, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;

/// How often catalogue entries no task has any more are swept.
const SWEEP_EVERY: Duration = Duration::from_secs(300);

/// Mounted after the tracking plugin, whose summaries it indexes.
pub struct Table;

impl Plugin for Table {
    fn name(&self) -> &'static str {
        "table"
    }

    fn migrator(&self, backend: Backend) -> sqlx::migrate::Migrator {
        match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        }
    }

    fn mount(&self, ctx: &PluginContext) -> anyhow::Result<Mounted> {
        Ok(Mounted {
            routes: http::routes(ctx.store.clone(), ctx.tasks.clone()),
            root_routes: None,
            openapi: http::TableDoc::openapi(),
            hooks: None,
            background: Some(Box::new({
                let store = ctx.store.clone();
                move |stop| Box::pin(sweep_catalogue(store, stop))
            })),
        })
    }
}

/// Sweeps the catalogues now and then, until `stop`.
async fn sweep_catalogue(store: Arc<Store>, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
        }
        match catalogue::sweep(&store).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(entries = n, "catalogue entries swept"),
            Err(e) => tracing::warn!(error = %e, "catalogue sweep failed"),
        }
    }
}
