//! Hyperparameters and configuration objects, item by item (`tasks.*_hyper_params`,
//! `tasks.*_configuration*`). Edits follow the lifecycle: Drafts only unless `force`; the
//! `properties` section (user properties) is editable in any status.

use crate::document::{config_item, config_of, param_item, param_of};
use crate::envelope::{flag, required_str, str_list, Answer, ClearmlError};
use crate::Ctx;
use runyard_api::{ConfigItem, EditTask, Task, PROPERTIES_SECTION};
use runyard_daemon::store::Principal;
use serde_json::{json, Value};

async fn tasks_of(ctx: &Ctx, body: &Value) -> Result<Vec<Task>, ClearmlError> {
    let ids = str_list(body, "tasks")?
        .ok_or_else(|| ClearmlError::validation("Validation error: missing required field 'tasks'"))?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if !runyard_api::is_valid_id(&id) {
            return Err(ClearmlError::invalid_task(&id));
        }
        out.push(ctx.tasks.get(&id).await?);
    }
    Ok(out)
}

async fn load(ctx: &Ctx, body: &Value) -> Result<Task, ClearmlError> {
    crate::lookup::task(ctx, required_str(body, "task")?).await
}

/// Writes the task's hyperparameters: only user properties changed → any status; else the
/// definition rules (with `force`, any status but Published).
async fn save_hyperparams(
    ctx: &Ctx,
    who: &Principal,
    task: Task,
    hyperparams: runyard_api::Hyperparams,
    force: bool,
) -> Answer {
    let mut others_old = task.hyperparams.clone();
    let mut others_new = hyperparams.clone();
    others_old.remove(PROPERTIES_SECTION);
    others_new.remove(PROPERTIES_SECTION);
    let edit = if others_old == others_new {
        EditTask {
            properties: Some(hyperparams.get(PROPERTIES_SECTION).cloned().unwrap_or_default()),
            ..Default::default()
        }
    } else {
        EditTask { hyperparams: Some(hyperparams), ..Default::default() }
    };
    if force {
        ctx.tasks.edit_forced(who, &task.id, edit).await?;
    } else {
        ctx.tasks.edit(who, &task.id, edit).await?;
    }
    Ok(json!({"updated": 1}))
}

pub async fn get_hyper_params(ctx: &Ctx, body: &Value) -> Answer {
    let params: Vec<Value> = tasks_of(ctx, body)
        .await?
        .iter()
        .map(|t| {
            let items: Vec<Value> = t
                .hyperparams
                .iter()
                .flat_map(|(section, params)| params.iter().map(move |(name, p)| param_item(section, name, p)))
                .collect();
            json!({"task": t.id, "hyperparams": items})
        })
        .collect();
    Ok(json!({"params": params}))
}

/// Hyperparameters other than the `properties` section change only on a Draft, or with `force`.
fn check_editable(task: &Task, items: &[Value], body: &Value) -> Result<(), ClearmlError> {
    let others = items.iter().any(|i| i.get("section").and_then(Value::as_str) != Some(PROPERTIES_SECTION));
    if others && !flag(body, "force") && task.status != runyard_api::TaskStatus::Created {
        let status = task.status.as_str();
        return Err(ClearmlError::new(
            400,
            110,
            format!("Invalid task status: {status} (force changes its hyperparameters)"),
        ));
    }
    Ok(())
}

pub async fn edit_hyper_params(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let task = load(ctx, body).await?;
    let items = body
        .get("hyperparams")
        .and_then(Value::as_array)
        .ok_or_else(|| ClearmlError::validation("Validation error: missing required field 'hyperparams'"))?;
    check_editable(&task, items, body)?;
    let mut hyperparams = task.hyperparams.clone();
    match body.get("replace_hyperparams").and_then(Value::as_str).unwrap_or("none") {
        "all" => hyperparams.clear(),
        "section" => {
            for item in items {
                if let Some(section) = item.get("section").and_then(Value::as_str) {
                    hyperparams.remove(section);
                }
            }
        }
        "none" => {}
        other => return Err(ClearmlError::validation(format!("Validation error: replace_hyperparams '{other}'"))),
    }
    for item in items {
        let section = item.get("section").and_then(Value::as_str).unwrap_or("General");
        let name = item
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| ClearmlError::validation("Validation error: a hyperparameter has no name"))?;
        hyperparams.entry(section.to_string()).or_default().insert(name.to_string(), param_of(item));
    }
    save_hyperparams(ctx, who, task, hyperparams, flag(body, "force")).await
}

