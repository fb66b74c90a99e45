//! The live change stream (`GET /api/v1/events`, server-sent events) that the UI and the CLI's
//! `--watch` use instead of polling. Each event names what changed; clients re-read what they
//! show. A `resync` event means some changes were missed: re-read everything.

use crate::lifecycle::TaskStatus;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// A task was created or changed status (or was deleted: `status` is absent).
    Task { id: String, status: Option<TaskStatus> },
    /// A queue's entries or order changed.
    Queue { id: String },
    /// A worker registered, reported, drained, left or was lost.
    Worker { id: String },
    /// A task's console has new output.
    Console { task: String },
    /// A project was renamed or its description changed.
    Project { id: String },
    /// A user's role, key pairs or tokens changed (removed, a key pair added or revoked,
    /// tokens revoked): credentials are checked afresh.
    User { id: String },
    /// Changes were missed: re-read everything.
    Resync,
}

/// `GET /api/v1/events` parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Only the changes of this task (its status and its console), and `resync`.
    pub task: Option<String>,
}

impl Change {
    /// Whether the change is about task `id` (a `resync` is about everything).
    pub fn concerns_task(&self, id: &str) -> bool {
        match self {
            Change::Task { id: t, .. } | Change::Console { task: t } => t == id,
            Change::Resync => true,
            Change::Queue { .. } | Change::Worker { .. } | Change::Project { .. } | Change::User { .. } => false,
        }
    }

    /// The SSE event name.
    pub fn kind(&self) -> &'static str {
        match self {
            Change::Task { .. } => "task",
            Change::Queue { .. } => "queue",
            Change::Worker { .. } => "worker",
            Change::Console { .. } => "console",
            Change::Project { .. } => "project",
            Change::User { .. } => "user",
            Change::Resync => "resync",
        }
    }
}
