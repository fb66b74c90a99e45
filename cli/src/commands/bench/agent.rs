//! `runyard bench agent [--docker IMAGE]`: a real daemon and a real agent process on this
//! machine. How long from enqueue to the task's process running (warm git cache, cached venv),
//! how long a printed line takes to be readable through the API, how long an abort takes, and
//! what an idle agent costs.

use super::{cpu_seconds, median, percentile, rss_mib, DaemonProcess, BENCH_KEY, BENCH_SECRET};
use anyhow::{bail, Context, Result};
use clap::Args;
use runyard_api::{Client, ConsoleQuery, CreateTask, Script, TaskStatus};
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Args)]
pub struct AgentArgs {
    /// Tasks timed from enqueue to their process running.
    #[arg(long, default_value_t = 20)]
    samples: usize,
    /// Lines printed (10 a second) for the console latency figure.
    #[arg(long, default_value_t = 100)]
    lines: usize,
    /// Seconds the idle agent is watched.
    #[arg(long, default_value_t = 10)]
    idle_seconds: u64,
    /// Aborts timed (abort -> task Aborted, its process or container gone).
    #[arg(long, default_value_t = 5)]
    aborts: usize,
    /// Docker mode: run the tasks in containers of this image (it needs python3).
    #[arg(long, value_name = "IMAGE")]
    docker: Option<String>,
    /// Print the results as JSON.
    #[arg(long)]
    json: bool,
}

