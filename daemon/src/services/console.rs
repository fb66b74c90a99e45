//! Task consoles: agents append output; readers page through it or follow it live (long-poll,
//! woken by new output or a status change).

use crate::error::{Error, Result};
use crate::services::access;
use crate::store::{now_ms, LogMetrics, Principal, Store};
use runyard_api::{is_valid_id, Action, AppendConsole, ConsolePage, ConsoleQuery, TaskStatus};
use std::time::Duration;

/// Largest chunk one append may carry.
pub const MAX_CHUNK_BYTES: usize = 4 << 20;
/// Longest a reader may wait for output.
pub const MAX_WAIT_SECONDS: f64 = runyard_api::rules::MAX_WAIT_SECONDS;

/// Appends output to a task's console: from its owner, an admin, or the agent running it.
pub async fn append(store: &Store, who: &Principal, task_id: &str, req: AppendConsole) -> Result<i64> {
    if !is_valid_id(task_id) {
        return Err(Error::not_found("task", task_id));
    }
    let heads = store.read_heads(&[task_id]).await?;
    let head = heads.get(task_id).ok_or_else(|| Error::not_found("task", task_id))?;
    let facts = access::TaskAccess::of(head);
    access::task(who, Action::Ping, &facts)?;
    access::attempt(&facts, req.attempt)?;
    if req.text.is_empty() {
        return Err(Error::invalid("text", "must not be empty"));
    }
    if req.text.len() > MAX_CHUNK_BYTES {
        return Err(Error::invalid("text", format!("must be at most {MAX_CHUNK_BYTES} bytes per append")));
    }
    if req.text.contains('\0') {
        return Err(Error::invalid("text", "must not contain NUL characters"));
    }
    let time = req.time.map(|t| t.timestamp_millis()).unwrap_or_else(now_ms);
    store.append_console(task_id, time, &req.text).await
}

/// Removes a task's log lines that `metrics` takes (and, with `before`, only older ones):
/// its owner's or an admin's call; a published task's console is read-only.
pub async fn clear(
    store: &Store,
    who: &Principal,
    task_id: &str,
    metrics: LogMetrics<'_>,
    before: Option<i64>,
) -> Result<u64> {
    let heads = store.read_heads(&[task_id]).await?;
    let head = heads.get(task_id).ok_or_else(|| Error::not_found("task", task_id))?;
    access::task(who, Action::Edit, &access::TaskAccess::of(head))?;
    if head.status == TaskStatus::Published {
        return Err(Error::Conflict(format!("task '{task_id}' is published: its console is read-only")));
    }
    store.clear_log_lines(task_id, metrics, before).await
}

pub async fn read(store: &Store, task_id: &str, q: ConsoleQuery) -> Result<ConsolePage> {
    if !is_valid_id(task_id) {
        return Err(Error::not_found("task", task_id));
    }
    let limit = q.limit.unwrap_or(1000);
    if limit == 0 || limit > runyard_api::rules::MAX_LIST_PAGE {
        return Err(Error::invalid("limit", format!("must be between 1 and {}", runyard_api::rules::MAX_LIST_PAGE)));
    }
    let wait = q.wait_seconds.unwrap_or(0.0);
    if !(0.0..=MAX_WAIT_SECONDS).contains(&wait) {
        return Err(Error::invalid("wait_seconds", format!("must be between 0 and {MAX_WAIT_SECONDS}")));
    }
    if q.before.is_some() || q.tail {
        if q.after.is_some() || wait > 0.0 {
            return Err(Error::invalid(
                "before",
                "reading backwards (before, tail) goes with neither after nor wait_seconds",
            ));
        }
        let before = q.before.unwrap_or(i64::MAX);
        let status = status_of(store, task_id).await?;
        let (entries, more) = store.console(task_id, 0, Some(before), q.search.as_deref(), limit).await?;
        let first = entries.first().map(|e| e.id).filter(|_| more);
        let last = entries.last().map_or(0, |e| e.id);
        return Ok(ConsolePage { entries, last, first, status });
    }
    let after = q.after.unwrap_or(0);
    let notify = store.changes.console(task_id);
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(wait);
    loop {
        let woken = notify.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let status = status_of(store, task_id).await?;
        let (entries, _) = store.console(task_id, after, None, q.search.as_deref(), limit).await?;
        // Only a task that is waiting to run or running may still produce output.
        let live = matches!(status, TaskStatus::Queued | TaskStatus::InProgress);
        if !entries.is_empty() || !live || tokio::time::Instant::now() >= deadline {
            let last = entries.last().map_or(after, |e| e.id);
            return Ok(ConsolePage { entries, last, first: None, status });
        }
        if tokio::time::timeout_at(deadline, woken).await.is_err() {
            return Ok(ConsolePage { entries: Vec::new(), last: after, first: None, status });
        }
    }
}

async fn status_of(store: &Store, task_id: &str) -> Result<TaskStatus> {
    let heads = store.read_heads(&[task_id]).await?;
    Ok(heads.get(task_id).ok_or_else(|| Error::not_found("task", task_id))?.status)
}
