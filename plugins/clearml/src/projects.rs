//! `projects.*` over Runyard's projects (full paths: `a/b` is `b` inside `a`).

use crate::document::project;
use crate::envelope::{flag, name_filter, required_str, str_list, Answer, ClearmlError};
use crate::extras::{self, Kind};
use crate::Ctx;
use runyard_api::{Action, ActionRequest};
use runyard_api::{Project, UpdateProject};
use runyard_daemon::services::access;
use runyard_daemon::services::projects::UNASSIGNED;
use runyard_daemon::store::Principal;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// A project as ClearML's document, its extras laid over it; `ids` maps paths to ids, for its
/// parent.
fn document(p: &Project, ids: &HashMap<&str, &str>, extras: Option<&Map<String, Value>>) -> Value {
    let basename = p.name.rsplit('/').next().unwrap_or(&p.name);
    let parent = p.name.rsplit_once('/').map(|(parent, _)| json!({"id": ids.get(parent), "name": parent}));
    let mut doc = json!({
        "parent": parent,
        "id": p.id,
        "name": p.name,
        "basename": basename,
        "description": p.description,
        "user": p.user,
        "company": "",
        "created": p.created.to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
        "last_update": p.created.to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
        "tags": [],
        "system_tags": [],
        "default_output_destination": null,
    });
    for (k, v) in extras.into_iter().flatten() {
        doc[k] = v.clone();
    }
    doc
}

/// `projects.get_all`: filters `id`, `name` (a regex, as the SDK anchors it), `basename`,
/// `parent` (below those projects; with `shallow_search`, right below, or at the top without
/// a parent); `only_fields`; paging.
pub async fn get_all(ctx: &Ctx, body: &Value) -> Answer {
    let all = ctx.store.list_projects().await?;
    let ids: HashMap<&str, &str> = all.iter().map(|p| (p.name.as_str(), p.id.as_str())).collect();
    let paths: HashMap<&str, &str> = all.iter().map(|p| (p.id.as_str(), p.name.as_str())).collect();
    let mut projects: Vec<&Project> = all.iter().collect();
    if let Some(wanted) = str_list(body, "id")? {
        projects.retain(|p| wanted.contains(&p.id));
    }
    if let Some(re) = name_filter(body, false)? {
        projects.retain(|p| re.is_match(&p.name));
    }
    if let Some(basename) = body.get("basename").and_then(Value::as_str) {
        projects.retain(|p| p.name.rsplit('/').next() == Some(basename));
    }
    let shallow = flag(body, "shallow_search");
    let parents: Vec<&str> =
        str_list(body, "parent")?.unwrap_or_default().iter().filter_map(|id| paths.get(id.as_str()).copied()).collect();
    if !parents.is_empty() || body.get("parent").is_some() {
        projects.retain(|p| {
            parents.iter().any(|parent| match p.name.strip_prefix(parent).and_then(|r| r.strip_prefix('/')) {
                Some(rest) => !shallow || !rest.contains('/'),
                None => false,
            })
        });
    } else if shallow {
        projects.retain(|p| !p.name.contains('/'));
    }
    let extras = extras::all(ctx, Kind::Project).await?;
    let mut docs: Vec<Value> = projects.iter().map(|p| document(p, &ids, extras.get(&p.id))).collect();
    crate::tags::retain(&mut docs, body)?;
    let mut docs = crate::envelope::page_of(body, docs);
    crate::project_stats::add(ctx, body, &mut docs, &all).await?;
    let only = str_list(body, "only_fields")?;
    Ok(json!({"projects": docs.iter().map(|d| project(d, only.as_deref())).collect::<Vec<_>>()}))
}

pub async fn get_by_id(ctx: &Ctx, body: &Value) -> Answer {
    let id = required_str(body, "project")?;
    let p = ctx.store.project(id).await.map_err(|_| crate::lookup::invalid_project(id))?;
    let parent = match p.name.rsplit_once('/') {
        Some((parent, _)) => ctx.store.project(parent).await.ok().map(|pp| (parent.to_string(), pp.id)),
        None => None,
    };
    let ids: HashMap<&str, &str> = parent.iter().map(|(path, id)| (path.as_str(), id.as_str())).collect();
    let extras = extras::get(ctx, Kind::Project, &p.id).await?;
    let mut doc = document(&p, &ids, Some(&extras));
    // By id, the parent is its id (listings give it with its name).
    doc["parent"] = doc["parent"]["id"].clone();
    Ok(json!({"project": doc}))
}

