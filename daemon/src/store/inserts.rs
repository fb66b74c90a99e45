//! What creating tasks writes: the task rows, their tags, and for a task created Pending its
//! queue entry; statements built with sea-query for the backend at hand.

use super::patch::{int, json_value, text};
use super::queues::POSITION_STEP;
use super::tasks::TASK_COLUMNS;
use super::{col, Backend, Store, CHUNK};
use crate::error::{Error, Result};
use runyard_api::{Task, TaskStatus, ARCHIVED_TAG};
use sea_query::{
    CommonTableExpression, Expr, Func, InsertStatement, OnConflict, PostgresQueryBuilder, Query, SimpleExpr, Value,
    Values, WithClause,
};
use sea_query_binder::SqlxValues;
use sqlx::AnyConnection;
use std::collections::HashMap;

/// A task row as inserted: the definition plus who and when.
pub struct NewTaskRow<'a> {
    pub id: &'a str,
    pub task: &'a Task,
    pub project_id: &'a str,
    pub user_id: &'a str,
    pub queue_id: Option<&'a str>,
}

impl Store {
    /// Inserts tasks and their tags inside the caller's transaction. Each row's `task` supplies
    /// the definition; its id, project and user fields are ignored in favour of the row's.
    pub async fn insert_tasks(&self, conn: &mut AnyConnection, rows: &[NewTaskRow<'_>]) -> Result<()> {
        for statement in task_inserts(rows)? {
            let (sql, values) = statement.build_any(self.builder());
            sqlx::query_with(&sql, SqlxValues(values)).execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// Inserts tasks in a transaction of their own, in one round trip when possible: the hot
    /// path of task creation. SQLite runs the whole transaction as one script; PostgreSQL runs
    /// one statement (tags and queue entries inserted by data-modifying CTEs), atomic on its own.
    /// Pending rows (status Queued, with a queue) are appended to their queues as well.
    pub async fn insert_tasks_atomically(&self, rows: &[NewTaskRow<'_>]) -> Result<()> {
        if self.backend == Backend::Postgres {
            if let Some((sql, values)) = postgres_single_statement(rows)? {
                sqlx::query_with(&sql, SqlxValues(values)).execute(&self.pool).await?;
                return Ok(());
            }
            let mut tx = self.write().await?;
            self.insert_tasks(&mut tx, rows).await?;
            for r in rows.iter().filter(|r| queued(r)) {
                let created = r.task.created.timestamp_millis();
                Self::push_entries(&mut tx, r.queue_id.expect("queued"), &[(r.id, r.task.priority)], created).await?;
            }
            return tx.commit().await;
        }
        let mut statements = task_inserts(rows)?;
        statements.extend(entry_inserts(rows, false)?);
        let mut script = String::from("BEGIN IMMEDIATE;\n");
        let mut values = Vec::new();
        for statement in statements {
            // SQLite's placeholders are anonymous: bound in order across the whole script.
            let (sql, v) = statement.build_any(self.builder());
            script.push_str(&sql);
            script.push_str(";\n");
            values.extend(v.0);
        }
        script.push_str("COMMIT;");
        self.run_write_script(script, values).await?;
        Ok(())
    }

    /// Adds tags to tasks (a tag a task has already is left alone).
    pub async fn add_tags(&self, conn: &mut AnyConnection, ids: &[&str], tags: &[String]) -> Result<()> {
        let pairs: Vec<(&str, &str)> = ids.iter().flat_map(|id| tags.iter().map(move |t| (*id, t.as_str()))).collect();
        for statement in tag_inserts(&pairs)? {
            let (sql, values) = statement.build_any(self.builder());
            sqlx::query_with(&sql, SqlxValues(values)).execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// Replaces a task's tags.
    pub async fn set_tags(&self, conn: &mut AnyConnection, id: &str, tags: &[String]) -> Result<()> {
        sqlx::query("DELETE FROM task_tags WHERE task_id = $1").bind(id).execute(&mut *conn).await?;
        self.add_tags(conn, &[id], tags).await
    }
}

/// Multi-row INSERTs for tasks, then for their tags.
fn task_inserts(rows: &[NewTaskRow<'_>]) -> Result<Vec<InsertStatement>> {
    let mut out = Vec::new();
    for chunk in rows.chunks(CHUNK / TASK_COLUMNS.len()) {
        let mut insert = Query::insert();
        insert.into_table(col("tasks")).columns(TASK_COLUMNS.map(col));
        for row in chunk {
            insert.values(task_values(row)?.into_iter().map(SimpleExpr::Value)).map_err(internal)?;
        }
        out.push(insert);
    }
    let pairs: Vec<(&str, &str)> =
        rows.iter().flat_map(|r| r.task.tags.iter().map(move |t| (r.id, t.as_str()))).collect();
    out.extend(tag_inserts(&pairs)?);
    Ok(out)
}

/// Multi-row INSERTs of `(task, tag)` pairs; a pair already there is left alone.
pub(super) fn tag_inserts(pairs: &[(&str, &str)]) -> Result<Vec<InsertStatement>> {
    let mut out = Vec::new();
    for chunk in pairs.chunks(CHUNK / 2) {
        let mut insert = Query::insert();
        insert.into_table(col("task_tags")).columns([col("task_id"), col("tag")]);
        insert.on_conflict(OnConflict::new().do_nothing().to_owned());
        for (id, tag) in chunk {
            insert.values([(*id).into(), (*tag).into()]).map_err(internal)?;
        }
        out.push(insert);
    }
    Ok(out)
}

/// Tasks, tags and queue entries as one PostgreSQL statement, when they fit in one: the task
/// insert and each other insert a data-modifying CTE, the last one the statement. All or nothing.
fn postgres_single_statement(rows: &[NewTaskRow<'_>]) -> Result<Option<(String, Values)>> {
    let tags: usize = rows.iter().map(|r| r.task.tags.len()).sum();
    let entries = rows.iter().filter(|r| queued(r)).count();
    if rows.len() * TASK_COLUMNS.len() + tags * 2 + entries * 5 > CHUNK {
        return Ok(None);
    }
    let mut statements = task_inserts(rows)?;
    statements.extend(entry_inserts(rows, true)?);
    let last = statements.pop().expect("the task insert");
    if statements.is_empty() {
        return Ok(Some(last.build(PostgresQueryBuilder)));
    }
    let mut with = WithClause::new();
    for (i, statement) in statements.into_iter().enumerate() {
        with.cte(CommonTableExpression::new().query(statement).table_name(col(&format!("s{i}"))).to_owned());
    }
    Ok(Some(last.with(with).build(PostgresQueryBuilder)))
}

/// A row that joins its queue as it is created.
fn queued(row: &NewTaskRow<'_>) -> bool {
    row.task.status == TaskStatus::Queued && row.queue_id.is_some()
}

/// Appends the queued rows to the end of their queues, one statement each. `in_one_statement`:
/// the statements run as one (all see the same snapshot), so rows bound for the same queue are
/// spaced out by their rank among them.
fn entry_inserts(rows: &[NewTaskRow<'_>], in_one_statement: bool) -> Result<Vec<InsertStatement>> {
    let mut rank: HashMap<&str, i64> = HashMap::new();
    let mut out = Vec::new();
    for r in rows.iter().filter(|r| queued(r)) {
        let queue = r.queue_id.expect("queued");
        let k = if in_one_statement {
            let k = rank.entry(queue).or_insert(0);
            *k += 1;
            *k
        } else {
            1
        };
        let last = Func::coalesce([Expr::col(col("position")).max(), Expr::val(0).into()]);
        let mut select = Query::select();
        select
            .expr(Expr::val(r.id))
            .expr(Expr::val(queue))
            .expr(Expr::val(r.task.priority))
            .expr(Expr::expr(last).add(k * POSITION_STEP))
            .expr(Expr::val(r.task.created.timestamp_millis()))
            .from(col("queue_entries"))
            .and_where(Expr::col(col("queue_id")).eq(queue));
        let mut insert = Query::insert();
        insert
            .into_table(col("queue_entries"))
            .columns(["task_id", "queue_id", "priority", "position", "added"].map(col))
            .select_from(select)
            .map_err(internal)?;
        out.push(insert);
    }
    Ok(out)
}

/// One task row's values, in [`TASK_COLUMNS`] order.
fn task_values(row: &NewTaskRow<'_>) -> Result<Vec<Value>> {
    let t = row.task;
    let system_tags: Vec<&String> = t.system_tags.iter().filter(|s| *s != ARCHIVED_TAG).collect();
    let execution = runyard_api::Execution { queue: None, ..t.execution.clone() };
    Ok(vec![
        text(Some(row.id)),
        text(Some(&t.name)),
        text(Some(row.project_id)),
        text(Some(t.kind.as_str())),
        text(Some(t.status.as_str())),
        text(Some(&t.status_reason)),
        text(Some(&t.status_message)),
        int(Some(t.archived() as i64)),
        text(Some(row.user_id)),
        text(Some(&t.comment)),
        text(t.parent.as_deref()),
        json_value(&system_tags)?,
        int(Some(t.created.timestamp_millis())),
        int(t.started.map(|d| d.timestamp_millis())),
        int(t.completed.map(|d| d.timestamp_millis())),
        int(Some(t.last_update.timestamp_millis())),
        int(Some(t.last_change.timestamp_millis())),
        int(Some(t.last_iteration)),
        text(t.worker.as_deref()),
        text(row.queue_id),
        json_value(&t.script)?,
        json_value(&t.environment)?,
        json_value(&t.container)?,
        json_value(&execution)?,
        json_value(&t.hyperparams)?,
        json_value(&t.configuration)?,
        json_value(&t.runtime)?,
        json_value(&t.models.input)?,
        json_value(&t.models.output)?,
        json_value(&t.artifacts)?,
        int(Some(t.priority)),
    ])
}

fn internal(e: sea_query::error::Error) -> Error {
    Error::Internal(anyhow::anyhow!("building an insert: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_query::SqliteQueryBuilder;

    fn task(status: TaskStatus, tags: &[&str]) -> Task {
        let mut t: Task = serde_json::from_value(serde_json::json!({
            "id": "", "name": "t", "project": "", "project_name": "", "type": "training", "status": "created",
            "status_reason": "", "status_message": "", "user": "", "tags": [], "system_tags": [], "comment": "",
            "parent": null, "created": "2026-01-01T00:00:00Z", "started": null, "completed": null,
            "last_update": "2026-01-01T00:00:00Z", "last_change": "2026-01-01T00:00:00Z", "last_iteration": 0,
            "worker": null, "priority": 0, "script": {}, "environment": {}, "container": {}, "execution": {},
            "hyperparams": {}, "configuration": {}, "runtime": {}, "models": {"input": [], "output": []}, "artifacts": []
        }))
        .expect("a task document");
        t.status = status;
        t.tags = tags.iter().map(|s| s.to_string()).collect();
        t
    }

    #[test]
    fn a_pending_task_with_tags_is_one_postgres_statement_numbered_throughout() {
        let t = task(TaskStatus::Queued, &["a", "b"]);
        let row = NewTaskRow { id: "t1", task: &t, project_id: "p", user_id: "u", queue_id: Some("q") };
        let (sql, values) = postgres_single_statement(&[row]).unwrap().expect("fits one statement");
        assert!(sql.starts_with("WITH \"s0\" AS (INSERT INTO \"tasks\""), "{sql}");
        let last = values.0.len();
        assert!(last > TASK_COLUMNS.len() + 2 * 2, "{sql}");
        assert!(sql.contains(&format!("${last}")) && !sql.contains(&format!("${}", last + 1)), "{sql}");
        assert!(!sql.contains('?'), "{sql}");
        assert!(sql.contains("COALESCE(MAX(\"position\"), $"), "{sql}");
    }

    #[test]
    fn sqlite_statements_use_anonymous_placeholders() {
        let t = task(TaskStatus::Queued, &["a"]);
        let row = NewTaskRow { id: "t1", task: &t, project_id: "p", user_id: "u", queue_id: Some("q") };
        let mut statements = task_inserts(std::slice::from_ref(&row)).unwrap();
        statements.extend(entry_inserts(&[row], false).unwrap());
        assert_eq!(statements.len(), 3);
        for s in statements {
            let (sql, _) = s.build(SqliteQueryBuilder);
            assert!(!sql.contains('$'), "{sql}");
        }
    }
}
