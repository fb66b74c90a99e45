//! `projects.*` over Runyard's projects (full paths: `a/b` is `b` inside `a`).

use crate::document::project;
use crate::envelope::{name_filter, required_str, str_list, Answer, ClearmlError};
use crate::Ctx;
use runyard_api::{Project, UpdateProject};
use runyard_daemon::services::access;
use runyard_daemon::store::Principal;
use serde_json::{json, Value};

fn document(p: &Project) -> Value {
    let basename = p.name.rsplit('/').next().unwrap_or(&p.name);
    json!({
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
    })
}

/// `projects.get_all`: `id` and `name` (a regex, as the SDK anchors it) filters, `only_fields`,
/// paging.
pub async fn get_all(ctx: &Ctx, body: &Value) -> Answer {
    let mut projects = ctx.store.list_projects().await?;
    if let Some(ids) = str_list(body, "id")? {
        projects.retain(|p| ids.contains(&p.id));
    }
    if let Some(re) = name_filter(body, false)? {
        projects.retain(|p| re.is_match(&p.name));
    }
    let projects = crate::envelope::page_of(body, projects);
    let only = str_list(body, "only_fields")?;
    let docs: Vec<Value> = projects.iter().map(|p| project(&document(p), only.as_deref())).collect();
    Ok(json!({"projects": docs}))
}

pub async fn get_by_id(ctx: &Ctx, body: &Value) -> Answer {
    let id = required_str(body, "project")?;
    let p =
        ctx.store.project(id).await.map_err(|_| ClearmlError::new(400, 201, format!("Invalid project id: id={id}")))?;
    Ok(json!({"project": document(&p)}))
}

pub async fn create(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    access::person(who, "create projects")?;
    let name = required_str(body, "name")?;
    let description = body.get("description").and_then(Value::as_str).unwrap_or("");
    let p = ctx.store.create_project(name.trim_matches('/'), description, &who.user_id).await?;
    Ok(json!({"id": p.id}))
}

/// `projects.update`: a new `name` (a basename keeps the project's parent; a path moves it,
/// subprojects with it) and/or `description`.
pub async fn update(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    access::person(who, "change projects")?;
    let id = required_str(body, "project")?;
    let current = ctx.store.project(id).await?;
    let name = body.get("name").and_then(Value::as_str).map(|n| match current.name.rsplit_once('/') {
        Some((parent, _)) if !n.contains('/') => format!("{parent}/{n}"),
        _ => n.to_string(),
    });
    let description = body.get("description").and_then(Value::as_str).map(str::to_string);
    let mut fields = serde_json::Map::new();
    if let Some(n) = &name {
        fields.insert("name".into(), json!(n));
    }
    if let Some(d) = &description {
        fields.insert("description".into(), json!(d));
    }
    ctx.store.update_project(&current.id, &UpdateProject { name, description }, &who.user_id).await?;
    Ok(json!({"updated": 1, "fields": fields}))
}
