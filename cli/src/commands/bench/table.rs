//! `runyard bench table`: the task table's queries over a seeded population — N tasks in 20
//! projects, each with 10 hyperparameters, 5 metric summaries and 3 tags — against the plain
//! task list (`GET /api/v1/tasks`, newest 50) measured in the same run.

use super::{median, percentile, DaemonProcess, BENCH_KEY, BENCH_SECRET};
use anyhow::{bail, Result};
use clap::Args;
use runyard_api::table::TableQuery;
use runyard_api::{Client, CreateTask, Hyperparams, Param, TaskQuery};
use serde_json::json;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Args)]
pub struct TableArgs {
    /// Benchmark against PostgreSQL (an empty database) instead of a fresh SQLite file.
    #[arg(long)]
    database_url: Option<String>,
    /// Tasks to seed.
    #[arg(long, default_value_t = 100_000)]
    tasks: usize,
    /// Concurrent clients seeding.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Timed runs of each query; medians and 95th percentiles are reported.
    #[arg(long, default_value_t = 30)]
    runs: usize,
    /// Keep the seeded daemon's data in this directory; when it holds a seeded population
    /// already, seeding is skipped (SQLite only).
    #[arg(long)]
    data_dir: Option<std::path::PathBuf>,
    /// Print the results as JSON.
    #[arg(long)]
    json: bool,
}

const PROJECTS: usize = 20;
const PARAMS: usize = 10;
const METRICS: usize = 5;
const TAGS: usize = 10;

/// A small deterministic generator (xorshift), so every run seeds the same population.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn seeded_task(i: usize) -> CreateTask {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let mut hyperparams = Hyperparams::new();
    let section = hyperparams.entry("Args".into()).or_default();
    for p in 0..PARAMS {
        let value = if p % 2 == 0 { rng.below(10).to_string() } else { format!("{:.4}", rng.unit()) };
        section.insert(format!("p{p}"), Param { value, kind: None, description: None });
    }
    let mut tags = Vec::new();
    while tags.len() < 3 {
        let tag = format!("t{}", rng.below(TAGS));
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    CreateTask {
        name: format!("run {i}"),
        project: Some(format!("bench/table/p{}", i % PROJECTS)),
        tags,
        hyperparams,
        ..Default::default()
    }
}

/// Creates the tasks and reports their metrics; returns seconds taken.
async fn seed(url: &str, n: usize, clients: usize) -> Result<f64> {
    let start = Instant::now();
    let per = n.div_ceil(clients);
    let mut handles = Vec::new();
    for k in 0..clients {
        let c = Client::new(url, BENCH_KEY, BENCH_SECRET);
        c.login().await?;
        let (from, to) = (k * per, ((k + 1) * per).min(n));
        handles.push(tokio::spawn(async move {
            let mut events = Vec::new();
            for i in from..to {
                let id = c.create_task(&seeded_task(i)).await?.id;
                let mut rng = Rng(i as u64 * 7919 + 17);
                for m in 0..METRICS {
                    events.push(json!({"type": "scalar", "task": id, "metric": format!("m{m}"), "variant": "val",
                                       "iteration": 1, "value": rng.unit()}));
                }
                if events.len() >= 2_000 || i + 1 == to {
                    let body = json!({ "events": std::mem::take(&mut events) }).to_string();
                    let r = c.send_events_json(body).await?;
                    if !r.rejected.is_empty() {
                        bail!("rejected: {:?}", r.rejected[0]);
                    }
                }
                if (i - from) % 10_000 == 9_999 {
                    eprintln!("  seeding: {} tasks by one client", i - from + 1);
                }
            }
            anyhow::Ok(())
        }));
    }
    for h in handles {
        h.await??;
    }
    Ok(start.elapsed().as_secs_f64())
}

/// Milliseconds of `runs` calls of `f`: (median, 95th percentile).
async fn time<F, Fut>(runs: usize, mut f: F) -> Result<(f64, f64)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    f().await?; // Warm-up.
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        f().await?;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    Ok((median(times.clone()), percentile(times, 95.0)))
}

