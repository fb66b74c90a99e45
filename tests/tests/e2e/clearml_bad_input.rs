//! Bad input on ClearML's endpoints: each case once found to crash, stall or mislead the daemon,
//! then a seeded fuzz of every endpoint that fails on a 5xx, an answer slower than 2 s, or the
//! daemon's death.

use crate::clearml::{call, data};
use crate::harness::{Backend, TestServer, ACCESS_KEY, SECRET_KEY};
use crate::scenario;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const OK: Option<(&str, &str)> = Some((ACCESS_KEY, SECRET_KEY));

async fn healthy(server: &TestServer) -> bool {
    let health = server.http().get(format!("{}/healthz", server.url)).timeout(Duration::from_secs(5)).send().await;
    health.is_ok_and(|r| r.status().is_success())
}

async fn regressions(server: TestServer) {
    let project = data(&server, "projects.create", json!({"name": "p", "description": ""})).await["id"].clone();
    let mut ids = Vec::new();
    for name in ["a", "b", "c"] {
        let body = json!({"name": name, "type": "training", "project": project, "tags": ["t"]});
        ids.push(data(&server, "tasks.create", body).await["id"].as_str().unwrap().to_string());
    }

    // Huge tag lists: refused by name (they once overflowed the stack and killed the daemon).
    for n in [101, 1_000, 20_000] {
        let tags: Vec<String> = (0..n).map(|i| format!("x{i}")).collect();
        let (status, body) = call(&server, "tasks.get_all", OK, &json!({"tags": tags}).to_string()).await;
        assert_eq!(status, 400, "{n} tags: {body}");
        assert!(body["meta"]["result_msg"].as_str().unwrap().contains("tags"), "{body}");
    }
    assert!(healthy(&server).await, "the daemon survives");
    let tagged = data(&server, "tasks.get_all", json!({"tags": vec!["t"; 20_000]})).await;
    assert_eq!(tagged["tasks"].as_array().unwrap().len(), 3, "repeated tags are one tag");

    // 33,000 statuses are seven at most.
    let statuses: Vec<&str> = ["created", "queued"].iter().copied().cycle().take(33_000).collect();
    let found = data(&server, "tasks.get_all", json!({"status": statuses})).await;
    assert_eq!(found["tasks"].as_array().unwrap().len(), 3);

    // A 15 MB name pattern is refused at once, and the daemon keeps answering.
    let started = Instant::now();
    let (status, body) = call(&server, "tasks.get_all", OK, &json!({"name": "a".repeat(15 << 20)}).to_string()).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["meta"]["result_msg"].as_str().unwrap().contains("name"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(2), "refused in {:?}", started.elapsed());

    // One project id 10,000 times is one project: every task once.
    let found = data(&server, "tasks.get_all", json!({"project": vec![&project; 10_000]})).await;
    assert_eq!(found["tasks"].as_array().unwrap().len(), 3);
    let found = data(&server, "tasks.get_all", json!({"id": vec![&ids[0]; 10_000]})).await;
    assert_eq!(found["tasks"].as_array().unwrap().len(), 1);

    // Extreme pages are past the end, not the first page.
    for page in [1u64 << 63, u64::MAX] {
        for endpoint in ["tasks.get_all", "projects.get_all", "models.get_all"] {
            let answer = data(&server, endpoint, json!({"page": page, "page_size": 2})).await;
            let list = answer.as_object().unwrap().values().next().unwrap();
            assert_eq!(list.as_array().map(Vec::len), Some(0), "{endpoint} page {page}: {answer}");
        }
    }

    // A move backward by 2^64-1 goes to the back, never around to the front.
    let queue = data(&server, "queues.create", json!({"name": "q"})).await["id"].as_str().unwrap().to_string();
    data(&server, "tasks.enqueue_many", json!({"ids": ids, "queue": queue})).await;
    let back = json!({"queue": queue, "task": ids[0], "count": u64::MAX});
    assert_eq!(data(&server, "queues.move_task_backward", back).await["position"], 2);
    let forward = json!({"queue": queue, "task": ids[0], "count": u64::MAX});
    assert_eq!(data(&server, "queues.move_task_forward", forward).await["position"], 0);

    // A body over the limit is answered in ClearML's envelope.
    let huge = format!("{{\"name\": \"{}\"}}", "a".repeat(17 << 20));
    let (status, body) = call(&server, "tasks.get_all", OK, &huge).await;
    assert_eq!((status, &body["meta"]["result_code"]), (413, &json!(413)), "{body}");
    assert!(healthy(&server).await);
}
scenario!(clearml_regressions, super::regressions);

