//! Workers' statistics as ClearML has them. Each `workers.status_report` records its machine
//! stats in the worker's history (as `<field>/<variant>`: `total` for a number, the index for
//! each entry of a list, such as one per core or GPU) with whether it ran a task;
//! `workers.get_metric_keys`, `get_stats` and `get_activity_report` read them back.

use crate::envelope::{str_list, Answer, ClearmlError};
use crate::Ctx;
use runyard_daemon::store::history::{MAX_POINTS, RUNNING};
use runyard_daemon::store::now_ms;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The machine stats ClearML reports: one value per device (core, GPU) …
const PER_DEVICE: [&str; 6] =
    ["cpu_usage", "cpu_temperature", "gpu_usage", "gpu_temperature", "gpu_memory_free", "gpu_memory_used"];
/// … or one per machine.
const PER_MACHINE: [&str; 8] = [
    "memory_used",
    "memory_free",
    "network_tx",
    "network_rx",
    "disk_free_home",
    "disk_free_temp",
    "disk_read",
    "disk_write",
];
/// Most devices of a kind one report may give.
const MAX_DEVICES: usize = 1024;
/// The narrowest interval ClearML charts, in seconds.
const MIN_INTERVAL: i64 = 40;
/// How far a report's own timestamp may be from now and still be taken (ms).
const CLOCK_SKEW: i64 = 24 * 3600 * 1000;

/// Per interval start (ms), the (avg, min, max) of each series in it.
type ByInterval = BTreeMap<i64, Vec<(f64, f64, f64)>>;

fn subject(worker: &str) -> String {
    format!("worker:{worker}")
}

/// The history samples of a status report's machine stats, checked.
pub fn samples(body: &Value) -> Result<Vec<(String, f64)>, ClearmlError> {
    let stats = body.get("machine_stats").unwrap_or(&Value::Null);
    let mut samples = Vec::new();
    for field in PER_MACHINE {
        if let Some(v) = stats.get(field).and_then(Value::as_f64) {
            samples.push((format!("{field}/total"), v));
        }
    }
    for field in PER_DEVICE {
        if let Some(values) = stats.get(field).and_then(Value::as_array) {
            if values.len() > MAX_DEVICES {
                return Err(ClearmlError::validation(format!(
                    "Validation error: machine_stats.{field} has more than {MAX_DEVICES} entries"
                )));
            }
            samples.extend(values.iter().enumerate().filter_map(|(i, v)| Some((format!("{field}/{i}"), v.as_f64()?))));
        }
    }
    Ok(samples)
}

/// Records a status report of `worker` (its [`samples`] and whether it runs a task) at the
/// report's `timestamp` (now when absent or a day off).
pub async fn record(
    ctx: &Ctx,
    worker: &str,
    body: &Value,
    mut samples: Vec<(String, f64)>,
    running: bool,
) -> Result<(), ClearmlError> {
    samples.push((RUNNING.to_string(), if running { 1.0 } else { 0.0 }));
    let now = now_ms();
    let at =
        body.get("timestamp").and_then(Value::as_i64).filter(|t| t.abs_diff(now) <= CLOCK_SKEW as u64).unwrap_or(now);
    ctx.store.record_history(&subject(worker), &samples, at).await?;
    Ok(())
}

/// The recorded ClearML keys (`<field>/<variant>`) per worker, of `worker_ids` if given.
async fn keys(ctx: &Ctx, body: &Value) -> Result<BTreeMap<String, Vec<(String, String)>>, ClearmlError> {
    let wanted = str_list(body, "worker_ids")?.filter(|w| !w.is_empty());
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (subject, metric) in ctx.store.history_metrics("worker:").await? {
        let worker = subject.trim_start_matches("worker:").to_string();
        if wanted.as_ref().is_some_and(|w| !w.contains(&worker)) {
            continue;
        }
        if let Some((field, variant)) = metric.split_once('/') {
            out.entry(worker).or_default().push((field.to_string(), variant.to_string()));
        }
    }
    Ok(out)
}

/// `workers.get_metric_keys`: the keys recorded, by category (a key's first word).
pub async fn get_metric_keys(ctx: &Ctx, body: &Value) -> Answer {
    let mut categories: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let found = keys(ctx, body).await?;
    for (field, _) in found.values().flatten() {
        let category = field.split('_').next().unwrap_or(field);
        categories.entry(category).or_default().insert(field);
    }
    if categories.is_empty() {
        return Err(ClearmlError::new(400, 1005, "worker stats not found"));
    }
    let categories: Vec<Value> =
        categories.into_iter().map(|(name, keys)| json!({"name": name, "metric_keys": keys})).collect();
    Ok(json!({"categories": categories}))
}

