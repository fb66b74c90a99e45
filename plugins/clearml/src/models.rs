//! `models.*` and `tasks.add_or_update_model`: ClearML's model registry. Each model is kept as
//! its ClearML document (the plugin's `clearml_models` table); a task's input and output models
//! are also recorded on Runyard's task (`models`), so Runyard's own views show them.

use crate::document::project;
use crate::envelope::{flag, required_str, str_list, Answer, ClearmlError};
use crate::Ctx;
use runyard_api::RegisterOutputs;
use runyard_daemon::services::access;
use runyard_daemon::store::{new_id, now_ms, Principal};
use serde_json::{json, Map, Value};
use sqlx::Row;

/// A model of the plugin's registry, as its ClearML document.
pub(crate) async fn load(ctx: &Ctx, id: &str) -> Result<Map<String, Value>, ClearmlError> {
    let row = sqlx::query("SELECT document FROM clearml_models WHERE id = $1")
        .bind(id)
        .fetch_optional(ctx.store.pool())
        .await
        .map_err(runyard_daemon::error::Error::from)?
        .ok_or_else(|| ClearmlError::new(400, 201, format!("Invalid model id: id={id}")))?;
    let text: String = row.try_get("document").map_err(runyard_daemon::error::Error::from)?;
    serde_json::from_str(&text).map_err(|e| ClearmlError::new(500, 0, format!("a stored model is damaged: {e}")))
}

/// The fields a request may set on a model.
const FIELDS: [&str; 13] = [
    "uri",
    "name",
    "comment",
    "tags",
    "system_tags",
    "framework",
    "design",
    "labels",
    "ready",
    "project",
    "parent",
    "task",
    "last_iteration",
];

fn iso(ms: i64) -> Value {
    json!(runyard_daemon::store::to_time(ms).to_rfc3339_opts(chrono::SecondsFormat::Millis, false))
}

pub(crate) async fn save(ctx: &Ctx, doc: &Map<String, Value>, insert: bool) -> Result<(), ClearmlError> {
    let text = serde_json::to_string(doc).expect("JSON");
    let field = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_string);
    let sql = if insert {
        "INSERT INTO clearml_models (id, task_id, project_id, name, uri, created, document) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    } else {
        "UPDATE clearml_models SET task_id = $2, project_id = $3, name = $4, uri = $5, created = $6, document = $7 WHERE id = $1"
    };
    sqlx::query(sql)
        .bind(field("id"))
        .bind(field("task"))
        .bind(field("project"))
        .bind(field("name").unwrap_or_default())
        .bind(field("uri"))
        .bind(now_ms())
        .bind(text)
        .execute(ctx.store.pool())
        .await
        .map_err(runyard_daemon::error::Error::from)?;
    Ok(())
}

/// A model to change: loaded, and checked that `who` may (its creator and admins).
pub(crate) async fn load_owned(ctx: &Ctx, who: &Principal, id: &str) -> Result<Map<String, Value>, ClearmlError> {
    let doc = load(ctx, id).await?;
    access::owned(who, doc.get("user").and_then(Value::as_str), &format!("model '{id}'"))?;
    Ok(doc)
}

/// Copies the settable fields of a request onto a model document.
pub(crate) fn apply(doc: &mut Map<String, Value>, body: &Value) -> Result<(), ClearmlError> {
    for field in FIELDS {
        if let Some(v) = body.get(field) {
            doc.insert(field.to_string(), v.clone());
        }
    }
    if let Some(iteration) = body.get("iteration") {
        doc.insert("last_iteration".into(), iteration.clone());
    }
    if let Some(items) = body.get("metadata") {
        let mut metadata = Map::new();
        crate::extras::add_metadata(&mut metadata, items)?;
        doc.insert("metadata".into(), Value::Object(metadata));
    }
    doc.insert("last_update".into(), iso(now_ms()));
    Ok(())
}

