//! Workers: the agents pulling from queues, with their last status report.

use super::{now_ms, strings, to_time, Store, WriteTx};
use crate::error::{Error, Result};
use runyard_api::{Capabilities, Change, RegisterWorker, Worker, WorkerReport};
use sqlx::any::AnyRow;
use sqlx::Row;

/// How long a worker may stay silent before it is dropped, unless it says otherwise.
pub const DEFAULT_WORKER_TIMEOUT_SECONDS: u64 = 60;

fn worker_from_row(r: &AnyRow) -> Result<Worker> {
    let json = |c: &str| -> Result<String> { Ok(r.try_get::<String, _>(c)?) };
    Ok(Worker {
        id: r.try_get("id")?,
        queues: serde_json::from_str(&json("queues")?)?,
        capabilities: serde_json::from_str::<Capabilities>(&json("capabilities")?)?,
        last_report: serde_json::from_str::<WorkerReport>(&json("last_report")?)?,
        task: r.try_get("task_id")?,
        registered: to_time(r.try_get("registered")?),
        last_seen: to_time(r.try_get("last_seen")?),
        timeout_seconds: r.try_get::<i64, _>("timeout_seconds")? as u64,
        drained: r.try_get::<i64, _>("drained")? != 0,
    })
}

const WORKER_COLUMNS: &str =
    "id, queues, capabilities, last_report, task_id, registered, last_seen, timeout_seconds, drained";

