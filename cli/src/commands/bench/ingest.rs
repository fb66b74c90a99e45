//! `runyard bench ingest`: scalar ingestion throughput against a plain batched SQLite insert of
//! the same rows, and the latency of downsampled reads.

use super::{median, DaemonProcess, BENCH_KEY, BENCH_SECRET};
use anyhow::{bail, Result};
use clap::Args;
use runyard_api::tracking::ScalarQuery;
use runyard_api::{Client, CreateTask};
use serde_json::json;
use sqlx::{Connection, Executor};
use std::process::ExitCode;
use std::time::Instant;

/// The shape of an ingestion load: tasks × metrics × iterations points, sent in batches from
/// concurrent clients.
#[derive(Args)]
pub struct Load {
    /// Tasks reporting.
    #[arg(long, default_value_t = 8)]
    pub tasks: usize,
    /// Scalar series per task.
    #[arg(long, default_value_t = 10)]
    pub metrics: usize,
    /// Iterations per metric and task.
    #[arg(long, default_value_t = 10_000)]
    pub iterations: usize,
    /// Points per batch (a task's metrics over consecutive iterations).
    #[arg(long, default_value_t = 1_000)]
    pub batch: usize,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
}

impl Load {
    pub fn check(&self) -> Result<()> {
        if self.clients == 0 || self.tasks == 0 || self.metrics == 0 || self.iterations == 0 || self.batch == 0 {
            bail!("--clients, --tasks, --metrics, --iterations and --batch must be at least 1");
        }
        Ok(())
    }

    /// The points of the load, batch by batch.
    pub fn batches(&self) -> Vec<Vec<Row>> {
        batches(self.tasks, self.metrics, self.iterations, self.batch)
    }
}

#[derive(Args)]
pub struct IngestArgs {
    /// Benchmark against PostgreSQL (an empty database) instead of a fresh SQLite file.
    #[arg(long)]
    database_url: Option<String>,
    #[command(flatten)]
    load: Load,
    /// Rounds of each measurement; medians are reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Points of the long series read back downsampled.
    #[arg(long, default_value_t = 1_000_000)]
    long_series: usize,
    /// Tasks in the comparison read (each with one metric of `--compare-points` points).
    #[arg(long, default_value_t = 100)]
    compare_tasks: usize,
    /// Points of each compared series.
    #[arg(long, default_value_t = 10_000)]
    compare_points: usize,
    /// Print the results as JSON.
    #[arg(long)]
    json: bool,
}

/// A point: task index, metric index, iteration, value, time.
pub type Row = (usize, usize, i64, f64, i64);

/// The rows of one round, batch by batch: each batch is one task's metrics over consecutive
/// iterations, as a training loop flushes them.
fn batches(tasks: usize, metrics: usize, iterations: usize, batch: usize) -> Vec<Vec<Row>> {
    let per_batch = (batch / metrics).max(1);
    let t0 = chrono::Utc::now().timestamp_millis();
    let mut out = Vec::new();
    for task in 0..tasks {
        for start in (0..iterations).step_by(per_batch) {
            let mut rows = Vec::with_capacity(per_batch * metrics);
            for i in start..(start + per_batch).min(iterations) {
                for m in 0..metrics {
                    let value = ((i * (m + 1)) as f64).sin() + 1.0 / (1.0 + i as f64);
                    rows.push((task, m, i as i64, value, t0 + i as i64));
                }
            }
            out.push(rows);
        }
    }
    out
}

fn encode(rows: &[Row], ids: &[String]) -> String {
    let events: Vec<serde_json::Value> = rows
        .iter()
        .map(|(t, m, i, v, time)| {
            json!({"type": "scalar", "task": ids[*t], "metric": format!("metric{m}"), "variant": "value",
                   "iteration": i, "value": v,
                   "time": chrono::DateTime::from_timestamp_millis(*time).unwrap_or_default()})
        })
        .collect();
    json!({ "events": events }).to_string()
}

pub async fn create_tasks(client: &Client, n: usize, name: &str) -> Result<Vec<String>> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let task =
            CreateTask { name: format!("{name} {i}"), project: Some("bench/ingest".into()), ..Default::default() };
        ids.push(client.create_task(&task).await?.id);
    }
    Ok(ids)
}

