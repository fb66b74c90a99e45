//! Task creation: a request validated on its own (no IO), then written, on SQLite together with
//! the concurrent creations of other requests (see [`crate::services::group`]).

use super::actions::dedup;
use super::validate;
use crate::error::{Error, Result};
use crate::store::inserts::NewTaskRow;
use crate::store::{new_id, now_ms, to_time, Principal, Store};
use runyard_api::{is_valid_id, Change, CreateTask, Task, TaskStatus};
use std::sync::Arc;

/// A validated creation request, ready to be written.
pub struct PreparedCreate {
    task: Task,
    project: ProjectRef,
    /// Enqueue into this queue at once.
    enqueue: Option<String>,
    user_id: String,
}

enum ProjectRef {
    Path(String),
    Id(String),
}

/// Validates a creation request without touching the database.
pub(super) fn prepare(who: &Principal, req: CreateTask) -> Result<PreparedCreate> {
    crate::services::access::person(who, "create tasks")?;
    validate::name("name", &req.name)?;
    validate::tags("tags", &req.tags)?;
    let project = match (req.project, req.project_id) {
        (Some(path), None) => {
            runyard_api::validate_project_name(&path).map_err(|m| Error::invalid("project", m))?;
            ProjectRef::Path(path)
        }
        (None, Some(id)) => ProjectRef::Id(id),
        (Some(_), Some(_)) => return Err(Error::invalid("project", "give project or project_id, not both")),
        (None, None) => return Err(Error::invalid("project", "a task needs a project")),
    };
    if let Some(parent) = &req.parent {
        if !is_valid_id(parent) {
            return Err(Error::invalid("parent", format!("no task '{parent}'")));
        }
    }
    // Millisecond precision, as stored, so the returned view equals later reads.
    let now = to_time(now_ms());
    let task = Task {
        id: new_id(),
        name: req.name.trim().to_string(),
        project: String::new(),
        project_name: String::new(),
        kind: req.kind,
        status: if req.queue.is_some() { TaskStatus::Queued } else { TaskStatus::Created },
        status_reason: String::new(),
        status_message: String::new(),
        user: who.name.clone(),
        tags: sorted_unique(req.tags),
        system_tags: req.system_tags,
        comment: req.comment,
        parent: req.parent,
        created: now,
        started: None,
        completed: None,
        last_update: now,
        last_change: now,
        last_iteration: 0,
        worker: None,
        attempt: 0,
        priority: req.priority,
        script: req.script,
        environment: req.environment,
        container: req.container,
        execution: req.execution,
        hyperparams: req.hyperparams,
        configuration: req.configuration,
        runtime: req.runtime,
        models: Default::default(),
        artifacts: Vec::new(),
    };
    validate::definition(&task)?;
    Ok(PreparedCreate { task, project, enqueue: req.queue, user_id: who.user_id.clone() })
}

/// Writes prepared tasks in one transaction. Fails whole if any one of them fails.
pub(super) async fn commit(store: &Store, jobs: &[PreparedCreate]) -> Result<Vec<Task>> {
    if let Some(tasks) = commit_fast(store, jobs).await? {
        return Ok(tasks);
    }
    let mut tx = store.write().await?;
    let mut queue_ids: Vec<Option<String>> = Vec::with_capacity(jobs.len());
    let mut user_ids = Vec::with_capacity(jobs.len());
    let mut tasks = Vec::with_capacity(jobs.len());
    for job in jobs {
        let mut task = job.task.clone();
        let (project_id, project_name) = match &job.project {
            ProjectRef::Path(path) => (store.ensure_project(&mut tx, path, &job.user_id).await?, path.clone()),
            ProjectRef::Id(id) => Store::resolve_project_in(&mut tx, id).await?,
        };
        if let Some(parent) = &task.parent {
            if store.lock_heads(&mut tx, &[parent]).await?.is_empty() {
                return Err(Error::invalid("parent", format!("no task '{parent}'")));
            }
        }
        // `enqueue` puts the task in a queue now; `execution.queue` only records one for later.
        let (queue_id, queue_name) = match job.enqueue.as_ref().or(task.execution.queue.as_ref()) {
            Some(q) => {
                let (id, name) = Store::resolve_queue(&mut tx, q).await?;
                (Some(id), Some(name))
            }
            None => (None, None),
        };
        task.project = project_id;
        task.project_name = project_name;
        task.execution.queue = queue_name;
        queue_ids.push(queue_id);
        user_ids.push(job.user_id.as_str());
        tasks.push(task);
    }
    let rows: Vec<NewTaskRow> = (0..tasks.len())
        .map(|i| NewTaskRow {
            id: &tasks[i].id,
            task: &tasks[i],
            project_id: &tasks[i].project,
            user_id: user_ids[i],
            queue_id: queue_ids[i].as_deref(),
        })
        .collect();
    store.insert_tasks(&mut tx, &rows).await?;
    for task in &tasks {
        tx.changed(Change::Task { id: task.id.clone(), status: Some(task.status) });
    }
    for (task, queue_id) in tasks.iter().zip(&queue_ids) {
        if let (TaskStatus::Queued, Some(qid)) = (task.status, queue_id) {
            Store::push_entries(&mut tx, qid, &[(task.id.as_str(), task.priority)], task.created.timestamp_millis())
                .await?;
        }
    }
    tx.commit().await?;
    // Committed now, so safe to remember for the next creations' fast path.
    for task in &tasks {
        store.cache_project_id(&task.project_name, &task.project);
    }
    Ok(tasks)
}

