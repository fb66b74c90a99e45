//! ClearML's tag reads: the tags (and system tags) of the tasks, models and projects a request
//! selects (`projects.get_task_tags`, `get_model_tags`, `get_project_tags`,
//! `organization.get_tags`).

use crate::envelope::{flag, str_list, Answer, ClearmlError};
use crate::tags::of_doc;
use crate::Ctx;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// The tags (and with `include_system`, system tags) of `docs`, sorted.
fn collect(docs: &[Value], include_system: bool) -> Value {
    let gather = |field: &str| -> BTreeSet<String> { docs.iter().flat_map(|d| of_doc(d, field)).collect() };
    let mut out = json!({"tags": gather("tags")});
    if include_system {
        out["system_tags"] = json!(gather("system_tags"));
    }
    out
}

/// What a tags read selects its entities by: `projects` (their subprojects' too; those that no
/// longer exist select nothing), and the `filter`'s tag filters. `None` when it selects nothing.
async fn selection(ctx: &Ctx, body: &Value) -> Result<Option<Value>, ClearmlError> {
    let mut projects = str_list(body, "projects")?;
    if let Some(ids) = projects.as_mut() {
        let known: Vec<String> = ctx.store.list_projects().await?.into_iter().map(|p| p.id).collect();
        let named = !ids.is_empty();
        ids.retain(|id| known.contains(id));
        if named && ids.is_empty() {
            return Ok(None);
        }
    }
    let filter = body.get("filter").cloned().unwrap_or(Value::Null);
    Ok(Some(json!({
        "project": projects,
        "tags": filter.get("tags").cloned().unwrap_or(Value::Null),
        "system_tags": filter.get("system_tags").cloned().unwrap_or(Value::Null),
        "include_subprojects": true,
        "search_hidden": true,
        "only_fields": ["tags", "system_tags"],
    })))
}

fn listed<'a>(answer: &'a Value, key: &str) -> &'a [Value] {
    answer[key].as_array().map(Vec::as_slice).unwrap_or_default()
}

/// `projects.get_task_tags`: the tags of the tasks of the given projects (all when none).
pub async fn task_tags(ctx: &Ctx, body: &Value) -> Answer {
    let Some(select) = selection(ctx, body).await? else { return Ok(collect(&[], flag(body, "include_system"))) };
    let tasks = crate::tasks::get_all(ctx, &select).await?;
    Ok(collect(listed(&tasks, "tasks"), flag(body, "include_system")))
}

/// `projects.get_model_tags`: the tags of the models of the given projects (all when none).
pub async fn model_tags(ctx: &Ctx, body: &Value) -> Answer {
    let Some(select) = selection(ctx, body).await? else { return Ok(collect(&[], flag(body, "include_system"))) };
    let models = crate::models::get_all(ctx, &select).await?;
    Ok(collect(listed(&models, "models"), flag(body, "include_system")))
}

/// `projects.get_project_tags`: the projects' own tags.
pub async fn project_tags(ctx: &Ctx, body: &Value) -> Answer {
    let Some(mut select) = selection(ctx, body).await? else { return Ok(collect(&[], flag(body, "include_system"))) };
    select["id"] = select["project"].take();
    let projects = crate::projects::get_all(ctx, &select).await?;
    Ok(collect(listed(&projects, "projects"), flag(body, "include_system")))
}

/// `organization.get_tags`: the tags of every task and model.
pub async fn organization_tags(ctx: &Ctx, body: &Value) -> Answer {
    let Some(select) = selection(ctx, body).await? else { return Ok(collect(&[], flag(body, "include_system"))) };
    let tasks = crate::tasks::get_all(ctx, &select).await?;
    let models = crate::models::get_all(ctx, &select).await?;
    let docs: Vec<Value> = listed(&tasks, "tasks").iter().chain(listed(&models, "models")).cloned().collect();
    Ok(collect(&docs, flag(body, "include_system")))
}
