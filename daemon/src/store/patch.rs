//! A typed update of task rows: the services say what changes, the store turns it into columns.

use crate::error::Result;
use runyard_api::{Artifact, ConfigItem, Container, Environment, Execution, Hyperparams, ModelRef, Script};
use runyard_api::{TaskStatus, TaskType};
use sea_query::Value;
use std::collections::BTreeMap;

/// What an update writes: each `Some` field is set (an inner `None` writes NULL); the rest keep
/// their values. Times are milliseconds since the epoch.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TaskPatch {
    pub status: Option<TaskStatus>,
    pub status_reason: Option<String>,
    pub status_message: Option<String>,
    pub started: Option<Option<i64>>,
    pub completed: Option<Option<i64>>,
    pub worker: Option<Option<String>>,
    pub last_update: Option<i64>,
    pub last_change: Option<i64>,
    pub last_iteration: Option<i64>,
    pub archived: Option<bool>,
    pub queue_id: Option<Option<String>>,
    pub project_id: Option<String>,
    pub priority: Option<i64>,
    pub name: Option<String>,
    pub comment: Option<String>,
    pub system_tags: Option<Vec<String>>,
    pub kind: Option<TaskType>,
    pub parent: Option<String>,
    pub script: Option<Script>,
    pub environment: Option<Environment>,
    pub container: Option<Container>,
    pub execution: Option<Execution>,
    pub hyperparams: Option<Hyperparams>,
    pub configuration: Option<BTreeMap<String, ConfigItem>>,
    pub runtime: Option<BTreeMap<String, serde_json::Value>>,
    pub artifacts: Option<Vec<Artifact>>,
    pub input_models: Option<Vec<ModelRef>>,
    pub output_models: Option<Vec<ModelRef>>,
}

impl TaskPatch {
    /// `last_update` and `last_change` set to `now`.
    pub fn changed_at(now: i64) -> TaskPatch {
        TaskPatch { last_update: Some(now), last_change: Some(now), ..Default::default() }
    }

    /// The `(column, value)` pairs this patch writes.
    pub(crate) fn columns(&self) -> Result<Vec<(&'static str, Value)>> {
        let mut out: Vec<(&'static str, Value)> = Vec::new();
        let mut set = |column, value| out.push((column, value));
        let some = |v: &Option<String>| v.as_deref().map(|s| text(Some(s)));
        if let Some(status) = self.status {
            set("status", text(Some(status.as_str())));
        }
        for (column, value) in [
            ("status_reason", some(&self.status_reason)),
            ("status_message", some(&self.status_message)),
            ("project_id", some(&self.project_id)),
            ("name", some(&self.name)),
            ("comment", some(&self.comment)),
            ("parent", some(&self.parent)),
            ("type", self.kind.map(|k| text(Some(k.as_str())))),
            ("worker", self.worker.as_ref().map(|w| text(w.as_deref()))),
            ("queue_id", self.queue_id.as_ref().map(|q| text(q.as_deref()))),
            ("started", self.started.map(int)),
            ("completed", self.completed.map(int)),
            ("last_update", self.last_update.map(Some).map(int)),
            ("last_change", self.last_change.map(Some).map(int)),
            ("last_iteration", self.last_iteration.map(Some).map(int)),
            ("priority", self.priority.map(Some).map(int)),
            ("archived", self.archived.map(|a| int(Some(a as i64)))),
        ] {
            if let Some(value) = value {
                set(column, value);
            }
        }
        for (column, value) in [
            ("system_tags", self.system_tags.as_ref().map(json_value).transpose()?),
            ("script", self.script.as_ref().map(json_value).transpose()?),
            ("environment", self.environment.as_ref().map(json_value).transpose()?),
            ("container", self.container.as_ref().map(json_value).transpose()?),
            ("execution", self.execution.as_ref().map(json_value).transpose()?),
            ("hyperparams", self.hyperparams.as_ref().map(json_value).transpose()?),
            ("configuration", self.configuration.as_ref().map(json_value).transpose()?),
            ("runtime", self.runtime.as_ref().map(json_value).transpose()?),
            ("artifacts", self.artifacts.as_ref().map(json_value).transpose()?),
            ("input_models", self.input_models.as_ref().map(json_value).transpose()?),
            ("output_models", self.output_models.as_ref().map(json_value).transpose()?),
        ] {
            if let Some(value) = value {
                set(column, value);
            }
        }
        Ok(out)
    }
}

/// A part of a task as its JSON text column.
pub(crate) fn json_value<T: serde::Serialize>(v: &T) -> Result<Value> {
    let text = serde_json::to_string(v).map_err(|e| crate::error::Error::Internal(e.into()))?;
    Ok(Value::String(Some(Box::new(text))))
}

/// A text column value (NULL for `None`).
pub fn text(v: Option<&str>) -> Value {
    Value::String(v.map(|s| Box::new(s.to_string())))
}

/// An integer column value (NULL for `None`).
pub fn int(v: Option<i64>) -> Value {
    Value::BigInt(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_fields_given_are_written() {
        assert!(TaskPatch::default().columns().unwrap().is_empty());
        let patch = TaskPatch {
            status: Some(TaskStatus::Stopped),
            worker: Some(None),
            completed: Some(Some(7)),
            archived: Some(true),
            ..TaskPatch::changed_at(5)
        };
        let columns = patch.columns().unwrap();
        let names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
        assert_eq!(names, ["status", "worker", "completed", "last_update", "last_change", "archived"]);
        assert_eq!(columns[1].1, text(None), "Some(None) writes NULL");
        assert_eq!(columns[5].1, int(Some(1)));
    }

    #[test]
    fn parts_are_written_as_json() {
        let patch = TaskPatch { artifacts: Some(Vec::new()), ..Default::default() };
        assert_eq!(patch.columns().unwrap(), vec![("artifacts", text(Some("[]")))]);
    }
}
