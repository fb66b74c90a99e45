//! The task service and the store together, on a temporary SQLite file: every lifecycle edge
//! against the state machine, batch skip rules, hook order and rollback, compare-and-set.

use super::{TaskHooks, TaskService};
use crate::error::{Error, Result};
use crate::store::{Principal, Store, TaskPatch};
use futures::future::BoxFuture;
use runyard_api::{transition, Action, ActionRequest, CreateTask, Role, TaskState, TaskStatus};
use sqlx::AnyConnection;
use std::sync::{Arc, Mutex};

struct Fixture {
    tasks: TaskService,
    store: Arc<Store>,
    who: Principal,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("runyard.db").display());
    let store = Arc::new(Store::connect(&url).await.expect("store"));
    store.ensure_default_queue().await.expect("default queue");
    let user = store.create_user("ada", Role::Admin, "ACCESSKEY", "not-a-hash").await.expect("user");
    let who = Principal { user_id: user.id, name: user.name, role: Role::Admin, task: None };
    Fixture { tasks: TaskService::new(store.clone()), store, who, _dir: dir }
}

impl Fixture {
    async fn act(&self, id: &str, action: Action) -> Result<runyard_api::ActionOutcome> {
        let req = ActionRequest {
            queue: Some("default".into()),
            project: Some("elsewhere".into()),
            tags: vec!["x".into()],
            ..Default::default()
        };
        self.tasks.act_one(&self.who, id, action, req).await
    }

    /// A task brought to `status` through the service.
    async fn task_in(&self, status: TaskStatus) -> String {
        let req = CreateTask { name: "t".into(), project: Some("p".into()), ..Default::default() };
        let job = self.tasks.prepare_create(&self.who, req).expect("valid");
        let id = self.tasks.create(job).await.expect("created").id;
        use TaskStatus::*;
        let path: &[Action] = match status {
            Created => &[],
            Queued => &[Action::Enqueue],
            InProgress => &[Action::Enqueue, Action::Started],
            Completed => &[Action::Enqueue, Action::Started, Action::Completed],
            Failed => &[Action::Enqueue, Action::Started, Action::Failed],
            Stopped => &[Action::Enqueue, Action::Started, Action::Stopped],
            Published => &[Action::Enqueue, Action::Started, Action::Completed, Action::Publish],
        };
        for action in path {
            self.act(&id, *action).await.unwrap_or_else(|e| panic!("{action:?} on the way to {status:?}: {e}"));
        }
        assert_eq!(self.status(&id).await, Some(status));
        id
    }

    async fn status(&self, id: &str) -> Option<TaskStatus> {
        self.tasks.get(id).await.ok().map(|t| t.status)
    }
}

#[tokio::test]
async fn every_lifecycle_edge_is_the_state_machines() {
    let f = fixture().await;
    // Every action but Edit (which takes its own request, not an action request).
    let actions = Action::ALL.into_iter().filter(|a| *a != Action::Edit);
    for from in TaskStatus::ALL {
        for action in actions.clone() {
            let id = f.task_in(from).await;
            let state = TaskState { status: from, archived: false, has_worker: false, edits_definition: false };
            let expected = transition(action, state);
            let got = f.act(&id, action).await;
            match (&expected, &got) {
                (Ok(t), Ok(_)) if t.delete => assert_eq!(f.status(&id).await, None, "{action:?} from {from:?}"),
                (Ok(t), Ok(outcome)) => {
                    let to = t.status.unwrap_or(from);
                    assert_eq!((outcome.status, f.status(&id).await), (Some(to), Some(to)), "{action:?} from {from:?}");
                }
                (Err(_), Err(_)) => assert_eq!(f.status(&id).await, Some(from), "{action:?} refused from {from:?}"),
                _ => panic!("{action:?} from {from:?}: the state machine says {expected:?}, the service {got:?}"),
            }
        }
    }
}