/// The common case needs no reads: every project is known, no parent or queue to check.
/// Then the inserts run as one atomic write. `None` when the general path is needed.
async fn commit_fast(store: &Store, jobs: &[PreparedCreate]) -> Result<Option<Vec<Task>>> {
    let queue_of = |job: &PreparedCreate| job.enqueue.clone().or_else(|| job.task.execution.queue.clone());
    let names = dedup(jobs.iter().filter_map(queue_of).collect());
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let queues = if names.is_empty() { Default::default() } else { store.find_queues(&names).await? };
    let mut tasks = Vec::with_capacity(jobs.len());
    let mut queue_ids = Vec::with_capacity(jobs.len());
    for job in jobs {
        let ProjectRef::Path(path) = &job.project else { return Ok(None) };
        let Some(project_id) = store.cached_project_id(path) else { return Ok(None) };
        if job.task.parent.is_some() {
            return Ok(None);
        }
        let mut task = job.task.clone();
        let queue_id = match queue_of(job) {
            // An unknown queue is reported by the general path.
            Some(q) => match queues.get(&q) {
                Some((id, name)) => {
                    task.execution.queue = Some(name.clone());
                    Some(id.clone())
                }
                None => return Ok(None),
            },
            None => None,
        };
        task.project = project_id;
        task.project_name = path.clone();
        tasks.push(task);
        queue_ids.push(queue_id);
    }
    let rows: Vec<NewTaskRow> = tasks
        .iter()
        .zip(jobs)
        .zip(&queue_ids)
        .map(|((t, job), queue_id)| NewTaskRow {
            id: &t.id,
            task: t,
            project_id: &t.project,
            user_id: &job.user_id,
            queue_id: queue_id.as_deref(),
        })
        .collect();
    store.insert_tasks_atomically(&rows).await?;
    let mut changed: Vec<Change> =
        tasks.iter().map(|t| Change::Task { id: t.id.clone(), status: Some(t.status) }).collect();
    for (task, queue_id) in tasks.iter().zip(&queue_ids) {
        let change = Change::Queue { id: queue_id.clone().unwrap_or_default() };
        if task.status == TaskStatus::Queued && queue_id.is_some() && !changed.contains(&change) {
            changed.push(change);
        }
    }
    store.announce(&changed).await?;
    Ok(Some(tasks))
}

/// Tags are read back in sorted order; keep the created view the same.
fn sorted_unique(mut tags: Vec<String>) -> Vec<String> {
    tags.sort();
    tags.dedup();
    tags
}

/// Most creations written in one transaction.
pub const MAX_GROUP: usize = 256;

/// One transaction for the whole group; if it fails, one per creation.
pub(super) async fn commit_group(store: Arc<Store>, jobs: Vec<PreparedCreate>) -> Vec<Result<Task>> {
    let store = &*store;
    match commit(store, &jobs).await {
        Ok(tasks) => tasks.into_iter().map(Ok).collect(),
        Err(e) if jobs.len() == 1 => vec![Err(e)],
        Err(_) => {
            let mut out = Vec::with_capacity(jobs.len());
            for job in &jobs {
                out.push(commit(store, std::slice::from_ref(job)).await.map(|mut t| t.remove(0)));
            }
            out
        }
    }
}
