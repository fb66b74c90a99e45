//! Queues and workers as the access rules allow: the way in for the HTTP handlers and the
//! plugins to change them (reads go to the store directly).

use super::access;
use crate::error::Result;
use crate::store::{Principal, Store};
use runyard_api::{Action, MoveEntry, Queue, QueueDetail, RegisterWorker, Worker, WorkerReport};

pub async fn create_queue(store: &Store, who: &Principal, name: &str) -> Result<Queue> {
    access::admin(who, "create queues")?;
    store.create_queue(name).await
}

pub async fn rename_queue(store: &Store, who: &Principal, queue: &str, name: &str) -> Result<Queue> {
    access::admin(who, "rename queues")?;
    store.rename_queue(queue, name).await
}

/// Moves a waiting task inside its queue: its owner or an admin.
pub async fn move_entry(
    store: &Store,
    who: &Principal,
    queue: &str,
    task: &str,
    to: &MoveEntry,
) -> Result<QueueDetail> {
    if let Some(head) = store.read_heads(&[task]).await?.get(task) {
        access::task(who, Action::Enqueue, &access::TaskAccess::of(head))?;
    }
    store.move_entry(queue, task, to).await
}

/// Registers a worker bound to the caller (an agent's key pair, or an admin's).
pub async fn register_worker(store: &Store, who: &Principal, req: &RegisterWorker) -> Result<Worker> {
    access::machine(who, "register workers")?;
    store.register_worker(req, &who.user_id).await
}

/// Checks that `who` may speak for worker `id` (404 if there is none).
pub async fn check_worker(store: &Store, who: &Principal, id: &str) -> Result<()> {
    let owner = store.worker_owner(id).await?;
    access::worker(who, id, owner.as_deref())
}

/// A worker's status report: from the identity it is bound to. Returns `(drain, abort)`.
pub async fn report_worker(
    store: &Store,
    who: &Principal,
    id: &str,
    report: &WorkerReport,
) -> Result<(bool, Vec<String>)> {
    check_worker(store, who, id).await?;
    store.report_worker(id, report).await
}

pub async fn set_drained(store: &Store, who: &Principal, id: &str, drained: bool) -> Result<Worker> {
    check_worker(store, who, id).await?;
    store.set_drained(id, drained).await
}

pub async fn unregister_worker(store: &Store, who: &Principal, id: &str) -> Result<()> {
    check_worker(store, who, id).await?;
    store.unregister_worker(id).await
}
