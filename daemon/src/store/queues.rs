//! Queues: ordered lists of Pending tasks, and the leases of tasks handed to agents.
//!
//! Dispatch order is `priority DESC, position ASC`. `queue_entries.priority` is the effective
//! sort key: the task's own priority at enqueue, or its new neighbours' after a manual move,
//! so a move always wins. Positions have gaps; when a move finds none, the queue is renumbered.

use super::{col, new_id, now_ms, to_time, Store, WriteTx, CHUNK};
use crate::error::{Error, Result};
use runyard_api::{Change, MoveEntry, Queue, QueueDetail, QueueEntry};
use sea_query::{
    CommonTableExpression, Cond, Expr, InsertStatement, LockBehavior, LockType, Order, Query, QueryStatementBuilder,
    SelectStatement, SqliteQueryBuilder, WithClause,
};
use sea_query_binder::SqlxValues;
use sqlx::{AnyConnection, Row};

/// The queue that exists from the first start.
pub const DEFAULT_QUEUE: &str = "default";

/// Gap between consecutive positions, so moves can land between entries.
pub(crate) const POSITION_STEP: i64 = 1 << 16;

/// One entry as stored.
#[derive(Debug, Clone)]
struct Slot {
    task_id: String,
    priority: i64,
    position: i64,
}

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
        Ok(Queue {
            id,
            name: name.to_string(),
            created: to_time(now),
            length: 0,
            workers: Vec::new(),
            oldest_entry: None,
        })
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
            "SELECT q.id, q.name, q.created, COUNT(e.task_id) AS length, MIN(e.added) AS oldest FROM queues q \
             LEFT JOIN queue_entries e ON e.queue_id = q.id GROUP BY q.id, q.name, q.created ORDER BY q.name",
        )
        .fetch_all(&self.pool)
        .await?;
        let workers = self.worker_queues().await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id")?;
                let name: String = r.try_get("name")?;
                let listening = workers
                    .iter()
                    .filter(|(_, queues)| queues.iter().any(|q| *q == id || *q == name))
                    .map(|(w, _)| w.clone())
                    .collect();
                Ok(Queue {
                    created: to_time(r.try_get("created")?),
                    length: r.try_get::<i64, _>("length")? as u64,
                    oldest_entry: r.try_get::<Option<i64>, _>("oldest")?.map(to_time),
                    workers: listening,
                    id,
                    name,
                })
            })
            .collect()
    }

    /// A queue and its entries in dispatch order.
    pub async fn queue_detail(&self, name_or_id: &str) -> Result<QueueDetail> {
        // One connection at a time: holding one while taking another can starve the pool.
        let (id, _) = Self::resolve_queue(&mut *self.pool.acquire().await?, name_or_id).await?;
        let queue = self
            .list_queues()
            .await?
            .into_iter()
            .find(|q| q.id == id)
            .ok_or_else(|| Error::not_found("queue", name_or_id))?;
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query(
            "SELECT e.task_id, t.name, t.priority, e.added FROM queue_entries e JOIN tasks t ON t.id = e.task_id \
             WHERE e.queue_id = $1 ORDER BY e.priority DESC, e.position",
        )
        .bind(&id)
        .fetch_all(&mut *conn)
        .await?;
        let entries = rows
            .iter()
            .map(|r| {
                Ok(QueueEntry {
                    task: r.try_get("task_id")?,
                    name: r.try_get("name")?,
                    priority: r.try_get("priority")?,
                    added: to_time(r.try_get("added")?),
                })
            })
            .collect::<Result<_>>()?;
        Ok(QueueDetail { queue, entries })
    }

    pub async fn rename_queue(&self, name_or_id: &str, new_name: &str) -> Result<Queue> {
        validate_queue_name(new_name)?;
        let mut tx = self.write().await?;
        let (id, old) = Self::resolve_queue(&mut tx, name_or_id).await?;
        if old == DEFAULT_QUEUE {
            return Err(Error::Conflict("the default queue cannot be renamed".into()));
        }
        let taken = sqlx::query("SELECT 1 FROM queues WHERE name = $1 AND id <> $2")
            .bind(new_name)
            .bind(&id)
            .fetch_optional(&mut **tx)
            .await?;
        if taken.is_some() {
            return Err(Error::Conflict(format!("a queue named '{new_name}' exists already")));
        }
        sqlx::query("UPDATE queues SET name = $1 WHERE id = $2").bind(new_name).bind(&id).execute(&mut **tx).await?;
        tx.changed(Change::Queue { id: id.clone() });
        tx.commit().await?;
        self.list_queues().await?.into_iter().find(|q| q.id == id).ok_or_else(|| Error::not_found("queue", id))
    }

    /// Inside a write transaction: a queue to delete, as `(id, name, tasks it holds)` (waiting,
    /// or handed out but not started). The default queue cannot be deleted.
    pub async fn queue_to_delete(
        &self,
        tx: &mut WriteTx<'_>,
        name_or_id: &str,
    ) -> Result<(String, String, Vec<String>)> {
        let (id, name) = Self::resolve_queue(tx, name_or_id).await?;
        if name == DEFAULT_QUEUE {
            return Err(Error::Conflict("the default queue cannot be deleted".into()));
        }
        let mut held: Vec<String> = Vec::new();
        for table in ["queue_entries", "task_leases"] {
            let sql = format!("SELECT task_id FROM {table} WHERE queue_id = $1");
            for row in sqlx::query(&sql).bind(&id).fetch_all(&mut ***tx).await? {
                held.push(row.try_get("task_id")?);
            }
        }
        Ok((id, name, held))
    }

    /// Deletes a queue whose tasks were dealt with: their entries and leases go, and no task
    /// keeps it as its queue.
    pub async fn delete_queue(tx: &mut WriteTx<'_>, id: &str, held: &[&str]) -> Result<()> {
        Self::remove_entries(tx, held).await?;
        sqlx::query("UPDATE tasks SET queue_id = NULL WHERE queue_id = $1").bind(id).execute(&mut ***tx).await?;
        sqlx::query("DELETE FROM queues WHERE id = $1").bind(id).execute(&mut ***tx).await?;
        tx.changed(Change::Queue { id: id.to_string() });
        Ok(())
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

    /// Appends tasks, in order, to the end of a queue, each with its priority; waiting agents
    /// are woken when the transaction commits.
    pub async fn push_entries(tx: &mut WriteTx<'_>, queue_id: &str, tasks: &[(&str, i64)], now: i64) -> Result<()> {
        let last: Option<i64> = sqlx::query("SELECT MAX(position) AS p FROM queue_entries WHERE queue_id = $1")
            .bind(queue_id)
            .fetch_one(&mut ***tx)
            .await?
            .get("p");
        let mut position = last.unwrap_or(0);
        for chunk in tasks.chunks(CHUNK / 5) {
            let mut insert = Query::insert();
            insert.into_table(col("queue_entries")).columns(ENTRY_COLUMNS.map(col));
            for (id, priority) in chunk {
                position += POSITION_STEP;
                insert.values_panic([(*id).into(), queue_id.into(), (*priority).into(), position.into(), now.into()]);
            }
            super::execute(tx, &insert).await?;
        }
        tx.changed(Change::Queue { id: queue_id.to_string() });
        Ok(())
    }

    /// Takes tasks out of whatever queue holds them, and drops their leases.
    pub async fn remove_entries(conn: &mut AnyConnection, task_ids: &[&str]) -> Result<()> {
        super::delete_in(conn, "queue_entries", "task_id", task_ids).await?;
        super::delete_in(conn, "task_leases", "task_id", task_ids).await
    }

    async fn slots(conn: &mut AnyConnection, queue_id: &str) -> Result<Vec<Slot>> {
        sqlx::query(
            "SELECT task_id, priority, position FROM queue_entries WHERE queue_id = $1 ORDER BY priority DESC, position",
        )
        .bind(queue_id)
        .fetch_all(conn)
        .await?
        .iter()
        .map(|r| Ok(Slot { task_id: r.try_get("task_id")?, priority: r.try_get("priority")?, position: r.try_get("position")? }))
        .collect()
    }

    /// Moves a task inside its queue. Returns the queue's new order.
    pub async fn move_entry(&self, queue: &str, task: &str, to: &MoveEntry) -> Result<QueueDetail> {
        let mut tx = self.write().await?;
        let (queue_id, _) = Self::resolve_queue(&mut tx, queue).await?;
        let mut slots = Self::slots(&mut tx, &queue_id).await?;
        let from = slots
            .iter()
            .position(|s| s.task_id == task)
            .ok_or_else(|| Error::not_found("queue entry", format!("{queue}/{task}")))?;
        slots.remove(from);
        let index_of = |field: &str, id: &str, slots: &[Slot]| {
            slots
                .iter()
                .position(|s| s.task_id == id)
                .ok_or_else(|| Error::invalid(field, format!("task '{id}' is not waiting in queue '{queue}'")))
        };
        let given = [to.to.is_some(), to.position.is_some(), to.before.is_some(), to.after.is_some()];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(Error::invalid("to", "give exactly one of to (top|bottom), position, before, after"));
        }
        let index = match (&to.to, to.position, &to.before, &to.after) {
            (Some(t), ..) if t == "top" => 0,
            (Some(t), ..) if t == "bottom" => slots.len(),
            (Some(t), ..) => return Err(Error::invalid("to", format!("'{t}' is not top or bottom"))),
            (_, Some(p), ..) if p as usize > slots.len() => {
                return Err(Error::invalid(
                    "position",
                    format!("{p} is past the end of the queue (positions 0 to {})", slots.len()),
                ))
            }
            (_, Some(p), ..) => p as usize,
            (_, _, Some(b), _) if b == task => {
                return Err(Error::invalid("before", "a task cannot move relative to itself"))
            }
            (_, _, Some(b), _) => index_of("before", b, &slots)?,
            (_, _, _, Some(a)) if a == task => {
                return Err(Error::invalid("after", "a task cannot move relative to itself"))
            }
            (_, _, _, Some(a)) => index_of("after", a, &slots)? + 1,
            _ => unreachable!("exactly one target was checked above"),
        };
        let (priority, position) = match place(&slots, index) {
            Some(p) => p,
            None => {
                renumber(&mut tx, &mut slots).await?;
                place(&slots, index).expect("renumbered positions leave gaps")
            }
        };
        sqlx::query("UPDATE queue_entries SET priority = $1, position = $2 WHERE task_id = $3")
            .bind(priority)
            .bind(position)
            .bind(task)
            .execute(&mut **tx)
            .await?;
        tx.changed(Change::Queue { id: queue_id.clone() });
        tx.commit().await?;
        self.queue_detail(&queue_id).await
    }

    /// Hands the first task of the first non-empty queue (in the order given) to `worker`,
    /// leasing it until `deadline`. Exactly one caller gets each task.
    /// Returns `(task id, queue id, when it was enqueued)`.
    pub async fn pop(
        &self,
        queue_ids: &[String],
        worker: &str,
        deadline: i64,
    ) -> Result<Option<(String, String, i64)>> {
        if queue_ids.is_empty() {
            return Ok(None);
        }
        // SQLite: agents woken together mostly find nothing, so look without the write lock
        // first. (PostgreSQL's pop is one statement that skips locked rows: no need.)
        if self.backend == super::Backend::Sqlite {
            let peek = Query::select()
                .expr(Expr::val(1))
                .from(col("queue_entries"))
                .and_where(Expr::col(col("queue_id")).is_in(queue_ids.iter().map(String::as_str)))
                .limit(1)
                .to_owned();
            if super::fetch_all(&mut *self.pool.acquire().await?, &peek).await?.is_empty() {
                return Ok(None);
            }
        }
        let found = match self.backend {
            super::Backend::Sqlite => self.pop_sqlite(queue_ids, worker, deadline).await?,
            super::Backend::Postgres => self.pop_postgres(queue_ids, worker, deadline).await?,
        };
        if let Some((_, queue_id, _)) = &found {
            // Not a wake-up: the queue only lost a task. Watchers still see its order change.
            self.changes.publish_feed_only(&[Change::Queue { id: queue_id.clone() }]);
        }
        Ok(found)
    }

    /// PostgreSQL: the whole pop as one statement (atomic on its own): lock the first entry,
    /// skipping entries other pops hold, delete it and insert its lease.
    async fn pop_postgres(
        &self,
        queue_ids: &[String],
        worker: &str,
        deadline: i64,
    ) -> Result<Option<(String, String, i64)>> {
        let next = first_entry(queue_ids).lock_with_behavior(LockType::Update, LockBehavior::SkipLocked).to_owned();
        let gone = Query::delete()
            .from_table(col("queue_entries"))
            .and_where(
                Expr::col(col("task_id"))
                    .in_subquery(Query::select().column(col("task_id")).from(col("next")).to_owned()),
            )
            .returning(Query::returning().columns(["task_id", "queue_id", "priority", "added"].map(col)))
            .to_owned();
        let insert = lease_insert(
            Query::select()
                .column(col("task_id"))
                .column(col("queue_id"))
                .expr(Expr::val(worker))
                .column(col("priority"))
                .expr(Expr::val(now_ms()))
                .expr(Expr::val(deadline))
                .column(col("added"))
                .from(col("gone"))
                .to_owned(),
        )?;
        let bump = next_attempt(Query::select().column(col("task_id")).from(col("gone")).to_owned());
        let with = WithClause::new()
            .cte(CommonTableExpression::new().query(next).table_name(col("next")).to_owned())
            .cte(CommonTableExpression::new().query(gone).table_name(col("gone")).to_owned())
            .cte(CommonTableExpression::new().query(bump).table_name(col("bumped")).to_owned())
            .to_owned();
        let (sql, values) = insert.with(with).build_any(self.builder());
        let row = sqlx::query_with(&sql, SqlxValues(values)).fetch_optional(&self.pool).await?;
        Ok(match row {
            Some(r) => Some((r.try_get("task_id")?, r.try_get("queue_id")?, r.try_get("added")?)),
            None => None,
        })
    }

    /// SQLite: the whole pop as one script, a single hand-off to the database thread.
    async fn pop_sqlite(
        &self,
        queue_ids: &[String],
        worker: &str,
        deadline: i64,
    ) -> Result<Option<(String, String, i64)>> {
        let popped = now_ms();
        let lease = lease_insert(
            first_entry(queue_ids)
                .column(col("queue_id"))
                .expr(Expr::val(worker))
                .column(col("priority"))
                .expr(Expr::val(popped))
                .expr(Expr::val(deadline))
                .column(col("added"))
                .to_owned(),
        )?;
        let taken = Query::select()
            .column(col("task_id"))
            .from(col("task_leases"))
            .and_where(Expr::col(col("worker")).eq(worker))
            .and_where(Expr::col(col("popped")).eq(popped))
            .to_owned();
        let bump = next_attempt(taken.clone());
        let unqueue = Query::delete()
            .from_table(col("queue_entries"))
            .and_where(Expr::col(col("task_id")).in_subquery(taken))
            .to_owned();
        // SQLite's placeholders are anonymous: bound in order across the whole script.
        let (lease, mut values) = lease.build(SqliteQueryBuilder);
        let (bump, bumped) = bump.build(SqliteQueryBuilder);
        let (unqueue, more) = unqueue.build(SqliteQueryBuilder);
        values.0.extend(bumped.0);
        values.0.extend(more.0);
        let script = format!("BEGIN IMMEDIATE;\n{lease};\n{bump};\n{unqueue};\nCOMMIT;");
        let rows = self.run_write_script(script, values.0).await?;
        let Some(row) = rows.first() else { return Ok(None) };
        Ok(Some((row.try_get("task_id")?, row.try_get("queue_id")?, row.try_get("added")?)))
    }

    /// Puts leased tasks back at the head of their queues: those past their deadline, or all of
    /// `worker`'s. Returns how many went back.
    pub async fn requeue_leases(&self, expired_before: Option<i64>, worker: Option<&str>) -> Result<usize> {
        let mut tx = self.write().await?;
        let select = "SELECT task_id, queue_id, priority, added FROM task_leases";
        let leases = match (expired_before, worker) {
            (Some(t), _) => {
                let sql = format!("{select} WHERE deadline < $1{}", self.skip_locked());
                sqlx::query(&sql).bind(t).fetch_all(&mut **tx).await?
            }
            (None, Some(w)) => {
                let sql = format!("{select} WHERE worker = $1{}", self.skip_locked());
                sqlx::query(&sql).bind(w).fetch_all(&mut **tx).await?
            }
            (None, None) => return Ok(0),
        };
        for lease in &leases {
            let (task_id, queue_id, priority): (String, String, i64) =
                (lease.try_get("task_id")?, lease.try_get("queue_id")?, lease.try_get("priority")?);
            let added: i64 = lease.try_get("added")?;
            let head =
                sqlx::query("SELECT MAX(priority) AS p, MIN(position) AS pos FROM queue_entries WHERE queue_id = $1")
                    .bind(&queue_id)
                    .fetch_one(&mut **tx)
                    .await?;
            let top: Option<i64> = head.try_get("p")?;
            let first: Option<i64> = head.try_get("pos")?;
            sqlx::query("DELETE FROM task_leases WHERE task_id = $1").bind(&task_id).execute(&mut **tx).await?;
            sqlx::query(
                "INSERT INTO queue_entries (task_id, queue_id, priority, position, added) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&task_id)
            .bind(&queue_id)
            .bind(top.unwrap_or(priority).max(priority))
            .bind(first.unwrap_or(0) - POSITION_STEP)
            .bind(added)
            .execute(&mut **tx)
            .await?;
            tx.changed(Change::Queue { id: queue_id.clone() });
        }
        tx.commit().await?;
        Ok(leases.len())
    }

    /// The lease of a task, if it was handed out and not yet started: `(worker, queue_id)`.
    pub async fn lease(conn: &mut AnyConnection, task_id: &str) -> Result<Option<(String, String)>> {
        let row = sqlx::query("SELECT worker, queue_id FROM task_leases WHERE task_id = $1")
            .bind(task_id)
            .fetch_optional(conn)
            .await?;
        Ok(match row {
            Some(r) => Some((r.try_get("worker")?, r.try_get("queue_id")?)),
            None => None,
        })
    }

    /// Whether `task` waits in the queue `name_or_id` (an unknown queue is a 404).
    pub async fn is_waiting_in(&self, name_or_id: &str, task: &str) -> Result<bool> {
        let (queue_id, _) = Self::resolve_queue(&mut *self.pool.acquire().await?, name_or_id).await?;
        let row = sqlx::query("SELECT 1 FROM queue_entries WHERE queue_id = $1 AND task_id = $2")
            .bind(queue_id)
            .bind(task)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Queue ids by the names or ids given, in order; unknown ones are an error.
    /// Queues by name or id, read without locking: name or id -> (id, name). Unknown ones are
    /// absent.
    pub async fn find_queues(&self, names: &[&str]) -> Result<std::collections::HashMap<String, (String, String)>> {
        let mut out = std::collections::HashMap::new();
        for chunk in names.chunks(CHUNK / 2) {
            let select = Query::select()
                .columns([col("id"), col("name")])
                .from(col("queues"))
                .cond_where(
                    Cond::any()
                        .add(Expr::col(col("name")).is_in(chunk.iter().copied()))
                        .add(Expr::col(col("id")).is_in(chunk.iter().copied())),
                )
                .to_owned();
            for row in super::fetch_all(&mut *self.pool.acquire().await?, &select).await? {
                let (id, name): (String, String) = (row.try_get("id")?, row.try_get("name")?);
                out.insert(id.clone(), (id.clone(), name.clone()));
                out.insert(name.clone(), (id, name));
            }
        }
        Ok(out)
    }

    /// `(id, name)` of each queue named (by name or id), in order; an unknown one is a 404.
    pub async fn resolve_queues(&self, names: &[String]) -> Result<Vec<(String, String)>> {
        let found = self.find_queues(&names.iter().map(String::as_str).collect::<Vec<_>>()).await?;
        names.iter().map(|n| found.get(n).cloned().ok_or_else(|| Error::not_found("queue", n.as_str()))).collect()
    }
}

/// The `(priority, position)` that puts an entry at `index` of `slots` (which excludes it),
/// or `None` when the neighbours leave no gap.
fn place(slots: &[Slot], index: usize) -> Option<(i64, i64)> {
    let prev = index.checked_sub(1).and_then(|i| slots.get(i));
    let next = slots.get(index);
    match (prev, next) {
        (None, None) => Some((0, POSITION_STEP)),
        (None, Some(n)) => Some((n.priority, n.position - POSITION_STEP)),
        (Some(p), None) => Some((p.priority, p.position + POSITION_STEP)),
        // Between two priority groups: first of the lower group.
        (Some(p), Some(n)) if p.priority != n.priority => Some((n.priority, n.position - POSITION_STEP)),
        (Some(p), Some(n)) if n.position - p.position >= 2 => {
            Some((n.priority, p.position + (n.position - p.position) / 2))
        }
        _ => None,
    }
}

/// Rewrites a queue's positions with even gaps, keeping its order.
async fn renumber(conn: &mut AnyConnection, slots: &mut [Slot]) -> Result<()> {
    for (i, slot) in slots.iter_mut().enumerate() {
        slot.position = (i as i64 + 1) * POSITION_STEP;
        sqlx::query("UPDATE queue_entries SET position = $1 WHERE task_id = $2")
            .bind(slot.position)
            .bind(&slot.task_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub fn validate_queue_name(name: &str) -> Result<()> {
    runyard_api::rules::QUEUE_NAME.check(name).map_err(|m| Error::invalid("name", m))
}

/// The columns of a queue entry, as inserted.
const ENTRY_COLUMNS: [&str; 5] = ["task_id", "queue_id", "priority", "position", "added"];

/// The first entry of the queues in dispatch order: the queues in the order given, then
/// priority, then position. Selects its `task_id`; callers add what else they need.
fn first_entry(queue_ids: &[String]) -> SelectStatement {
    let mut rank = Expr::case(Expr::col(col("queue_id")).eq(queue_ids[0].as_str()), 0);
    for (i, id) in queue_ids.iter().enumerate().skip(1) {
        rank = rank.case(Expr::col(col("queue_id")).eq(id.as_str()), i as i64);
    }
    Query::select()
        .column(col("task_id"))
        .from(col("queue_entries"))
        .and_where(Expr::col(col("queue_id")).is_in(queue_ids.iter().map(String::as_str)))
        .order_by_expr(rank.into(), Order::Asc)
        .order_by(col("priority"), Order::Desc)
        .order_by(col("position"), Order::Asc)
        .limit(1)
        .to_owned()
}

/// Counts the attempt of the tasks `popped` selects one up: they are being handed out again.
fn next_attempt(popped: SelectStatement) -> sea_query::UpdateStatement {
    Query::update()
        .table(col("tasks"))
        .value(col("attempt"), Expr::col(col("attempt")).add(1))
        .and_where(Expr::col(col("id")).in_subquery(popped))
        .to_owned()
}

/// A lease inserted from `source`, which selects `(task_id, queue_id, worker, priority,
/// popped, deadline, added)`; the lease comes back.
fn lease_insert(source: SelectStatement) -> Result<InsertStatement> {
    Ok(Query::insert()
        .into_table(col("task_leases"))
        .columns(["task_id", "queue_id", "worker", "priority", "popped", "deadline", "added"].map(col))
        .select_from(source)
        .map_err(|e| Error::Internal(anyhow::anyhow!("building a lease: {e}")))?
        .returning(Query::returning().columns(["task_id", "queue_id", "added"].map(col)))
        .to_owned())
}