#[tokio::test]
async fn a_batch_skips_whole_the_tasks_it_is_not_valid_for() {
    let f = fixture().await;
    let draft = f.task_in(TaskStatus::Created).await;
    let done = f.task_in(TaskStatus::Completed).await;
    let unknown = "0123456789abcdef0123456789abcdef".to_string();
    let req = ActionRequest {
        ids: vec![draft.clone(), done.clone(), unknown.clone(), draft.clone()],
        queue: Some("default".into()),
        ..Default::default()
    };
    let response = f.tasks.act(&f.who, Action::Enqueue, req).await.expect("a batch");
    assert_eq!((response.succeeded, response.skipped), (1, 2), "{response:?}");
    assert_eq!(f.status(&draft).await, Some(TaskStatus::Queued));
    assert_eq!(f.status(&done).await, Some(TaskStatus::Completed), "skipped, untouched");
    let refused = response.results.iter().find(|r| r.id == done).expect("reported");
    assert!(!refused.ok && refused.error.as_deref().is_some_and(|e| e.contains("Completed")), "{refused:?}");

    // An error in the request changes nothing at all.
    let other = f.task_in(TaskStatus::Created).await;
    let req = ActionRequest { ids: vec![other.clone()], queue: Some("no such queue".into()), ..Default::default() };
    assert!(matches!(f.tasks.act(&f.who, Action::Enqueue, req).await, Err(Error::NotFound { .. })));
    assert_eq!(f.status(&other).await, Some(TaskStatus::Created));
}

#[tokio::test]
async fn a_large_batch_is_applied_a_chunk_at_a_time_in_order() {
    let mut f = fixture().await;
    f.tasks = f.tasks.clone().with_batch_chunk(2);
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(f.task_in(TaskStatus::Created).await);
    }
    let done = f.task_in(TaskStatus::Completed).await;
    ids.insert(3, done.clone());
    let req = ActionRequest { ids: ids.clone(), queue: Some("default".into()), ..Default::default() };
    let response = f.tasks.act(&f.who, Action::Enqueue, req).await.expect("a batch in chunks");
    assert_eq!((response.succeeded, response.skipped), (5, 1), "{response:?}");
    let reported: Vec<&str> = response.results.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(reported, ids.iter().map(String::as_str).collect::<Vec<_>>(), "every task once, in order");
    for id in ids.iter().filter(|id| **id != done) {
        assert_eq!(f.status(id).await, Some(TaskStatus::Queued));
    }
}

/// Hooks that write down what they were called for, and can fail.
struct Recorder {
    name: &'static str,
    log: Arc<Mutex<Vec<String>>>,
    fail: bool,
}

