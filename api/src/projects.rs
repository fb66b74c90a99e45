//! Projects on the wire: a project (a full path, `a/b` inside `a`), its creation, change and
//! deletion, and the rule for its path.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Project {
    pub id: String,
    /// Full path, e.g. `vision/resnet`.
    pub name: String,
    pub description: String,
    pub created: DateTime<Utc>,
    pub user: String,
    /// Active (not archived) tasks directly in this project.
    pub task_count: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CreateProject {
    pub name: String,
    pub description: String,
}

/// `PATCH /api/v1/projects/{id}`: what is absent stays. A new name moves the project's
/// subprojects with it (`a/b` renamed `c` makes `a/b/x` into `c/x`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct UpdateProject {
    pub name: Option<String>,
    pub description: Option<String>,
}

/// `DELETE /api/v1/projects/{id}`: a project and its subprojects. One holding active (not
/// archived) tasks is refused unless `delete_contents` or `force`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema, IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteProject {
    /// Delete its tasks (and their results and files) with it.
    pub delete_contents: bool,
    /// Without `delete_contents`: delete it even with active tasks, which move out like the
    /// archived ones.
    pub force: bool,
}

/// What deleting a project did. Tasks not deleted with it moved to its parent project (to
/// `unassigned` for a top-level one).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProjectDeleted {
    /// The project and its subprojects.
    pub deleted_projects: u64,
    pub deleted_tasks: u64,
    pub moved_tasks: u64,
    /// Where the moved tasks went.
    pub moved_to: Option<String>,
}

/// Checks a project path: `a/b/c`, no empty segments, no `.` or `..`, no control characters.
pub fn validate_project_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if name.chars().count() > crate::rules::PROJECT_PATH_MAX {
        return Err(format!("must be at most {} characters", crate::rules::PROJECT_PATH_MAX));
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    for segment in name.split('/') {
        if segment.trim().is_empty() {
            return Err("must not have empty path segments (leading, trailing or double '/')".into());
        }
        if segment == "." || segment == ".." {
            return Err(format!("must not contain a '{segment}' segment"));
        }
        if segment != segment.trim() {
            return Err("path segments must not start or end with spaces".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names() {
        for ok in ["a", "a/b/c", "vision models/res net-50"] {
            assert_eq!(validate_project_name(ok), Ok(()), "{ok}");
        }
        for bad in ["", " ", "a//b", "/a", "a/", "a/../b", "..", "a/./b", "a\nb", "a\u{7}", " a"] {
            assert!(validate_project_name(bad).is_err(), "{bad:?}");
        }
    }
}
