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
    pub iteration: Option<i64>,
    pub metric: Option<&'a str>,
    pub variant: Option<&'a str>,
}

/// Which log lines a read or a clear takes, by the metric they are filed under (a line with
/// none is filed under "").
#[derive(Debug, Clone, Copy, Default)]
pub struct LogMetrics<'a> {
    /// Only these metrics (`None`: any).
    pub include: Option<&'a [String]>,
    /// Never these.
    pub exclude: &'a [String],
}

impl LogMetrics<'_> {
    /// ` AND …` over `COALESCE(metric, '')`.
    fn condition(&self) -> sea_query::Condition {
        use sea_query::{Cond, Expr};
        let metric = || Expr::expr(Expr::cust("COALESCE(metric, '')"));
        let mut cond = Cond::all();
        if let Some(include) = self.include {
            cond = cond.add(metric().is_in(include.iter().map(String::as_str)));
        }
        if !self.exclude.is_empty() {
            cond = cond.add(metric().is_not_in(self.exclude.iter().map(String::as_str)));
        }
        cond
    }
}

/// A page of log lines read by time.
pub struct LogPage {
    /// In the order read: newest first when reading earlier lines.
    pub lines: Vec<ConsoleEntry>,
    /// Every line of the task the metric filter takes, whatever the time.
    pub total: i64,
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
            insert.into_table(Alias::new("task_console")).columns(
                ["task_id", "time", "text", "level", "worker", "iteration", "metric", "variant"].map(Alias::new),
            );
            for line in chunk {
                insert.values_panic([
                    line.task.into(),
                    line.time.into(),
                    line.text.as_ref().into(),
                    line.level.into(),
                    line.worker.into(),
                    line.iteration.into(),
                    line.metric.into(),
                    line.variant.into(),
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
            "SELECT id, time, text, level, worker, iteration, metric, variant, in_page FROM (SELECT id, time, text, \
             level, worker, iteration, metric, variant, \
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
        let mut entries = rows.iter().map(entry).collect::<Result<Vec<_>>>()?;
        if before.is_some() {
            entries.reverse();
        }
        Ok((entries, more))
    }

    /// Up to `limit` log lines of a task by time: before `from` (newest first; from the end
    /// without `from`) or, with `earlier` false, after it (oldest first; from the start).
    pub async fn log_lines(
        &self,
        task_id: &str,
        metrics: LogMetrics<'_>,
        from: Option<i64>,
        earlier: bool,
        limit: u32,
    ) -> Result<LogPage> {
        use sea_query::{Expr, Order};
        let of_task = || {
            let mut q = Query::select();
            q.from(Alias::new("task_console"))
                .and_where(Expr::col(Alias::new("task_id")).eq(task_id))
                .cond_where(metrics.condition());
            q
        };
        let mut page = of_task();
        page.columns(["id", "time", "text", "level", "worker", "iteration", "metric", "variant"].map(Alias::new))
            .limit(limit.into());
        let order = if earlier { Order::Desc } else { Order::Asc };
        if let Some(from) = from {
            let time = Expr::col(Alias::new("time"));
            page.and_where(if earlier { time.lt(from) } else { time.gt(from) });
        }
        page.order_by(Alias::new("time"), order.clone()).order_by(Alias::new("id"), order);
        let lines = super::fetch_all(&mut *self.pool.acquire().await?, &page)
            .await?
            .iter()
            .map(entry)
            .collect::<Result<Vec<_>>>()?;
        let mut count = of_task();
        count.expr_as(Expr::cust("COUNT(*)"), Alias::new("n"));
        let total = super::fetch_all(&mut *self.pool.acquire().await?, &count).await?[0].try_get("n")?;
        Ok(LogPage { lines, total })
    }

    /// Removes a task's log lines that `metrics` takes and, with `before`, that are older than
    /// that time. Returns how many went.
    pub async fn clear_log_lines(&self, task_id: &str, metrics: LogMetrics<'_>, before: Option<i64>) -> Result<u64> {
        use sea_query::Expr;
        let mut delete = Query::delete();
        delete
            .from_table(Alias::new("task_console"))
            .and_where(Expr::col(Alias::new("task_id")).eq(task_id))
            .cond_where(metrics.condition());
        if let Some(before) = before {
            delete.and_where(Expr::col(Alias::new("time")).lt(before));
        }
        let mut tx = self.write().await?;
        let deleted = super::execute(&mut tx, &delete).await?;
        tx.changed(Change::Console { task: task_id.to_string() });
        tx.commit().await?;
        Ok(deleted)
    }

    /// The distinct metrics a task's log lines are filed under (none for lines with no metric).
    pub async fn log_metrics(&self, task_ids: &[String]) -> Result<Vec<(String, String, String)>> {
        use sea_query::Expr;
        let mut q = Query::select();
        q.distinct()
            .columns(["task_id", "metric", "variant"].map(Alias::new))
            .from(Alias::new("task_console"))
            .and_where(Expr::col(Alias::new("task_id")).is_in(task_ids.iter().map(String::as_str)))
            .and_where(Expr::col(Alias::new("metric")).is_not_null());
        super::fetch_all(&mut *self.pool.acquire().await?, &q)
            .await?
            .iter()
            .map(|r| {
                let variant: Option<String> = r.try_get("variant")?;
                Ok((r.try_get("task_id")?, r.try_get("metric")?, variant.unwrap_or_default()))
            })
            .collect()
    }

    /// Empties the consoles of tasks (a reset).
    pub async fn clear_console(conn: &mut sqlx::AnyConnection, task_ids: &[&str]) -> Result<()> {
        super::delete_in(conn, "task_console", "task_id", task_ids).await
    }
}

fn entry(r: &sqlx::any::AnyRow) -> Result<ConsoleEntry> {
    Ok(ConsoleEntry {
        id: r.try_get("id")?,
        time: to_time(r.try_get("time")?),
        text: r.try_get("text")?,
        level: r.try_get("level")?,
        worker: r.try_get("worker")?,
        iteration: r.try_get("iteration")?,
        metric: r.try_get("metric")?,
        variant: r.try_get("variant")?,
    })
}
