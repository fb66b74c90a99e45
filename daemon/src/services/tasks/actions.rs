//! Every lifecycle action, single or batched.
//!
//! A batch runs in one write transaction: the tasks' heads are read (and locked), the pure
//! state machine in `runyard_api::lifecycle` decides each task's fate, and the accepted tasks
//! are updated in groups that share the same transition. A task the action is not valid for is
//! reported as skipped and left untouched.

use super::hooks::Hooks;
use super::validate;
use crate::error::{Error, Result};
use crate::services::access;
use crate::store::inserts::NewTaskRow;
use crate::store::{new_id, now_ms, Principal, Store, TaskHead, TaskPatch, WriteTx};
use runyard_api::{
    is_valid_id, transition, Action, ActionOutcome, ActionRequest, ActionResponse, Change, Task, TaskState, TaskStatus,
    Transition,
};
use sqlx::AnyConnection;
use std::collections::{HashMap, HashSet};

/// Most tasks one batch may name.
pub const MAX_BATCH: usize = 100_000;

/// Tasks applied per transaction: a large batch is applied a chunk at a time, so it never holds
/// the database's writer (SQLite) or thousands of row locks (PostgreSQL) for long.
pub const BATCH_CHUNK: usize = 5_000;

/// Times a chunk is tried again after losing a deadlock or a serialization conflict.
const CONFLICT_RETRIES: u32 = 3;

pub(super) fn state_of(head: &TaskHead) -> TaskState {
    TaskState {
        status: head.status,
        archived: head.archived,
        has_worker: head.worker.is_some(),
        edits_definition: false,
    }
}

/// Applies `action` to one task; a refusal is an error (404, 409).
pub(super) async fn act_one(
    store: &Store,
    hooks: &Hooks,
    who: &Principal,
    id: &str,
    action: Action,
    req: ActionRequest,
) -> Result<ActionOutcome> {
    let mut results = act_inner(store, hooks, who, action, &[id.to_string()], &req).await?;
    let (id, result) = results.pop().expect("one id in, one result out");
    result.map(|applied| applied.outcome(id))
}

/// Applies `action` to every task in `req.ids`, `chunk` tasks per transaction, reporting each
/// task's outcome.
pub(super) async fn act(
    store: &Store,
    hooks: &Hooks,
    who: &Principal,
    action: Action,
    req: ActionRequest,
    chunk: usize,
) -> Result<ActionResponse> {
    if req.ids.is_empty() {
        return Err(Error::invalid("ids", "give at least one task id"));
    }
    if req.ids.len() > MAX_BATCH {
        return Err(Error::invalid("ids", format!("at most {MAX_BATCH} tasks per batch")));
    }
    let ids = dedup(req.ids.clone());
    let mut results = Vec::with_capacity(ids.len());
    for part in ids.chunks(chunk.max(1)) {
        let mut tries = 0;
        let applied = loop {
            match act_inner(store, hooks, who, action, part, &req).await {
                Err(e) if tries < CONFLICT_RETRIES && store.is_conflict(&e) => {
                    tries += 1;
                    tracing::warn!(error = %e, tries, "a batch chunk lost a lock conflict: trying it again");
                    tokio::time::sleep(std::time::Duration::from_millis(20 << tries)).await;
                }
                other => break other?,
            }
        };
        results.extend(applied);
    }
    let mut response = ActionResponse { action, succeeded: 0, skipped: 0, results: Vec::with_capacity(results.len()) };
    for (id, result) in results {
        match result {
            Ok(applied) => {
                response.succeeded += 1;
                response.results.push(applied.outcome(id));
            }
            Err(e) => {
                response.skipped += 1;
                response.results.push(ActionOutcome {
                    id,
                    ok: false,
                    status: None,
                    error: Some(e.to_string()),
                    new_id: None,
                    affected: None,
                    files_not_removed: Vec::new(),
                });
            }
        }
    }
    Ok(response)
}

/// What happened to one accepted task.
#[derive(Default)]
struct Applied {
    status: Option<TaskStatus>,
    new_id: Option<String>,
    affected: Option<u64>,
    /// Reset or deleted: its outputs were cleared.
    cleared: bool,
    files_not_removed: Vec<String>,
}

