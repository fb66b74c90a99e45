//! Task creation, group-committed on SQLite (see [`super::group`]).

use super::group::Group;
use super::tasks::{commit_creates, PreparedCreate};
use crate::error::Result;
use crate::store::{Backend, Store};
use runyard_api::Task;
use std::sync::Arc;

/// Most creations written in one transaction.
pub const MAX_GROUP: usize = 256;

/// Shared by every request handler. Cheap to clone.
#[derive(Clone)]
pub struct TaskCreator {
    store: Arc<Store>,
    group: Group<PreparedCreate, Task>,
}

impl TaskCreator {
    pub fn new(store: Arc<Store>) -> TaskCreator {
        let group = Group::new(store.clone(), MAX_GROUP, commit_group);
        TaskCreator { store, group }
    }

    pub async fn create(&self, job: PreparedCreate) -> Result<Task> {
        if self.store.backend() == Backend::Postgres {
            return commit_creates(&self.store, std::slice::from_ref(&job)).await.map(|mut t| t.remove(0));
        }
        self.group.submit(job).await
    }
}

/// One transaction for the whole group; if it fails, one per creation.
async fn commit_group(store: Arc<Store>, jobs: Vec<PreparedCreate>) -> Vec<Result<Task>> {
    let store = &*store;
    match commit_creates(store, &jobs).await {
        Ok(tasks) => tasks.into_iter().map(Ok).collect(),
        Err(e) if jobs.len() == 1 => vec![Err(e)],
        Err(_) => {
            let mut out = Vec::with_capacity(jobs.len());
            for job in &jobs {
                out.push(commit_creates(store, std::slice::from_ref(job)).await.map(|mut t| t.remove(0)));
            }
            out
        }
    }
}
