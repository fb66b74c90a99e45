//! A task's console: its stdout and stderr merged, in order, as the agent ships it.

use crate::lifecycle::TaskStatus;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `POST /api/v1/tasks/{id}/console`: output to append, usually a batch of lines.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AppendConsole {
    pub text: String,
    /// When the output was produced (default: when it arrived).
    pub time: Option<DateTime<Utc>>,
    /// From an agent: the attempt the output belongs to (refused when it is over).
    #[serde(default)]
    pub attempt: Option<i64>,
}

/// One appended chunk. `id`s grow in the order chunks were appended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ConsoleEntry {
    pub id: i64,
    pub time: DateTime<Utc>,
    pub text: String,
    /// Output reported as log events: its level (`info`, `warning`, `error`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// … and the worker that sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// … and the iteration, metric and variant it was filed under, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iteration: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// `GET /api/v1/tasks/{id}/console`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema, IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConsoleQuery {
    /// Only chunks after this id (default: from the start).
    pub after: Option<i64>,
    /// Page backwards: the last chunks before this id (with `tail`, from the end). Pages read
    /// backwards are still returned in append order.
    pub before: Option<i64>,
    /// Read the last chunks rather than the first.
    pub tail: bool,
    /// Only chunks containing this text (case-insensitive).
    pub search: Option<String>,
    /// At most this many chunks (default 1000, at most 10000).
    pub limit: Option<u32>,
    /// With nothing new, wait up to this long for output (long-poll; at most 60).
    pub wait_seconds: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ConsolePage {
    pub entries: Vec<ConsoleEntry>,
    /// The id to ask for output `after` next time.
    pub last: i64,
    /// Reading backwards: the id to ask for output `before` next time; absent at the head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<i64>,
    /// The task's status when the page was read: a follower stops once it has ended and no
    /// output is left.
    pub status: TaskStatus,
}