impl TaskHooks for Recorder {
    fn clear<'a>(&'a self, _: &'a mut AnyConnection, ids: &'a [&'a str], deleted: bool) -> BoxFuture<'a, Result<()>> {
        self.log.lock().unwrap().push(format!("{}:clear:{}:{deleted}", self.name, ids.len()));
        let fail = self.fail;
        Box::pin(async move {
            if fail {
                Err(Error::Conflict("refused by a hook".into()))
            } else {
                Ok(())
            }
        })
    }
    fn clone_task<'a>(&'a self, _: &'a mut AnyConnection, _: &'a str, _: &'a str) -> BoxFuture<'a, Result<()>> {
        self.log.lock().unwrap().push(format!("{}:clone", self.name));
        Box::pin(async { Ok(()) })
    }
    fn cleared<'a>(&'a self, ids: &'a [String]) -> BoxFuture<'a, Vec<(String, Vec<String>)>> {
        self.log.lock().unwrap().push(format!("{}:cleared:{}", self.name, ids.len()));
        Box::pin(async { Vec::new() })
    }
}

#[tokio::test]
async fn hooks_run_in_registration_order_inside_then_after_the_transaction() {
    let f = fixture().await;
    let log = Arc::new(Mutex::new(Vec::new()));
    let hook = |name, fail| -> Arc<dyn TaskHooks> { Arc::new(Recorder { name, log: log.clone(), fail }) };
    f.tasks.register_hooks(vec![hook("a", false), hook("b", false)]);
    let done = f.task_in(TaskStatus::Completed).await;
    f.act(&done, Action::Reset).await.expect("reset");
    f.act(&done, Action::Clone).await.expect("clone");
    assert_eq!(
        *log.lock().unwrap(),
        ["a:clear:1:false", "b:clear:1:false", "a:cleared:1", "b:cleared:1", "a:clone", "b:clone"]
    );
}

#[tokio::test]
async fn a_failing_hook_rolls_the_whole_action_back() {
    let f = fixture().await;
    let log = Arc::new(Mutex::new(Vec::new()));
    f.tasks.register_hooks(vec![Arc::new(Recorder { name: "a", log: log.clone(), fail: true })]);
    let done = f.task_in(TaskStatus::Completed).await;
    assert!(f.act(&done, Action::Reset).await.is_err());
    assert_eq!(f.status(&done).await, Some(TaskStatus::Completed), "nothing changed");
    assert!(!log.lock().unwrap().iter().any(|l| l.contains("cleared")), "no after-commit work for a rollback");
}

#[tokio::test]
async fn a_compare_and_set_on_a_stale_status_changes_nothing() {
    let f = fixture().await;
    let id = f.task_in(TaskStatus::Created).await;
    let patch = TaskPatch { status: Some(TaskStatus::Stopped), ..TaskPatch::changed_at(1) };
    {
        let mut tx = f.store.write().await.expect("transaction");
        // Decided on Queued, but the task is a Draft: the write loses.
        let lost = f.store.transition_tasks(&mut tx, &[(&id, TaskStatus::Queued)], &patch).await;
        assert!(matches!(lost, Err(Error::Conflict(_))), "{lost:?}");
    }
    assert_eq!(f.status(&id).await, Some(TaskStatus::Created));
    let mut tx = f.store.write().await.expect("transaction");
    f.store.transition_tasks(&mut tx, &[(&id, TaskStatus::Created)], &patch).await.expect("current status");
    tx.commit().await.expect("commit");
    assert_eq!(f.status(&id).await, Some(TaskStatus::Stopped));
}

#[tokio::test]
async fn of_racing_starts_exactly_one_wins() {
    let f = fixture().await;
    let id = f.task_in(TaskStatus::Queued).await;
    let starts = (0..8).map(|_| f.tasks.act_one(&f.who, &id, Action::Started, ActionRequest::default()));
    let results = futures::future::join_all(starts).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert_eq!(f.status(&id).await, Some(TaskStatus::InProgress));
}

#[tokio::test]
async fn the_daemons_own_changes_follow_the_lifecycle() {
    let f = fixture().await;
    let queue = f.store.create_queue("gpu").await.expect("queue");
    let req =
        CreateTask { name: "t".into(), project: Some("p".into()), queue: Some("gpu".into()), ..Default::default() };
    let waiting = f.tasks.create(f.tasks.prepare_create(&f.who, req).unwrap()).await.unwrap().id;
    assert!(matches!(f.tasks.delete_queue(&f.who, "gpu", false).await, Err(Error::Conflict(_))), "it holds a task");
    assert_eq!(f.tasks.delete_queue(&f.who, &queue.id, true).await.unwrap(), std::slice::from_ref(&waiting));
    let back = f.tasks.get(&waiting).await.unwrap();
    assert_eq!((back.status, back.status_reason.as_str()), (TaskStatus::Created, "queue deleted"));

    // A running task silent for too long is stopped; a finished one is left alone.
    let running = f.task_in(TaskStatus::InProgress).await;
    let done = f.task_in(TaskStatus::Completed).await;
    let later = crate::store::now_ms() + 1000;
    assert_eq!(f.tasks.stop_silent_tasks(later, later).await.unwrap(), std::slice::from_ref(&running));
    let stopped = f.tasks.get(&running).await.unwrap();
    assert_eq!((stopped.status, stopped.status_reason.as_str()), (TaskStatus::Stopped, "non-responsive"));
    assert_eq!(f.status(&done).await, Some(TaskStatus::Completed));
}
