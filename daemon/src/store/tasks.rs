//! Tasks: rows, reads, filtered lists and the grouped updates batch actions need.

use super::patch::{text, TaskPatch};
use super::{col, to_time, Backend, Store, CHUNK};
use crate::error::{Error, Result};
use runyard_api::{Artifact, ModelRef, Models, Task, TaskStatus, TaskType, ARCHIVED_TAG};
use sea_query::{Alias, Cond, Expr, JoinType, LikeExpr, LockType, Order, Query, SelectStatement, SimpleExpr, Value};
use sea_query_binder::SqlxBinder;
use sea_query_binder::SqlxValues;
use serde::de::DeserializeOwned;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;

/// What lifecycle decisions need to know about a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskHead {
    pub id: String,
    pub name: String,
    pub status: TaskStatus,
    pub archived: bool,
    /// The worker holding the task, if it is still registered.
    pub worker: Option<String>,
    pub queue_id: Option<String>,
    pub priority: i64,
    /// The worker a Pending task was handed to, until it reports `started`.
    pub leased_to: Option<String>,
    /// The user who created the task.
    pub owner: String,
    /// The identity bound to the worker running the task, or to the one it was handed to.
    pub holder: Option<String>,
    /// How many times the task was handed to a worker (see [`runyard_api::Task::attempt`]).
    pub attempt: i64,
}

/// One agent's report, as [`Store::write_reports`] writes it.
pub struct ReportWrite<'a> {
    pub id: &'a str,
    /// The status the task has now.
    pub from: TaskStatus,
    pub patch: TaskPatch,
    pub leave_queue: bool,
}

/// Which tasks a list returns.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    /// `(project path, include subprojects)`.
    pub project: Option<(String, bool)>,
    pub statuses: Vec<TaskStatus>,
    pub archived: bool,
    /// Tasks carrying every one of these tags.
    pub tags: Vec<String>,
    pub parent: Option<String>,
    pub limit: u64,
    pub offset: u64,
}

/// `alias.id = refers`: how a task row joins what it names.
fn id_of(alias: &str, refers: (Alias, Alias)) -> SimpleExpr {
    Expr::col((col(alias), col("id"))).equals(refers)
}

fn tcol(name: &str) -> (Alias, Alias) {
    (Alias::new("t"), Alias::new(name))
}

fn task_select() -> SelectStatement {
    let mut q = Query::select();
    q.columns(TASK_COLUMNS.map(tcol))
        .column(tcol("attempt"))
        .expr_as(Expr::col((col("p"), col("name"))), col("project_name"))
        .expr_as(Expr::col((col("u"), col("name"))).if_null(""), col("user_name"))
        .expr_as(Expr::col((col("q"), col("name"))), col("queue_name"))
        .from_as(col("tasks"), col("t"))
        .join_as(JoinType::InnerJoin, col("projects"), col("p"), id_of("p", tcol("project_id")))
        .join_as(JoinType::LeftJoin, col("users"), col("u"), id_of("u", tcol("user_id")))
        .join_as(JoinType::LeftJoin, col("queues"), col("q"), id_of("q", tcol("queue_id")));
    q
}

fn json<T: DeserializeOwned + Default>(row: &AnyRow, column: &str) -> Result<T> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| Error::Internal(anyhow::anyhow!("column {column}: {e}")))
}

fn parse_status(s: &str) -> Result<TaskStatus> {
    TaskStatus::parse(s).ok_or_else(|| Error::Internal(anyhow::anyhow!("unknown status '{s}' in the database")))
}

fn task_from_row(row: &AnyRow, tags: Vec<String>) -> Result<Task> {
    let mut system_tags: Vec<String> = json(row, "system_tags")?;
    if row.try_get::<i64, _>("archived")? != 0 {
        system_tags.push(ARCHIVED_TAG.to_string());
    }
    let mut execution: runyard_api::Execution = json(row, "execution")?;
    execution.queue = row.try_get("queue_name")?;
    Ok(Task {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        project: row.try_get("project_id")?,
        project_name: row.try_get("project_name")?,
        kind: TaskType::parse(row.try_get("type")?).unwrap_or_default(),
        status: parse_status(row.try_get("status")?)?,
        status_reason: row.try_get("status_reason")?,
        status_message: row.try_get("status_message")?,
        user: row.try_get("user_name")?,
        tags,
        system_tags,
        comment: row.try_get("comment")?,
        parent: row.try_get("parent")?,
        created: to_time(row.try_get("created")?),
        started: row.try_get::<Option<i64>, _>("started")?.map(to_time),
        completed: row.try_get::<Option<i64>, _>("completed")?.map(to_time),
        last_update: to_time(row.try_get("last_update")?),
        last_change: to_time(row.try_get("last_change")?),
        last_iteration: row.try_get("last_iteration")?,
        worker: row.try_get("worker")?,
        attempt: row.try_get("attempt")?,
        priority: row.try_get("priority")?,
        script: json(row, "script")?,
        environment: json(row, "environment")?,
        container: json(row, "container")?,
        execution,
        hyperparams: json(row, "hyperparams")?,
        configuration: json(row, "configuration")?,
        runtime: json(row, "runtime")?,
        models: Models {
            input: json::<Vec<ModelRef>>(row, "input_models")?,
            output: json::<Vec<ModelRef>>(row, "output_models")?,
        },
        artifacts: json::<Vec<Artifact>>(row, "artifacts")?,
    })
}

