//! Who may do what: the access rules, as pure functions of the caller and the facts at hand.
//!
//! - An admin may do everything.
//! - A user creates tasks, reads everything, and changes only the tasks they own (clone reads:
//!   anyone may clone a task into one of their own).
//! - An agent is a worker machine's identity: it registers workers (each id bound to the
//!   identity that first registered it), pops their queues and reports on the tasks handed to
//!   them; it may not create or change anything else.
//! - Queues are created, renamed and deleted by admins; a worker is drained or unregistered by
//!   an admin or by the identity it is bound to.

use crate::error::{Error, Result};
use crate::store::{Principal, TaskHead};
use runyard_api::{Action, Role};

/// Whether `action` is one of an agent's reports on a task it was handed.
pub fn is_agent_report(action: Action) -> bool {
    matches!(action, Action::Started | Action::Completed | Action::Failed | Action::Stopped | Action::Ping)
}

/// Admins only (and not through a task's token: a task runs with its owner's rights over its
/// work, never over the install).
pub fn admin(who: &Principal, what: &str) -> Result<()> {
    match who.role {
        Role::Admin if who.task.is_some() => Err(Error::Forbidden(format!("a task's token may not {what}"))),
        Role::Admin => Ok(()),
        _ => Err(Error::Forbidden(format!("only an admin may {what}"))),
    }
}

/// A user's own account (key pairs, tokens): the user and admins, never a task's process.
pub fn account(who: &Principal, user_id: &str, what: &str) -> Result<()> {
    if who.task.is_some() {
        return Err(Error::Forbidden(format!("a task's token may not {what}")));
    }
    if who.role == Role::Admin || who.user_id == user_id {
        return Ok(());
    }
    Err(Error::Forbidden(format!("only the user themselves or an admin may {what}")))
}

/// Something a user owns (a model, a saved view): its owner (or a task's process acting as the
/// owner) and admins change it; agents never do.
pub fn owned(who: &Principal, owner: Option<&str>, what: &str) -> Result<()> {
    match who.role {
        Role::Admin => Ok(()),
        Role::User if owner == Some(who.user_id.as_str()) => Ok(()),
        Role::Agent => Err(Error::Forbidden(format!("an agent's key pair may not change {what}"))),
        Role::User => {
            Err(Error::Forbidden(format!("{what} belongs to another user; only its owner or an admin may change it")))
        }
    }
}

/// Users and admins: what people do (create tasks, projects, views), not machines.
pub fn person(who: &Principal, what: &str) -> Result<()> {
    match who.role {
        Role::Admin | Role::User => Ok(()),
        Role::Agent => Err(Error::Forbidden(format!("an agent's key pair may not {what}"))),
    }
}

/// Agents and admins: what worker machines do (register workers, pop queues).
pub fn machine(who: &Principal, what: &str) -> Result<()> {
    match who.role {
        Role::Admin | Role::Agent => Ok(()),
        Role::User => Err(Error::Forbidden(format!(
            "only an agent's key pair may {what} (make one with `runyard user create NAME --role agent`)"
        ))),
    }
}

/// A worker may be used (reported for, popped for, drained, unregistered) by the identity it
/// is bound to, and by admins. `bound_to` is `None` for a worker registered before binding.
pub fn worker(who: &Principal, worker: &str, bound_to: Option<&str>) -> Result<()> {
    if who.role == Role::Admin || bound_to.is_none_or(|owner| owner == who.user_id) {
        return Ok(());
    }
    Err(Error::Forbidden(format!("worker '{worker}' belongs to another identity")))
}

/// The facts about one task that decide who may act on it.
pub struct TaskAccess<'a> {
    pub id: &'a str,
    /// The user who created it.
    pub owner: &'a str,
    /// The identity bound to the worker running it, or to the worker it was handed to.
    pub holder: Option<&'a str>,
    /// Its current attempt.
    pub attempt: i64,
}

