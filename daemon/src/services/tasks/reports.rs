//! The agents' reports on one task — started, completed, failed, stopped, ping — group-committed
//! on SQLite (see [`crate::services::group`]).
//!
//! Holding the write lock, the leader reads the heads of every task in the group with one query
//! on a read connection (no other writer can commit meanwhile, so they are current), lets the
//! state machine decide each report, and the store writes every accepted change as one script:
//! a single hand-off to the database thread for the whole group. A task named twice in a group, and a
//! transition that needs more than column updates, take the general path afterwards.

use super::actions::{act_one, decide, task_patch};
use super::hooks::Hooks;
use crate::error::{Error, Result};
use crate::store::{now_ms, Principal, ReportWrite, Store};
use runyard_api::{is_valid_id, Action, ActionOutcome, ActionRequest, Change};
use std::collections::HashSet;
use std::sync::Arc;

/// Most reports written in one transaction.
pub const MAX_GROUP: usize = 256;

/// One agent's report on one task.
pub(super) struct Report {
    pub who: Principal,
    pub id: String,
    pub action: Action,
    pub req: ActionRequest,
}

pub(super) async fn commit_group(
    (store, hooks): (Arc<Store>, Arc<Hooks>),
    jobs: Vec<Report>,
) -> Vec<Result<ActionOutcome>> {
    let store = &*store;
    let mut results: Vec<Option<Result<ActionOutcome>>> = jobs.iter().map(|_| None).collect();
    if let Err(error) = write_group(store, &jobs, &mut results).await {
        // Nothing was written: every report goes the general way, one by one.
        tracing::debug!(%error, "a group of reports failed; retrying them one by one");
        results.iter_mut().for_each(|r| *r = None);
    }
    let mut out = Vec::with_capacity(jobs.len());
    for (job, result) in jobs.iter().zip(results) {
        out.push(match result {
            Some(result) => result,
            None => act_one(store, &hooks, &job.who, &job.id, job.action, job.req.clone()).await,
        });
    }
    out
}

/// Decides and writes what it can of the group, filling in those reports' results.
async fn write_group(store: &Store, jobs: &[Report], results: &mut [Option<Result<ActionOutcome>>]) -> Result<()> {
    let guard = store.lock_writes().await;
    let ids: Vec<&str> = jobs.iter().map(|j| j.id.as_str()).filter(|id| is_valid_id(id)).collect();
    let heads = store.read_heads(&ids).await?;
    let now = now_ms();
    let mut named = HashSet::new();
    let mut writes = Vec::new();
    let mut changed = Vec::new();
    let mut written = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        if !named.insert(job.id.as_str()) {
            continue; // after this group, so it sees the first report's effect
        }
        let Some(head) = heads.get(&job.id) else {
            results[i] = Some(Err(Error::not_found("task", job.id.as_str())));
            continue;
        };
        let t = match decide(&job.who, job.action, head, &job.req, None) {
            Ok((t, _)) => t,
            Err(e) => {
                results[i] = Some(Err(e));
                continue;
            }
        };
        if t.delete || t.clone || t.join_queue {
            continue;
        }
        let patch = task_patch(job.action, &job.req, t, None, None, now);
        writes.push(ReportWrite { id: &job.id, from: head.status, patch, leave_queue: t.leave_queue });
        if t.leave_queue {
            if let Some(q) = &head.queue_id {
                changed.push(Change::Queue { id: q.clone() });
            }
        }
        let status = t.status.unwrap_or(head.status);
        changed.push(Change::Task { id: job.id.clone(), status: Some(status) });
        written.push((i, status));
    }
    if written.is_empty() {
        return Ok(());
    }
    store.write_reports(guard, &writes).await?;
    store.changes.publish(&changed);
    for (i, status) in written {
        let id = jobs[i].id.clone();
        results[i] = Some(Ok(ActionOutcome {
            id,
            ok: true,
            status: Some(status),
            error: None,
            new_id: None,
            affected: None,
            files_not_removed: Vec::new(),
        }));
    }
    Ok(())
}
