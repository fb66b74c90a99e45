//! Dispatch to agents (long-poll, woken the instant a task is queued) and the watchdog.
//!
//! A pop registers interest in its queues' wake-ups *before* looking, so a task queued between
//! the look and the wait still wakes it. The pop itself is one write transaction in the store:
//! exactly one agent gets each task, as a lease until it reports `started`.

use super::access;
use super::tasks::TaskService;
use crate::error::{Error, Result};
use crate::store::{Principal, Store};
use runyard_api::{PopRequest, PopResponse};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Longest long-poll an agent may ask for.
pub const MAX_WAIT_SECONDS: f64 = runyard_api::rules::MAX_WAIT_SECONDS;

/// Timings of dispatch and the watchdog.
#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// A popped task whose agent has not said `started` by then goes back to the head of its queue.
    pub lease_seconds: u64,
    /// A running task silent (no ping, event or status) for this long is aborted.
    pub task_silence_seconds: u64,
    /// How often the watchdog looks.
    pub watchdog_interval: Duration,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        DispatchConfig { lease_seconds: 120, task_silence_seconds: 2 * 3600, watchdog_interval: Duration::from_secs(2) }
    }
}

pub struct Dispatcher {
    store: Arc<Store>,
    /// The watchdog's stops go through the task service.
    tasks: TaskService,
    metrics: Arc<crate::metrics::Metrics>,
    config: DispatchConfig,
    /// Order fairness: per worker, the queue index to start from next time.
    cursors: Mutex<HashMap<String, usize>>,
    /// When queue history was last sampled (ms).
    last_sample: Mutex<i64>,
}

/// How often the watchdog samples queue length and wait into the history.
const QUEUE_SAMPLE_MS: i64 = 10_000;

impl Dispatcher {
    pub fn new(
        store: Arc<Store>,
        tasks: TaskService,
        metrics: Arc<crate::metrics::Metrics>,
        config: DispatchConfig,
    ) -> Dispatcher {
        let (cursors, last_sample) = (Mutex::new(HashMap::new()), Mutex::new(0));
        Dispatcher { store, tasks, metrics, config, cursors, last_sample }
    }

    /// Hands the worker its next task, waiting up to `wait_seconds` for one.
    /// Only the identity the worker is bound to (an agent's, or an admin's) pops for it.
    pub async fn pop(&self, who: &Principal, req: PopRequest) -> Result<PopResponse> {
        access::machine(who, "pop queues")?;
        if req.queues.is_empty() {
            return Err(Error::invalid("queues", "give at least one queue"));
        }
        if !(0.0..=MAX_WAIT_SECONDS).contains(&req.wait_seconds) {
            return Err(Error::invalid("wait_seconds", format!("must be between 0 and {MAX_WAIT_SECONDS}")));
        }
        // An unknown worker is a 404: register it first (POST /api/v1/workers).
        let (owner, drained) = self.store.worker_gate(&req.worker).await?;
        access::worker(who, &req.worker, owner.as_deref())?;
        let none = PopResponse { task: None, queue: None };
        if drained {
            return Ok(none);
        }
        let mut queues = self.store.resolve_queues(&req.queues).await?;
        if req.order_fairness {
            let mut cursors = self.cursors.lock().expect("cursor lock");
            let start = cursors.get(&req.worker).copied().unwrap_or(0) % queues.len();
            queues.rotate_left(start);
            cursors.insert(req.worker.clone(), start + 1);
        }
        let ids: Vec<String> = queues.iter().map(|(id, _)| id.clone()).collect();
        let notifies: Vec<_> = ids.iter().map(|q| self.store.changes.queue(q)).collect();
        let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(req.wait_seconds);
        loop {
            let waits: Vec<_> = notifies.iter().map(|n| n.notified()).collect();
            let mut waits: Vec<_> = waits.into_iter().map(Box::pin).collect();
            for w in &mut waits {
                w.as_mut().enable();
            }
            let lease_until = crate::store::now_ms() + self.config.lease_seconds as i64 * 1000;
            if let Some((task_id, queue_id, added)) = self.store.pop(&ids, &req.worker, lease_until).await? {
                let waited = (crate::store::now_ms() - added).max(0) as u64;
                self.metrics.observe_dispatch(Duration::from_millis(waited));
                let task = self.store.get_task(&task_id).await?;
                let queue = queues.into_iter().find(|(id, _)| *id == queue_id).map(|(_, name)| name);
                return Ok(PopResponse { task: Some(task), queue });
            }
            let woken = futures::future::select_all(waits);
            if tokio::time::timeout_at(deadline, woken).await.is_err() {
                return Ok(none);
            }
        }
    }

    /// One pass of the watchdog: expired leases back to their queues, silent workers dropped
    /// (their running tasks aborted "worker lost"), silent tasks aborted "non-responsive".
    /// Every step locks the rows it changes, so replicas may run it side by side.
    pub async fn sweep(&self) -> Result<()> {
        let now = crate::store::now_ms();
        let requeued = self.store.requeue_leases(Some(now), None).await?;
        if requeued > 0 {
            tracing::info!(requeued, "TaskLeaseExpired: tasks handed out but never started went back to their queues");
        }
        for worker in self.store.silent_workers(now).await? {
            let aborted = self.tasks.drop_lost_worker(&worker, now).await?;
            tracing::warn!(worker, ?aborted, "WorkerLost: dropped a silent worker");
        }
        let due = {
            let mut last = self.last_sample.lock().expect("sample lock");
            let due = now - *last >= QUEUE_SAMPLE_MS;
            if due {
                *last = now;
            }
            due
        };
        if due {
            for q in self.store.list_queues().await? {
                let wait = q.oldest_entry.map(|t| (now - t.timestamp_millis()) as f64 / 1000.0).unwrap_or(0.0);
                let samples = [("length".to_string(), q.length as f64), ("oldest_wait_seconds".to_string(), wait)];
                self.store.record_history(&format!("queue:{}", q.id), &samples, now).await?;
            }
            self.store.prune_history(now).await?;
            self.store.sweep_revoked_tokens().await?;
        }
        let before = now - self.config.task_silence_seconds as i64 * 1000;
        let silent = self.tasks.stop_silent_tasks(before, now).await?;
        if !silent.is_empty() {
            tracing::warn!(?silent, "TaskNonResponsive: aborted running tasks that stopped reporting");
        }
        Ok(())
    }

    /// Runs the watchdog until `stop` is cancelled.
    pub async fn watchdog(self: Arc<Self>, stop: CancellationToken) {
        let mut tick = tokio::time::interval(self.config.watchdog_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {
                    if let Err(error) = self.sweep().await {
                        tracing::error!(error = format!("{error:#}"), "watchdog sweep failed");
                    }
                }
            }
        }
    }
}
