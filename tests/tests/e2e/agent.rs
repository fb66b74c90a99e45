//! The agent as a real process against a real daemon: git repositories made here, real venvs
//! with packages from a local wheel directory (no network), real process groups. The agent does
//! not care which database the daemon uses, so these run on SQLite only.

use crate::harness::agent::{
    alive, code_task, console, finished, git, run_to_end, server, wait_file, wait_for, wheel, Agent,
};
use crate::harness::wait::{request_under_way, until};
use crate::harness::{describe, TestServer, ACCESS_KEY, BIN, SECRET_KEY};
use runyard_api::{Action, ActionRequest, Client, CreateTask, EntryKind, Param, Script, TaskStatus};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A repository with two commits on main, a tag on the first, a branch, and a submodule.
fn repository(root: &Path) -> (PathBuf, String) {
    let sub = root.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    git(&sub, &["init", "-q"]);
    std::fs::write(sub.join("lib.txt"), "from the submodule\n").unwrap();
    git(&sub, &["add", "."]);
    git(&sub, &["commit", "-qm", "sub"]);
    let repo = root.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q"]);
    std::fs::write(repo.join("show.sh"), "cat version.txt\ncat sub/lib.txt 2>/dev/null || true\n").unwrap();
    std::fs::write(repo.join("version.txt"), "v1\n").unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "one"]);
    let first = git(&repo, &["rev-parse", "HEAD"]);
    git(&repo, &["tag", "release-1"]);
    std::fs::write(repo.join("version.txt"), "v2\n").unwrap();
    git(&repo, &["-c", "protocol.file.allow=always", "submodule", "add", "-q", sub.to_str().unwrap(), "sub"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "two"]);
    git(&repo, &["checkout", "-qb", "feature"]);
    std::fs::write(repo.join("version.txt"), "feature\n").unwrap();
    git(&repo, &["commit", "-qam", "feature"]);
    git(&repo, &["checkout", "-q", "main"]);
    (repo, first)
}

