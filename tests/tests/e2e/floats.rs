//! Every reported number comes back bit for bit: random doubles (subnormals, ±0, the extremes,
//! values whose shortest form takes 17 digits) sent through the native events batch and through
//! ClearML's `events.add_batch`, read back through the task's metrics, the raw scalar read, the
//! task table and its CSV, on both backends.

use crate::harness::{Backend, TestServer, ACCESS_KEY, SECRET_KEY};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use runyard_api::tracking::{Event, EventBatch, Float, RawScalarQuery, ScalarEvent};
use runyard_api::{Client, CreateTask};
use serde_json::json;

/// Doubles that are hard to carry: the named ones, and any finite bit pattern.
fn doubles() -> impl Strategy<Value = f64> {
    let named = prop::sample::select(vec![
        0.0,
        -0.0,
        f64::MAX,
        f64::MIN,
        f64::MIN_POSITIVE,
        -f64::MIN_POSITIVE,
        f64::from_bits(1),
        f64::from_bits(0x000f_ffff_ffff_ffff),
        -f64::from_bits(1),
        1.8350735760110002,
        0.1 + 0.2,
        f64::EPSILON,
    ]);
    let any_finite = any::<u64>().prop_map(f64::from_bits).prop_filter("finite", |v| v.is_finite());
    prop_oneof![named, any_finite]
}

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits()
}

/// What the views read from the summaries (metrics, table, CSV) return. On SQLite those lose
/// the sign of a zero (its REAL columns keep an integral value as an integer), a known gap;
/// every other bit is kept, and the raw read keeps all of them on both backends.
fn same_summary(a: f64, b: f64, zero_sign_kept: bool) -> bool {
    same(a, b) || (!zero_sign_kept && a == 0.0 && b == 0.0)
}

/// The values of one series as stored for `task`, read every way a user reads them.
async fn check_task(c: &Client, task: &str, sent: &[f64], zero_sign_kept: bool) -> Result<(), TestCaseError> {
    let raw = RawScalarQuery { metric: "m".into(), variant: "v".into(), after: None, limit: None };
    let raw = c.raw_scalars(task, &raw).await.unwrap();
    prop_assert_eq!(raw.points.len(), sent.len());
    for (p, v) in raw.points.iter().zip(sent) {
        prop_assert!(same(p.value.0, *v), "raw: sent {:e} ({:#x}), got {:e}", v, v.to_bits(), p.value.0);
    }
    let metrics = c.task_metrics(task).await.unwrap();
    let last = metrics.scalars[0].last.0;
    let expected = *sent.last().unwrap();
    prop_assert!(same_summary(last, expected, zero_sign_kept), "last: sent {:e}, got {:e}", expected, last);
    let min = sent.iter().copied().fold(f64::INFINITY, f64::min);
    let max = sent.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    prop_assert!(metrics.scalars[0].min.0 == min && metrics.scalars[0].max.0 == max, "min/max");
    Ok(())
}

async fn check_case(server: &TestServer, case: usize, sent: &[f64], zero_sign_kept: bool) -> Result<(), TestCaseError> {
    let c = server.client();
    let project = format!("floats/{case}");
    let create = |name: &str| CreateTask { name: name.into(), project: Some(project.clone()), ..Default::default() };
    let native = c.create_task(&create("native")).await.unwrap().id;
    let clearml = c.create_task(&create("clearml")).await.unwrap().id;

    let events = sent
        .iter()
        .enumerate()
        .map(|(i, v)| {
            Event::Scalar(ScalarEvent {
                task: native.clone(),
                metric: "m".into(),
                variant: "v".into(),
                iteration: i as i64,
                value: Float(*v),
                time: None,
            })
        })
        .collect();
    let stored = c.send_events(&EventBatch { events }).await.unwrap();
    prop_assert_eq!(stored.stored, sent.len());
    // ClearML's SDK sends json-lines, each number in its shortest form.
    let lines: Vec<String> = sent
        .iter()
        .enumerate()
        .map(|(i, v)| {
            json!({"type": "training_stats_scalar", "task": clearml, "metric": "m", "variant": "v", "iter": i, "value": v, "timestamp": 0})
                .to_string()
        })
        .collect();
    let resp = server
        .http()
        .post(format!("{}/clearml/events.add_batch", server.url))
        .basic_auth(ACCESS_KEY, Some(SECRET_KEY))
        .body(lines.join("\n"))
        .send()
        .await
        .unwrap();
    prop_assert_eq!(resp.status().as_u16(), 200);

    for task in [&native, &clearml] {
        check_task(&c, task, sent, zero_sign_kept).await?;
    }
    let expected = *sent.last().unwrap();
    let query = format!("project={project}&columns=name,metric:m/v.last&sort=name");
    let page = c.table(&runyard_api::table::TableQuery::from_query_string(&query).unwrap()).await.unwrap();
    prop_assert_eq!(page.rows.len(), 2);
    for row in &page.rows {
        let got = row.values[1].as_f64().unwrap();
        prop_assert!(same_summary(got, expected, zero_sign_kept), "table: sent {:e}, got {:e}", expected, got);
    }
    let mut csv = Vec::new();
    let q = runyard_api::table::TableQuery::from_query_string(&query).unwrap();
    c.table_csv(&q, |chunk| {
        csv.extend_from_slice(chunk);
        Ok(())
    })
    .await
    .unwrap();
    let csv = String::from_utf8(csv).unwrap();
    let cells: Vec<f64> = csv.lines().skip(1).map(|l| l.rsplit(',').next().unwrap().parse().unwrap()).collect();
    prop_assert_eq!(cells.len(), 2, "{}", csv);
    for got in cells {
        prop_assert!(same_summary(got, expected, zero_sign_kept), "csv: sent {:e}, got {:e}\n{}", expected, got, csv);
    }
    Ok(())
}

fn run(backend: Backend) {
    let Some(server) = TestServer::start(backend) else {
        eprintln!("skipped: no PostgreSQL");
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut runner = TestRunner::new(Config { cases: 12, failure_persistence: None, ..Config::default() });
    // A zero's sign, always: a series ending in -0.0.
    rt.block_on(check_case(&server, 0, &[1.0, -0.0], backend == Backend::Postgres)).unwrap();
    let case = std::cell::Cell::new(0);
    runner
        .run(&proptest::collection::vec(doubles(), 1..24), |sent| {
            case.set(case.get() + 1);
            rt.block_on(check_case(&server, case.get(), &sent, backend == Backend::Postgres))
        })
        .unwrap();
}

#[test]
fn doubles_come_back_bit_for_bit_sqlite() {
    run(Backend::Sqlite);
}

#[test]
fn doubles_come_back_bit_for_bit_postgres() {
    run(Backend::Postgres);
}
