//! The task service: the one way in to tasks for the HTTP handlers and the plugins. It validates,
//! asks the lifecycle (`runyard_api::transition`) about every status change, writes through the
//! store, and calls the plugins' [`TaskHooks`] around the writes that clear or clone tasks. The
//! store knows no plugin.
//!
//! - `validate`: the rules a name, a tag list or a task definition must keep (no IO);
//! - `create`: creation, group-committed on SQLite;
//! - `read`: single reads and the list;
//! - `edit`: edits of a task and the outputs it registers;
//! - `actions`: every lifecycle action, single or batched, in one transaction;
//! - `reports`: the agents' single-task reports, group-committed on SQLite;
//! - `system`: what the daemon itself does to tasks (the watchdog's stops, a forced queue
//!   deletion's returns to Draft);
//! - `hooks`: the plugins' reactions to clearing and cloning.

mod actions;
mod create;
mod edit;
mod hooks;
mod read;
mod reports;
mod system;
mod validate;

#[cfg(test)]
mod tests;

pub use actions::MAX_BATCH;
pub use create::PreparedCreate;
pub use hooks::TaskHooks;
pub use read::MAX_TAG_FILTER;

use super::group::Group;
use crate::error::Result;
use crate::store::{Backend, Principal, Store};
use hooks::Hooks;
use runyard_api::{Action, ActionOutcome, ActionRequest, ActionResponse, CreateTask, EditTask, Task, TaskQuery};
use std::sync::Arc;

/// Shared by every request handler and plugin. Cheap to clone.
#[derive(Clone)]
pub struct TaskService {
    store: Arc<Store>,
    hooks: Arc<Hooks>,
    creations: Group<PreparedCreate, Task>,
    reports: Group<reports::Report, ActionOutcome>,
    /// Tasks of a batch applied per transaction.
    batch_chunk: usize,
}

impl TaskService {
    pub fn new(store: Arc<Store>) -> TaskService {
        let hooks = Arc::new(Hooks::default());
        let creations = Group::new(store.clone(), create::MAX_GROUP, create::commit_group);
        let reports = Group::new((store.clone(), hooks.clone()), reports::MAX_GROUP, reports::commit_group);
        TaskService { store, hooks, creations, reports, batch_chunk: actions::BATCH_CHUNK }
    }

    /// The same service applying batches `chunk` tasks per transaction.
    #[cfg(test)]
    fn with_batch_chunk(mut self, chunk: usize) -> TaskService {
        self.batch_chunk = chunk;
        self
    }

    /// Registers the plugins' hooks, once, when the daemon is built; later calls are ignored.
    pub fn register_hooks(&self, hooks: Vec<Arc<dyn TaskHooks>>) {
        self.hooks.register(hooks);
    }

    /// Validates a creation request without touching the database.
    pub fn prepare_create(&self, who: &Principal, req: CreateTask) -> Result<PreparedCreate> {
        create::prepare(who, req)
    }

    /// Writes a prepared task (with the creations of concurrent requests, on SQLite).
    pub async fn create(&self, job: PreparedCreate) -> Result<Task> {
        if self.store.backend() == Backend::Postgres {
            return create::commit(&self.store, std::slice::from_ref(&job)).await.map(|mut t| t.remove(0));
        }
        self.creations.submit(job).await
    }

    pub async fn get(&self, id: &str) -> Result<Task> {
        read::get(&self.store, id).await
    }

    /// The tasks of `ids` that exist, in the order given (duplicates and malformed ids dropped).
    pub async fn get_many(&self, ids: &[String]) -> Result<Vec<Task>> {
        read::get_many(&self.store, ids).await
    }

    /// A page of tasks, newest first, with the total count of matches.
    pub async fn list(&self, q: TaskQuery) -> Result<(Vec<Task>, u64)> {
        read::list(&self.store, q).await
    }

