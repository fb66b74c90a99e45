//! What the comparison view reads: scalars on one grid, single values, plots, parameters.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A compared task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaskRef {
    pub id: String,
    pub name: String,
}

/// One task's line in a comparison chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CompareLine {
    pub task: String,
    pub x: Vec<f64>,
    pub y: Vec<crate::tracking::Float>,
    /// Points stored (before downsampling).
    pub total: usize,
}

/// One metric/variant: every task's line, downsampled on one x grid so the lines line up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CompareChart {
    pub metric: String,
    pub variant: String,
    /// The x range shared by the lines: `[min, max]`.
    pub range: [f64; 2],
    pub lines: Vec<CompareLine>,
}

/// Single values as one table: a row per task, a column per name (the Summary bar chart).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CompareSingles {
    pub names: Vec<String>,
    /// Per task (in `tasks` order), its value of each name, `null` where it has none.
    pub values: Vec<Vec<Option<crate::tracking::Float>>>,
}

/// `GET /api/v1/table/compare/scalars`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CompareScalars {
    pub tasks: Vec<TaskRef>,
    pub x: crate::tracking::XAxis,
    pub charts: Vec<CompareChart>,
    pub single_values: CompareSingles,
}

/// One task's latest figure of a metric/variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CompareFigure {
    pub task: String,
    pub iteration: i64,
    /// A Plotly figure (an object), or the text a client sent when that is not JSON.
    pub figure: serde_json::Value,
}

/// A metric/variant's figures across the tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ComparePlot {
    pub metric: String,
    pub variant: String,
    /// Every trace is a line, scatter, bar or box: the figures may be overlaid in one.
    pub mergeable: bool,
    pub figures: Vec<CompareFigure>,
}

/// `GET /api/v1/table/compare/plots`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ComparePlots {
    pub tasks: Vec<TaskRef>,
    pub plots: Vec<ComparePlot>,
}

/// One hyperparameter or configuration item across the tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CompareValue {
    /// `section/name` for hyperparameters, the item's name for configuration.
    pub name: String,
    /// Per task (in `tasks` order); `null` where it has none.
    pub values: Vec<Option<String>>,
    /// Whether the tasks disagree.
    pub differs: bool,
}

/// `GET /api/v1/table/compare/params`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CompareParams {
    pub tasks: Vec<TaskRef>,
    pub hyperparams: Vec<CompareValue>,
    pub configuration: Vec<CompareValue>,
}
