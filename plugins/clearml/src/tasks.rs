//! `tasks.*`: ClearML's task document is a view of Runyard's own task — reads map a `Task` to
//! the document, writes map the document's fields onto Runyard's edits and actions.

use crate::document::*;
use crate::envelope::{flag, required_str, str_list, Answer, ClearmlError};
use crate::lookup::{task as load, task_id};
use crate::order::SortKey;
use crate::Ctx;
use runyard_api::{Action, ActionRequest, CreateTask, EditTask, Queue, Script, Task, TaskQuery, TaskType};
use runyard_daemon::store::Principal;
use serde_json::{json, Value};

/// The system tag of a task the SDK runs by hand rather than through an agent.
const DEVELOPMENT: &str = "development";

pub async fn create(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let name = required_str(body, "name")?;
    let kind = body.get("type").and_then(Value::as_str).map_or(Some(TaskType::Training), TaskType::parse);
    let kind = kind.ok_or_else(|| ClearmlError::validation("Validation error: unknown task type"))?;
    let mut req = CreateTask {
        name: name.to_string(),
        kind,
        comment: body.get("comment").and_then(text_of).unwrap_or_default(),
        tags: str_list(body, "tags")?.unwrap_or_default(),
        system_tags: str_list(body, "system_tags")?.unwrap_or_default(),
        parent: body.get("parent").and_then(Value::as_str).map(str::to_string),
        ..Default::default()
    };
    match body.get("project").and_then(Value::as_str) {
        Some(p) => req.project_id = Some(p.to_string()),
        None => req.project = Some(runyard_daemon::services::projects::UNASSIGNED.into()),
    }
    if let Some(s) = body.get("script") {
        req.script = script_of(s, Script::default());
    }
    // The SDK binds its arguments to the task's `Args` itself.
    req.script.reads_args = true;
    if let Some(h) = body.get("hyperparams") {
        req.hyperparams = hyperparams_of(h);
    }
    if let Some(c) = body.get("configuration") {
        req.configuration = configuration_of(c);
    }
    if let Some(execution) = body.get("execution") {
        add_legacy_parameters(&mut req.hyperparams, execution, false);
        add_legacy_configuration(&mut req.configuration, execution, false);
    }
    if let Some(dest) = body.pointer("/output/destination").and_then(Value::as_str) {
        req.execution.output_uri = Some(dest.to_string());
    }
    let job = ctx.tasks.prepare_create(who, req)?;
    let task = ctx.tasks.create(job).await?;
    if let Some(models) = crate::task_models::requested(body) {
        crate::task_models::set_on_task(ctx, who, &task, &models).await?;
    }
    crate::artifacts::set_from(ctx, who, &task, body.get("execution")).await?;
    crate::verbatim::save(ctx, &task.id, body.get("script"), body.get("execution")).await?;
    Ok(json!({"id": task.id}))
}

pub async fn get_by_id(ctx: &Ctx, body: &Value) -> Answer {
    let task = load(ctx, task_id(body)?).await?;
    let doc = documents(ctx, std::slice::from_ref(&task), None, None, false).await?.remove(0);
    Ok(json!({"task": doc}))
}

/// Scalar summaries by task.
type Summaries = std::collections::BTreeMap<String, Vec<runyard_api::tracking::MetricSummary>>;

/// The tasks' documents (projected to `only_fields`), with their `last_metrics` when wanted,
/// from `known` summaries when the caller read them already.
async fn documents(
    ctx: &Ctx,
    tasks: &[Task],
    only_fields: Option<&[String]>,
    known: Option<Summaries>,
    ex: bool,
) -> Result<Vec<Value>, ClearmlError> {
    let queues = match ex {
        true => (ctx.store.list_queues().await?, crate::extras::all(ctx, crate::extras::Kind::Queue).await?),
        false => Default::default(),
    };
    // What a projection leaves out is not read.
    let wants = |prefixes: &[&str]| {
        only_fields.is_none_or(|f| f.is_empty() || f.iter().any(|f| prefixes.iter().any(|p| f.starts_with(p))))
    };
    let ids: Vec<String> = tasks.iter().map(|t| t.id.clone()).collect();
    let extras = match wants(&["script", "execution", "models", "*"]) {
        true => crate::extras::of(ctx, crate::extras::Kind::Task, &ids).await?,
        false => Default::default(),
    };
    let mut summaries = match known {
        _ if !wants(&["last_metrics"]) => Summaries::default(),
        Some(known) => known,
        None => runyard_tracking::store::summaries_of(&ctx.store, &ids).await?,
    };
    Ok(tasks
        .iter()
        .map(|t| {
            let mut doc = document(t);
            if let Some(s) = summaries.remove(&t.id) {
                doc["last_metrics"] = last_metrics(&s);
            }
            if let Some(extras) = extras.get(&t.id) {
                crate::verbatim::lay_over(&mut doc, t, extras);
            }
            if ex {
                expand(&mut doc, t, &queues);
            }
            project(&doc, only_fields)
        })
        .collect())
}

