//! The task lifecycle: statuses, actions and the pure state machine between them.
//!
//! ```text
//!                 enqueue / retry(failed)
//!   created ───────────────────────────────► queued ──started──► in_progress ──completed──► completed ─┐
//!   (Draft)  ◄──────── dequeue / archive ─── (Pending)              │   │                               │
//!      ▲                                                          failed abort ─► stopped (Aborted)    publish
//!      └──────── reset (completed | stopped | failed) ◄────────────┘   (or "stopping" until the agent   ▼
//!                                                                        acknowledges with `stopped`)  published
//! ```
//!
//! Every action names the states it is valid in; [`transition`] is the one place that decides
//! what an action does to a task. The store applies its answer with a compare-and-set on the
//! current status, so a transition that raced with another is refused, never half-applied.

use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

/// A task's status, as it travels on the wire (ClearML's vocabulary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Draft: editable, not scheduled.
    Created,
    /// Pending: waiting in a queue.
    Queued,
    /// Running on a worker.
    InProgress,
    /// Aborted.
    Stopped,
    Completed,
    Failed,
    /// Read-only forever.
    Published,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 7] = [
        TaskStatus::Created,
        TaskStatus::Queued,
        TaskStatus::InProgress,
        TaskStatus::Stopped,
        TaskStatus::Completed,
        TaskStatus::Failed,
        TaskStatus::Published,
    ];

    /// The wire (and database) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Created => "created",
            TaskStatus::Queued => "queued",
            TaskStatus::InProgress => "in_progress",
            TaskStatus::Stopped => "stopped",
            TaskStatus::Completed => "completed",
            TaskStatus::Failed => "failed",
            TaskStatus::Published => "published",
        }
    }

    /// The name people see in the UI and the CLI.
    pub fn display_name(self) -> &'static str {
        match self {
            TaskStatus::Created => "Draft",
            TaskStatus::Queued => "Pending",
            TaskStatus::InProgress => "Running",
            TaskStatus::Stopped => "Aborted",
            TaskStatus::Completed => "Completed",
            TaskStatus::Failed => "Failed",
            TaskStatus::Published => "Published",
        }
    }

    /// Accepts the wire spelling or the UI name, case-insensitively.
    pub fn parse(s: &str) -> Option<TaskStatus> {
        let s = s.trim();
        TaskStatus::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s) || st.display_name().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that can be done to a task, by a person (the seed's action table) or by the
/// agent running it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Enqueue,
    Dequeue,
    Reset,
    Abort,
    AbortChildren,
    Retry,
    Publish,
    Archive,
    Restore,
    Delete,
    AddTag,
    RemoveTag,
    Clone,
    Move,
    /// Change name, description or tags (any state) or anything else (Drafts only).
    Edit,
    /// Agent: the task's process has started.
    Started,
    /// Agent: the process exited 0.
    Completed,
    /// Agent: the process failed (or could not start).
    Failed,
    /// Agent: the abort was carried out.
    Stopped,
    /// Agent: the task is alive.
    Ping,
}

