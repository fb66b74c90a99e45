//! Queues, dispatch and the watchdog, on both backends.

use crate::harness::tasks::{act, draft, register};
use crate::harness::wait::{request_under_way, until};
use crate::harness::{describe, TestServer};
use crate::scenario;
use runyard_api::{
    Action, ActionRequest, Client, CreateQueue, CreateTask, ErrorCode, MoveEntry, PopRequest, RegisterWorker,
    TaskStatus, WorkerReport,
};
use std::collections::HashSet;
use std::time::{Duration, Instant};

pub(crate) async fn queued(c: &Client, queue: &str, name: &str, priority: i64) -> String {
    let req = CreateTask {
        name: name.into(),
        project: Some("dispatch".into()),
        queue: Some(queue.into()),
        priority,
        ..Default::default()
    };
    c.create_task(&req).await.expect("create queued task").id
}

async fn order(c: &Client, queue: &str) -> Vec<String> {
    c.queue(queue).await.unwrap().entries.into_iter().map(|e| e.name).collect()
}

fn to(target: &str) -> MoveEntry {
    MoveEntry { to: Some(target.into()), ..Default::default() }
}

async fn manage_queues(server: TestServer) {
    let c = server.client();
    c.create_queue(&CreateQueue { name: "gpu".into() }).await.unwrap();
    let a = queued(&c, "gpu", "a", 0).await;
    let b = queued(&c, "gpu", "b", 0).await;
    let hi = queued(&c, "gpu", "hi", 5).await;
    let d = queued(&c, "gpu", "d", 0).await;
    // Higher priority first, ties in queue order.
    assert_eq!(order(&c, "gpu").await, ["hi", "a", "b", "d"]);

    // A manual move wins over priority.
    c.move_entry("gpu", &d, &to("top")).await.unwrap();
    assert_eq!(order(&c, "gpu").await, ["d", "hi", "a", "b"]);
    c.move_entry("gpu", &d, &to("bottom")).await.unwrap();
    assert_eq!(order(&c, "gpu").await, ["hi", "a", "b", "d"]);
    c.move_entry("gpu", &b, &MoveEntry { before: Some(hi.clone()), ..Default::default() }).await.unwrap();
    assert_eq!(order(&c, "gpu").await, ["b", "hi", "a", "d"]);
    c.move_entry("gpu", &b, &MoveEntry { after: Some(a.clone()), ..Default::default() }).await.unwrap();
    assert_eq!(order(&c, "gpu").await, ["hi", "a", "b", "d"]);
    c.move_entry("gpu", &hi, &MoveEntry { position: Some(2), ..Default::default() }).await.unwrap();
    assert_eq!(order(&c, "gpu").await, ["a", "b", "hi", "d"]);
    // Many moves into the same gap force a renumbering; order stays right.
    for _ in 0..20 {
        c.move_entry("gpu", &d, &MoveEntry { after: Some(a.clone()), ..Default::default() }).await.unwrap();
        c.move_entry("gpu", &b, &MoveEntry { after: Some(a.clone()), ..Default::default() }).await.unwrap();
    }
    assert_eq!(order(&c, "gpu").await, ["a", "b", "d", "hi"]);

    // Impossible moves are refused and change nothing.
    for (bad, field) in [
        (MoveEntry { position: Some(9), ..Default::default() }, "position"),
        (MoveEntry { before: Some(d.clone()), ..Default::default() }, "before"),
        (MoveEntry { to: Some("middle".into()), ..Default::default() }, "to"),
        (MoveEntry { to: Some("top".into()), position: Some(1), ..Default::default() }, "to"),
        (MoveEntry { after: Some("0123456789abcdef0123456789abcdef".into()), ..Default::default() }, "after"),
    ] {
        let err = c.move_entry("gpu", &d, &bad).await.unwrap_err();
        let runyard_api::ClientError::Api { status, detail } = &err else { panic!("{err}") };
        assert_eq!((*status, detail.field.as_deref()), (400, Some(field)), "{err}");
    }
    assert_eq!(order(&c, "gpu").await, ["a", "b", "d", "hi"]);
    let err = c.move_entry("nope", &d, &to("top")).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotFound));

    // Remove -> Draft; listing shows length and oldest entry.
    c.remove_entry("gpu", &b).await.unwrap();
    assert_eq!(c.get_task(&b).await.unwrap().status, TaskStatus::Created);
    let list = c.list_queues().await.unwrap();
    let gpu = list.iter().find(|q| q.name == "gpu").unwrap();
    assert_eq!(gpu.length, 3);
    assert!(gpu.oldest_entry.is_some());

    // Rename; delete is refused while tasks wait, forced delete returns them to Draft.
    c.rename_queue("gpu", "gpu-a100").await.unwrap();
    assert_eq!(c.get_task(&a).await.unwrap().execution.queue.as_deref(), Some("gpu-a100"));
    assert_eq!(c.rename_queue("default", "x").await.unwrap_err().code(), Some(ErrorCode::Conflict));
    let err = c.delete_queue("gpu-a100", false).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Conflict));
    assert!(err.to_string().contains("holds 3 task(s)"), "{err}");
    let r = c.delete_queue("gpu-a100", true).await.unwrap();
    assert_eq!(r["returned_to_draft"].as_array().unwrap().len(), 3);
    for id in [&a, &hi, &d] {
        let t = c.get_task(id).await.unwrap();
        assert_eq!((t.status, t.execution.queue.clone()), (TaskStatus::Created, None));
    }
    assert_eq!(c.delete_queue("default", true).await.unwrap_err().code(), Some(ErrorCode::Conflict));
}
scenario!(queue_order_priority_moves_and_deletion, super::manage_queues);