/// A request's range: `from_date` and `to_date` (seconds) in ms, and the interval in seconds
/// (at least [`MIN_INTERVAL`]).
fn range(body: &Value) -> Result<(i64, i64, i64), ClearmlError> {
    let seconds = |field: &str| {
        body.get(field)
            .and_then(Value::as_f64)
            .filter(|s| s.is_finite() && s.abs() < 1e11)
            .ok_or_else(|| ClearmlError::validation(format!("Validation error: {field} must be a number of seconds")))
    };
    let (from, to) = (seconds("from_date")?, seconds("to_date")?);
    if from >= to {
        return Err(ClearmlError::validation("Validation error: from_date must be less than to_date"));
    }
    let interval = body.get("interval").and_then(Value::as_f64).filter(|i| i.is_finite()).unwrap_or(0.0);
    let interval = (interval as i64).clamp(MIN_INTERVAL, 1 << 32);
    if (to - from) / interval as f64 > MAX_POINTS as f64 {
        return Err(ClearmlError::validation(format!(
            "Validation error: from_date to to_date would hold more than {MAX_POINTS} intervals"
        )));
    }
    Ok(((from * 1000.0) as i64, (to * 1000.0) as i64, interval))
}

/// The starts (ms) of the intervals ClearML charts from `from` to `to`, aligned to the epoch,
/// without the last one when it is not complete.
fn dates(from: i64, to: i64, interval: i64) -> Vec<i64> {
    let step = interval * 1000;
    let cutoff = to - step * 9 / 10;
    let first = from - from.rem_euclid(step);
    (0..).map(|i| first + i * step).take_while(|d| *d <= to && *d <= cutoff).collect()
}

/// `workers.get_stats`: per worker, each requested key's aggregations (`avg`, `min`, `max`)
/// over each interval (0 where nothing was reported), over all its variants or
/// (`split_by_variant`) per variant.
pub async fn get_stats(ctx: &Ctx, body: &Value) -> Answer {
    let (from, to, interval) = range(body)?;
    let items = body.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut wanted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for item in &items {
        let (Some(key), Some(aggregation)) =
            (item.get("key").and_then(Value::as_str), item.get("aggregation").and_then(Value::as_str))
        else {
            return Err(ClearmlError::validation("Validation error: items[] need a key and an aggregation"));
        };
        if !["avg", "min", "max"].contains(&aggregation) {
            return Err(ClearmlError::validation(format!("Validation error: unknown aggregation '{aggregation}'")));
        }
        wanted.entry(key.to_string()).or_default().insert(aggregation.to_string());
    }
    let split = body.get("split_by_variant").and_then(Value::as_bool).unwrap_or(false);
    let dates = dates(from, to, interval);
    let mut workers = Vec::new();
    for (worker, keys) in keys(ctx, body).await? {
        let mut metrics = Vec::new();
        for (key, aggregations) in &wanted {
            let variants: Vec<&str> = keys.iter().filter(|(f, _)| f == key).map(|(_, v)| v.as_str()).collect();
            if variants.is_empty() {
                continue;
            }
            let names: Vec<String> = variants.iter().map(|v| format!("{key}/{v}")).collect();
            let history = ctx.store.history(&subject(&worker), &names, from, to, interval).await?;
            // Per variant (or one group for all), per interval start: the points.
            let mut groups: BTreeMap<Option<&str>, ByInterval> = BTreeMap::new();
            for (name, points) in &history.series {
                let variant = name.split_once('/').map(|(_, v)| v);
                let group = groups.entry(if split { variant } else { None }).or_default();
                for p in points {
                    group.entry(p.t.timestamp_millis()).or_default().push((p.avg, p.min, p.max));
                }
            }
            for (variant, by_date) in groups {
                let stats: Vec<Value> = aggregations
                    .iter()
                    .map(|aggregation| {
                        let values: Vec<f64> = dates
                            .iter()
                            .map(|d| {
                                let points = by_date.get(d).map(Vec::as_slice).unwrap_or_default();
                                aggregate(aggregation, points)
                            })
                            .collect();
                        json!({"aggregation": aggregation, "values": values})
                    })
                    .collect();
                let mut metric = json!({"metric": key, "dates": dates, "stats": stats});
                if let Some(variant) = variant {
                    metric["variant"] = json!(variant);
                }
                metrics.push(metric);
            }
        }
        if !metrics.is_empty() {
            workers.push(json!({"worker": worker, "metrics": metrics}));
        }
    }
    Ok(json!({"workers": workers}))
}

/// One aggregation of an interval's points (avg, min, max each); 0 with none.
fn aggregate(aggregation: &str, points: &[(f64, f64, f64)]) -> f64 {
    if points.is_empty() {
        return 0.0;
    }
    match aggregation {
        "min" => points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min),
        "max" => points.iter().map(|p| p.2).fold(f64::NEG_INFINITY, f64::max),
        _ => points.iter().map(|p| p.0).sum::<f64>() / points.len() as f64,
    }
}

/// `workers.get_activity_report`: per interval, how many workers reported (`total`) and how
/// many of them ran a task (`active`).
pub async fn get_activity_report(ctx: &Ctx, body: &Value) -> Answer {
    let (from, to, interval) = range(body)?;
    let presence: BTreeMap<i64, (usize, usize)> = ctx
        .store
        .history_presence("worker:", RUNNING, from, to, interval)
        .await?
        .into_iter()
        .map(|(start, total, active)| (start, (total, active)))
        .collect();
    let dates = dates(from, to, interval);
    let counts = |pick: fn(&(usize, usize)) -> usize| -> Vec<usize> {
        dates.iter().map(|d| presence.get(d).map_or(0, pick)).collect()
    };
    Ok(json!({"total": {"dates": dates, "counts": counts(|c| c.0)},
              "active": {"dates": dates, "counts": counts(|c| c.1)}}))
}
