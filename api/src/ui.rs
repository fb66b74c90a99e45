//! The web UI's own API: custom context-menu actions defined in the server's configuration.

use crate::lifecycle::TaskStatus;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A custom action as the UI lists it: a context-menu entry issued by the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CustomAction {
    pub name: String,
    pub label: String,
    /// The statuses it applies to; empty: any.
    pub states: Vec<TaskStatus>,
}

/// `POST /api/v1/ui/actions/{name}`: the tasks to run the action for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunCustomAction {
    pub ids: Vec<String>,
}

/// One HTTP request the server issued for a custom action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CustomActionCall {
    /// The task it was for, when the URL names one task (`{id}`).
    pub task: Option<String>,
    /// The HTTP status answered; absent when the request failed.
    pub status: Option<u16>,
    /// The start of the answer's body, or why the request failed.
    pub body: String,
}

/// What a custom action did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CustomActionResult {
    pub action: String,
    /// Tasks in a status the action applies to.
    pub applied: Vec<String>,
    /// Tasks skipped for their status (or unknown).
    pub skipped: Vec<String>,
    pub calls: Vec<CustomActionCall>,
}