/// `tasks.get_all_ex`'s documents: references as objects (the project, the parent, the queue
/// with their names, the user).
fn expand(doc: &mut Value, t: &Task, (queues, extras): &(Vec<Queue>, Extras)) {
    if let Some(p) = project_id(t) {
        doc["project"] = json!({"id": p, "name": t.project_name});
    }
    if let Some(parent) = &t.parent {
        doc["parent"] = json!({"id": parent});
    }
    if let Some(queue) = &t.execution.queue {
        let known = queues.iter().find(|q| q.id == *queue || q.name == *queue);
        let (id, name) = known.map_or((queue, queue), |q| (&q.id, &q.name));
        let display_name = extras.get(id).and_then(|e| e.get("display_name"));
        doc["execution"]["queue"] = json!({"id": id, "name": name, "display_name": display_name});
    }
    doc["user"] = json!({"id": t.user, "name": t.user});
}

/// Extras by id.
type Extras = std::collections::HashMap<String, serde_json::Map<String, Value>>;

/// `tasks.get_all_ex` (and `get_by_id_ex`): `tasks.get_all` with references as objects.
pub async fn get_all_ex(ctx: &Ctx, body: &Value) -> Answer {
    select(ctx, body, true).await
}

/// `tasks.get_all`: filters `id`, `project`, `name` (a regex), `status`, `system_tags` and
/// `tags` (`-tag` excludes), `parent`; `only_fields`; `page`/`page_size`; `order_by`.
pub async fn get_all(ctx: &Ctx, body: &Value) -> Answer {
    select(ctx, body, false).await
}

