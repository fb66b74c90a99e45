//! The file store: tasks upload artifacts, models and debug samples through the daemon, which
//! writes them to the task's output destination — the daemon's own store on local disk
//! (`<data dir>/files`, the default) or an object store (`s3://bucket/prefix`, credentials and
//! endpoint from the daemon's `AWS_*` environment). The layout is `<project>/<task>/<name>`;
//! names are checked so that no path from a client can leave it.
//!
//! Every stored file is recorded for its holder ([`records`]): a task's files are removed with
//! it (the rows move to `file_removals` in the clearing transaction, the files go right after
//! the commit, and what could not be removed is retried in the background with back-off); a
//! file stored outside any task stays its uploader's.

pub mod records;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, WriteMultipart};
use records::Holder;
use runyard_api::tracking::StoredFile;
use runyard_api::{Action, Role, Task, TaskStatus};
use runyard_daemon::error::{Error, Result};
use runyard_daemon::services::access;
use runyard_daemon::store::{col, execute, fetch_all, now_ms, Principal, Store};
use sea_query::{Expr, OnConflict, Query};
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `location` of the daemon's own store.
const LOCAL: &str = "local";
/// Longest file name (its path inside the task's folder).
const MAX_NAME: usize = 1024;
/// How often the background removal looks for files due another try.
const RETRY_EVERY: Duration = Duration::from_secs(30);

pub struct Files {
    store: Arc<Store>,
    local: Arc<dyn ObjectStore>,
    /// Object stores by URL (`s3://bucket`), built on first use.
    remote: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
    /// `<daemon URL>/api/v1/files`: the URI prefix of files in the local store.
    local_base: String,
    /// Object-storage destinations tasks may name (`s3://bucket[/prefix]`, no trailing slash).
    allow: Vec<String>,
    /// The most bytes of files one task may store.
    quota: Option<u64>,
}

/// Checks a client-given file name: relative, no `.`/`..`/empty segments, no backslashes or
/// control characters.
pub fn check_name(name: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::invalid("name", format!("'{name}' {why}")));
    if name.is_empty() || name.len() > MAX_NAME {
        return bad(&format!("must be 1 to {MAX_NAME} bytes"));
    }
    if name.starts_with('/') || name.contains('\\') {
        return bad("must be a relative path with '/' separators");
    }
    if name.chars().any(char::is_control) {
        return bad("must not contain control characters");
    }
    if name.split('/').any(|part| part.is_empty() || part == "." || part == "..") {
        return bad("must not contain empty, '.' or '..' segments");
    }
    Ok(())
}

/// The stored path of a task's file: `<project>/<task>/<name>`.
fn layout(task: &Task, name: &str) -> String {
    format!("{}/{}/{}", task.project_name, task.id, name)
}

/// An object store URL (`s3://bucket/prefix`) split into the store (`s3://bucket`) and the
/// prefix inside it.
fn split_url(url: &str) -> Result<(String, String)> {
    let parsed = url::Url::parse(url).map_err(|e| Error::invalid("execution.output_uri", e.to_string()))?;
    let bucket = parsed.host_str().unwrap_or("");
    if parsed.scheme() != "s3" || bucket.is_empty() {
        return Err(Error::invalid(
            "execution.output_uri",
            format!("'{url}' is not a destination this daemon writes to: leave it empty (the daemon's file store) or give s3://bucket/prefix"),
        ));
    }
    Ok((format!("s3://{bucket}"), parsed.path().trim_matches('/').to_string()))
}

impl Files {
    /// `allow`: the object-storage destinations (`s3://bucket[/prefix]`) tasks may name.
    /// The daemon's file store: `<data dir>/files` locally, and the object stores the operator
    /// allows.
    pub fn new(ctx: &runyard_daemon::plugin::PluginContext) -> anyhow::Result<Files> {
        let root = ctx.data_dir.join("files");
        std::fs::create_dir_all(&root)?;
        let local = object_store::local::LocalFileSystem::new_with_prefix(&root)?;
        Ok(Files {
            store: ctx.store.clone(),
            local: Arc::new(local),
            remote: Mutex::new(HashMap::new()),
            local_base: format!("{}/api/v1/files", ctx.public_url.trim_end_matches('/')),
            allow: ctx.output_allow.iter().map(|a| a.trim_end_matches('/').to_string()).collect(),
            quota: ctx.task_files_quota,
        })
    }

