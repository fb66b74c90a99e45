//! Fencing: every pop starts a new attempt of the task, and an agent's reports carry the attempt
//! they belong to. A worker cut off and declared lost, whose task then ran again elsewhere,
//! cannot overwrite the later run: its late reports (and its restart's recovery, which sends the
//! same) are refused with 409 `stale_attempt`.

use crate::harness::wait::eventually;
use crate::harness::TestServer;
use crate::scenario;
use runyard_api::{
    Action, ActionRequest, AppendConsole, Client, CreateTask, CreateUser, ErrorCode, PopRequest, RegisterWorker, Role,
    Task, TaskStatus,
};
use std::time::Duration;

pub(crate) async fn key_pair(server: &TestServer, name: &str, role: Role) -> Client {
    let c = server.client().create_user(&CreateUser { name: name.into(), role }).await.expect("create user");
    Client::new(&server.url, &c.access_key, &c.secret_key)
}

/// Registers `worker` (silent for `timeout_seconds`: lost) and has it take the next task and
/// start it.
pub(crate) async fn take(agent: &Client, worker: &str, timeout_seconds: u64) -> Task {
    let register = RegisterWorker {
        id: worker.into(),
        queues: vec!["default".into()],
        timeout_seconds: Some(timeout_seconds),
        ..Default::default()
    };
    agent.register_worker(&register).await.expect("register");
    let pop =
        PopRequest { queues: vec!["default".into()], worker: worker.into(), wait_seconds: 5.0, order_fairness: false };
    let task = agent.pop(&pop).await.expect("pop").task.expect("a task");
    let started = ActionRequest { worker: Some(worker.into()), attempt: Some(task.attempt), ..Default::default() };
    agent.act(&task.id, Action::Started, &started).await.expect("started");
    task
}

async fn a_late_worker_cannot_overwrite_the_next_attempt(server: TestServer) {
    let ada = key_pair(&server, "ada", Role::User).await;
    // One agent identity for both workers: the hardest case (the same machine, restarted).
    let agent = key_pair(&server, "box", Role::Agent).await;
    let create = CreateTask {
        name: "job".into(),
        project: Some("p".into()),
        queue: Some("default".into()),
        ..Default::default()
    };
    let id = ada.create_task(&create).await.unwrap().id;

    let first = take(&agent, "w1", 1).await;
    assert_eq!(first.attempt, 1);
    // The token w1's task process ran with: its owner's rights, for attempt 1.
    let token = agent.task_token(&id, 1).await.expect("a task token").token;
    // w1 goes silent: the watchdog stops the task, "worker lost"; its owner runs it again.
    let lost = eventually("the watchdog declares w1 lost", Duration::from_secs(20), || async {
        let t = ada.get_task(&id).await.unwrap();
        (t.status == TaskStatus::Stopped).then_some(t)
    })
    .await;
    assert_eq!(lost.status_reason, "worker lost");
    let again = ActionRequest { queue: Some("default".into()), ..Default::default() };
    ada.act(&id, Action::Enqueue, &again).await.expect("enqueued again");
    let second = take(&agent, "w2", 1).await;
    assert_eq!(second.attempt, 2);

    // Everything w1 still sends belongs to attempt 1: refused, whatever it is.
    let late = ActionRequest { attempt: Some(1), worker: Some("w1".into()), ..Default::default() };
    for action in [Action::Ping, Action::Completed, Action::Failed, Action::Stopped, Action::Started] {
        let refused = agent.act(&id, action, &late).await.unwrap_err();
        assert_eq!(refused.code(), Some(ErrorCode::StaleAttempt), "{action:?}: {refused}");
    }
    let output = AppendConsole { text: "late output\n".into(), time: None, attempt: Some(1) };
    let refused = agent.append_console(&id, &output).await.unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::StaleAttempt), "{refused}");
    // So is anything the first run's process sends about its task with its token.
    let stale = server
        .http()
        .post(format!("{}/api/v1/tasks/{id}/console", server.url))
        .bearer_auth(&token)
        .json(&serde_json::json!({"text": "from the lost run\n"}))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status().as_u16(), 409);
    assert!(stale.text().await.unwrap().contains("stale_attempt"));
    assert!(agent.task_token(&id, 1).await.is_err(), "no token for an attempt that is over");
    assert_eq!(ada.get_task(&id).await.unwrap().status, TaskStatus::InProgress, "the second run goes on");

    // The second run's outcome stands.
    let done = ActionRequest { attempt: Some(2), ..Default::default() };
    agent.act(&id, Action::Completed, &done).await.expect("completed");
    let t = ada.get_task(&id).await.unwrap();
    assert_eq!((t.status, t.attempt, t.worker.as_deref()), (TaskStatus::Completed, 2, Some("w2")));
}

scenario!(a_late_worker_is_fenced_off, super::a_late_worker_cannot_overwrite_the_next_attempt);
