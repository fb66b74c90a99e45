//! The table plugin: the API behind the task table — one query model ([`runyard_api::table`])
//! for filters, sorts, custom columns and paging, shared by the API, the CLI and the UI's URL.
//!
//! `query` turns a query into SQL over the core tables, the tracking plugin's summaries and
//! this plugin's `task_params` (hyperparameter values, kept by database triggers on every
//! write of a task's hyperparameters); `http` serves it.

pub mod http;
pub mod query;
pub mod sql;

use runyard_daemon::plugin::{Mounted, Plugin, PluginContext};
use runyard_daemon::store::Backend;
use utoipa::OpenApi;

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
            routes: http::routes(ctx.store.clone()),
            root_routes: None,
            openapi: http::TableDoc::openapi(),
            hooks: None,
            background: None,
        })
    }
}