pub async fn delete_hyper_params(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let task = load(ctx, body).await?;
    let items = body.get("hyperparams").and_then(Value::as_array).cloned().unwrap_or_default();
    check_editable(&task, &items, body)?;
    let mut hyperparams = task.hyperparams.clone();
    for item in &items {
        let section = item.get("section").and_then(Value::as_str).unwrap_or("General");
        match item.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()) {
            None => {
                hyperparams.remove(section);
            }
            Some(name) => {
                if let Some(s) = hyperparams.get_mut(section) {
                    s.remove(name);
                    if s.is_empty() {
                        hyperparams.remove(section);
                    }
                }
            }
        }
    }
    save_hyperparams(ctx, who, task, hyperparams, flag(body, "force")).await?;
    Ok(json!({"deleted": items.len()}))
}

pub async fn get_configurations(ctx: &Ctx, body: &Value) -> Answer {
    let names = str_list(body, "names")?.unwrap_or_default();
    let configurations: Vec<Value> = tasks_of(ctx, body)
        .await?
        .iter()
        .map(|t| {
            let items: Vec<Value> = t
                .configuration
                .iter()
                .filter(|(name, _)| names.is_empty() || names.contains(name))
                .map(|(name, c)| config_item(name, c))
                .collect();
            json!({"task": t.id, "configuration": items})
        })
        .collect();
    Ok(json!({"configurations": configurations}))
}

pub async fn get_configuration_names(ctx: &Ctx, body: &Value) -> Answer {
    let skip_empty = body.get("skip_empty").and_then(Value::as_bool).unwrap_or(true);
    let configurations: Vec<Value> = tasks_of(ctx, body)
        .await?
        .iter()
        .map(|t| {
            let names: Vec<&String> =
                t.configuration.iter().filter(|(_, c)| !skip_empty || !c.value.is_empty()).map(|(n, _)| n).collect();
            json!({"task": t.id, "names": names})
        })
        .collect();
    Ok(json!({"configurations": configurations}))
}

async fn save_configuration(
    ctx: &Ctx,
    who: &Principal,
    task: &Task,
    configuration: std::collections::BTreeMap<String, ConfigItem>,
    force: bool,
) -> Result<(), ClearmlError> {
    let edit = EditTask { configuration: Some(configuration), ..Default::default() };
    if force {
        ctx.tasks.edit_forced(who, &task.id, edit).await?;
    } else {
        ctx.tasks.edit(who, &task.id, edit).await?;
    }
    Ok(())
}

pub async fn edit_configuration(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let task = load(ctx, body).await?;
    let items = body
        .get("configuration")
        .and_then(Value::as_array)
        .ok_or_else(|| ClearmlError::validation("Validation error: missing required field 'configuration'"))?;
    let mut configuration =
        if flag(body, "replace_configuration") { Default::default() } else { task.configuration.clone() };
    for item in items {
        let name = item
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| ClearmlError::validation("Validation error: a configuration item has no name"))?;
        configuration.insert(name.to_string(), config_of(item));
    }
    save_configuration(ctx, who, &task, configuration, flag(body, "force")).await?;
    Ok(json!({"updated": 1}))
}

pub async fn delete_configuration(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let task = load(ctx, body).await?;
    let names = str_list(body, "configuration")?.unwrap_or_default();
    let mut configuration = task.configuration.clone();
    let before = configuration.len();
    configuration.retain(|name, _| !names.contains(name));
    let deleted = before - configuration.len();
    save_configuration(ctx, who, &task, configuration, flag(body, "force")).await?;
    Ok(json!({"deleted": deleted}))
}