fn repo_task(name: &str, repo: &Path, set: impl FnOnce(&mut Script)) -> CreateTask {
    let mut script = Script {
        repository: Some(repo.to_str().unwrap().into()),
        entry_point: Some("show.sh".into()),
        binary: Some("bash".into()),
        ..Default::default()
    };
    set(&mut script);
    CreateTask {
        name: name.into(),
        project: Some("agent".into()),
        queue: Some("default".into()),
        script,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_tasks_args_env_output_and_exit_codes() {
    let server = server();
    let c = server.client();
    let _agent = Agent::start(&server, "shell-agent", "default", "", &[]);
    let script = "echo \"task $RUNYARD_TASK_ID clearml $CLEARML_TASK_ID greeting $GREETING args $*\"\n\
                  for i in 1 2 3; do printf '\\r%d%%' $((i * 33)); sleep 0.1; done; echo\n\
                  echo to-stderr >&2\nexit ${CODE:-0}\n";
    let mut ok = code_task("ok", "job.sh", "bash", script);
    ok.environment.variables.insert("GREETING".into(), "hi".into());
    ok.hyperparams.insert(
        "Args".into(),
        BTreeMap::from([("lr".to_string(), Param { value: "0.1".into(), ..Default::default() })]),
    );
    let ok = c.create_task(&ok).await.unwrap().id;
    // Followed from before it runs: `task log --follow` ends when the task does.
    let follow = {
        let (url, id) = (server.url.clone(), ok.clone());
        std::thread::spawn(move || {
            Command::new(BIN)
                .args(["task", "log", "--follow", &id])
                .env("RUNYARD_SERVER", url)
                .env("RUNYARD_ACCESS_KEY", ACCESS_KEY)
                .env("RUNYARD_SECRET_KEY", SECRET_KEY)
                .output()
                .expect("task log --follow")
        })
    };
    let mut bad = code_task("bad", "job.sh", "bash", script);
    bad.environment.variables.insert("CODE".into(), "3".into());
    let bad = c.create_task(&bad).await.unwrap().id;

    let done = finished(&c, &ok).await;
    assert_eq!(done.status, TaskStatus::Completed, "{}", console(&c, &ok).await);
    assert_eq!(done.worker.as_deref(), Some("shell-agent"));
    let out = console(&c, &ok).await;
    assert!(out.contains(&format!("task {ok} clearml {ok} greeting hi args --lr 0.1")), "{out}");
    // The progress bar is collapsed to its last state, stderr is in the same stream.
    assert!(out.contains("\n99%\nto-stderr\n"), "{out}");
    assert!(!out.contains("33%"), "{out}");

    let failed = finished(&c, &bad).await;
    assert_eq!(failed.status, TaskStatus::Failed);
    assert_eq!(failed.status_reason, "exit code 3");

    // `task log` prints the same console.
    let out = server.cli(&["task", "log", &ok]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("greeting hi"));
    let followed = follow.join().unwrap();
    assert!(followed.status.success(), "{}", describe(&followed));
    assert_eq!(String::from_utf8_lossy(&followed.stdout), String::from_utf8_lossy(&out.stdout));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_refs_diff_submodule_and_bad_ref() {
    let server = server();
    let c = server.client();
    let root = tempfile::tempdir().unwrap();
    let (repo, first) = repository(root.path());
    let _agent = Agent::start(&server, "git-agent", "default", "git_allow_local = true\n", &[]);

    let default = c.create_task(&repo_task("default", &repo, |_| {})).await.unwrap().id;
    let branch = c.create_task(&repo_task("branch", &repo, |s| s.branch = Some("feature".into()))).await.unwrap().id;
    let tag = c.create_task(&repo_task("tag", &repo, |s| s.tag = Some("release-1".into()))).await.unwrap().id;
    let commit = c.create_task(&repo_task("commit", &repo, |s| s.commit = Some(first.clone()))).await.unwrap().id;
    std::fs::write(repo.join("version.txt"), "patched\n").unwrap();
    let diff = git(&repo, &["diff"]) + "\n";
    git(&repo, &["checkout", "--", "version.txt"]);
    let patched = c.create_task(&repo_task("diff", &repo, |s| s.diff = Some(diff))).await.unwrap().id;
    let bad = c.create_task(&repo_task("bad", &repo, |s| s.branch = Some("nope".into()))).await.unwrap().id;

    for (id, expect) in [
        (&default, "v2\nfrom the submodule\n"),
        (&branch, "feature\n"),
        (&tag, "v1\n"),
        (&commit, "v1\n"),
        (&patched, "patched\n"),
    ] {
        let t = finished(&c, id).await;
        let out = console(&c, id).await;
        assert_eq!(t.status, TaskStatus::Completed, "{}: {out}", t.name);
        assert!(out.contains(expect), "{}: {out}", t.name);
    }
    let t = finished(&c, &bad).await;
    assert_eq!(t.status, TaskStatus::Failed);
    assert_eq!(t.status_reason, "code checkout failed");
    assert!(t.status_message.contains("has no branch 'nope'"), "{}", t.status_message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_venv_from_local_wheels_is_cached_and_pip_failures_fail() {
    let server = server();
    let c = server.client();
    let wheels = tempfile::tempdir().unwrap();
    wheel(wheels.path());
    let links = wheels.path().to_str().unwrap();
    let _agent = Agent::start(&server, "py-agent", "default", "", &[("PIP_NO_INDEX", "1"), ("PIP_FIND_LINKS", links)]);
    let code = "import sys, tinypkg\nprint('tinypkg', tinypkg.VERSION, 'in', sys.prefix)\n";
    let mut first = code_task("first", "main.py", "python3", code);
    first.script.requirements = Some("tinypkg==1.0\n".into());
    let (t, out) = run_to_end(&c, &first).await;
    assert_eq!(t.status, TaskStatus::Completed, "{out}");
    assert!(out.contains("tinypkg 1.0 in"), "{out}");
    assert!(out.contains("building the environment"), "{out}");

    // Same requirements: the cached venv, pip not run at all.
    let mut second = code_task("second", "main.py", "python3", code);
    second.script.requirements = Some("tinypkg==1.0\n".into());
    let (t, out) = run_to_end(&c, &second).await;
    assert_eq!(t.status, TaskStatus::Completed, "{out}");
    assert!(out.contains("environment cache hit"), "{out}");
    assert!(!out.contains("pip install"), "{out}");

    // A module task in the same environment.
    let mut module = code_task("module", "unused.py", "python3", "");
    module.script = Script {
        entry_kind: EntryKind::Module,
        entry_point: Some("tinypkg".into()),
        requirements: Some("tinypkg==1.0\n".into()),
        ..Default::default()
    };
    module.hyperparams.clear();
    let (t, out) = run_to_end(&c, &module).await;
    assert_eq!(t.status, TaskStatus::Completed, "{out}");
    assert!(out.contains("tinypkg main"), "{out}");

    // A requirement that cannot be installed fails the task, pip's output in the console.
    let mut broken = code_task("broken", "main.py", "python3", code);
    broken.script.requirements = Some("no-such-package-anywhere==9\n".into());
    let (t, out) = run_to_end(&c, &broken).await;
    assert_eq!(t.status, TaskStatus::Failed, "{out}");
    assert_eq!(t.status_reason, "environment set-up failed");
    assert!(out.contains("no-such-package-anywhere"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_stops_the_whole_process_group_and_agent_stop_aborts() {
    let server = server();
    let c = server.client();
    let mut agent = Agent::start(&server, "abort-agent", "default", "abort_grace_seconds = 2\n", &[]);
    let pids = tempfile::tempdir().unwrap();
    // The task ignores SIGTERM, so the grace period runs out and SIGKILL follows.
    let script = format!(
        "trap '' TERM\nsleep 300 &\necho \"$$ $!\" > {}/pids.tmp && mv {0}/pids.tmp {0}/pids\necho started\nwait\n",
        pids.path().display()
    );
    let id = c.create_task(&code_task("sleeper", "job.sh", "bash", &script)).await.unwrap().id;
    let group = wait_file(&pids.path().join("pids")).await;
    let asked = Instant::now();
    c.act(&id, Action::Abort, &ActionRequest::default()).await.unwrap();
    let t = finished(&c, &id).await;
    assert_eq!(t.status, TaskStatus::Stopped);
    assert!(asked.elapsed() < Duration::from_secs(8), "abort took {:?}", asked.elapsed());
    for pid in group.split_whitespace() {
        assert!(!alive(pid), "process {pid} outlived the abort");
    }
    assert!(console(&c, &id).await.contains("killed after the grace period"));

    // Stopping the agent aborts its running task: never completed.
    std::fs::remove_file(pids.path().join("pids")).unwrap();
    let polite =
        format!("sleep 300 &\necho \"$$ $!\" > {}/pids.tmp && mv {0}/pids.tmp {0}/pids\nwait\n", pids.path().display());
    let id = c.create_task(&code_task("polite", "job.sh", "bash", &polite)).await.unwrap().id;
    let group = wait_file(&pids.path().join("pids")).await;
    agent.signal("-TERM");
    assert!(agent.wait_exit(Duration::from_secs(20)), "the agent did not stop");
    let t = finished(&c, &id).await;
    assert_eq!(t.status, TaskStatus::Stopped);
    assert_eq!(t.status_reason, "the agent was stopped");
    for pid in group.split_whitespace() {
        assert!(!alive(pid), "process {pid} outlived the agent");
    }
    assert!(c.list_workers().await.unwrap().iter().all(|w| w.id != "abort-agent"), "the worker stayed registered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_agent_loses_its_task_and_two_agents_share_a_queue() {
    let server = server();
    let c = server.client();
    let config = "worker_timeout_seconds = 2\n";
    let doomed = Agent::start(&server, "doomed", "default", config, &[]);
    let id = c.create_task(&code_task("long", "job.sh", "bash", "echo running\nsleep 300\n")).await.unwrap().id;
    wait_for(&c, &id, Duration::from_secs(30), |t| t.status == TaskStatus::InProgress).await;
    doomed.signal("-KILL");
    let t = wait_for(&c, &id, Duration::from_secs(30), |t| t.status != TaskStatus::InProgress).await;
    assert_eq!(t.status, TaskStatus::Stopped);
    assert_eq!(t.status_reason, "worker lost");

    let _a = Agent::start(&server, "left", "default", "", &[]);
    let _b = Agent::start(&server, "right", "default", "", &[]);
    let mut ids = Vec::new();
    for i in 0..6 {
        let t = code_task(&format!("shared {i}"), "job.sh", "bash", "sleep 0.3\necho done\n");
        ids.push(c.create_task(&t).await.unwrap().id);
    }
    let mut workers = std::collections::HashSet::new();
    for id in &ids {
        let t = finished(&c, id).await;
        assert_eq!(t.status, TaskStatus::Completed);
        // Each ran exactly once: one start line in its console.
        assert_eq!(console(&c, id).await.matches("running task").count(), 1);
        workers.insert(t.worker.unwrap());
    }
    assert_eq!(workers.len(), 2, "both agents took tasks: {workers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_runs_its_hint_and_the_demo() {
    let home = tempfile::tempdir().unwrap();
    let mut up = Command::new(BIN)
        .args(["up", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(home.path().join("data"))
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join(".config"))
        .env("XDG_CACHE_HOME", home.path().join(".cache"))
        .env("RUNYARD_LOG", "warn")
        .env_remove("RUNYARD_ACCESS_KEY")
        .env_remove("RUNYARD_SECRET_KEY")
        .stdout(Stdio::piped())
        .spawn()
        .expect("runyard up");
    let stdout = up.stdout.take().unwrap();
    // Stopped on every way out, a failed assertion included.
    struct Up(std::process::Child);
    impl Drop for Up {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut up = Up(up);
    let mut line = String::new();
    let mut stdout = std::io::BufReader::new(stdout);
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    let url = line.trim().strip_prefix("Runyard is up at ").unwrap_or_else(|| panic!("{line}")).to_string();
    // The CLI config `up` wrote is all a user needs.
    let cli = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join(".config"))
            .env_remove("RUNYARD_SERVER")
            .env_remove("RUNYARD_ACCESS_KEY")
            .env_remove("RUNYARD_SECRET_KEY")
            .output()
            .unwrap()
    };
    // The hint `up` prints runs as printed, on a machine with nothing but python3.
    let hint = loop {
        line.clear();
        assert!(std::io::BufRead::read_line(&mut stdout, &mut line).unwrap() > 0, "up printed no hint");
        if let Some(command) = line.trim().strip_prefix("Try: runyard ") {
            break command.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        }
    };
    let mut args = vec!["--json"];
    args.extend(hint.iter().map(String::as_str));
    let out = cli(&args);
    assert!(out.status.success(), "{}", describe(&out));
    let id = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["id"].as_str().unwrap().to_string();
    let creds: toml::Value =
        toml::from_str(&std::fs::read_to_string(home.path().join(".config/runyard/config.toml")).unwrap()).unwrap();
    let c = Client::new(&url, creds["access_key"].as_str().unwrap(), creds["secret_key"].as_str().unwrap());
    let t = finished(&c, &id).await;
    assert_eq!(t.status, TaskStatus::Completed, "{}", console(&c, &id).await);
    let metrics = c.task_metrics(&id).await.unwrap();
    let losses: Vec<&str> = metrics.scalars.iter().filter(|s| s.metric == "loss").map(|s| s.variant.as_str()).collect();
    assert_eq!(losses, ["train", "validation"], "{metrics:?}");
    assert_eq!(metrics.single_values[0].name, "accuracy");
    assert_eq!(metrics.plots["fit"], ["validation"]);
    let out = cli(&["task", "log", &id]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("done: w="), "{}", describe(&out));

    // The demo: a sweep run for real, one run failed, one aborted, one still queued.
    let out = cli(&["demo", "--wait"]);
    assert!(out.status.success(), "{}", describe(&out));
    // Its leaderboard: printed as the web UI's address, saved as the project's view.
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains(&format!("Open the leaderboard: {url}/projects/")), "{printed}");
    let views = c.list_views("demo").await.expect("the demo's views");
    assert_eq!(views.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(), ["leaderboard"]);
    let q = runyard_api::TaskQuery { project: Some("demo".into()), ..Default::default() };
    let demo = c.list_tasks(&q).await.unwrap().tasks;
    let mut statuses: Vec<String> = demo.iter().map(|t| t.status.to_string()).collect();
    statuses.sort();
    let mut expected = vec!["completed"; 9];
    expected.extend(["failed", "queued", "stopped"]);
    expected.sort();
    assert_eq!(statuses, expected);
    assert!(demo.iter().all(|t| t.project_name.starts_with("demo/")), "in the demo's two subprojects");
    let _ = Command::new("kill").args(["-TERM", &up.0.id().to_string()]).status();
    assert!(up.0.wait().unwrap().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_bad_input_reset_and_follow() {
    let server = server();
    let c = server.client();
    let unknown = "0".repeat(32);
    let err =
        c.append_console(&unknown, &runyard_api::AppendConsole { text: "x".into(), time: None, attempt: None }).await;
    assert!(matches!(err, Err(runyard_api::ClientError::Api { status: 404, .. })), "{err:?}");
    let id = c.create_task(&code_task("quiet", "job.sh", "bash", "true\n")).await.unwrap().id;
    let err =
        c.append_console(&id, &runyard_api::AppendConsole { text: String::new(), time: None, attempt: None }).await;
    match err {
        Err(runyard_api::ClientError::Api { status: 400, detail }) => assert_eq!(detail.field.as_deref(), Some("text")),
        other => panic!("{other:?}"),
    }
    let q = runyard_api::ConsoleQuery { wait_seconds: Some(61.0), ..Default::default() };
    assert!(c.console(&id, &q).await.is_err());

    // A follower of a Pending task is woken by output, then by the end of the task.
    let follower = {
        let c = c.clone();
        let id = id.clone();
        tokio::spawn(async move {
            let q = runyard_api::ConsoleQuery { wait_seconds: Some(30.0), ..Default::default() };
            let started = Instant::now();
            let page = c.console(&id, &q).await.unwrap();
            (page, started.elapsed())
        })
    };
    request_under_way().await;
    c.append_console(&id, &runyard_api::AppendConsole { text: "line one\n".into(), time: None, attempt: None })
        .await
        .unwrap();
    let (page, waited) = follower.await.unwrap();
    assert_eq!(page.entries.len(), 1);
    assert_eq!(page.entries[0].text, "line one\n");
    assert!(waited < Duration::from_secs(5), "{waited:?}");

    // Reset (after an abort) empties the console.
    c.act(&id, Action::Dequeue, &ActionRequest::default()).await.unwrap();
    c.act(&id, Action::Started, &ActionRequest::default()).await.unwrap();
    c.act(&id, Action::Stopped, &ActionRequest::default()).await.unwrap();
    c.act(&id, Action::Reset, &ActionRequest::default()).await.unwrap();
    assert!(c.console(&id, &Default::default()).await.unwrap().entries.is_empty());
}

fn agent_cli(server: &TestServer, cache: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("agent")
        .args(args)
        .arg("--cache-dir")
        .arg(cache)
        .arg("--config")
        .arg(cache.join("agent.toml"))
        .env("HOME", cache)
        .env("RUNYARD_SERVER", &server.url)
        .env("RUNYARD_ACCESS_KEY", ACCESS_KEY)
        .env("RUNYARD_SECRET_KEY", SECRET_KEY)
        .env("RUNYARD_LOG", "warn")
        .output()
        .expect("runyard agent")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_detached_stop_and_preinstalled_venv() {
    let server = server();
    let c = server.client();
    let cache = tempfile::tempdir().unwrap();
    std::fs::write(cache.path().join("agent.toml"), "").unwrap();
    // A config file named on the command line must exist.
    let out = Command::new(BIN)
        .args(["agent", "--config", "/nonexistent/agent.toml"])
        .env("RUNYARD_ACCESS_KEY", ACCESS_KEY)
        .env("RUNYARD_SECRET_KEY", SECRET_KEY)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/nonexistent/agent.toml does not exist"),
        "{}",
        describe(&out)
    );

    // `agent execute` runs a Draft here, in the foreground, output on the terminal.
    let venv = cache.path().join("prevenv");
    let out = Command::new("python3").args(["-m", "venv"]).arg(&venv).output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let mut draft = code_task("here", "main.py", "python3", "import sys\nprint('prefix', sys.prefix)\n");
    draft.queue = None;
    draft.environment.preinstalled_venv = Some(venv.display().to_string());
    let id = c.create_task(&draft).await.unwrap().id;
    let out = agent_cli(&server, cache.path(), &["execute", "--task", &id]);
    assert!(out.status.success(), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("prefix {}", venv.display())), "{stdout}");
    assert_eq!(c.get_task(&id).await.unwrap().status, TaskStatus::Completed);
    assert!(console(&c, &id).await.contains("using the preinstalled venv"));

    // --detached, then --stop with the same name.
    let out = agent_cli(&server, cache.path(), &["--queue", "default", "--name", "bg", "--detached"]);
    assert!(out.status.success(), "{}", describe(&out));
    let registered = || async { c.list_workers().await.unwrap().iter().any(|w| w.id == "bg") };
    until("the detached agent registers", Duration::from_secs(20), registered).await;
    let again = agent_cli(&server, cache.path(), &["--queue", "default", "--name", "bg", "--detached"]);
    assert!(!again.status.success(), "a second agent with the same name started");
    let id = c.create_task(&code_task("bg task", "job.sh", "bash", "echo in the background\n")).await.unwrap().id;
    assert_eq!(finished(&c, &id).await.status, TaskStatus::Completed);
    let out = agent_cli(&server, cache.path(), &["--name", "bg", "--stop"]);
    assert!(out.status.success(), "{}", describe(&out));
    let gone = || async { !c.list_workers().await.unwrap().iter().any(|w| w.id == "bg") };
    until("the detached agent stops", Duration::from_secs(20), gone).await;
    let out = agent_cli(&server, cache.path(), &["--name", "bg", "--stop"]);
    assert!(!out.status.success(), "stopping a stopped agent should say so");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poetry_projects_install_into_a_cached_venv() {
    if !Command::new("poetry").arg("--version").output().is_ok_and(|o| o.status.success()) {
        assert!(
            std::env::var("RUNYARD_REQUIRE_POETRY").is_err(),
            "RUNYARD_REQUIRE_POETRY is set but there is no poetry"
        );
        eprintln!("skipped: no poetry");
        return;
    }
    let server = server();
    let c = server.client();
    let root = tempfile::tempdir().unwrap();
    let wheels = root.path().join("wheels");
    std::fs::create_dir_all(&wheels).unwrap();
    wheel(&wheels);
    let repo = root.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q"]);
    let project = format!(
        "[tool.poetry]\npackage-mode = false\n\n[tool.poetry.dependencies]\npython = \">=3.9\"\n\
         tinypkg = {{ path = \"{}/tinypkg-1.0-py3-none-any.whl\" }}\n",
        wheels.display()
    );
    std::fs::write(repo.join("pyproject.toml"), project).unwrap();
    std::fs::write(repo.join("main.py"), "import tinypkg\nprint('poetry gave tinypkg', tinypkg.VERSION)\n").unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "poetry"]);
    let _agent = Agent::start(&server, "poetry-agent", "default", "git_allow_local = true\n", &[("PIP_NO_INDEX", "1")]);
    let task = |name: &str| {
        let mut t = repo_task(name, &repo, |s| {
            s.entry_point = Some("main.py".into());
            s.binary = Some("python3".into());
        });
        t.environment.poetry = true;
        t
    };
    let (t, out) = run_to_end(&c, &task("first")).await;
    assert_eq!(t.status, TaskStatus::Completed, "{out}");
    assert!(out.contains("poetry gave tinypkg 1.0"), "{out}");
    let (t, out) = run_to_end(&c, &task("second")).await;
    assert_eq!(t.status, TaskStatus::Completed, "{out}");
    assert!(out.contains("environment cache hit"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outcome_the_daemon_missed_is_reported_by_the_next_start() {
    let mut server = server();
    let c = server.client();
    let agent = Agent::start(&server, "keeper", "default", "", &[]);
    let id = c.create_task(&code_task("outlives", "job.sh", "bash", "sleep 2\necho finished\n")).await.unwrap().id;
    wait_for(&c, &id, Duration::from_secs(30), |t| t.status == TaskStatus::InProgress).await;
    // The daemon dies; the task completes meanwhile and its outcome cannot be reported.
    server.kill();
    let mark = agent.cache.path().join("agent-keeper.running").join(&id);
    let written = || async {
        let recorded = std::fs::read(&mark).ok().and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
        recorded.is_some_and(|r| !r["outcome"].is_null())
    };
    until("the agent writes the outcome down", Duration::from_secs(30), written).await;
    let mut agent = agent;
    agent.signal("-KILL");
    agent.wait_exit(Duration::from_secs(5));
    let cache = std::mem::replace(&mut agent.cache, tempfile::tempdir().unwrap());
    // Both come back: the new agent reports what the old one could not.
    server.spawn();
    let c = server.client();
    let _agent = Agent::start_in(cache, &server, "keeper", "default", "", &[], &[]);
    let t = finished(&c, &id).await;
    assert_eq!(t.status, TaskStatus::Completed, "{}", t.status_reason);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outcome_is_retried_until_the_daemon_is_back() {
    let mut server = server();
    let c = server.client();
    let mut agent = Agent::start(&server, "patient", "default", "", &[]);
    let go = agent.cache.path().join("go");
    let script = format!("while [ ! -e '{}' ]; do sleep 0.05; done\necho finished\n", go.display());
    let id = c.create_task(&code_task("patient", "job.sh", "bash", &script)).await.unwrap().id;
    wait_for(&c, &id, Duration::from_secs(30), |t| t.status == TaskStatus::InProgress).await;
    // The daemon dies; the task ends meanwhile, and its outcome finds no one to take it.
    server.kill();
    std::fs::write(&go, "").unwrap();
    let retried = || async { agent.log().contains("the outcome did not reach the daemon") };
    until("the agent's report fails and is tried again", Duration::from_secs(30), retried).await;
    // The daemon is back where it was: the same agent, still trying, gets the outcome through.
    server.respawn_in_place();
    let t = finished(&server.client(), &id).await;
    assert_eq!(t.status, TaskStatus::Completed, "{}", t.status_reason);
    assert!(agent.is_running(), "the agent lived through the daemon's absence");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_task_gets_machine_use_series() {
    let server = server();
    let c = server.client();
    let _agent = Agent::start(&server, "monitor-agent", "default", "monitor_seconds = 1\n", &[]);
    let (task, out) = run_to_end(&c, &code_task("busy", "job.sh", "bash", "sleep 3.5\necho done\n")).await;
    assert_eq!(task.status, TaskStatus::Completed, "{out}");
    let metrics = c.task_metrics(&task.id).await.unwrap();
    let machine: Vec<&str> =
        metrics.scalars.iter().filter(|s| s.metric == ":monitor:machine").map(|s| s.variant.as_str()).collect();
    for variant in ["cpu_usage", "memory_used_gb", "memory_free_gb", "disk_free_percent", "network_rx_mbs"] {
        assert!(machine.contains(&variant), "{variant} in {machine:?}");
    }
    let cpu = metrics.scalars.iter().find(|s| s.variant == "cpu_usage").unwrap();
    assert!(cpu.count >= 2, "a point every second: {cpu:?}");
    assert!(cpu.last_iteration >= 2, "iterations count seconds since the start: {cpu:?}");
    assert!((0.0..=100.0 * 64.0).contains(&cpu.max.0), "{cpu:?}");
    let memory = metrics.scalars.iter().find(|s| s.variant == "memory_used_gb").unwrap();
    assert!(memory.last.0 > 0.0, "{memory:?}");
    // GPU series exist where the agent sees GPUs, each with its utilisation.
    let gpu: Vec<&str> =
        metrics.scalars.iter().filter(|s| s.metric == ":monitor:gpu").map(|s| s.variant.as_str()).collect();
    assert!(gpu.is_empty() || gpu.iter().any(|v| v.ends_with("_utilization")), "{gpu:?}");
}
