//! The tracking plugin: what a task reports while it runs — scalar series (stored in packed
//! chunks, summarised as they arrive), single values, plots, console lines and debug samples —
//! and the reads the task table, the details pages and the comparison view need.
//!
//! Layers as in the daemon: `http` (routes) → `ingest` / `reads` (validation, shaping) →
//! `store` (SQL); `series` is the pure in-memory part (chunk format, merging, downsampling).

pub mod files;
pub mod http;
pub mod ingest;
pub mod reads;
pub mod series;
pub mod store;

use futures::future::BoxFuture;
use runyard_daemon::error::Result;
use runyard_daemon::plugin::{Mounted, Plugin, PluginContext, TaskHooks};
use runyard_daemon::store::Backend;
use sqlx::AnyConnection;
use std::sync::Arc;
use utoipa::OpenApi;

pub struct Tracking;

impl Plugin for Tracking {
    fn name(&self) -> &'static str {
        "tracking"
    }

    fn migrator(&self, backend: Backend) -> sqlx::migrate::Migrator {
        match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        }
    }

    fn mount(&self, ctx: &PluginContext) -> anyhow::Result<Mounted> {
        let files = Arc::new(files::Files::new(ctx)?);
        let background = files.clone();
        Ok(Mounted {
            routes: http::routes(ctx.store.clone(), files.clone()),
            root_routes: None,
            openapi: http::TrackingDoc::openapi(),
            hooks: Some(Arc::new(Hooks { files })),
            background: Some(Box::new(move |stop| Box::pin(background.remove_in_background(stop)))),
        })
    }
}

struct Hooks {
    files: Arc<files::Files>,
}

impl TaskHooks for Hooks {
    /// Results go; files are scheduled for removal (removed once the clearing commits).
    fn clear<'a>(
        &'a self,
        conn: &'a mut AnyConnection,
        ids: &'a [&'a str],
        _deleted: bool,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            store::clear(conn, ids).await?;
            files::Files::schedule_removal(conn, ids).await
        })
    }

    /// Results are not inherited: a clone starts with none.
    fn clone_task<'a>(&'a self, _: &'a mut AnyConnection, _: &'a str, _: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async { Ok(()) })
    }

    fn cleared<'a>(&'a self, ids: &'a [String]) -> BoxFuture<'a, Vec<(String, Vec<String>)>> {
        Box::pin(self.files.remove_due(Some(ids)))
    }
}
