//! `organization.get_entities_count`: how many projects, tasks, models, pipelines, datasets
//! and reports the request's filters (each the body of that entity's `get_all`) select.

use crate::envelope::{flag, str_list, Answer};
use crate::Ctx;
use serde_json::{json, Map, Value};

pub async fn get_entities_count(ctx: &Ctx, body: &Value) -> Answer {
    let users = str_list(body, "active_users")?;
    let mut counts = Map::new();
    for field in ["projects", "tasks", "models", "pipelines", "datasets", "reports"] {
        let Some(filter) = body.get(field).filter(|f| f.is_object()) else { continue };
        let mut select = filter.clone();
        if field == "reports" {
            select["type"] = json!(["report"]);
        }
        if matches!(field, "pipelines" | "datasets" | "reports") || flag(body, "search_hidden") {
            select["search_hidden"] = json!(true);
        }
        if let (Some(users), None) = (&users, select.get("user")) {
            select["user"] = json!(users);
        }
        select["only_fields"] = json!(["id"]);
        let (listed, key) = match field {
            "tasks" | "reports" => (crate::tasks::get_all(ctx, &select).await?, "tasks"),
            "models" => (crate::models::get_all(ctx, &select).await?, "models"),
            _ => (crate::projects::get_all(ctx, &select).await?, "projects"),
        };
        counts.insert(field.into(), json!(listed[key].as_array().map_or(0, Vec::len)));
    }
    Ok(Value::Object(counts))
}
