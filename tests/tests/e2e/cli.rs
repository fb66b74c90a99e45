//! The `runyard` CLI against a real server: JSON output, tables, exit codes, restarts.

use crate::harness::{describe, Backend, TestServer};
use crate::scenario;

async fn cli_round_trip(server: TestServer) {
    let dir = tempfile::tempdir().unwrap();
    let reqs = dir.path().join("requirements.txt");
    std::fs::write(&reqs, "numpy==2.1\n").unwrap();
    let code = dir.path().join("job.py");
    std::fs::write(&code, "print('hi')\n").unwrap();
    let startup = dir.path().join("setup.sh");
    std::fs::write(&startup, "apt-get install -y libgl1\n").unwrap();

    let t = server.cli_json(&[
        "task",
        "create",
        "--project",
        "cli/demo",
        "--name",
        "train",
        "--type",
        "testing",
        "--repo",
        "https://example.invalid/r.git",
        "--branch",
        "dev",
        "--code-file",
        code.to_str().unwrap(),
        "--binary",
        "python3",
        "--workdir",
        "src",
        "--arg",
        "lr=0.1",
        "--arg",
        "epochs=3",
        "--env",
        "SEED=7",
        "--requirements",
        reqs.to_str().unwrap(),
        "--docker-image",
        "python:3.11",
        "--docker-args",
        "--shm-size=1g",
        "--startup-script",
        startup.to_str().unwrap(),
        "--output-uri",
        "file:///out",
        "--tag",
        "cli",
    ]);
    let id = t["id"].as_str().unwrap().to_string();
    assert_eq!(t["status"], "created");
    assert_eq!(t["type"], "testing");
    assert_eq!(t["project_name"], "cli/demo");
    assert_eq!(t["script"]["entry_kind"], "code");
    assert_eq!(t["script"]["entry_point"], "job.py");
    assert_eq!(t["script"]["code"], "print('hi')\n");
    assert_eq!(t["script"]["branch"], "dev");
    assert_eq!(t["script"]["requirements"], "numpy==2.1\n");
    assert_eq!(t["hyperparams"]["Args"]["lr"]["value"], "0.1");
    assert_eq!(t["environment"]["variables"]["SEED"], "7");
    assert_eq!(t["container"]["image"], "python:3.11");
    assert_eq!(t["container"]["arguments"], "--shm-size=1g");
    assert_eq!(t["execution"]["output_uri"], "file:///out");
    assert_eq!(t["tags"], serde_json::json!(["cli"]));

    let queued = server.cli_json(&[
        "task",
        "create",
        "--project",
        "cli",
        "--name",
        "queued",
        "--module",
        "pkg.main",
        "--queue",
        "default",
    ]);
    assert_eq!(queued["status"], "queued");
    let qid = queued["id"].as_str().unwrap().to_string();

    let list = server.cli_json(&["task", "list", "--project", "cli"]);
    assert_eq!(list["total"], 2);
    let list = server.cli_json(&["task", "list", "--project", "cli", "--status", "Pending"]);
    assert_eq!(list["rows"][0]["id"], qid.as_str());

    // A batch where one task is refused exits 1 and names the reason.
    let out = server.cli(&["task", "dequeue", &id, &qid]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("skipped") && text.contains("Draft is not a valid state for dequeue"), "{text}");
    let r = server.cli_json(&["task", "enqueue", &qid, &id, "--queue", "default"]);
    assert_eq!(r["succeeded"], 2);

    let out = server.cli(&["task", "tag", &id, "--add", "a", "--add", "b", "--remove", "cli"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(server.cli_json(&["task", "show", &id])["tags"], serde_json::json!(["a", "b"]));
    let r = server.cli_json(&["task", "clone", &id, "--name", "copy"]);
    let copy = r["results"][0]["new_id"].as_str().unwrap().to_string();
    assert_eq!(server.cli_json(&["task", "show", &copy])["parent"], id.as_str());
    server.cli_json(&["task", "move", &copy, "--project", "cli/other"]);
    server.cli_json(&["task", "archive", &copy]);
    assert_eq!(server.cli_json(&["task", "list", "--archived"])["total"], 1);
    server.cli_json(&["task", "delete", &copy]);

    // Plain output is an aligned table.
    let out = server.cli(&["task", "list", "--project", "cli"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let header = text.lines().next().unwrap();
    assert!(header.contains("ID") && header.contains("STATUS") && header.contains("PROJECT"), "{text}");

    // The table's query model: filters, sort, columns, CSV; a bad filter names the flag.
    let list = server.cli_json(&[
        "task",
        "list",
        "--project",
        "cli",
        "--filter",
        "tags any a,!zzz",
        "--sort",
        "-name",
        "--columns",
        "name,tags",
    ]);
    assert_eq!(list["columns"], serde_json::json!(["name", "tags"]));
    assert_eq!(list["rows"][0]["values"], serde_json::json!(["train", ["a", "b"]]), "{list}");
    let csv = server.data_dir.join("tasks.csv");
    let out = server.cli(&[
        "task",
        "list",
        "--project",
        "cli",
        "--columns",
        "name",
        "--sort",
        "name",
        "--csv",
        csv.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), "name\nqueued\ntrain\n");
    let out = server.cli(&["task", "list", "--filter", "metric:loss<1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--filter"), "{}", describe(&out));

    let projects = server.cli_json(&["project", "list"]);
    assert!(projects.as_array().unwrap().iter().any(|p| p["name"] == "cli/demo"));
    server.cli_json(&["project", "create", "empty/one", "--description", "nothing yet"]);
    server.cli_json(&["queue", "create", "gpu"]);
    assert!(server.cli_json(&["queue", "list"]).as_array().unwrap().iter().any(|q| q["name"] == "gpu"));
    let user = server.cli_json(&["user", "create", "grace"]);
    let (ak, sk) = (user["access_key"].as_str().unwrap(), user["secret_key"].as_str().unwrap());
    let out = server.cli_as(ak, sk, &["--json", "task", "create", "--project", "cli", "--name", "by grace"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["user"], "grace");

    // Errors name the fix.
    let out = server.cli(&["task", "create", "--project", "cli", "--name", "x", "--arg", "novalue"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--arg takes KEY=VALUE"), "{}", describe(&out));
    let out = server.cli(&["task", "show", "0123456789abcdef0123456789abcdef"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no task"), "{}", describe(&out));
}
scenario!(cli_round_trip, super::cli_round_trip);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_without_credentials_says_how_to_configure() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let home = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(crate::harness::BIN)
        .args(["task", "list"])
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join(".config"))
        .env("RUNYARD_SERVER", &server.url)
        .env_remove("RUNYARD_ACCESS_KEY")
        .env_remove("RUNYARD_SECRET_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("runyard up"), "{}", describe(&out));
}

async fn restart_keeps_everything(mut server: TestServer) {
    let c = server.client();
    let t = crate::harness::tasks::draft(&c, "restart", "persisted").await;
    c.act(
        &t.id,
        runyard_api::Action::Enqueue,
        &runyard_api::ActionRequest { queue: Some("default".into()), ..Default::default() },
    )
    .await
    .unwrap();
    assert!(server.stop(), "SIGTERM gives a clean exit");
    server.spawn();
    let c = server.client();
    let back = c.get_task(&t.id).await.unwrap();
    assert_eq!(back.status, runyard_api::TaskStatus::Queued);
    assert_eq!(c.list_queues().await.unwrap().iter().find(|q| q.name == "default").unwrap().length, 1);
    assert_eq!(
        c.list_queues().await.unwrap().iter().filter(|q| q.name == "default").count(),
        1,
        "migrations and the default queue are idempotent"
    );
}
scenario!(restart_keeps_everything, super::restart_keeps_everything);