impl<'a> TaskAccess<'a> {
    pub fn of(head: &'a TaskHead) -> TaskAccess<'a> {
        TaskAccess { id: &head.id, owner: &head.owner, holder: head.holder.as_deref(), attempt: head.attempt }
    }
}

/// Fencing: what belongs to attempt `reported` of a task is refused once that attempt is over.
pub fn attempt(t: &TaskAccess<'_>, reported: Option<i64>) -> Result<()> {
    match reported {
        Some(reported) if reported != t.attempt => {
            Err(Error::StaleAttempt { task: t.id.to_string(), reported, current: t.attempt })
        }
        _ => Ok(()),
    }
}

/// A task's own process, acting on its own task, only while its attempt is the current one.
fn scope(who: &Principal, t: &TaskAccess<'_>) -> Result<()> {
    match &who.task {
        Some(scope) if scope.id == t.id => attempt(t, Some(scope.attempt)),
        _ => Ok(()),
    }
}

/// Whether `who` may apply `action` to a task: its owner and admins may apply any action; an
/// agent only its reports, on a task held by one of its workers; anyone may clone.
pub fn task(who: &Principal, action: Action, t: &TaskAccess<'_>) -> Result<()> {
    scope(who, t)?;
    let allowed = match who.role {
        Role::Admin => true,
        Role::User => action == Action::Clone || t.owner == who.user_id,
        Role::Agent => is_agent_report(action) && t.holder == Some(who.user_id.as_str()),
    };
    if allowed {
        return Ok(());
    }
    Err(Error::Forbidden(match who.role {
        Role::Agent => format!("task '{}' is not held by a worker of this agent", t.id),
        _ => format!("task '{}' belongs to another user; only its owner or an admin may change it", t.id),
    }))
}

/// Edits of a task (name, tags, definition, outputs): its owner and admins.
pub fn edit(who: &Principal, t: &TaskAccess<'_>) -> Result<()> {
    scope(who, t)?;
    match who.role {
        Role::Admin => Ok(()),
        Role::User if t.owner == who.user_id => Ok(()),
        // An agent records what its run produced (outputs, a forced edit of the definition).
        Role::Agent if t.holder == Some(who.user_id.as_str()) => Ok(()),
        _ => task(who, Action::Edit, t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(id: &str, role: Role) -> Principal {
        Principal { user_id: id.into(), name: id.into(), role, task: None }
    }

    #[test]
    fn owners_and_admins_change_tasks_others_only_clone() {
        let t = TaskAccess { id: "t", owner: "ada", holder: Some("box"), attempt: 1 };
        let (ada, bob, root, agent) = (
            principal("ada", Role::User),
            principal("bob", Role::User),
            principal("root", Role::Admin),
            principal("box", Role::Agent),
        );
        for action in Action::ALL {
            assert!(task(&ada, action, &t).is_ok(), "{action:?}");
            assert!(task(&root, action, &t).is_ok(), "{action:?}");
            assert_eq!(task(&bob, action, &t).is_ok(), action == Action::Clone, "{action:?}");
            assert_eq!(task(&agent, action, &t).is_ok(), is_agent_report(action), "{action:?}");
        }
        let elsewhere = TaskAccess { holder: Some("other-box"), ..t };
        assert!(task(&agent, Action::Completed, &elsewhere).is_err());
        assert!(edit(&bob, &elsewhere).is_err());
        assert!(edit(&agent, &elsewhere).is_err());
        assert!(edit(&ada, &elsewhere).is_ok());
    }

    #[test]
    fn a_task_token_is_fenced_by_its_attempt() {
        let t = TaskAccess { id: "t", owner: "ada", holder: Some("box"), attempt: 2 };
        let mut own = principal("ada", Role::User);
        own.task = Some(crate::store::TaskScope { id: "t".into(), attempt: 1 });
        assert!(matches!(task(&own, Action::Ping, &t), Err(Error::StaleAttempt { .. })));
        assert!(matches!(edit(&own, &t), Err(Error::StaleAttempt { .. })));
        own.task = Some(crate::store::TaskScope { id: "t".into(), attempt: 2 });
        assert!(task(&own, Action::Ping, &t).is_ok());
        let other = TaskAccess { id: "u", ..t };
        assert!(task(&own, Action::Ping, &other).is_ok(), "its owner's other tasks");
    }

    #[test]
    fn workers_are_bound_to_their_identity() {
        let (box1, box2, root) =
            (principal("b1", Role::Agent), principal("b2", Role::Agent), principal("r", Role::Admin));
        assert!(worker(&box1, "w", Some("b1")).is_ok());
        assert!(worker(&box2, "w", Some("b1")).is_err());
        assert!(worker(&root, "w", Some("b1")).is_ok());
        assert!(worker(&box2, "w", None).is_ok());
        assert!(machine(&principal("u", Role::User), "pop").is_err());
        assert!(person(&box1, "create tasks").is_err());
        assert!(admin(&principal("u", Role::User), "create queues").is_err());
    }
}
