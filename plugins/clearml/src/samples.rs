//! ClearML's browsing of plots and debug images: pages of iterations per task and metric
//! (`events.plots`, `events.debug_images`) and one sample at a time
//! (`events.get_plot_sample` / `next_plot_sample`, `events.get_debug_image_sample` /
//! `next_debug_image_sample`). The navigation state travels in the scroll id, so any replica
//! continues any scroll.
//!
//! A debug image is one per URL: an image written again at a later iteration is shown there
//! only. A plot sample is every variant of a metric at one iteration; an image sample is one
//! variant. Samples are ordered by iteration, then metric, then variant.

use crate::document::plot_str;
use crate::envelope::{flag, required_str, str_list, Answer, ClearmlError};
use crate::lookup::task_of;
use crate::Ctx;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::ops::Bound::{Excluded, Unbounded};

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Plot,
    Image,
}

/// One reported plot or image, with its ClearML event.
struct Reported {
    metric: String,
    variant: String,
    iteration: i64,
    event: Value,
}

impl Reported {
    /// Where it stands in a sample order: a plot sample spans the metric's variants.
    fn key(&self, kind: Kind) -> (i64, String, String) {
        let variant = if kind == Kind::Plot { String::new() } else { self.variant.clone() };
        (self.iteration, self.metric.clone(), variant)
    }
}

/// A task's plots or debug images (of one metric), in sample order.
async fn reported(ctx: &Ctx, kind: Kind, task: &str, metric: Option<&str>) -> Result<Vec<Reported>, ClearmlError> {
    if !runyard_api::is_valid_id(task) {
        return Ok(Vec::new());
    }
    let metric = metric.filter(|m| !m.is_empty()).map(str::to_string);
    let mut found: Vec<Reported> = match kind {
        Kind::Plot => {
            let q = runyard_api::tracking::PlotQuery {
                tasks: task.into(),
                metric,
                all_iterations: true,
                ..Default::default()
            };
            runyard_tracking::reads::plots_as_sent(&ctx.store, q)
                .await?
                .into_iter()
                .map(|p| Reported {
                    event: json!({"type": "plot", "task": task, "metric": p.metric, "variant": p.variant,
                                  "iter": p.iteration, "timestamp": p.time.timestamp_millis(),
                                  "plot_str": plot_str(&p.figure)}),
                    metric: p.metric,
                    variant: p.variant,
                    iteration: p.iteration,
                })
                .collect()
        }
        Kind::Image => {
            let q = runyard_api::tracking::SampleQuery { metric, all_iterations: true, ..Default::default() };
            let mut samples = runyard_tracking::reads::samples(&ctx.store, task, q).await?;
            // The newest of each URL wins.
            samples.sort_by_key(|s| std::cmp::Reverse((s.iteration, s.time)));
            let mut seen = BTreeSet::new();
            samples.retain(|s| seen.insert((s.metric.clone(), s.variant.clone(), s.uri.clone())));
            samples
                .into_iter()
                .map(|s| Reported {
                    event: json!({"type": "training_debug_image", "task": task, "metric": s.metric,
                                  "variant": s.variant, "iter": s.iteration, "timestamp": s.time.timestamp_millis(),
                                  "url": s.uri, "key": s.uri}),
                    metric: s.metric,
                    variant: s.variant,
                    iteration: s.iteration,
                })
                .collect()
        }
    };
    found.sort_by(|a, b| (a.iteration, &a.metric, &a.variant).cmp(&(b.iteration, &b.metric, &b.variant)));
    Ok(found)
}

/// A scroll's state as its id: hex of its JSON.
fn scroll_id<T: Serialize>(state: &T) -> String {
    hex::encode(serde_json::to_vec(state).expect("JSON"))
}

fn scrolled<T: for<'de> Deserialize<'de>>(id: &str) -> Result<T, ClearmlError> {
    hex::decode(id)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| ClearmlError::new(400, 1104, format!("Invalid scroll id: scroll_id={id}")))
}

