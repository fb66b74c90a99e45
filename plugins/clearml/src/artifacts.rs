//! A task's artifacts as ClearML has them (`execution.artifacts`: `key`, `type`, `mode`, `uri`,
//! …): set with the task (`tasks.create`, `tasks.edit`, `tasks.clone`'s overrides), upserted
//! and deleted by key. Input artifacts are part of the task's definition; outputs are results.

use crate::document::text_of;
use crate::envelope::{Answer, ClearmlError};
use crate::lookup::{task as load, task_id};
use crate::Ctx;
use runyard_api::{Artifact, RegisterOutputs, Task};
use runyard_daemon::store::Principal;
use serde_json::{json, Value};

/// ClearML's artifact entries as Runyard's.
fn artifacts_of(list: &[Value]) -> Vec<Artifact> {
    list.iter()
        .map(|a| Artifact {
            name: a.get("key").and_then(text_of).unwrap_or_default(),
            kind: a.get("type").and_then(text_of).unwrap_or_default(),
            uri: a.get("uri").and_then(text_of),
            size: a.get("content_size").and_then(Value::as_u64),
            hash: a.get("hash").and_then(text_of),
            preview: a.pointer("/type_data/preview").and_then(text_of),
            mode: a.get("mode").and_then(text_of),
        })
        .collect()
}

fn list_of(body: &Value) -> Result<&Vec<Value>, ClearmlError> {
    body.get("artifacts")
        .and_then(Value::as_array)
        .ok_or_else(|| ClearmlError::validation("Validation error: missing required field 'artifacts'"))
}

/// The task's artifacts become `execution.artifacts` of a request, when it has them.
pub async fn set_from(ctx: &Ctx, who: &Principal, task: &Task, execution: Option<&Value>) -> Result<(), ClearmlError> {
    let Some(list) = execution.and_then(|e| e.get("artifacts")).and_then(Value::as_array) else { return Ok(()) };
    let req = RegisterOutputs {
        remove_artifacts: task.artifacts.iter().map(|a| a.name.clone()).collect(),
        artifacts: artifacts_of(list),
        ..Default::default()
    };
    ctx.tasks.register_outputs(who, &task.id, req).await?;
    Ok(())
}

/// `tasks.add_or_update_artifacts`: artifacts upserted by key.
pub async fn add_or_update(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let id = task_id(body)?;
    let artifacts = artifacts_of(list_of(body)?);
    let n = artifacts.len();
    load(ctx, id).await?;
    ctx.tasks.register_outputs(who, id, RegisterOutputs { artifacts, ..Default::default() }).await?;
    Ok(json!({"updated": n}))
}

/// `tasks.delete_artifacts`: drops artifacts by `key`.
pub async fn delete(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let id = task_id(body)?;
    load(ctx, id).await?;
    let keys: Vec<String> = list_of(body)?.iter().filter_map(|a| a.get("key").and_then(text_of)).collect();
    let n = keys.len();
    ctx.tasks.register_outputs(who, id, RegisterOutputs { remove_artifacts: keys, ..Default::default() }).await?;
    Ok(json!({"deleted": n}))
}
