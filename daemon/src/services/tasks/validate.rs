//! The rules a name, a tag list or a task definition must keep; pure, no IO.

use crate::error::{Error, Result};
use runyard_api::{rules, EntryKind, Task};

pub fn name(field: &str, name: &str) -> Result<()> {
    rules::TASK_NAME.check(name).map_err(|m| Error::invalid(field, m))
}

pub fn tags(field: &str, tags: &[String]) -> Result<()> {
    for (i, tag) in tags.iter().enumerate() {
        rules::TAG.check(tag).map_err(|m| Error::invalid(format!("{field}[{i}]"), format!("a tag {m}")))?;
    }
    Ok(())
}

pub fn definition(task: &Task) -> Result<()> {
    let s = &task.script;
    match s.entry_kind {
        EntryKind::Module if s.entry_point.as_deref().unwrap_or("").trim().is_empty() => {
            return Err(Error::invalid("script.entry_point", "a module task needs the module name"));
        }
        EntryKind::Code => {
            if s.code.is_none() {
                return Err(Error::invalid("script.code", "a custom-code task needs its code"));
            }
            let file = s.entry_point.as_deref().unwrap_or("");
            if file.trim().is_empty() || file.starts_with('/') || file.split('/').any(|p| p == "..") {
                return Err(Error::invalid(
                    "script.entry_point",
                    "a custom-code task needs a relative file name inside the working directory",
                ));
            }
        }
        _ => {}
    }
    let refs = [s.branch.is_some(), s.tag.is_some(), s.commit.is_some()];
    if refs.iter().filter(|b| **b).count() > 1 {
        return Err(Error::invalid("script", "give at most one of branch, tag and commit"));
    }
    for (section, params) in &task.hyperparams {
        if section.trim().is_empty() {
            return Err(Error::invalid("hyperparams", "section names must not be empty"));
        }
        if params.keys().any(|k| k.trim().is_empty()) {
            return Err(Error::invalid(format!("hyperparams.{section}"), "parameter names must not be empty"));
        }
    }
    if task.configuration.keys().any(|k| k.trim().is_empty()) {
        return Err(Error::invalid("configuration", "names must not be empty"));
    }
    for key in task.environment.variables.keys() {
        if key.is_empty() || key.contains('=') || key.contains('\0') {
            return Err(Error::invalid("environment.variables", format!("'{key}' is not a valid variable name")));
        }
    }
    Ok(())
}
