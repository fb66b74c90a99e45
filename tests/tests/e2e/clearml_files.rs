//! Who holds a file ClearML's clients store: the task its path names, else the task whose own
//! process stores it, else the user who stores it. Only the holder (or an admin) writes over or
//! removes it, a holder's files share one quota, and a task's go with the task.

use crate::fencing::{key_pair, take};
use crate::harness::wait::until;
use crate::harness::TestServer;
use crate::scenario;
use runyard_api::{Action, ActionRequest, CreateTask, Role};
use std::time::Duration;

async fn upload(server: &TestServer, token: &str, path: &str, size: usize) -> u16 {
    let part = reqwest::multipart::Part::bytes(vec![7u8; size]);
    let form = reqwest::multipart::Form::new().percent_encode_noop().part(path.to_string(), part);
    let post = server.http().post(format!("{}/files/", server.url)).bearer_auth(token).multipart(form);
    post.send().await.unwrap().status().as_u16()
}

async fn remove(server: &TestServer, token: &str, path: &str) -> u16 {
    let delete = server.http().delete(format!("{}/files/{path}", server.url)).bearer_auth(token);
    delete.send().await.unwrap().status().as_u16()
}

async fn files_belong_to_their_holder(server: TestServer) {
    let admin = server.client().login().await.unwrap().token;
    let ada_pair = key_pair(&server, "ada", Role::User).await;
    let ada = ada_pair.login().await.unwrap().token;
    let bob = key_pair(&server, "bob", Role::User).await.login().await.unwrap().token;
    let agent_pair = key_pair(&server, "box", Role::Agent).await;
    let agent = agent_pair.login().await.unwrap().token;
    let on_disk = |path: &str| server.data_dir.join("files").join(path);

    // Outside any task: the uploader's, within the same quota (1,000 bytes here) as a task's.
    assert_eq!(upload(&server, &ada, "shared/notes.txt", 600).await, 200);
    assert_eq!(upload(&server, &ada, "shared/more.txt", 600).await, 413, "ada's quota is spent");
    assert_eq!(upload(&server, &bob, "shared/notes.txt", 10).await, 403, "not over another user's file");
    assert_eq!(remove(&server, &bob, "shared/notes.txt").await, 403);
    assert_eq!(upload(&server, &agent, "loose/by-agent.txt", 10).await, 403, "an agent stores only for its tasks");

    // A path that names a task, ClearML's way or Runyard's, is that task's.
    let create =
        CreateTask { name: "t".into(), project: Some("p".into()), queue: Some("default".into()), ..Default::default() };
    let task = ada_pair.create_task(&create).await.unwrap().id;
    assert_eq!(upload(&server, &bob, &format!("p/t.{task}/artifacts/a.txt"), 10).await, 403);
    assert_eq!(upload(&server, &bob, &format!("p/{task}/a.txt"), 10).await, 403);
    assert_eq!(upload(&server, &ada, &format!("p/t.{task}/artifacts/a.txt"), 10).await, 200);
    assert_eq!(remove(&server, &bob, &format!("p/t.{task}/artifacts/a.txt")).await, 403);

    // A task's own process stores for its task, whatever the path; it reaches nothing else.
    let run = take(&agent_pair, "w", 60).await;
    let token = agent_pair.task_token(&task, run.attempt).await.unwrap().token;
    assert_eq!(upload(&server, &token, "loose/out.txt", 100).await, 200);
    assert_eq!(remove(&server, &token, "shared/notes.txt").await, 403, "not its owner's other files");
    let done = ActionRequest { attempt: Some(run.attempt), worker: Some("w".into()), ..Default::default() };
    agent_pair.act(&task, Action::Completed, &done).await.unwrap();
    ada_pair.act(&task, Action::Reset, &ActionRequest::default()).await.unwrap();
    until("the task's files removed with its reset", Duration::from_secs(5), || async {
        !on_disk("loose/out.txt").exists() && !on_disk(&format!("p/t.{task}/artifacts/a.txt")).exists()
    })
    .await;

    // A file recorded for no one (written before records were kept) is an admin's to remove.
    std::fs::create_dir_all(on_disk("legacy")).unwrap();
    std::fs::write(on_disk("legacy/old.txt"), "old").unwrap();
    assert_eq!(remove(&server, &ada, "legacy/old.txt").await, 403);
    assert_eq!(remove(&server, &admin, "legacy/old.txt").await, 200);

    // The uploader removes its own, which frees its quota.
    assert_eq!(remove(&server, &ada, "shared/notes.txt").await, 200);
    assert!(!on_disk("shared/notes.txt").exists());
    assert_eq!(upload(&server, &ada, "shared/more.txt", 600).await, 200);
}
scenario!(files_held, super::files_belong_to_their_holder, &["--task-files-quota-bytes", "1000"]);
