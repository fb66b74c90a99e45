//! Deleting a project: with its subprojects, and with its tasks only when asked. A project
//! holding active tasks is refused unless its tasks go with it (`delete_contents`) or move out
//! (`force`); archived tasks move out (to the parent project, `unassigned` at the top) unless
//! deleted with it. Tasks are deleted and moved through the task service, so each obeys its
//! own rules (its owner or an admin; a running task is not deleted).

use crate::error::{Error, Result};
use crate::services::{access, tasks::TaskService};
use crate::store::{Principal, Store};
use runyard_api::{Action, ActionRequest, DeleteProject, ProjectDeleted};

/// Where tasks of a deleted top-level project go.
pub const UNASSIGNED: &str = "unassigned";

pub async fn delete(
    store: &Store,
    tasks: &TaskService,
    who: &Principal,
    id_or_name: &str,
    q: &DeleteProject,
) -> Result<ProjectDeleted> {
    let (subtree, owner) = store.project_subtree(id_or_name).await?;
    access::owned(who, owner.as_deref(), "this project")?;
    let path = subtree[0].1.clone();
    let projects: Vec<String> = subtree.iter().map(|(id, _)| id.clone()).collect();
    let held = store.tasks_in_projects(&projects).await?;
    let active = held.iter().filter(|(_, archived)| !archived).count();
    if active > 0 && !q.delete_contents && !q.force {
        return Err(Error::Conflict(format!(
            "project '{path}' holds {active} active tasks: archive them, delete them with it (delete_contents) or move them out (force)"
        )));
    }
    let ids: Vec<String> = held.into_iter().map(|(id, _)| id).collect();
    let mut done = ProjectDeleted { deleted_projects: projects.len() as u64, ..Default::default() };
    if !ids.is_empty() {
        let (action, project) = if q.delete_contents {
            (Action::Delete, None)
        } else {
            let parent = path.rsplit_once('/').map_or(UNASSIGNED, |(parent, _)| parent).to_string();
            (Action::Move, Some(parent))
        };
        if action == Action::Delete {
            // Tasks are deleted from the archive; those archived already are skipped.
            tasks.act(who, Action::Archive, ActionRequest { ids: ids.clone(), ..Default::default() }).await?;
        }
        let req = ActionRequest { ids: ids.clone(), project: project.clone(), ..Default::default() };
        let outcome = tasks.act(who, action, req).await?;
        if let Some(failed) = outcome.results.iter().find(|r| !r.ok) {
            return Err(Error::Conflict(format!(
                "project '{path}' was kept: task '{}' could not go with it: {}",
                failed.id,
                failed.error.as_deref().unwrap_or("refused")
            )));
        }
        match project {
            Some(to) => (done.moved_tasks, done.moved_to) = (ids.len() as u64, Some(to)),
            None => done.deleted_tasks = ids.len() as u64,
        }
    }
    store.delete_projects(&projects).await?;
    Ok(done)
}