pub async fn create(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    access::person(who, "create projects")?;
    let name = required_str(body, "name")?;
    let description = body.get("description").and_then(Value::as_str).unwrap_or("");
    let name = name.trim_matches('/');
    if name.is_empty() {
        return Err(ClearmlError::new(400, 407, "invalid project name: a project needs a name"));
    }
    let mut doc = Map::new();
    extras::apply(&mut doc, body)?;
    let p = ctx.store.create_project(name, description, &who.user_id).await.map_err(not_unique)?;
    if !doc.is_empty() {
        extras::put(ctx, Kind::Project, &p.id, &doc).await?;
    }
    Ok(json!({"id": p.id}))
}

/// `projects.update`: a new `name` (a basename keeps the project's parent; a path moves it,
/// subprojects with it), `description`, tags or system tags.
pub async fn update(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    access::person(who, "change projects")?;
    let id = required_str(body, "project")?;
    let current = ctx.store.project(id).await?;
    let parent_of = |path: &str| path.trim_matches('/').rsplit_once('/').map(|(parent, _)| parent.to_string());
    let name = body.get("name").and_then(Value::as_str).map(|n| match parent_of(&current.name) {
        Some(parent) if !n.contains('/') => format!("{parent}/{n}"),
        _ => n.to_string(),
    });
    // A new name keeps the project where it is: `projects.move` moves it.
    if name.as_deref().is_some_and(|n| parent_of(n) != parent_of(&current.name)) {
        return Err(ClearmlError::new(400, 408, "Cannot update project location. Use projects.move instead"));
    }
    let description = body.get("description").and_then(Value::as_str).map(str::to_string);
    let mut fields = serde_json::Map::new();
    if let Some(n) = &name {
        fields.insert("name".into(), json!(n));
    }
    if let Some(d) = &description {
        fields.insert("description".into(), json!(d));
    }
    let mut doc = extras::get(ctx, Kind::Project, &current.id).await?;
    fields.extend(extras::apply(&mut doc, body)?);
    ctx.store
        .update_project(&current.id, &UpdateProject { name, description }, &who.user_id)
        .await
        .map_err(not_unique)?;
    extras::put(ctx, Kind::Project, &current.id, &doc).await?;
    Ok(json!({"updated": 1, "fields": fields}))
}

/// `projects.get_task_parents`: the tasks that are parents of tasks in the given projects (all
/// when none), of active or archived children only (`tasks_state`), their names matching
/// `task_name`; by name.
pub async fn get_task_parents(ctx: &Ctx, body: &Value) -> Answer {
    let projects = body.get("projects").cloned().unwrap_or(Value::Null);
    let children = crate::tasks::get_all(ctx, &json!({"project": projects, "search_hidden": true})).await?;
    let state = body.get("tasks_state").and_then(Value::as_str);
    let mut parents: Vec<String> = children["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| {
            let archived = t["system_tags"].as_array().is_some_and(|s| s.iter().any(|x| x == "archived"));
            match state {
                Some("active") => !archived,
                Some("archived") => archived,
                _ => true,
            }
        })
        .filter_map(|t| t["parent"].as_str().map(str::to_string))
        .collect();
    parents.sort_unstable();
    parents.dedup();
    let name = match body.get("task_name").and_then(Value::as_str) {
        Some(pattern) => Some(
            regex::Regex::new(pattern)
                .map_err(|e| ClearmlError::validation(format!("Validation error: task_name: {e}")))?,
        ),
        None => None,
    };
    let mut found = ctx.tasks.get_many(&parents).await?;
    found.retain(|t| name.as_ref().is_none_or(|re| re.is_match(&t.name)));
    found.sort_by(|a, b| a.name.cmp(&b.name));
    let docs: Vec<Value> = found
        .iter()
        .map(|t| match crate::document::project_id(t) {
            Some(project) => json!({"id": t.id, "name": t.name, "project": {"id": project, "name": t.project_name}}),
            None => json!({"id": t.id, "name": t.name}),
        })
        .collect();
    Ok(json!({"parents": docs}))
}