async fn select(ctx: &Ctx, body: &Value, ex: bool) -> Answer {
    let only_fields = match str_list(body, "only_fields")? {
        Some(fields) => Some(fields),
        None => str_list(body, "projection")?,
    };
    let mut tasks: Vec<Task> = match str_list(body, "id")? {
        Some(ids) => ctx.tasks.get_many(&ids).await?,
        None => {
            let projects = str_list(body, "project")?.unwrap_or_default();
            // What the store's list query can select is selected there; everything is checked
            // again below, with what it cannot (name patterns, types, excluded tags, hidden).
            let statuses = str_list(body, "status")?
                .filter(|s| s.iter().all(|s| runyard_api::TaskStatus::parse(s).is_some()))
                .map(|s| s.join(","));
            let tag_filter = crate::tags::TagFilter::of(body, "tags")?;
            let tag = tag_filter.as_ref().and_then(|f| f.required()).map(str::to_string);
            let parents = str_list(body, "parent")?.unwrap_or_default();
            let parent = match parents.as_slice() {
                [one] if runyard_api::is_valid_id(one) => Some(one.clone()),
                _ => None,
            };
            let mut all = Vec::new();
            let scopes: Vec<Option<String>> =
                if projects.is_empty() { vec![None] } else { projects.into_iter().map(Some).collect() };
            for project in scopes {
                for archived in [false, true] {
                    let mut offset = 0;
                    loop {
                        let q = TaskQuery {
                            project: project.clone(),
                            include_subprojects: Some(flag(body, "include_subprojects")),
                            status: statuses.clone(),
                            tag: tag.clone(),
                            parent: parent.clone(),
                            archived,
                            limit: Some(10_000),
                            offset: Some(offset),
                        };
                        let (page, total) = ctx.tasks.list(q).await?;
                        offset += page.len() as u64;
                        let done = page.is_empty() || offset >= total;
                        all.extend(page);
                        if done {
                            break;
                        }
                    }
                }
            }
            all
        }
    };
    if let Some(re) = crate::envelope::name_filter(body, true)? {
        tasks.retain(|t| re.is_match(&t.name));
    }
    if let Some(re) = crate::envelope::pattern_filter(body, "comment")? {
        tasks.retain(|t| re.is_match(&t.comment));
    }
    let ranges = crate::ranges::Ranges::of(body)?;
    if !ranges.is_empty() {
        tasks.retain(|t| ranges.matches(t));
    }
    if let Some(statuses) = crate::tags::TagFilter::of(body, "status")? {
        tasks.retain(|t| statuses.matches(&[t.status.as_str().to_string()]));
    }
    if let Some(parents) = str_list(body, "parent")? {
        tasks.retain(|t| t.parent.as_ref().is_some_and(|p| parents.contains(p)));
    }
    if let Some(types) = crate::tags::TagFilter::of(body, "type")? {
        tasks.retain(|t| types.matches(&[t.kind.as_str().to_string()]));
    }
    for (field, system) in [("system_tags", true), ("tags", false)] {
        if let Some(filter) = crate::tags::TagFilter::of(body, field)? {
            tasks.retain(|t| filter.matches(if system { &t.system_tags } else { &t.tags }));
        }
        if let Some(filter) = crate::tags::ListFilter::of(body, field)? {
            tasks.retain(|t| filter.matches(if system { &t.system_tags } else { &t.tags }));
        }
    }
    if !flag(body, "search_hidden") && body.get("id").is_none() {
        tasks.retain(|t| !t.system_tags.iter().any(|s| s == "hidden"));
    }
    // Newest first unless asked otherwise.
    let order = str_list(body, "order_by")?.unwrap_or_default();
    // Read once, when sorting by a metric: the page's documents take theirs from it.
    let mut summaries = None;
    if order.is_empty() {
        if body.get("id").is_none() {
            tasks.sort_by_key(|t| std::cmp::Reverse(t.created));
        }
    } else {
        let mut keys: Vec<SortKey> = order.iter().map(|o| SortKey::parse(o)).collect::<Result<_, _>>()?;
        if keys.iter().any(SortKey::by_metric) {
            let ids: Vec<String> = tasks.iter().map(|t| t.id.clone()).collect();
            let read = runyard_tracking::store::summaries_of(&ctx.store, &ids).await?;
            keys.iter_mut().for_each(|k| k.resolve(&read));
            summaries = Some(read);
        }
        tasks.sort_by(|a, b| {
            keys.iter().map(|k| k.compare(a, b)).find(|o| o.is_ne()).unwrap_or(std::cmp::Ordering::Equal)
        });
    }
    let (tasks, scroll_id) = crate::envelope::scroll_of(body, tasks)?;
    let mut answer = json!({"tasks": documents(ctx, &tasks, only_fields.as_deref(), summaries, ex).await?});
    if let Some(id) = scroll_id {
        answer["scroll_id"] = json!(id);
    }
    Ok(answer)
}

