//! Finding what a request names: a task, a project, checked, with ClearML's codes when there
//! is none.

use crate::envelope::{required_str, ClearmlError};
use crate::Ctx;
use runyard_api::Task;
use serde_json::Value;

/// The request's `task`.
pub(crate) fn task_id(body: &Value) -> Result<&str, ClearmlError> {
    required_str(body, "task")
}

/// The request's `task`, checked to be an id.
pub(crate) fn task_of(body: &Value) -> Result<String, ClearmlError> {
    let id = required_str(body, "task")?;
    if !runyard_api::is_valid_id(id) {
        return Err(ClearmlError::invalid_task(id));
    }
    Ok(id.to_string())
}

/// The request's `tasks`: 1 to 100 task ids.
pub(crate) fn task_ids(body: &Value) -> Result<Vec<String>, ClearmlError> {
    let tasks = crate::envelope::str_list(body, "tasks")?.unwrap_or_default();
    if tasks.is_empty() || tasks.len() > 100 || tasks.iter().any(|t| !runyard_api::is_valid_id(t)) {
        return Err(ClearmlError::validation("Validation error: tasks must be 1 to 100 task ids"));
    }
    Ok(tasks)
}

/// A task by id.
pub(crate) async fn task(ctx: &Ctx, id: &str) -> Result<Task, ClearmlError> {
    if !runyard_api::is_valid_id(id) {
        return Err(ClearmlError::invalid_task(id));
    }
    Ok(ctx.tasks.get(id).await?)
}

/// No project by the id given.
pub(crate) fn invalid_project(id: &str) -> ClearmlError {
    ClearmlError::new(400, 401, format!("Invalid project id: id={id}"))
}
