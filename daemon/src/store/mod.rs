//! Persistence: one [`Store`] over SQLite (default) or PostgreSQL.
//!
//! Both backends go through sqlx's `Any` driver, so every query is written once. Static SQL
//! uses `$N` placeholders, which both databases accept; dynamic SQL (filters, batch updates)
//! is built with sea-query for the backend at hand. Each backend has its own migrations
//! (`daemon/migrations/{sqlite,postgres}`), applied at start.
//!
//! Writes go through [`Store::write`]: on SQLite it serialises writers inside the process
//! (one write transaction at a time, `BEGIN IMMEDIATE`), so a read-then-write transaction can
//! never fail on a stale snapshot; on PostgreSQL rows are locked with `FOR UPDATE`.

pub mod changes;
mod console;
pub use console::{ConsoleLine, LogMetrics, LogPage};
pub mod history;
pub mod inserts;
pub mod patch;
mod projects;
pub mod queues;
pub mod tasks;
mod users;
mod workers;

pub use changes::Changes;
use runyard_api::Change;

pub use patch::TaskPatch;
pub use tasks::{ReportWrite, TaskFilter, TaskHead};
pub use users::{Principal, TaskScope, UserAccess};

use crate::error::{Error, Result};
use sea_query::{Alias, Expr, PostgresQueryBuilder, QueryBuilder, QueryStatementBuilder, SqliteQueryBuilder};
use sea_query_binder::SqlxValues;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Executor, Transaction};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, MutexGuard, OwnedMutexGuard};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database, whichever backend it is.
pub struct Store {
    pool: AnyPool,
    /// SQLite: a one-connection pool for writes, so its page cache stays warm. PostgreSQL:
    /// the same pool as reads.
    write_pool: AnyPool,
    backend: Backend,
    /// SQLite only: one writer at a time.
    write_lock: Arc<Mutex<()>>,
    /// Committed changes: they wake waiting agents and feed the live event stream.
    pub changes: Changes,
}

/// A write transaction; dropped without [`WriteTx::commit`] it rolls back.
pub struct WriteTx<'a> {
    pub tx: Transaction<'static, Any>,
    _guard: Option<MutexGuard<'a, ()>>,
    changes: &'a Changes,
    /// What this transaction changed, announced once (and only if) it commits.
    changed: Vec<Change>,
    /// The same, for de-duplication (a batch may touch thousands of tasks).
    seen: std::collections::HashSet<Change>,
    /// PostgreSQL: also tell the other replicas (NOTIFY, delivered on commit).
    notify_replicas: bool,
}

impl WriteTx<'_> {
    pub async fn commit(mut self) -> Result<()> {
        if self.notify_replicas {
            for payload in self.changes.payloads(&self.changed) {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(changes::CHANNEL)
                    .bind(payload)
                    .execute(&mut *self.tx)
                    .await?;
            }
        }
        self.tx.commit().await?;
        self.changes.publish(&self.changed);
        Ok(())
    }

    /// Records a change to announce after a successful commit.
    pub fn changed(&mut self, change: Change) {
        if self.seen.insert(change.clone()) {
            self.changed.push(change);
        }
    }
}

impl std::ops::Deref for WriteTx<'_> {
    type Target = Transaction<'static, Any>;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

/// Rows per `IN (...)` list, well under both databases' parameter limits.
pub const CHUNK: usize = 1000;

