//! The entities on the wire: tasks, projects, queues and users, with their requests and responses.

use crate::lifecycle::{Action, TaskStatus};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

/// Entity ids are 32 lowercase hex characters.
pub fn is_valid_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The system tag that marks an archived task.
pub const ARCHIVED_TAG: &str = "archived";

/// What a task is for (ClearML's task types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskType {
    #[default]
    Training,
    Testing,
    Inference,
    DataProcessing,
    Application,
    Monitor,
    Controller,
    Optimizer,
    Service,
    Qc,
    Custom,
}

impl TaskType {
    pub const ALL: [TaskType; 11] = [
        TaskType::Training,
        TaskType::Testing,
        TaskType::Inference,
        TaskType::DataProcessing,
        TaskType::Application,
        TaskType::Monitor,
        TaskType::Controller,
        TaskType::Optimizer,
        TaskType::Service,
        TaskType::Qc,
        TaskType::Custom,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskType::Training => "training",
            TaskType::Testing => "testing",
            TaskType::Inference => "inference",
            TaskType::DataProcessing => "data_processing",
            TaskType::Application => "application",
            TaskType::Monitor => "monitor",
            TaskType::Controller => "controller",
            TaskType::Optimizer => "optimizer",
            TaskType::Service => "service",
            TaskType::Qc => "qc",
            TaskType::Custom => "custom",
        }
    }

    pub fn parse(s: &str) -> Option<TaskType> {
        TaskType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// How the entry point is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// `entry_point` is a file run with `binary`.
    #[default]
    Script,
    /// `entry_point` is a Python module run with `python -m`.
    Module,
    /// `code` is written to the file `entry_point`, then run.
    Code,
}

/// The code a task runs: where it comes from and how it starts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Script {
    pub repository: Option<String>,
    pub branch: Option<String>,
    pub tag: Option<String>,
    /// A commit id.
    pub commit: Option<String>,
    pub entry_kind: EntryKind,
    pub entry_point: Option<String>,
    pub working_dir: Option<String>,
    /// The interpreter, e.g. `python3` or `bash`.
    pub binary: Option<String>,
    /// Uncommitted changes, as a unified diff applied after checkout.
    pub diff: Option<String>,
    /// Custom code (with `entry_kind = code`).
    pub code: Option<String>,
    /// Prepend the `Task.init` lines to a Python entry point.
    pub add_task_init: bool,
    /// The script reads its `Args` hyperparameters from the server itself (as scripts the
    /// ClearML SDK recorded do), so the agent passes none of them as command-line flags.
    pub reads_args: bool,
    /// pip requirements (requirements.txt syntax).
    pub requirements: Option<String>,
}

/// How the agent prepares the Python environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VenvMode {
    /// Use the preinstalled venv as it is.
    #[default]
    Skip,
    /// Install the requirements into it.
    Requirements,
    /// Install `packages` into it.
    Packages,
}

/// The task's execution environment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Environment {
    /// Use poetry instead of pip.
    pub poetry: bool,
    /// A virtual environment present where the task runs.
    pub preinstalled_venv: Option<String>,
    pub venv_mode: VenvMode,
    /// Packages to install ("specify packages"), space or newline separated.
    pub packages: Option<String>,
    /// Environment variables for the task's process.
    pub variables: BTreeMap<String, String>,
}

/// Container settings, used by agents in Docker mode.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Container {
    pub image: Option<String>,
    /// `docker run` arguments as one string.
    pub arguments: Option<String>,
    /// A bash script run inside the container before the environment is set up.
    pub setup_script: Option<String>,
}

/// Where and how the task runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Execution {
    /// The queue the task was last enqueued in.
    pub queue: Option<String>,
    /// Where the task's output files go.
    pub output_uri: Option<String>,
}

/// One hyperparameter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Param {
    pub value: String,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Hyperparameters: section -> name -> value.
pub type Hyperparams = BTreeMap<String, BTreeMap<String, Param>>;

/// A configuration object (a text blob or structured text such as YAML or JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigItem {
    pub value: String,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A model a task used (input) or produced (output).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ModelRef {
    pub name: String,
    pub uri: Option<String>,
    pub model_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Models {
    pub input: Vec<ModelRef>,
    pub output: Vec<ModelRef>,
}

/// A file or object a task stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Artifact {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub uri: Option<String>,
    pub size: Option<u64>,
    pub hash: Option<String>,
    pub preview: Option<String>,
    /// `input` (part of the task's definition: kept on reset and clone) or `output` (the
    /// default: a result).
    pub mode: Option<String>,
}

