//! `runyard bench api`.

use super::{median, DaemonProcess, BENCH_KEY, BENCH_SECRET};
use anyhow::{bail, Result};
use clap::Args;
use runyard_api::{Action, ActionRequest, Client, CreateTask, Param};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct ApiArgs {
    /// Benchmark against PostgreSQL (an empty database) instead of a fresh SQLite file.
    #[arg(long)]
    database_url: Option<String>,
    /// Tasks created per throughput round.
    #[arg(long, default_value_t = 20_000)]
    tasks: usize,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Tasks in each timed batch action.
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
    /// Total tasks in the database when the second memory reading is taken.
    #[arg(long, default_value_t = 100_000)]
    memory_tasks: usize,
    /// Rounds per measurement; medians are reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Print the results as JSON.
    #[arg(long)]
    json: bool,
}

fn sample_task(i: usize) -> CreateTask {
    let mut task = CreateTask {
        name: format!("bench task {i}"),
        project: Some(format!("bench/p{}", i % 20)),
        tags: vec!["bench".into()],
        ..Default::default()
    };
    task.script.repository = Some("https://example.invalid/repo.git".into());
    task.script.entry_point = Some("train.py".into());
    let args = task.hyperparams.entry("Args".into()).or_default();
    for k in 0..5 {
        args.insert(format!("p{k}"), Param { value: (i * k).to_string(), ..Default::default() });
    }
    task
}

/// Creates `n` tasks from `clients` concurrent clients; returns (ids, seconds).
async fn create_tasks(url: &str, n: usize, clients: usize, offset: usize) -> Result<(Vec<String>, f64)> {
    let per = n.div_ceil(clients);
    let mut handles = Vec::new();
    let mut all_clients = Vec::new();
    for _ in 0..clients {
        let c = Client::new(url, BENCH_KEY, BENCH_SECRET);
        c.login().await?;
        all_clients.push(c);
    }
    let start = Instant::now();
    for (k, client) in all_clients.into_iter().enumerate() {
        let from = offset + k * per;
        let to = (offset + (k + 1) * per).min(offset + n);
        handles.push(tokio::spawn(async move {
            let mut ids = Vec::with_capacity(to.saturating_sub(from));
            for i in from..to {
                ids.push(client.create_task(&sample_task(i)).await?.id);
            }
            anyhow::Ok(ids)
        }));
    }
    let mut ids = Vec::with_capacity(n);
    for h in handles {
        ids.extend(h.await??);
    }
    Ok((ids, start.elapsed().as_secs_f64()))
}

pub async fn run(a: ApiArgs) -> Result<ExitCode> {
    if a.rounds == 0 || a.clients == 0 || a.tasks == 0 {
        bail!("--rounds, --clients and --tasks must be at least 1");
    }
    let daemon = DaemonProcess::start(a.database_url.as_deref())?;
    let backend = if a.database_url.is_some() { "postgres" } else { "sqlite" };
    let client = Client::new(&daemon.url, BENCH_KEY, BENCH_SECRET);
    client.login().await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle = daemon.rss_mib()?;

    let mut rates = Vec::new();
    let mut ids = Vec::new();
    for round in 0..a.rounds {
        let (new, secs) = create_tasks(&daemon.url, a.tasks, a.clients, round * a.tasks).await?;
        rates.push(new.len() as f64 / secs);
        eprintln!("create round {}: {:.0} tasks/s", round + 1, new.len() as f64 / secs);
        ids.extend(new);
    }

    if ids.len() < a.batch {
        let (more, _) = create_tasks(&daemon.url, a.batch - ids.len(), a.clients, ids.len()).await?;
        ids.extend(more);
    }
    let batch_ids: Vec<String> = ids[..a.batch].to_vec();
    let mut archive_ms = Vec::new();
    let mut restore_ms = Vec::new();
    for round in 0..a.rounds {
        for (action, times) in [(Action::Archive, &mut archive_ms), (Action::Restore, &mut restore_ms)] {
            let start = Instant::now();
            let r = client.batch(action, &ActionRequest { ids: batch_ids.clone(), ..Default::default() }).await?;
            let ms = start.elapsed().as_secs_f64() * 1000.0;
            if r.succeeded as usize != a.batch {
                bail!("{action} affected {} of {} tasks", r.succeeded, a.batch);
            }
            eprintln!("{action} round {}: {ms:.0} ms for {} tasks", round + 1, a.batch);
            times.push(ms);
        }
    }

    let mut total = ids.len();
    while total < a.memory_tasks {
        let n = (a.memory_tasks - total).min(20_000);
        create_tasks(&daemon.url, n, a.clients, total).await?;
        total += n;
        eprintln!("filled {total} tasks");
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_full = daemon.rss_mib()?;

    let result = serde_json::json!({
        "backend": backend,
        "clients": a.clients,
        "create_tasks_per_second_median": median(rates.clone()),
        "create_tasks_per_second_rounds": rates,
        "batch_size": a.batch,
        "archive_ms_median": median(archive_ms.clone()),
        "restore_ms_median": median(restore_ms.clone()),
        "rss_idle_mib": rss_idle,
        "rss_after_tasks_mib": rss_full,
        "tasks_in_database": total,
    });
    if a.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        println!("backend                         {backend}");
        println!("task creation ({} clients)      {:.0} tasks/s (median of {})", a.clients, median(rates), a.rounds);
        println!("archive {} tasks              {:.0} ms (median)", a.batch, median(archive_ms));
        println!("restore {} tasks              {:.0} ms (median)", a.batch, median(restore_ms));
        println!("daemon RSS idle                 {rss_idle:.1} MiB");
        println!("daemon RSS with {total} tasks   {rss_full:.1} MiB");
    }
    Ok(ExitCode::SUCCESS)
}
