//! `runyard bench dispatch`: how fast a queued task reaches a waiting agent, how many tasks
//! flow through enqueue -> pop -> started -> completed per second, and what idle agents cost.

use super::{median, percentile, DaemonProcess, BENCH_KEY, BENCH_SECRET};
use anyhow::{bail, Result};
use clap::Args;
use runyard_api::{Action, ActionRequest, Client, CreateQueue, CreateTask, PopRequest, RegisterWorker};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

#[derive(Args)]
pub struct DispatchArgs {
    /// Benchmark against PostgreSQL (an empty database) instead of a fresh SQLite file.
    #[arg(long)]
    database_url: Option<String>,
    /// Agents waiting while latency is measured.
    #[arg(long, default_value_t = 50)]
    agents: usize,
    /// Queues they wait on.
    #[arg(long, default_value_t = 5)]
    queues: usize,
    /// Enqueue-to-agent samples.
    #[arg(long, default_value_t = 500)]
    samples: usize,
    /// Tasks pushed through the whole cycle for the throughput figure.
    #[arg(long, default_value_t = 4000)]
    tasks: usize,
    /// Agents (and producers) in the throughput run.
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Idle long-polling agents for the idle-cost figure.
    #[arg(long, default_value_t = 1000)]
    idle_agents: usize,
    /// Print the results as JSON.
    #[arg(long)]
    json: bool,
}

fn client(url: &str) -> Client {
    Client::new(url, BENCH_KEY, BENCH_SECRET)
}

async fn register(c: &Client, id: &str, queues: Vec<String>) -> Result<()> {
    c.register_worker(&RegisterWorker { id: id.into(), queues, timeout_seconds: Some(3600), ..Default::default() })
        .await?;
    Ok(())
}

fn task(queue: &str, i: usize) -> CreateTask {
    CreateTask {
        name: format!("dispatch {i}"),
        project: Some("bench".into()),
        queue: Some(queue.into()),
        ..Default::default()
    }
}

