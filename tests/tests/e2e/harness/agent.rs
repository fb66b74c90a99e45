//! The agent side of the scenarios: `runyard agent` processes, tasks of custom code, waiting for
//! a task's state, its console, and local wheels for venvs without a network.

use super::wait::{eventually, until_blocking};
use super::{describe, Backend, TestServer, ACCESS_KEY, BIN, SECRET_KEY};
use runyard_api::{Client, CreateTask, EntryKind, Script, Task, TaskStatus};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `runyard agent` process; killed on drop. Its log (warnings and errors) goes to a file,
/// printed should the scenario fail.
pub struct Agent {
    child: Child,
    log: std::path::PathBuf,
    pub cache: tempfile::TempDir,
}

impl Agent {
    pub fn start(server: &TestServer, name: &str, queue: &str, config: &str, env: &[(&str, &str)]) -> Agent {
        Self::start_in(tempfile::tempdir().expect("cache dir"), server, name, queue, config, env, &[])
    }

    /// An agent with extra flags, caching in `cache` (a restarted agent may reuse one).
    pub fn start_in(
        cache: tempfile::TempDir,
        server: &TestServer,
        name: &str,
        queue: &str,
        config: &str,
        env: &[(&str, &str)],
        extra: &[&str],
    ) -> Agent {
        let config_file = cache.path().join("agent.toml");
        std::fs::write(&config_file, config).expect("agent config");
        let log = cache.path().join("agent.log");
        let stderr = std::fs::OpenOptions::new().create(true).append(true).open(&log).expect("agent log");
        let child = Command::new(BIN)
            .args(["agent", "--queue", queue, "--name", name, "--config"])
            .arg(&config_file)
            .arg("--cache-dir")
            .arg(cache.path())
            .args(extra)
            .env("HOME", cache.path())
            .env("RUNYARD_SERVER", &server.url)
            .env("RUNYARD_ACCESS_KEY", ACCESS_KEY)
            .env("RUNYARD_SECRET_KEY", SECRET_KEY)
            .env("RUNYARD_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn agent");
        Agent { child, log, cache }
    }

    /// What the agent has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    pub fn signal(&self, signal: &str) {
        let _ = Command::new("kill").args([signal, &self.child.id().to_string()]).status();
    }

    pub fn wait_exit(&mut self, within: Duration) -> bool {
        until_blocking("the agent exits", within, || self.child.try_wait().expect("try_wait").is_some())
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- agent log ({}) ---\n{}", self.log.display(), self.log());
        }
    }
}

pub fn server() -> TestServer {
    TestServer::start_with(Backend::Sqlite, &[]).expect("server")
}

pub fn code_task(name: &str, file: &str, binary: &str, code: &str) -> CreateTask {
    CreateTask {
        name: name.into(),
        project: Some("agent".into()),
        queue: Some("default".into()),
        script: Script {
            entry_kind: EntryKind::Code,
            entry_point: Some(file.into()),
            binary: Some(binary.into()),
            code: Some(code.into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

pub async fn wait_for(c: &Client, id: &str, within: Duration, done: impl Fn(&Task) -> bool) -> Task {
    let deadline = std::time::Instant::now() + within;
    loop {
        let task = c.get_task(id).await.expect("get task");
        if done(&task) {
            return task;
        }
        assert!(std::time::Instant::now() < deadline, "task {id} still {:?} ({})", task.status, task.status_reason);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn finished(c: &Client, id: &str) -> Task {
    wait_for(c, id, Duration::from_secs(120), |t| {
        matches!(t.status, TaskStatus::Completed | TaskStatus::Failed | TaskStatus::Stopped)
    })
    .await
}

/// Queues `task`, waits for its end, and returns it with its console.
pub async fn run_to_end(c: &Client, task: &CreateTask) -> (Task, String) {
    let id = c.create_task(task).await.expect("create task").id;
    let t = finished(c, &id).await;
    (t, console(c, &id).await)
}

pub async fn console(c: &Client, id: &str) -> String {
    let page = c.console(id, &Default::default()).await.expect("console");
    page.entries.into_iter().map(|e| e.text).collect()
}

/// A pure-Python wheel, built by hand so no build backend (or network) is needed.
pub fn wheel(dir: &Path) {
    let py = format!(
        r#"
import zipfile, base64, hashlib
files = {{"tinypkg/__init__.py": "VERSION = '1.0'\n", "tinypkg/__main__.py": "print('tinypkg main')\n", "tinypkg-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: tinypkg\nVersion: 1.0\n",
  "tinypkg-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}}
rec = []
with zipfile.ZipFile("{}/tinypkg-1.0-py3-none-any.whl", "w") as z:
    for name, body in files.items():
        z.writestr(name, body)
        h = base64.urlsafe_b64encode(hashlib.sha256(body.encode()).digest()).rstrip(b"=").decode()
        rec.append(f"{{name}},sha256={{h}},{{len(body)}}")
    rec.append("tinypkg-1.0.dist-info/RECORD,,")
    z.writestr("tinypkg-1.0.dist-info/RECORD", "\n".join(rec) + "\n")
"#,
        dir.display()
    );
    let out = Command::new("python3").args(["-c", &py]).output().expect("python3");
    assert!(out.status.success(), "wheel: {}", describe(&out));
}

/// Whether a process still runs (a zombie waiting for a reaper does not).
pub fn alive(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'),
        Err(_) => false,
    }
}

pub async fn wait_file(path: &Path) -> String {
    let what = format!("{} is written whole", path.display());
    eventually(&what, Duration::from_secs(30), || async {
        std::fs::read_to_string(path).ok().filter(|t| t.ends_with('\n')).map(|t| t.trim().to_string())
    })
    .await
}

/// Runs git in `dir` (a throwaway identity, local file transport allowed); its output.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "init.defaultBranch=main",
            "-c",
            "protocol.file.allow=always",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(out.status.success(), "git {args:?}: {}", describe(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
