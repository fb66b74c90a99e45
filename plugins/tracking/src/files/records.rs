//! Who holds each stored file: a task (`task_files`, removed with it) or, for a file stored
//! outside any task, the user who stored it (`user_files`). A path has one holder; only it
//! (or an admin) writes over or removes the file there, and a holder's files share one quota.

use runyard_api::Role;
use runyard_daemon::error::{Error, Result};
use runyard_daemon::store::{now_ms, Principal, Store};
use sqlx::Row;

/// The holder of a stored file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    Task(String),
    User(String),
}

impl Holder {
    /// The holder of what `who` uploads for `task`: that task, else the task a task's own
    /// process runs for, else `who` itself.
    pub fn of_upload(who: &Principal, task: Option<&str>) -> Holder {
        match task.or(who.task.as_ref().map(|t| t.id.as_str())) {
            Some(task) => Holder::Task(task.to_string()),
            None => Holder::User(who.user_id.clone()),
        }
    }

    /// Refuses `wanted` taking over a file recorded for another holder (admins may).
    pub fn may_replace(&self, who: &Principal, recorded: Option<&Holder>, path: &str) -> Result<()> {
        match recorded {
            None => Ok(()),
            Some(held) if held == self => Ok(()),
            Some(_) if who.role == Role::Admin && who.task.is_none() => Ok(()),
            Some(held) => Err(Error::Forbidden(format!("the file '{path}' belongs to {}", held.describe()))),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Holder::Task(id) => format!("task '{id}'"),
            Holder::User(id) => format!("user '{id}'"),
        }
    }
}

/// The recorded holder of the file at `path` in `location`.
pub async fn holder(store: &Store, location: &str, path: &str) -> Result<Option<Holder>> {
    let task = sqlx::query("SELECT task_id FROM task_files WHERE location = $1 AND path = $2")
        .bind(location)
        .bind(path)
        .fetch_optional(store.pool())
        .await?;
    if let Some(row) = task {
        return Ok(Some(Holder::Task(row.try_get("task_id")?)));
    }
    let user = sqlx::query("SELECT owner FROM user_files WHERE location = $1 AND path = $2")
        .bind(location)
        .bind(path)
        .fetch_optional(store.pool())
        .await?;
    Ok(match user {
        Some(row) => Some(Holder::User(row.try_get("owner")?)),
        None => None,
    })
}

/// The bytes `holder` may still store under `quota`, the file at `path` (which a new one
/// replaces) not counted.
pub async fn room(
    store: &Store,
    quota: Option<u64>,
    holder: &Holder,
    location: &str,
    path: &str,
) -> Result<Option<u64>> {
    let Some(quota) = quota else { return Ok(None) };
    let (table, column, id) = match holder {
        Holder::Task(id) => ("task_files", "task_id", id),
        Holder::User(id) => ("user_files", "owner", id),
    };
    let used: i64 = sqlx::query(&format!(
        "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) AS used FROM {table} \
         WHERE {column} = $1 AND NOT (location = $2 AND path = $3)"
    ))
    .bind(id)
    .bind(location)
    .bind(path)
    .fetch_one(store.pool())
    .await?
    .try_get("used")?;
    Ok(Some(quota.saturating_sub(used.max(0) as u64)))
}

/// Records a stored file for `holder` (taking it off any other).
pub async fn record(store: &Store, holder: &Holder, location: &str, path: &str, size: u64, hash: &str) -> Result<()> {
    let mut tx = store.pool().begin().await?;
    forget_in(&mut tx, location, path).await?;
    let (table, column, id) = match holder {
        Holder::Task(id) => ("task_files", "task_id", id),
        Holder::User(id) => ("user_files", "owner", id),
    };
    sqlx::query(&format!(
        "INSERT INTO {table} (location, path, {column}, size, hash, created) VALUES ($1, $2, $3, $4, $5, $6)"
    ))
    .bind(location)
    .bind(path)
    .bind(id)
    .bind(size as i64)
    .bind(hash)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Forgets the file at `path` in `location`, whoever held it.
pub async fn forget(store: &Store, location: &str, path: &str) -> Result<()> {
    let mut conn = store.pool().acquire().await?;
    forget_in(&mut conn, location, path).await
}

async fn forget_in(conn: &mut sqlx::AnyConnection, location: &str, path: &str) -> Result<()> {
    for table in ["task_files", "user_files"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE location = $1 AND path = $2"))
            .bind(location)
            .bind(path)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