impl Artifact {
    /// Part of the task's definition, not a result.
    pub fn is_input(&self) -> bool {
        self.mode.as_deref() == Some("input")
    }
}

/// A task, as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Task {
    pub id: String,
    pub name: String,
    /// Project id.
    pub project: String,
    /// Project path, e.g. `vision/resnet`.
    pub project_name: String,
    #[serde(rename = "type")]
    pub kind: TaskType,
    pub status: TaskStatus,
    pub status_reason: String,
    /// `stopping` while an abort waits for the agent.
    pub status_message: String,
    /// Name of the user who created the task.
    pub user: String,
    pub tags: Vec<String>,
    /// Tags the system manages, e.g. `archived`.
    pub system_tags: Vec<String>,
    pub comment: String,
    pub parent: Option<String>,
    pub created: DateTime<Utc>,
    pub started: Option<DateTime<Utc>>,
    pub completed: Option<DateTime<Utc>>,
    /// Last time anything was reported for or done to the task.
    pub last_update: DateTime<Utc>,
    /// Last time the task itself was changed.
    pub last_change: DateTime<Utc>,
    pub last_iteration: i64,
    /// The worker that runs (or ran) it.
    pub worker: Option<String>,
    /// How many times the task was handed to a worker. An agent's reports carry the attempt
    /// they belong to; those of an earlier one are refused (409 `stale_attempt`).
    #[serde(default)]
    pub attempt: i64,
    /// Higher goes first in its queue; ties keep queue order.
    pub priority: i64,
    pub script: Script,
    pub environment: Environment,
    pub container: Container,
    pub execution: Execution,
    pub hyperparams: Hyperparams,
    pub configuration: BTreeMap<String, ConfigItem>,
    pub runtime: BTreeMap<String, serde_json::Value>,
    pub models: Models,
    pub artifacts: Vec<Artifact>,
}

impl Task {
    pub fn archived(&self) -> bool {
        self.system_tags.iter().any(|t| t == ARCHIVED_TAG)
    }
}

/// `POST /api/v1/tasks`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CreateTask {
    pub name: String,
    /// Project path (created if missing). Give this or `project_id`.
    pub project: Option<String>,
    pub project_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: TaskType,
    pub comment: String,
    pub tags: Vec<String>,
    pub system_tags: Vec<String>,
    pub parent: Option<String>,
    pub script: Script,
    pub environment: Environment,
    pub container: Container,
    pub execution: Execution,
    pub hyperparams: Hyperparams,
    pub configuration: BTreeMap<String, ConfigItem>,
    pub runtime: BTreeMap<String, serde_json::Value>,
    /// Enqueue into this queue at once instead of saving a Draft.
    pub queue: Option<String>,
    /// Higher goes first in its queue; ties keep queue order.
    pub priority: i64,
}

/// `PATCH /api/v1/tasks/{id}`: fields left out are unchanged. Name, comment and tags may be
/// changed in any status but Published; everything else only on Drafts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct EditTask {
    pub name: Option<String>,
    pub comment: Option<String>,
    pub tags: Option<Vec<String>>,
    /// Tags clients keep for themselves (`pipeline`, `dataset`…); `archived` is not one of
    /// them: archive and restore set it.
    pub system_tags: Option<Vec<String>>,
    #[serde(rename = "type")]
    pub kind: Option<TaskType>,
    pub parent: Option<String>,
    pub script: Option<Script>,
    pub environment: Option<Environment>,
    pub container: Option<Container>,
    pub execution: Option<Execution>,
    pub hyperparams: Option<Hyperparams>,
    pub configuration: Option<BTreeMap<String, ConfigItem>>,
    pub runtime: Option<BTreeMap<String, serde_json::Value>>,
    /// User properties (the hyperparameter section `properties`, shown as columns): editable
    /// in any status.
    pub properties: Option<BTreeMap<String, Param>>,
}

/// The hyperparameter section that holds user properties.
pub const PROPERTIES_SECTION: &str = "properties";

/// `POST /api/v1/tasks/{id}/outputs`: artifacts and models a task produced or used, upserted
/// by name, in any status but Published.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RegisterOutputs {
    pub artifacts: Vec<Artifact>,
    /// Names of artifacts to drop.
    pub remove_artifacts: Vec<String>,
    pub input_models: Vec<ModelRef>,
    pub output_models: Vec<ModelRef>,
    /// Names of input models to drop.
    pub remove_input_models: Vec<String>,
    /// Names of output models to drop.
    pub remove_output_models: Vec<String>,
    /// Ids of models deleted: every entry naming one leaves the task's inputs and outputs.
    pub deleted_models: Vec<String>,
    /// The iteration the outputs were made at: the task's `last_iteration` advances to it
    /// (never moves back).
    pub iteration: Option<i64>,
}

