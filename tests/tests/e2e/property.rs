//! Random action sequences against the real server, checked step by step against the pure
//! state machine, on both backends.

use crate::harness::{Backend, TestServer};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use runyard_api::{
    transition, Action, ActionRequest, Client, CreateQueue, CreateTask, ErrorCode, TaskState, TaskStatus,
};

const TASKS: usize = 3;

const ACTIONS: [Action; 14] = [
    Action::Enqueue,
    Action::Dequeue,
    Action::Reset,
    Action::Abort,
    Action::Retry,
    Action::Publish,
    Action::Archive,
    Action::Restore,
    Action::Delete,
    Action::Clone,
    Action::Started,
    Action::Completed,
    Action::Failed,
    Action::Stopped,
];

#[derive(Clone, Copy)]
struct Model {
    state: TaskState,
    deleted: bool,
    /// Has been in a queue, so retry knows where to go.
    had_queue: bool,
}

async fn check_sequence(c: &Client, case: usize, steps: &[(usize, usize, bool)]) -> Result<(), TestCaseError> {
    let queue = format!("prop-{case}");
    c.create_queue(&CreateQueue { name: queue.clone() }).await.unwrap();
    let mut ids = Vec::new();
    let mut models = Vec::new();
    for i in 0..TASKS {
        let t = c
            .create_task(&CreateTask {
                name: format!("t{i}"),
                project: Some(format!("prop/{case}")),
                ..Default::default()
            })
            .await
            .unwrap();
        ids.push(t.id);
        models.push(Model { state: TaskState::new(TaskStatus::Created), deleted: false, had_queue: false });
    }
    for &(task, action, with_worker) in steps {
        let action = ACTIONS[action % ACTIONS.len()];
        let m = &mut models[task % TASKS];
        let id = &ids[task % TASKS];
        let req = ActionRequest {
            queue: (action == Action::Enqueue).then(|| queue.clone()),
            worker: (action == Action::Started && with_worker).then(|| "worker-1".to_string()),
            ..Default::default()
        };
        let got = c.act(id, action, &req).await;
        if m.deleted {
            prop_assert_eq!(got.unwrap_err().code(), Some(ErrorCode::NotFound));
            continue;
        }
        let expected = transition(action, m.state);
        match (expected, got) {
            (Ok(t), Ok(outcome)) => {
                if t.delete {
                    m.deleted = true;
                    continue;
                }
                if t.join_queue {
                    m.had_queue = true;
                }
                if let Some(s) = t.status {
                    m.state.status = s;
                }
                if let Some(a) = t.archived {
                    m.state.archived = a;
                }
                match action {
                    Action::Started => m.state.has_worker = with_worker,
                    Action::Reset => m.state.has_worker = false,
                    _ => {}
                }
                prop_assert_eq!(outcome.status, Some(m.state.status), "{} on {:?}", action, m.state);
            }
            (Err(_), Err(e)) => prop_assert_eq!(e.code(), Some(ErrorCode::InvalidTransition), "{}: {}", action, e),
            // A worker may start a Pending task only once it was handed the task (popped).
            (Ok(_), Err(e)) if action == Action::Started && with_worker && m.state.status == TaskStatus::Queued => {
                prop_assert_eq!(e.code(), Some(ErrorCode::Conflict));
            }
            (Ok(t), Err(e)) if t.join_queue && !m.had_queue && action == Action::Retry => {
                prop_assert_eq!(e.code(), Some(ErrorCode::InvalidRequest));
            }
            (expected, got) => {
                prop_assert!(false, "{} on {:?}: expected {:?}, got {:?}", action, m.state, expected, got)
            }
        }
        // The store agrees with the model, and the queue holds exactly the Pending tasks.
        for (id, m) in ids.iter().zip(&models) {
            if m.deleted {
                continue;
            }
            let t = c.get_task(id).await.unwrap();
            prop_assert_eq!(t.status, m.state.status);
            prop_assert_eq!(t.archived(), m.state.archived);
        }
        let pending = models.iter().filter(|m| !m.deleted && m.state.status == TaskStatus::Queued).count() as u64;
        let length = c.list_queues().await.unwrap().into_iter().find(|q| q.name == queue).unwrap().length;
        prop_assert_eq!(length, pending);
    }
    Ok(())
}

fn run(backend: Backend) {
    let Some(server) = TestServer::start(backend) else {
        eprintln!("skipped: no PostgreSQL");
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = server.client();
    rt.block_on(crate::harness::tasks::register(&client, "worker-1"));
    let mut runner = TestRunner::new(Config { cases: 24, failure_persistence: None, ..Config::default() });
    let case = std::cell::Cell::new(0);
    let strategy = proptest::collection::vec((0..TASKS, 0..ACTIONS.len(), any::<bool>()), 1..30);
    runner
        .run(&strategy, |steps| {
            case.set(case.get() + 1);
            rt.block_on(check_sequence(&client, case.get(), &steps))
        })
        .unwrap();
}

#[test]
fn random_action_sequences_match_the_state_machine_sqlite() {
    run(Backend::Sqlite);
}

#[test]
fn random_action_sequences_match_the_state_machine_postgres() {
    run(Backend::Postgres);
}
