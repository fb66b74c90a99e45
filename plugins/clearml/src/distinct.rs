//! `projects.get_*` reads of the distinct keys and values across projects' tasks and models:
//! hyperparameter names and values, model metadata keys and values. Sorted the way ClearML
//! sorts them (numbers by value), paged by `page`/`page_size`.

use crate::envelope::{required_str, Answer, ClearmlError};
use crate::Ctx;
use serde_json::{json, Value};
use std::cmp::Ordering;

/// ClearML's numeric collation: numbers by value, before and apart from other text.
fn collate(a: &str, b: &str) -> Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.total_cmp(&y),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        _ => a.cmp(b),
    }
}

/// The page asked for, and how many are left after it.
fn page<T>(body: &Value, items: Vec<T>) -> (usize, usize, Vec<T>) {
    let total = items.len();
    let size = body.get("page_size").and_then(Value::as_u64).unwrap_or(500).clamp(1, 10_000) as usize;
    let skip = usize::try_from(body.get("page").and_then(Value::as_u64).unwrap_or(0)).unwrap_or(usize::MAX);
    let shown: Vec<T> = items.into_iter().skip(skip.saturating_mul(size)).take(size).collect();
    let remaining = total.saturating_sub(skip.saturating_mul(size).saturating_add(shown.len()));
    (total, remaining, shown)
}

/// The scope of a read: `projects` (or `project`), with their subprojects unless
/// `include_subprojects` is false; without projects and without subprojects, what is in none.
fn scope(body: &Value, field: &str) -> Value {
    let projects = body.get("projects").or_else(|| body.get("project")).cloned().unwrap_or(Value::Null);
    let subprojects = body.get("include_subprojects").and_then(Value::as_bool).unwrap_or(true);
    json!({field: projects, "include_subprojects": subprojects, "search_hidden": true})
}

fn listed(answer: Value, key: &str) -> Vec<Value> {
    match answer {
        Value::Object(mut m) => match m.remove(key) {
            Some(Value::Array(items)) => items,
            _ => vec![],
        },
        _ => vec![],
    }
}

async fn tasks(ctx: &Ctx, body: &Value) -> Result<Vec<Value>, ClearmlError> {
    let mut select = scope(body, "project");
    select["only_fields"] = json!(["hyperparams"]);
    Ok(listed(crate::tasks::get_all(ctx, &select).await?, "tasks"))
}

async fn models(ctx: &Ctx, body: &Value) -> Result<Vec<Value>, ClearmlError> {
    let mut select = scope(body, "project");
    select["only_fields"] = json!(["metadata", "project"]);
    let mut models = listed(crate::models::get_all(ctx, &select).await?, "models");
    if select["project"].is_null() && select["include_subprojects"] == json!(false) {
        models.retain(|m| m["project"].as_str().is_none_or(str::is_empty));
    }
    Ok(models)
}

/// Distinct strings, collated.
fn distinct(mut items: Vec<String>) -> Vec<String> {
    items.sort_by(|a, b| collate(a, b));
    items.dedup();
    items
}

/// The values that match `pattern` (a case-insensitive regex), if given.
fn matching(body: &Value, values: Vec<String>) -> Result<Vec<String>, ClearmlError> {
    let Some(pattern) = body.get("pattern").and_then(Value::as_str) else { return Ok(values) };
    let re = regex::RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| ClearmlError::validation(format!("Validation error: pattern: {e}")))?;
    Ok(values.into_iter().filter(|v| re.is_match(v)).collect())
}

/// `projects.get_hyper_parameters`: the sections and names of the tasks' hyperparameters.
pub async fn hyper_parameters(ctx: &Ctx, body: &Value) -> Answer {
    let mut keys: Vec<(String, String)> = tasks(ctx, body)
        .await?
        .iter()
        .filter_map(|t| t["hyperparams"].as_object())
        .flat_map(|sections| {
            sections.iter().flat_map(|(section, names)| {
                names.as_object().into_iter().flatten().map(move |(name, _)| (section.clone(), name.clone()))
            })
        })
        .collect();
    keys.sort();
    keys.dedup();
    let (total, remaining, shown) = page(body, keys);
    let parameters: Vec<Value> = shown.iter().map(|(s, n)| json!({"section": s, "name": n})).collect();
    Ok(json!({"total": total, "remaining": remaining, "parameters": parameters}))
}

/// `projects.get_hyperparam_values`: the values one hyperparameter (`section`, `name`) takes.
pub async fn hyperparam_values(ctx: &Ctx, body: &Value) -> Answer {
    let (section, name) = (required_str(body, "section")?, required_str(body, "name")?);
    let values = tasks(ctx, body)
        .await?
        .iter()
        .filter_map(|t| t["hyperparams"].get(section)?.get(name)?.get("value")?.as_str().map(str::to_string))
        .collect();
    let (total, _, shown) = page(body, matching(body, distinct(values))?);
    Ok(json!({"total": total, "values": shown}))
}

/// `projects.get_model_metadata_keys`: the metadata keys of the models.
pub async fn model_metadata_keys(ctx: &Ctx, body: &Value) -> Answer {
    let keys = models(ctx, body)
        .await?
        .iter()
        .filter_map(|m| m["metadata"].as_object())
        .flat_map(|m| m.keys().cloned())
        .collect();
    let (total, remaining, shown) = page(body, distinct(keys));
    Ok(json!({"total": total, "remaining": remaining, "keys": shown}))
}

/// `projects.get_model_metadata_values`: the values one metadata `key` takes.
pub async fn model_metadata_values(ctx: &Ctx, body: &Value) -> Answer {
    let key = required_str(body, "key")?;
    let values = models(ctx, body)
        .await?
        .iter()
        .filter_map(|m| m["metadata"].get(key)?.get("value")?.as_str().map(str::to_string))
        .collect();
    let (total, _, shown) = page(body, distinct(values));
    Ok(json!({"total": total, "values": shown}))
}