    /// Edits a task. Name, comment and tags can change in any status; the definition only on Drafts.
    pub async fn edit(&self, who: &Principal, id: &str, edit: EditTask) -> Result<Task> {
        edit::edit(&self.store, who, id, edit, false).await
    }

    /// Edits the definition of a task in any status but Published: what a client records about a
    /// run already under way (its script, environment, parameters), as ClearML's `force` allows.
    pub async fn edit_forced(&self, who: &Principal, id: &str, edit: EditTask) -> Result<Task> {
        edit::edit(&self.store, who, id, edit, true).await
    }

    /// Registers artifacts and models (upserted by name) on a task that is not Published.
    pub async fn register_outputs(&self, who: &Principal, id: &str, req: runyard_api::RegisterOutputs) -> Result<Task> {
        edit::register_outputs(&self.store, who, id, req).await
    }

    /// Who a task's own process acts as: its owner, scoped to the task and `attempt`. Asked by
    /// the agent whose worker holds the task, for its current attempt.
    pub async fn process_identity(&self, who: &Principal, id: &str, attempt: i64) -> Result<Principal> {
        crate::services::access::machine(who, "ask for a task's token")?;
        let heads = self.store.read_heads(&[id]).await?;
        let head = heads.get(id).ok_or_else(|| crate::error::Error::not_found("task", id))?;
        let facts = crate::services::access::TaskAccess::of(head);
        crate::services::access::task(who, Action::Ping, &facts)?;
        crate::services::access::attempt(&facts, Some(attempt))?;
        let mut owner = self
            .store
            .principal(&head.owner)
            .await?
            .ok_or_else(|| crate::error::Error::Conflict(format!("the owner of task '{id}' no longer exists")))?;
        owner.task = Some(crate::store::TaskScope { id: id.to_string(), attempt });
        Ok(owner)
    }

    /// Applies `action` to every task in `req.ids`, reporting each task's outcome.
    pub async fn act(&self, who: &Principal, action: Action, req: ActionRequest) -> Result<ActionResponse> {
        actions::act(&self.store, &self.hooks, who, action, req, self.batch_chunk).await
    }

    /// Applies `action` to one task; a refusal is an error (404, 409).
    pub async fn act_one(
        &self,
        who: &Principal,
        id: &str,
        action: Action,
        req: ActionRequest,
    ) -> Result<ActionOutcome> {
        actions::act_one(&self.store, &self.hooks, who, id, action, req).await
    }

    /// An agent's report on one task (started, completed, failed, stopped, ping), written with
    /// the concurrent reports of other agents on SQLite; any other action as [`Self::act_one`].
    pub async fn report(&self, who: &Principal, id: &str, action: Action, req: ActionRequest) -> Result<ActionOutcome> {
        if !crate::services::access::is_agent_report(action) || self.store.backend() == Backend::Postgres {
            return self.act_one(who, id, action, req).await;
        }
        self.reports.submit(reports::Report { who: who.clone(), id: id.to_string(), action, req }).await
    }

    /// Drops worker `id` if it is still silent at `now`: its running tasks are stopped "worker
    /// lost", the tasks handed to it go back to their queues. Returns the stopped tasks.
    pub async fn drop_lost_worker(&self, id: &str, now: i64) -> Result<Vec<String>> {
        system::drop_lost_worker(&self.store, id, now).await
    }

    /// Stops the running tasks silent since `before` ("non-responsive"); returns them.
    pub async fn stop_silent_tasks(&self, before: i64, now: i64) -> Result<Vec<String>> {
        system::stop_silent_tasks(&self.store, before, now).await
    }

    /// Deletes a queue. One that holds tasks is refused unless `force`; then they go back to
    /// Draft. Returns those tasks.
    pub async fn delete_queue(&self, who: &Principal, name_or_id: &str, force: bool) -> Result<Vec<String>> {
        crate::services::access::admin(who, "delete queues")?;
        system::delete_queue(&self.store, name_or_id, force).await
    }
}
