//! `runyard bench clearml`: the stock SDK's `Task.init` against the daemon (compared with the
//! SDK in offline mode, in the same run), and `events.add_batch` ingestion through the ClearML
//! API.

use super::ingest::{create_tasks, Load};
use super::{median, DaemonProcess, BENCH_KEY, BENCH_SECRET};
use anyhow::{bail, Context, Result};
use clap::Args;
use runyard_api::Client;
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
    #[command(flatten)]
    load: Load,
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

/// The load's batches as json-lines of `training_stats_scalar` events.
fn json_lines(load: &Load, ids: &[String]) -> Vec<String> {
    load.batches()
        .iter()
        .map(|rows| {
            rows.iter()
                .map(|(t, m, i, value, time)| {
                    json!({"type": "training_stats_scalar", "task": ids[*t], "timestamp": time, "iter": i,
                           "metric": format!("metric{m}"), "variant": "value", "value": value})
                    .to_string()
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect()
}

pub async fn run(a: ClearmlArgs) -> Result<ExitCode> {
    a.load.check()?;
    if a.runs == 0 {
        bail!("--runs must be at least 1");
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
    let ids = create_tasks(&client, a.load.tasks, "clearml ingest").await?;
    let bodies = json_lines(&a.load, &ids);
    let points = a.load.tasks * a.load.metrics * a.load.iterations;
    let http = reqwest::Client::new();
    let login: serde_json::Value = http
        .get(format!("{}/clearml/auth.login", daemon.url))
        .basic_auth(BENCH_KEY, Some(BENCH_SECRET))
        .send()
        .await?
        .json()
        .await?;
    let token = login["data"]["token"].as_str().context("auth.login gave no token")?.to_string();
    let mut queues: Vec<Vec<String>> = vec![Vec::new(); a.load.clients];
    for (k, body) in bodies.into_iter().enumerate() {
        queues[k % a.load.clients].push(body);
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