/// A multipart upload of one part named `path`.
async fn upload(server: &TestServer, path: &str) -> (u16, Value) {
    let part = reqwest::multipart::Part::bytes(b"x".to_vec());
    // The part is named by its path as ClearML's SDK names it: plainly, not percent-encoded.
    let form = reqwest::multipart::Form::new().percent_encode_noop().part(path.to_string(), part);
    let resp = server
        .http()
        .post(format!("{}/files/", server.url))
        .basic_auth(ACCESS_KEY, Some(SECRET_KEY))
        .multipart(form)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_of_unknown_tasks_and_folders() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let unknown = "0123456789abcdef0123456789abcdef";
    let (status, body) = upload(&server, &format!("p/t.{unknown}/artifacts/a.txt")).await;
    assert_eq!(status, 404, "{body}");
    assert!(body["error"].as_str().unwrap().contains(unknown), "{body}");
    let get = server.http().get(format!("{}/files/p/t.{unknown}/artifacts/a.txt", server.url));
    assert_eq!(get.basic_auth(ACCESS_KEY, Some(SECRET_KEY)).send().await.unwrap().status(), 404, "nothing stored");

    let task = data(&server, "tasks.create", json!({"name": "t", "type": "training"})).await["id"].clone();
    let task = task.as_str().unwrap();
    let (status, body) = upload(&server, &format!("p/t.{task}/artifacts/a.txt")).await;
    assert_eq!(status, 200, "{body}");
    // A folder is not a file: a plain 404 that says so, not an internal error.
    let folder = server.http().delete(format!("{}/files/p/t.{task}", server.url));
    let resp = folder.basic_auth(ACCESS_KEY, Some(SECRET_KEY)).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    assert!(!body["error"].as_str().unwrap().contains("internal"), "{body}");
    let file = server.http().get(format!("{}/files/p/t.{task}/artifacts/a.txt", server.url));
    assert_eq!(file.basic_auth(ACCESS_KEY, Some(SECRET_KEY)).send().await.unwrap().status(), 200, "the file stays");

    // A Published task's results are read-only: no more files.
    data(&server, "tasks.started", json!({"task": task})).await;
    data(&server, "tasks.completed", json!({"task": task})).await;
    data(&server, "tasks.publish", json!({"task": task})).await;
    let (status, body) = upload(&server, &format!("p/t.{task}/artifacts/late.txt")).await;
    assert_eq!(status, 409, "{body}");
}