/// Where each requested task/metric's last page began and ended.
#[derive(Serialize, Deserialize, Default)]
struct Pages {
    pages: Vec<Option<(i64, i64)>>,
}

/// `events.plots` / `events.debug_images`: per requested `{task, metric?, variants?}`, the
/// samples of `iters` iterations, newest first: the latest at first (and with `refresh`), then
/// earlier ones page by page (later ones with `navigate_earlier: false`).
async fn pages(ctx: &Ctx, kind: Kind, body: &Value) -> Answer {
    let iters = body.get("iters").and_then(Value::as_u64).unwrap_or(1).clamp(1, 1000) as usize;
    let earlier = body.get("navigate_earlier").and_then(Value::as_bool).unwrap_or(true);
    let before: Pages = match body.get("scroll_id").and_then(Value::as_str).filter(|s| !s.is_empty()) {
        Some(id) if !flag(body, "refresh") => scrolled(id)?,
        _ => Pages::default(),
    };
    let (mut metrics, mut after) = (Vec::new(), Pages::default());
    for (i, wanted) in body.get("metrics").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let task = wanted.get("task").and_then(Value::as_str).unwrap_or_default().to_string();
        let metric = wanted.get("metric").and_then(Value::as_str).map(str::to_string);
        let variants = str_list(wanted, "variants")?.unwrap_or_default();
        let mut found = reported(ctx, kind, &task, metric.as_deref()).await?;
        found.retain(|r| variants.is_empty() || variants.contains(&r.variant));
        let all: BTreeSet<i64> = found.iter().map(|r| r.iteration).collect();
        let last = before.pages.get(i).copied().flatten();
        let mut chosen: Vec<i64> = match last {
            None => all.iter().rev().take(iters).copied().collect(),
            Some((min, _)) if earlier => all.range(..min).rev().take(iters).copied().collect(),
            Some((_, max)) => all.range((Excluded(max), Unbounded)).take(iters).copied().collect(),
        };
        chosen.sort_unstable_by(|a, b| b.cmp(a));
        after.pages.push(match (chosen.last(), chosen.first()) {
            (Some(&min), Some(&max)) => Some((min, max)),
            _ => last,
        });
        let iterations: Vec<Value> = chosen
            .iter()
            .map(|&n| {
                let events: Vec<&Value> = found.iter().filter(|r| r.iteration == n).map(|r| &r.event).collect();
                json!({"iter": n, "events": events})
            })
            .collect();
        metrics.push(json!({"task": task, "metric": metric, "iterations": iterations}));
    }
    Ok(json!({"metrics": metrics, "scroll_id": scroll_id(&after)}))
}

pub async fn plots(ctx: &Ctx, body: &Value) -> Answer {
    pages(ctx, Kind::Plot, body).await
}

pub async fn debug_images(ctx: &Ctx, body: &Value) -> Answer {
    pages(ctx, Kind::Image, body).await
}

/// The sample a sample scroll stands on.
#[derive(Serialize, Deserialize)]
struct Sample {
    task: String,
    iteration: i64,
    metric: String,
    variant: String,
    /// Navigation stays within the metric.
    current_metric: bool,
}

/// A sample's answer: its events (a plot sample) or event (an image), the iteration range of
/// its metric (and variant), and the scroll id standing on it.
fn answer(kind: Kind, found: &[Reported], at: Option<&Sample>, scroll: String) -> Value {
    let here: Vec<&Value> = at.map_or(Vec::new(), |s| {
        let key = (s.iteration, s.metric.clone(), s.variant.clone());
        found.iter().filter(|r| r.key(kind) == key).map(|r| &r.event).collect()
    });
    let series: Vec<i64> = at.map_or(Vec::new(), |s| {
        found
            .iter()
            .filter(|r| r.metric == s.metric && (kind == Kind::Plot || r.variant == s.variant))
            .map(|r| r.iteration)
            .collect()
    });
    let mut answer = json!({"scroll_id": scroll, "min_iteration": series.iter().min(),
                            "max_iteration": series.iter().max()});
    match kind {
        Kind::Plot => answer["events"] = json!(here),
        Kind::Image => answer["event"] = here.first().map_or(Value::Null, |e| (*e).clone()),
    }
    answer
}