    fn object_store(&self, location: &str) -> Result<Arc<dyn ObjectStore>> {
        if location == LOCAL {
            return Ok(self.local.clone());
        }
        let mut remote = self.remote.lock().expect("stores lock");
        if let Some(s) = remote.get(location) {
            return Ok(s.clone());
        }
        let built = object_store::aws::AmazonS3Builder::from_env()
            .with_url(location)
            .build()
            .map_err(|e| Error::invalid("execution.output_uri", format!("object store {location}: {e}")))?;
        let built: Arc<dyn ObjectStore> = Arc::new(built);
        remote.insert(location.to_string(), built.clone());
        Ok(built)
    }

    /// Where a task's files go: (location, path prefix, URI prefix).
    fn destination(&self, task: &Task) -> Result<(String, String, String)> {
        match task.execution.output_uri.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            None => Ok((LOCAL.into(), String::new(), self.local_base.clone())),
            Some(uri) if uri.starts_with("http://") || uri.starts_with("https://") => {
                // Our own address (as ClearML clients set it) is our own store.
                let own = self.local_base.trim_end_matches("/api/v1/files");
                if uri.trim_end_matches('/') == own {
                    Ok((LOCAL.into(), String::new(), self.local_base.clone()))
                } else {
                    split_url(uri).map(|(location, prefix)| (location, prefix, String::new()))
                }
            }
            Some(uri) => {
                let (location, prefix) = split_url(uri)?;
                let target = if prefix.is_empty() { location.clone() } else { format!("{location}/{prefix}") };
                let allowed = self.allow.iter().any(|a| target == *a || target.starts_with(&format!("{a}/")));
                if !allowed || target.split('/').any(|part| part == "..") {
                    return Err(Error::invalid(
                        "execution.output_uri",
                        format!(
                            "'{target}' is not a destination this daemon writes to (its operator lists those \
                             with --output-allow)"
                        ),
                    ));
                }
                let base = if prefix.is_empty() { location.clone() } else { format!("{location}/{prefix}") };
                Ok((location, prefix, base))
            }
        }
    }

    /// Streams an upload into the task's destination, recording it for the task.
    pub async fn put<E: std::fmt::Display>(
        &self,
        who: &Principal,
        task_id: &str,
        name: &str,
        body: impl Stream<Item = std::result::Result<Bytes, E>> + Unpin,
    ) -> Result<StoredFile> {
        check_name(name)?;
        let task = self.store.get_task(task_id).await?;
        if task.status == TaskStatus::Published {
            return Err(runyard_api::InvalidTransition::ReadOnly.into());
        }
        let (location, prefix, base) = self.destination(&task)?;
        let path = layout(&task, name);
        let full = if prefix.is_empty() { path.clone() } else { format!("{prefix}/{path}") };
        let (size, hash) = self.write(who, &location, &full, &Holder::Task(task_id.to_string()), body).await?;
        Ok(StoredFile { uri: format!("{base}/{path}"), path, size, hash })
    }

    /// Streams an upload into the daemon's own store at exactly `path` (for clients that lay
    /// out their files themselves), recording it for `task_id` when given, else for the task
    /// of a task's own process, else for the uploader.
    pub async fn put_at<E: std::fmt::Display>(
        &self,
        who: &Principal,
        task_id: Option<&str>,
        path: &str,
        body: impl Stream<Item = std::result::Result<Bytes, E>> + Unpin,
    ) -> Result<StoredFile> {
        check_name(path)?;
        let (size, hash) = self.write(who, LOCAL, path, &Holder::of_upload(who, task_id), body).await?;
        Ok(StoredFile { uri: format!("{}/{path}", self.local_base), path: path.to_string(), size, hash })
    }

    /// Streams `body` to `full` in the store at `location`; returns its size and SHA-256. A
    /// file of a task is written only by those who may report on it (its owner, an admin, the
    /// agent running it), never over a file another holder keeps there.
    async fn write<E: std::fmt::Display>(
        &self,
        who: &Principal,
        location: &str,
        full: &str,
        holder: &Holder,
        mut body: impl Stream<Item = std::result::Result<Bytes, E>> + Unpin,
    ) -> Result<(u64, String)> {
        let target = ObjectPath::parse(full).map_err(|e| Error::invalid("name", e.to_string()))?;
        let objects = self.object_store(location)?;
        match holder {
            Holder::Task(task_id) => self.may_change_task_files(who, task_id, Action::Ping).await?,
            Holder::User(_) if who.role == Role::Agent => {
                return Err(Error::Forbidden("an agent's key pair stores files only for the tasks it runs".into()))
            }
            Holder::User(_) => {}
        }
        holder.may_replace(who, records::holder(&self.store, location, full).await?.as_ref(), full)?;
        let room = records::room(&self.store, self.quota, holder, location, full).await?;
        let upload = objects.put_multipart(&target).await.map_err(internal)?;
        let mut writer = WriteMultipart::new(upload);
        let (mut size, mut hash) = (0u64, Sha256::new());
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(Error::invalid("body", format!("the upload broke off: {e}")));
                }
            };
            size += chunk.len() as u64;
            if room.is_some_and(|room| size > room) {
                let _ = writer.abort().await;
                return Err(Error::OverQuota { holder: holder.describe(), limit: self.quota.unwrap_or_default() });
            }
            hash.update(&chunk);
            writer.write(&chunk);
        }
        writer.finish().await.map_err(internal)?;
        let hash = hex::encode(hash.finalize());
        records::record(&self.store, holder, location, full, size, &hash).await?;
        // A task cleared meanwhile: its file and record go too.
        if let Holder::Task(task_id) = holder {
            if self.store.read_heads(&[task_id]).await?.is_empty() {
                let _ = objects.delete(&target).await;
                records::forget(&self.store, location, full).await?;
                return Err(Error::not_found("task", task_id));
            }
        }
        Ok((size, hash))
    }

    /// Refuses `who` changing the files of `task_id` (`action`'s rule), and any change to those
    /// of a Published task.
    async fn may_change_task_files(&self, who: &Principal, task_id: &str, action: Action) -> Result<()> {
        let heads = self.store.read_heads(&[task_id]).await?;
        let head = heads.get(task_id).ok_or_else(|| Error::not_found("task", task_id))?;
        access::task(who, action, &access::TaskAccess::of(head))?;
        if head.status == TaskStatus::Published {
            return Err(runyard_api::InvalidTransition::ReadOnly.into());
        }
        Ok(())
    }

    /// Removes a file of the local store (its record too): a task's file by those who may
    /// change the task, a user's by that user, one recorded for neither by an admin.
    pub async fn delete_local(&self, who: &Principal, path: &str) -> Result<()> {
        check_name(path).map_err(|_| Error::not_found("file", path))?;
        let target = ObjectPath::parse(path).map_err(|_| Error::not_found("file", path))?;
        // Only files: a folder (or nothing) at the path is not found.
        match self.local.head(&target).await {
            Ok(_) => {}
            Err(object_store::Error::NotFound { .. }) => return Err(Error::not_found("file", path)),
            Err(e) => return Err(internal(e)),
        }
        match records::holder(&self.store, LOCAL, path).await? {
            Some(Holder::Task(task_id)) => self.may_change_task_files(who, &task_id, Action::Edit).await?,
            Some(held) => Holder::of_upload(who, None).may_replace(who, Some(&held), path)?,
            None if who.role == Role::Admin && who.task.is_none() => {}
            None => {
                return Err(Error::Forbidden(format!(
                    "the file '{path}' is recorded for no one; only an admin may remove it"
                )))
            }
        }
        match self.local.delete(&target).await {
            Ok(()) => {}
            Err(object_store::Error::NotFound { .. }) => return Err(Error::not_found("file", path)),
            Err(e) => return Err(internal(e)),
        }
        records::forget(&self.store, LOCAL, path).await
    }

    /// A file of the local store, as a stream.
    pub async fn get(&self, path: &str) -> Result<(u64, impl Stream<Item = object_store::Result<Bytes>>)> {
        check_name(path).map_err(|_| Error::not_found("file", path))?;
        let location = ObjectPath::parse(path).map_err(|_| Error::not_found("file", path))?;
        match self.local.get(&location).await {
            Ok(found) => Ok((found.meta.size, found.into_stream())),
            Err(object_store::Error::NotFound { .. }) => Err(Error::not_found("file", path)),
            Err(e) => Err(internal(e)),
        }
    }

    /// Inside the clearing transaction: the tasks' files become due for removal.
    pub async fn schedule_removal(conn: &mut AnyConnection, ids: &[&str]) -> Result<()> {
        for chunk in ids.chunks(500) {
            let files = Query::select()
                .columns([col("location"), col("path"), col("task_id")])
                .expr(Expr::val(now_ms()))
                .from(col("task_files"))
                .and_where(Expr::col(col("task_id")).is_in(chunk.iter().copied()))
                .to_owned();
            let due = Query::insert()
                .into_table(col("file_removals"))
                .columns(["location", "path", "task_id", "next_try"].map(col))
                .select_from(files)
                .map_err(|e| Error::Internal(anyhow::anyhow!("building the removals: {e}")))?
                .on_conflict(OnConflict::columns([col("location"), col("path")]).do_nothing().to_owned())
                .to_owned();
            execute(conn, &due).await?;
        }
        runyard_daemon::store::delete_in(conn, "task_files", "task_id", ids).await?;
        Ok(())
    }

    /// Removes the files due (of the given tasks, or all that are due); returns, per task,
    /// the paths that could not be removed (they stay due, later).
    pub async fn remove_due(&self, tasks: Option<&[String]>) -> Vec<(String, Vec<String>)> {
        match self.try_remove_due(tasks).await {
            Ok(failed) => failed,
            Err(error) => {
                tracing::warn!(%error, "could not read the files due for removal");
                Vec::new()
            }
        }
    }

    async fn try_remove_due(&self, tasks: Option<&[String]>) -> Result<Vec<(String, Vec<String>)>> {
        let rows = match tasks {
            Some([]) => return Ok(Vec::new()),
            Some(ids) => {
                let select = Query::select()
                    .columns(["location", "path", "task_id", "attempts"].map(col))
                    .from(col("file_removals"))
                    .and_where(Expr::col(col("task_id")).is_in(ids.iter().map(String::as_str)))
                    .to_owned();
                fetch_all(&mut *self.store.pool().acquire().await?, &select).await?
            }
            None => {
                sqlx::query(
                    "SELECT location, path, task_id, attempts FROM file_removals WHERE next_try <= $1 LIMIT 1000",
                )
                .bind(now_ms())
                .fetch_all(self.store.pool())
                .await?
            }
        };
        let mut failed: HashMap<String, Vec<String>> = HashMap::new();
        for r in rows {
            let (location, path, task): (String, String, String) =
                (r.try_get("location")?, r.try_get("path")?, r.try_get("task_id")?);
            let attempts: i64 = r.try_get("attempts")?;
            let outcome = match (self.object_store(&location), ObjectPath::parse(&path)) {
                (Ok(objects), Ok(target)) => match objects.delete(&target).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                    Err(e) => Err(e.to_string()),
                },
                (Err(e), _) => Err(e.to_string()),
                (_, Err(e)) => Err(e.to_string()),
            };
            match outcome {
                Ok(()) => {
                    sqlx::query("DELETE FROM file_removals WHERE location = $1 AND path = $2")
                        .bind(&location)
                        .bind(&path)
                        .execute(self.store.pool())
                        .await?;
                }
                Err(error) => {
                    let backoff = RETRY_EVERY.as_millis() as i64 * (1i64 << attempts.clamp(0, 7));
                    tracing::warn!(%location, %path, %error, "could not remove a file; will retry");
                    sqlx::query(
                        "UPDATE file_removals SET attempts = attempts + 1, next_try = $1, last_error = $2 \
                         WHERE location = $3 AND path = $4",
                    )
                    .bind(now_ms() + backoff)
                    .bind(&error)
                    .bind(&location)
                    .bind(&path)
                    .execute(self.store.pool())
                    .await?;
                    let shown = if location == LOCAL { path } else { format!("{location}/{path}") };
                    failed.entry(task).or_default().push(shown);
                }
            }
        }
        Ok(failed.into_iter().collect())
    }

    /// Retries due removals until `stop`.
    pub async fn remove_in_background(self: Arc<Self>, stop: tokio_util::sync::CancellationToken) {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(RETRY_EVERY) => {}
            }
            self.remove_due(None).await;
        }
    }
}

