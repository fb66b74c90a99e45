//! The web UI as a daemon plugin: the single-page app built from `web/` (embedded at build time,
//! served from the root with the app's routes falling back to its page) and the custom
//! context-menu actions of the server's configuration (`custom.rs`).

mod assets;
mod custom;
mod http;

pub use custom::{load_actions, ActionConfig};

use runyard_daemon::plugin::{Mounted, Plugin, PluginContext};
use runyard_daemon::store::Backend;
use std::sync::Arc;

/// The UI plugin, with the custom actions from the server's configuration.
#[derive(Default)]
pub struct Ui {
    pub actions: Vec<ActionConfig>,
}

impl Plugin for Ui {
    fn name(&self) -> &'static str {
        "ui"
    }

    /// The UI keeps no tables of its own.
    fn migrator(&self, _: Backend) -> sqlx::migrate::Migrator {
        sqlx::migrate::Migrator::DEFAULT
    }

    fn mount(&self, ctx: &PluginContext) -> anyhow::Result<Mounted> {
        let actions = Arc::new(custom::Actions::new(ctx.store.clone(), self.actions.clone())?);
        Ok(Mounted {
            routes: http::routes(actions),
            root_routes: Some(assets::routes()),
            openapi: <http::Doc as utoipa::OpenApi>::openapi(),
            hooks: None,
            background: None,
        })
    }
}