/// Every endpoint the ClearML plugin serves.
const ENDPOINTS: &[&str] = &[
    "auth.login",
    "events.add",
    "events.add_batch",
    "events.clear_task_log",
    "events.debug_images",
    "events.get_debug_image_sample",
    "events.get_plot_sample",
    "events.get_multi_task_metrics",
    "events.get_multi_task_plots",
    "events.get_task_events",
    "events.get_task_latest_scalar_values",
    "events.get_task_log",
    "events.get_task_metrics",
    "events.get_task_plots",
    "events.get_task_single_value_metrics",
    "events.multi_task_scalar_metrics_iter_histogram",
    "events.next_debug_image_sample",
    "events.next_plot_sample",
    "events.plots",
    "events.scalar_metrics_iter_histogram",
    "events.scalar_metrics_iter_raw",
    "models.add_or_update_metadata",
    "models.create",
    "models.delete",
    "models.delete_metadata",
    "models.edit",
    "models.get_all",
    "models.get_all_ex",
    "models.get_by_id",
    "models.get_frameworks",
    "models.move",
    "models.publish_many",
    "models.set_ready",
    "models.update",
    "models.update_for_task",
    "models.update_tags",
    "organization.get_entities_count",
    "organization.get_tags",
    "projects.create",
    "projects.delete",
    "projects.get_all",
    "projects.get_all_ex",
    "projects.get_by_id",
    "projects.get_hyper_parameters",
    "projects.get_hyperparam_values",
    "projects.get_model_metadata_keys",
    "projects.get_model_metadata_values",
    "projects.get_model_tags",
    "projects.get_project_tags",
    "projects.get_task_parents",
    "projects.get_task_tags",
    "projects.get_unique_metric_variants",
    "projects.merge",
    "projects.move",
    "projects.update",
    "projects.validate_delete",
    "queues.add_or_update_metadata",
    "queues.add_task",
    "queues.clear_queue",
    "queues.create",
    "queues.delete",
    "queues.delete_metadata",
    "queues.get_all",
    "queues.get_all_ex",
    "queues.get_by_id",
    "queues.get_default",
    "queues.get_next_task",
    "queues.get_num_entries",
    "queues.get_queue_metrics",
    "queues.move_task_backward",
    "queues.move_task_forward",
    "queues.move_task_to_back",
    "queues.move_task_to_front",
    "queues.peek_task",
    "queues.remove_task",
    "queues.update",
    "tasks.add_or_update_artifacts",
    "tasks.add_or_update_model",
    "tasks.archive",
    "tasks.archive_many",
    "tasks.clone",
    "tasks.completed",
    "tasks.create",
    "tasks.delete",
    "tasks.delete_artifacts",
    "tasks.delete_configuration",
    "tasks.delete_hyper_params",
    "tasks.delete_many",
    "tasks.delete_models",
    "tasks.dequeue",
    "tasks.dequeue_many",
    "tasks.edit",
    "tasks.edit_configuration",
    "tasks.edit_hyper_params",
    "tasks.enqueue",
    "tasks.enqueue_many",
    "tasks.failed",
    "tasks.get_all",
    "tasks.get_all_ex",
    "tasks.get_by_id",
    "tasks.get_by_id_ex",
    "tasks.get_configuration_names",
    "tasks.get_configurations",
    "tasks.get_hyper_params",
    "tasks.get_types",
    "tasks.move",
    "tasks.ping",
    "tasks.publish",
    "tasks.publish_many",
    "tasks.reset",
    "tasks.reset_many",
    "tasks.set_requirements",
    "tasks.started",
    "tasks.stop",
    "tasks.stop_many",
    "tasks.stopped",
    "tasks.unarchive_many",
    "tasks.update",
    "tasks.update_tags",
    "tasks.validate",
    "users.get_by_id",
    "users.get_current_user",
    "workers.get_activity_report",
    "workers.get_all",
    "workers.get_count",
    "workers.get_metric_keys",
    "workers.get_stats",
    "workers.register",
    "workers.set_runtime_properties",
    "workers.status_report",
    "workers.unregister",
];

/// Request fields the endpoints read.
const FIELDS: &[&str] = &[
    "task",
    "tasks",
    "id",
    "ids",
    "project",
    "queue",
    "queue_name",
    "name",
    "tags",
    "system_tags",
    "status",
    "page",
    "page_size",
    "count",
    "only_fields",
    "order_by",
    "parent",
    "model",
    "models",
    "iters",
    "scroll_id",
    "metrics",
    "new_task_project",
    "new_task_name",
    "configuration",
    "hyperparams",
    "names",
    "worker",
    "queues",
    "type",
    "batch_size",
    "value",
    "iter",
    "uri",
    "artifacts",
    "execution",
    "script",
    "force",
    "metadata",
    "timestamp",
    "navigate_earlier",
    "from_timestamp",
    "include_metrics",
    "exclude_metrics",
    "threshold_sec",
    "worker_ids",
    "items",
    "split_by_variant",
    "machine_stats",
    "order",
    "event_type",
    "variants",
    "ready",
    "comment",
    "description",
    "expiration_sec",
    "add_tags",
    "keys",
    "section",
    "key",
    "pattern",
    "filter",
    "display_name",
    "max_task_entries",
    "samples",
    "navigate_current_metric",
    "next_iteration",
    "iteration",
    "variant",
    "refresh",
    "project_name",
    "new_project_name",
    "from_date",
    "to_date",
    "interval",
    "queue_ids",
    "new_location",
    "destination_project",
    "include_dataset_stats",
    "active_users",
    "datasets",
];

