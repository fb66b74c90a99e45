//! Queues: ordered lists of Pending tasks.

use super::{new_id, now_ms, placeholders, to_time, Store, CHUNK};
use crate::error::{Error, Result};
use runyard_api::Queue;
use sqlx::{AnyConnection, Row};

/// The queue that exists from the first start.
pub const DEFAULT_QUEUE: &str = "default";

/// Gap between consecutive positions, so later reorders can insert between entries.
const POSITION_STEP: i64 = 1 << 16;

impl Store {
    pub async fn create_queue(&self, name: &str) -> Result<Queue> {
        validate_queue_name(name)?;
        let mut tx = self.write().await?;
        let exists = sqlx::query("SELECT 1 FROM queues WHERE name = $1").bind(name).fetch_optional(&mut **tx).await?;
        if exists.is_some() {
            return Err(Error::Conflict(format!("a queue named '{name}' exists already")));
        }
        let id = new_id();
        let now = now_ms();
        sqlx::query("INSERT INTO queues (id, name, created) VALUES ($1, $2, $3)")
            .bind(&id)
            .bind(name)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
        Ok(Queue { id, name: name.to_string(), created: to_time(now), length: 0 })
    }

    /// Creates the default queue unless it exists.
    pub async fn ensure_default_queue(&self) -> Result<()> {
        let mut tx = self.write().await?;
        sqlx::query("INSERT INTO queues (id, name, created) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
            .bind(new_id())
            .bind(DEFAULT_QUEUE)
            .bind(now_ms())
            .execute(&mut **tx)
            .await?;
        tx.commit().await
    }

    pub async fn list_queues(&self) -> Result<Vec<Queue>> {
        let rows = sqlx::query(
            "SELECT q.id, q.name, q.created, COUNT(e.task_id) AS length FROM queues q \
             LEFT JOIN queue_entries e ON e.queue_id = q.id GROUP BY q.id, q.name, q.created ORDER BY q.name",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| Queue {
                id: r.get("id"),
                name: r.get("name"),
                created: to_time(r.get("created")),
                length: r.get::<i64, _>("length") as u64,
            })
            .collect())
    }

    /// Resolves a queue given by name or id to `(id, name)`.
    pub async fn resolve_queue(conn: &mut AnyConnection, name_or_id: &str) -> Result<(String, String)> {
        let row = sqlx::query("SELECT id, name FROM queues WHERE name = $1 OR id = $1")
            .bind(name_or_id)
            .fetch_optional(conn)
            .await?
            .ok_or_else(|| Error::not_found("queue", name_or_id))?;
        Ok((row.get("id"), row.get("name")))
    }

    /// Appends tasks, in order, to the end of a queue.
    pub async fn push_entries(conn: &mut AnyConnection, queue_id: &str, task_ids: &[&str], now: i64) -> Result<()> {
        let last: Option<i64> = sqlx::query("SELECT MAX(position) AS p FROM queue_entries WHERE queue_id = $1")
            .bind(queue_id)
            .fetch_one(&mut *conn)
            .await?
            .get("p");
        let mut position = last.unwrap_or(0);
        for chunk in task_ids.chunks(CHUNK / 4) {
            let rows = (0..chunk.len()).map(|i| format!("({})", placeholders(i * 4, 4))).collect::<Vec<_>>().join(", ");
            let sql = format!("INSERT INTO queue_entries (task_id, queue_id, position, added) VALUES {rows}");
            let mut q = sqlx::query(&sql);
            for id in chunk {
                position += POSITION_STEP;
                q = q.bind(*id).bind(queue_id).bind(position).bind(now);
            }
            q.execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// Removes tasks from whatever queue holds them.
    pub async fn remove_entries(conn: &mut AnyConnection, task_ids: &[&str]) -> Result<()> {
        for chunk in task_ids.chunks(CHUNK) {
            let sql = format!("DELETE FROM queue_entries WHERE task_id IN ({})", placeholders(0, chunk.len()));
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            q.execute(&mut *conn).await?;
        }
        Ok(())
    }
}

pub fn validate_queue_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Error::invalid("name", "must not be empty"));
    }
    if name.len() > 128 || name.chars().any(|c| c.is_control() || c == '/') {
        return Err(Error::invalid("name", "must be at most 128 characters, without '/' or control characters"));
    }
    Ok(())
}