impl Store {
    /// Opens (creating if needed) the database at `url` and applies pending migrations.
    /// `sqlite://path` or `postgres://user@host/db`.
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(Error::invalid("database_url", "must start with sqlite:// or postgres://"));
        };
        let (pool, write_pool) = match backend {
            Backend::Sqlite => {
                let url = if url.contains('?') { url.to_string() } else { format!("{url}?mode=rwc") };
                let opts = AnyConnectOptions::from_str(&url)?;
                let sqlite_pool = |max: u32| {
                    AnyPoolOptions::new()
                        .max_connections(max)
                        .min_connections(1)
                        .idle_timeout(None)
                        .max_lifetime(None)
                        .after_connect(|conn, _| {
                            Box::pin(async move {
                                // Memory-mapped reads avoid a system call per page.
                                conn.execute(
                                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                                     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                                     PRAGMA cache_size = -16000; PRAGMA mmap_size = 1073741824;",
                                )
                                .await?;
                                Ok(())
                            })
                        })
                };
                let write_pool = sqlite_pool(1).connect_with(opts.clone()).await?;
                (sqlite_pool(4).connect_with(opts).await?, write_pool)
            }
            Backend::Postgres => {
                let opts = AnyConnectOptions::from_str(url)?;
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(opts)
                    .await?;
                (pool.clone(), pool)
            }
        };
        let store =
            Store { pool, write_pool, backend, write_lock: Arc::new(Mutex::new(())), changes: Changes::default() };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<()> {
        let core = match self.backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        self.apply_migrations(core).await
    }

    /// Applies a migration set (the core's or a plugin's). They share one migrations table, so
    /// each set ignores the versions of the others.
    pub async fn apply_migrations(&self, mut migrator: sqlx::migrate::Migrator) -> Result<()> {
        migrator.set_ignore_missing(true);
        match self.backend {
            Backend::Sqlite => migrator.run(&self.write_pool).await?,
            Backend::Postgres => {
                // Replicas starting together must not race on the migration table.
                let mut conn = self.pool.acquire().await?;
                conn.execute("SELECT pg_advisory_lock(72616479)").await?;
                let result = migrator.run(&mut *conn).await;
                conn.execute("SELECT pg_advisory_unlock(72616479)").await?;
                result?
            }
        }
        Ok(())
    }

    /// The read pool (on PostgreSQL also the write pool), for plugins' queries.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The sea-query builder for this backend.
    pub fn builder(&self) -> &'static dyn QueryBuilder {
        match self.backend {
            Backend::Sqlite => &SqliteQueryBuilder,
            Backend::Postgres => &PostgresQueryBuilder,
        }
    }

    /// Whether `e` is a lock conflict a retry may win (PostgreSQL: a deadlock or a
    /// serialization failure; SQLite writers queue on one lock and never lose one).
    pub fn is_conflict(&self, e: &Error) -> bool {
        let Error::Internal(inner) = e else { return false };
        inner
            .downcast_ref::<sqlx::Error>()
            .and_then(|e| e.as_database_error())
            .and_then(|db| db.code())
            .is_some_and(|code| matches!(code.as_ref(), "40P01" | "40001"))
    }

    /// A statement built with sea-query, rendered for this backend, ready to bind.
    pub fn render(&self, statement: &impl QueryStatementBuilder) -> (String, SqlxValues) {
        let (sql, values) = statement.build_any(self.builder());
        (sql, SqlxValues(values))
    }

    /// `FOR UPDATE SKIP LOCKED` where the backend has row locks: rows another transaction
    /// holds are passed over rather than waited for.
    pub fn skip_locked(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }

    /// Starts a write transaction.
    pub async fn write(&self) -> Result<WriteTx<'_>> {
        match self.backend {
            Backend::Sqlite => {
                let guard = self.write_lock.lock().await;
                let tx = self.write_pool.begin_with("BEGIN IMMEDIATE").await?;
                Ok(WriteTx {
                    tx,
                    _guard: Some(guard),
                    changes: &self.changes,
                    changed: Vec::new(),
                    seen: Default::default(),
                    notify_replicas: false,
                })
            }
            Backend::Postgres => Ok(WriteTx {
                tx: self.pool.begin().await?,
                _guard: None,
                changes: &self.changes,
                changed: Vec::new(),
                seen: Default::default(),
                notify_replicas: true,
            }),
        }
    }

    /// SQLite: runs a `BEGIN IMMEDIATE; …; COMMIT;` script on the write connection — one hand-off
    /// to the database thread — in a task of its own, so a caller that goes away (a client
    /// disconnecting mid-request) can never leave the transaction half-run. Returns the rows the
    /// script's statements produced.
    pub(crate) async fn run_write_script(
        &self,
        script: String,
        values: Vec<sea_query::Value>,
    ) -> Result<Vec<sqlx::any::AnyRow>> {
        let guard = self.lock_writes().await;
        self.run_locked_script(guard, script, values).await
    }

    /// SQLite: holds off every other writer in this process (the only process writing), so
    /// what a read connection sees meanwhile is current until the guard is dropped.
    pub(crate) async fn lock_writes(&self) -> OwnedMutexGuard<()> {
        self.write_lock.clone().lock_owned().await
    }

    /// [`Store::run_write_script`] for a caller that already holds the write lock.
    pub(crate) async fn run_locked_script(
        &self,
        guard: OwnedMutexGuard<()>,
        script: String,
        values: Vec<sea_query::Value>,
    ) -> Result<Vec<sqlx::any::AnyRow>> {
        let mut conn = self.write_pool.acquire().await?;
        let run = tokio::spawn(async move {
            let _writer = guard;
            let result = sqlx::query_with(&script, sea_query_binder::SqlxValues(sea_query::Values(values)))
                .fetch_all(&mut *conn)
                .await;
            if result.is_err() {
                // The script stopped part-way: end the transaction it opened.
                let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            }
            result
        });
        Ok(run.await.map_err(|e| Error::Internal(e.into()))??)
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Announces changes committed outside a [`WriteTx`]: here, and to the other replicas.
    pub async fn announce(&self, changed: &[Change]) -> Result<()> {
        self.changes.publish(changed);
        if self.backend == Backend::Postgres {
            for payload in self.changes.payloads(changed) {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(changes::CHANNEL)
                    .bind(payload)
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(())
    }

    /// PostgreSQL: publishes the other replicas' changes here, until `stop`. On a lost
    /// connection everyone is told to look again, so nothing waits on a missed notification.
    pub async fn listen_to_replicas(&self, url: &str, stop: tokio_util::sync::CancellationToken) -> Result<()> {
        if self.backend != Backend::Postgres {
            return Ok(());
        }
        loop {
            let connected = async {
                let mut listener = sqlx::postgres::PgListener::connect(url).await?;
                listener.listen(changes::CHANNEL).await?;
                Ok::<_, sqlx::Error>(listener)
            };
            let mut listener = tokio::select! {
                _ = stop.cancelled() => return Ok(()),
                l = connected => match l {
                    Ok(l) => l,
                    Err(error) => {
                        tracing::warn!(%error, "could not listen for other replicas; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                },
            };
            // Anything queued while we were not listening: look again.
            self.changes.resync();
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return Ok(()),
                    message = listener.try_recv() => match message {
                        Ok(Some(n)) => self.changes.receive(n.payload()),
                        // The connection dropped and was re-established.
                        Ok(None) => self.changes.resync(),
                        Err(error) => {
                            tracing::warn!(%error, "lost the replica notification channel; reconnecting");
                            self.changes.resync();
                            break;
                        }
                    },
                }
            }
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.write_pool.close().await;
    }

    /// The id of a committed project, if known without asking the database.
    pub fn cached_project_id(&self, path: &str) -> Option<String> {
        self.changes.project_id(path)
    }

    /// Remembers a project id. Only for ids whose rows are committed.
    pub(crate) fn cache_project_id(&self, path: &str, id: &str) {
        self.changes.remember_project_id(path, id);
    }
}

/// A new entity id: 32 lowercase hex characters, time-ordered (UUIDv7) so new rows land at
/// the right edge of primary-key indexes.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// Now, in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub fn to_time(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// A table or column name for sea-query.
pub fn col(name: &str) -> Alias {
    Alias::new(name)
}

/// The sea-query builder for the backend `conn` talks to.
pub fn builder_of(conn: &sqlx::AnyConnection) -> &'static dyn QueryBuilder {
    match conn.backend_name() {
        "PostgreSQL" => &PostgresQueryBuilder,
        _ => &SqliteQueryBuilder,
    }
}

/// A statement built with sea-query, rendered for `conn`'s backend, ready to bind.
pub fn render(conn: &sqlx::AnyConnection, statement: &impl QueryStatementBuilder) -> (String, SqlxValues) {
    let (sql, values) = statement.build_any(builder_of(conn));
    (sql, SqlxValues(values))
}

/// Runs a statement built with sea-query; the rows it affected.
pub async fn execute(conn: &mut sqlx::AnyConnection, statement: &impl QueryStatementBuilder) -> Result<u64> {
    let (sql, values) = render(conn, statement);
    Ok(sqlx::query_with(&sql, values).execute(&mut *conn).await?.rows_affected())
}

/// Runs a query built with sea-query; its rows.
pub async fn fetch_all(
    conn: &mut sqlx::AnyConnection,
    statement: &impl QueryStatementBuilder,
) -> Result<Vec<sqlx::any::AnyRow>> {
    let (sql, values) = render(conn, statement);
    Ok(sqlx::query_with(&sql, values).fetch_all(&mut *conn).await?)
}

/// `DELETE FROM table WHERE column IN (ids)`, a chunk of ids per statement. `table` and
/// `column` are our own identifiers, never user input.
pub async fn delete_in(conn: &mut sqlx::AnyConnection, table: &str, column: &str, ids: &[&str]) -> Result<()> {
    for chunk in ids.chunks(CHUNK) {
        let statement = sea_query::Query::delete()
            .from_table(Alias::new(table))
            .and_where(Expr::col(Alias::new(column)).is_in(chunk.iter().copied()))
            .to_owned();
        execute(conn, &statement).await?;
    }
    Ok(())
}

/// The text column `column` of every row.
pub fn strings(rows: &[sqlx::any::AnyRow], column: &str) -> Result<Vec<String>> {
    use sqlx::Row;
    rows.iter().map(|r| Ok(r.try_get(column)?)).collect()
}
