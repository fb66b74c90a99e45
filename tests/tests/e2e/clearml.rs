//! The stock `clearml` SDK against Runyard's ClearML API, then what Runyard stored, read through
//! the native API; and the envelope's answers to bad input.

use crate::harness::{Backend, TestServer, ACCESS_KEY, SECRET_KEY};
use crate::scenario;
use runyard_api::tracking::{PlotQuery, ScalarQuery};
use runyard_api::{ConsoleQuery, TaskStatus};
use serde_json::{json, Value};
use std::process::Command;

/// The Python with the pinned `clearml` SDK (`scripts/test` makes it), or `None` with a note.
pub(crate) fn sdk_python() -> Option<String> {
    match std::env::var("RUNYARD_CLEARML_PYTHON") {
        Ok(p) if std::path::Path::new(&p).exists() => Some(p),
        _ => {
            assert!(std::env::var_os("RUNYARD_REQUIRE_CLEARML").is_none(), "the clearml SDK is required but missing");
            eprintln!("skipped: no clearml SDK (set RUNYARD_CLEARML_PYTHON; scripts/test does)");
            None
        }
    }
}

/// `program` with a ClearML client's configuration pointing at `server`, in `home`.
fn clearml_command(program: impl AsRef<std::ffi::OsStr>, server: &TestServer, home: &std::path::Path) -> Command {
    let hosts = (format!("{}/clearml", server.url), format!("{}/files", server.url));
    clearml_command_at(program, (&hosts.0, &hosts.1, &server.url), home)
}

/// The same, with the API, files and web hosts given.
fn clearml_command_at(
    program: impl AsRef<std::ffi::OsStr>,
    hosts: (&str, &str, &str),
    home: &std::path::Path,
) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(home)
        .env("HOME", home)
        .env("CLEARML_API_HOST", hosts.0)
        .env("CLEARML_FILES_HOST", hosts.1)
        .env("CLEARML_WEB_HOST", hosts.2)
        .env("CLEARML_API_ACCESS_KEY", ACCESS_KEY)
        .env("CLEARML_API_SECRET_KEY", SECRET_KEY);
    cmd
}

/// Runs `script` with the SDK pointed at `server`; returns its stdout.
pub(crate) fn run_sdk(server: &TestServer, python: &str, script: &str, args: &[&str]) -> String {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("script.py");
    std::fs::write(&file, script).unwrap();
    let out = clearml_command(python, server, home.path()).arg(&file).args(args).output().expect("run the SDK script");
    sdk_output(out)
}

fn sdk_output(out: std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

pub(crate) fn printed<'a>(stdout: &'a str, key: &str) -> &'a str {
    stdout.lines().find_map(|l| l.strip_prefix(key)).map(str::trim).unwrap_or_else(|| panic!("no {key} in {stdout}"))
}

const FLOW_A: &str = r#"
from clearml import Task
task = Task.init(project_name="sdk/project", task_name="sdk run")
params = task.connect({"lr": 0.1, "batch": 32})
print("LR", params["lr"])
logger = task.get_logger()
for i in range(5):
    logger.report_scalar("loss", "train", value=1.0 / (i + 1), iteration=i)
logger.report_single_value("accuracy", 0.93)
logger.report_scatter2d("scatter", "series", scatter=[[0, 1], [1, 3], [2, 2]], iteration=0)
print("hello from the sdk")
task.upload_artifact("stats", artifact_object={"k": 1})
print("TASK_ID", task.id)
print("RESULTS", task.get_output_log_web_page())
task.close()
"#;

const FLOW_B: &str = r#"
import sys
from clearml import Task
source = Task.get_task(task_id=sys.argv[1])
print("PARAMS", source.get_parameters()["General/lr"])
found = Task.query_tasks(project_name="sdk/project", task_filter={"status": ["completed"]})
print("FOUND", ",".join(found))
clone = Task.clone(source_task=source, name="sdk clone")
Task.enqueue(clone, queue_name="default")
print("CLONE_ID", clone.id)
"#;

