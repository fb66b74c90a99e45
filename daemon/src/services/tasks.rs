//! The task service: creation, edits and every lifecycle action, single or batched.
//!
//! A batch runs in one write transaction: the tasks' heads are read (and locked), the pure
//! state machine in `runyard_api::lifecycle` decides each task's fate, and the accepted tasks
//! are updated in groups that share the same transition. A task the action is not valid for is
//! reported as skipped and left untouched.

use crate::error::{Error, Result};
use crate::store::tasks::{int, text, NewTaskRow};
use crate::store::{new_id, now_ms, to_time, Principal, Store, TaskFilter, TaskHead, WriteTx};
use runyard_api::{
    is_valid_id, transition, Action, ActionOutcome, ActionRequest, ActionResponse, Change, CreateTask, EditTask,
    EntryKind, Task, TaskQuery, TaskState, TaskStatus, Transition,
};
use sea_query::Value;
use sqlx::AnyConnection;
use std::collections::{HashMap, HashSet};

/// Most tasks one batch may name.
pub const MAX_BATCH: usize = 100_000;

fn validate_name(field: &str, name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if name.len() > 1024 {
        return Err(Error::invalid(field, "must be at most 1024 characters"));
    }
    if name.chars().any(|c| c.is_control()) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(())
}

fn validate_tags(field: &str, tags: &[String]) -> Result<()> {
    for (i, tag) in tags.iter().enumerate() {
        if tag.trim().is_empty() || tag.len() > 255 || tag.chars().any(|c| c.is_control()) {
            return Err(Error::invalid(
                format!("{field}[{i}]"),
                "tags must be 1 to 255 characters without control characters",
            ));
        }
    }
    Ok(())
}

fn validate_definition(task: &Task) -> Result<()> {
    let s = &task.script;
    match s.entry_kind {
        EntryKind::Module if s.entry_point.as_deref().unwrap_or("").trim().is_empty() => {
            return Err(Error::invalid("script.entry_point", "a module task needs the module name"));
        }
        EntryKind::Code => {
            if s.code.is_none() {
                return Err(Error::invalid("script.code", "a custom-code task needs its code"));
            }
            let file = s.entry_point.as_deref().unwrap_or("");
            if file.trim().is_empty() || file.starts_with('/') || file.split('/').any(|p| p == "..") {
                return Err(Error::invalid(
                    "script.entry_point",
                    "a custom-code task needs a relative file name inside the working directory",
                ));
            }
        }
        _ => {}
    }
    let refs = [s.branch.is_some(), s.tag.is_some(), s.commit.is_some()];
    if refs.iter().filter(|b| **b).count() > 1 {
        return Err(Error::invalid("script", "give at most one of branch, tag and commit"));
    }
    for (section, params) in &task.hyperparams {
        if section.trim().is_empty() {
            return Err(Error::invalid("hyperparams", "section names must not be empty"));
        }
        if params.keys().any(|k| k.trim().is_empty()) {
            return Err(Error::invalid(format!("hyperparams.{section}"), "parameter names must not be empty"));
        }
    }
    if task.configuration.keys().any(|k| k.trim().is_empty()) {
        return Err(Error::invalid("configuration", "names must not be empty"));
    }
    for key in task.environment.variables.keys() {
        if key.is_empty() || key.contains('=') || key.contains('\0') {
            return Err(Error::invalid("environment.variables", format!("'{key}' is not a valid variable name")));
        }
    }
    Ok(())
}

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
pub fn prepare_create(who: &Principal, req: CreateTask) -> Result<PreparedCreate> {
    validate_name("name", &req.name)?;
    validate_tags("tags", &req.tags)?;
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
    validate_definition(&task)?;
    Ok(PreparedCreate { task, project, enqueue: req.queue, user_id: who.user_id.clone() })
}