fn internal(e: object_store::Error) -> Error {
    Error::Internal(anyhow::Error::new(e).context("file store"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_escape_the_task_folder() {
        for ok in ["model.pt", "artifacts/data.csv", "a b/c-d_e.f", "images/0001.png"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "../x", "a/../../x", "/etc/passwd", "a//b", "./a", "a/.", "a\\b", "a\0b", "x\n"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn destinations() {
        assert_eq!(split_url("s3://bucket/some/prefix/").unwrap(), ("s3://bucket".into(), "some/prefix".into()));
        assert_eq!(split_url("s3://bucket").unwrap(), ("s3://bucket".into(), String::new()));
        assert!(split_url("gs://bucket").is_err());
        assert!(split_url("file:///etc").is_err());
        assert!(split_url("not a url").is_err());
    }

    proptest::proptest! {
        /// A name the checker accepts stays inside the store: relative, no climbing segments, no
        /// other separators, and a valid object path as it is.
        #[test]
        fn accepted_names_stay_inside_the_store(name in "(\\PC|[./\\\\]){0,24}") {
            if check_name(&name).is_ok() {
                proptest::prop_assert!(!name.starts_with('/') && !name.contains('\\'));
                proptest::prop_assert!(name.split('/').all(|s| !s.is_empty() && s != "." && s != ".."));
                proptest::prop_assert!(ObjectPath::parse(&name).is_ok(), "{name:?}");
            }
        }
    }
}