impl Action {
    pub const ALL: [Action; 20] = [
        Action::Enqueue,
        Action::Dequeue,
        Action::Reset,
        Action::Abort,
        Action::AbortChildren,
        Action::Retry,
        Action::Publish,
        Action::Archive,
        Action::Restore,
        Action::Delete,
        Action::AddTag,
        Action::RemoveTag,
        Action::Clone,
        Action::Move,
        Action::Edit,
        Action::Started,
        Action::Completed,
        Action::Failed,
        Action::Stopped,
        Action::Ping,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Enqueue => "enqueue",
            Action::Dequeue => "dequeue",
            Action::Reset => "reset",
            Action::Abort => "abort",
            Action::AbortChildren => "abort_children",
            Action::Retry => "retry",
            Action::Publish => "publish",
            Action::Archive => "archive",
            Action::Restore => "restore",
            Action::Delete => "delete",
            Action::AddTag => "add_tag",
            Action::RemoveTag => "remove_tag",
            Action::Clone => "clone",
            Action::Move => "move",
            Action::Edit => "edit",
            Action::Started => "started",
            Action::Completed => "completed",
            Action::Failed => "failed",
            Action::Stopped => "stopped",
            Action::Ping => "ping",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        let s = s.replace('-', "_");
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// An agent's report on the task it runs (not a user's action).
    pub fn by_agent(self) -> bool {
        matches!(self, Action::Started | Action::Completed | Action::Failed | Action::Stopped | Action::Ping)
    }

    /// The statuses this action is valid in; `None` means any status.
    pub fn valid_states(self) -> Option<&'static [TaskStatus]> {
        use TaskStatus::*;
        match self {
            Action::Enqueue => Some(&[Created, Stopped]),
            Action::Dequeue => Some(&[Queued]),
            Action::Reset => Some(&[Completed, Stopped, Failed]),
            Action::Abort => Some(&[InProgress]),
            Action::AbortChildren => Some(&[InProgress, Stopped]),
            Action::Retry => Some(&[Failed]),
            Action::Publish => Some(&[Completed, Stopped, Failed]),
            Action::Started => Some(&[Created, Queued]),
            Action::Completed | Action::Stopped | Action::Ping => Some(&[InProgress]),
            Action::Failed => Some(&[Created, Queued, InProgress]),
            Action::Archive
            | Action::Restore
            | Action::Delete
            | Action::AddTag
            | Action::RemoveTag
            | Action::Clone
            | Action::Move
            | Action::Edit => None,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the state machine needs to know about a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskState {
    pub status: TaskStatus,
    pub archived: bool,
    /// A worker holds the task: an abort must be acknowledged by its agent.
    pub has_worker: bool,
    /// Only meaningful for [`Action::Edit`]: the edit touches more than name, description and tags.
    pub edits_definition: bool,
}

impl TaskState {
    pub fn new(status: TaskStatus) -> Self {
        TaskState { status, archived: false, has_worker: false, edits_definition: false }
    }
}

/// What applying an action does. Fields left at their default change nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Transition {
    /// The new status, if it changes.
    pub status: Option<TaskStatus>,
    /// The new archived flag, if it changes.
    pub archived: Option<bool>,
    /// Abort asked of a running task: mark it "stopping" and wait for its agent.
    pub stopping: bool,
    /// Drop the task's queue entry.
    pub leave_queue: bool,
    /// Join a queue (enqueue, retry).
    pub join_queue: bool,
    /// Delete the task's run outputs (reset).
    pub clear_outputs: bool,
    /// Remove the task and everything it owns.
    pub delete: bool,
    /// Create a new Draft copying this task.
    pub clone: bool,
}

/// Why an action was refused. Its `Display` is the message people read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTransition {
    #[error("{} is not a valid state for {action} (valid: {})", .status.display_name(), display_states(.valid))]
    WrongState { action: Action, status: TaskStatus, valid: &'static [TaskStatus] },
    #[error("the task is not archived: {action} is only available in the archive")]
    NotArchived { action: Action },
    #[error("the task is already archived")]
    AlreadyArchived,
    #[error("Published tasks are read-only")]
    ReadOnly,
    #[error("only Draft tasks can be edited (this one is {}); name, description and tags can always be changed", .status.display_name())]
    NotEditable { status: TaskStatus },
}

fn display_states(states: &[TaskStatus]) -> String {
    states.iter().map(|s| s.display_name()).collect::<Vec<_>>().join(", ")
}

impl InvalidTransition {
    /// The statuses in which the refused action would have been accepted.
    pub fn valid_states(&self) -> Vec<TaskStatus> {
        match self {
            InvalidTransition::WrongState { valid, .. } => valid.to_vec(),
            _ => Vec::new(),
        }
    }
}

/// Decides what `action` does to a task in `state`.
pub fn transition(action: Action, state: TaskState) -> Result<Transition, InvalidTransition> {
    use TaskStatus::*;
    if let Some(valid) = action.valid_states() {
        if !valid.contains(&state.status) {
            return Err(InvalidTransition::WrongState { action, status: state.status, valid });
        }
    }
    let t = Transition::default();
    Ok(match action {
        Action::Enqueue | Action::Retry => Transition { status: Some(Queued), join_queue: true, ..t },
        Action::Dequeue => Transition { status: Some(Created), leave_queue: true, ..t },
        Action::Reset => Transition { status: Some(Created), clear_outputs: true, ..t },
        Action::Abort if state.has_worker => Transition { stopping: true, ..t },
        Action::Abort => Transition { status: Some(Stopped), ..t },
        Action::Publish => Transition { status: Some(Published), ..t },
        Action::Archive => {
            if state.archived {
                return Err(InvalidTransition::AlreadyArchived);
            }
            let dequeue = state.status == Queued;
            Transition { archived: Some(true), status: dequeue.then_some(Created), leave_queue: dequeue, ..t }
        }
        Action::Restore => {
            if !state.archived {
                return Err(InvalidTransition::NotArchived { action });
            }
            Transition { archived: Some(false), ..t }
        }
        Action::Delete => {
            if !state.archived {
                return Err(InvalidTransition::NotArchived { action });
            }
            Transition { delete: true, leave_queue: state.status == Queued, ..t }
        }
        Action::Edit if state.edits_definition => match state.status {
            Created => t,
            Published => return Err(InvalidTransition::ReadOnly),
            status => return Err(InvalidTransition::NotEditable { status }),
        },
        Action::Clone => Transition { clone: true, ..t },
        Action::Started => Transition { status: Some(InProgress), leave_queue: true, ..t },
        Action::Completed => Transition { status: Some(Completed), ..t },
        Action::Failed => Transition { status: Some(Failed), leave_queue: state.status == Queued, ..t },
        Action::Stopped => Transition { status: Some(Stopped), ..t },
        Action::AbortChildren | Action::AddTag | Action::RemoveTag | Action::Move | Action::Edit | Action::Ping => t,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskStatus::*;

    /// The expected outcome of every action in every status (not archived, no worker):
    /// `Some(status)` = accepted with that resulting status, `None` = refused.
    fn expected(action: Action, from: TaskStatus) -> Option<TaskStatus> {
        let any = Some(from);
        match action {
            Action::Enqueue => matches!(from, Created | Stopped).then_some(Queued),
            Action::Dequeue => (from == Queued).then_some(Created),
            Action::Reset => matches!(from, Completed | Stopped | Failed).then_some(Created),
            Action::Abort => (from == InProgress).then_some(Stopped),
            Action::AbortChildren => matches!(from, InProgress | Stopped).then_some(from),
            Action::Retry => (from == Failed).then_some(Queued),
            Action::Publish => matches!(from, Completed | Stopped | Failed).then_some(Published),
            Action::Archive => Some(if from == Queued { Created } else { from }),
            Action::Restore | Action::Delete => None, // not archived
            Action::AddTag | Action::RemoveTag | Action::Clone | Action::Move | Action::Edit => any,
            Action::Started => matches!(from, Created | Queued).then_some(InProgress),
            Action::Completed => (from == InProgress).then_some(Completed),
            Action::Failed => matches!(from, Created | Queued | InProgress).then_some(Failed),
            Action::Stopped => (from == InProgress).then_some(Stopped),
            Action::Ping => (from == InProgress).then_some(InProgress),
        }
    }

    #[test]
    fn every_action_in_every_state() {
        for action in Action::ALL {
            for from in TaskStatus::ALL {
                let got = transition(action, TaskState::new(from)).map(|t| t.status.unwrap_or(from));
                assert_eq!(got.ok(), expected(action, from), "{action} from {from}");
            }
        }
    }

    #[test]
    fn refusals_name_the_valid_states() {
        let err = transition(Action::Reset, TaskState::new(InProgress)).unwrap_err();
        assert_eq!(err.to_string(), "Running is not a valid state for reset (valid: Completed, Aborted, Failed)");
        assert_eq!(err.valid_states(), vec![Completed, Stopped, Failed]);
    }

    #[test]
    fn archive_restore_delete_follow_the_archived_flag() {
        for from in TaskStatus::ALL {
            let archived = TaskState { archived: true, ..TaskState::new(from) };
            assert_eq!(transition(Action::Archive, archived), Err(InvalidTransition::AlreadyArchived));
            let restored = transition(Action::Restore, archived).unwrap();
            assert_eq!(restored.archived, Some(false));
            assert_eq!(restored.status, None, "restore never changes the status");
            let deleted = transition(Action::Delete, archived).unwrap();
            assert!(deleted.delete);
            let archiving = transition(Action::Archive, TaskState::new(from)).unwrap();
            assert_eq!(archiving.archived, Some(true));
            assert_eq!(archiving.leave_queue, from == Queued);
        }
    }

    #[test]
    fn abort_waits_for_the_agent_when_a_worker_holds_the_task() {
        let held = TaskState { has_worker: true, ..TaskState::new(InProgress) };
        let t = transition(Action::Abort, held).unwrap();
        assert!(t.stopping);
        assert_eq!(t.status, None);
        assert_eq!(transition(Action::Stopped, held).unwrap().status, Some(Stopped));
    }

    #[test]
    fn only_drafts_take_definition_edits() {
        for from in TaskStatus::ALL {
            let state = TaskState { edits_definition: true, ..TaskState::new(from) };
            let got = transition(Action::Edit, state);
            match from {
                Created => assert!(got.is_ok()),
                Published => assert_eq!(got, Err(InvalidTransition::ReadOnly)),
                _ => assert!(matches!(got, Err(InvalidTransition::NotEditable { .. }))),
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for s in TaskStatus::ALL {
            assert_eq!(TaskStatus::parse(s.as_str()), Some(s));
            assert_eq!(TaskStatus::parse(s.display_name()), Some(s));
        }
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
        assert_eq!(Action::parse("abort-children"), Some(Action::AbortChildren));
    }
}