/// Sends encoded batches from `clients` concurrent clients; returns seconds taken.
async fn send_all(url: &str, bodies: Vec<String>, clients: usize) -> Result<f64> {
    let mut queues: Vec<Vec<String>> = vec![Vec::new(); clients];
    for (k, body) in bodies.into_iter().enumerate() {
        queues[k % clients].push(body);
    }
    let mut senders = Vec::new();
    for _ in 0..clients {
        let c = Client::new(url, BENCH_KEY, BENCH_SECRET);
        c.login().await?;
        senders.push(c);
    }
    let start = Instant::now();
    let handles: Vec<_> = senders
        .into_iter()
        .zip(queues)
        .map(|(c, bodies)| {
            tokio::spawn(async move {
                for body in bodies {
                    let r = c.send_events_json(body).await?;
                    if !r.rejected.is_empty() {
                        bail!("rejected: {:?}", r.rejected[0]);
                    }
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for h in handles {
        h.await??;
    }
    Ok(start.elapsed().as_secs_f64())
}

/// The same rows inserted plainly into SQLite (a row per point, one multi-row INSERT per
/// batch, a transaction per batch, the daemon's pragmas); returns seconds taken.
async fn plain_sqlite(rows: &[Vec<Row>], ids: &[String]) -> Result<f64> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("plain.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await?;
    conn.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -16000;").await?;
    conn.execute(
        "CREATE TABLE points (task TEXT NOT NULL, metric TEXT NOT NULL, variant TEXT NOT NULL, \
         iteration INTEGER NOT NULL, value REAL, time INTEGER NOT NULL)",
    )
    .await?;
    let names: Vec<String> = (0..1000).map(|m| format!("metric{m}")).collect();
    let start = Instant::now();
    for batch in rows {
        let mut tx = conn.begin().await?;
        for chunk in batch.chunks(5_000) {
            let groups = vec!["(?, ?, 'value', ?, ?, ?)"; chunk.len()].join(", ");
            let sql = format!("INSERT INTO points (task, metric, variant, iteration, value, time) VALUES {groups}");
            let mut q = sqlx::query(&sql);
            for (t, m, i, v, time) in chunk {
                q = q.bind(&ids[*t]).bind(&names[*m % 1000]).bind(*i).bind(*v).bind(*time);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
    }
    Ok(start.elapsed().as_secs_f64())
}

/// Median milliseconds of `n` reads.
async fn time_reads(client: &Client, q: &ScalarQuery, n: usize, expect_series: usize) -> Result<f64> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        let read = client.scalars(q).await?;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        if read.series.len() != expect_series {
            bail!("read {} series, expected {expect_series}", read.series.len());
        }
    }
    Ok(median(times))
}

pub async fn run(a: IngestArgs) -> Result<ExitCode> {
    a.load.check()?;
    if a.rounds == 0 {
        bail!("--rounds must be at least 1");
    }
    let daemon = DaemonProcess::start(a.database_url.as_deref())?;
    let backend = if a.database_url.is_some() { "postgres" } else { "sqlite" };
    let client = Client::new(&daemon.url, BENCH_KEY, BENCH_SECRET);
    client.login().await?;

    let rows = a.load.batches();
    let points: usize = rows.iter().map(Vec::len).sum();
    let (mut rates, mut plain_rates) = (Vec::new(), Vec::new());
    for round in 0..a.rounds {
        let ids = create_tasks(&client, a.load.tasks, &format!("ingest round {round}")).await?;
        let bodies: Vec<String> = rows.iter().map(|b| encode(b, &ids)).collect();
        let secs = send_all(&daemon.url, bodies, a.load.clients).await?;
        rates.push(points as f64 / secs);
        let plain = plain_sqlite(&rows, &ids).await?;
        plain_rates.push(points as f64 / plain);
        eprintln!(
            "round {}: {:.0} points/s through the API, {:.0} points/s plain SQLite insert",
            round + 1,
            points as f64 / secs,
            points as f64 / plain
        );
    }
    let ratios: Vec<f64> = rates.iter().zip(&plain_rates).map(|(r, p)| r / p).collect();

    // A long series, read back downsampled.
    let long = create_tasks(&client, 1, "long series").await?;
    let long_rows = batches(1, 1, a.long_series, a.load.batch);
    send_all(&daemon.url, long_rows.iter().map(|b| encode(b, &long)).collect(), a.load.clients).await?;
    let q = ScalarQuery { tasks: long[0].clone(), points: Some(2_000), ..Default::default() };
    let long_ms = time_reads(&client, &q, 11, 1).await?;
    eprintln!("{} points downsampled to 2000: {long_ms:.1} ms (median of 11)", a.long_series);

    // Comparison: many tasks, one metric each.
    let compared = create_tasks(&client, a.compare_tasks, "compared").await?;
    let compare_rows = batches(a.compare_tasks, 1, a.compare_points, a.load.batch);
    send_all(&daemon.url, compare_rows.iter().map(|b| encode(b, &compared)).collect(), a.load.clients).await?;
    let q = ScalarQuery {
        tasks: compared.join(","),
        metric: Some("metric0".into()),
        points: Some(2_000),
        ..Default::default()
    };
    let compare_ms = time_reads(&client, &q, 11, a.compare_tasks).await?;
    eprintln!(
        "compare {} tasks x {} points, downsampled: {compare_ms:.1} ms (median of 11)",
        a.compare_tasks, a.compare_points
    );

    let result = json!({
        "backend": backend,
        "clients": a.load.clients,
        "points_per_round": points,
        "batch": a.load.batch,
        "ingest_points_per_second_median": median(rates.clone()),
        "ingest_points_per_second_rounds": rates,
        "plain_sqlite_points_per_second_median": median(plain_rates.clone()),
        "ratio_to_plain_sqlite_median": median(ratios.clone()),
        "ratio_to_plain_sqlite_rounds": ratios,
        "long_series_points": a.long_series,
        "long_series_downsample_ms_median": long_ms,
        "compare_tasks": a.compare_tasks,
        "compare_points_per_task": a.compare_points,
        "compare_read_ms_median": compare_ms,
    });
    if a.json {
        println!("{result}");
    } else {
        println!("{}", serde_json::to_string_pretty(&result)?);
    }
    Ok(ExitCode::SUCCESS)
}