impl Store {
    pub async fn get_task(&self, id: &str) -> Result<Task> {
        let mut conn = self.pool.acquire().await?;
        self.get_task_in(&mut conn, id).await
    }

    /// Reads one task inside a transaction (or on any connection).
    /// One query, the tags aggregated into a JSON column: a single round trip on the dispatch path.
    pub async fn get_task_in(&self, conn: &mut AnyConnection, id: &str) -> Result<Task> {
        let tags = match self.backend {
            Backend::Sqlite => r#"(SELECT json_group_array(tag) FROM task_tags WHERE task_id = "t"."id")"#,
            Backend::Postgres => {
                r#"(SELECT COALESCE(json_agg(tag), '[]')::text FROM task_tags WHERE task_id = "t"."id")"#
            }
        };
        let mut q = task_select();
        q.expr_as(Expr::cust(tags), col("tags_json")).and_where(Expr::col(tcol("id")).eq(id));
        let (sql, values) = q.build_any_sqlx(self.builder());
        let row = sqlx::query_with(&sql, values)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| Error::not_found("task", id))?;
        let mut tags: Vec<String> = json(&row, "tags_json")?;
        tags.sort();
        task_from_row(&row, tags)
    }

    /// The tasks of `ids` that exist, in the order of `ids` (archived or not).
    pub async fn get_tasks(&self, ids: &[&str]) -> Result<Vec<Task>> {
        let mut conn = self.pool.acquire().await?;
        let mut tags = Self::load_tags(&mut conn, ids).await?;
        let mut found = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            let mut q = task_select();
            q.and_where(Expr::col(tcol("id")).is_in(chunk.iter().copied()));
            let (sql, values) = q.build_any_sqlx(self.builder());
            for row in sqlx::query_with(&sql, values).fetch_all(&mut *conn).await? {
                let id: String = row.try_get("id")?;
                let task = task_from_row(&row, tags.remove(&id).unwrap_or_default())?;
                found.insert(id, task);
            }
        }
        Ok(ids.iter().filter_map(|id| found.remove(*id)).collect())
    }

    /// Lists tasks, newest first, with the total count of matches.
    pub async fn list_tasks(&self, filter: &TaskFilter) -> Result<(Vec<Task>, u64)> {
        let cond = self.filter_condition(filter);
        let mut count = Query::select();
        count
            .expr_as(Expr::cust("COUNT(*)"), col("n"))
            .from_as(col("tasks"), col("t"))
            .join_as(JoinType::InnerJoin, col("projects"), col("p"), id_of("p", tcol("project_id")))
            .cond_where(cond.clone());
        let (sql, values) = count.build_any_sqlx(self.builder());
        let total: i64 = sqlx::query_with(&sql, values).fetch_one(&self.pool).await?.try_get("n")?;

        let mut q = task_select();
        q.cond_where(cond)
            .order_by(tcol("created"), Order::Desc)
            .order_by(tcol("id"), Order::Desc)
            .limit(filter.limit)
            .offset(filter.offset);
        let (sql, values) = q.build_any_sqlx(self.builder());
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query_with(&sql, values).fetch_all(&mut *conn).await?;
        let ids: Vec<String> = rows.iter().map(|r| r.try_get("id")).collect::<Result<_, _>>()?;
        let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut tags = Self::load_tags(&mut conn, &id_refs).await?;
        let tasks = rows
            .iter()
            .zip(&ids)
            .map(|(row, id)| task_from_row(row, tags.remove(id).unwrap_or_default()))
            .collect::<Result<_>>()?;
        Ok((tasks, total as u64))
    }

    fn filter_condition(&self, f: &TaskFilter) -> Cond {
        let mut cond = Cond::all().add(Expr::col(tcol("archived")).eq(f.archived as i64));
        if let Some((path, subprojects)) = &f.project {
            let name = Expr::col((col("p"), col("name")));
            cond = cond.add(if *subprojects {
                let escaped = path.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
                Cond::any()
                    .add(name.clone().eq(path.as_str()))
                    .add(name.like(LikeExpr::new(format!("{escaped}/%")).escape('\\')))
            } else {
                Cond::all().add(name.eq(path.as_str()))
            });
        }
        if !f.statuses.is_empty() {
            cond = cond.add(Expr::col(tcol("status")).is_in(f.statuses.iter().map(|s| s.as_str())));
        }
        for tag in &f.tags {
            let mut sub = Query::select();
            sub.expr(Expr::val(1))
                .from_as(col("task_tags"), col("tt"))
                .and_where(Expr::col((col("tt"), col("task_id"))).equals(tcol("id")))
                .and_where(Expr::col((col("tt"), col("tag"))).eq(tag.as_str()));
            cond = cond.add(Expr::exists(sub));
        }
        if let Some(parent) = &f.parent {
            cond = cond.add(Expr::col(tcol("parent")).eq(parent.as_str()));
        }
        cond
    }

    /// Reads the lifecycle facts of tasks, locking their rows on PostgreSQL.
    /// Rows are locked in id order, chunk after chunk, so two batches never wait on each other
    /// crosswise (no deadlock).
    pub async fn lock_heads(&self, conn: &mut AnyConnection, ids: &[&str]) -> Result<HashMap<String, TaskHead>> {
        let mut out = HashMap::with_capacity(ids.len());
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        for chunk in ids.chunks(CHUNK) {
            if self.backend == Backend::Postgres {
                // Lock the leases too, or a watchdog requeue could slip between our read of a
                // lease and the start that consumes it.
                let leases = Query::select()
                    .column(col("task_id"))
                    .from(col("task_leases"))
                    .and_where(Expr::col(col("task_id")).is_in(chunk.iter().copied()))
                    .order_by(col("task_id"), Order::Asc)
                    .lock(LockType::Update)
                    .to_owned();
                super::fetch_all(conn, &leases).await?;
            }
            let heads = Query::select()
                .columns([
                    tcol("id"),
                    tcol("name"),
                    tcol("status"),
                    tcol("archived"),
                    tcol("queue_id"),
                    tcol("priority"),
                    tcol("attempt"),
                ])
                .expr_as(Expr::col((col("w"), col("id"))), col("worker"))
                .expr_as(Expr::col((col("l"), col("worker"))), col("leased_to"))
                .expr_as(Expr::col(tcol("user_id")), col("owner"))
                .expr_as(Expr::cust("COALESCE(w.owner, lw.owner)"), col("holder"))
                .from_as(col("tasks"), col("t"))
                .join_as(JoinType::LeftJoin, col("workers"), col("w"), id_of("w", tcol("worker")))
                .join_as(
                    JoinType::LeftJoin,
                    col("task_leases"),
                    col("l"),
                    Expr::col((col("l"), col("task_id"))).equals(tcol("id")),
                )
                .join_as(JoinType::LeftJoin, col("workers"), col("lw"), id_of("lw", (col("l"), col("worker"))))
                .and_where(Expr::col(tcol("id")).is_in(chunk.iter().copied()))
                .order_by(tcol("id"), Order::Asc)
                .lock_with_tables(LockType::Update, [col("t")])
                .to_owned();
            for row in super::fetch_all(conn, &heads).await? {
                let head = TaskHead {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    status: parse_status(row.try_get("status")?)?,
                    archived: row.try_get::<i64, _>("archived")? != 0,
                    worker: row.try_get("worker")?,
                    queue_id: row.try_get("queue_id")?,
                    priority: row.try_get("priority")?,
                    leased_to: row.try_get("leased_to")?,
                    owner: row.try_get("owner")?,
                    holder: row.try_get("holder")?,
                    attempt: row.try_get("attempt")?,
                };
                out.insert(head.id.clone(), head);
            }
        }
        Ok(out)
    }

    /// Ids of the running children of the given parents, with their parent and worker.
    pub async fn running_children(
        &self,
        conn: &mut AnyConnection,
        parents: &[&str],
    ) -> Result<Vec<(String, String, Option<String>)>> {
        let mut out = Vec::new();
        for chunk in parents.chunks(CHUNK) {
            let children = Query::select()
                .columns([tcol("id"), tcol("parent")])
                .expr_as(Expr::col((col("w"), col("id"))), col("worker"))
                .from_as(col("tasks"), col("t"))
                .join_as(JoinType::LeftJoin, col("workers"), col("w"), id_of("w", tcol("worker")))
                .and_where(Expr::col(tcol("status")).eq(TaskStatus::InProgress.as_str()))
                .and_where(Expr::col(tcol("parent")).is_in(chunk.iter().copied()))
                .lock_with_tables(LockType::Update, [col("t")])
                .to_owned();
            for row in super::fetch_all(conn, &children).await? {
                out.push((row.try_get("id")?, row.try_get("parent")?, row.try_get("worker")?));
            }
        }
        Ok(out)
    }

    /// Writes `patch` on the tasks of `ids`, whatever their status.
    pub async fn update_tasks(&self, conn: &mut AnyConnection, ids: &[&str], patch: &TaskPatch) -> Result<()> {
        self.update_where(conn, ids, None, patch).await.map(|_| ())
    }

    /// The tasks that name a model among their input models.
    pub async fn tasks_using_model(&self, model_id: &str) -> Result<Vec<String>> {
        // The pattern narrows the rows (its wildcards made single-character ones); each row's
        // inputs are then read exactly.
        let select = Query::select()
            .columns([col("id"), col("input_models")])
            .from(col("tasks"))
            .and_where(Expr::col(col("input_models")).like(format!("%{}%", model_id.replace(['%', '\\'], "_"))))
            .to_owned();
        let rows = super::fetch_all(&mut *self.pool.acquire().await?, &select).await?;
        let mut using = Vec::new();
        for row in &rows {
            let inputs = json::<Vec<ModelRef>>(row, "input_models")?;
            if inputs.iter().any(|m| m.model_id.as_deref() == Some(model_id)) {
                using.push(row.try_get("id")?);
            }
        }
        Ok(using)
    }

    /// Drops the tasks' output artifacts, keeping their inputs (part of their definition).
    pub async fn clear_output_artifacts(&self, conn: &mut AnyConnection, ids: &[&str]) -> Result<()> {
        for id in ids {
            let task = self.get_task_in(conn, id).await?;
            let inputs: Vec<Artifact> = task.artifacts.into_iter().filter(Artifact::is_input).collect();
            self.update_tasks(conn, &[id], &TaskPatch { artifacts: Some(inputs), ..Default::default() }).await?;
        }
        Ok(())
    }

    /// Compare-and-set: writes `patch` on each task of `tasks` only if it still has the status
    /// given with it (`UPDATE … WHERE id IN (…) AND status = ?`). A task whose status changed
    /// meanwhile fails the whole write with a conflict, so its transaction changes nothing.
    pub async fn transition_tasks(
        &self,
        conn: &mut AnyConnection,
        tasks: &[(&str, TaskStatus)],
        patch: &TaskPatch,
    ) -> Result<()> {
        let mut by_status: Vec<(TaskStatus, Vec<&str>)> = Vec::new();
        for (id, from) in tasks {
            match by_status.iter_mut().find(|(s, _)| s == from) {
                Some((_, ids)) => ids.push(id),
                None => by_status.push((*from, vec![id])),
            }
        }
        for (from, ids) in by_status {
            let updated = self.update_where(conn, &ids, Some(from), patch).await?;
            if updated != ids.len() as u64 {
                return Err(Error::Conflict(format!(
                    "{} of {} task(s) left status {} meanwhile; nothing was changed",
                    ids.len() as u64 - updated,
                    ids.len(),
                    from.as_str()
                )));
            }
        }
        Ok(())
    }

    /// `UPDATE tasks SET … WHERE id IN (…) [AND status = from]`; the number of rows changed.
    async fn update_where(
        &self,
        conn: &mut AnyConnection,
        ids: &[&str],
        from: Option<TaskStatus>,
        patch: &TaskPatch,
    ) -> Result<u64> {
        let columns = patch.columns()?;
        if ids.is_empty() || columns.is_empty() {
            return Ok(0);
        }
        let mut updated = 0;
        for chunk in ids.chunks(CHUNK) {
            let (sql, values) = self.update_sql(&columns, chunk, from);
            updated += sqlx::query_with(&sql, values).execute(&mut *conn).await?.rows_affected();
        }
        Ok(updated)
    }

    fn update_sql(
        &self,
        columns: &[(&'static str, Value)],
        ids: &[&str],
        from: Option<TaskStatus>,
    ) -> (String, SqlxValues) {
        let mut q = Query::update();
        q.table(col("tasks"))
            .values(columns.iter().map(|(c, v)| (col(c), SimpleExpr::Value(v.clone()))))
            .and_where(Expr::col(col("id")).is_in(ids.iter().copied()));
        if let Some(from) = from {
            q.and_where(Expr::col(col("status")).eq(from.as_str()));
        }
        q.build_any_sqlx(self.builder())
    }

    /// SQLite: the agents' reports of a group in one script, under the write lock the caller
    /// took before reading the tasks' heads (so each `from` status is current). Each report
    /// writes its patch, and one that leaves its queue also drops its entry and lease.
    pub(crate) async fn write_reports(
        &self,
        guard: tokio::sync::OwnedMutexGuard<()>,
        reports: &[ReportWrite<'_>],
    ) -> Result<()> {
        let mut script = String::from("BEGIN IMMEDIATE;\n");
        let mut values = Vec::new();
        for report in reports {
            let (sql, update) = self.update_sql(&report.patch.columns()?, &[report.id], Some(report.from));
            script.push_str(&sql);
            script.push_str(";\n");
            values.extend(update.0 .0);
            if report.leave_queue {
                script.push_str(
                    "DELETE FROM queue_entries WHERE task_id = ?;\nDELETE FROM task_leases WHERE task_id = ?;\n",
                );
                values.extend([text(Some(report.id)), text(Some(report.id))]);
            }
        }
        script.push_str("COMMIT;");
        self.run_locked_script(guard, script, values).await?;
        Ok(())
    }

    /// A sign of life of tasks that reported results: `last_update` set to `now`, and
    /// `last_iteration` advanced to the given iteration (never moved back).
    pub async fn touch_tasks(conn: &mut AnyConnection, tasks: &[(&str, Option<i64>)], now: i64) -> Result<()> {
        for (id, iteration) in tasks {
            sqlx::query(
                "UPDATE tasks SET last_update = $1, \
                 last_iteration = CASE WHEN last_iteration < $2 THEN $2 ELSE last_iteration END WHERE id = $3",
            )
            .bind(now)
            .bind(iteration.unwrap_or(i64::MIN))
            .bind(*id)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// Reads the lifecycle facts of tasks on a read connection, without locking anything.
    pub async fn read_heads(&self, ids: &[&str]) -> Result<HashMap<String, TaskHead>> {
        let mut conn = self.pool.acquire().await?;
        self.lock_heads(&mut conn, ids).await
    }

    /// Deletes tasks and everything the store keeps for them.
    pub async fn delete_tasks(conn: &mut AnyConnection, ids: &[&str]) -> Result<()> {
        for table in ["task_tags", "queue_entries", "task_leases", "task_console"] {
            super::delete_in(conn, table, "task_id", ids).await?;
        }
        super::delete_in(conn, "tasks", "id", ids).await
    }

    pub async fn remove_tags(conn: &mut AnyConnection, ids: &[&str], tags: &[String]) -> Result<()> {
        for chunk in ids.chunks(CHUNK) {
            let statement = Query::delete()
                .from_table(col("task_tags"))
                .and_where(Expr::col(col("task_id")).is_in(chunk.iter().copied()))
                .and_where(Expr::col(col("tag")).is_in(tags.iter().map(String::as_str)))
                .to_owned();
            super::execute(conn, &statement).await?;
        }
        Ok(())
    }

    async fn load_tags(conn: &mut AnyConnection, ids: &[&str]) -> Result<HashMap<String, Vec<String>>> {
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for chunk in ids.chunks(CHUNK) {
            let statement = Query::select()
                .columns([col("task_id"), col("tag")])
                .from(col("task_tags"))
                .and_where(Expr::col(col("task_id")).is_in(chunk.iter().copied()))
                .order_by(col("task_id"), Order::Asc)
                .order_by(col("tag"), Order::Asc)
                .to_owned();
            for row in super::fetch_all(conn, &statement).await? {
                out.entry(row.try_get("task_id")?).or_default().push(row.try_get("tag")?);
            }
        }
        Ok(out)
    }

    /// `(status, count)` over all tasks.
    pub async fn count_by_status(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM tasks GROUP BY status").fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((r.try_get("status")?, r.try_get("n")?))).collect()
    }
}

/// Every column of a task row: what inserts write and full reads select.
pub(crate) const TASK_COLUMNS: [&str; 31] = [
    "id",
    "name",
    "project_id",
    "type",
    "status",
    "status_reason",
    "status_message",
    "archived",
    "user_id",
    "comment",
    "parent",
    "system_tags",
    "created",
    "started",
    "completed",
    "last_update",
    "last_change",
    "last_iteration",
    "worker",
    "queue_id",
    "script",
    "environment",
    "container",
    "execution",
    "hyperparams",
    "configuration",
    "runtime",
    "input_models",
    "output_models",
    "artifacts",
    "priority",
];
