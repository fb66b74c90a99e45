//! Queues, dispatch to agents, and workers on the wire.

use crate::model::Task;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A queue with its vital signs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Queue {
    pub id: String,
    pub name: String,
    pub created: DateTime<Utc>,
    /// Tasks waiting in it.
    pub length: u64,
    /// Workers pulling from it.
    pub workers: Vec<String>,
    /// When the task that has waited longest was enqueued.
    pub oldest_entry: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CreateQueue {
    pub name: String,
}

/// `PATCH /api/v1/queues/{queue}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RenameQueue {
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema, IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteQueueQuery {
    /// Delete a queue that holds tasks; they go back to Draft.
    pub force: bool,
}

/// One task waiting in a queue, in dispatch order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct QueueEntry {
    pub task: String,
    pub name: String,
    /// The priority the task asked for.
    pub priority: i64,
    pub added: DateTime<Utc>,
}

/// A queue and its entries in the order they will be dispatched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct QueueDetail {
    pub queue: Queue,
    pub entries: Vec<QueueEntry>,
}

/// Where to move a task inside its queue: exactly one of the fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct MoveEntry {
    /// `top` or `bottom`.
    pub to: Option<String>,
    /// A 0-based position in dispatch order.
    pub position: Option<u64>,
    /// Just before this task.
    pub before: Option<String>,
    /// Just after this task.
    pub after: Option<String>,
}

/// `POST /api/v1/queues/pop`: an agent asks for its next task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PopRequest {
    /// Queues by name or id, highest priority first.
    pub queues: Vec<String>,
    /// The registered worker asking.
    pub worker: String,
    /// Wait up to this long for a task (at most 60).
    pub wait_seconds: f64,
    /// Take queues round-robin instead of strictly in order.
    pub order_fairness: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PopResponse {
    /// The task, now leased to the worker until it reports `started`; none if the wait ended.
    pub task: Option<Task>,
    /// The queue it came from.
    pub queue: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct GpuInfo {
    pub index: u32,
    pub model: String,
    pub memory_bytes: u64,
}

/// What a worker machine offers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Capabilities {
    pub cpus: u32,
    pub memory_bytes: u64,
    pub gpus: Vec<GpuInfo>,
}

/// `POST /api/v1/workers`: an agent announces itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RegisterWorker {
    /// e.g. `host:gpu0,1`.
    pub id: String,
    pub queues: Vec<String>,
    pub capabilities: Capabilities,
    /// Dropped when silent for longer than this (default 60).
    pub timeout_seconds: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct GpuStats {
    pub index: u32,
    pub utilization_percent: f64,
    pub memory_used_bytes: u64,
    pub memory_total_bytes: u64,
    pub temperature_celsius: f64,
}

/// A worker's periodic status report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerReport {
    /// The task it is running, if any.
    pub task: Option<String>,
    pub cpu_percent: f64,
    pub memory_used_bytes: u64,
    pub memory_total_bytes: u64,
    pub disk_used_bytes: u64,
    pub disk_total_bytes: u64,
    pub network_rx_bytes_per_second: f64,
    pub network_tx_bytes_per_second: f64,
    pub gpus: Vec<GpuStats>,
}

/// What the daemon tells a reporting worker.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReportAnswer {
    /// Finish the current task, then pull nothing more.
    pub drain: bool,
    /// Tasks of this worker that were asked to abort.
    pub abort: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Worker {
    pub id: String,
    pub queues: Vec<String>,
    pub capabilities: Capabilities,
    pub last_report: WorkerReport,
    pub task: Option<String>,
    pub registered: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub timeout_seconds: u64,
    pub drained: bool,
}

/// `GET /api/v1/workers/{id}/history` and `/api/v1/queues/{queue}/history`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema, IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Start of the range (default: an hour before `to`).
    pub from: Option<DateTime<Utc>>,
    /// End of the range (default: now).
    pub to: Option<DateTime<Utc>>,
    /// Width of each point, in seconds (default: the range over 120 points).
    pub interval_seconds: Option<u64>,
    /// Comma-separated metric names (default: all).
    pub metrics: Option<String>,
}

/// One interval of a series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HistoryPoint {
    /// Start of the interval.
    pub t: DateTime<Utc>,
    pub avg: f64,
    pub min: f64,
    pub max: f64,
}

/// Time series of a worker's resource use or a queue's length and wait.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct History {
    /// The interval each point covers, in seconds.
    pub interval_seconds: u64,
    /// metric -> points in time order (intervals with no samples are left out).
    pub series: std::collections::BTreeMap<String, Vec<HistoryPoint>>,
}
