//! Docker mode against a real Docker Engine. No image can be pulled here: the tests build their
//! own from the host's busybox with `docker import`, once, and reuse it.

use crate::harness::agent::{code_task, console, finished, run_to_end, server, wait_for, Agent};
use crate::harness::wait::until;
use runyard_api::{Action, ActionRequest, TaskStatus};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const IMAGE: &str = "runyard-test/busybox:1";

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker").args(args).output().expect("docker CLI")
}

/// The busybox test image, built when missing; `None` (a skip) without a Docker Engine unless
/// `RUNYARD_REQUIRE_DOCKER=1` (CI sets it), which makes that a failure.
fn image() -> Option<&'static str> {
    static READY: OnceLock<bool> = OnceLock::new();
    let ready = *READY.get_or_init(|| {
        if !Command::new("docker").arg("info").output().is_ok_and(|o| o.status.success()) {
            assert!(
                std::env::var("RUNYARD_REQUIRE_DOCKER").is_err(),
                "RUNYARD_REQUIRE_DOCKER is set but no Docker Engine answers"
            );
            eprintln!("skipped: no Docker Engine");
            return false;
        }
        if docker(&["image", "inspect", IMAGE]).status.success() {
            return true;
        }
        let busybox = ["/bin/busybox", "/usr/bin/busybox"].into_iter().find(|p| std::path::Path::new(p).exists());
        let busybox = busybox.expect("busybox (busybox-static) is needed to build the test image");
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("bin")).unwrap();
        std::fs::create_dir_all(root.path().join("tmp")).unwrap();
        std::fs::copy(busybox, root.path().join("bin/busybox")).unwrap();
        for tool in [
            "sh", "echo", "cat", "sleep", "ls", "env", "printf", "true", "false", "kill", "mkdir", "rm", "touch",
            "test", "[",
        ] {
            std::os::unix::fs::symlink("busybox", root.path().join("bin").join(tool)).unwrap();
        }
        let script = format!("tar -C {} -c . | docker import - {IMAGE}", root.path().display());
        let out = Command::new("sh").args(["-c", &script]).output().unwrap();
        assert!(out.status.success(), "docker import: {}", crate::harness::describe(&out));
        true
    });
    ready.then_some(IMAGE)
}

const PYTHON_IMAGE: &str = "runyard-test/python:1";

/// A Debian image with python3 and venv, made with debootstrap from the machine's package
/// mirror (about two minutes) the first time, then reused.
fn python_image() -> Option<&'static str> {
    static READY: OnceLock<bool> = OnceLock::new();
    image()?;
    let ready = *READY.get_or_init(|| {
        if docker(&["image", "inspect", PYTHON_IMAGE]).status.success() {
            return true;
        }
        let root = tempfile::tempdir().unwrap();
        let mirror = std::env::var("RUNYARD_DEBIAN_MIRROR").unwrap_or_else(|_| "http://deb.debian.org/debian".into());
        let out = Command::new("debootstrap")
            .args(["--variant=minbase", "--include=python3,python3-venv", "bookworm"])
            .arg(root.path())
            .arg(&mirror)
            .output()
            .expect("debootstrap is needed to build the Python test image");
        assert!(out.status.success(), "debootstrap: {}", crate::harness::describe(&out));
        let script = format!("tar -C {} -c . | docker import - {PYTHON_IMAGE}", root.path().display());
        let out = Command::new("sh").args(["-c", &script]).output().unwrap();
        assert!(out.status.success(), "docker import: {}", crate::harness::describe(&out));
        true
    });
    ready.then_some(PYTHON_IMAGE)
}