/// A name taken already: ClearML's 400/801.
pub(crate) fn not_unique(e: runyard_daemon::error::Error) -> ClearmlError {
    match e {
        runyard_daemon::error::Error::Conflict(why) => ClearmlError::new(400, 801, why),
        other => other.into(),
    }
}

/// What a project and its subprojects hold, as `projects.validate_delete` counts it: tasks and
/// models of its regular projects, dataset projects (`…/.datasets/…`) with versions, pipeline
/// projects (`…/.pipelines/…`) with runs.
struct Contents {
    tasks: Vec<(String, bool)>,
    models: Vec<(String, bool)>,
    datasets: usize,
    pipelines: usize,
}

async fn contents(ctx: &Ctx, id: &str) -> Result<Contents, ClearmlError> {
    if !runyard_api::is_valid_id(id) {
        return Err(crate::lookup::invalid_project(id));
    }
    let (subtree, _) = ctx.store.project_subtree(id).await.map_err(|_| crate::lookup::invalid_project(id))?;
    let (mut regular, mut tasks, mut datasets, mut pipelines) = (Vec::new(), Vec::new(), 0, 0);
    for (project, path) in &subtree {
        let held = ctx.store.tasks_in_projects(std::slice::from_ref(project)).await?;
        let active = held.iter().any(|(_, archived)| !archived);
        if path.contains("/.datasets/") {
            datasets += usize::from(active);
        } else if path.contains("/.pipelines/") {
            pipelines += usize::from(active);
        } else {
            regular.push(project.clone());
            tasks.extend(held);
        }
    }
    Ok(Contents { tasks, models: crate::models::in_projects(ctx, &regular).await?, datasets, pipelines })
}

fn active(items: &[(String, bool)]) -> usize {
    items.iter().filter(|(_, archived)| !archived).count()
}

/// `projects.validate_delete`: what deleting the project would touch.
pub async fn validate_delete(ctx: &Ctx, body: &Value) -> Answer {
    let c = contents(ctx, required_str(body, "project")?).await?;
    Ok(json!({
        "tasks": c.tasks.len(),
        "non_archived_tasks": active(&c.tasks),
        "models": c.models.len(),
        "non_archived_models": active(&c.models),
        "datasets": c.datasets,
        "pipelines": c.pipelines,
        "reports": 0,
        "non_archived_reports": 0,
    }))
}

/// `projects.delete`: refused while it holds active tasks, models, dataset versions or pipeline
/// runs, unless `force`; its tasks and models deleted with it (`delete_contents`), else kept in
/// no project.
pub async fn delete(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let id = required_str(body, "project")?;
    let c = contents(ctx, id).await?;
    let delete_contents = flag(body, "delete_contents");
    if !flag(body, "force") {
        let refusals = [
            (c.pipelines, 413, "project has associated pipelines with active controllers"),
            (c.datasets, 406, "project has associated non-empty datasets"),
            (active(&c.tasks), 402, "project has associated tasks"),
            (active(&c.models), 405, "project has associated models"),
        ];
        if let Some((_, code, why)) = refusals.into_iter().find(|(n, _, _)| *n > 0) {
            return Err(ClearmlError::new(400, code, format!("{why}: use force=true, id={id}")));
        }
    }
    // Kept tasks leave for no project, as in ClearML (Runyard's own deletion moves them up).
    let mut disassociated = 0;
    if !delete_contents {
        for (task, _) in &c.tasks {
            let req = ActionRequest { project: Some(UNASSIGNED.into()), ..Default::default() };
            ctx.tasks.act_one(who, task, Action::Move, req).await?;
            disassociated += 1;
        }
    }
    let q = runyard_api::DeleteProject { delete_contents, force: true };
    let done = runyard_daemon::services::projects::delete(&ctx.store, &ctx.tasks, who, id, &q).await?;
    extras::remove(ctx, Kind::Project, id).await?;
    let models: Vec<String> = c.models.into_iter().map(|(id, _)| id).collect();
    crate::models::leave_projects(ctx, &models, delete_contents).await?;
    Ok(json!({
        "deleted": done.deleted_projects,
        "disassociated_tasks": disassociated + done.moved_tasks,
        "deleted_tasks": done.deleted_tasks,
        "deleted_models": if delete_contents { models.len() } else { 0 },
        "urls": {"model_urls": [], "event_urls": [], "artifact_urls": []},
    }))
}