/// Writes prepared tasks in one transaction. Fails whole if any one of them fails.
pub async fn commit_creates(store: &Store, jobs: &[PreparedCreate]) -> Result<Vec<Task>> {
    if let Some(tasks) = commit_creates_fast(store, jobs).await? {
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
    Store::insert_tasks(&mut tx, &rows).await?;
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
async fn commit_creates_fast(store: &Store, jobs: &[PreparedCreate]) -> Result<Option<Vec<Task>>> {
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

fn dedup(items: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    items.into_iter().filter(|t| seen.insert(t.clone())).collect()
}

pub async fn get(store: &Store, id: &str) -> Result<Task> {
    if !is_valid_id(id) {
        return Err(Error::not_found("task", id));
    }
    store.get_task(id).await
}

/// The tasks of `ids` that exist, in the order given (duplicates and malformed ids dropped).
pub async fn get_many(store: &Store, ids: &[String]) -> Result<Vec<Task>> {
    let mut seen = std::collections::HashSet::new();
    let ids: Vec<&str> = ids.iter().map(String::as_str).filter(|id| is_valid_id(id) && seen.insert(*id)).collect();
    store.get_tasks(&ids).await
}

/// The most tags one list filter names (each is a condition of the query).
pub const MAX_TAG_FILTER: usize = 100;

pub async fn list(store: &Store, q: TaskQuery) -> Result<(Vec<Task>, u64)> {
    let project = match &q.project {
        Some(p) => Some((store.resolve_project(p).await?.1, q.include_subprojects.unwrap_or(true))),
        None => None,
    };
    let mut statuses: Vec<TaskStatus> = match &q.status {
        Some(s) => s
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| TaskStatus::parse(s).ok_or_else(|| Error::invalid("status", format!("unknown status '{s}'"))))
            .collect::<Result<_>>()?,
        None => Vec::new(),
    };
    statuses.sort_by_key(|s| s.as_str());
    statuses.dedup();
    let mut tags: Vec<String> =
        q.tag.map(|t| t.split(',').map(str::to_string).filter(|t| !t.is_empty()).collect()).unwrap_or_default();
    tags.sort();
    tags.dedup();
    if tags.len() > MAX_TAG_FILTER {
        return Err(Error::invalid("tag", format!("names {} tags, at most {MAX_TAG_FILTER} are allowed", tags.len())));
    }
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > 10_000 {
        return Err(Error::invalid("limit", "must be between 1 and 10000"));
    }
    if q.offset.is_some_and(|o| o > i64::MAX as u64) {
        return Err(Error::invalid("offset", "is too large"));
    }
    let filter = TaskFilter {
        project,
        statuses,
        archived: q.archived,
        tags,
        parent: q.parent,
        limit: limit as u64,
        offset: q.offset.unwrap_or(0),
    };
    store.list_tasks(&filter).await
}

/// Edits a task. Name, comment and tags can change in any status; the definition only on Drafts.
pub async fn edit(store: &Store, id: &str, edit: EditTask) -> Result<Task> {
    edit_task(store, id, edit, false).await
}

/// Edits the definition of a task in any status but Published: what a client records about a
/// run already under way (its script, environment, parameters), as ClearML's `force` allows.
pub async fn edit_forced(store: &Store, id: &str, edit: EditTask) -> Result<Task> {
    edit_task(store, id, edit, true).await
}

async fn edit_task(store: &Store, id: &str, edit: EditTask, force: bool) -> Result<Task> {
    if !is_valid_id(id) {
        return Err(Error::not_found("task", id));
    }
    if let Some(name) = &edit.name {
        validate_name("name", name)?;
    }
    if let Some(tags) = &edit.tags {
        validate_tags("tags", tags)?;
    }
    let mut tx = store.write().await?;
    let head = store.lock_heads(&mut tx, &[id]).await?.remove(id).ok_or_else(|| Error::not_found("task", id))?;
    if force && head.status == TaskStatus::Published {
        return Err(runyard_api::InvalidTransition::ReadOnly.into());
    }
    let state = TaskState { edits_definition: edit.edits_definition() && !force, ..state_of(&head) };
    transition(Action::Edit, state)?;
    let mut task = store.get_task_in(&mut tx, id).await?;
    let mut sets: Vec<(&str, Value)> = Vec::new();
    if let Some(name) = edit.name {
        sets.push(("name", text(Some(name.trim()))));
    }
    if let Some(comment) = edit.comment {
        sets.push(("comment", text(Some(&comment))));
    }
    if let Some(kind) = edit.kind {
        sets.push(("type", text(Some(kind.as_str()))));
    }
    if let Some(parent) = edit.parent {
        if !is_valid_id(&parent) || store.lock_heads(&mut tx, &[&parent]).await?.is_empty() {
            return Err(Error::invalid("parent", format!("no task '{parent}'")));
        }
        sets.push(("parent", text(Some(&parent))));
    }
    let json = |v: &dyn crate::store::tasks::erased::Json| -> Result<Value> { Ok(text(Some(&v.to_json()?))) };
    if let Some(v) = edit.script {
        task.script = v;
        sets.push(("script", json(&task.script)?));
    }
    if let Some(v) = edit.environment {
        task.environment = v;
        sets.push(("environment", json(&task.environment)?));
    }
    if let Some(v) = edit.container {
        sets.push(("container", json(&v)?));
    }
    if let Some(mut v) = edit.execution {
        let queue_id = match v.queue.take() {
            Some(q) => Some(Store::resolve_queue(&mut tx, &q).await?.0),
            None => None,
        };
        sets.push(("queue_id", text(queue_id.as_deref())));
        sets.push(("execution", json(&v)?));
    }
    if let Some(v) = edit.hyperparams {
        task.hyperparams = v;
        sets.push(("hyperparams", json(&task.hyperparams)?));
    }
    if let Some(v) = edit.configuration {
        task.configuration = v;
        sets.push(("configuration", json(&task.configuration)?));
    }
    if let Some(v) = edit.runtime {
        sets.push(("runtime", json(&v)?));
    }
    if let Some(properties) = edit.properties {
        for name in properties.keys() {
            validate_name("properties", name)?;
        }
        if properties.is_empty() {
            task.hyperparams.remove(runyard_api::PROPERTIES_SECTION);
        } else {
            task.hyperparams.insert(runyard_api::PROPERTIES_SECTION.into(), properties);
        }
        sets.retain(|(c, _)| *c != "hyperparams");
        sets.push(("hyperparams", json(&task.hyperparams)?));
    }
    validate_definition(&task)?;
    let now = now_ms();
    sets.push(("last_change", int(Some(now))));
    sets.push(("last_update", int(Some(now))));
    store.update_tasks(&mut tx, &[id], &sets).await?;
    if let Some(tags) = edit.tags {
        Store::set_tags(&mut tx, id, &dedup(tags)).await?;
    }
    let task = store.get_task_in(&mut tx, id).await?;
    tx.changed(Change::Task { id: task.id.clone(), status: Some(task.status) });
    tx.commit().await?;
    Ok(task)
}

/// Registers artifacts and models (upserted by name) on a task that is not Published.
pub async fn register_outputs(store: &Store, id: &str, req: runyard_api::RegisterOutputs) -> Result<Task> {
    if !is_valid_id(id) {
        return Err(Error::not_found("task", id));
    }
    for (i, a) in req.artifacts.iter().enumerate() {
        validate_name(&format!("artifacts[{i}].name"), &a.name)?;
    }
    for (field, models) in [("input_models", &req.input_models), ("output_models", &req.output_models)] {
        for (i, m) in models.iter().enumerate() {
            validate_name(&format!("{field}[{i}].name"), &m.name)?;
        }
    }
    let mut tx = store.write().await?;
    let head = store.lock_heads(&mut tx, &[id]).await?.remove(id).ok_or_else(|| Error::not_found("task", id))?;
    if head.status == TaskStatus::Published {
        return Err(runyard_api::InvalidTransition::ReadOnly.into());
    }
    let mut task = store.get_task_in(&mut tx, id).await?;
    task.artifacts.retain(|a| !req.remove_artifacts.contains(&a.name));
    for a in req.artifacts {
        match task.artifacts.iter_mut().find(|x| x.name == a.name) {
            Some(existing) => *existing = a,
            None => task.artifacts.push(a),
        }
    }
    for (models, new) in [(&mut task.models.input, req.input_models), (&mut task.models.output, req.output_models)] {
        for m in new {
            match models.iter_mut().find(|x| x.name == m.name) {
                Some(existing) => *existing = m,
                None => models.push(m),
            }
        }
    }
    let json = |v: &dyn crate::store::tasks::erased::Json| -> Result<Value> { Ok(text(Some(&v.to_json()?))) };
    let now = now_ms();
    let sets = [
        ("artifacts", json(&task.artifacts)?),
        ("input_models", json(&task.models.input)?),
        ("output_models", json(&task.models.output)?),
        ("last_update", int(Some(now))),
        ("last_change", int(Some(now))),
    ];
    store.update_tasks(&mut tx, &[id], &sets).await?;
    let task = store.get_task_in(&mut tx, id).await?;
    tx.changed(Change::Task { id: task.id.clone(), status: Some(task.status) });
    tx.commit().await?;
    Ok(task)
}

fn state_of(head: &TaskHead) -> TaskState {
    TaskState {
        status: head.status,
        archived: head.archived,
        has_worker: head.worker.is_some(),
        edits_definition: false,
    }
}

/// Applies `action` to one task; a refusal is an error (404, 409).
pub async fn act_one(
    store: &Store,
    who: &Principal,
    id: &str,
    action: Action,
    req: ActionRequest,
) -> Result<ActionOutcome> {
    let mut results = act_inner(store, who, action, &[id.to_string()], &req).await?;
    let (id, result) = results.pop().expect("one id in, one result out");
    result.map(|applied| applied.outcome(id))
}

/// Applies `action` to every task in `req.ids`, reporting each task's outcome.
pub async fn act(store: &Store, who: &Principal, action: Action, req: ActionRequest) -> Result<ActionResponse> {
    if req.ids.is_empty() {
        return Err(Error::invalid("ids", "give at least one task id"));
    }
    if req.ids.len() > MAX_BATCH {
        return Err(Error::invalid("ids", format!("at most {MAX_BATCH} tasks per batch")));
    }
    let ids = dedup(req.ids.clone());
    let results = act_inner(store, who, action, &ids, &req).await?;
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
        Action::Enqueue if req.queue.as_deref().unwrap_or("").is_empty() => {
            Err(Error::invalid("queue", "enqueue needs a queue"))
        }
        Action::Move if req.project.as_deref().unwrap_or("").is_empty() => {
            Err(Error::invalid("project", "move needs a target project"))
        }
        Action::AddTag | Action::RemoveTag if req.tags.is_empty() => {
            Err(Error::invalid("tags", "give at least one tag"))
        }
        Action::AddTag | Action::RemoveTag => validate_tags("tags", &req.tags),
        Action::Clone => req.name.as_deref().map_or(Ok(()), |n| validate_name("name", n)),
        Action::Edit => Err(Error::invalid("action", "edit a task with PATCH /api/v1/tasks/{id}")),
        _ => Ok(()),
    }
}

async fn act_inner(
    store: &Store,
    who: &Principal,
    action: Action,
    ids: &[String],
    req: &ActionRequest,
) -> Result<Vec<(String, Result<Applied>)>> {
    check_params(action, req)?;
    let mut tx = store.write().await?;
    let now = now_ms();

    // Resolve the action's targets first: an unknown queue or project fails the whole request.
    let queue = match (&req.queue, action) {
        (Some(q), Action::Enqueue | Action::Retry) => Some(Store::resolve_queue(&mut tx, q).await?.0),
        _ => None,
    };
    let project = match (&req.project, action) {
        (Some(p), Action::Move) => Some(store.ensure_project(&mut tx, p, &who.user_id).await?),
        (Some(p), Action::Clone) => Some(store.ensure_project(&mut tx, p, &who.user_id).await?),
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
            Some(head) => decide(action, head, req, queue.as_deref()).map(|(t, target_queue)| {
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
        for hooks in store.hooks() {
            for (id, files) in hooks.cleared(&cleared).await {
                if let Some(applied) = extra.get_mut(&id) {
                    applied.files_not_removed.extend(files);
                }
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

/// The state machine's verdict on `action` for one task, with the fencing of tasks handed to
/// workers, and the queue the task joins (if it does).
pub(crate) fn decide(
    action: Action,
    head: &TaskHead,
    req: &ActionRequest,
    queue: Option<&str>,
) -> Result<(Transition, Option<String>)> {
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
        for hooks in store.hooks() {
            hooks.clear(tx, ids, t.delete).await?;
        }
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
            for hooks in store.hooks() {
                hooks.clone_task(tx, id, &new_id).await?;
            }
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
    }
    let sets = task_sets(action, req, t, queue, project, now);
    store.update_tasks(tx, ids, &sets).await?;
    if let (true, Some(q)) = (t.join_queue, queue) {
        let entries: Vec<(&str, i64)> =
            ids.iter().map(|id| (*id, req.priority.unwrap_or_else(|| heads[*id].priority))).collect();
        Store::push_entries(tx, q, &entries, now).await?;
    }
    match action {
        Action::AddTag => Store::add_tags(tx, ids, &req.tags).await?,
        Action::RemoveTag => Store::remove_tags(tx, ids, &req.tags).await?,
        Action::AbortChildren => abort_children(store, tx, req, ids, now, extra).await?,
        _ => {}
    }
    Ok(())
}

/// The task columns a transition sets.
pub(crate) fn task_sets(
    action: Action,
    req: &ActionRequest,
    t: Transition,
    queue: Option<&str>,
    project: Option<&str>,
    now: i64,
) -> Vec<(&'static str, Value)> {
    let mut sets: Vec<(&'static str, Value)> = vec![("last_update", int(Some(now)))];
    if action != Action::Ping {
        sets.push(("last_change", int(Some(now))));
    }
    let reason = req.reason.as_deref();
    let message = req.message.as_deref().unwrap_or("");
    if let Some(status) = t.status {
        sets.push(("status", text(Some(status.as_str()))));
        match status {
            TaskStatus::Queued | TaskStatus::Created | TaskStatus::Published => {
                sets.push(("status_reason", text(Some(reason.unwrap_or("")))));
                sets.push(("status_message", text(Some(""))));
            }
            TaskStatus::InProgress => {
                sets.push(("started", int(Some(now))));
                sets.push(("completed", int(None)));
                sets.push(("worker", text(req.worker.as_deref())));
                sets.push(("status_reason", text(Some(""))));
                sets.push(("status_message", text(Some(""))));
            }
            TaskStatus::Completed | TaskStatus::Failed | TaskStatus::Stopped => {
                let default = match (action, status) {
                    (Action::Abort, _) => "aborted by user",
                    (_, TaskStatus::Stopped) => "aborted",
                    _ => "",
                };
                sets.push(("completed", int(Some(now))));
                sets.push(("status_reason", text(Some(reason.unwrap_or(default)))));
                sets.push(("status_message", text(Some(message))));
            }
        }
    }
    if t.stopping {
        sets.push(("status_message", text(Some("stopping"))));
        sets.push(("status_reason", text(Some(reason.unwrap_or("aborted by user")))));
    }
    if t.clear_outputs {
        sets.push(("started", int(None)));
        sets.push(("completed", int(None)));
        sets.push(("worker", text(None)));
        sets.push(("last_iteration", int(Some(0))));
        sets.push(("artifacts", text(Some("[]"))));
        sets.push(("output_models", text(Some("[]"))));
    }
    if let Some(archived) = t.archived {
        sets.push(("archived", int(Some(archived as i64))));
    }
    if t.join_queue {
        sets.push(("queue_id", text(queue)));
    }
    if action == Action::Move {
        sets.push(("project_id", text(project)));
    }
    if let (true, Some(p)) = (t.join_queue, req.priority) {
        sets.push(("priority", int(Some(p))));
    }
    // The generic columns above sometimes repeat (e.g. started + clear_outputs): last one wins.
    let mut seen = HashSet::new();
    let mut deduped: Vec<(&'static str, Value)> = Vec::with_capacity(sets.len());
    for (c, v) in sets.into_iter().rev() {
        if seen.insert(c) {
            deduped.push((c, v));
        }
    }
    deduped
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
    let free: Vec<&str> = free.iter().map(|(id, _, _)| id.as_str()).collect();
    let base =
        [("last_update", int(Some(now))), ("last_change", int(Some(now))), ("status_reason", text(Some(reason)))];
    let mut sets = base.to_vec();
    sets.push(("status_message", text(Some("stopping"))));
    store.update_tasks(tx, &held, &sets).await?;
    let mut sets = base.to_vec();
    sets.extend([("status", text(Some("stopped"))), ("completed", int(Some(now))), ("status_message", text(Some("")))]);
    store.update_tasks(tx, &free, &sets).await?;
    for id in &free {
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
        runtime: Default::default(),
        models: runyard_api::Models { input: source.models.input.clone(), output: Vec::new() },
        artifacts: Vec::new(),
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
    Store::insert_tasks(conn, &[row]).await?;
    Ok(new_id)
}
