//! What tasks reported, by event type: `events.get_task_metrics`,
//! `events.get_multi_task_metrics`, `events.get_multi_task_plots` and
//! `events.get_task_latest_scalar_values`.

use crate::document::{float, plot_str};
use crate::envelope::{Answer, ClearmlError};
use crate::lookup::{task_ids, task_of};
use crate::Ctx;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Per task, the metric → variants it reported as events of `kind` (every kind when `None`).
async fn reported(
    ctx: &Ctx,
    tasks: &[String],
    kind: Option<&str>,
) -> Result<BTreeMap<String, BTreeMap<String, BTreeSet<String>>>, ClearmlError> {
    let of = |k: &str| kind.is_none_or(|wanted| wanted == k);
    if let Some(other) = kind.filter(|k| !["training_stats_scalar", "plot", "training_debug_image", "log"].contains(k))
    {
        return Err(ClearmlError::validation(format!("Validation error: unknown event_type '{other}'")));
    }
    let mut out: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for task in tasks {
        let entry = out.entry(task.clone()).or_default();
        let catalogue = runyard_tracking::reads::task_metrics(&ctx.store, task).await?;
        if of("training_stats_scalar") {
            for s in &catalogue.scalars {
                entry.entry(s.metric.clone()).or_default().insert(s.variant.clone());
            }
        }
        for (k, by_metric) in [("plot", &catalogue.plots), ("training_debug_image", &catalogue.samples)] {
            if of(k) {
                for (metric, variants) in by_metric {
                    entry.entry(metric.clone()).or_default().extend(variants.iter().cloned());
                }
            }
        }
    }
    if of("log") {
        for (task, metric, variant) in ctx.store.log_metrics(tasks).await? {
            out.entry(task).or_default().entry(metric).or_default().insert(variant);
        }
    }
    Ok(out)
}

fn event_type(body: &Value) -> Option<&str> {
    body.get("event_type").and_then(Value::as_str).filter(|k| !k.is_empty())
}

/// `events.get_task_metrics`: `{metrics: [{task, metrics: [name]}]}`.
pub async fn get_task_metrics(ctx: &Ctx, body: &Value) -> Answer {
    let tasks = task_ids(body)?;
    let found = reported(ctx, &tasks, event_type(body)).await?;
    let metrics: Vec<Value> = found
        .iter()
        .map(|(task, metrics)| json!({"task": task, "metrics": metrics.keys().collect::<Vec<_>>()}))
        .collect();
    Ok(json!({"metrics": metrics}))
}

/// `events.get_multi_task_metrics`: the metrics of all the tasks together, each with its
/// variants, sorted.
pub async fn get_multi_task_metrics(ctx: &Ctx, body: &Value) -> Answer {
    let tasks = task_ids(body)?;
    let mut union: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for metrics in reported(ctx, &tasks, event_type(body)).await?.into_values() {
        for (metric, variants) in metrics {
            union.entry(metric).or_default().extend(variants);
        }
    }
    let metrics: Vec<Value> =
        union.into_iter().map(|(metric, variants)| json!({"metric": metric, "variants": variants})).collect();
    Ok(json!({"metrics": metrics}))
}

/// `events.get_multi_task_plots`: each task's plots of its last `iters` iterations (default 1)
/// per metric and variant, as `{metric: {variant: {task: {iteration: {name, plots}}}}}`.
pub async fn get_multi_task_plots(ctx: &Ctx, body: &Value) -> Answer {
    let tasks = task_ids(body)?;
    let iters = body.get("iters").and_then(Value::as_u64).unwrap_or(1).clamp(1, 1000) as usize;
    let keep = crate::histogram::wanted(body)?;
    let names: BTreeMap<String, String> =
        ctx.tasks.get_many(&tasks).await?.into_iter().map(|t| (t.id, t.name)).collect();
    let q =
        runyard_api::tracking::PlotQuery { tasks: tasks.join(","), all_iterations: iters > 1, ..Default::default() };
    let mut plots = runyard_tracking::reads::plots_as_sent(&ctx.store, q).await?;
    plots.retain(|p| keep(&p.metric, &p.variant));
    plots.sort_by(|a, b| {
        (&a.metric, &a.variant, &a.task, b.iteration).cmp(&(&b.metric, &b.variant, &b.task, a.iteration))
    });
    let mut out = Map::new();
    let mut taken: BTreeMap<(&str, &str, &str), usize> = BTreeMap::new();
    for p in &plots {
        let seen = taken.entry((&p.metric, &p.variant, &p.task)).or_default();
        if *seen == iters {
            continue;
        }
        *seen += 1;
        let event = json!({"type": "plot", "task": p.task, "metric": p.metric, "variant": p.variant, "iter": p.iteration,
                           "timestamp": p.time.timestamp_millis(), "plot_str": plot_str(&p.figure)});
        let at = out.entry(p.metric.clone()).or_insert_with(|| json!({}));
        let at = &mut at[&p.variant][&p.task][p.iteration.to_string()];
        if at.is_null() {
            *at = json!({"name": names.get(&p.task), "plots": []});
        }
        at["plots"].as_array_mut().expect("a list").push(event);
    }
    let total = plots.len();
    Ok(json!({"plots": out, "returned": total, "total": total, "scroll_id": null}))
}

/// `events.get_task_latest_scalar_values`: each metric's variants with their last values, the
/// task's last iteration, name and status.
pub async fn get_task_latest_scalar_values(ctx: &Ctx, body: &Value) -> Answer {
    let id = task_of(body)?;
    let task = crate::lookup::task(ctx, &id).await?;
    let summaries = runyard_tracking::store::summaries(&ctx.store, &id).await?;
    let mut metrics: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for s in &summaries {
        let last = float(s.last.0);
        metrics
            .entry(&s.metric)
            .or_default()
            .push(json!({"name": s.variant, "last_value": last, "last_10_value": last}));
    }
    let last_timestamp = summaries.iter().map(|s| s.last_time.timestamp_millis()).max().unwrap_or(0);
    let metrics: Vec<Value> =
        metrics.into_iter().map(|(name, variants)| json!({"name": name, "variants": variants})).collect();
    Ok(json!({"metrics": metrics, "last_iter": task.last_iteration, "name": task.name,
              "status": task.status.as_str(), "last_timestamp": last_timestamp}))
}
