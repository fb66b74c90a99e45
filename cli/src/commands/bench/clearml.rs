//! `runyard bench clearml`: the stock SDK's `Task.init` against the daemon (compared with the
//! SDK in offline mode, in the same run), and `events.add_batch` ingestion through the ClearML
//! API.

use super::{median, DaemonProcess, BENCH_KEY, BENCH_SECRET};
use anyhow::{bail, Context, Result};
use clap::Args;
use runyard_api::{Client, CreateTask};
use serde_json::json;
use std::process::{Command, ExitCode};
use std::time::Instant;

#[derive(Args)]
pub struct ClearmlArgs {
    /// A Python with the `clearml` SDK (default: RUNYARD_CLEARML_PYTHON, else python3).
    #[arg(long)]
    python: Option<String>,
    /// `Task.init` calls timed each way; medians are reported.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    #[arg(long, default_value_t = 8)]
    tasks: usize,
    #[arg(long, default_value_t = 10)]
    metrics: usize,
    #[arg(long, default_value_t = 10_000)]
    iterations: usize,
    /// Events per `events.add_batch` request.
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Benchmark against PostgreSQL (an empty database) instead of a fresh SQLite file.
    #[arg(long)]
    database_url: Option<String>,
}

const INIT: &str = "import time\nfrom clearml import Task\nstart = time.perf_counter()\n\
task = Task.init(project_name='bench', task_name='init', auto_connect_frameworks=False, auto_resource_monitoring=False)\n\
print('INIT_SECONDS', time.perf_counter() - start, flush=True)\ntask.close()\n";

/// Seconds one `Task.init` took, online against `url` or offline.
fn time_init(python: &str, url: &str, offline: bool) -> Result<f64> {
    let home = tempfile::tempdir()?;
    let script = home.path().join("init.py");
    std::fs::write(&script, INIT)?;
    let mut cmd = Command::new(python);
    cmd.arg(&script)
        .current_dir(home.path())
        .env("HOME", home.path())
        .env("CLEARML_API_HOST", format!("{url}/clearml"))
        .env("CLEARML_FILES_HOST", format!("{url}/files"))
        .env("CLEARML_WEB_HOST", url)
        .env("CLEARML_API_ACCESS_KEY", BENCH_KEY)
        .env("CLEARML_API_SECRET_KEY", BENCH_SECRET);
    if offline {
        cmd.env("CLEARML_OFFLINE_MODE", "1");
    }
    let out = cmd.output().with_context(|| format!("could not run {python}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let Some(seconds) = stdout.lines().find_map(|l| l.strip_prefix("INIT_SECONDS ")) else {
        bail!("Task.init did not finish: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    };
    Ok(seconds.trim().parse()?)
}

/// json-lines batches of `training_stats_scalar` events: each a task's metrics over
/// consecutive iterations.
fn batches(ids: &[String], metrics: usize, iterations: usize, batch: usize) -> Vec<String> {
    let per_batch = (batch / metrics).max(1);
    let t0 = chrono::Utc::now().timestamp_millis();
    let mut out = Vec::new();
    for id in ids {
        for start in (0..iterations).step_by(per_batch) {
            let mut lines = Vec::with_capacity(per_batch * metrics);
            for i in start..(start + per_batch).min(iterations) {
                for m in 0..metrics {
                    let value = ((i * (m + 1)) as f64).sin();
                    lines.push(
                        json!({"type": "training_stats_scalar", "task": id, "timestamp": t0 + i as i64,
                               "iter": i, "metric": format!("metric{m}"), "variant": "value", "value": value})
                        .to_string(),
                    );
                }
            }
            out.push(lines.join("\n"));
        }
    }
    out
}

pub async fn run(a: ClearmlArgs) -> Result<ExitCode> {
    if a.runs == 0 || a.clients == 0 || a.tasks == 0 || a.metrics == 0 || a.iterations == 0 || a.batch == 0 {
        bail!("--runs, --clients, --tasks, --metrics, --iterations and --batch must be at least 1");
    }
    let python = a.python.or_else(|| std::env::var("RUNYARD_CLEARML_PYTHON").ok()).unwrap_or_else(|| "python3".into());
    let daemon = DaemonProcess::start(a.database_url.as_deref())?;

    let (mut online, mut offline) = (Vec::new(), Vec::new());
    for run in 0..a.runs {
        online.push(time_init(&python, &daemon.url, false)? * 1000.0);
        offline.push(time_init(&python, &daemon.url, true)? * 1000.0);
        eprintln!("Task.init {}: {:.0} ms against the daemon, {:.0} ms offline", run + 1, online[run], offline[run]);
    }

    // Ingestion through the ClearML door.
    let client = Client::new(&daemon.url, BENCH_KEY, BENCH_SECRET);
    let mut ids = Vec::with_capacity(a.tasks);
    for i in 0..a.tasks {
        let task =
            CreateTask { name: format!("clearml ingest {i}"), project: Some("bench".into()), ..Default::default() };
        ids.push(client.create_task(&task).await?.id);
    }
    let bodies = batches(&ids, a.metrics, a.iterations, a.batch);
    let points = a.tasks * a.metrics * a.iterations;
    let http = reqwest::Client::new();
    let login: serde_json::Value = http
        .get(format!("{}/clearml/auth.login", daemon.url))
        .basic_auth(BENCH_KEY, Some(BENCH_SECRET))
        .send()
        .await?
        .json()
        .await?;
    let token = login["data"]["token"].as_str().context("auth.login gave no token")?.to_string();
    let mut queues: Vec<Vec<String>> = vec![Vec::new(); a.clients];
    for (k, body) in bodies.into_iter().enumerate() {
        queues[k % a.clients].push(body);
    }
    let url = format!("{}/clearml/events.add_batch", daemon.url);
    let start = Instant::now();
    let handles: Vec<_> = queues
        .into_iter()
        .map(|bodies| {
            let (http, url, token) = (http.clone(), url.clone(), token.clone());
            tokio::spawn(async move {
                for body in bodies {
                    let answer: serde_json::Value = http
                        .post(&url)
                        .bearer_auth(&token)
                        .header("content-type", "application/json-lines")
                        .body(body)
                        .send()
                        .await?
                        .json()
                        .await?;
                    if answer["data"]["errors"].as_u64() != Some(0) {
                        bail!("events were refused: {answer}");
                    }
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for h in handles {
        h.await??;
    }
    let rate = points as f64 / start.elapsed().as_secs_f64();
    eprintln!("events.add_batch: {rate:.0} points/s");

    let result = json!({
        "backend": if a.database_url.is_some() { "postgres" } else { "sqlite" },
        "task_init_ms_median": median(online.clone()),
        "task_init_offline_ms_median": median(offline.clone()),
        "task_init_ratio_to_offline": median(online.clone()) / median(offline.clone()),
        "task_init_ms_runs": online,
        "task_init_offline_ms_runs": offline,
        "add_batch_points": points,
        "add_batch_points_per_second": rate,
    });
    println!("{}", serde_json::to_string_pretty(&result)?);
    Ok(ExitCode::SUCCESS)
}