impl Store {
    /// Registers a worker bound to `owner` (a user id), or refreshes its registration (keeping
    /// its drained flag). An id bound to another identity is refused (403).
    pub async fn register_worker(&self, w: &RegisterWorker, owner: &str) -> Result<Worker> {
        let now = now_ms();
        let timeout = w.timeout_seconds.unwrap_or(DEFAULT_WORKER_TIMEOUT_SECONDS) as i64;
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "INSERT INTO workers (id, queues, capabilities, last_report, task_id, registered, last_seen, timeout_seconds, drained, owner) \
             VALUES ($1, $2, $3, '{}', NULL, $4, $4, $5, 0, $6) \
             ON CONFLICT (id) DO UPDATE SET queues = excluded.queues, capabilities = excluded.capabilities, \
             last_seen = excluded.last_seen, timeout_seconds = excluded.timeout_seconds, owner = excluded.owner \
             WHERE workers.owner IS NULL OR workers.owner = excluded.owner",
        )
        .bind(&w.id)
        .bind(serde_json::to_string(&w.queues)?)
        .bind(serde_json::to_string(&w.capabilities)?)
        .bind(now)
        .bind(timeout)
        .bind(owner)
        .execute(&mut **tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::Forbidden(format!("worker id '{}' is registered by another identity", w.id)));
        }
        tx.changed(Change::Worker { id: w.id.clone() });
        tx.commit().await?;
        self.worker(&w.id).await
    }

    /// The identity (user id) worker `id` is bound to; `None` for one registered before binding.
    pub async fn worker_owner(&self, id: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT owner FROM workers WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("worker", id))?;
        Ok(row.try_get("owner")?)
    }

    /// What a pop needs of its worker, in one read: the identity it is bound to and whether it
    /// is drained.
    pub async fn worker_gate(&self, id: &str) -> Result<(Option<String>, bool)> {
        let row = sqlx::query("SELECT owner, drained FROM workers WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("worker", id))?;
        Ok((row.try_get("owner")?, row.try_get::<i64, _>("drained")? != 0))
    }

    pub async fn worker(&self, id: &str) -> Result<Worker> {
        let sql = format!("SELECT {WORKER_COLUMNS} FROM workers WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("worker", id))?;
        worker_from_row(&row)
    }

    pub async fn list_workers(&self) -> Result<Vec<Worker>> {
        let sql = format!("SELECT {WORKER_COLUMNS} FROM workers ORDER BY id");
        sqlx::query(&sql).fetch_all(&self.pool).await?.iter().map(worker_from_row).collect()
    }

    /// `(worker id, queues)` of every worker.
    pub(super) async fn worker_queues(&self) -> Result<Vec<(String, Vec<String>)>> {
        let rows = sqlx::query("SELECT id, queues FROM workers").fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((r.try_get("id")?, serde_json::from_str(&r.try_get::<String, _>("queues")?)?))).collect()
    }

    /// Records a status report. A report naming a task the worker does not hold is refused.
    /// Returns the worker's drained flag and its tasks that were asked to abort.
    pub async fn report_worker(&self, id: &str, report: &WorkerReport) -> Result<(bool, Vec<String>)> {
        let now = now_ms();
        let mut tx = self.write().await?;
        let drained = sqlx::query("SELECT drained FROM workers WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or_else(|| Error::not_found("worker", id))?
            .try_get::<i64, _>("drained")?
            != 0;
        if let Some(task) = &report.task {
            let held = sqlx::query("SELECT 1 FROM tasks WHERE id = $1 AND worker = $2 AND status = 'in_progress'")
                .bind(task)
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?
                .is_some()
                || Self::lease(&mut tx, task).await?.is_some_and(|(w, _)| w == id);
            if !held {
                return Err(Error::Conflict(format!("worker '{id}' does not hold task '{task}'")));
            }
            // A status report is a sign of life for the task too.
            sqlx::query("UPDATE tasks SET last_update = $1 WHERE id = $2")
                .bind(now)
                .bind(task)
                .execute(&mut **tx)
                .await?;
        }
        sqlx::query("UPDATE workers SET last_report = $1, task_id = $2, last_seen = $3 WHERE id = $4")
            .bind(serde_json::to_string(report)?)
            .bind(&report.task)
            .bind(now)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        let stopping = sqlx::query(
            "SELECT id FROM tasks WHERE worker = $1 AND status = 'in_progress' AND status_message = 'stopping'",
        )
        .bind(id)
        .fetch_all(&mut **tx)
        .await?;
        let abort = strings(&stopping, "id")?;
        tx.changed(Change::Worker { id: id.to_string() });
        tx.commit().await?;
        Ok((drained, abort))
    }

    pub async fn set_drained(&self, id: &str, drained: bool) -> Result<Worker> {
        let mut tx = self.write().await?;
        let done = sqlx::query("UPDATE workers SET drained = $1 WHERE id = $2")
            .bind(drained as i64)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("worker", id));
        }
        tx.changed(Change::Worker { id: id.to_string() });
        tx.commit().await?;
        self.worker(id).await
    }

    /// Removes a worker. Tasks it was handed but never started go back to their queues.
    pub async fn unregister_worker(&self, id: &str) -> Result<()> {
        let mut tx = self.write().await?;
        let done = sqlx::query("DELETE FROM workers WHERE id = $1").bind(id).execute(&mut **tx).await?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("worker", id));
        }
        tx.changed(Change::Worker { id: id.to_string() });
        tx.commit().await?;
        self.requeue_leases(None, Some(id)).await?;
        Ok(())
    }

    /// Workers silent for longer than their timeout.
    pub async fn silent_workers(&self, now: i64) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT id FROM workers WHERE last_seen + timeout_seconds * 1000 < $1")
            .bind(now)
            .fetch_all(&self.pool)
            .await?;
        strings(&rows, "id")
    }

    /// Inside a write transaction: whether worker `id` is still silent at `now` (then it is
    /// locked until the commit); `false` if it reported meanwhile or another replica took it.
    pub async fn lock_lost_worker(&self, tx: &mut WriteTx<'_>, id: &str, now: i64) -> Result<bool> {
        let sql = format!(
            "SELECT id FROM workers WHERE id = $1 AND last_seen + timeout_seconds * 1000 < $2{}",
            self.skip_locked()
        );
        Ok(sqlx::query(&sql).bind(id).bind(now).fetch_optional(&mut ***tx).await?.is_some())
    }

    /// The tasks running on worker `id`.
    pub async fn running_on(tx: &mut WriteTx<'_>, id: &str) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT id FROM tasks WHERE worker = $1 AND status = 'in_progress'")
            .bind(id)
            .fetch_all(&mut ***tx)
            .await?;
        strings(&rows, "id")
    }

    /// Removes worker `id` (its tasks dealt with).
    pub async fn remove_worker(tx: &mut WriteTx<'_>, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM workers WHERE id = $1").bind(id).execute(&mut ***tx).await?;
        tx.changed(Change::Worker { id: id.to_string() });
        Ok(())
    }

    /// Inside a write transaction: running tasks silent since `before` (locked; on PostgreSQL
    /// those another replica holds are skipped).
    pub async fn silent_tasks(&self, tx: &mut WriteTx<'_>, before: i64) -> Result<Vec<String>> {
        let sql =
            format!("SELECT id FROM tasks WHERE status = 'in_progress' AND last_update < $1{}", self.skip_locked());
        strings(&sqlx::query(&sql).bind(before).fetch_all(&mut ***tx).await?, "id")
    }
}