pub(crate) async fn pop_one(c: &Client, worker: &str, queues: &[&str], wait: f64) -> Option<String> {
    let req = PopRequest {
        queues: queues.iter().map(|q| q.to_string()).collect(),
        worker: worker.into(),
        wait_seconds: wait,
        order_fairness: false,
    };
    c.pop(&req).await.unwrap().task.map(|t| t.id)
}

async fn exactly_once(server: TestServer) {
    let c = server.client();
    const TASKS: usize = 2000;
    const POLLERS: usize = 20;
    for i in 0..POLLERS {
        register(&c, &format!("poller-{i}")).await;
    }
    let mut pollers = Vec::new();
    for i in 0..POLLERS {
        let c = c.clone();
        pollers.push(tokio::spawn(async move {
            let worker = format!("poller-{i}");
            let mut got = Vec::new();
            // Keep polling until the queue stays empty for a while.
            while let Some(id) = pop_one(&c, &worker, &["default"], 2.0).await {
                c.act(&id, Action::Started, &ActionRequest { worker: Some(worker.clone()), ..Default::default() })
                    .await
                    .unwrap();
                got.push(id);
            }
            got
        }));
    }
    let mut created = HashSet::new();
    for chunk in 0..(TASKS / 100) {
        let mut handles = Vec::new();
        for i in 0..100 {
            let c = c.clone();
            handles.push(tokio::spawn(async move { queued(&c, "default", &format!("t{}", chunk * 100 + i), 0).await }));
        }
        for h in handles {
            created.insert(h.await.unwrap());
        }
    }
    let mut seen = HashSet::new();
    for p in pollers {
        for id in p.await.unwrap() {
            assert!(seen.insert(id.clone()), "task {id} was dispatched twice");
        }
    }
    assert_eq!(seen, created, "every task dispatched exactly once");
    assert_eq!(c.queue("default").await.unwrap().entries.len(), 0);
}
scenario!(twenty_pollers_two_thousand_tasks_exactly_once, super::exactly_once);

