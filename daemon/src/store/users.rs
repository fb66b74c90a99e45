//! Users, key pairs and server settings.

use super::{new_id, now_ms, to_time, Store};
use crate::error::{Error, Result};
use runyard_api::{Role, User};
use sqlx::Row;

/// Who is calling: resolved from a token or a key pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: String,
    pub name: String,
    pub role: Role,
    /// Set for a task's own process: it acts as the task's owner, and what it reports of its
    /// task is fenced by the attempt it was started for.
    pub task: Option<TaskScope>,
}

/// The task (and the attempt of it) a task's token was issued for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TaskScope {
    pub id: String,
    pub attempt: i64,
}

/// A user row (`id`, `name`, `role`) as a principal of its own (no task scope).
fn principal_of(r: &sqlx::any::AnyRow) -> Principal {
    Principal { user_id: r.get("id"), name: r.get("name"), role: parse_role(r.get::<&str, _>("role")), task: None }
}

fn role_str(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::User => "user",
        Role::Agent => "agent",
    }
}

fn parse_role(s: &str) -> Role {
    match s {
        "admin" => Role::Admin,
        "agent" => Role::Agent,
        _ => Role::User,
    }
}

impl Store {
    /// Creates a user with one key pair whose secret is already hashed.
    pub async fn create_user(&self, name: &str, role: Role, access_key: &str, secret_hash: &str) -> Result<User> {
        let mut tx = self.write().await?;
        let exists = sqlx::query("SELECT 1 FROM users WHERE name = $1").bind(name).fetch_optional(&mut **tx).await?;
        if exists.is_some() {
            return Err(Error::Conflict(format!("a user named '{name}' exists already")));
        }
        let id = new_id();
        let now = now_ms();
        sqlx::query("INSERT INTO users (id, name, role, created) VALUES ($1, $2, $3, $4)")
            .bind(&id)
            .bind(name)
            .bind(role_str(role))
            .bind(now)
            .execute(&mut **tx)
            .await?;
        sqlx::query("INSERT INTO access_keys (access_key, secret_hash, user_id, created) VALUES ($1, $2, $3, $4)")
            .bind(access_key)
            .bind(secret_hash)
            .bind(&id)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
        Ok(User { id, name: name.to_string(), role, created: to_time(now) })
    }

    /// Adds a key pair to an existing user, or replaces the secret of an existing key.
    pub async fn put_access_key(&self, user_id: &str, access_key: &str, secret_hash: &str) -> Result<()> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO access_keys (access_key, secret_hash, user_id, created) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (access_key) DO UPDATE SET secret_hash = excluded.secret_hash, user_id = excluded.user_id",
        )
        .bind(access_key)
        .bind(secret_hash)
        .bind(user_id)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
        tx.commit().await
    }

    /// A user as a principal, by id.
    pub async fn principal(&self, user_id: &str) -> Result<Option<Principal>> {
        let row = sqlx::query("SELECT id, name, role FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(principal_of))
    }

    pub async fn user_by_name(&self, name: &str) -> Result<Option<User>> {
        let row = sqlx::query("SELECT id, name, role, created FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| User {
            id: r.get("id"),
            name: r.get("name"),
            role: parse_role(r.get::<&str, _>("role")),
            created: to_time(r.get("created")),
        }))
    }

    pub async fn count_access_keys(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM access_keys").fetch_one(&self.pool).await?.get("n"))
    }

    /// The stored secret hash of `access_key` and its owner.
    pub async fn access_key(&self, access_key: &str) -> Result<Option<(String, Principal)>> {
        let row = sqlx::query(
            "SELECT k.secret_hash, u.id, u.name, u.role FROM access_keys k JOIN users u ON u.id = k.user_id \
             WHERE k.access_key = $1",
        )
        .bind(access_key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| (r.get("secret_hash"), principal_of(&r))))
    }

    /// Reads a setting, storing `init()` first if it is missing (first replica wins).
    pub async fn setting_or_init(&self, key: &str, init: impl FnOnce() -> String) -> Result<String> {
        let mut tx = self.write().await?;
        sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(init())
            .execute(&mut **tx)
            .await?;
        let value: String =
            sqlx::query("SELECT value FROM settings WHERE key = $1").bind(key).fetch_one(&mut **tx).await?.get("value");
        tx.commit().await?;
        Ok(value)
    }
}
