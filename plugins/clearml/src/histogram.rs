//! ClearML's scalar histograms: each series in equal buckets of its x axis, a bucket's mean at
//! its start (`events.scalar_metrics_iter_histogram`, and per task
//! `events.multi_task_scalar_metrics_iter_histogram`). Single values (iteration -2^31) are not
//! part of a series here.

use crate::document::{float, SINGLE_VALUE_ITERATION};
use crate::envelope::{str_list, Answer, ClearmlError};
use crate::Ctx;
use runyard_api::tracking::{Float, ScalarQuery, Series, XAxis};
use serde_json::{json, Map, Value};

/// Buckets per series when a request names none (ClearML's default).
const DEFAULT_SAMPLES: u64 = 2000;

/// `samples` of a request, 1 to 6,000.
fn samples(body: &Value) -> Result<usize, ClearmlError> {
    let n = body.get("samples").and_then(Value::as_u64).unwrap_or(DEFAULT_SAMPLES);
    if !(1..=6000).contains(&n) {
        return Err(ClearmlError::validation("Validation error: samples must be 1 to 6000"));
    }
    Ok(n as usize)
}

/// The metric/variant pairs a request's `metrics` keeps (`[{metric, variants}]`, no variants
/// meaning all of the metric's); every series without one.
pub fn wanted(body: &Value) -> Result<impl Fn(&str, &str) -> bool, ClearmlError> {
    let mut filter: Vec<(String, Vec<String>)> = Vec::new();
    for item in body.get("metrics").and_then(Value::as_array).into_iter().flatten() {
        let metric = item.get("metric").and_then(Value::as_str).unwrap_or_default().to_string();
        filter.push((metric, str_list(item, "variants")?.unwrap_or_default()));
    }
    Ok(move |metric: &str, variant: &str| {
        filter.is_empty()
            || filter.iter().any(|(m, vs)| m == metric && (vs.is_empty() || vs.iter().any(|v| v == variant)))
    })
}

/// One series in buckets: with fewer points than `samples`, one bucket per x; else buckets of
/// `ceil((max - min + 1) / samples)`, aligned to 0.
fn bucketed(s: &Series, samples: usize, by_iteration: bool) -> (Vec<Value>, Vec<Value>) {
    let points: Vec<(f64, f64)> =
        s.x.iter()
            .zip(&s.y)
            .filter(|(x, _)| !(by_iteration && **x == SINGLE_VALUE_ITERATION as f64))
            .map(|(x, Float(y))| (*x, *y))
            .collect();
    let (min, max) = points.iter().fold((f64::MAX, f64::MIN), |(lo, hi), (x, _)| (lo.min(*x), hi.max(*x)));
    let interval = if points.len() < samples { 1.0 } else { ((max - min + 1.0) / samples as f64).ceil().max(1.0) };
    let mut buckets: Vec<(f64, f64, usize)> = Vec::new();
    for (x, y) in points {
        let start = (x / interval).floor() * interval;
        match buckets.last_mut() {
            Some((at, sum, n)) if *at == start => {
                *sum += y;
                *n += 1;
            }
            _ => buckets.push((start, y, 1)),
        }
    }
    let x = buckets.iter().map(|(at, _, _)| if by_iteration { json!(*at as i64) } else { json!(at) }).collect();
    let y = buckets.iter().map(|(_, sum, n)| float(sum / *n as f64)).collect();
    (x, y)
}

/// The series of `tasks` a request asks for, in buckets, as `(series, x, y)`.
async fn read(
    ctx: &Ctx,
    body: &Value,
    tasks: &[String],
) -> Result<Vec<(Series, Vec<Value>, Vec<Value>)>, ClearmlError> {
    let samples = samples(body)?;
    let x = match body.get("key").and_then(Value::as_str) {
        Some("timestamp") | Some("iso_time") => XAxis::Time,
        _ => XAxis::Iteration,
    };
    let q = ScalarQuery { tasks: tasks.join(","), x: Some(x), points: Some(0), ..Default::default() };
    let keep = wanted(body)?;
    let series = runyard_tracking::reads::scalars(&ctx.store, q).await?.series;
    Ok(series
        .into_iter()
        .filter(|s| keep(&s.metric, &s.variant))
        .filter_map(|s| {
            let (x, y) = bucketed(&s, samples, x == XAxis::Iteration);
            (!x.is_empty()).then_some((s, x, y))
        })
        .collect())
}

/// `events.scalar_metrics_iter_histogram`: `{metric: {variant: {name, x, y}}}`.
pub async fn task(ctx: &Ctx, body: &Value) -> Answer {
    let task = crate::lookup::task_of(body)?;
    let mut out = Map::new();
    for (s, x, y) in read(ctx, body, &[task]).await? {
        let metric = out.entry(s.metric.clone()).or_insert_with(|| json!({}));
        metric[&s.variant] = json!({"name": s.variant, "x": x, "y": y});
    }
    Ok(Value::Object(out))
}

/// `events.multi_task_scalar_metrics_iter_histogram`: `{metrics: {metric: {variant: {task:
/// {name, x, y}}}}}`, the task's name as `name`.
pub async fn tasks(ctx: &Ctx, body: &Value) -> Answer {
    let tasks = crate::lookup::task_ids(body)?;
    let names: std::collections::HashMap<String, String> =
        ctx.tasks.get_many(&tasks).await?.into_iter().map(|t| (t.id, t.name)).collect();
    let mut out = Map::new();
    for (s, x, y) in read(ctx, body, &tasks).await? {
        let metric = out.entry(s.metric.clone()).or_insert_with(|| json!({}));
        let variant = metric.as_object_mut().expect("an object").entry(s.variant.clone()).or_insert_with(|| json!({}));
        variant[&s.task] = json!({"name": names.get(&s.task), "x": x, "y": y});
    }
    Ok(json!({"metrics": out}))
}
