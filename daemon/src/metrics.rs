//! `/metrics` in the Prometheus text format: request latencies, dispatch latency, and — read
//! from the store at scrape time, so every replica reports the same truth — queue lengths and
//! waits, workers by state and tasks by status.

use crate::error::Result;
use crate::store::Store;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    /// The route template (`/api/v1/tasks/{id}`), never the raw path: bounded cardinality.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Histogram>,
    dispatch: Histogram,
    queue_length: Family<QueueLabels, Gauge>,
    queue_wait: Family<QueueLabels, Gauge<f64, AtomicU64>>,
    workers: Family<StateLabels, Gauge>,
    tasks: Family<StatusLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("runyard");
        let requests = Family::<RequestLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        registry.register("http_request_duration_seconds", "HTTP request latency", requests.clone());
        let dispatch = Histogram::new(exponential_buckets(0.0005, 2.0, 20));
        registry.register(
            "dispatch_latency_seconds",
            "Time from enqueue to an agent holding the task",
            dispatch.clone(),
        );
        let queue_length = Family::default();
        registry.register("queue_length", "Tasks waiting in each queue", queue_length.clone());
        let queue_wait = Family::default();
        registry.register(
            "queue_oldest_wait_seconds",
            "How long the oldest task of each queue has waited",
            queue_wait.clone(),
        );
        let workers = Family::default();
        registry.register("workers", "Registered workers by state (idle, busy, drained)", workers.clone());
        let tasks = Family::default();
        registry.register("tasks", "Tasks by status", tasks.clone());
        Metrics { registry, requests, dispatch, queue_length, queue_wait, workers, tasks }
    }
}

impl Metrics {
    pub fn observe_request(&self, labels: RequestLabels, elapsed: Duration) {
        self.requests.get_or_create(&labels).observe(elapsed.as_secs_f64());
    }

    pub fn observe_dispatch(&self, waited: Duration) {
        self.dispatch.observe(waited.as_secs_f64());
    }

    /// Refreshes the store-derived gauges and renders everything.
    pub async fn render(&self, store: &Store) -> Result<String> {
        let now = chrono::Utc::now();
        self.queue_length.clear();
        self.queue_wait.clear();
        for q in store.list_queues().await? {
            let labels = QueueLabels { queue: q.name.clone() };
            self.queue_length.get_or_create(&labels).set(q.length as i64);
            let wait = q.oldest_entry.map(|t| (now - t).num_milliseconds() as f64 / 1000.0).unwrap_or(0.0);
            self.queue_wait.get_or_create(&labels).set(wait.max(0.0));
        }
        self.workers.clear();
        for state in ["idle", "busy", "drained"] {
            self.workers.get_or_create(&StateLabels { state: state.into() }).set(0);
        }
        for w in store.list_workers().await? {
            let state = if w.drained {
                "drained"
            } else if w.task.is_some() {
                "busy"
            } else {
                "idle"
            };
            self.workers.get_or_create(&StateLabels { state: state.into() }).inc();
        }
        self.tasks.clear();
        for (status, n) in store.count_by_status().await? {
            self.tasks.get_or_create(&StatusLabels { status }).set(n);
        }
        let mut out = String::new();
        encode(&mut out, &self.registry).map_err(|e| crate::error::Error::Internal(e.into()))?;
        Ok(out)
    }
}