/// A new model from a request, published as `ready` unless the request says.
pub(crate) async fn create_model(
    ctx: &Ctx,
    who: &Principal,
    body: &Value,
    ready: bool,
) -> Result<String, ClearmlError> {
    let id = new_id();
    let mut doc = Map::new();
    doc.insert("id".into(), json!(id));
    doc.insert("user".into(), json!(who.user_id));
    doc.insert("company".into(), json!(""));
    doc.insert("created".into(), iso(now_ms()));
    doc.insert("ready".into(), json!(ready));
    doc.insert("tags".into(), json!([]));
    doc.insert("system_tags".into(), json!([]));
    doc.insert("labels".into(), json!({}));
    doc.insert("metadata".into(), json!({}));
    apply(&mut doc, body)?;
    if doc.get("name").and_then(Value::as_str).is_none_or(str::is_empty) {
        doc.insert("name".into(), json!("Untitled model"));
    }
    save(ctx, &doc, true).await?;
    Ok(id)
}

pub async fn create(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    access::person(who, "create models")?;
    Ok(json!({"id": create_model(ctx, who, body, true).await?, "created": true}))
}

pub async fn get_by_id(ctx: &Ctx, body: &Value) -> Answer {
    Ok(json!({"model": Value::Object(load(ctx, required_str(body, "model")?).await?)}))
}

/// `models.get_all`: filters `id`, `task`, `uri`, `project`, `name` (a regex), `ready`,
/// `framework`; `only_fields`; paging; newest first.
pub async fn get_all(ctx: &Ctx, body: &Value) -> Answer {
    let rows = sqlx::query("SELECT document FROM clearml_models ORDER BY created DESC, id DESC")
        .fetch_all(ctx.store.pool())
        .await
        .map_err(runyard_daemon::error::Error::from)?;
    let mut docs: Vec<Value> = rows
        .iter()
        .filter_map(|r| r.try_get::<String, _>("document").ok())
        .filter_map(|t| serde_json::from_str(&t).ok())
        .collect();
    let mut projects = str_list(body, "project")?;
    if let Some(ids) = projects.as_mut().filter(|_| flag(body, "include_subprojects")) {
        for id in ids.clone() {
            if let Ok((subtree, _)) = ctx.store.project_subtree(&id).await {
                ids.extend(subtree.into_iter().skip(1).map(|(id, _)| id));
            }
        }
    }
    for field in ["id", "task", "uri", "project", "framework"] {
        let wanted = if field == "project" { projects.clone() } else { str_list(body, field)? };
        if let Some(wanted) = wanted {
            docs.retain(|d| d.get(field).and_then(Value::as_str).is_some_and(|v| wanted.iter().any(|w| w == v)));
        }
    }
    if let Some(re) = crate::envelope::name_filter(body, true)? {
        docs.retain(|d| d.get("name").and_then(Value::as_str).is_some_and(|n| re.is_match(n)));
    }
    if let Some(ready) = body.get("ready").and_then(Value::as_bool) {
        docs.retain(|d| d.get("ready").and_then(Value::as_bool).unwrap_or(false) == ready);
    }
    crate::tags::retain(&mut docs, body)?;
    let mut docs = crate::envelope::page_of(body, docs);
    if flag(body, "include_stats") {
        docs = docs.into_iter().map(with_stats).collect();
    }
    let only = str_list(body, "only_fields")?;
    Ok(json!({"models": docs.iter().map(|d| project(d, only.as_deref())).collect::<Vec<_>>()}))
}

/// `models.get_all_ex`: `models.get_all` with the project and the task as objects with their
/// names.
pub async fn get_all_ex(ctx: &Ctx, body: &Value) -> Answer {
    let mut answer = get_all(ctx, body).await?;
    let projects = ctx.store.list_projects().await?;
    let tasks: Vec<String> = answer["models"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["task"].as_str().map(str::to_string))
        .collect();
    let tasks = ctx.tasks.get_many(&tasks).await?;
    for model in answer["models"].as_array_mut().into_iter().flatten() {
        if let Some(id) = model.get("project").and_then(Value::as_str).map(str::to_string) {
            let name = projects.iter().find(|p| p.id == id).map(|p| p.name.clone());
            model["project"] = json!({"id": id, "name": name});
        }
        if let Some(id) = model.get("task").and_then(Value::as_str).map(str::to_string) {
            let name = tasks.iter().find(|t| t.id == id).map(|t| t.name.clone());
            model["task"] = json!({"id": id, "name": name});
        }
    }
    Ok(answer)
}