impl Applied {
    fn outcome(self, id: String) -> ActionOutcome {
        ActionOutcome {
            id,
            ok: true,
            status: self.status,
            error: None,
            new_id: self.new_id,
            affected: self.affected,
            files_not_removed: self.files_not_removed,
        }
    }
}

/// Checks the parameters an action needs before anything is read.
fn check_params(action: Action, req: &ActionRequest) -> Result<()> {
    match action {
        Action::Move if req.project.as_deref().unwrap_or("").is_empty() => {
            Err(Error::invalid("project", "move needs a target project"))
        }
        Action::AddTag | Action::RemoveTag if req.tags.is_empty() => {
            Err(Error::invalid("tags", "give at least one tag"))
        }
        Action::AddTag | Action::RemoveTag => validate::tags("tags", &req.tags),
        Action::Clone => req.name.as_deref().map_or(Ok(()), |n| validate::name("name", n)),
        Action::Edit => Err(Error::invalid("action", "edit a task with PATCH /api/v1/tasks/{id}")),
        _ => Ok(()),
    }
}

async fn act_inner(
    store: &Store,
    hooks: &Hooks,
    who: &Principal,
    action: Action,
    ids: &[String],
    req: &ActionRequest,
) -> Result<Vec<(String, Result<Applied>)>> {
    check_params(action, req)?;
    let mut tx = store.write().await?;
    let now = now_ms();

    // Resolve the action's targets first: an unknown queue or project fails the whole request.
    // Enqueue without a queue: the default queue, as in ClearML.
    let queue = match (req.queue.as_deref().filter(|q| !q.is_empty()), action) {
        (Some(q), Action::Enqueue | Action::Retry) => Some(Store::resolve_queue(&mut tx, q).await?.0),
        (None, Action::Enqueue) => Some(Store::resolve_queue(&mut tx, crate::store::queues::DEFAULT_QUEUE).await?.0),
        _ => None,
    };
    // A project given by id must exist; one given by path is made when missing.
    let project = match (&req.project, action) {
        (Some(p), Action::Move | Action::Clone) if is_valid_id(p) => {
            Some(Store::resolve_project_in(&mut tx, p).await?.0)
        }
        (Some(p), Action::Move | Action::Clone) => Some(store.ensure_project(&mut tx, p, &who.user_id).await?),
        _ => None,
    };

    let valid: Vec<&str> = ids.iter().map(String::as_str).filter(|id| is_valid_id(id)).collect();
    let heads = store.lock_heads(&mut tx, &valid).await?;

    // Decide every task's fate, then group the accepted ones by what happens to them.
    let mut decisions: Vec<(String, Result<Transition>)> = Vec::with_capacity(ids.len());
    let mut groups: HashMap<(TransitionKey, Option<String>), Vec<&str>> = HashMap::new();
    let mut order: Vec<(TransitionKey, Option<String>)> = Vec::new();
    for id in ids {
        let decided = match heads.get(id) {
            None => Err(Error::not_found("task", id.as_str())),
            Some(head) => decide(who, action, head, req, queue.as_deref()).map(|(t, target_queue)| {
                let key = (TransitionKey(t), target_queue);
                if !groups.contains_key(&key) {
                    order.push(key.clone());
                }
                groups.entry(key).or_default().push(heads.get_key_value(id).expect("present").0.as_str());
                t
            }),
        };
        decisions.push((id.clone(), decided));
    }

    let mut extra: HashMap<String, Applied> = HashMap::new();
    for (id, decided) in &decisions {
        if let (Ok(t), Some(head)) = (decided, heads.get(id)) {
            let status = if t.delete { None } else { Some(t.status.unwrap_or(head.status)) };
            tx.changed(Change::Task { id: id.clone(), status });
            if t.leave_queue {
                if let Some(q) = &head.queue_id {
                    tx.changed(Change::Queue { id: q.clone() });
                }
            }
        }
    }
    for key in order {
        let group = &groups[&key];
        let (TransitionKey(t), target_queue) = key;
        apply(
            store,
            hooks,
            &mut tx,
            &heads,
            who,
            action,
            req,
            t,
            group,
            target_queue.as_deref(),
            project.as_deref(),
            now,
            &mut extra,
        )
        .await?;
    }
    tx.commit().await?;

    // What cannot be rolled back (files) goes once the transaction is committed.
    let cleared: Vec<String> = extra.iter().filter(|(_, a)| a.cleared).map(|(id, _)| id.clone()).collect();
    if !cleared.is_empty() {
        for (id, files) in hooks.cleared(&cleared).await {
            if let Some(applied) = extra.get_mut(&id) {
                applied.files_not_removed.extend(files);
            }
        }
    }

    Ok(decisions
        .into_iter()
        .map(|(id, decided)| {
            let result = decided.map(|t| {
                let mut applied = extra.remove(&id).unwrap_or_default();
                if !t.delete {
                    applied.status = Some(t.status.unwrap_or(heads[&id].status));
                }
                applied
            });
            (id, result)
        })
        .collect())
}