const READS_AND_PARAMS: &str = r#"
import sys
from clearml import Task
source = Task.get_task(task_id=sys.argv[1])
scalars = source.get_reported_scalars()
print("SCALARS", len(scalars["loss"]["train"]["x"]))
console = "".join(source.get_reported_console_output(number_of_reports=100))
print("CONSOLE", "hello from the sdk" in console)
print("SINGLE", source.get_reported_single_values()["accuracy"])
print("PLOTS", len(source.get_reported_plots()))
source.set_user_properties(note="reviewed")
draft = Task.clone(source_task=source, name="draft")
draft.set_parameters({"Args/epochs": 3})
draft.set_configuration_object("cfg", config_text="a: 1")
print("CONFIG", Task.get_task(task_id=draft.id).get_configuration_object("cfg"))
source.delete_artifacts(["stats"])
print("ARTIFACTS_LEFT", len(Task.get_task(task_id=source.id).artifacts))
print("DRAFT_ID", draft.id)
"#;

async fn sdk_flows(server: TestServer) {
    let Some(python) = sdk_python() else { return };
    let c = server.client();
    let out = run_sdk(&server, &python, FLOW_A, &[]);
    let id = printed(&out, "TASK_ID").to_string();

    // What the SDK reported is Runyard's own task.
    let task = c.get_task(&id).await.unwrap();
    assert_eq!(task.status, TaskStatus::Completed);
    assert_eq!(task.project_name, "sdk/project");
    assert_eq!(task.hyperparams["General"]["lr"].value, "0.1");
    assert_eq!(task.hyperparams["General"]["batch"].kind.as_deref(), Some("int"));
    assert!(task.script.code.as_deref().unwrap_or("").contains("report_scalar"), "the script source is recorded");
    assert_eq!(task.script.entry_kind, runyard_api::EntryKind::Code);
    assert!(task.runtime.contains_key("python_version"), "{:?}", task.runtime);
    let listed = c.list_tasks(&Default::default()).await.unwrap();
    assert!(listed.tasks.iter().any(|t| t.id == id), "the task is in the task list");
    // The SDK's results page link is the task's page in the web UI.
    let results = printed(&out, "RESULTS");
    assert_eq!(results, format!("{}/projects/{}/tasks/{id}/output/log", server.url, task.project));
    let page = server.http().get(results).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await.unwrap().contains("<title>Runyard</title>"));

    let metrics = c.task_metrics(&id).await.unwrap();
    let loss = metrics.scalars.iter().find(|s| s.metric == "loss" && s.variant == "train").unwrap();
    assert_eq!((loss.count, loss.last_iteration, loss.max.0), (5, 4, 1.0));
    assert_eq!(metrics.single_values[0].name, "accuracy");
    assert_eq!(metrics.single_values[0].value.0, 0.93);
    let q = ScalarQuery { tasks: id.clone(), metric: Some("loss".into()), ..Default::default() };
    assert_eq!(c.scalars(&q).await.unwrap().series[0].x, vec![0.0, 1.0, 2.0, 3.0, 4.0]);
    let plots = c.plots(&PlotQuery { tasks: id.clone(), ..Default::default() }).await.unwrap();
    let scatter = plots.iter().find(|p| p.metric == "scatter").expect("the scatter plot");
    assert!(scatter.figure["data"].is_array(), "{}", scatter.figure);
    let console: String =
        c.console(&id, &ConsoleQuery::default()).await.unwrap().entries.into_iter().map(|e| e.text).collect();
    assert!(console.contains("hello from the sdk"), "{console}");

    // The artifact is registered and its file stored and readable.
    let artifact = task.artifacts.iter().find(|a| a.name == "stats").expect("the artifact");
    let uri = artifact.uri.clone().unwrap();
    assert!(uri.starts_with(&format!("{}/files/sdk/project/", server.url)), "{uri}");
    let stored = c.download(&uri.replace("%20", " ")).await.unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&stored).unwrap(), json!({"k": 1}));

    // Flow (b): read it back, query, clone and enqueue from the SDK.
    let out = run_sdk(&server, &python, FLOW_B, &[&id]);
    assert_eq!(printed(&out, "PARAMS"), "0.1");
    assert!(printed(&out, "FOUND").split(',').any(|f| f == id), "{out}");
    let clone = c.get_task(printed(&out, "CLONE_ID")).await.unwrap();
    assert_eq!(clone.name, "sdk clone");
    assert_eq!(clone.status, TaskStatus::Queued);
    assert_eq!(clone.parent.as_deref(), Some(id.as_str()));
    assert_eq!(clone.hyperparams["General"]["lr"].value, "0.1", "the definition is copied");
    assert!(clone.artifacts.is_empty(), "results are not");
    assert_eq!(c.queue("default").await.unwrap().entries.len(), 1);

    // Reads, parameters and configuration through the SDK.
    let out = run_sdk(&server, &python, READS_AND_PARAMS, &[&id]);
    assert_eq!(printed(&out, "SCALARS"), "5");
    assert_eq!(printed(&out, "CONSOLE"), "True");
    assert_eq!(printed(&out, "SINGLE"), "0.93");
    assert_eq!(printed(&out, "PLOTS"), "1");
    assert_eq!(printed(&out, "CONFIG"), "a: 1");
    assert_eq!(printed(&out, "ARTIFACTS_LEFT"), "0");
    let source = c.get_task(&id).await.unwrap();
    assert_eq!(source.hyperparams["properties"]["note"].value, "reviewed", "user properties on a Completed task");
    let draft = c.get_task(printed(&out, "DRAFT_ID")).await.unwrap();
    assert_eq!(draft.hyperparams["Args"]["epochs"].value, "3");
    assert_eq!(draft.configuration["cfg"].value, "a: 1");
}
scenario!(sdk, super::sdk_flows);