/// A bad value of some kind: a wrong shape, a huge list or string, an extreme number.
fn bad_value(rng: &mut rand::rngs::StdRng, valid: &str) -> Value {
    match rng.gen_range(0..16) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(u64::MAX),
        3 => json!(i64::MIN),
        4 => json!(1u64 << 63),
        5 => json!(f64::MAX),
        6 => json!(-1),
        7 => json!(f64::MIN_POSITIVE / 4.0),
        8 => json!("x".repeat(1 << 20)),
        9 => json!((0..20_000).map(|i| format!("x{i}")).collect::<Vec<_>>()),
        10 => json!(vec![valid; 20_000]),
        11 => json!(vec![u64::MAX; 1_000]),
        12 => json!({"a": {"b": [1, {"c": null}]}, "metric": [], "variants": {}}),
        13 => json!([[[[[]]]]]),
        14 => json!(""),
        _ => json!(".*(a+)+$"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzzed_endpoints_never_fail_stall_or_kill() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let seed: u64 = std::env::var("RUNYARD_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let raw = |path: &str, body: String| {
        let req = server.http().post(format!("{}/clearml/{path}", server.url)).basic_auth(ACCESS_KEY, Some(SECRET_KEY));
        req.timeout(Duration::from_secs(30)).body(body).send()
    };
    let mut failures = Vec::new();
    let mut sent = 0;
    for endpoint in ENDPOINTS {
        // Fresh objects for each endpoint, so that valid ids reach deep into each handler.
        let project = data(&server, "projects.create", json!({"name": format!("fuzz/{endpoint}")})).await["id"]
            .as_str()
            .unwrap()
            .to_string();
        let task = data(&server, "tasks.create", json!({"name": "t", "type": "training", "project": project})).await
            ["id"]
            .as_str()
            .unwrap()
            .to_string();
        let queue = data(&server, "queues.create", json!({"name": format!("q-{endpoint}")})).await["id"]
            .as_str()
            .unwrap()
            .to_string();
        let base = json!({"task": task, "tasks": [task], "ids": [task], "project": project, "queue": queue});
        let mut bodies: Vec<String> = ["[]", "\"x\"", "42", "null", "{", "[{\"task\": 1}]", "{\"task\": {}}"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for _ in 0..24 {
            let mut body = base.clone();
            for _ in 0..rng.gen_range(1..=3) {
                let field = FIELDS[rng.gen_range(0..FIELDS.len())];
                body[field] = bad_value(&mut rng, &task);
            }
            bodies.push(body.to_string());
        }
        for body in bodies {
            sent += 1;
            let started = Instant::now();
            let answer = raw(endpoint, body.clone()).await;
            let took = started.elapsed();
            let shown: String = body.chars().take(160).collect();
            match answer {
                Err(e) => failures.push(format!("{endpoint} {shown}: no answer ({e})")),
                Ok(resp) if resp.status().is_server_error() => {
                    let status = resp.status();
                    let text: String = resp.text().await.unwrap_or_default().chars().take(300).collect();
                    failures.push(format!("{endpoint} {shown}: {status} {text}"));
                }
                Ok(resp) if resp.status() == 404 => {
                    let text = resp.text().await.unwrap_or_default();
                    assert!(!text.contains("Unable to find endpoint"), "{endpoint} is not served");
                }
                Ok(_) => {}
            }
            if took > Duration::from_secs(2) {
                failures.push(format!("{endpoint} {shown}: answered in {took:?}"));
            }
        }
        assert!(healthy(&server).await, "the daemon died or stalled after {endpoint}; failures: {failures:#?}");
    }
    assert!(failures.is_empty(), "seed {seed}, {sent} requests, {} failed:\n{}", failures.len(), failures.join("\n"));
}