/// The verdict on `who` applying `action` to one task: the access rules, then the state
/// machine, with the fencing of tasks handed to workers; and the queue the task joins (if it does).
pub(crate) fn decide(
    who: &Principal,
    action: Action,
    head: &TaskHead,
    req: &ActionRequest,
    queue: Option<&str>,
) -> Result<(Transition, Option<String>)> {
    let facts = access::TaskAccess::of(head);
    access::task(who, action, &facts)?;
    if access::is_agent_report(action) {
        access::attempt(&facts, req.attempt)?;
    }
    let t = transition(action, state_of(head))?;
    // Fencing: a task handed to one worker cannot be started by another, and a worker cannot
    // start or fail a Pending task it was not handed.
    if let (Action::Started, Some(holder)) = (action, &head.leased_to) {
        if req.worker.as_deref() != Some(holder.as_str()) {
            return Err(Error::Conflict(format!("the task was handed to worker '{holder}'")));
        }
    }
    if let (Action::Started | Action::Failed, TaskStatus::Queued, Some(worker)) = (action, head.status, &req.worker) {
        if head.leased_to.as_deref() != Some(worker.as_str()) {
            return Err(Error::Conflict(format!("the task was not handed to worker '{worker}'")));
        }
    }
    let target_queue = if t.join_queue { queue.map(str::to_string).or_else(|| head.queue_id.clone()) } else { None };
    if t.join_queue && target_queue.is_none() {
        return Err(Error::invalid("queue", "the task has no previous queue: give one"));
    }
    Ok((t, target_queue))
}

/// `Transition` as a map key.
#[derive(Clone, Copy, PartialEq, Eq)]
struct TransitionKey(Transition);

impl std::hash::Hash for TransitionKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let t = self.0;
        (t.status, t.archived, t.stopping, t.leave_queue, t.join_queue, t.clear_outputs, t.delete, t.clone).hash(state)
    }
}