/// The `data` of a call as the admin that must succeed.
pub(crate) async fn data(server: &TestServer, path: &str, body: Value) -> Value {
    let (status, answer) = call(server, path, Some((ACCESS_KEY, SECRET_KEY)), &body.to_string()).await;
    assert_eq!(status, 200, "{path}: {answer}");
    answer["data"].clone()
}

/// A raw call: (HTTP status, body).
pub(crate) async fn call(server: &TestServer, path: &str, auth: Option<(&str, &str)>, body: &str) -> (u16, Value) {
    let mut req = server.http().post(format!("{}/clearml/{path}", server.url)).body(body.to_string());
    if let Some((key, secret)) = auth {
        req = req.basic_auth(key, Some(secret));
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelope_errors() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let ok = Some((ACCESS_KEY, SECRET_KEY));
    let (status, body) = call(&server, "auth.login", Some((ACCESS_KEY, "wrong")), "").await;
    assert_eq!((status, &body["meta"]["result_code"], &body["data"]), (401, &json!(401), &json!({})), "{body}");
    let (status, body) = call(&server, "v2.23/tasks.get_by_id", None, "{}").await;
    assert_eq!((status, &body["meta"]["result_subcode"]), (401, &json!(20)), "{body}");

    // The token is a JWT that tells the client which API to speak.
    let (status, body) = call(&server, "auth.login", ok, "").await;
    assert_eq!(status, 200, "{body}");
    let token = body["data"]["token"].as_str().unwrap();
    let claims = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&base64_url(claims)).unwrap();
    assert_eq!((claims["api_version"].as_str(), claims["feature_set"].as_str()), (Some("2.31"), Some("basic")));

    let (status, body) = call(&server, "v2.23/tasks.explode", ok, "{}").await;
    assert_eq!((status, &body["data"]), (404, &json!({})), "{body}");
    assert!(body["meta"]["result_msg"].as_str().unwrap().contains("tasks.explode"), "{body}");
    let unknown = json!({"task": "0123456789abcdef0123456789abcdef"}).to_string();
    let (status, body) = call(&server, "v2.23/tasks.get_by_id", ok, &unknown).await;
    assert_eq!((status, &body["meta"]["result_subcode"], &body["data"]), (400, &json!(101), &json!({})), "{body}");
    let (status, body) = call(&server, "v2.23/tasks.create", ok, "{\"name\": ").await;
    assert_eq!(status, 400, "{body}");

    // A running task's definition needs `force`.
    let (_, created) =
        call(&server, "v2.23/tasks.create", ok, &json!({"name": "t", "type": "training"}).to_string()).await;
    let id = created["data"]["id"].as_str().unwrap().to_string();
    call(&server, "v2.23/tasks.started", ok, &json!({"task": id}).to_string()).await;
    let edit = json!({"task": id, "script": {"entry_point": "x.py"}}).to_string();
    let (status, body) = call(&server, "v2.23/tasks.edit", ok, &edit).await;
    assert_eq!((status, &body["meta"]["result_subcode"]), (400, &json!(110)), "{body}");
    let forced = json!({"task": id, "force": true, "script": {"entry_point": "x.py"}}).to_string();
    let (status, body) = call(&server, "v2.23/tasks.edit", ok, &forced).await;
    assert_eq!(status, 200, "{body}");

    // json-lines: each bad line is named, the valid ones are stored (a plot's text as sent).
    let lines = [
        json!({"type": "training_stats_scalar", "task": id, "metric": "m", "variant": "v", "iter": 1, "value": 2.5})
            .to_string(),
        "{not json".to_string(),
        json!({"type": "plot", "task": id, "metric": "p", "variant": "v", "iter": 1, "plot_str": "nope"}).to_string(),
        json!({"type": "training_stats_scalar", "task": id, "metric": "m", "variant": "v", "iter": 2, "value": 3.5})
            .to_string(),
        // As Python's json writes a NaN.
        format!(r#"{{"type": "training_stats_scalar", "task": "{id}", "metric": "n", "variant": "v", "iter": 1, "value": NaN}}"#),
    ]
    .join("\n");
    let (status, body) = call(&server, "events.add_batch", ok, &lines).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((&body["data"]["added"], &body["data"]["errors"]), (&json!(4), &json!(1)), "{body}");
    let errors = body["data"]["errors_info"].as_object().unwrap();
    assert!(errors.contains_key("1"), "{body}");
    let (_, plots) = call(&server, "events.get_task_plots", ok, &json!({"task": id}).to_string()).await;
    assert_eq!(plots["data"]["plots"][0]["plot_str"], json!("nope"), "{plots}");
    let metrics = server.client().task_metrics(&id).await.unwrap();
    assert_eq!(metrics.scalars.iter().find(|s| s.metric == "m").unwrap().count, 2);
    assert!(metrics.scalars.iter().find(|s| s.metric == "n").unwrap().last.0.is_nan(), "NaN is kept");
}

fn base64_url(part: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()
}

/// The agent's executable beside the SDK's Python.
fn agent_binary(python: &str) -> Option<std::path::PathBuf> {
    let agent = std::path::Path::new(python).with_file_name("clearml-agent");
    if agent.exists() {
        return Some(agent);
    }
    assert!(std::env::var_os("RUNYARD_REQUIRE_CLEARML").is_none(), "clearml-agent is required but missing");
    eprintln!("skipped: no clearml-agent beside {python}");
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clearml_agent_runs_a_cloned_task() {
    let Some(python) = sdk_python() else { return };
    let Some(agent) = agent_binary(&python) else { return };
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let c = server.client();
    let out = run_sdk(&server, &python, FLOW_A, &[]);
    let id = printed(&out, "TASK_ID").to_string();
    let out = run_sdk(&server, &python, FLOW_B, &[&id]);
    let clone = printed(&out, "CLONE_ID").to_string();

    // clearml-agent pulls it from Runyard's queue, runs the recorded script and finishes it.
    let home = tempfile::tempdir().unwrap();
    let mut daemon = clearml_command(&agent, &server, home.path())
        .args(["daemon", "--queue", "default", "--foreground"])
        .env("CLEARML_WORKER_ID", "clearml-test:0")
        .env("CLEARML_AGENT_SKIP_PIP_VENV_INSTALL", &python)
        .env("CLEARML_AGENT_QUEUE_POLL_FREQ_SEC", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start clearml-agent");
    let task = crate::harness::agent::wait_for(&c, &clone, std::time::Duration::from_secs(180), |t| {
        matches!(t.status, TaskStatus::Completed | TaskStatus::Failed | TaskStatus::Stopped)
    })
    .await;
    let _ = daemon.kill();
    let _ = daemon.wait();
    let console: String = c
        .console(&clone, &ConsoleQuery { limit: Some(10_000), ..Default::default() })
        .await
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.text)
        .collect();
    assert_eq!(task.status, TaskStatus::Completed, "{} {}\n{console}", task.status_reason, task.status_message);
    assert!(console.contains("hello from the sdk"), "the agent streamed the task's output: {console}");
    let metrics = c.task_metrics(&clone).await.unwrap();
    let loss = metrics.scalars.iter().find(|s| s.metric == "loss").expect("scalars from the remote run");
    assert_eq!(loss.count, 5);
    assert_eq!(c.queue("default").await.unwrap().entries.len(), 0, "the task left its queue");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_from_runyard_stops_an_sdk_run() {
    let Some(python) = sdk_python() else { return };
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let c = server.client();
    let home = tempfile::tempdir().unwrap();
    let script = home.path().join("long.py");
    std::fs::write(
        &script,
        "import time\nfrom clearml import Task\ntask = Task.init(project_name='sdk/project', task_name='long')\n\
         print('TASK_ID', task.id, flush=True)\nfor i in range(600):\n    \
         task.get_logger().report_scalar('x', 'y', value=i, iteration=i)\n    time.sleep(0.5)\nprint('NOT ABORTED')\n",
    )
    .unwrap();
    let mut child = clearml_command(&python, &server, home.path())
        .arg(&script)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let id = {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(stdout).lines();
        let id = lines.by_ref().map_while(Result::ok).find_map(|l| l.strip_prefix("TASK_ID ").map(str::to_string));
        std::thread::spawn(move || lines.for_each(drop));
        id.expect("the script printed its task")
    };
    crate::harness::agent::wait_for(&c, &id, std::time::Duration::from_secs(30), |t| {
        t.status == TaskStatus::InProgress
    })
    .await;
    c.act(&id, runyard_api::Action::Abort, &Default::default()).await.unwrap();
    let exited = || {
        let exited = child.try_wait().unwrap().is_some();
        async move { exited }
    };
    crate::harness::wait::until("the SDK run stops after the abort", std::time::Duration::from_secs(60), exited).await;
    let status = child.wait().unwrap();
    // It stopped long before its 300 s of work were done.
    assert_eq!(c.get_task(&id).await.unwrap().status, TaskStatus::Stopped, "exit {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runyard_agent_runs_an_sdk_task_remotely() {
    let Some(python) = sdk_python() else { return };
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let c = server.client();
    let out = run_sdk(&server, &python, FLOW_A, &[]);
    let id = printed(&out, "TASK_ID").to_string();

    // Clone it, change a hyperparameter, point it at an environment with the SDK, enqueue it.
    let outcome = c.act(&id, runyard_api::Action::Clone, &Default::default()).await.unwrap();
    let clone = outcome.new_id.unwrap();
    let source = c.get_task(&id).await.unwrap();
    let mut hyperparams = source.hyperparams.clone();
    hyperparams.get_mut("General").unwrap().get_mut("lr").unwrap().value = "0.5".into();
    let venv = std::path::Path::new(&python).parent().unwrap().parent().unwrap().display().to_string();
    let environment = runyard_api::Environment { preinstalled_venv: Some(venv), ..Default::default() };
    let edit =
        runyard_api::EditTask { hyperparams: Some(hyperparams), environment: Some(environment), ..Default::default() };
    c.edit_task(&clone, &edit).await.unwrap();
    let enqueue = runyard_api::ActionRequest { queue: Some("default".into()), ..Default::default() };
    c.act(&clone, runyard_api::Action::Enqueue, &enqueue).await.unwrap();

    // Runyard's agent runs it; the SDK inside attaches to the same task and reads the new value.
    let _agent = crate::harness::agent::Agent::start(&server, "sdk-agent", "default", "", &[]);
    let task = crate::harness::agent::finished(&c, &clone).await;
    let console = crate::harness::agent::console(&c, &clone).await;
    assert_eq!(task.status, TaskStatus::Completed, "{console}");
    assert!(console.contains("LR 0.5"), "the hyperparameter came from the server: {console}");
    let metrics = c.task_metrics(&clone).await.unwrap();
    assert_eq!(metrics.scalars.iter().find(|s| s.metric == "loss").map(|s| s.count), Some(5), "{metrics:?}");
    let all = c.list_tasks(&Default::default()).await.unwrap();
    assert_eq!(all.total, 2, "the SDK attached to the task rather than creating one");
    assert!(c.get_task(&clone).await.unwrap().artifacts.iter().any(|a| a.name == "stats"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_management_and_batches() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let ok = Some((ACCESS_KEY, SECRET_KEY));
    let data = |(status, body): (u16, Value)| {
        assert_eq!(status, 200, "{body}");
        body["data"].clone()
    };
    let queue = data(call(&server, "v2.23/queues.create", ok, &json!({"name": "gpu"}).to_string()).await)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let found = data(call(&server, "v2.23/queues.get_all", ok, &json!({"name": "^gpu$"}).to_string()).await);
    assert_eq!(found["queues"][0]["id"], queue.as_str());
    let mut ids = Vec::new();
    for name in ["a", "b", "c"] {
        let created = data(call(&server, "v2.23/tasks.create", ok, &json!({"name": name}).to_string()).await);
        ids.push(created["id"].as_str().unwrap().to_string());
    }
    let enqueued =
        data(call(&server, "v2.23/tasks.enqueue_many", ok, &json!({"ids": ids, "queue": queue}).to_string()).await);
    assert_eq!(enqueued["succeeded"].as_array().unwrap().len(), 3, "{enqueued}");
    let count = |v: Value| v["num"].as_u64().unwrap();
    let q = json!({"queue": queue}).to_string();
    assert_eq!(count(data(call(&server, "v2.23/queues.get_num_entries", ok, &q).await)), 3);

    let front = json!({"queue": queue, "task": ids[2]}).to_string();
    assert_eq!(data(call(&server, "v2.23/queues.move_task_to_front", ok, &front).await)["position"], 0);
    let entries = data(call(&server, "v2.23/queues.get_by_id", ok, &q).await)["queue"]["entries"].clone();
    assert_eq!(entries[0]["task"], ids[2].as_str());
    let back = json!({"queue": queue, "task": ids[2], "count": 1}).to_string();
    assert_eq!(data(call(&server, "v2.23/queues.move_task_backward", ok, &back).await)["position"], 1);
    let remove = json!({"queue": queue, "task": ids[0]}).to_string();
    assert_eq!(data(call(&server, "v2.23/queues.remove_task", ok, &remove).await)["removed"], 1);
    assert_eq!(count(data(call(&server, "v2.23/queues.get_num_entries", ok, &q).await)), 2);

    // A batch reports each task it could not act on.
    let stop = data(call(&server, "v2.23/tasks.stop_many", ok, &json!({"ids": ids}).to_string()).await);
    assert_eq!(stop["failed"].as_array().unwrap().len(), 3, "{stop}");
    assert!(stop["failed"][0]["error"]["msg"].as_str().unwrap().contains("Running"), "{stop}");
    let dequeued = data(call(&server, "v2.23/tasks.dequeue_many", ok, &json!({"ids": ids}).to_string()).await);
    assert_eq!((dequeued["succeeded"].as_array().unwrap().len(), dequeued["failed"].as_array().unwrap().len()), (2, 1));
    let deleted = data(call(&server, "v2.23/tasks.delete_many", ok, &json!({"ids": ids}).to_string()).await);
    assert_eq!(deleted["succeeded"].as_array().unwrap().len(), 3, "{deleted}");
    let gone = json!({"task": ids[0]}).to_string();
    let (status, body) = call(&server, "v2.23/tasks.get_by_id", ok, &gone).await;
    assert_eq!((status, &body["meta"]["result_subcode"]), (400, &json!(101)));
    assert_eq!(data(call(&server, "v2.23/queues.delete", ok, &q).await)["deleted"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clearml_own_ports_serve_an_unchanged_configuration() {
    let Some(python) = sdk_python() else { return };
    let free = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (api, files) = (free(), free());
    let ports = format!("{api},{files}");
    let server = TestServer::start_with(Backend::Sqlite, &["--clearml-ports", &ports]).unwrap();
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("script.py");
    std::fs::write(&file, FLOW_A).unwrap();
    let hosts = (format!("http://127.0.0.1:{api}"), format!("http://127.0.0.1:{files}"));
    let out = clearml_command_at(&python, (&hosts.0, &hosts.1, &server.url), home.path()).arg(&file).output().unwrap();
    let out = sdk_output(out);
    let task = server.client().get_task(printed(&out, "TASK_ID")).await.unwrap();
    assert_eq!(task.status, TaskStatus::Completed);
    let uri = task.artifacts[0].uri.clone().unwrap();
    assert!(uri.starts_with(&hosts.1), "{uri}");
    assert!(server.data_dir.join("files/sdk/project").is_dir(), "the artifact is in the file store");

    let bad = Command::new(crate::harness::BIN)
        .args(["server", "--bind", "127.0.0.1:0", "--clearml-ports", "8008", "--data-dir"])
        .arg(home.path().join("data"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--clearml-ports takes two port numbers"), "{bad:?}");
}

const MODELS: &str = r#"
from clearml import Task, OutputModel, Model
task = Task.init(project_name="sdk/models", task_name="trainer")
with open("weights.bin", "wb") as f:
    f.write(b"w" * 1000)
out = OutputModel(task=task, name="best", framework="PyTorch")
out.update_weights(weights_filename="weights.bin")
out.set_metadata("accuracy", "0.9", "float")
print("TASK_ID", task.id)
print("MODEL_ID", out.id)
from PIL import Image
Image.new("RGB", (4, 4)).save("sample.png")
for i in range(3):
    task.get_logger().report_image("img", "series", iteration=i, local_path="sample.png")
task.flush(wait_for_uploads=True)
samples = task.get_debug_samples("img", "series", n_last_iterations=2)
print("SAMPLES", len(samples), sorted(s["iter"] for s in samples))
task.close()
model = Model(model_id=out.id)
print("NAME", model.name)
print("LOCAL", open(model.get_local_copy(), "rb").read() == b"w" * 1000)
print("FOUND", len(Model.query_models(project_name="sdk/models", model_name="best")))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_are_registered_and_attached_to_their_task() {
    let Some(python) = sdk_python() else { return };
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let out = run_sdk(&server, &python, MODELS, &[]);
    let model = printed(&out, "MODEL_ID").to_string();
    assert_eq!(printed(&out, "NAME"), "best");
    assert_eq!(printed(&out, "LOCAL"), "True");
    assert_eq!(printed(&out, "FOUND"), "1");
    assert_eq!(printed(&out, "SAMPLES"), "2 [1, 2]", "the latest debug samples, through events.debug_images");
    let task = server.client().get_task(printed(&out, "TASK_ID")).await.unwrap();
    let output = task.models.output.iter().find(|m| m.model_id.as_deref() == Some(model.as_str()));
    assert!(output.is_some(), "the model is the task's output: {:?}", task.models);
}

async fn projects_update_and_task_events(server: TestServer) {
    let ok = Some((ACCESS_KEY, SECRET_KEY));
    let data = |(status, body): (u16, Value)| {
        assert_eq!(status, 200, "{body}");
        body["data"].clone()
    };
    let c = server.client();
    // A rename moves the subprojects; tasks stay in their (renamed) projects.
    let parent = data(call(&server, "v2.23/projects.create", ok, &json!({"name": "lab/old"}).to_string()).await);
    let parent = parent["id"].as_str().unwrap().to_string();
    let task = c
        .create_task(&runyard_api::CreateTask {
            name: "t".into(),
            project: Some("lab/old/sub".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let update = json!({"project": parent, "name": "new", "description": "d"}).to_string();
    let updated = data(call(&server, "v2.23/projects.update", ok, &update).await);
    assert_eq!((&updated["updated"], &updated["fields"]["name"]), (&json!(1), &json!("lab/new")), "{updated}");
    let names: Vec<String> = c.list_projects().await.unwrap().into_iter().map(|p| p.name).collect();
    assert!(names.contains(&"lab/new/sub".to_string()) && !names.iter().any(|n| n.contains("old")), "{names:?}");
    let moved = c.get_task(&task.id).await.unwrap();
    assert_eq!(moved.project_name, "lab/new/sub");
    // Creating under the old path makes a new project, not the renamed one.
    let fresh = c
        .create_task(&runyard_api::CreateTask {
            name: "u".into(),
            project: Some("lab/old".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_ne!(fresh.project, parent);
    // Names that exist already, or a move inside itself, are refused.
    let clash = json!({"project": parent, "name": "lab/old"}).to_string();
    let (status, body) = call(&server, "v2.23/projects.update", ok, &clash).await;
    assert_eq!(status, 400, "{body}");
    let err = c
        .update_project(
            &parent,
            &runyard_api::UpdateProject { name: Some("lab/new/sub/x".into()), ..Default::default() },
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("inside itself"), "{err}");

    // Every event of a task, of one type, paged by scroll_id.
    let lines: Vec<String> = (0..5)
        .map(|i| {
            json!({"type": "training_stats_scalar", "task": task.id, "metric": "loss", "variant": "train", "iter": i,
                   "value": 1.0 / (i as f64 + 1.0), "timestamp": 1_000 + i})
            .to_string()
        })
        .chain([json!({"type": "log", "task": task.id, "msg": "hello", "timestamp": 2_000}).to_string()])
        .collect();
    data(call(&server, "events.add_batch", ok, &lines.join("\n")).await);
    let all = data(call(&server, "events.get_task_events", ok, &json!({"task": task.id}).to_string()).await);
    assert_eq!(all["total"], 6, "{all}");
    assert_eq!(all["events"][5]["msg"], "hello", "time order: {all}");
    let mut seen = Vec::new();
    let mut scroll = Value::Null;
    loop {
        let q = json!({"task": task.id, "event_type": "training_stats_scalar", "batch_size": 2, "scroll_id": scroll,
                       "order": "desc"});
        let page = data(call(&server, "events.get_task_events", ok, &q.to_string()).await);
        if page["returned"] == 0 {
            break;
        }
        seen.extend(page["events"].as_array().unwrap().iter().map(|e| e["iter"].as_i64().unwrap()));
        scroll = page["scroll_id"].clone();
    }
    assert_eq!(seen, vec![4, 3, 2, 1, 0]);
    let (status, body) =
        call(&server, "events.get_task_events", ok, &json!({"task": "0123456789abcdef0123456789abcdef"}).to_string())
            .await;
    assert_eq!((status, &body["meta"]["result_subcode"]), (400, &json!(101)), "{body}");
}
scenario!(projects_and_events, super::projects_update_and_task_events);
