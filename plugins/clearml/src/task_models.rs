//! A task's input and output models as ClearML sets them (`models` on `tasks.create` and
//! `tasks.edit`, the legacy `execution.model`, `tasks.add_or_update_model`,
//! `tasks.delete_models`, `models.update_for_task`): recorded on Runyard's task, each naming a
//! model of the registry (`models.rs`) or any id ClearML was given.

use crate::envelope::{required_str, Answer, ClearmlError};
use crate::models::{apply, create_model, load, load_owned, save};
use crate::Ctx;
use runyard_api::{ModelRef, RegisterOutputs};
use runyard_daemon::store::Principal;
use serde_json::{json, Map, Value};

/// The entry naming a model on a task.
fn model_ref(doc: &Map<String, Value>, name: &str, id: &str) -> ModelRef {
    let uri = doc.get("uri").and_then(Value::as_str).map(str::to_string);
    ModelRef { name: name.to_string(), uri, model_id: Some(id.to_string()) }
}

/// Records a model on Runyard's task as an input or output model (an output made at
/// `iteration`).
async fn attach(
    ctx: &Ctx,
    who: &Principal,
    task: &str,
    entry: ModelRef,
    output: bool,
    iteration: Option<i64>,
) -> Result<(), ClearmlError> {
    if !runyard_api::is_valid_id(task) {
        return Err(ClearmlError::invalid_task(task));
    }
    let req = if output {
        RegisterOutputs { output_models: vec![entry], iteration, ..Default::default() }
    } else {
        RegisterOutputs { input_models: vec![entry], ..Default::default() }
    };
    ctx.tasks.register_outputs(who, task, req).await?;
    Ok(())
}

/// `tasks.add_or_update_model`: a model becomes one of the task's inputs or outputs.
pub async fn add_to_task(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let task = required_str(body, "task")?;
    let model = required_str(body, "model")?;
    // ClearML keeps whatever id it is given; a model Runyard knows lends its URI.
    let doc = load(ctx, model).await.unwrap_or_default();
    let name = body.get("name").and_then(Value::as_str).unwrap_or(model);
    let output = body.get("type").and_then(Value::as_str) != Some("input");
    attach(ctx, who, task, model_ref(&doc, name, model), output, None).await?;
    Ok(json!({"updated": 1}))
}

/// `models` of `tasks.create` / `tasks.edit` (`{"input": [{name, model}], "output": [...]}`):
/// the task's model entries of each kind given become those given. The legacy
/// `execution.model` is its one input model.
pub async fn set_on_task(
    ctx: &Ctx,
    who: &Principal,
    task: &runyard_api::Task,
    models: &Value,
) -> Result<(), ClearmlError> {
    let names = |list: &[ModelRef], kind: &str| match models.get(kind) {
        Some(_) => list.iter().map(|m| m.name.clone()).collect(),
        None => Vec::new(),
    };
    let mut req = RegisterOutputs {
        remove_input_models: names(&task.models.input, "input"),
        remove_output_models: names(&task.models.output, "output"),
        ..Default::default()
    };
    for (kind, entries) in [("input", &mut req.input_models), ("output", &mut req.output_models)] {
        for (i, entry) in models.get(kind).and_then(Value::as_array).into_iter().flatten().enumerate() {
            let field = |f: &str| entry.get(f).and_then(Value::as_str).filter(|s| !s.is_empty());
            let (Some(name), Some(model)) = (field("name"), field("model")) else {
                let msg = format!("Validation error: models.{kind}[{i}] needs a name and a model");
                return Err(ClearmlError::validation(msg));
            };
            entries.push(model_ref(&load(ctx, model).await.unwrap_or_default(), name, model));
        }
    }
    ctx.tasks.register_outputs(who, &task.id, req).await?;
    Ok(())
}

/// A request's models: `models`, else the legacy `execution.model` as the one input model.
pub fn requested(body: &Value) -> Option<Value> {
    if let Some(models) = body.get("models").filter(|m| m.is_object()) {
        return Some(models.clone());
    }
    let legacy = body.pointer("/execution/model")?;
    let input = legacy.as_str().filter(|m| !m.is_empty()).map(|m| json!({"name": INPUT_MODEL, "model": m}));
    Some(json!({"input": input.into_iter().collect::<Vec<_>>()}))
}

/// The name ClearML gives a task's legacy input model.
pub const INPUT_MODEL: &str = "Input Model";

/// `tasks.delete_models`: the task's model entries named (`{name, type}`) are dropped.
pub async fn delete_from_task(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let task = required_str(body, "task")?;
    crate::lookup::task(ctx, task).await?;
    let mut req = RegisterOutputs::default();
    for entry in body.get("models").and_then(Value::as_array).into_iter().flatten() {
        let name = entry.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
        match entry.get("type").and_then(Value::as_str) {
            Some("input") => req.remove_input_models.push(name),
            Some("output") => req.remove_output_models.push(name),
            _ => return Err(ClearmlError::validation("Validation error: models[].type is input or output")),
        }
    }
    ctx.tasks.register_outputs(who, task, req).await?;
    Ok(json!({"updated": 1}))
}

/// `models.update_for_task`: the task's output model (the one named by `override_model_id`,
/// else its last), created if need be: named after the task, in its project, published when
/// the task is.
pub async fn update_for_task(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let task_id = required_str(body, "task")?;
    let task = ctx.tasks.get(task_id).await.map_err(|_| ClearmlError::invalid_task(task_id))?;
    let last_output = task.models.output.iter().rev().find_map(|m| m.model_id.clone());
    let existing = body.get("override_model_id").and_then(Value::as_str).map(str::to_string).or(last_output);
    let (id, created) = match existing {
        Some(id) if load(ctx, &id).await.is_ok() => {
            let mut doc = load_owned(ctx, who, &id).await?;
            apply(&mut doc, body)?;
            save(ctx, &doc, false).await?;
            (id, false)
        }
        _ => {
            let mut fields = body.as_object().cloned().unwrap_or_default();
            fields.entry("name").or_insert_with(|| json!(task.name));
            fields.entry("project").or_insert_with(|| json!(task.project));
            let made_by = crate::extras::get(ctx, crate::extras::Kind::Task, &task.id).await?;
            if let Some(framework) = made_by.get("framework") {
                fields.entry("framework").or_insert_with(|| framework.clone());
            }
            fields.entry("comment").or_insert_with(|| json!(format!("Created by task `{}` ({})", task.name, task.id)));
            let ready = task.status == runyard_api::TaskStatus::Published;
            (create_model(ctx, who, &Value::Object(fields), ready).await?, true)
        }
    };
    let doc = load(ctx, &id).await?;
    let name = doc.get("name").and_then(Value::as_str).unwrap_or("model");
    let iteration = body.get("iteration").and_then(Value::as_i64);
    attach(ctx, who, task_id, model_ref(&doc, name, &id), true, iteration).await?;
    Ok(json!({"id": id, "created": created, "updated": 1}))
}
