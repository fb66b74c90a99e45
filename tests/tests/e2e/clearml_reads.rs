//! ClearML's reads of what tasks and workers reported, through the raw API: log lines paged by
//! time and cleared by metric, events with the names ClearML lets a client leave out, a
//! series' mean and newest value, the metrics per event type, workers' statistics and activity,
//! and the legacy tags and configuration of old API versions.

use crate::clearml::{call, data};
use crate::harness::{TestServer, ACCESS_KEY, SECRET_KEY};
use crate::scenario;
use serde_json::{json, Value};

async fn batch(server: &TestServer, events: &[Value]) -> Value {
    let lines: Vec<String> = events.iter().map(Value::to_string).collect();
    let (status, answer) = call(server, "events.add_batch", Some((ACCESS_KEY, SECRET_KEY)), &lines.join("\n")).await;
    assert_eq!(status, 200, "{answer}");
    answer["data"].clone()
}

fn messages(page: &Value) -> Vec<String> {
    page["events"].as_array().unwrap().iter().map(|e| e["msg"].as_str().unwrap().to_string()).collect()
}

async fn reads(server: TestServer) {
    let task = data(&server, "tasks.create", json!({"name": "reads", "type": "training"})).await["id"].clone();
    let t0 = 1_700_000_000_000i64;

    // Log lines by time: the newest first, earlier pages before a timestamp, later ones after.
    let logs: Vec<Value> = (0..6)
        .map(
            |i| json!({"type": "log", "task": task, "iter": i, "timestamp": t0 + i * 1000, "msg": format!("line {i}")}),
        )
        .chain((0..2).map(|i| {
            json!({"type": "log", "task": task, "timestamp": t0 + 10_000 + i, "msg": format!("eval {i}"),
                   "metric": "eval", "variant": "v"})
        }))
        .collect();
    assert_eq!(batch(&server, &logs).await["added"], 8);
    let page = data(&server, "events.get_task_log", json!({"task": task, "batch_size": 3})).await;
    assert_eq!(
        (page["total"].clone(), messages(&page)),
        (json!(8), vec!["eval 1".into(), "eval 0".into(), "line 5".into()])
    );
    let earlier = json!({"task": task, "batch_size": 2, "from_timestamp": t0 + 5000});
    assert_eq!(messages(&data(&server, "events.get_task_log", earlier).await), ["line 4", "line 3"]);
    let later = json!({"task": task, "batch_size": 2, "from_timestamp": t0 + 1000, "navigate_earlier": false});
    assert_eq!(messages(&data(&server, "events.get_task_log", later).await), ["line 2", "line 3"]);
    let asc = json!({"task": task, "batch_size": 2, "order": "asc"});
    assert_eq!(
        messages(&data(&server, "events.get_task_log", asc).await),
        ["eval 0", "eval 1"],
        "the newest page, oldest first"
    );
    let by_metric = data(&server, "events.get_task_log", json!({"task": task, "metrics": [{"metric": "eval"}]})).await;
    assert_eq!(by_metric["total"], 2);
    let metrics = data(&server, "events.get_task_metrics", json!({"tasks": [task], "event_type": "log"})).await;
    assert_eq!(metrics["metrics"], json!([{"task": task, "metrics": ["eval"]}]));
    let cleared = data(&server, "events.clear_task_log", json!({"task": task, "exclude_metrics": ["eval"]})).await;
    assert_eq!(cleared["deleted"], 6);
    assert_eq!(data(&server, "events.get_task_log", json!({"task": task})).await["total"], 2);

    // Names left out are empty; an unknown type or task is an error of its own.
    let mixed = [
        json!({"type": "training_debug_image", "task": task, "iter": 1}),
        json!({"type": "plot", "task": task, "iter": 1, "metric": "roc", "plot_str": "{\"data\": []}"}),
        json!({"type": "unknown type", "task": task, "iter": 1}),
        json!({"type": "plot", "task": "not a task", "iter": 1, "plot_str": "{}"}),
    ];
    let added = batch(&server, &mixed).await;
    assert_eq!((added["added"].clone(), added["errors"].clone()), (json!(2), json!(2)), "{added}");
    let plots = data(&server, "events.get_task_plots", json!({"task": task})).await;
    assert_eq!(plots["plots"][0]["plot_str"], "{\"data\": []}", "a figure comes back as sent");
    let several = data(&server, "events.get_multi_task_plots", json!({"tasks": [task]})).await;
    assert_eq!(several["plots"]["roc"][""][task.as_str().unwrap()]["1"]["plots"][0]["plot_str"], "{\"data\": []}");

    // A series' mean, and its newest report as its value (a later single value included).
    let scalar = |iter: i64, value: f64, at: i64| json!({"type": "training_stats_scalar", "task": task, "metric": "m", "iter": iter, "value": value, "timestamp": at});
    batch(&server, &[scalar(0, 1.0, t0), scalar(1, 2.0, t0 + 1), scalar(2, 6.0, t0 + 2)]).await;
    batch(&server, &[scalar(-(1 << 31), 10.0, t0 + 3)]).await;
    let doc = data(&server, "tasks.get_by_id", json!({"task": task})).await;
    let last = doc["task"]["last_metrics"].as_object().unwrap().values().next().unwrap().as_object().unwrap();
    let last = last.values().next().unwrap();
    assert_eq!(
        (last["value"].clone(), last["count"].clone(), last["mean_value"].clone()),
        (json!(10.0), json!(4), json!(4.75))
    );
    let latest = data(&server, "events.get_task_latest_scalar_values", json!({"task": task})).await;
    assert_eq!(latest["metrics"][0]["variants"][0]["last_value"], 10.0, "{latest}");

    // Legacy clients: one tags list, and the configuration as `execution.model_desc`.
    let (status, old) = call(
        &server,
        "v2.2/tasks.create",
        Some((ACCESS_KEY, SECRET_KEY)),
        &json!({"name": "old", "type": "training", "tags": ["development", "x"], "execution": {"model_desc": {"design": "a"}}})
            .to_string(),
    )
    .await;
    assert_eq!(status, 200, "{old}");
    let id = old["data"]["id"].clone();
    let now = data(&server, "tasks.get_by_id", json!({"task": id})).await["task"].clone();
    assert_eq!((now["tags"].clone(), now["system_tags"].clone()), (json!(["x"]), json!(["development"])));
    assert_eq!(now["configuration"]["design"], json!({"name": "design", "value": "a", "type": "legacy"}));
    let (_, then) =
        call(&server, "v2.2/tasks.get_by_id", Some((ACCESS_KEY, SECRET_KEY)), &json!({"task": id}).to_string()).await;
    assert_eq!(then["data"]["task"]["tags"], json!(["development", "x"]));
    assert_eq!(then["data"]["task"]["execution"]["model_desc"], json!({"design": "a"}));
}
scenario!(task_reads, super::reads);

