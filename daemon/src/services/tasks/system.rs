//! What the daemon itself does to tasks, decided by the lifecycle like any request: the
//! watchdog stops the tasks of a lost worker ("worker lost") and silent tasks ("non-responsive")
//! as if their agent had reported them stopped, and a queue deleted with `force` returns the
//! tasks it held to Draft as a dequeue would.

use super::actions::{state_of, task_patch};
use crate::error::{Error, Result};
use crate::store::{now_ms, Store, WriteTx};
use runyard_api::{transition, Action, ActionRequest, Change};

/// Applies `action` (with `reason`) to the tasks of `ids` that it is valid for, inside `tx`;
/// returns those it changed. Their rows are locked and compared-and-set.
async fn apply(
    store: &Store,
    tx: &mut WriteTx<'_>,
    ids: &[&str],
    action: Action,
    reason: &str,
    now: i64,
) -> Result<Vec<String>> {
    let heads = store.lock_heads(tx, ids).await?;
    let req = ActionRequest { reason: Some(reason.to_string()), ..Default::default() };
    let mut changed = Vec::new();
    for id in ids {
        let Some(head) = heads.get(*id) else { continue };
        let Ok(t) = transition(action, state_of(head)) else { continue };
        let patch = task_patch(action, &req, t, None, None, now);
        store.transition_tasks(tx, &[(id, head.status)], &patch).await?;
        if t.leave_queue {
            Store::remove_entries(tx, &[id]).await?;
        }
        tx.changed(Change::Task { id: id.to_string(), status: Some(t.status.unwrap_or(head.status)) });
        changed.push(id.to_string());
    }
    Ok(changed)
}

/// Drops worker `id` if it is still silent at `now`: its running tasks are stopped "worker
/// lost" (never completed), the tasks handed to it go back to their queues. Returns the stopped
/// tasks.
pub(super) async fn drop_lost_worker(store: &Store, id: &str, now: i64) -> Result<Vec<String>> {
    let mut tx = store.write().await?;
    if !store.lock_lost_worker(&mut tx, id, now).await? {
        return Ok(Vec::new()); // it reported meanwhile, or another replica dropped it
    }
    let running = Store::running_on(&mut tx, id).await?;
    let running: Vec<&str> = running.iter().map(String::as_str).collect();
    let stopped = apply(store, &mut tx, &running, Action::Stopped, "worker lost", now).await?;
    Store::remove_worker(&mut tx, id).await?;
    tx.commit().await?;
    store.requeue_leases(None, Some(id)).await?;
    Ok(stopped)
}

/// Stops the running tasks silent since `before` ("non-responsive").
pub(super) async fn stop_silent_tasks(store: &Store, before: i64, now: i64) -> Result<Vec<String>> {
    let mut tx = store.write().await?;
    let silent = store.silent_tasks(&mut tx, before).await?;
    let silent: Vec<&str> = silent.iter().map(String::as_str).collect();
    let stopped = apply(store, &mut tx, &silent, Action::Stopped, "non-responsive", now).await?;
    tx.commit().await?;
    Ok(stopped)
}

/// Deletes a queue. One that holds tasks is refused unless `force`; then its tasks (waiting, or
/// handed out but not started) go back to Draft. Returns those tasks.
pub(super) async fn delete_queue(store: &Store, name_or_id: &str, force: bool) -> Result<Vec<String>> {
    let mut tx = store.write().await?;
    let (id, name, held) = store.queue_to_delete(&mut tx, name_or_id).await?;
    if !held.is_empty() && !force {
        return Err(Error::Conflict(format!(
            "queue '{name}' holds {} task(s): dequeue them first, or delete with force to return them to Draft",
            held.len()
        )));
    }
    let held: Vec<&str> = held.iter().map(String::as_str).collect();
    let returned = apply(store, &mut tx, &held, Action::Dequeue, "queue deleted", now_ms()).await?;
    Store::delete_queue(&mut tx, &id, &held).await?;
    tx.commit().await?;
    Ok(returned)
}