/// `events.get_plot_sample` / `get_debug_image_sample`: the sample of `metric` (and `variant`
/// for an image) at `iteration` (the latest at or before it; default the latest).
async fn first_sample(ctx: &Ctx, kind: Kind, body: &Value) -> Answer {
    let task = task_of(body)?;
    let metric = required_str(body, "metric")?.to_string();
    let variant = match kind {
        Kind::Plot => String::new(),
        Kind::Image => required_str(body, "variant")?.to_string(),
    };
    let found = reported(ctx, kind, &task, None).await?;
    let iteration = body.get("iteration").and_then(Value::as_i64);
    let at = found
        .iter()
        .filter(|r| r.metric == metric && (kind == Kind::Plot || r.variant == variant))
        .filter(|r| iteration.is_none_or(|n| r.iteration <= n))
        .map(|r| r.iteration)
        .max();
    let current_metric = body.get("navigate_current_metric").and_then(Value::as_bool).unwrap_or(true);
    let sample = at.map(|iteration| Sample { task: task.clone(), iteration, metric, variant, current_metric });
    let scroll = sample.as_ref().map_or_else(|| scroll_id(&Value::Null), scroll_id);
    Ok(answer(kind, &found, sample.as_ref(), scroll))
}

/// `events.next_plot_sample` / `next_debug_image_sample`: the sample before the scroll's
/// (after it with `navigate_earlier: false`; of another iteration with `next_iteration`),
/// within its metric unless it was asked for with `navigate_current_metric: false`. At either
/// end: no sample, and the scroll stays where it was.
async fn next_sample(ctx: &Ctx, kind: Kind, body: &Value) -> Answer {
    let task = task_of(body)?;
    let id = required_str(body, "scroll_id")?;
    let state: Option<Sample> = scrolled(id)?;
    let Some(state) = state else { return Ok(answer(kind, &[], None, id.to_string())) };
    if state.task != task {
        return Err(ClearmlError::new(400, 1104, format!("Invalid scroll id: scroll_id={id}")));
    }
    let earlier = body.get("navigate_earlier").and_then(Value::as_bool).unwrap_or(true);
    let next_iteration = flag(body, "next_iteration");
    let found = reported(ctx, kind, &task, state.current_metric.then_some(state.metric.as_str())).await?;
    let here = (state.iteration, state.metric.clone(), state.variant.clone());
    let keys: BTreeSet<(i64, String, String)> = found.iter().map(|r| r.key(kind)).collect();
    let next = match (earlier, next_iteration) {
        (true, false) => keys.range(..here).next_back(),
        (false, false) => keys.iter().find(|k| **k > here),
        (true, true) => keys.iter().rev().find(|k| k.0 < here.0),
        (false, true) => keys.iter().find(|k| k.0 > here.0),
    };
    let Some((iteration, metric, variant)) = next.cloned() else {
        return Ok(answer(kind, &found, None, id.to_string()));
    };
    let sample = Sample { task, iteration, metric, variant, current_metric: state.current_metric };
    let scroll = scroll_id(&sample);
    Ok(answer(kind, &found, Some(&sample), scroll))
}

pub async fn get_plot_sample(ctx: &Ctx, body: &Value) -> Answer {
    first_sample(ctx, Kind::Plot, body).await
}

pub async fn next_plot_sample(ctx: &Ctx, body: &Value) -> Answer {
    next_sample(ctx, Kind::Plot, body).await
}

pub async fn get_debug_image_sample(ctx: &Ctx, body: &Value) -> Answer {
    first_sample(ctx, Kind::Image, body).await
}

pub async fn next_debug_image_sample(ctx: &Ctx, body: &Value) -> Answer {
    next_sample(ctx, Kind::Image, body).await
}