/// An agent child process, killed on drop.
struct AgentProcess(Child);

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn git(dir: &Path, args: &[&str]) -> Result<()> {
    let out = Command::new("git")
        .args(["-c", "user.name=bench", "-c", "user.email=bench@localhost", "-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(dir)
        .output()
        .context("git is needed for this benchmark")?;
    if !out.status.success() {
        bail!("git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// A repository whose entry point records when it started (wall clock, ns) and can print
/// timestamped lines.
fn repository(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    git(dir, &["init", "-q"])?;
    let script = "import os, sys, time\n\
                  t = time.time_ns()\n\
                  open(os.environ['BENCH_OUT'], 'w').write(str(t))\n\
                  for i in range(int(os.environ.get('BENCH_LINES', '0'))):\n\
                  \x20   print('line', i, time.time_ns(), flush=True)\n\
                  \x20   time.sleep(0.1)\n\
                  time.sleep(float(os.environ.get('BENCH_SLEEP', '0')))\n";
    std::fs::write(dir.join("main.py"), script)?;
    git(dir, &["add", "."])?;
    git(dir, &["commit", "-qm", "bench"])?;
    Ok(())
}

fn task(repo: &Path, name: &str, out: &Path, lines: usize, docker: bool) -> CreateTask {
    let mut t = CreateTask {
        name: name.into(),
        project: Some("bench".into()),
        queue: Some("default".into()),
        script: Script {
            repository: Some(repo.display().to_string()),
            entry_point: Some("main.py".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    t.environment.variables.insert("BENCH_OUT".into(), out.display().to_string());
    t.environment.variables.insert("BENCH_LINES".into(), lines.to_string());
    if docker {
        // The start-time file lives beside the repository, on the host.
        let dir = out.parent().unwrap_or(out).display().to_string();
        t.container.arguments = Some(format!("-v {dir}:{dir}"));
    }
    t
}

fn now_ns() -> i128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i128).unwrap_or(0)
}

async fn wait_done(c: &Client, id: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let t = c.get_task(id).await?;
        match t.status {
            TaskStatus::Completed => return Ok(()),
            TaskStatus::Failed | TaskStatus::Stopped => bail!("task {id} ended {:?}: {}", t.status, t.status_message),
            _ if Instant::now() > deadline => bail!("task {id} did not finish"),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

pub async fn run(a: AgentArgs) -> Result<ExitCode> {
    if a.samples == 0 || a.lines == 0 {
        bail!("--samples and --lines must be at least 1");
    }
    let daemon = DaemonProcess::start(None)?;
    let work = tempfile::tempdir()?;
    let repo = work.path().join("repo");
    repository(&repo)?;
    let docker = a.docker.is_some();
    std::fs::write(work.path().join("agent.toml"), "git_allow_local = true\n")?;
    let agent = AgentProcess(
        Command::new(std::env::current_exe()?)
            .args(["agent", "--queue", "default", "--name", "bench-agent", "--cache-dir"])
            .arg(work.path().join("cache"))
            .arg("--config")
            .arg(work.path().join("agent.toml"))
            .args(a.docker.iter().flat_map(|image| ["--docker", image.as_str()]))
            .env("RUNYARD_SERVER", &daemon.url)
            .env("RUNYARD_ACCESS_KEY", BENCH_KEY)
            .env("RUNYARD_SECRET_KEY", BENCH_SECRET)
            .env("RUNYARD_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()?,
    );
    let c = Client::new(&daemon.url, BENCH_KEY, BENCH_SECRET);
    let out = work.path().join("started");

    // Warm-up: clones the repository into the cache and builds the venv.
    let warm = c.create_task(&task(&repo, "warm-up", &out, 0, docker)).await?;
    wait_done(&c, &warm.id).await?;

    let mut starts = Vec::with_capacity(a.samples);
    for i in 0..a.samples {
        let _ = std::fs::remove_file(&out);
        let sent = now_ns();
        let t = c.create_task(&task(&repo, &format!("start {i}"), &out, 0, docker)).await?;
        wait_done(&c, &t.id).await?;
        let started: i128 = std::fs::read_to_string(&out)?.trim().parse()?;
        starts.push((started - sent) as f64 / 1e6);
    }
    eprintln!("enqueue -> process running: p50 {:.1} ms over {} tasks", median(starts.clone()), starts.len());

    // Console latency: each line carries the time it was printed; follow the console live.
    let t = c.create_task(&task(&repo, "console", &out, a.lines, docker)).await?;
    let mut q = ConsoleQuery { limit: Some(10_000), wait_seconds: Some(10.0), ..Default::default() };
    let mut delays = Vec::with_capacity(a.lines);
    while delays.len() < a.lines {
        let page = c.console(&t.id, &q).await?;
        let arrived = now_ns();
        for entry in &page.entries {
            for line in entry.text.lines().filter(|l| l.starts_with("line ")) {
                let printed: i128 = line.rsplit(' ').next().unwrap_or("0").parse().unwrap_or(arrived);
                delays.push((arrived - printed) as f64 / 1e6);
            }
        }
        q.after = Some(page.last);
        if page.entries.is_empty() && !matches!(page.status, TaskStatus::Queued | TaskStatus::InProgress) {
            bail!("the console task ended after {} of {} lines", delays.len(), a.lines);
        }
    }
    wait_done(&c, &t.id).await?;
    let (c50, c99) = (percentile(delays.clone(), 50.0), percentile(delays.clone(), 99.0));
    eprintln!("printed line -> readable through the API: p50 {c50:.0} ms, p99 {c99:.0} ms");

    // Abort -> the task is Aborted (its process or container is gone before the agent says so).
    let mut aborts = Vec::with_capacity(a.aborts);
    for i in 0..a.aborts {
        let _ = std::fs::remove_file(&out);
        let mut t = task(&repo, &format!("abort {i}"), &out, 0, docker);
        t.environment.variables.insert("BENCH_SLEEP".into(), "300".into());
        let t = c.create_task(&t).await?;
        while !out.exists() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let asked = Instant::now();
        c.act(&t.id, runyard_api::Action::Abort, &Default::default()).await?;
        loop {
            if c.get_task(&t.id).await?.status == TaskStatus::Stopped {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        aborts.push(asked.elapsed().as_secs_f64() * 1000.0);
    }
    let abort_p50 = if aborts.is_empty() { 0.0 } else { median(aborts.clone()) };
    eprintln!("abort -> Aborted: p50 {abort_p50:.0} ms over {} tasks", aborts.len());

    // The idle agent: long-polling, nothing to do.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pid = agent.0.id();
    let cpu0 = cpu_seconds(pid)?;
    tokio::time::sleep(Duration::from_secs(a.idle_seconds)).await;
    let cpu = (cpu_seconds(pid)? - cpu0) / a.idle_seconds as f64 * 100.0;
    let rss = rss_mib(pid)?;

    let p50 = median(starts.clone());
    if a.json {
        let out = serde_json::json!({
            "enqueue_to_process_ms": { "p50": p50, "p99": percentile(starts.clone(), 99.0), "samples": starts.len() },
            "console_latency_ms": { "p50": c50, "p99": c99, "lines": delays.len() },
            "abort_to_aborted_ms": { "p50": abort_p50, "samples": aborts.len() },
            "idle_agent": { "cpu_percent": cpu, "rss_mib": rss },
            "docker": a.docker,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("enqueue -> process running (warm cache, cached venv)  p50 {p50:.1} ms");
        println!("printed line -> readable via the API          p50 {c50:.0} ms  p99 {c99:.0} ms");
        println!("abort -> Aborted (process/container gone)      p50 {abort_p50:.0} ms");
        println!("idle agent                                    CPU {cpu:.2}% of one core, RSS {rss:.1} MiB");
    }
    Ok(ExitCode::SUCCESS)
}
