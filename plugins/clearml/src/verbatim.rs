//! What ClearML's task document holds that Runyard's task keeps in another form or not at all:
//! `script.requirements` as sent (pip lines as a list or text, `conda`, `orig_pip`), and
//! `execution.framework` and `execution.model_labels`, and which of the models it names were
//! deleted (shown as `__DELETED__<id>`, as ClearML marks them). Kept as the task's extras and
//! laid over its document; the requirements only while Runyard's own pip text still is what
//! they say.

use crate::document::requirements_text;
use crate::envelope::ClearmlError;
use crate::extras::{self, Kind};
use crate::Ctx;
use runyard_api::Task;
use serde_json::{json, Map, Value};

/// `execution`'s fields kept as sent.
const EXECUTION: [&str; 2] = ["framework", "model_labels"];

/// Notes what of a request's `script` and `execution` (or a clone's `execution_overrides`)
/// Runyard does not keep as sent; whether anything changed.
pub fn record(extras: &mut Map<String, Value>, script: Option<&Value>, execution: Option<&Value>) -> bool {
    let mut changed = false;
    if let Some(r) = script.and_then(|s| s.get("requirements")) {
        extras.insert("requirements".into(), r.clone());
        extras.insert("requirements_text".into(), json!(requirements_text(r)));
        changed = true;
    }
    for field in EXECUTION {
        if let Some(v) = execution.and_then(|e| e.get(field)) {
            extras.insert(field.into(), v.clone());
            changed = true;
        }
    }
    changed
}

/// Records what a request sets on a task (see [`record`]).
pub async fn save(
    ctx: &Ctx,
    task: &str,
    script: Option<&Value>,
    execution: Option<&Value>,
) -> Result<(), ClearmlError> {
    let mut doc = extras::get(ctx, Kind::Task, task).await?;
    if record(&mut doc, script, execution) {
        extras::put(ctx, Kind::Task, task, &doc).await?;
    }
    Ok(())
}

/// A clone starts with its source's (`execution_overrides` over them).
pub async fn copy(ctx: &Ctx, from: &str, to: &str, overrides: Option<&Value>) -> Result<(), ClearmlError> {
    let mut doc = extras::get(ctx, Kind::Task, from).await?;
    record(&mut doc, None, overrides);
    if !doc.is_empty() {
        extras::put(ctx, Kind::Task, to, &doc).await?;
    }
    Ok(())
}

/// The mark of a deleted model in the entries of the tasks that still name it.
const DELETED: &str = "__DELETED__";

/// Notes that a model the task names (and cannot stop naming) was deleted.
pub async fn model_deleted(ctx: &Ctx, task: &str, model: &str) -> Result<(), ClearmlError> {
    let mut doc = extras::get(ctx, Kind::Task, task).await?;
    let deleted = doc.entry("deleted_models").or_insert_with(|| json!([]));
    if let Some(list) = deleted.as_array_mut() {
        list.push(json!(model));
    }
    extras::put(ctx, Kind::Task, task, &doc).await
}

/// Lays a task's extras over its document.
pub fn lay_over(doc: &mut Value, task: &Task, extras: &Map<String, Value>) {
    let held = extras.get("requirements_text").cloned().unwrap_or(Value::Null);
    if let Some(r) = extras.get("requirements").filter(|_| held == json!(task.script.requirements)) {
        doc["script"]["requirements"] = r.clone();
    }
    for field in EXECUTION {
        if let Some(v) = extras.get(field) {
            doc["execution"][field] = v.clone();
        }
    }
    let deleted: Vec<&str> = extras
        .get("deleted_models")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for kind in ["input", "output"] {
        for entry in doc["models"][kind].as_array_mut().into_iter().flatten() {
            if let Some(id) = entry["model"].as_str().filter(|id| deleted.contains(id)) {
                entry["model"] = json!(format!("{DELETED}{id}"));
            }
        }
    }
}