async fn wakes_at_once(server: TestServer) {
    let c = server.client();
    register(&c, "waiter").await;
    c.create_queue(&CreateQueue { name: "second".into() }).await.unwrap();
    let waiter = {
        let c = c.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let got = pop_one(&c, "waiter", &["default", "second"], 30.0).await;
            (got, started.elapsed())
        })
    };
    request_under_way().await;
    let id = queued(&c, "second", "late", 0).await;
    let (got, waited) = waiter.await.unwrap();
    assert_eq!(got.as_deref(), Some(id.as_str()));
    assert!(waited < Duration::from_secs(10), "woken by the enqueue, not by the 30 s timeout ({waited:?})");

    // Queues are taken in the order given.
    let low = queued(&c, "second", "low", 0).await;
    let high = queued(&c, "default", "high", 0).await;
    assert_eq!(pop_one(&c, "waiter", &["default", "second"], 0.0).await, Some(high));
    assert_eq!(pop_one(&c, "waiter", &["default", "second"], 0.0).await, Some(low));
    assert_eq!(pop_one(&c, "waiter", &["default", "second"], 0.0).await, None);

    // A drained worker gets nothing; undrained it does.
    let t = queued(&c, "default", "after drain", 0).await;
    c.drain_worker("waiter", true).await.unwrap();
    assert_eq!(pop_one(&c, "waiter", &["default"], 0.2).await, None);
    c.drain_worker("waiter", false).await.unwrap();
    assert_eq!(pop_one(&c, "waiter", &["default"], 0.0).await, Some(t));

    // Bad requests: no queue, too long a wait; an unregistered worker or unknown queue is a 404.
    for (req, field_or_code) in [
        (PopRequest { queues: vec![], worker: "waiter".into(), ..Default::default() }, "queues"),
        (
            PopRequest {
                queues: vec!["default".into()],
                worker: "waiter".into(),
                wait_seconds: 600.0,
                ..Default::default()
            },
            "wait_seconds",
        ),
    ] {
        let err = c.pop(&req).await.unwrap_err();
        let runyard_api::ClientError::Api { detail, .. } = &err else { panic!("{err}") };
        assert_eq!(detail.field.as_deref(), Some(field_or_code), "{err}");
    }
    for (queue, worker) in [("nope", "waiter"), ("default", "ghost")] {
        let req = PopRequest { queues: vec![queue.into()], worker: worker.into(), ..Default::default() };
        let err = c.pop(&req).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::NotFound), "{err}");
    }
}
scenario!(a_waiting_agent_is_woken_by_the_enqueue, super::wakes_at_once);

async fn watchdog(server: TestServer) {
    let c = server.client();
    // A popped task whose agent never says "started" goes back to the head of its queue.
    register(&c, "flaky").await;
    let first = queued(&c, "default", "first", 0).await;
    let _second = queued(&c, "default", "second", 0).await;
    assert_eq!(pop_one(&c, "flaky", &["default"], 0.0).await.as_deref(), Some(first.as_str()));
    assert_eq!(order(&c, "default").await, ["second"]);
    until("the lease to expire", Duration::from_secs(15), || async {
        order(&c, "default").await == ["first", "second"]
    })
    .await;
    assert_eq!(c.get_task(&first).await.unwrap().status, TaskStatus::Queued);

    // A worker that stops reporting is dropped; its running task is aborted "worker lost".
    let req = RegisterWorker {
        id: "doomed".into(),
        queues: vec!["default".into()],
        timeout_seconds: Some(1),
        ..Default::default()
    };
    c.register_worker(&req).await.unwrap();
    let id = pop_one(&c, "doomed", &["default"], 0.0).await.unwrap();
    c.act(&id, Action::Started, &ActionRequest { worker: Some("doomed".into()), ..Default::default() }).await.unwrap();
    let report = WorkerReport { task: Some(id.clone()), cpu_percent: 50.0, ..Default::default() };
    c.report_worker("doomed", &report).await.unwrap();
    until("the worker to be lost", Duration::from_secs(15), || async {
        let t = c.get_task(&id).await.unwrap();
        t.status == TaskStatus::Stopped && t.status_reason == "worker lost"
    })
    .await;
    assert_eq!(c.worker("doomed").await.unwrap_err().code(), Some(ErrorCode::NotFound));

    // A running task that sends nothing is aborted "non-responsive".
    let silent = draft(&c, "dispatch", "silent").await;
    act(&c, &silent.id, Action::Started).await.unwrap();
    until("the silent task to be aborted", Duration::from_secs(15), || async {
        c.get_task(&silent.id).await.unwrap().status_reason == "non-responsive"
    })
    .await;
    assert_eq!(c.get_task(&silent.id).await.unwrap().status, TaskStatus::Stopped);
}
scenario!(
    watchdog_requeues_leases_drops_lost_workers_and_silent_tasks,
    super::watchdog,
    &["--lease-timeout-seconds", "1", "--task-timeout-seconds", "3", "--watchdog-interval-ms", "100"]
);

