//! What ClearML's task document holds that Runyard's task keeps in another form or not at all:
//! `script.requirements` as sent (pip lines as a list or text, `conda`, `orig_pip`), and
//! `execution.framework` and `execution.model_labels`. Kept as the task's extras and laid over
//! its document; the requirements only while Runyard's own pip text still is what they say.

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
}