/// `models.move`: the models in `ids` into the project given by id (`project`) or by name
/// (`project_name`, made when missing), or into none.
pub async fn move_to(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let ids = str_list(body, "ids")?
        .filter(|ids| !ids.is_empty())
        .ok_or_else(|| ClearmlError::validation("Validation error: missing required field 'ids'"))?;
    let project = match (body.get("project").and_then(Value::as_str), body.get("project_name").and_then(Value::as_str))
    {
        (Some(id), _) => Some(ctx.store.project(id).await.map_err(|_| crate::lookup::invalid_project(id))?.id),
        (None, Some(name)) => {
            let name = name.trim_matches('/');
            Some(match ctx.store.project(name).await {
                Ok(p) => p.id,
                Err(_) => ctx.store.create_project(name, "", &who.user_id).await?.id,
            })
        }
        (None, None) => None,
    };
    for id in &ids {
        let mut doc = load_owned(ctx, who, id).await?;
        doc.insert("project".into(), json!(project));
        save(ctx, &doc, false).await?;
    }
    Ok(json!({"project_id": project}))
}

/// `models.get_frameworks`: the frameworks of the models (of the given projects).
pub async fn get_frameworks(ctx: &Ctx, body: &Value) -> Answer {
    let listed = get_all(ctx, &json!({"project": body.get("projects").cloned().unwrap_or(Value::Null)})).await?;
    let mut frameworks: Vec<&str> = listed["models"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["framework"].as_str().filter(|f| !f.is_empty()))
        .collect();
    frameworks.sort_unstable();
    frameworks.dedup();
    Ok(json!({"frameworks": frameworks}))
}

/// `models.edit` / `models.update`: the given fields replace the model's.
pub async fn edit(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let id = required_str(body, "model")?;
    let mut doc = load_owned(ctx, who, id).await?;
    apply(&mut doc, body)?;
    save(ctx, &doc, false).await?;
    let task = doc.get("task").and_then(Value::as_str);
    if let (Some(task), Some(iteration)) = (task, body.get("iteration").and_then(Value::as_i64)) {
        let req = RegisterOutputs { iteration: Some(iteration), ..Default::default() };
        ctx.tasks.register_outputs(who, task, req).await?;
    }
    Ok(json!({"updated": 1, "fields": {}}))
}

/// Publishes a model: refused when it is published already; the task that made it is
/// published first unless `publish_task` is false (a running one only with
/// `force_publish_task`), and a task that cannot be leaves the model as it was.
async fn publish(ctx: &Ctx, who: &Principal, id: &str, body: &Value) -> Result<Value, ClearmlError> {
    let mut doc = load_owned(ctx, who, id).await?;
    if doc.get("ready").and_then(Value::as_bool).unwrap_or(false) {
        return Err(ClearmlError::new(400, 203, format!("Model is ready: model={id}")));
    }
    let mut published_task = Value::Null;
    let with_task = body.get("publish_task").and_then(Value::as_bool).unwrap_or(true);
    if let Some(task) = doc.get("task").and_then(Value::as_str).filter(|_| with_task) {
        let force = flag(body, "force_publish_task");
        if let Some(data) = publish_task(ctx, who, task, force, true).await? {
            published_task = json!({"id": task, "data": data});
        }
    }
    doc.insert("ready".into(), json!(true));
    doc.insert("last_update".into(), iso(now_ms()));
    save(ctx, &doc, false).await?;
    Ok(published_task)
}

/// `models.set_ready`.
pub async fn set_ready(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let published_task = publish(ctx, who, required_str(body, "model")?, body).await?;
    Ok(json!({"updated": 1, "published_task": published_task}))
}

/// `models.publish_many`: each model published as by `set_ready`, each failure reported.
pub async fn publish_many(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let (mut succeeded, mut failed) = (Vec::new(), Vec::new());
    for id in str_list(body, "ids")?.unwrap_or_default() {
        match publish(ctx, who, &id, body).await {
            Ok(task) => succeeded.push(json!({"id": id, "updated": true, "published_task": task})),
            Err(e) => failed.push(json!({"id": id, "error": e.as_failure()})),
        }
    }
    Ok(json!({"succeeded": succeeded, "failed": failed}))
}

