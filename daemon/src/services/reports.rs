//! The agents' reports on one task — started, completed, failed, stopped, ping — group-committed
//! on SQLite (see [`super::group`]).
//!
//! Holding the write lock, the leader reads the heads of every task in the group with one query
//! on a read connection (no other writer can commit meanwhile, so they are current), lets the
//! state machine decide each report, and writes every accepted change as one script: a single
//! hand-off to the database thread for the whole group. A task named twice in a group, and a
//! transition that needs more than column updates, take the general path afterwards.

use super::group::Group;
use super::tasks::{act_one, decide, task_sets};
use crate::error::{Error, Result};
use crate::store::tasks::text;
use crate::store::{now_ms, Backend, Principal, Store};
use runyard_api::{is_valid_id, Action, ActionOutcome, ActionRequest, Change};
use std::collections::HashSet;
use std::sync::Arc;

/// Most reports written in one transaction.
pub const MAX_GROUP: usize = 256;

struct Report {
    who: Principal,
    id: String,
    action: Action,
    req: ActionRequest,
}

/// Applies single-task actions. Cheap to clone.
#[derive(Clone)]
pub struct Reporter {
    store: Arc<Store>,
    group: Group<Report, ActionOutcome>,
}

impl Reporter {
    pub fn new(store: Arc<Store>) -> Reporter {
        let group = Group::new(store.clone(), MAX_GROUP, commit_group);
        Reporter { store, group }
    }

    /// Applies `action` to one task; a refusal is an error (404, 409).
    pub async fn act(&self, who: &Principal, id: &str, action: Action, req: ActionRequest) -> Result<ActionOutcome> {
        let report =
            matches!(action, Action::Started | Action::Completed | Action::Failed | Action::Stopped | Action::Ping);
        if !report || self.store.backend() == Backend::Postgres {
            return act_one(&self.store, who, id, action, req).await;
        }
        self.group.submit(Report { who: who.clone(), id: id.to_string(), action, req }).await
    }
}

async fn commit_group(store: Arc<Store>, jobs: Vec<Report>) -> Vec<Result<ActionOutcome>> {
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
            None => act_one(store, &job.who, &job.id, job.action, job.req.clone()).await,
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
    let mut script = String::from("BEGIN IMMEDIATE;\n");
    let mut values = Vec::new();
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
        let t = match decide(job.action, head, &job.req, None) {
            Ok((t, _)) => t,
            Err(e) => {
                results[i] = Some(Err(e));
                continue;
            }
        };
        if t.delete || t.clone || t.join_queue {
            continue;
        }
        let (sql, update) = store.update_task_sql(&job.id, &task_sets(job.action, &job.req, t, None, None, now));
        script.push_str(&sql);
        script.push_str(";\n");
        values.extend(update);
        if t.leave_queue {
            script
                .push_str("DELETE FROM queue_entries WHERE task_id = ?;\nDELETE FROM task_leases WHERE task_id = ?;\n");
            values.extend([text(Some(&job.id)), text(Some(&job.id))]);
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
    script.push_str("COMMIT;");
    store.run_locked_script(guard, script, values).await?;
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