impl EditTask {
    /// True when the edit touches more than name, comment and tags.
    pub fn edits_definition(&self) -> bool {
        self.kind.is_some()
            || self.parent.is_some()
            || self.script.is_some()
            || self.environment.is_some()
            || self.container.is_some()
            || self.execution.is_some()
            || self.hyperparams.is_some()
            || self.configuration.is_some()
            || self.runtime.is_some()
    }
}

/// `GET /api/v1/tasks` query.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema, IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TaskQuery {
    /// Project path or id.
    pub project: Option<String>,
    /// Include the project's subprojects (default true).
    pub include_subprojects: Option<bool>,
    /// Comma-separated statuses (wire or UI names).
    pub status: Option<String>,
    /// List archived tasks instead of active ones.
    pub archived: bool,
    /// Comma-separated tags: tasks carrying all of them.
    pub tag: Option<String>,
    /// Tasks whose parent is this task.
    pub parent: Option<String>,
    /// At most this many tasks (default 100, max 10000).
    pub limit: Option<u32>,
    pub offset: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaskList {
    pub tasks: Vec<Task>,
    /// How many tasks match the query, ignoring limit and offset.
    pub total: u64,
}

/// The parameters of an action on one or many tasks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ActionRequest {
    /// The tasks to act on (for a batch).
    pub ids: Vec<String>,
    /// enqueue: the target queue (default: the `default` queue). retry: overrides the task's last queue.
    pub queue: Option<String>,
    /// move / clone: the target project, by id (it must exist) or by path (made when missing).
    pub project: Option<String>,
    /// add_tag / remove_tag.
    pub tags: Vec<String>,
    /// A reason recorded with the status change (abort, failed, stopped...).
    pub reason: Option<String>,
    /// A message recorded with the status change.
    pub message: Option<String>,
    /// started: the worker that runs the task.
    pub worker: Option<String>,
    /// clone: the new task's name (default: "Clone Of <name>").
    pub name: Option<String>,
    /// enqueue / retry: the task's priority in the queue (default: unchanged).
    pub priority: Option<i64>,
    /// An agent's report (started, completed, failed, stopped, ping): the attempt it belongs
    /// to, as the pop handed it out; refused when the task was handed out again since.
    pub attempt: Option<i64>,
}

/// The outcome of an action on one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ActionOutcome {
    pub id: String,
    pub ok: bool,
    /// The task's status afterwards (absent when skipped or deleted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskStatus>,
    /// Why the task was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// clone: the new task's id. abort_children: absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_id: Option<String>,
    /// abort_children: how many children were aborted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affected: Option<u64>,
    /// reset, delete: output files that could not be removed yet (retried in the background).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files_not_removed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ActionResponse {
    pub action: Action,
    pub succeeded: u64,
    pub skipped: u64,
    pub results: Vec<ActionOutcome>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including users, queues and other users' tasks.
    Admin,
    /// Creates tasks and changes its own; reads everything.
    #[default]
    User,
    /// A worker machine's identity: registers the workers it runs, pops their queues and
    /// reports on the tasks they were handed; nothing else.
    Agent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub created: DateTime<Utc>,
    /// Removed: the name stays on the user's tasks, every key pair and token is gone.
    #[serde(default)]
    pub disabled: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CreateUser {
    pub name: String,
    pub role: Role,
}

/// A new key pair. The secret is shown once and stored only as a hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Credentials {
    pub user: User,
    pub access_key: String,
    pub secret_key: String,
}

/// `POST /api/v1/auth/login` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Token {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// `POST /api/v1/tasks/{id}/token`: an agent asks for the token its task's process runs with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskTokenRequest {
    /// The attempt the agent was handed (the token is good only while it is the current one).
    pub attempt: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema, IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LoginQuery {
    /// Token lifetime in seconds (default 86400, at most 30 days).
    pub expiration_sec: Option<u64>,
}

/// A browser sign-in: the same key pair as the CLI's, exchanged for a session cookie.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub access_key: String,
    pub secret_key: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(is_valid_id("0123456789abcdef0123456789abcdef"));
        assert!(!is_valid_id("0123456789ABCDEF0123456789abcdef"));
        assert!(!is_valid_id("xyz"));
    }
}