async fn reports(server: TestServer) {
    let c = server.client();
    register(&c, "gpu-box:0").await;
    let other = draft(&c, "dispatch", "not mine").await;
    let err = c
        .report_worker("gpu-box:0", &WorkerReport { task: Some(other.id.clone()), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Conflict));
    assert!(err.to_string().contains("does not hold"), "{err}");
    let err = c.report_worker("ghost", &WorkerReport::default()).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotFound));

    // The report answer carries abort requests for the worker's tasks.
    let id = queued(&c, "default", "mine", 0).await;
    assert_eq!(pop_one(&c, "gpu-box:0", &["default"], 0.0).await.as_deref(), Some(id.as_str()));
    c.act(&id, Action::Started, &ActionRequest { worker: Some("gpu-box:0".into()), ..Default::default() })
        .await
        .unwrap();
    act(&c, &id, Action::Abort).await.unwrap();
    let report =
        WorkerReport { task: Some(id.clone()), cpu_percent: 12.5, memory_used_bytes: 1 << 30, ..Default::default() };
    let answer = c.report_worker("gpu-box:0", &report).await.unwrap();
    assert_eq!(answer.abort, vec![id.clone()]);
    let w = c.worker("gpu-box:0").await.unwrap();
    assert_eq!((w.task.as_deref(), w.last_report.cpu_percent), (Some(id.as_str()), 12.5));
    assert_eq!(c.list_queues().await.unwrap().iter().find(|q| q.name == "default").unwrap().workers, vec!["gpu-box:0"]);

    // Unregistering hands leased tasks back.
    let leased = queued(&c, "default", "leased", 0).await;
    assert_eq!(pop_one(&c, "gpu-box:0", &["default"], 0.0).await.as_deref(), Some(leased.as_str()));
    c.unregister_worker("gpu-box:0").await.unwrap();
    assert_eq!(order(&c, "default").await, ["leased"]);

    // The CLI shows the same.
    register(&c, "cli-worker").await;
    let out = server.cli(&["queue", "show", "default"]);
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("leased"), "{}", describe(&out));
    let workers = server.cli_json(&["worker", "list"]);
    assert_eq!(workers[0]["id"], "cli-worker");
    assert_eq!(server.cli_json(&["worker", "drain", "cli-worker"])[0]["drained"], true);
    let moved = queued(&c, "default", "moved", 0).await;
    let d = server.cli_json(&["queue", "move", "default", &moved, "--to", "top"]);
    assert_eq!(d["entries"][0]["task"], moved.as_str());
    let d = server.cli_json(&["queue", "move", "default", &moved, "--after", &leased]);
    assert_eq!(d["entries"][1]["task"], moved.as_str());
    server.cli_json(&["queue", "create", "tmp"]);
    server.cli_json(&["queue", "remove", "default", &moved]);
    server.cli_json(&["task", "enqueue", &moved, "--queue", "tmp", "--priority", "3"]);
    assert_eq!(server.cli_json(&["task", "show", &moved])["priority"], 3);
    let out = server.cli(&["queue", "delete", "tmp"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    server.cli_json(&["queue", "delete", "tmp", "--force"]);

    // Prometheus metrics, behind auth like everything but /healthz.
    let url = format!("{}/metrics", server.url);
    assert_eq!(server.http().get(&url).send().await.unwrap().status().as_u16(), 401);
    let text = server
        .http()
        .get(&url)
        .basic_auth(crate::harness::ACCESS_KEY, Some(crate::harness::SECRET_KEY))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        "runyard_queue_length{queue=\"default\"} 1",
        "runyard_queue_oldest_wait_seconds{queue=\"default\"}",
        "runyard_workers{state=\"drained\"} 1",
        "runyard_tasks{status=\"in_progress\"}",
        "runyard_dispatch_latency_seconds_count 2",
        "runyard_http_request_duration_seconds_count{method=\"POST\",route=\"/api/v1/queues/pop\",status=\"200\"}",
    ] {
        assert!(text.contains(needle), "no {needle} in:\n{text}");
    }
}
scenario!(worker_reports_aborts_and_cli, super::reports);

