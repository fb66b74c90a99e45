//! The live change stream (what an agent, the UI and `--watch` follow), and two replicas on
//! one PostgreSQL database seeing each other's changes.

use crate::dispatch::{pop_one, queued};
use crate::harness::tasks::{draft, register};
use crate::harness::wait::{request_under_way, until};
use crate::harness::TestServer;
use crate::scenario;
use runyard_api::{Action, ActionRequest, Client, TaskStatus};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// The change stream, followed from the moment it is known to deliver: a probe worker's
/// registration has come through it.
async fn follow(c: &Client) -> tokio::sync::mpsc::UnboundedReceiver<runyard_api::Change> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let watcher = c.clone();
    tokio::spawn(async move { watcher.watch(move |change| tx.send(change).is_ok()).await });
    let probe = runyard_api::Change::Worker { id: "change-probe".into() };
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        register(c, "change-probe").await;
        let seen = tokio::time::timeout(Duration::from_millis(200), async {
            while let Some(change) = rx.recv().await {
                if change == probe {
                    return true;
                }
            }
            false
        });
        if seen.await == Ok(true) {
            return rx;
        }
        assert!(Instant::now() < deadline, "the change stream never delivered a change");
    }
}

async fn expect_change(rx: &mut tokio::sync::mpsc::UnboundedReceiver<runyard_api::Change>, want: runyard_api::Change) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(got)) if got == want => return,
            Ok(Some(_)) => continue,
            _ => panic!("no {want:?} on the change stream"),
        }
    }
}

async fn live_changes(server: TestServer) {
    use runyard_api::Change;
    let c = server.client();
    let mut rx = follow(&c).await;
    let t = draft(&c, "events", "watched").await;
    expect_change(&mut rx, Change::Task { id: t.id.clone(), status: Some(TaskStatus::Created) }).await;
    c.act(&t.id, Action::Enqueue, &ActionRequest { queue: Some("default".into()), ..Default::default() })
        .await
        .unwrap();
    expect_change(&mut rx, Change::Task { id: t.id.clone(), status: Some(TaskStatus::Queued) }).await;
    let default = c.queue("default").await.unwrap().queue.id;
    expect_change(&mut rx, Change::Queue { id: default.clone() }).await;
    register(&c, "watched-worker").await;
    expect_change(&mut rx, Change::Worker { id: "watched-worker".into() }).await;

    // The CLI's --watch re-prints on changes.
    let mut child = std::process::Command::new(crate::harness::BIN)
        .args(["queue", "show", "default", "--watch"])
        .env("HOME", server.data_dir.join("home"))
        .env("RUNYARD_SERVER", &server.url)
        .env("RUNYARD_ACCESS_KEY", crate::harness::ACCESS_KEY)
        .env("RUNYARD_SECRET_KEY", crate::harness::SECRET_KEY)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // What it prints, line by line, as it prints it.
    let printed = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let (stdout, printed) = (child.stdout.take().unwrap(), printed.clone());
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                let mut text = printed.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        })
    };
    let prints = |n: usize| {
        let printed = printed.clone();
        move || {
            let text = printed.lock().unwrap().clone();
            async move { text.matches("queue default").count() >= n }
        }
    };
    until("the watch prints the queue", Duration::from_secs(15), prints(1)).await;
    let second = queued(&c, "default", "second watched", 0).await;
    until("the watch re-prints after the enqueue", Duration::from_secs(15), prints(2)).await;
    // The re-print's rows follow its header: wait for the new task's row too.
    let shows_second = {
        let (printed, second) = (printed.clone(), second.clone());
        move || {
            let text = printed.lock().unwrap().clone();
            let second = second.clone();
            async move { text.contains(&second) }
        }
    };
    until("the re-print lists the new task", Duration::from_secs(15), shows_second).await;
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap();
    let text = printed.lock().unwrap().clone();
    assert_eq!(text.matches("queue default").count(), 2, "printed, then re-printed after the enqueue:\n{text}");
    assert!(text.contains(&second), "{text}");
}
scenario!(live_change_stream_and_cli_watch, super::live_changes);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_postgres() {
    let Some(a) = TestServer::start(crate::harness::Backend::Postgres) else {
        eprintln!("skipped: no PostgreSQL");
        return;
    };
    let b = a.replica();
    let (ca, cb) = (a.client(), b.client());
    let mut feed_b = follow(&cb).await;
    let seen_on_b = draft(&ca, "replicas", "made on A").await;
    expect_change(&mut feed_b, runyard_api::Change::Task { id: seen_on_b.id, status: Some(TaskStatus::Created) }).await;
    register(&cb, "on-b").await;
    let waiter = {
        let cb = cb.clone();
        tokio::spawn(async move {
            let got = pop_one(&cb, "on-b", &["default"], 30.0).await;
            (got, Instant::now())
        })
    };
    request_under_way().await;
    let sent = Instant::now();
    let id = queued(&ca, "default", "cross", 0).await;
    let (got, held) = waiter.await.unwrap();
    assert_eq!(got.as_deref(), Some(id.as_str()));
    let latency = held.saturating_duration_since(sent);
    eprintln!("enqueue on replica A -> waiter on replica B holds the task: {latency:?}");
    // The target is 50 ms; a loaded two-core CI machine gets some slack.
    assert!(latency < Duration::from_millis(500), "replica B was woken by A's enqueue ({latency:?})");

    const TASKS: usize = 600;
    let mut pollers = Vec::new();
    for i in 0..10 {
        let c = if i % 2 == 0 { ca.clone() } else { cb.clone() };
        let worker = format!("split-{i}");
        register(&c, &worker).await;
        pollers.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(id) = pop_one(&c, &worker, &["default"], 2.0).await {
                got.push(id);
            }
            got
        }));
    }
    let mut created = HashSet::new();
    for i in 0..TASKS {
        let c = if i % 2 == 0 { &ca } else { &cb };
        created.insert(queued(c, "default", &format!("r{i}"), 0).await);
    }
    let mut seen = HashSet::new();
    for p in pollers {
        for id in p.await.unwrap() {
            assert!(seen.insert(id.clone()), "task {id} was dispatched twice");
        }
    }
    assert_eq!(seen, created);
}
