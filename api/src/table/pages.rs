//! What the table's reads answer: rows, catalogues, distinct values, selection counts.

use crate::lifecycle::TaskStatus;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /api/v1/table/tasks`: a page of rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TablePage {
    /// The ids of the visible columns, in order; each row's `values` follows them.
    pub columns: Vec<String>,
    pub rows: Vec<TableRow>,
    /// The cursor of the next page; absent on the last one.
    pub next: Option<String>,
}

/// A task's row. Values are JSON: text, numbers at full precision (NaN and ±Inf as strings),
/// dates as RFC 3339, tags as a list, `null` where the task has no value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TableRow {
    pub id: String,
    pub status: TaskStatus,
    pub archived: bool,
    /// Percent done, as the task reports it (its runtime property `progress`), for the
    /// status column's indicator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<f64>,
    /// One per column, any JSON value (see above).
    pub values: Vec<serde_json::Value>,
}

/// `GET /api/v1/table/catalogue`: what the column pickers offer for a project (with its
/// subprojects): metric → variants, hyperparameter section → names, user properties.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ColumnCatalogue {
    pub metrics: std::collections::BTreeMap<String, Vec<String>>,
    pub hyperparams: std::collections::BTreeMap<String, Vec<String>>,
    pub properties: Vec<String>,
}

/// `GET /api/v1/table/values`: the distinct values of a column, for value-set filters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ValuesQuery {
    /// A column id that takes a value set (`status`, `user`, `tags`, `param:Args/lr`, …).
    pub column: String,
    /// A project path or id (default: all).
    pub project: Option<String>,
    /// Include the subprojects (default true).
    pub subprojects: Option<bool>,
    pub archived: bool,
    /// Only values containing this text (case-insensitive).
    pub search: Option<String>,
    /// Values after this one (the `next` of the previous page).
    pub after: Option<String>,
    /// At most this many values (default 100, at most 1000).
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ColumnValue {
    pub value: String,
    /// How many tasks have it.
    pub tasks: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ColumnValues {
    pub values: Vec<ColumnValue>,
    /// Pass as `after` for the next page; absent on the last one.
    pub next: Option<String>,
}

/// `GET /api/v1/table/selection`: how many tasks a selection holds and how many of them each
/// action applies to (the counts of the batch action bar and the context menu).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SelectionSummary {
    pub total: u64,
    /// Action name → tasks of the selection it is valid for.
    pub actions: std::collections::BTreeMap<String, u64>,
    /// Tasks Retry is valid for that have no previous queue: retrying them needs one.
    pub retry_without_queue: u64,
}

/// The actions a user applies to selections of the table: all but the agents' reports and
/// edits.
pub fn table_actions() -> impl Iterator<Item = crate::Action> {
    crate::Action::ALL.into_iter().filter(|a| !a.by_agent() && *a != crate::Action::Edit)
}