/// Two daemons on one PostgreSQL: an enqueue on one wakes a waiter on the other, and pollers
/// split across both still get every task exactly once.
/// kill -9 in the middle of a burst of enqueues and pops: after a restart every acknowledged
/// enqueue is still queued or was started exactly once; nothing lost, nothing run twice.
async fn crash(mut server: TestServer) {
    use std::sync::{Arc, Mutex};
    let c = server.client();
    for i in 0..4 {
        register(&c, &format!("crash-{i}")).await;
    }
    let acked = Arc::new(Mutex::new(Vec::new()));
    let popped = Arc::new(Mutex::new(Vec::new()));
    let started = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut jobs = Vec::new();
    for i in 0..4 {
        let (c, acked, stop) = (c.clone(), acked.clone(), stop.clone());
        jobs.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let req = CreateTask {
                    name: format!("burst {i}-{n}"),
                    project: Some("crash".into()),
                    queue: Some("default".into()),
                    ..Default::default()
                };
                match c.create_task(&req).await {
                    Ok(t) => acked.lock().unwrap().push(t.id),
                    Err(_) => break, // the daemon is gone
                }
                n += 1;
            }
        }));
    }
    for i in 0..4 {
        let (c, popped, started, stop) = (c.clone(), popped.clone(), started.clone(), stop.clone());
        jobs.push(tokio::spawn(async move {
            let worker = format!("crash-{i}");
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let req = PopRequest {
                    queues: vec!["default".into()],
                    worker: worker.clone(),
                    wait_seconds: 0.5,
                    ..Default::default()
                };
                let Ok(resp) = c.pop(&req).await else { break };
                let Some(task) = resp.task else { continue };
                popped.lock().unwrap().push(task.id.clone());
                let start = ActionRequest { worker: Some(worker.clone()), ..Default::default() };
                if c.act(&task.id, Action::Started, &start).await.is_ok() {
                    started.lock().unwrap().push(task.id);
                }
            }
        }));
    }
    // The crash comes in the middle of the work: tasks created, handed out and started.
    let busy = || async { acked.lock().unwrap().len() > 50 && started.lock().unwrap().len() > 20 };
    until("the burst gets under way", Duration::from_secs(60), busy).await;
    server.kill();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for j in jobs {
        j.await.unwrap();
    }
    let acked: HashSet<String> = acked.lock().unwrap().iter().cloned().collect();
    let before: Vec<String> = started.lock().unwrap().clone();
    assert!(acked.len() > 10, "the burst did some work before the crash ({} tasks)", acked.len());
    let before_set: HashSet<String> = before.iter().cloned().collect();
    assert_eq!(before_set.len(), before.len(), "no task started twice before the crash");

    server.spawn();
    let c = server.client();
    // Handed out but never started: back in the queue once the lease runs out. Drain it.
    for i in 0..4 {
        register(&c, &format!("crash-{i}")).await;
    }
    let mut after = Vec::new();
    while let Some(id) = pop_one(&c, "crash-0", &["default"], 3.0).await {
        c.act(&id, Action::Started, &ActionRequest { worker: Some("crash-0".into()), ..Default::default() })
            .await
            .unwrap();
        after.push(id);
    }
    for id in &after {
        assert!(!before_set.contains(id), "task {id} ran before the crash and was dispatched again");
    }
    let all: HashSet<String> = before_set.union(&after.iter().cloned().collect()).cloned().collect();
    assert_eq!(all.len(), before.len() + after.len(), "nothing started twice");
    // A `started` whose answer the crash swallowed may still have committed: such a task is
    // running (once) without the poller knowing. It must not have been dispatched again.
    let mut all = all;
    all.extend(popped.lock().unwrap().iter().cloned());
    for id in &acked {
        let t = c.get_task(id).await.unwrap_or_else(|e| panic!("acknowledged task {id} was lost: {e}"));
        assert_eq!(t.status, TaskStatus::InProgress, "{id}");
        assert!(all.contains(id), "acknowledged task {id} was never dispatched");
    }
}
scenario!(
    kill_dash_nine_loses_nothing_and_runs_nothing_twice,
    super::crash,
    &["--lease-timeout-seconds", "1", "--watchdog-interval-ms", "100"]
);

