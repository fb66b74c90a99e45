//! Task consoles: output chunks in append order.

use super::{now_ms, to_time, Store};
use crate::error::{Error, Result};
use runyard_api::{Change, ConsoleEntry};
use sea_query::{Alias, Query};
use sqlx::Row;

/// Text one console page carries at most (besides its first chunk, which always comes).
pub const MAX_PAGE_BYTES: i64 = 8 << 20;

/// A console line reported as a log event.
pub struct ConsoleLine<'a> {
    pub task: &'a str,
    pub time: i64,
    pub text: std::borrow::Cow<'a, str>,
    pub level: Option<&'a str>,
    pub worker: Option<&'a str>,
}

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

    /// Appends log lines (one chunk each) inside a write transaction; the caller announces
    /// [`Change::Console`].
    pub async fn append_console_lines(conn: &mut sqlx::AnyConnection, lines: &[ConsoleLine<'_>]) -> Result<()> {
        for chunk in lines.chunks(super::CHUNK / 5) {
            let mut insert = Query::insert();
            insert
                .into_table(Alias::new("task_console"))
                .columns(["task_id", "time", "text", "level", "worker"].map(Alias::new));
            for line in chunk {
                insert.values_panic([
                    line.task.into(),
                    line.time.into(),
                    line.text.as_ref().into(),
                    line.level.into(),
                    line.worker.into(),
                ]);
            }
            super::execute(conn, &insert).await?;
        }
        Ok(())
    }

    /// Up to `limit` chunks of a task's console: after chunk `after` in append order, or (with
    /// `before`) the last ones before that chunk; only those containing `search`, if given; and
    /// no more than start within [`MAX_PAGE_BYTES`] of text (the first always comes). Always
    /// returned in append order, with whether more follow in the direction read.
    pub async fn console(
        &self,
        task_id: &str,
        after: i64,
        before: Option<i64>,
        search: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<ConsoleEntry>, bool)> {
        let (bound, order) = match before {
            Some(_) => ("id < $2", "DESC"),
            None => ("id > $2", "ASC"),
        };
        let filter = if search.is_some() { " AND LOWER(text) LIKE $5 ESCAPE '\\'" } else { "" };
        let bytes = match self.backend {
            super::Backend::Sqlite => "LENGTH(CAST(text AS BLOB))",
            super::Backend::Postgres => "OCTET_LENGTH(text)",
        };
        // The bytes of text before each chunk of the page, so a page stops once it is big.
        let sql = format!(
            "SELECT id, time, text, level, worker, in_page FROM (SELECT id, time, text, level, worker, \
             SUM({bytes}) OVER (ORDER BY id {order}) - {bytes} AS bytes_before, COUNT(*) OVER () AS in_page \
             FROM task_console \
             WHERE task_id = $1 AND {bound}{filter} ORDER BY id {order} LIMIT $3) page \
             WHERE bytes_before < $4 ORDER BY id {order}"
        );
        let mut q =
            sqlx::query(&sql).bind(task_id).bind(before.unwrap_or(after)).bind(limit as i64).bind(MAX_PAGE_BYTES);
        if let Some(text) = search {
            let escaped = text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            q = q.bind(format!("%{escaped}%"));
        }
        let rows = q.fetch_all(&self.pool).await?;
        // More follow when the page was full, or cut short by its size.
        let in_page = match rows.first() {
            Some(r) => r.try_get::<i64, _>("in_page")?,
            None => 0,
        };
        let more = in_page == limit as i64 || (rows.len() as i64) < in_page;
        let mut entries = rows
            .iter()
            .map(|r| {
                Ok(ConsoleEntry {
                    id: r.try_get("id")?,
                    time: to_time(r.try_get("time")?),
                    text: r.try_get("text")?,
                    level: r.try_get("level")?,
                    worker: r.try_get("worker")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if before.is_some() {
            entries.reverse();
        }
        Ok((entries, more))
    }

    /// Empties the consoles of tasks (a reset).
    pub async fn clear_console(conn: &mut sqlx::AnyConnection, task_ids: &[&str]) -> Result<()> {
        super::delete_in(conn, "task_console", "task_id", task_ids).await
    }
}