/// `tasks.edit`: top-level fields merged into the task; with `force`, in any status but
/// Published (the SDK records a run under way this way).
pub async fn edit(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let id = task_id(body)?;
    let task = load(ctx, id).await?;
    let mut edit = EditTask::default();
    if let Some(name) = body.get("name").and_then(Value::as_str) {
        edit.name = Some(name.to_string());
    }
    if let Some(comment) = body.get("comment").and_then(text_of) {
        edit.comment = Some(comment);
    }
    if let Some(tags) = str_list(body, "tags")? {
        edit.tags = Some(tags);
    }
    edit.system_tags = str_list(body, "system_tags")?;
    if let Some(parent) = body.get("parent").and_then(Value::as_str).filter(|p| !p.is_empty()) {
        edit.parent = Some(parent.to_string());
    }
    if let Some(kind) = body.get("type").and_then(Value::as_str) {
        edit.kind =
            Some(TaskType::parse(kind).ok_or_else(|| ClearmlError::validation("Validation error: unknown task type"))?);
    }
    if let Some(s) = body.get("script") {
        edit.script = Some(script_of(s, task.script.clone()));
    }
    if let Some(h) = body.get("hyperparams") {
        edit.hyperparams = Some(hyperparams_of(h));
    }
    if let Some(c) = body.get("configuration") {
        edit.configuration = Some(configuration_of(c));
    }
    // The legacy fields replace what was set through them, unless the new ones come too.
    if let Some(execution) = body.get("execution").filter(|e| e.get("parameters").is_some()) {
        let replace = edit.hyperparams.is_none();
        let mut hyperparams = edit.hyperparams.take().unwrap_or_else(|| task.hyperparams.clone());
        add_legacy_parameters(&mut hyperparams, execution, replace);
        edit.hyperparams = Some(hyperparams);
    }
    if let Some(execution) = body.get("execution").filter(|e| e.get("model_desc").is_some()) {
        let replace = edit.configuration.is_none();
        let mut configuration = edit.configuration.take().unwrap_or_else(|| task.configuration.clone());
        add_legacy_configuration(&mut configuration, execution, replace);
        edit.configuration = Some(configuration);
    }
    if let Some(Value::Object(runtime)) = body.get("runtime") {
        edit.runtime = Some(runtime.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
    }
    if let Some(dest) = body.pointer("/output/destination") {
        let mut execution = task.execution.clone();
        execution.output_uri = dest.as_str().map(str::to_string);
        edit.execution = Some(execution);
    }
    if let Some(c) = body.get("container") {
        edit.container = Some(container_of(c));
    }
    let mut edited = if flag(body, "force") {
        ctx.tasks.edit_forced(who, id, edit).await?
    } else {
        ctx.tasks.edit(who, id, edit).await?
    };
    if let Some(models) = crate::task_models::requested(body) {
        crate::task_models::set_on_task(ctx, who, &edited, &models).await?;
    }
    crate::artifacts::set_from(ctx, who, &edited, body.get("execution")).await?;
    crate::verbatim::save(ctx, id, body.get("script"), body.get("execution")).await?;
    // Runyard keeps `archived` as a state of its own: the system tag archives or restores.
    if let Some(system_tags) = str_list(body, "system_tags")? {
        let archive = system_tags.iter().any(|t| t == runyard_api::ARCHIVED_TAG);
        if archive != edited.archived() {
            let action = if archive { Action::Archive } else { Action::Restore };
            ctx.tasks.act_one(who, id, action, ActionRequest::default()).await?;
            edited = ctx.tasks.get(id).await?;
        }
    }
    if let Some(project) = body.get("project").and_then(Value::as_str).filter(|p| *p != edited.project) {
        if !runyard_api::is_valid_id(project) || ctx.store.project(project).await.is_err() {
            return Err(ClearmlError::new(400, 401, format!("Invalid project id: id={project}")));
        }
        let req = ActionRequest { project: Some(project.to_string()), ..Default::default() };
        ctx.tasks.act_one(who, id, Action::Move, req).await?;
        edited = ctx.tasks.get(id).await?;
    }
    Ok(json!({"updated": 1, "fields": {"last_update": iso(edited.last_update)}}))
}

/// `tasks.update`: what may change in any state (name, comment, tags, system tags, project).
pub async fn update(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let mut allowed = serde_json::Map::new();
    for field in ["task", "name", "comment", "tags", "system_tags", "project"] {
        if let Some(v) = body.get(field) {
            allowed.insert(field.into(), v.clone());
        }
    }
    edit(ctx, who, &Value::Object(allowed)).await
}

pub async fn set_requirements(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let id = task_id(body)?;
    let task = load(ctx, id).await?;
    let mut script = task.script.clone();
    script.requirements = body.get("requirements").and_then(requirements_text);
    ctx.tasks.edit_forced(who, id, EditTask { script: Some(script), ..Default::default() }).await?;
    let requirements = json!({"requirements": body.get("requirements").cloned().unwrap_or(json!({}))});
    crate::verbatim::save(ctx, id, Some(&requirements), None).await?;
    Ok(json!({"updated": 1}))
}

/// `tasks.clone`: a new Draft with the source's definition, not its results.
pub async fn clone(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let id = task_id(body)?;
    let source = load(ctx, id).await?;
    let overrides = body.get("execution_overrides");
    let new_input = overrides.and_then(|o| o.get("model")).and_then(Value::as_str);
    let mut referenced: Vec<&str> = new_input.into_iter().collect();
    if flag(body, "validate_references") && new_input.is_none() {
        referenced.extend(source.models.input.iter().filter_map(|m| m.model_id.as_deref()));
    }
    for model in referenced {
        crate::models::load(ctx, model).await?;
    }
    let new_project = body.get("new_project_name").and_then(Value::as_str).map(|n| n.trim_matches('/').to_string());
    let req = ActionRequest {
        name: body.get("new_task_name").and_then(Value::as_str).map(str::to_string),
        project: new_project
            .clone()
            .or_else(|| body.get("new_task_project").and_then(Value::as_str).map(str::to_string)),
        ..Default::default()
    };
    let outcome = ctx.tasks.act_one(who, id, Action::Clone, req).await?;
    let new_id = outcome.new_id.ok_or_else(|| ClearmlError::new(500, 0, "the clone has no id"))?;
    let mut edit = EditTask::default();
    if let Some(comment) = body.get("new_task_comment").and_then(text_of) {
        edit.comment = Some(comment);
    }
    if let Some(tags) = str_list(body, "new_task_tags")? {
        edit.tags = Some(tags);
    }
    if let Some(parent) = body.get("new_task_parent").and_then(Value::as_str) {
        edit.parent = Some(parent.to_string());
    }
    if let Some(h) = body.get("new_task_hyperparams").filter(|h| h.is_object()) {
        edit.hyperparams = Some(hyperparams_of(h));
    }
    if let Some(c) = body.get("new_task_configuration").filter(|c| c.is_object()) {
        edit.configuration = Some(configuration_of(c));
    }
    // A clone is no longer the development run its source was.
    edit.system_tags = match str_list(body, "new_task_system_tags")? {
        Some(tags) => Some(tags),
        None => source
            .system_tags
            .contains(&DEVELOPMENT.to_string())
            .then(|| source.system_tags.iter().filter(|t| *t != DEVELOPMENT).cloned().collect()),
    };
    if edit != EditTask::default() {
        ctx.tasks.edit(who, &new_id, edit).await?;
    }
    if let Some(overrides) = overrides {
        let clone = ctx.tasks.get(&new_id).await?;
        crate::artifacts::set_from(ctx, who, &clone, Some(overrides)).await?;
        if let Some(models) = crate::task_models::requested(&json!({"execution": overrides})) {
            crate::task_models::set_on_task(ctx, who, &clone, &models).await?;
        }
    }
    crate::verbatim::copy(ctx, id, &new_id, overrides).await?;
    let new_project = match new_project {
        Some(_) => {
            let clone = ctx.tasks.get(&new_id).await?;
            json!({"id": clone.project, "name": clone.project_name})
        }
        None => Value::Null,
    };
    Ok(json!({"id": new_id, "new_project": new_project}))
}

/// `tasks.get_types`: the types of the tasks (of the given projects).
pub async fn get_types(ctx: &Ctx, body: &Value) -> Answer {
    let projects = body.get("projects").cloned().unwrap_or(Value::Null);
    let listed = get_all(ctx, &json!({"project": projects, "only_fields": ["type"], "search_hidden": true})).await?;
    let mut types: Vec<&str> =
        listed["tasks"].as_array().into_iter().flatten().filter_map(|t| t["type"].as_str()).collect();
    types.sort_unstable();
    types.dedup();
    Ok(json!({"types": types}))
}

/// `tasks.move`: the tasks in `ids` into the project given by id (`project`) or by name
/// (`project_name`, made when missing).
pub async fn move_to(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let ids = str_list(body, "ids")?
        .filter(|ids| !ids.is_empty())
        .ok_or_else(|| ClearmlError::validation("Validation error: missing required field 'ids'"))?;
    let project = match (body.get("project").and_then(Value::as_str), body.get("project_name").and_then(Value::as_str))
    {
        (Some(id), _) => id.to_string(),
        (None, Some(name)) => name.trim_matches('/').to_string(),
        // No project: the top, where tasks are in none.
        (None, None) => runyard_daemon::services::projects::UNASSIGNED.to_string(),
    };
    let mut moved_to = None;
    for id in &ids {
        load(ctx, id).await?;
        let req = ActionRequest { project: Some(project.clone()), ..Default::default() };
        ctx.tasks.act_one(who, id, Action::Move, req).await?;
        let moved = ctx.tasks.get(id).await?;
        moved_to.get_or_insert(project_id(&moved).map(str::to_string));
    }
    Ok(json!({"project_id": moved_to.flatten()}))
}