/// Applies one transition to a group of tasks inside the batch's transaction.
#[allow(clippy::too_many_arguments)]
async fn apply(
    store: &Store,
    hooks: &Hooks,
    tx: &mut WriteTx<'_>,
    heads: &HashMap<String, TaskHead>,
    who: &Principal,
    action: Action,
    req: &ActionRequest,
    t: Transition,
    ids: &[&str],
    queue: Option<&str>,
    project: Option<&str>,
    now: i64,
    extra: &mut HashMap<String, Applied>,
) -> Result<()> {
    if t.delete || t.clear_outputs {
        hooks.clear(tx, ids, t.delete).await?;
        for id in ids {
            extra.entry(id.to_string()).or_default().cleared = true;
        }
    }
    if t.delete {
        return Store::delete_tasks(tx, ids).await;
    }
    if t.clone {
        for id in ids {
            let new_id = clone_task(store, tx, who, id, req, project).await?;
            hooks.clone_task(tx, id, &new_id).await?;
            tx.changed(Change::Task { id: new_id.clone(), status: Some(TaskStatus::Created) });
            extra.insert(id.to_string(), Applied { new_id: Some(new_id), ..Default::default() });
        }
        return Ok(());
    }
    if t.leave_queue {
        Store::remove_entries(tx, ids).await?;
    }
    if t.clear_outputs {
        Store::clear_console(tx, ids).await?;
        store.clear_output_artifacts(tx, ids).await?;
    }
    let patch = task_patch(action, req, t, queue, project, now);
    let from: Vec<(&str, TaskStatus)> = ids.iter().map(|id| (*id, heads[*id].status)).collect();
    store.transition_tasks(tx, &from, &patch).await?;
    if let (true, Some(q)) = (t.join_queue, queue) {
        let entries: Vec<(&str, i64)> =
            ids.iter().map(|id| (*id, req.priority.unwrap_or_else(|| heads[*id].priority))).collect();
        Store::push_entries(tx, q, &entries, now).await?;
    }
    match action {
        Action::AddTag => store.add_tags(tx, ids, &req.tags).await?,
        Action::RemoveTag => Store::remove_tags(tx, ids, &req.tags).await?,
        Action::AbortChildren => abort_children(store, tx, req, ids, now, extra).await?,
        _ => {}
    }
    Ok(())
}

/// What a transition writes on the tasks it accepts.
pub(super) fn task_patch(
    action: Action,
    req: &ActionRequest,
    t: Transition,
    queue: Option<&str>,
    project: Option<&str>,
    now: i64,
) -> TaskPatch {
    let mut patch = TaskPatch { last_update: Some(now), ..Default::default() };
    if action != Action::Ping {
        patch.last_change = Some(now);
    }
    let reason = req.reason.as_deref();
    let message = req.message.clone().unwrap_or_default();
    if let Some(status) = t.status {
        patch.status = Some(status);
        match status {
            TaskStatus::Queued | TaskStatus::Created | TaskStatus::Published => {
                patch.status_reason = Some(reason.unwrap_or("").to_string());
                patch.status_message = Some(message);
            }
            TaskStatus::InProgress => {
                patch.started = Some(Some(now));
                patch.completed = Some(None);
                patch.worker = Some(req.worker.clone());
                patch.status_reason = Some(reason.unwrap_or("").to_string());
                patch.status_message = Some(message);
            }
            TaskStatus::Completed | TaskStatus::Failed | TaskStatus::Stopped => {
                let default = match (action, status) {
                    (Action::Abort, _) => "aborted by user",
                    (_, TaskStatus::Stopped) => "aborted",
                    _ => "",
                };
                patch.completed = Some(Some(now));
                patch.status_reason = Some(reason.unwrap_or(default).to_string());
                patch.status_message = Some(message);
            }
        }
    }
    if t.stopping {
        patch.status_message = Some("stopping".into());
        patch.status_reason = Some(reason.unwrap_or("aborted by user").to_string());
    }
    if t.clear_outputs {
        patch.started = Some(None);
        patch.completed = Some(None);
        patch.worker = Some(None);
        patch.last_iteration = Some(0);
        patch.output_models = Some(Vec::new());
    }
    patch.archived = t.archived;
    // Archiving keeps the status, and records why when told.
    if t.archived.is_some() && t.status.is_none() {
        patch.status_reason = req.reason.clone().or(patch.status_reason);
        patch.status_message = req.message.clone().or(patch.status_message);
    }
    if t.join_queue {
        patch.queue_id = Some(queue.map(str::to_string));
        patch.priority = req.priority;
    }
    if action == Action::Move {
        patch.project_id = project.map(str::to_string);
    }
    patch
}