/// Collects changes from the live stream until `want` of them match, or 10 s pass.
async fn history(server: TestServer) {
    use runyard_api::{GpuStats, HistoryQuery};
    let c = server.client();
    register(&c, "charted").await;
    for cpu in [10.0, 20.0, 30.0] {
        let gpu = GpuStats { index: 0, utilization_percent: cpu * 2.0, ..Default::default() };
        c.report_worker("charted", &WorkerReport { cpu_percent: cpu, gpus: vec![gpu], ..Default::default() })
            .await
            .unwrap();
    }
    let now = chrono::Utc::now();
    let q = HistoryQuery {
        from: Some(now - chrono::Duration::minutes(10)),
        to: Some(now + chrono::Duration::minutes(1)),
        interval_seconds: Some(86_400),
        ..Default::default()
    };
    let h = c.worker_history("charted", &q).await.unwrap();
    let cpu = &h.series["cpu_percent"];
    assert!(!cpu.is_empty() && cpu.len() <= 2, "{cpu:?}");
    let min = cpu.iter().map(|p| p.min).fold(f64::INFINITY, f64::min);
    let max = cpu.iter().map(|p| p.max).fold(f64::NEG_INFINITY, f64::max);
    assert_eq!((min, max), (10.0, 30.0));
    if cpu.len() == 1 {
        assert_eq!(cpu[0].avg, 20.0);
    }
    assert!(h.series.contains_key("gpu0_utilization_percent"));
    let only = HistoryQuery { metrics: Some("cpu_percent".into()), ..q.clone() };
    assert_eq!(c.worker_history("charted", &only).await.unwrap().series.len(), 1);

    // Queues are sampled by the watchdog.
    queued(&c, "default", "waiting", 0).await;
    until("a queue sample", Duration::from_secs(15), || async {
        c.queue_history("default", &q).await.unwrap().series.get("length").is_some_and(|s| !s.is_empty())
    })
    .await;

    // Bad ranges are refused.
    let backwards = HistoryQuery { from: q.to, to: q.from, ..Default::default() };
    assert_eq!(c.worker_history("charted", &backwards).await.unwrap_err().code(), Some(ErrorCode::InvalidRequest));
    let dense =
        HistoryQuery { interval_seconds: Some(1), from: Some(now - chrono::Duration::days(300)), ..Default::default() };
    assert_eq!(c.worker_history("charted", &dense).await.unwrap_err().code(), Some(ErrorCode::InvalidRequest));
}
scenario!(worker_and_queue_history, super::history, &["--watchdog-interval-ms", "100"]);