/// The benchmark's query: a hyperparameter value set, a metric range and tags ANY, sorted by
/// another metric, a page of 50 with the default columns and the three filtered ones.
fn benchmark_query(project: Option<&str>) -> TableQuery {
    let mut q = TableQuery::from_query_string(
        "filter=param:Args/p0+in+1,2&filter=metric:m0/val.last<0.5&filter=tags+any+t1,t2\
         &sort=-metric:m1/val.last&limit=50",
    )
    .expect("a valid query");
    for id in ["param:Args/p0", "metric:m0/val.last", "metric:m1/val.last"] {
        q.columns.push(id.parse().expect("a valid column"));
    }
    q.project = project.map(str::to_string);
    q
}

pub async fn run(a: TableArgs) -> Result<ExitCode> {
    if a.tasks == 0 || a.clients == 0 || a.runs == 0 {
        bail!("--tasks, --clients and --runs must be at least 1");
    }
    if let Some(dir) = &a.data_dir {
        std::fs::create_dir_all(dir)?;
    }
    let daemon = DaemonProcess::start_in(a.database_url.as_deref(), a.data_dir.as_deref())?;
    let backend = if a.database_url.is_some() { "postgres" } else { "sqlite" };
    let client = Client::new(&daemon.url, BENCH_KEY, BENCH_SECRET);
    client.login().await?;
    let present = client.table_count(&TableQuery::default()).await? as usize;
    let seed_secs = if present == 0 {
        eprintln!("seeding {} tasks ({backend})…", a.tasks);
        let secs = seed(&daemon.url, a.tasks, a.clients).await?;
        eprintln!("seeded in {secs:.0} s");
        secs
    } else if present == a.tasks {
        eprintln!("{present} tasks seeded already");
        0.0
    } else {
        bail!("the data dir holds {present} tasks, not --tasks {}", a.tasks);
    };

    let c = &client;
    let list = TaskQuery { limit: Some(50), ..Default::default() };
    let baseline = time(a.runs, || async {
        c.list_tasks(&list).await?;
        Ok(())
    })
    .await?;
    eprintln!("baseline, plain task list of 50: p50 {:.1} ms", baseline.0);

    let all = benchmark_query(None);
    let first = c.table(&all).await?;
    if first.rows.len() != 50 {
        bail!("the query matched {} rows on its first page, expected 50", first.rows.len());
    }
    let query_all = time(a.runs, || async {
        c.table(&all).await?;
        Ok(())
    })
    .await?;
    eprintln!("table query, all projects: p50 {:.1} ms, p95 {:.1} ms", query_all.0, query_all.1);

    let second = TableQuery { cursor: first.next.clone(), ..all.clone() };
    let query_next = time(a.runs, || async {
        c.table(&second).await?;
        Ok(())
    })
    .await?;
    eprintln!("table query, next page: p50 {:.1} ms", query_next.0);

    let one = benchmark_query(Some("bench/table/p3"));
    let query_project = time(a.runs, || async {
        c.table(&one).await?;
        Ok(())
    })
    .await?;
    eprintln!("table query, one project: p50 {:.1} ms", query_project.0);

    let matching = c.table_count(&all).await?;
    let count = time(a.runs.min(10), || async {
        c.table_count(&all).await?;
        Ok(())
    })
    .await?;
    eprintln!("count of the matching tasks ({matching}): p50 {:.1} ms", count.0);

    let result = json!({
        "backend": backend,
        "tasks": a.tasks,
        "seed_seconds": seed_secs,
        "baseline_task_list_ms_p50": baseline.0,
        "query_all_projects_ms_p50": query_all.0,
        "query_all_projects_ms_p95": query_all.1,
        "query_ratio_to_baseline": query_all.0 / baseline.0,
        "query_next_page_ms_p50": query_next.0,
        "query_one_project_ms_p50": query_project.0,
        "matching_tasks": matching,
        "count_ms_p50": count.0,
    });
    if a.json {
        println!("{result}");
    } else {
        println!("{}", serde_json::to_string_pretty(&result)?);
    }
    Ok(ExitCode::SUCCESS)
}
