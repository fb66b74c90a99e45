//! The plugins' reactions to the task lifecycle. The service calls them inside the transactions
//! that reset, delete or clone tasks, so a plugin's rows go with the task or not at all, and
//! after the commit for what cannot be rolled back (files).

use crate::error::Result;
use futures::future::BoxFuture;
use sqlx::AnyConnection;
use std::sync::{Arc, OnceLock};

/// Reactions to the task lifecycle, registered by a plugin when it is mounted.
pub trait TaskHooks: Send + Sync {
    /// Inside the transaction that resets (`deleted == false`: outputs cleared, definition kept)
    /// or deletes tasks: drop what the plugin keeps for them.
    fn clear<'a>(&'a self, conn: &'a mut AnyConnection, ids: &'a [&'a str], deleted: bool)
        -> BoxFuture<'a, Result<()>>;
    /// Inside the transaction that clones `source` into `clone`: copy what a clone inherits.
    fn clone_task<'a>(
        &'a self,
        conn: &'a mut AnyConnection,
        source: &'a str,
        clone: &'a str,
    ) -> BoxFuture<'a, Result<()>>;
    /// After the clearing transaction committed: finish what cannot be rolled back (files).
    /// Returns, per task, what could not be removed now (it is retried in the background).
    fn cleared<'a>(&'a self, ids: &'a [String]) -> BoxFuture<'a, Vec<(String, Vec<String>)>>;
}

/// Every registered plugin's hooks, called in registration order.
#[derive(Default)]
pub(crate) struct Hooks(OnceLock<Vec<Arc<dyn TaskHooks>>>);

impl Hooks {
    /// Only the first call counts.
    pub fn register(&self, hooks: Vec<Arc<dyn TaskHooks>>) {
        let _ = self.0.set(hooks);
    }

    fn all(&self) -> &[Arc<dyn TaskHooks>] {
        self.0.get().map(Vec::as_slice).unwrap_or_default()
    }

    pub async fn clear(&self, conn: &mut AnyConnection, ids: &[&str], deleted: bool) -> Result<()> {
        for hooks in self.all() {
            hooks.clear(conn, ids, deleted).await?;
        }
        Ok(())
    }

    pub async fn clone_task(&self, conn: &mut AnyConnection, source: &str, clone: &str) -> Result<()> {
        for hooks in self.all() {
            hooks.clone_task(conn, source, clone).await?;
        }
        Ok(())
    }

    /// What each task kept that could not be removed now.
    pub async fn cleared(&self, ids: &[String]) -> Vec<(String, Vec<String>)> {
        let mut left = Vec::new();
        for hooks in self.all() {
            left.extend(hooks.cleared(ids).await);
        }
        left
    }
}
