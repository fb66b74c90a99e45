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
    /// Tasks in the comparison (each with 3 metrics of `--compare-points` points).
    #[arg(long, default_value_t = 100)]
    compare_tasks: usize,
    /// Points of each compared series.
    #[arg(long, default_value_t = 10_000)]
    compare_points: usize,
    /// Seed by SQL straight into the SQLite file (the rows the API would write, with the
    /// database's triggers maintaining the indexes): for populations the API takes hours to
    /// build on a small machine. Needs --data-dir.
    #[arg(long, requires = "data_dir", conflicts_with = "database_url")]
    seed_sql: bool,
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

/// Seeds `n` tasks straight into a stopped daemon's SQLite file, in transactions of 50,000:
/// the same population as [`seed`] (values drawn by SQLite's `random()`), its triggers filling
/// `task_params` and the catalogue. Scalar summaries are written without their series chunks
/// (the table reads summaries only). Returns seconds taken.
async fn seed_sql(db: &std::path::Path, n: usize) -> Result<f64> {
    use sqlx::{Connection, Executor};
    let start = Instant::now();
    let url = format!("sqlite://{}", db.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await?;
    conn.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; PRAGMA cache_size = -262144;").await?;
    let user: String = sqlx::query_scalar("SELECT id FROM users ORDER BY created LIMIT 1").fetch_one(&mut conn).await?;
    let params: Vec<String> = (0..PARAMS)
        .map(|p| {
            let value = if p % 2 == 0 {
                "CAST(abs(random()) % 10 AS TEXT)".to_string()
            } else {
                "printf('%.4f', (abs(random()) % 10000) / 10000.0)".to_string()
            };
            format!("'p{p}', json_object('value', {value})")
        })
        .collect();
    let hyperparams = format!("json_object('Args', json_object({}))", params.join(", "));
    let t0 = chrono::Utc::now().timestamp_millis() - n as i64;
    const BATCH: usize = 50_000;
    for from in (0..n).step_by(BATCH) {
        let to = (from + BATCH).min(n);
        let mut tx = conn.begin().await?;
        // Ids: time-ordered 32-hex, like the daemon's.
        let tasks = format!(
            "WITH RECURSIVE k(i) AS (SELECT {from} UNION ALL SELECT i + 1 FROM k WHERE i + 1 < {to}) \
             INSERT INTO tasks (id, name, project_id, type, status, user_id, created, last_update, last_change, hyperparams) \
             SELECT printf('%016x%016x', {t0} + i, i), 'run ' || i, \
                    (SELECT id FROM projects WHERE name = 'bench/table/p' || (i % {PROJECTS})), 'training', 'created', $1, \
                    {t0} + i, {t0} + i, {t0} + i, {hyperparams} FROM k"
        );
        sqlx::query(&tasks).bind(&user).execute(&mut *tx).await?;
        let range = format!("id >= printf('%016x%016x', {t0} + {from}, {from}) AND id <= printf('%016x%016x', {t0} + {to} - 1, {to} - 1)");
        let tags = format!(
            "WITH picked AS MATERIALIZED (SELECT id, abs(random()) % 10 AS b, abs(random()) % 4 AS x, abs(random()) % 4 AS y FROM tasks WHERE {range}) \
             INSERT INTO task_tags (task_id, tag) \
             SELECT id, 't' || b FROM picked UNION ALL \
             SELECT id, 't' || ((b + 1 + x) % 10) FROM picked UNION ALL \
             SELECT id, 't' || ((b + 5 + y) % 10) FROM picked"
        );
        tx.execute(tags.as_str()).await?;
        let metrics: Vec<String> = (0..METRICS)
            .map(|m| {
                format!(
                    "SELECT id, 'm{m}', 'val', 1, v, 1, v, 1, created, v, 1, v, 1 FROM \
                     (SELECT id, created, (abs(random()) % 1000000) / 1000000.0 AS v FROM tasks WHERE {range})"
                )
            })
            .collect();
        let summaries = format!(
            "INSERT INTO scalar_summaries (task_id, metric, variant, count, first_value, first_iter, last_value, last_iter, \
             last_time, min_value, min_iter, max_value, max_iter) {}",
            metrics.join(" UNION ALL ")
        );
        tx.execute(summaries.as_str()).await?;
        tx.commit().await?;
        eprintln!("  seeded {to} tasks");
    }
    conn.execute("PRAGMA optimize;").await?;
    Ok(start.elapsed().as_secs_f64())
}

/// The ids of the tasks in `project` (none when it does not exist).
async fn tasks_in(c: &Client, project: &str) -> Result<Vec<String>> {
    let mut q = TableQuery::from_query_string("columns=id&limit=1000")?;
    q.project = Some(project.to_string());
    let mut ids = Vec::new();
    loop {
        let page = match c.table(&q).await {
            Ok(page) => page,
            Err(runyard_api::ClientError::Api { status: 404, .. }) => return Ok(ids),
            Err(e) => return Err(e.into()),
        };
        ids.extend(page.rows.into_iter().map(|r| r.id));
        match page.next {
            Some(next) => q.cursor = Some(next),
            None => return Ok(ids),
        }
    }
}

/// Tasks with 3 metrics of `points` points each, for the comparison; returns their ids.
async fn seed_compared(url: &str, tasks: usize, points: usize) -> Result<Vec<String>> {
    let c = Client::new(url, BENCH_KEY, BENCH_SECRET);
    let mut ids = Vec::with_capacity(tasks);
    for i in 0..tasks {
        let task =
            CreateTask { name: format!("compared {i}"), project: Some("bench/compare".into()), ..Default::default() };
        ids.push(c.create_task(&task).await?.id);
    }
    for id in &ids {
        for start in (0..points).step_by(5_000) {
            let events: Vec<serde_json::Value> = (start..(start + 5_000).min(points))
                .flat_map(|i| {
                    (0..3).map(move |m| {
                        json!({"type": "scalar", "task": id, "metric": format!("loss{m}"), "variant": "val",
                               "iteration": i, "value": 1.0 / (1.0 + i as f64) + (i as f64 * 0.1).sin() * 0.01})
                    })
                })
                .collect();
            c.send_events_json(json!({ "events": events }).to_string()).await?;
        }
    }
    Ok(ids)
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
    let mut client = Client::new(&daemon.url, BENCH_KEY, BENCH_SECRET);
    client.login().await?;
    let present = tasks_in(&client, "bench/table").await?.len();
    let mut daemon = daemon;
    let seed_secs = if present == 0 && a.seed_sql {
        eprintln!("seeding {} tasks by SQL…", a.tasks);
        for p in 0..PROJECTS {
            let project = runyard_api::CreateProject { name: format!("bench/table/p{p}"), description: String::new() };
            client.create_project(&project).await?;
        }
        drop(daemon);
        let dir = a.data_dir.as_deref().expect("required by clap");
        let secs = seed_sql(&dir.join("runyard.db"), a.tasks).await?;
        eprintln!("seeded in {secs:.0} s");
        daemon = DaemonProcess::start_in(None, Some(dir))?;
        client = Client::new(&daemon.url, BENCH_KEY, BENCH_SECRET);
        client.login().await?;
        secs
    } else if present == 0 {
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

    // The column catalogue of the parent project, which holds every task in its subprojects.
    let catalogue = time(a.runs, || async {
        let cat = c.table_catalogue(Some("bench/table")).await?;
        if cat.metrics.len() != METRICS {
            bail!("the catalogue lists {} metrics, expected {METRICS}", cat.metrics.len());
        }
        Ok(())
    })
    .await?;
    eprintln!("column catalogue of a {}-task project: p50 {:.1} ms", a.tasks, catalogue.0);

    // CSV of every task, 12 columns.
    let csv_query = TableQuery::from_query_string(&format!(
        "project=bench%2Ftable&columns={}",
        "id,name,type,status,project,user,tags,started,updated,iteration,metric:m0/val.last,param:Args/p0"
    ))?;
    let csv = time(a.runs.min(5), || async {
        let mut lines = 0usize;
        c.table_csv(&csv_query, |chunk| {
            lines += chunk.iter().filter(|b| **b == b'\n').count();
            Ok(())
        })
        .await?;
        if lines != a.tasks + 1 {
            bail!("the CSV held {lines} lines, expected {}", a.tasks + 1);
        }
        Ok(())
    })
    .await?;
    eprintln!("CSV of {} rows x 12 columns: p50 {:.0} ms", a.tasks, csv.0);

    // Comparison: 100 tasks x 3 metrics x 10,000 points.
    let mut compared = tasks_in(c, "bench/compare").await?;
    if compared.len() != a.compare_tasks {
        compared = seed_compared(&daemon.url, a.compare_tasks, a.compare_points).await?;
    }
    let compare = time(a.runs.min(10), || async {
        let cmp = c.compare_scalars(&compared).await?;
        if cmp.charts.len() != 3 || cmp.charts.iter().any(|ch| ch.lines.len() != compared.len()) {
            bail!("the comparison held {} charts, expected 3 of {} lines", cmp.charts.len(), compared.len());
        }
        Ok(())
    })
    .await?;
    eprintln!("compare {} tasks x 3 metrics x {} points: p50 {:.0} ms", a.compare_tasks, a.compare_points, compare.0);

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
        "catalogue_ms_p50": catalogue.0,
        "csv_rows": a.tasks,
        "csv_columns": 12,
        "csv_ms_p50": csv.0,
        "compare_tasks": a.compare_tasks,
        "compare_metrics": 3,
        "compare_points_per_series": a.compare_points,
        "compare_ms_p50": compare.0,
    });
    if a.json {
        println!("{result}");
    } else {
        println!("{}", serde_json::to_string_pretty(&result)?);
    }
    Ok(ExitCode::SUCCESS)
}
