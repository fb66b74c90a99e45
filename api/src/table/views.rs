//! Saved table states (leaderboards).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A saved table state (a leaderboard), shared with everyone who can see the project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SavedView {
    pub id: String,
    /// The project id it belongs to; absent for a view of all projects.
    pub project: Option<String>,
    pub name: String,
    /// The user who saved it: only they (or an admin) may change or delete it.
    pub owner: String,
    /// The table state as a [`TableQuery`] query string.
    pub state: String,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

/// `POST /api/v1/table/views`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SaveView {
    pub name: String,
    /// A project path or id; absent for all projects.
    pub project: Option<String>,
    pub state: String,
}

/// `PATCH /api/v1/table/views/{id}`: what is absent stays.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct UpdateView {
    pub name: Option<String>,
    pub state: Option<String>,
}
