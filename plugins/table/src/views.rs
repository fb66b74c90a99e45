//! Saved views: named table states per project, stored on the server so a team shares a
//! leaderboard by name. A state is checked by parsing it as a [`TableQuery`] before it is
//! kept, so a saved view always opens.

use chrono::DateTime;
use runyard_api::table::{SaveView, SavedView, TableQuery, UpdateView};
use runyard_daemon::error::{Error, Result};
use runyard_daemon::services::access;
use runyard_daemon::store::{new_id, Principal, Store};
use sqlx::Row;

const SELECT: &str =
    "SELECT v.id, v.project_id, v.name, COALESCE(u.name, '') AS owner, v.user_id, v.state, v.created, v.updated \
     FROM table_views v LEFT JOIN users u ON u.id = v.user_id";

fn view(r: &sqlx::any::AnyRow) -> Result<SavedView> {
    let time = |ms: i64| DateTime::from_timestamp_millis(ms).unwrap_or_default();
    Ok(SavedView {
        id: r.try_get("id")?,
        project: r.try_get("project_id")?,
        name: r.try_get("name")?,
        owner: r.try_get("owner")?,
        state: r.try_get("state")?,
        created: time(r.try_get("created")?),
        updated: time(r.try_get("updated")?),
    })
}

fn check_state(state: &str) -> Result<()> {
    let q = TableQuery::from_query_string(state).map_err(|e| Error::invalid("state", e.to_string()))?;
    if q.cursor.is_some() {
        return Err(Error::invalid("state", "a saved view keeps no cursor"));
    }
    Ok(())
}

fn check_name(name: &str) -> Result<&str> {
    runyard_api::rules::VIEW_NAME.check(name).map_err(|m| Error::invalid("name", m))?;
    Ok(name.trim())
}

/// The views of a project (or the views of all projects, when `project` is absent).
pub async fn list(store: &Store, project: Option<&str>) -> Result<Vec<SavedView>> {
    let rows = match project {
        Some(p) => {
            let (id, _) = store.resolve_project(p).await?;
            sqlx::query(&format!("{SELECT} WHERE v.project_id = $1 ORDER BY v.name"))
                .bind(id)
                .fetch_all(store.pool())
                .await?
        }
        None => {
            sqlx::query(&format!("{SELECT} WHERE v.project_id IS NULL ORDER BY v.name")).fetch_all(store.pool()).await?
        }
    };
    rows.iter().map(view).collect()
}

async fn get(store: &Store, id: &str) -> Result<(SavedView, String)> {
    let row = sqlx::query(&format!("{SELECT} WHERE v.id = $1"))
        .bind(id)
        .fetch_optional(store.pool())
        .await?
        .ok_or_else(|| Error::not_found("view", id))?;
    Ok((view(&row)?, row.try_get("user_id")?))
}

pub async fn create(store: &Store, who: &Principal, req: &SaveView) -> Result<SavedView> {
    runyard_daemon::services::access::person(who, "save views")?;
    let name = check_name(&req.name)?;
    check_state(&req.state)?;
    let project = match &req.project {
        Some(p) => Some(store.resolve_project(p).await?.0),
        None => None,
    };
    let id = new_id();
    let now = chrono::Utc::now().timestamp_millis();
    let mut tx = store.write().await?;
    let clash = sqlx::query("SELECT 1 FROM table_views WHERE COALESCE(project_id, '') = $1 AND name = $2")
        .bind(project.clone().unwrap_or_default())
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?;
    if clash.is_some() {
        return Err(Error::Conflict(format!("a view named '{name}' exists already")));
    }
    sqlx::query(
        "INSERT INTO table_views (id, project_id, name, user_id, state, created, updated) VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(&id)
    .bind(project)
    .bind(name)
    .bind(&who.user_id)
    .bind(&req.state)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    tx.commit().await?;
    Ok(get(store, &id).await?.0)
}

/// A view is changed by its owner and admins.
fn may_change(who: &Principal, owner_id: &str, view: &SavedView) -> Result<()> {
    access::owned(who, Some(owner_id), &format!("view '{}'", view.name))
}

pub async fn update(store: &Store, who: &Principal, id: &str, req: &UpdateView) -> Result<SavedView> {
    let (current, owner_id) = get(store, id).await?;
    may_change(who, &owner_id, &current)?;
    let name = match &req.name {
        Some(n) => check_name(n)?.to_string(),
        None => current.name.clone(),
    };
    if let Some(state) = &req.state {
        check_state(state)?;
    }
    let mut tx = store.write().await?;
    let clash = sqlx::query("SELECT 1 FROM table_views WHERE COALESCE(project_id, '') = $1 AND name = $2 AND id <> $3")
        .bind(current.project.clone().unwrap_or_default())
        .bind(&name)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    if clash.is_some() {
        return Err(Error::Conflict(format!("a view named '{name}' exists already")));
    }
    sqlx::query("UPDATE table_views SET name = $1, state = $2, updated = $3 WHERE id = $4")
        .bind(&name)
        .bind(req.state.as_ref().unwrap_or(&current.state))
        .bind(chrono::Utc::now().timestamp_millis())
        .bind(id)
        .execute(&mut **tx)
        .await?;
    tx.commit().await?;
    Ok(get(store, id).await?.0)
}

pub async fn delete(store: &Store, who: &Principal, id: &str) -> Result<()> {
    let (current, owner_id) = get(store, id).await?;
    may_change(who, &owner_id, &current)?;
    let mut tx = store.write().await?;
    sqlx::query("DELETE FROM table_views WHERE id = $1").bind(id).execute(&mut **tx).await?;
    tx.commit().await?;
    Ok(())
}
