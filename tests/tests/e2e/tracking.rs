//! The tracking plugin: events in, summaries and series out, and the lifecycle hooks, on both
//! backends.

use crate::harness::tasks::{act, draft};
use crate::harness::{TestServer, ACCESS_KEY, SECRET_KEY};
use crate::scenario;
use runyard_api::tracking::*;
use runyard_api::{Action, ActionRequest, Client, ConsoleQuery, TaskStatus};
use serde_json::{json, Value};

async fn post_events(server: &TestServer, events: Value) -> (u16, Value) {
    let resp = server
        .http()
        .post(format!("{}/api/v1/events/batch", server.url))
        .basic_auth(ACCESS_KEY, Some(SECRET_KEY))
        .json(&json!({ "events": events }))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn scalar(task: &str, metric: &str, variant: &str, iteration: i64, value: f64) -> Event {
    Event::Scalar(ScalarEvent {
        task: task.into(),
        metric: metric.into(),
        variant: variant.into(),
        iteration,
        value: Float(value),
        time: None,
    })
}

async fn send(c: &Client, events: Vec<Event>) -> BatchResult {
    c.send_events(&EventBatch { events }).await.expect("events stored")
}

fn summary<'a>(m: &'a TaskMetrics, metric: &str, variant: &str) -> &'a MetricSummary {
    m.scalars.iter().find(|s| s.metric == metric && s.variant == variant).expect("summary")
}

