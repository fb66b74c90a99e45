//! `projects.move` and `projects.merge`: a project moved under another (its subprojects with
//! it), or emptied into another (its subprojects, tasks and models moved there) and deleted.

use crate::envelope::{required_str, Answer, ClearmlError};
use crate::extras::{self, Kind};
use crate::Ctx;
use runyard_api::{Action, ActionRequest, UpdateProject};
use runyard_daemon::services::access;
use runyard_daemon::store::Principal;
use serde_json::{json, Value};

/// A project's path by id.
async fn path_of(ctx: &Ctx, id: &str) -> Result<(String, String), ClearmlError> {
    let p = ctx.store.project(id).await.map_err(|_| crate::lookup::invalid_project(id))?;
    Ok((p.id, p.name))
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Refuses a move of `from` to `to`: onto itself, or under itself.
fn check_move(from: &str, to: &str, under_itself: u16) -> Result<(), ClearmlError> {
    if from == to {
        return Err(ClearmlError::new(400, 410, "Project has the same source and destination paths"));
    }
    if to.starts_with(&format!("{from}/")) {
        return Err(ClearmlError::new(400, under_itself, "Project can not be moved under itself"));
    }
    Ok(())
}

/// Moves a project (and its subprojects) to `path`; how many projects moved.
async fn move_project(ctx: &Ctx, who: &Principal, id: &str, path: &str) -> Result<usize, ClearmlError> {
    let (subtree, _) = ctx.store.project_subtree(id).await?;
    let update = UpdateProject { name: Some(path.to_string()), description: None };
    ctx.store.update_project(id, &update, &who.user_id).await.map_err(crate::projects::not_unique)?;
    Ok(subtree.len())
}

/// `projects.move`: the project under `new_location` (a path, or the top when empty), with its
/// subprojects.
pub async fn move_to(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    access::person(who, "move projects")?;
    let (id, path) = path_of(ctx, required_str(body, "project")?).await?;
    let location = body.get("new_location").and_then(Value::as_str).unwrap_or("").trim_matches('/');
    let target = match location {
        "" => basename(&path).to_string(),
        parent => format!("{parent}/{}", basename(&path)),
    };
    check_move(&path, &target, 411)?;
    Ok(json!({"moved": move_project(ctx, who, &id, &target).await?}))
}

/// `projects.merge`: the project's subprojects, tasks and models move into
/// `destination_project`, and the project is deleted.
pub async fn merge(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    access::person(who, "merge projects")?;
    let (id, path) = path_of(ctx, required_str(body, "project")?).await?;
    let (dest, dest_path) = path_of(ctx, required_str(body, "destination_project")?).await?;
    check_move(&path, &dest_path, 412)?;
    let (subtree, _) = ctx.store.project_subtree(&id).await?;
    let children: Vec<&(String, String)> = subtree
        .iter()
        .filter(|(_, p)| p.strip_prefix(&format!("{path}/")).is_some_and(|rest| !rest.contains('/')))
        .collect();
    for (child, child_path) in &children {
        move_project(ctx, who, child, &format!("{dest_path}/{}", basename(child_path))).await?;
    }
    let tasks = ctx.store.tasks_in_projects(std::slice::from_ref(&id)).await?;
    for (task, _) in &tasks {
        let req = ActionRequest { project: Some(dest.clone()), ..Default::default() };
        ctx.tasks.act_one(who, task, Action::Move, req).await?;
    }
    let models: Vec<String> =
        crate::models::in_projects(ctx, std::slice::from_ref(&id)).await?.into_iter().map(|(m, _)| m).collect();
    if !models.is_empty() {
        crate::models::move_to(ctx, who, &json!({"ids": models, "project": dest})).await?;
    }
    ctx.store.delete_projects(std::slice::from_ref(&id)).await?;
    extras::remove(ctx, Kind::Project, &id).await?;
    Ok(json!({"moved_entities": tasks.len() + models.len(), "moved_projects": children.len()}))
}