/// Enqueue -> a waiting agent holds the task, one task at a time, in milliseconds.
async fn latency(url: &str, agents: usize, queues: &[String], samples: usize) -> Result<Vec<f64>> {
    let (got_tx, mut got_rx) = mpsc::unbounded_channel::<Instant>();
    let mut handles = Vec::new();
    for a in 0..agents {
        let c = client(url);
        let queue = queues[a % queues.len()].clone();
        let id = format!("latency-{a}");
        register(&c, &id, vec![queue.clone()]).await?;
        let got = got_tx.clone();
        handles.push(tokio::spawn(async move {
            let req = PopRequest { queues: vec![queue], worker: id, wait_seconds: 30.0, order_fairness: false };
            while let Ok(resp) = c.pop(&req).await {
                if resp.task.is_some() && got.send(Instant::now()).is_err() {
                    return;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await; // every agent is waiting
    let producer = client(url);
    let mut out = Vec::with_capacity(samples);
    for i in 0..samples {
        let sent = Instant::now();
        producer.create_task(&task(&queues[i % queues.len()], i)).await?;
        let held = got_rx.recv().await.ok_or_else(|| anyhow::anyhow!("agents stopped"))?;
        out.push(held.saturating_duration_since(sent).as_secs_f64() * 1000.0);
    }
    for h in handles {
        h.abort();
    }
    Ok(out)
}

/// Tasks per second through enqueue -> pop -> started -> completed.
async fn throughput(url: &str, workers: usize, tasks: usize) -> Result<f64> {
    let queue = "throughput".to_string();
    client(url).create_queue(&CreateQueue { name: queue.clone() }).await?;
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let mut handles = tokio::task::JoinSet::new();
    for p in 0..workers {
        let (c, queue) = (client(url), queue.clone());
        handles.spawn(async move {
            for i in (p..tasks).step_by(workers) {
                c.create_task(&task(&queue, i)).await?;
            }
            anyhow::Ok(())
        });
    }
    for w in 0..workers {
        let (c, queue, done) = (client(url), queue.clone(), done.clone());
        let id = format!("throughput-{w}");
        register(&c, &id, vec![queue.clone()]).await?;
        handles.spawn(async move {
            let req = PopRequest { queues: vec![queue], worker: id.clone(), wait_seconds: 1.0, order_fairness: false };
            while done.load(std::sync::atomic::Ordering::Relaxed) < tasks {
                let Some(t) = c.pop(&req).await?.task else { continue };
                let started = ActionRequest { worker: Some(id.clone()), ..Default::default() };
                c.act(&t.id, Action::Started, &started).await?;
                c.act(&t.id, Action::Completed, &ActionRequest::default()).await?;
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            anyhow::Ok(())
        });
    }
    // The first failure ends the run (the other workers would wait for its task forever).
    while let Some(joined) = handles.join_next().await {
        joined??;
    }
    Ok(tasks as f64 / start.elapsed().as_secs_f64())
}

/// Daemon CPU (% of one core) and memory while `n` agents long-poll an empty queue.
async fn idle(daemon: &DaemonProcess, n: usize) -> Result<(f64, f64)> {
    let c = client(&daemon.url);
    c.create_queue(&CreateQueue { name: "idle".into() }).await?;
    let mut handles = Vec::new();
    for a in 0..n {
        let id = format!("idle-{a}");
        register(&c, &id, vec!["idle".into()]).await?;
        let c = c.clone();
        handles.push(tokio::spawn(async move {
            let req = PopRequest { queues: vec!["idle".into()], worker: id, wait_seconds: 60.0, order_fairness: false };
            let _ = c.pop(&req).await;
        }));
    }
    tokio::time::sleep(Duration::from_secs(5)).await; // all connected and waiting
    let (cpu0, t0) = (daemon.cpu_seconds()?, Instant::now());
    tokio::time::sleep(Duration::from_secs(20)).await;
    let cpu = (daemon.cpu_seconds()? - cpu0) / t0.elapsed().as_secs_f64() * 100.0;
    let rss = daemon.rss_mib()?;
    for h in handles {
        h.abort();
    }
    Ok((cpu, rss))
}

pub async fn run(a: DispatchArgs) -> Result<ExitCode> {
    if a.agents == 0 || a.queues == 0 || a.samples == 0 || a.workers == 0 {
        bail!("--agents, --queues, --samples and --workers must be at least 1");
    }
    if a.agents < a.queues {
        bail!("--agents must be at least --queues, so every queue has a waiting agent");
    }
    let backend = if a.database_url.is_some() { "postgres" } else { "sqlite" };
    let daemon = DaemonProcess::start(a.database_url.as_deref())?;
    let c = client(&daemon.url);
    let queues: Vec<String> = (0..a.queues).map(|q| format!("latency-{q}")).collect();
    for q in &queues {
        c.create_queue(&CreateQueue { name: q.clone() }).await?;
    }
    let lat = latency(&daemon.url, a.agents, &queues, a.samples).await?;
    let (p50, p99) = (percentile(lat.clone(), 50.0), percentile(lat.clone(), 99.0));
    eprintln!("latency: p50 {p50:.2} ms, p99 {p99:.2} ms over {} samples", lat.len());
    let mut rates = Vec::new();
    for round in 0..3 {
        let daemon = DaemonProcess::start(a.database_url.as_deref())?;
        let rate = throughput(&daemon.url, a.workers, a.tasks).await?;
        eprintln!("throughput round {}: {rate:.0} tasks/s", round + 1);
        rates.push(rate);
        if a.database_url.is_some() {
            break; // one database: later rounds would start on a fuller one
        }
    }
    let idle_daemon = DaemonProcess::start(a.database_url.as_deref())?;
    let rss_before = idle_daemon.rss_mib()?;
    let (cpu, rss) = idle(&idle_daemon, a.idle_agents).await?;
    let result = serde_json::json!({
        "backend": backend,
        "latency_ms": { "p50": p50, "p99": p99, "samples": lat.len(), "agents": a.agents, "queues": a.queues },
        "cycle_tasks_per_second_median": median(rates.clone()),
        "cycle_tasks_per_second_rounds": rates,
        "idle_agents": a.idle_agents,
        "idle_cpu_percent_of_one_core": cpu,
        "idle_rss_mib": rss,
        "rss_before_agents_mib": rss_before,
    });
    if a.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        println!("backend                                   {backend}");
        println!(
            "enqueue -> waiting agent ({} agents, {} queues)  p50 {p50:.2} ms  p99 {p99:.2} ms",
            a.agents, a.queues
        );
        println!("enqueue -> pop -> started -> completed     {:.0} tasks/s (median)", median(rates));
        println!(
            "{} idle agents long-polling             daemon CPU {cpu:.1}% of one core, RSS {rss:.1} MiB",
            a.idle_agents
        );
    }
    Ok(ExitCode::SUCCESS)
}