/// Publishes a task that is not yet (with `force`, a running one, stopped first), its last
/// output model with it; the publish's answer, `None` when it was published already.
pub async fn publish_task(
    ctx: &Ctx,
    who: &Principal,
    id: &str,
    force: bool,
    with_model: bool,
) -> Result<Option<Value>, ClearmlError> {
    use runyard_api::{Action, ActionRequest, TaskStatus};
    let task = crate::lookup::task(ctx, id).await?;
    if task.status == TaskStatus::Published {
        return Ok(None);
    }
    if force && task.status == TaskStatus::InProgress {
        let req = ActionRequest { worker: task.worker.clone(), ..Default::default() };
        ctx.tasks.act_one(who, id, Action::Stopped, req).await?;
    }
    ctx.tasks.act_one(who, id, Action::Publish, ActionRequest::default()).await?;
    if with_model {
        publish_output(ctx, &task).await?;
    }
    Ok(Some(json!({"updated": 1, "fields": {"status": TaskStatus::Published.as_str()}})))
}

/// With their task published: its last output model is published too.
async fn publish_output(ctx: &Ctx, task: &runyard_api::Task) -> Result<(), ClearmlError> {
    let Some(id) = task.models.output.iter().rev().find_map(|m| m.model_id.as_deref()) else { return Ok(()) };
    let Ok(mut doc) = load(ctx, id).await else { return Ok(()) };
    if !doc.get("ready").and_then(Value::as_bool).unwrap_or(false) {
        doc.insert("ready".into(), json!(true));
        save(ctx, &doc, false).await?;
    }
    Ok(())
}

/// `models.get_all` with `include_stats`: each model's label count.
fn with_stats(mut doc: Value) -> Value {
    let labels = doc.get("labels").and_then(Value::as_object).map_or(0, |l| l.len());
    doc["stats"] = json!({"labels_count": labels});
    doc
}

/// `models.add_or_update_metadata` and `models.delete_metadata`.
pub async fn edit_metadata(ctx: &Ctx, who: &Principal, body: &Value, delete: bool) -> Answer {
    let id = required_str(body, "model")?;
    let mut doc = load_owned(ctx, who, id).await?;
    crate::extras::edit_metadata(&mut doc, body, delete)?;
    save(ctx, &doc, false).await?;
    Ok(json!({"updated": 1}))
}

/// `models.update_tags`: tags added to and removed from several models.
pub async fn update_tags(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let ids = str_list(body, "ids")?.unwrap_or_default();
    let (add, remove) =
        (str_list(body, "add_tags")?.unwrap_or_default(), str_list(body, "remove_tags")?.unwrap_or_default());
    for id in &ids {
        let mut doc = load_owned(ctx, who, id).await?;
        let mut tags = crate::tags::of_doc(&Value::Object(doc.clone()), "tags");
        tags.retain(|t| !remove.contains(t));
        tags.extend(add.iter().filter(|t| !tags.contains(t)).cloned().collect::<Vec<_>>());
        doc.insert("tags".into(), json!(tags));
        save(ctx, &doc, false).await?;
    }
    Ok(json!({"updated": ids.len()}))
}

/// `models.delete`: a model made by a published task or taken as input by any task only with
/// `force` (those tasks keep naming it); the entry of the unpublished task that made it goes
/// with it.
pub async fn delete(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let id = required_str(body, "model")?;
    let doc = load_owned(ctx, who, id).await?;
    let using = ctx.store.tasks_using_model(id).await?;
    if !using.is_empty() && !flag(body, "force") {
        let msg =
            format!("model is used by tasks: as execution model, use force=True to delete: num_tasks={}", using.len());
        return Err(ClearmlError::new(400, 205, msg));
    }
    let mut still_naming = using;
    if let Some(task) = doc.get("task").and_then(Value::as_str) {
        match ctx.tasks.get(task).await {
            Ok(t) if t.status == runyard_api::TaskStatus::Published => {
                if !flag(body, "force") {
                    let msg = format!(
                        "task that created this model exists and published, use force=True to delete: task={task}"
                    );
                    return Err(ClearmlError::new(400, 206, msg));
                }
                still_naming.push(task.to_string());
            }
            Ok(_) => {
                let req = RegisterOutputs { deleted_models: vec![id.to_string()], ..Default::default() };
                ctx.tasks.register_outputs(who, task, req).await?;
            }
            Err(_) => {}
        }
    }
    sqlx::query("DELETE FROM clearml_models WHERE id = $1")
        .bind(id)
        .execute(ctx.store.pool())
        .await
        .map_err(runyard_daemon::error::Error::from)?;
    for task in still_naming {
        crate::verbatim::model_deleted(ctx, &task, id).await?;
    }
    Ok(json!({"deleted": true, "url": doc.get("uri").cloned().unwrap_or(Value::Null)}))
}