async fn worker_stats(server: TestServer) {
    let now = chrono::Utc::now().timestamp();
    let task = data(&server, "tasks.create", json!({"name": "busy", "type": "training"})).await["id"].clone();
    data(&server, "tasks.started", json!({"task": task})).await;
    for (i, worker) in ["busy-box", "idle-box"].iter().enumerate() {
        for step in 0..3 {
            let mut report = json!({"worker": worker, "timestamp": (now + step * 60) * 1000,
                                    "machine_stats": {"cpu_usage": [10.0 * (i + 1) as f64, 30.0], "memory_used": 512}});
            if i == 0 {
                report["task"] = task.clone();
            }
            data(&server, "workers.status_report", report).await;
        }
    }
    let keys = data(&server, "workers.get_metric_keys", json!({"worker_ids": ["busy-box"]})).await;
    assert_eq!(
        keys["categories"],
        json!([{"name": "cpu", "metric_keys": ["cpu_usage"]}, {"name": "memory", "metric_keys": ["memory_used"]}])
    );
    let (status, none) = call(
        &server,
        "workers.get_metric_keys",
        Some((ACCESS_KEY, SECRET_KEY)),
        &json!({"worker_ids": ["nobody"]}).to_string(),
    )
    .await;
    assert_eq!((status, none["meta"]["result_subcode"].clone()), (400, json!(1005)));

    let range = json!({"from_date": now - now % 60, "to_date": now - now % 60 + 240, "interval": 60});
    let mut ask = range.clone();
    ask["items"] = json!([{"key": "cpu_usage", "aggregation": "max"}, {"key": "cpu_usage", "aggregation": "avg"}]);
    ask["worker_ids"] = json!(["busy-box"]);
    let stats = data(&server, "workers.get_stats", ask.clone()).await;
    let metric = &stats["workers"][0]["metrics"][0];
    assert_eq!(metric["dates"].as_array().unwrap().len(), 4, "{stats}");
    assert_eq!(
        metric["stats"],
        json!([{"aggregation": "avg", "values": [20.0, 20.0, 20.0, 0.0]},
                                       {"aggregation": "max", "values": [30.0, 30.0, 30.0, 0.0]}])
    );
    ask["split_by_variant"] = json!(true);
    let split = data(&server, "workers.get_stats", ask).await;
    let variants: Vec<&str> =
        split["workers"][0]["metrics"].as_array().unwrap().iter().map(|m| m["variant"].as_str().unwrap()).collect();
    assert_eq!(variants, ["0", "1"]);

    let activity = data(&server, "workers.get_activity_report", range).await;
    assert_eq!(activity["total"]["counts"], json!([2, 2, 2, 0]), "{activity}");
    assert_eq!(activity["active"]["counts"], json!([1, 1, 1, 0]), "{activity}");
}
scenario!(workers, super::worker_stats);