async fn events_in_and_out(server: TestServer) {
    let c = server.client();
    let t = draft(&c, "tracking/sub", "reporter").await;
    let id = t.id.as_str();
    let unknown = "0123456789abcdef0123456789abcdef";
    let (status, body) = post_events(
        &server,
        json!([
            {"type": "scalar", "task": id, "metric": "loss", "variant": "train", "iteration": 2, "value": 0.5},
            {"type": "scalar", "task": id, "metric": "loss", "variant": "train", "iteration": 1, "value": 0.9},
            {"type": "scalar", "task": id, "metric": "loss", "variant": "train", "iteration": 3, "value": "NaN"},
            {"type": "scalar", "task": id, "metric": "loss", "variant": "train", "iteration": 4, "value": "-Infinity"},
            {"type": "scalar", "task": unknown, "metric": "loss", "variant": "train", "iteration": 1, "value": 1},
            {"type": "scalar", "task": id, "metric": "loss", "variant": "train", "iteration": "x", "value": 1},
            {"type": "scalar", "task": id, "metric": "loss", "iteration": 5, "value": 1},
            {"type": "plot", "task": id, "metric": "cm", "variant": "v", "iteration": 1, "figure": "not json"},
            {"type": "teleport", "task": id},
            {"type": "single", "task": id, "name": "accuracy", "value": 0.75},
            {"type": "single", "task": id, "name": "accuracy", "value": 0.8},
            {"type": "plot", "task": id, "metric": "cm", "variant": "v", "iteration": 1, "figure": {"data": [], "layout": {"title": "one"}}},
            {"type": "plot", "task": id, "metric": "cm", "variant": "v", "iteration": 2, "figure": {"data": [], "layout": {"title": "two"}}},
            {"type": "log", "task": id, "msg": "epoch 1 done", "level": "warning", "worker": "w1"},
            {"type": "sample", "task": id, "metric": "images", "variant": "input", "iteration": 2, "uri": "file:///tmp/a.png"},
            {"type": "sample", "task": id, "metric": "", "variant": "input", "iteration": 2, "uri": "file:///tmp/a.png"},
        ]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["stored"], 10, "{body}");
    let rejected: Vec<(u64, Value)> = body["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["index"].as_u64().unwrap(), r["field"].clone()))
        .collect();
    assert_eq!(
        rejected,
        vec![
            (4, json!("task")),
            (5, json!("iteration")),
            (6, json!("variant")),
            (7, json!("figure")),
            (8, json!("type")),
            (15, json!("metric")),
        ],
        "{body}"
    );
    for r in body["rejected"].as_array().unwrap() {
        assert!(r["reason"].as_str().is_some_and(|s| !s.is_empty()), "{r}");
    }
    assert!(body["rejected"][0]["reason"].as_str().unwrap().contains(unknown));
    assert!(body["rejected"][1]["reason"].as_str().unwrap().contains("expected i64"), "{body}");

    // A second batch: the summary merges with the first.
    let r = send(&c, vec![scalar(id, "loss", "train", 0, 2.0), scalar(id, "loss", "train", 10, 0.1)]).await;
    assert_eq!((r.stored, r.rejected.len()), (2, 0));

    let m = c.task_metrics(id).await.unwrap();
    let s = summary(&m, "loss", "train");
    assert_eq!(s.count, 6);
    assert_eq!((s.first.0, s.first_iteration), (2.0, 0));
    assert_eq!((s.last.0, s.last_iteration), (0.1, 10));
    assert_eq!((s.min.0, s.min_iteration), (f64::NEG_INFINITY, 4));
    assert_eq!((s.max.0, s.max_iteration), (2.0, 0));
    assert_eq!(m.last_iteration, 10);
    assert_eq!(m.single_values.len(), 1);
    assert_eq!(m.single_values[0].value, Float(0.8), "the last single value wins");
    assert_eq!(m.plots["cm"], vec!["v".to_string()]);
    assert_eq!(m.samples["images"], vec!["input".to_string()]);
    let task = c.get_task(id).await.unwrap();
    assert_eq!(task.last_iteration, 10, "the task's last iteration follows its reports");

    // Series: in iteration order, NaN kept as NaN.
    let q = ScalarQuery { tasks: id.into(), metric: Some("loss".into()), ..Default::default() };
    let series = c.scalars(&q).await.unwrap().series;
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].x, vec![0.0, 1.0, 2.0, 3.0, 4.0, 10.0]);
    assert!(series[0].y[3].0.is_nan());
    assert_eq!(series[0].y[4].0, f64::NEG_INFINITY);
    assert!(!series[0].downsampled);
    let raw = server
        .http()
        .get(format!("{}/api/v1/scalars?tasks={id}&metric=loss", server.url))
        .basic_auth(ACCESS_KEY, Some(SECRET_KEY))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(raw.contains("\"NaN\"") && raw.contains("\"-Infinity\""), "{raw}");

    // Raw paging.
    let first = RawScalarQuery { metric: "loss".into(), variant: "train".into(), after: None, limit: Some(4) };
    let page = c.raw_scalars(id, &first).await.unwrap();
    assert_eq!(page.points.iter().map(|p| p.iteration).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    assert_eq!(page.next, Some(3));
    let rest = RawScalarQuery { metric: "loss".into(), variant: "train".into(), after: page.next, limit: Some(4) };
    let rest = c.raw_scalars(id, &rest).await.unwrap();
    assert_eq!(rest.points.iter().map(|p| p.iteration).collect::<Vec<_>>(), vec![4, 10]);
    assert_eq!(rest.next, None);

    // Plots: the last iteration, or all.
    let last = c.plots(&PlotQuery { tasks: id.into(), ..Default::default() }).await.unwrap();
    assert_eq!(last.len(), 1);
    assert_eq!((last[0].iteration, &last[0].figure["layout"]["title"]), (2, &json!("two")));
    let all = c.plots(&PlotQuery { tasks: id.into(), all_iterations: true, ..Default::default() }).await.unwrap();
    assert_eq!(all.len(), 2);

    let samples = c.samples(id, &SampleQuery::default()).await.unwrap();
    assert_eq!((samples.len(), samples[0].uri.as_str()), (1, "file:///tmp/a.png"));

    // The log line reached the console with its level and worker.
    let console = c.console(id, &ConsoleQuery::default()).await.unwrap();
    assert_eq!(console.entries.len(), 1);
    assert_eq!(console.entries[0].text, "epoch 1 done\n");
    assert_eq!(
        (console.entries[0].level.as_deref(), console.entries[0].worker.as_deref()),
        (Some("warning"), Some("w1"))
    );

    // The project's catalogue, from its parent project too.
    let catalogue = c.project_metrics("tracking").await.unwrap();
    assert_eq!(catalogue.scalars["loss"], vec!["train".to_string()]);
    assert_eq!(catalogue.single_values, vec!["accuracy".to_string()]);

    // Reads name what they cannot find.
    let err = c.task_metrics(unknown).await.unwrap_err();
    assert_eq!(err.code(), Some(runyard_api::ErrorCode::NotFound));
    let err = c.scalars(&ScalarQuery { tasks: format!("{id},{unknown}"), ..Default::default() }).await.unwrap_err();
    assert!(err.to_string().contains(unknown), "{err}");
    let err = c.scalars(&ScalarQuery { tasks: id.into(), points: Some(1), ..Default::default() }).await.unwrap_err();
    assert!(err.to_string().contains("points"), "{err}");
}
scenario!(events, super::events_in_and_out);

async fn long_series_downsampled(server: TestServer) {
    let c = server.client();
    let t = draft(&c, "tracking", "long").await;
    let n = 20_000;
    for start in (0..n).step_by(5_000) {
        let events = (start..start + 5_000)
            .map(|i| scalar(&t.id, "loss", "total", i, if i == 12_345 { 1e6 } else { (i % 10) as f64 }))
            .collect();
        assert_eq!(send(&c, events).await.stored, 5_000);
    }
    let q = ScalarQuery { tasks: t.id.clone(), points: Some(500), ..Default::default() };
    let s = &c.scalars(&q).await.unwrap().series[0];
    assert!(s.downsampled);
    assert_eq!(s.total, n as usize);
    assert!(s.x.len() <= 500 && s.x.len() >= 400, "{}", s.x.len());
    assert!(s.y.iter().any(|y| y.0 == 1e6), "the spike survives downsampling");
    assert!(s.x.windows(2).all(|w| w[0] < w[1]));
    for x in [XAxis::Time, XAxis::Relative] {
        let q = ScalarQuery { tasks: t.id.clone(), points: Some(500), x: Some(x), ..Default::default() };
        let s = &c.scalars(&q).await.unwrap().series[0];
        assert!(s.x.windows(2).all(|w| w[0] <= w[1]), "{x:?}");
    }

    // Paging through the raw series returns every point once, in order.
    let mut seen = 0;
    let mut after = None;
    loop {
        let q = RawScalarQuery { metric: "loss".into(), variant: "total".into(), after, limit: Some(7_000) };
        let page = c.raw_scalars(&t.id, &q).await.unwrap();
        for (k, p) in page.points.iter().enumerate() {
            assert_eq!(p.iteration, seen + k as i64);
        }
        seen += page.points.len() as i64;
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, n);
}
scenario!(downsampling, super::long_series_downsampled);

/// Runs a task through a worker to Completed.
async fn complete(c: &Client, worker: &str, id: &str) {
    c.act(id, Action::Enqueue, &ActionRequest { queue: Some("default".into()), ..Default::default() }).await.unwrap();
    let pop = runyard_api::PopRequest {
        worker: worker.into(),
        queues: vec!["default".into()],
        wait_seconds: 1.0,
        ..Default::default()
    };
    let popped = c.pop(&pop).await.unwrap();
    assert_eq!(popped.task.as_ref().map(|t| t.id.as_str()), Some(id));
    let by = ActionRequest { worker: Some(worker.into()), ..Default::default() };
    c.act(id, Action::Started, &by).await.unwrap();
    c.act(id, Action::Completed, &by).await.unwrap();
}

async fn lifecycle_hooks(server: TestServer) {
    let c = server.client();
    let t = draft(&c, "tracking", "hooks").await;
    let report = |id: &str| {
        vec![
            scalar(id, "m", "v", 5, 1.0),
            Event::Log(LogEvent { task: id.into(), msg: "hello".into(), ..Default::default() }),
            Event::Single(SingleEvent { task: id.into(), name: "s".into(), value: Float(1.0), time: None }),
        ]
    };
    send(&c, report(&t.id)).await;

    // A clone inherits the definition, not the results.
    let cloned = c.act(&t.id, Action::Clone, &ActionRequest::default()).await.unwrap().new_id.unwrap();
    let m = c.task_metrics(&cloned).await.unwrap();
    assert!(m.scalars.is_empty() && m.single_values.is_empty());

    // Reset clears results and console.
    let worker = crate::harness::tasks::register(&c, "w-track").await;
    complete(&c, &worker.id, &t.id).await;
    act(&c, &t.id, Action::Reset).await.unwrap();
    let m = c.task_metrics(&t.id).await.unwrap();
    assert!(m.scalars.is_empty() && m.single_values.is_empty() && m.last_iteration == 0, "{m:?}");
    assert!(c.console(&t.id, &ConsoleQuery::default()).await.unwrap().entries.is_empty());
    assert_eq!(c.get_task(&t.id).await.unwrap().last_iteration, 0);

    // A published task is read-only.
    send(&c, report(&t.id)).await;
    let p = draft(&c, "tracking", "to publish").await;
    complete(&c, &worker.id, &p.id).await;
    c.act(&p.id, Action::Publish, &ActionRequest::default()).await.unwrap();
    assert_eq!(c.get_task(&p.id).await.unwrap().status, TaskStatus::Published);
    let r = send(&c, report(&p.id)).await;
    assert_eq!(r.stored, 0);
    assert_eq!(r.rejected.len(), 3);
    assert!(r.rejected[0].reason.contains("published"), "{:?}", r.rejected);

    // Delete takes everything along.
    assert_eq!(c.project_metrics("tracking").await.unwrap().scalars["m"], vec!["v".to_string()]);
    for id in [&cloned, &t.id] {
        act(&c, id, Action::Archive).await.unwrap();
        act(&c, id, Action::Delete).await.unwrap();
    }
    let err = c.task_metrics(&t.id).await.unwrap_err();
    assert_eq!(err.code(), Some(runyard_api::ErrorCode::NotFound));
    assert!(c.project_metrics("tracking").await.unwrap().scalars.is_empty());
}
scenario!(hooks, super::lifecycle_hooks);

async fn oversized_batches_are_refused(server: TestServer) {
    let t = draft(&server.client(), "tracking", "big").await;
    let events: Vec<Value> = (0..5_000)
        .map(|i| json!({"type": "scalar", "task": t.id, "metric": "m", "variant": "v", "iteration": i, "value": i}))
        .collect();
    let (status, body) = post_events(&server, Value::Array(events)).await;
    assert_eq!(status, 413, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("larger than"), "{body}");
    let m = server.client().task_metrics(&t.id).await.unwrap();
    assert!(m.scalars.is_empty(), "nothing of a refused batch is stored");
}
scenario!(oversized, super::oversized_batches_are_refused, &["--max-body-bytes", "100000"]);

async fn console_pages_from_either_end(server: TestServer) {
    let c = server.client();
    let t = draft(&c, "tracking", "console").await;
    let lines: Vec<Event> = (0..30)
        .map(|i| {
            Event::Log(LogEvent {
                task: t.id.clone(),
                msg: format!("{} line {i}", if i % 10 == 0 { "Checkpoint_100%" } else { "step" }),
                ..Default::default()
            })
        })
        .collect();
    send(&c, lines).await;
    let tail = c.console(&t.id, &ConsoleQuery { tail: true, limit: Some(5), ..Default::default() }).await.unwrap();
    let texts: Vec<&str> = tail.entries.iter().map(|e| e.text.trim()).collect();
    assert_eq!(texts, ["step line 25", "step line 26", "step line 27", "step line 28", "step line 29"]);
    let before = tail.first.expect("more before");
    let q = ConsoleQuery { before: Some(before), limit: Some(5), ..Default::default() };
    let earlier = c.console(&t.id, &q).await.unwrap();
    assert_eq!(earlier.entries.last().unwrap().text.trim(), "step line 24");
    // Search is case-insensitive and takes % literally.
    let q = ConsoleQuery { search: Some("checkpoint_100%".into()), ..Default::default() };
    let found = c.console(&t.id, &q).await.unwrap();
    assert_eq!(found.entries.len(), 3);
    let q = ConsoleQuery { search: Some("100%%".into()), ..Default::default() };
    assert!(c.console(&t.id, &q).await.unwrap().entries.is_empty());
}
scenario!(console_paging, super::console_pages_from_either_end);

async fn files_artifacts_and_properties(server: TestServer) {
    let c = server.client();
    let t = draft(&c, "files/project", "uploader").await;
    let content = b"model weights \x00\x01\x02".repeat(1000);
    let stored = c.upload_file(&t.id, "models/best.pt", content.clone()).await.unwrap();
    assert_eq!(stored.path, format!("files/project/{}/models/best.pt", t.id));
    assert_eq!(stored.size, content.len() as u64);
    assert_eq!(stored.uri, format!("{}/api/v1/files/{}", server.url, stored.path));
    let on_disk = server.data_dir.join("files").join(&stored.path);
    assert_eq!(std::fs::read(&on_disk).unwrap(), content, "laid out as <project>/<task>/<name>");
    assert_eq!(c.download(&stored.uri).await.unwrap(), content);

    // Names that would leave the task's folder, and unknown files.
    for bad in ["..%2F..%2Fescape", "a%2F..%2F..%2Fescape", "%2Fetc%2Fpasswd", "a//b", "a%5C..%5Cb"] {
        let resp = server
            .http()
            .put(format!("{}/api/v1/tasks/{}/files/{bad}", server.url, t.id))
            .basic_auth(ACCESS_KEY, Some(SECRET_KEY))
            .body("x")
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"]["field"], "name", "{bad}: {body}");
    }
    // A raw request line with dot segments (HTTP clients normalise them away).
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let token = c.login().await.unwrap().token;
        let host = server.url.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
        let request = format!(
            "PUT /api/v1/tasks/{}/files/a/../../escape HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
             Content-Length: 1\r\nConnection: close\r\n\r\nx",
            t.id
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        assert!(answer.contains("\"field\":\"name\""), "{answer}");
    }
    assert!(!server.data_dir.join("escape").exists() && !server.data_dir.join("files/escape").exists());
    let err = c.download(&format!("{}/api/v1/files/files/project/nothing", server.url)).await.unwrap_err();
    assert_eq!(err.code(), Some(runyard_api::ErrorCode::NotFound));
    let err = c.upload_file("0123456789abcdef0123456789abcdef", "x", b"x".to_vec()).await.unwrap_err();
    assert_eq!(err.code(), Some(runyard_api::ErrorCode::NotFound));

    // Artifacts and models are recorded on the task, upserted by name.
    let outputs = runyard_api::RegisterOutputs {
        artifacts: vec![runyard_api::Artifact {
            name: "best".into(),
            kind: "model".into(),
            uri: Some(stored.uri.clone()),
            size: Some(stored.size),
            hash: Some(stored.hash.clone()),
            ..Default::default()
        }],
        output_models: vec![runyard_api::ModelRef {
            name: "best".into(),
            uri: Some(stored.uri.clone()),
            model_id: None,
        }],
        ..Default::default()
    };
    let task = c.register_outputs(&t.id, &outputs).await.unwrap();
    assert_eq!(task.artifacts.len(), 1);
    assert_eq!(task.models.output.len(), 1);
    let task = c.register_outputs(&t.id, &outputs).await.unwrap();
    assert_eq!(task.artifacts.len(), 1, "upserted, not duplicated");
    let bad = runyard_api::RegisterOutputs {
        artifacts: vec![runyard_api::Artifact { name: " ".into(), ..Default::default() }],
        ..Default::default()
    };
    let err = c.register_outputs(&t.id, &bad).await.unwrap_err();
    assert!(err.to_string().contains("artifacts[0].name"), "{err}");

    // User properties are editable whatever the status; the definition only on Drafts.
    let worker = crate::harness::tasks::register(&c, "w-files").await;
    complete(&c, &worker.id, &t.id).await;
    let mut props = std::collections::BTreeMap::new();
    props.insert("owner".to_string(), runyard_api::Param { value: "ana".into(), ..Default::default() });
    let edit = runyard_api::EditTask { properties: Some(props), ..Default::default() };
    let task = c.edit_task(&t.id, &edit).await.unwrap();
    assert_eq!(task.hyperparams["properties"]["owner"].value, "ana");
    let edit = runyard_api::EditTask { hyperparams: Some(Default::default()), ..Default::default() };
    assert!(c.edit_task(&t.id, &edit).await.is_err(), "hyperparameters are a Draft's only");

    // Reset removes the task's files, and says which it could not remove.
    let kept = c.upload_file(&t.id, "stuck/file.bin", b"x".to_vec()).await.unwrap();
    let stuck = server.data_dir.join("files").join(&kept.path);
    std::fs::remove_file(&stuck).unwrap();
    std::fs::create_dir_all(stuck.join("inside")).unwrap();
    let reset = c.act(&t.id, Action::Reset, &ActionRequest::default()).await.unwrap();
    assert!(!on_disk.exists(), "reset removed the task's files");
    assert_eq!(reset.files_not_removed, vec![kept.path.clone()]);
    assert!(c.get_task(&t.id).await.unwrap().artifacts.is_empty());

    // Delete removes them too, and retries what the reset could not remove.
    std::fs::remove_dir_all(&stuck).unwrap();
    let again = c.upload_file(&t.id, "again.txt", b"again".to_vec()).await.unwrap();
    let again_path = server.data_dir.join("files").join(&again.path);
    assert!(again_path.exists());
    act(&c, &t.id, Action::Archive).await.unwrap();
    let deleted = act(&c, &t.id, Action::Delete).await.unwrap();
    assert!(!again_path.exists(), "delete removed the task's files");
    assert!(deleted.files_not_removed.is_empty());

    // A published task's files are read-only.
    let p = draft(&c, "files/project", "published").await;
    complete(&c, &worker.id, &p.id).await;
    act(&c, &p.id, Action::Publish).await.unwrap();
    let err = c.upload_file(&p.id, "late.txt", b"late".to_vec()).await.unwrap_err();
    assert_eq!(err.code(), Some(runyard_api::ErrorCode::InvalidTransition), "{err}");
    assert!(c.register_outputs(&p.id, &outputs).await.is_err());
}
scenario!(files, super::files_artifacts_and_properties);

/// `s3s-fs`, an S3 server over a local directory, on a free loopback port; killed on drop.
struct S3Server {
    child: std::process::Child,
    port: u16,
    root: tempfile::TempDir,
}

impl S3Server {
    const KEY: &'static str = "RUNYARDS3ACCESSKEY";
    const SECRET: &'static str = "runyard-s3-secret-key-0000";

    /// Started, or `None` (with a note) where `s3s-fs` is not installed and not required.
    fn start() -> Option<S3Server> {
        let home = std::env::var("CARGO_HOME")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|_| std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo"));
        let binary = [home.join("bin/s3s-fs"), "/usr/local/bin/s3s-fs".into()].into_iter().find(|p| p.exists());
        let Some(binary) = binary else {
            assert!(std::env::var_os("RUNYARD_REQUIRE_S3").is_none(), "s3s-fs is required but not installed");
            eprintln!("skipped: no s3s-fs (scripts/test installs it)");
            return None;
        };
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("bucket")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = std::process::Command::new(binary)
            .args(["--access-key", Self::KEY, "--secret-key", Self::SECRET, "--host", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .arg(root.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("spawn s3s-fs");
        let listening = || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
        assert!(crate::harness::wait::until_blocking("s3s-fs listens", std::time::Duration::from_secs(10), listening));
        Some(S3Server { child, port, root })
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_go_to_an_s3_output_destination() {
    let Some(s3) = S3Server::start() else { return };
    let endpoint = format!("http://127.0.0.1:{}", s3.port);
    let env = [
        ("AWS_ACCESS_KEY_ID", S3Server::KEY),
        ("AWS_SECRET_ACCESS_KEY", S3Server::SECRET),
        ("AWS_ENDPOINT", endpoint.as_str()),
        ("AWS_ALLOW_HTTP", "true"),
        ("AWS_REGION", "us-east-1"),
    ];
    let allow = ["--output-allow", "s3://bucket/runs"];
    let server = TestServer::start_with_env(crate::harness::Backend::Sqlite, &allow, &env).unwrap();
    let c = server.client();
    let mut create = runyard_api::CreateTask { name: "to s3".into(), project: Some("s3".into()), ..Default::default() };
    create.execution.output_uri = Some("s3://bucket/runs".into());
    let t = c.create_task(&create).await.unwrap();
    let content = b"weights".repeat(100_000);
    let stored = c.upload_file(&t.id, "models/final.bin", content.clone()).await.unwrap();
    assert_eq!(stored.uri, format!("s3://bucket/runs/s3/{}/models/final.bin", t.id));
    let object = s3.root.path().join(format!("bucket/runs/s3/{}/models/final.bin", t.id));
    assert_eq!(std::fs::read(&object).unwrap(), content, "the object is in the bucket");

    // A bucket or prefix its operator did not allow is refused, naming the field, and nothing
    // is written there.
    for elsewhere in ["s3://bucket/other", "s3://bucket", "s3://bucket/runs/../x", "s3://another/runs"] {
        create.execution.output_uri = Some(elsewhere.into());
        let other = c.create_task(&create).await.unwrap();
        let err = c.upload_file(&other.id, "x.bin", b"x".to_vec()).await.unwrap_err();
        assert!(err.to_string().contains("--output-allow"), "{elsewhere}: {err}");
    }
    assert!(!s3.root.path().join("bucket/other").exists());

    // A destination the daemon does not write to is named in the error.
    create.execution.output_uri = Some("gs://elsewhere".into());
    let other = c.create_task(&create).await.unwrap();
    let err = c.upload_file(&other.id, "x.bin", b"x".to_vec()).await.unwrap_err();
    assert!(err.to_string().contains("execution.output_uri"), "{err}");

    // Delete removes the object.
    act(&c, &t.id, Action::Archive).await.unwrap();
    let deleted = act(&c, &t.id, Action::Delete).await.unwrap();
    assert!(deleted.files_not_removed.is_empty(), "{deleted:?}");
    assert!(!object.exists(), "the object was removed");
}