/// Aborts the running children of `parents`; children held by a worker are marked stopping.
async fn abort_children(
    store: &Store,
    tx: &mut WriteTx<'_>,
    req: &ActionRequest,
    parents: &[&str],
    now: i64,
    extra: &mut HashMap<String, Applied>,
) -> Result<()> {
    let children = store.running_children(tx, parents).await?;
    let reason = req.reason.as_deref().unwrap_or("parent aborted its children");
    let (held, free): (Vec<_>, Vec<_>) = children.iter().partition(|(_, _, worker)| worker.is_some());
    let held: Vec<&str> = held.iter().map(|(id, _, _)| id.as_str()).collect();
    let free: Vec<(&str, TaskStatus)> = free.iter().map(|(id, _, _)| (id.as_str(), TaskStatus::InProgress)).collect();
    let base = TaskPatch { status_reason: Some(reason.to_string()), ..TaskPatch::changed_at(now) };
    let stopping = TaskPatch { status_message: Some("stopping".into()), ..base.clone() };
    store.update_tasks(tx, &held, &stopping).await?;
    let stopped = TaskPatch {
        status: Some(TaskStatus::Stopped),
        completed: Some(Some(now)),
        status_message: Some(String::new()),
        ..base
    };
    store.transition_tasks(tx, &free, &stopped).await?;
    for (id, _) in &free {
        tx.changed(Change::Task { id: id.to_string(), status: Some(TaskStatus::Stopped) });
    }
    for parent in parents {
        let n = children.iter().filter(|(_, p, _)| p == parent).count() as u64;
        extra.insert(parent.to_string(), Applied { affected: Some(n), ..Default::default() });
    }
    Ok(())
}

/// Copies a task's definition into a new Draft whose parent is the source.
async fn clone_task(
    store: &Store,
    conn: &mut AnyConnection,
    who: &Principal,
    id: &str,
    req: &ActionRequest,
    project: Option<&str>,
) -> Result<String> {
    let source = store.get_task_in(conn, id).await?;
    let now = chrono::Utc::now();
    let new_id = new_id();
    let queue_id = match &source.execution.queue {
        Some(q) => Store::resolve_queue(conn, q).await.ok().map(|(id, _)| id),
        None => None,
    };
    let clone = Task {
        id: new_id.clone(),
        name: req.name.clone().unwrap_or_else(|| format!("Clone Of {}", source.name)),
        status: TaskStatus::Created,
        status_reason: String::new(),
        status_message: String::new(),
        user: who.name.clone(),
        system_tags: source.system_tags.iter().filter(|t| *t != runyard_api::ARCHIVED_TAG).cloned().collect(),
        comment: format!(
            "Auto-generated at {} UTC by {} as a clone of task {} ({})",
            now.format("%Y-%m-%d %H:%M:%S"),
            who.name,
            source.id,
            source.name
        ),
        parent: Some(source.id.clone()),
        created: now,
        started: None,
        completed: None,
        last_update: now,
        last_change: now,
        last_iteration: 0,
        worker: None,
        attempt: 0,
        runtime: Default::default(),
        models: runyard_api::Models { input: source.models.input.clone(), output: Vec::new() },
        artifacts: source.artifacts.iter().filter(|a| a.is_input()).cloned().collect(),
        ..source
    };
    let project_id = project.map(str::to_string).unwrap_or_else(|| clone.project.clone());
    let row = NewTaskRow {
        id: &new_id,
        task: &clone,
        project_id: &project_id,
        user_id: &who.user_id,
        queue_id: queue_id.as_deref(),
    };
    store.insert_tasks(conn, &[row]).await?;
    Ok(new_id)
}

/// `items` without repeats, in first-seen order.
pub(super) fn dedup(items: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    items.into_iter().filter(|t| seen.insert(t.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the API document says an action needs is what the daemon asks of it.
    #[test]
    fn documented_needs_are_checked() {
        for action in Action::ALL.into_iter().filter(|a| *a != Action::Edit) {
            let needs =
                runyard_api::rules::ACTION_NEEDS.iter().find(|(a, _)| *a == action).map_or(&[][..], |(_, n)| *n);
            let bare = ActionRequest::default();
            assert_eq!(check_params(action, &bare).is_ok(), needs.is_empty(), "{action:?} without {needs:?}");
            let full = ActionRequest { project: Some("p".into()), tags: vec!["t".into()], ..Default::default() };
            assert!(check_params(action, &full).is_ok(), "{action:?} with what it needs");
        }
    }
}