fn containers_of(worker: &str) -> Vec<String> {
    let out = docker(&["ps", "-aq", "--filter", &format!("label=runyard.worker={worker}")]);
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_tasks_env_args_startup_script_and_failures() {
    let Some(image) = image() else { return };
    let server = server();
    let c = server.client();
    let _agent =
        Agent::start_in(tempfile::tempdir().unwrap(), &server, "dock", "default", "", &[], &["--docker", image]);

    let mut ok =
        code_task("ok", "job.sh", "sh", "echo \"args $* G=$G task=$RUNYARD_TASK_ID\"\ncat /tmp/setup\necho oops >&2\n");
    ok.environment.variables.insert("G".into(), "1".into());
    ok.hyperparams.insert(
        "Args".into(),
        [("lr".to_string(), runyard_api::Param { value: "0.1".into(), ..Default::default() })].into(),
    );
    ok.container.setup_script = Some("echo set up > /tmp/setup".into());
    ok.container.arguments = Some("-e EXTRA=2 --shm-size 64m".into());
    let (t, out) = run_to_end(&c, &ok).await;
    assert_eq!(t.status, TaskStatus::Completed, "{out}");
    assert!(out.contains(&format!("args --lr 0.1 G=1 task={}", t.id)), "{out}");
    assert!(out.contains("set up\n"), "{out}");
    assert!(out.contains("oops"), "{out}");
    assert!(containers_of("dock").is_empty(), "the container was not removed");

    let (t, out) = run_to_end(&c, &code_task("exit 5", "job.sh", "sh", "exit 5\n")).await;
    assert_eq!(t.status, TaskStatus::Failed, "{out}");
    assert_eq!(t.status_reason, "exit code 5");

    let mut missing = code_task("missing image", "job.sh", "sh", "true\n");
    missing.container.image = Some("runyard-test/no-such-image:404".into());
    let (t, out) = run_to_end(&c, &missing).await;
    assert_eq!(t.status, TaskStatus::Failed, "{out}");
    assert_eq!(t.status_reason, "image pull failed");
    assert!(t.status_message.contains("no-such-image"), "{}", t.status_message);

    let mut bad = code_task("bad argument", "job.sh", "sh", "true\n");
    bad.container.arguments = Some("--privileged".into());
    let (t, _) = run_to_end(&c, &bad).await;
    assert_eq!(t.status, TaskStatus::Failed);
    assert!(t.status_message.contains("'--privileged' is not supported"), "{}", t.status_message);

    // What reaches into the host is refused unless the operator allows it.
    for reach in ["-v /:/host", "-v /var/run/docker.sock:/var/run/docker.sock", "--cap-add SYS_ADMIN", "--ipc host"] {
        let mut t = code_task("reaching out", "job.sh", "sh", "touch /host/owned\n");
        t.container.arguments = Some(reach.into());
        let (t, _) = run_to_end(&c, &t).await;
        assert_eq!(t.status, TaskStatus::Failed, "{reach}");
        assert!(
            t.status_message.contains("allow") || t.status_message.contains("outside"),
            "{reach}: {}",
            t.status_message
        );
    }
    // And nothing in a container gains privileges.
    let (t, out) =
        run_to_end(&c, &code_task("privileges", "job.sh", "sh", "grep NoNewPrivs /proc/self/status\n")).await;
    assert_eq!(t.status, TaskStatus::Completed, "{out}");
    assert!(out.lines().any(|l| l.starts_with("NoNewPrivs:") && l.trim_end().ends_with('1')), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_removes_the_container_and_a_restarted_agent_cleans_up() {
    let Some(image) = image() else { return };
    let server = server();
    let c = server.client();
    let flags = ["--docker", image];
    let agent = Agent::start_in(
        tempfile::tempdir().unwrap(),
        &server,
        "crashy",
        "default",
        "abort_grace_seconds = 2\n",
        &[],
        &flags,
    );

    // Ignores SIGTERM: stopped after the grace period.
    let stubborn = code_task("stubborn", "job.sh", "sh", "trap '' TERM\necho waiting\nwhile true; do sleep 1; done\n");
    let id = c.create_task(&stubborn).await.unwrap().id;
    wait_for(&c, &id, Duration::from_secs(30), |t| t.status == TaskStatus::InProgress).await;
    until("the task prints", Duration::from_secs(30), || async { console(&c, &id).await.contains("waiting") }).await;
    let asked = Instant::now();
    c.act(&id, Action::Abort, &ActionRequest::default()).await.unwrap();
    let t = finished(&c, &id).await;
    assert_eq!(t.status, TaskStatus::Stopped);
    // Grace period (2 s) + 1 s, plus up to a second for the abort request to reach the agent,
    // and slack for a loaded machine (`bench agent --docker` measures the figure).
    assert!(asked.elapsed() < Duration::from_secs(6), "abort took {:?}", asked.elapsed());
    assert!(containers_of("crashy").is_empty(), "the container outlived the abort");

    // The agent dies while a container runs; its successor removes the leftover.
    let id = c.create_task(&code_task("orphan", "job.sh", "sh", "sleep 300\n")).await.unwrap().id;
    wait_for(&c, &id, Duration::from_secs(30), |t| t.status == TaskStatus::InProgress).await;
    until("a container starts", Duration::from_secs(20), || async { !containers_of("crashy").is_empty() }).await;
    agent.signal("-KILL");
    let cache = {
        let mut agent = agent;
        agent.wait_exit(Duration::from_secs(5));
        std::mem::replace(&mut agent.cache, tempfile::tempdir().unwrap())
    };
    assert_eq!(containers_of("crashy").len(), 1);
    let _successor = Agent::start_in(cache, &server, "crashy", "default", "", &[], &flags);
    let removed = || async { containers_of("crashy").is_empty() };
    until("the successor removes the leftover container", Duration::from_secs(20), removed).await;
    // Its task died with it: the successor's registration says so.
    let t = finished(&c, &id).await;
    assert_eq!((t.status, t.status_reason.as_str()), (TaskStatus::Stopped, "the agent restarted"));
}

/// A container whose agent dies ends within the worker timeout: it stops hearing the agent's
/// heartbeat and kills everything inside.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_does_not_outlive_its_agent() {
    let Some(image) = image() else { return };
    let server = server();
    let c = server.client();
    let config = "worker_timeout_seconds = 2\n";
    let agent =
        Agent::start_in(tempfile::tempdir().unwrap(), &server, "mayfly", "default", config, &[], &["--docker", image]);
    let id = c.create_task(&code_task("forever", "job.sh", "sh", "echo up\nsleep 300\n")).await.unwrap().id;
    wait_for(&c, &id, Duration::from_secs(30), |t| t.status == TaskStatus::InProgress).await;
    until("the task prints", Duration::from_secs(30), || async { console(&c, &id).await.contains("up") }).await;
    agent.signal("-KILL");
    let killed = Instant::now();
    let running = || {
        let out = docker(&["ps", "-q", "--filter", "label=runyard.worker=mayfly"]);
        !String::from_utf8_lossy(&out.stdout).trim().is_empty()
    };
    until("the container ends once its agent is gone", Duration::from_secs(10), || async { !running() }).await;
    assert!(killed.elapsed() < Duration::from_secs(2 + 3), "took {:?}", killed.elapsed());
    let t = wait_for(&c, &id, Duration::from_secs(30), |t| t.status != TaskStatus::InProgress).await;
    assert_eq!((t.status, t.status_reason.as_str()), (TaskStatus::Stopped, "worker lost"));
    for leftover in containers_of("mayfly") {
        docker(&["rm", "-f", &leftover]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_in_a_container_with_a_cached_venv() {
    let Some(image) = python_image() else { return };
    let server = server();
    let c = server.client();
    let wheels = tempfile::tempdir().unwrap();
    crate::harness::agent::wheel(wheels.path());
    let links = wheels.path().to_str().unwrap().to_string();
    let env = [("PIP_NO_INDEX", "1"), ("PIP_FIND_LINKS", links.as_str())];
    // The operator lets tasks mount the wheel directory, nothing else of the host.
    let config = format!("docker_allow_mounts = [\"{links}\"]\n");
    let _agent = Agent::start_in(
        tempfile::tempdir().unwrap(),
        &server,
        "pydock",
        "default",
        &config,
        &env,
        &["--docker", image],
    );
    let task = |name: &str| {
        let mut t = code_task(
            name,
            "main.py",
            "python3",
            "import sys, tinypkg\nprint('tinypkg', tinypkg.VERSION, sys.prefix)\n\
             try:\n    open(sys.prefix + '/poison', 'w')\n    print('venv writable')\n\
             except OSError:\n    print('venv read-only')\n",
        );
        t.script.requirements = Some("tinypkg==1.0\n".into());
        t.container.arguments = Some(format!("-v {links}:{links}:ro"));
        t
    };
    let (t, out) = run_to_end(&c, &task("first")).await;
    assert_eq!(t.status, TaskStatus::Completed, "{out}");
    assert!(out.contains("building the environment") && out.contains("tinypkg 1.0"), "{out}");
    assert!(out.contains("venv read-only"), "a task cannot change the environment others reuse: {out}");
    let (t, out) = run_to_end(&c, &task("second")).await;
    assert_eq!(t.status, TaskStatus::Completed, "{out}");
    assert!(out.contains("environment cache hit"), "{out}");
    assert!(!out.contains("pip install") && !out.contains("Processing"), "{out}");
    assert!(out.contains("venv read-only") && !out.contains("venv writable"), "{out}");

    // An image that holds its environment is used as it is.
    let (t, out) =
        run_to_end(&c, &code_task("plain", "main.py", "python3", "import sys\nprint('plain', sys.version_info[0])\n"))
            .await;
    assert_eq!(t.status, TaskStatus::Completed, "{out}");
    assert!(out.contains("plain 3") && !out.contains("building the environment"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_mode_runs_tasks_side_by_side() {
    let Some(image) = image() else { return };
    let server = server();
    let c = server.client();
    let flags = ["--docker", image, "--services-mode", "2"];
    let mut agent = Agent::start_in(tempfile::tempdir().unwrap(), &server, "services", "default", "", &[], &flags);
    let mut ids = Vec::new();
    for i in 0..2 {
        let t = code_task(&format!("service {i}"), "job.sh", "sh", "echo serving\nwhile true; do sleep 1; done\n");
        ids.push(c.create_task(&t).await.unwrap().id);
    }
    // Both run at once in their own containers.
    for id in &ids {
        wait_for(&c, id, Duration::from_secs(30), |t| t.status == TaskStatus::InProgress).await;
    }
    let side_by_side = || async { containers_of("services").len() >= 2 };
    until("two containers run side by side", Duration::from_secs(20), side_by_side).await;
    // One is aborted, the other goes on; stopping the agent aborts the rest.
    c.act(&ids[0], Action::Abort, &ActionRequest::default()).await.unwrap();
    assert_eq!(finished(&c, &ids[0]).await.status, TaskStatus::Stopped);
    assert_eq!(c.get_task(&ids[1]).await.unwrap().status, TaskStatus::InProgress);
    agent.signal("-TERM");
    assert!(agent.wait_exit(Duration::from_secs(30)), "the agent did not stop");
    let t = finished(&c, &ids[1]).await;
    assert_eq!((t.status, t.status_reason.as_str()), (TaskStatus::Stopped, "the agent was stopped"));
    assert!(containers_of("services").is_empty());
}
