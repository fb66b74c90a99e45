//! Users, key pairs and server settings.

use super::{new_id, now_ms, to_time, Store};
use crate::error::{Error, Result};
use runyard_api::{Change, Role, User};
use sqlx::Row;
use std::collections::HashSet;
use std::sync::Arc;

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

/// What a user's credentials are checked against on every request: the user (name and current
/// role), whether they were removed, the epoch their tokens must carry, their key pairs and
/// their tokens revoked one by one.
#[derive(Debug)]
pub struct UserAccess {
    pub principal: Principal,
    pub disabled: bool,
    pub token_epoch: i64,
    pub keys: HashSet<String>,
    pub revoked: HashSet<String>,
}

/// A user row (`id`, `name`, `role`, `created`, `disabled`).
fn user_of(r: &sqlx::any::AnyRow) -> User {
    User {
        id: r.get("id"),
        name: r.get("name"),
        role: parse_role(r.get::<&str, _>("role")),
        created: to_time(r.get("created")),
        disabled: r.get::<i64, _>("disabled") != 0,
    }
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
        Ok(User { id, name: name.to_string(), role, created: to_time(now), disabled: false })
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
        tx.changed(Change::User { id: user_id.to_string() });
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

    /// The user matching `condition` on `key` (`$1`).
    async fn find_user(&self, condition: &str, key: &str) -> Result<Option<User>> {
        let sql = format!("SELECT id, name, role, created, disabled FROM users WHERE {condition}");
        let row = sqlx::query(&sql).bind(key).fetch_optional(&self.pool).await?;
        Ok(row.as_ref().map(user_of))
    }

    pub async fn user_by_name(&self, name: &str) -> Result<Option<User>> {
        self.find_user("name = $1", name).await
    }

    /// A user by id or name; 404 when there is none.
    pub async fn user(&self, id_or_name: &str) -> Result<User> {
        self.find_user("id = $1 OR name = $1", id_or_name).await?.ok_or_else(|| Error::not_found("user", id_or_name))
    }

    /// Every user, by name.
    pub async fn list_users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query("SELECT id, name, role, created, disabled FROM users ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(user_of).collect())
    }

    /// A user's access, from this replica's memory while it has not changed.
    pub async fn access(&self, user_id: &str) -> Result<Option<Arc<UserAccess>>> {
        if let Some(access) = self.changes.access(user_id) {
            return Ok(Some(access));
        }
        let generation = self.changes.access_generation();
        let Some(user) = sqlx::query("SELECT id, name, role, disabled, token_epoch FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let keys = sqlx::query("SELECT access_key FROM access_keys WHERE user_id = $1")
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
        let revoked = sqlx::query("SELECT jti FROM revoked_tokens WHERE user_id = $1 AND expires > $2")
            .bind(user_id)
            .bind(now_ms())
            .fetch_all(&self.pool)
            .await?;
        let access = Arc::new(UserAccess {
            principal: principal_of(&user),
            disabled: user.get::<i64, _>("disabled") != 0,
            token_epoch: user.get("token_epoch"),
            keys: keys.iter().map(|r| r.get("access_key")).collect(),
            revoked: revoked.iter().map(|r| r.get("jti")).collect(),
        });
        self.changes.remember_access(user_id, access.clone(), generation);
        Ok(Some(access))
    }

    /// Removes a user: every key pair deleted, every token revoked; their name stays on their
    /// tasks and cannot be taken again.
    pub async fn remove_user(&self, user_id: &str) -> Result<()> {
        let mut tx = self.write().await?;
        sqlx::query("UPDATE users SET disabled = 1, token_epoch = token_epoch + 1 WHERE id = $1")
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        sqlx::query("DELETE FROM access_keys WHERE user_id = $1").bind(user_id).execute(&mut **tx).await?;
        tx.changed(Change::User { id: user_id.to_string() });
        tx.commit().await
    }

    /// Deletes one of a user's key pairs; 404 when the user has no such key.
    pub async fn delete_access_key(&self, user_id: &str, access_key: &str) -> Result<()> {
        let mut tx = self.write().await?;
        let gone = sqlx::query("DELETE FROM access_keys WHERE user_id = $1 AND access_key = $2")
            .bind(user_id)
            .bind(access_key)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        if gone == 0 {
            return Err(Error::not_found("key pair", access_key));
        }
        tx.changed(Change::User { id: user_id.to_string() });
        tx.commit().await
    }

    /// Revokes every token of a user issued until now.
    pub async fn revoke_tokens(&self, user_id: &str) -> Result<()> {
        let mut tx = self.write().await?;
        sqlx::query("UPDATE users SET token_epoch = token_epoch + 1 WHERE id = $1")
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        tx.changed(Change::User { id: user_id.to_string() });
        tx.commit().await
    }

    /// Revokes one token (by id) until it expires (milliseconds).
    pub async fn revoke_token(&self, jti: &str, user_id: &str, expires: i64) -> Result<()> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO revoked_tokens (jti, user_id, expires) VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(user_id)
        .bind(expires)
        .execute(&mut **tx)
        .await?;
        tx.changed(Change::User { id: user_id.to_string() });
        tx.commit().await
    }

    /// Forgets revoked tokens that have expired anyway. Returns how many.
    pub async fn sweep_revoked_tokens(&self) -> Result<u64> {
        let mut tx = self.write().await?;
        let gone =
            sqlx::query("DELETE FROM revoked_tokens WHERE expires <= $1").bind(now_ms()).execute(&mut **tx).await?;
        tx.commit().await?;
        Ok(gone.rows_affected())
    }

    pub async fn count_access_keys(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM access_keys").fetch_one(&self.pool).await?.get("n"))
    }

    /// The stored secret hash of `access_key` and its owner.
    pub async fn access_key(&self, access_key: &str) -> Result<Option<(String, Principal)>> {
        let row = sqlx::query(
            "SELECT k.secret_hash, u.id, u.name, u.role FROM access_keys k JOIN users u ON u.id = k.user_id \
             WHERE k.access_key = $1 AND u.disabled = 0",
        )
        .bind(access_key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| (r.get("secret_hash"), principal_of(&r))))
    }

    /// Removes a setting, returning its value (first caller wins).
    pub async fn take_setting(&self, key: &str) -> Result<Option<String>> {
        let mut tx = self.write().await?;
        let value =
            sqlx::query("SELECT value FROM settings WHERE key = $1").bind(key).fetch_optional(&mut **tx).await?;
        sqlx::query("DELETE FROM settings WHERE key = $1").bind(key).execute(&mut **tx).await?;
        tx.commit().await?;
        Ok(value.map(|r| r.get("value")))
    }
}
