//! Edits of a task, and the outputs (artifacts, models) it registers.

use super::actions::{dedup, state_of};
use super::validate;
use crate::error::{Error, Result};
use crate::services::access;
use crate::store::{now_ms, Principal, Store, TaskPatch};
use runyard_api::{is_valid_id, transition, Action, Change, EditTask, Task, TaskState, TaskStatus};

/// Edits a task; with `force`, its definition in any status but Published.
pub(super) async fn edit(store: &Store, who: &Principal, id: &str, edit: EditTask, force: bool) -> Result<Task> {
    if !is_valid_id(id) {
        return Err(Error::not_found("task", id));
    }
    if let Some(name) = &edit.name {
        validate::name("name", name)?;
    }
    if let Some(tags) = &edit.tags {
        validate::tags("tags", tags)?;
    }
    if let Some(tags) = &edit.system_tags {
        validate::tags("system_tags", tags)?;
    }
    let mut tx = store.write().await?;
    let head = store.lock_heads(&mut tx, &[id]).await?.remove(id).ok_or_else(|| Error::not_found("task", id))?;
    access::edit(who, &access::TaskAccess::of(&head))?;
    if force && head.status == TaskStatus::Published {
        return Err(runyard_api::InvalidTransition::ReadOnly.into());
    }
    let state = TaskState { edits_definition: edit.edits_definition() && !force, ..state_of(&head) };
    transition(Action::Edit, state)?;
    let mut task = store.get_task_in(&mut tx, id).await?;
    let mut patch = TaskPatch {
        name: edit.name.map(|n| n.trim().to_string()),
        comment: edit.comment,
        system_tags: edit.system_tags.map(|t| t.into_iter().filter(|t| t != runyard_api::ARCHIVED_TAG).collect()),
        kind: edit.kind,
        container: edit.container,
        runtime: edit.runtime,
        ..Default::default()
    };
    if let Some(parent) = edit.parent {
        if !is_valid_id(&parent) || store.lock_heads(&mut tx, &[&parent]).await?.is_empty() {
            return Err(Error::invalid("parent", format!("no task '{parent}'")));
        }
        patch.parent = Some(parent);
    }
    if let Some(v) = edit.script {
        task.script = v;
        patch.script = Some(task.script.clone());
    }
    if let Some(v) = edit.environment {
        task.environment = v;
        patch.environment = Some(task.environment.clone());
    }
    if let Some(mut v) = edit.execution {
        patch.queue_id = Some(match v.queue.take() {
            Some(q) => Some(Store::resolve_queue(&mut tx, &q).await?.0),
            None => None,
        });
        patch.execution = Some(v);
    }
    let mut hyperparams_changed = false;
    if let Some(v) = edit.hyperparams {
        task.hyperparams = v;
        hyperparams_changed = true;
    }
    if let Some(v) = edit.configuration {
        task.configuration = v;
        patch.configuration = Some(task.configuration.clone());
    }
    if let Some(properties) = edit.properties {
        for name in properties.keys() {
            validate::name("properties", name)?;
        }
        if properties.is_empty() {
            task.hyperparams.remove(runyard_api::PROPERTIES_SECTION);
        } else {
            task.hyperparams.insert(runyard_api::PROPERTIES_SECTION.into(), properties);
        }
        hyperparams_changed = true;
    }
    if hyperparams_changed {
        patch.hyperparams = Some(task.hyperparams.clone());
    }
    validate::definition(&task)?;
    let now = now_ms();
    patch.last_change = Some(now);
    patch.last_update = Some(now);
    store.update_tasks(&mut tx, &[id], &patch).await?;
    if let Some(tags) = edit.tags {
        store.set_tags(&mut tx, id, &dedup(tags)).await?;
    }
    let task = store.get_task_in(&mut tx, id).await?;
    tx.changed(Change::Task { id: task.id.clone(), status: Some(task.status) });
    tx.commit().await?;
    Ok(task)
}

pub(super) async fn register_outputs(
    store: &Store,
    who: &Principal,
    id: &str,
    req: runyard_api::RegisterOutputs,
) -> Result<Task> {
    if !is_valid_id(id) {
        return Err(Error::not_found("task", id));
    }
    for (i, a) in req.artifacts.iter().enumerate() {
        validate::name(&format!("artifacts[{i}].name"), &a.name)?;
    }
    for (field, models) in [("input_models", &req.input_models), ("output_models", &req.output_models)] {
        for (i, m) in models.iter().enumerate() {
            validate::name(&format!("{field}[{i}].name"), &m.name)?;
        }
    }
    let mut tx = store.write().await?;
    let head = store.lock_heads(&mut tx, &[id]).await?.remove(id).ok_or_else(|| Error::not_found("task", id))?;
    access::edit(who, &access::TaskAccess::of(&head))?;
    if head.status == TaskStatus::Published {
        return Err(runyard_api::InvalidTransition::ReadOnly.into());
    }
    let mut task = store.get_task_in(&mut tx, id).await?;
    task.artifacts.retain(|a| !req.remove_artifacts.contains(&a.name));
    for a in req.artifacts {
        match task.artifacts.iter_mut().find(|x| x.name == a.name) {
            Some(existing) => *existing = a,
            None => task.artifacts.push(a),
        }
    }
    let kinds = [
        (&mut task.models.input, req.input_models, &req.remove_input_models),
        (&mut task.models.output, req.output_models, &req.remove_output_models),
    ];
    for (models, new, removed) in kinds {
        models.retain(|m| !removed.contains(&m.name));
        models.retain(|m| !m.model_id.as_ref().is_some_and(|id| req.deleted_models.contains(id)));
        for m in new {
            match models.iter_mut().find(|x| x.name == m.name) {
                Some(existing) => *existing = m,
                None => models.push(m),
            }
        }
    }
    let patch = TaskPatch {
        artifacts: Some(task.artifacts),
        input_models: Some(task.models.input),
        output_models: Some(task.models.output),
        last_iteration: req.iteration.filter(|&i| i > task.last_iteration),
        ..TaskPatch::changed_at(now_ms())
    };
    store.update_tasks(&mut tx, &[id], &patch).await?;
    let task = store.get_task_in(&mut tx, id).await?;
    tx.changed(Change::Task { id: task.id.clone(), status: Some(task.status) });
    tx.commit().await?;
    Ok(task)
}