/// The models of the given projects, as `(id, archived)`.
pub async fn in_projects(ctx: &Ctx, projects: &[String]) -> Result<Vec<(String, bool)>, ClearmlError> {
    let rows = sqlx::query("SELECT id, project_id, document FROM clearml_models")
        .fetch_all(ctx.store.pool())
        .await
        .map_err(runyard_daemon::error::Error::from)?;
    let mut found = Vec::new();
    for row in rows {
        let project: Option<String> = row.try_get("project_id").map_err(runyard_daemon::error::Error::from)?;
        if !project.is_some_and(|p| projects.contains(&p)) {
            continue;
        }
        let text: String = row.try_get("document").map_err(runyard_daemon::error::Error::from)?;
        let doc: Value = serde_json::from_str(&text).unwrap_or_default();
        let archived = doc["system_tags"].as_array().is_some_and(|t| t.iter().any(|t| t == "archived"));
        found.push((row.try_get("id").map_err(runyard_daemon::error::Error::from)?, archived));
    }
    Ok(found)
}

/// With their project deleted: the models deleted too, or kept outside any project.
pub async fn leave_projects(ctx: &Ctx, ids: &[String], delete: bool) -> Result<(), ClearmlError> {
    for id in ids {
        if delete {
            sqlx::query("DELETE FROM clearml_models WHERE id = $1")
                .bind(id)
                .execute(ctx.store.pool())
                .await
                .map_err(runyard_daemon::error::Error::from)?;
        } else {
            let mut doc = load(ctx, id).await?;
            doc.insert("project".into(), Value::Null);
            save(ctx, &doc, false).await?;
        }
    }
    Ok(())
}

/// The output models of a task (those naming it as their task), as `(id, published)`.
pub async fn outputs_of(ctx: &Ctx, task: &str) -> Result<Vec<(String, bool)>, ClearmlError> {
    let rows = sqlx::query("SELECT id, document FROM clearml_models WHERE task_id = $1")
        .bind(task)
        .fetch_all(ctx.store.pool())
        .await
        .map_err(runyard_daemon::error::Error::from)?;
    let mut found = Vec::with_capacity(rows.len());
    for row in rows {
        let text: String = row.try_get("document").map_err(runyard_daemon::error::Error::from)?;
        let doc: Value = serde_json::from_str(&text).unwrap_or_default();
        found.push((row.try_get("id").map_err(runyard_daemon::error::Error::from)?, doc["ready"] == json!(true)));
    }
    Ok(found)
}

/// With their task reset or deleted: its draft output models deleted (`delete_drafts`), their
/// URIs answered; the others kept without the task (how many).
pub async fn release_outputs(ctx: &Ctx, task: &str, delete_drafts: bool) -> Result<(Vec<String>, usize), ClearmlError> {
    let (mut deleted, mut kept) = (Vec::new(), 0);
    for (id, published) in outputs_of(ctx, task).await? {
        let mut doc = load(ctx, &id).await?;
        // A draft model another task takes as input stays.
        if delete_drafts && !published && ctx.store.tasks_using_model(&id).await?.is_empty() {
            sqlx::query("DELETE FROM clearml_models WHERE id = $1")
                .bind(&id)
                .execute(ctx.store.pool())
                .await
                .map_err(runyard_daemon::error::Error::from)?;
            deleted.extend(doc.get("uri").and_then(Value::as_str).map(str::to_string));
        } else {
            doc.insert("task".into(), Value::Null);
            save(ctx, &doc, false).await?;
            kept += 1;
        }
    }
    Ok((deleted, kept))
}
