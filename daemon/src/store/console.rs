//! Task consoles: output chunks in append order.

use super::{now_ms, to_time, Store};
use crate::error::{Error, Result};
use runyard_api::{Change, ConsoleEntry};
use sqlx::Row;

impl Store {
    /// Appends a chunk to a task's console; it counts as a sign of life of the task.
    /// Returns the chunk's id.
    pub async fn append_console(&self, task_id: &str, time: i64, text: &str) -> Result<i64> {
        let mut tx = self.write().await?;
        let touched = sqlx::query("UPDATE tasks SET last_update = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(task_id)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        if touched == 0 {
            return Err(Error::not_found("task", task_id));
        }
        let id: i64 = sqlx::query("INSERT INTO task_console (task_id, time, text) VALUES ($1, $2, $3) RETURNING id")
            .bind(task_id)
            .bind(time)
            .bind(text)
            .fetch_one(&mut **tx)
            .await?
            .try_get("id")?;
        tx.changed(Change::Console { task: task_id.to_string() });
        tx.commit().await?;
        Ok(id)
    }

    /// Up to `limit` chunks of a task's console after chunk `after`.
    pub async fn console(&self, task_id: &str, after: i64, limit: u32) -> Result<Vec<ConsoleEntry>> {
        let rows =
            sqlx::query("SELECT id, time, text FROM task_console WHERE task_id = $1 AND id > $2 ORDER BY id LIMIT $3")
                .bind(task_id)
                .bind(after)
                .bind(limit as i64)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(ConsoleEntry { id: r.try_get("id")?, time: to_time(r.try_get("time")?), text: r.try_get("text")? })
            })
            .collect()
    }

    /// Empties the consoles of tasks (a reset).
    pub async fn clear_console(conn: &mut sqlx::AnyConnection, task_ids: &[&str]) -> Result<()> {
        super::delete_in(conn, "task_console", "task_id", task_ids).await
    }
}
