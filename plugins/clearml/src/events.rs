//! `events.add_batch` / `events.add`: ClearML's events mapped onto the tracking plugin's.

use crate::document::{float, plot_str, SINGLE_VALUE_ITERATION};
use crate::envelope::{json_lines, Answer};
use crate::lookup::task_of;
use crate::Ctx;
use runyard_api::tracking::{Event, Float, LogEvent, PlotEvent, RejectedEvent, SampleEvent, ScalarEvent, SingleEvent};
use runyard_daemon::store::Principal;
use runyard_tracking::ingest::Fields;
use serde_json::{json, Map, Value};

fn time_of(e: &Value) -> Option<chrono::DateTime<chrono::Utc>> {
    e.get("timestamp").and_then(Value::as_i64).and_then(chrono::DateTime::from_timestamp_millis)
}

/// A name ClearML lets a client leave out: empty when missing.
fn name_of(e: &Value, field: &str) -> String {
    str_of(e, field).unwrap_or_default()
}

fn str_of(e: &Value, field: &str) -> Result<String, String> {
    match e.get(field) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(format!("missing field '{field}'")),
    }
}

/// One ClearML event as ours.
fn convert(e: &Value) -> Result<Event, String> {
    let task = str_of(e, "task")?;
    let iteration = || e.get("iter").and_then(Value::as_i64).ok_or_else(|| "missing field 'iter'".to_string());
    let time = time_of(e);
    match e.get("type").and_then(Value::as_str).unwrap_or("") {
        "training_stats_scalar" => {
            let value = match e.get("value") {
                Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
                Some(Value::String(s)) => {
                    serde_json::from_value::<Float>(Value::String(s.clone()))
                        .map_err(|_| format!("value '{s}' is not a number"))?
                        .0
                }
                _ => return Err("missing field 'value'".into()),
            };
            let (metric, variant, iter) = (name_of(e, "metric"), name_of(e, "variant"), iteration()?);
            if iter == SINGLE_VALUE_ITERATION && metric == "Summary" {
                return Ok(Event::Single(SingleEvent { task, name: variant, value: Float(value), time }));
            }
            Ok(Event::Scalar(ScalarEvent { task, metric, variant, iteration: iter, value: Float(value), time }))
        }
        "plot" => {
            // Kept as sent: the text is the figure.
            let figure = Value::String(str_of(e, "plot_str")?);
            Ok(Event::Plot(PlotEvent {
                task,
                metric: name_of(e, "metric"),
                variant: name_of(e, "variant"),
                iteration: iteration()?,
                figure,
                time,
                as_text: true,
            }))
        }
        "log" => Ok(Event::Log(LogEvent {
            task,
            msg: name_of(e, "msg"),
            level: e.get("level").and_then(Value::as_str).map(str::to_lowercase),
            worker: e.get("worker").and_then(Value::as_str).map(str::to_string),
            time,
            iteration: e.get("iter").and_then(Value::as_i64),
            metric: str_of(e, "metric").ok().filter(|m| !m.is_empty()),
            variant: str_of(e, "variant").ok(),
        })),
        "training_debug_image" => Ok(Event::Sample(SampleEvent {
            task,
            metric: name_of(e, "metric"),
            variant: name_of(e, "variant"),
            iteration: iteration()?,
            uri: str_of(e, "url").or_else(|_| str_of(e, "key")).unwrap_or_default(),
            time,
        })),
        "" => Err("missing field 'type'".into()),
        other => Err(format!("unsupported event type '{other}'")),
    }
}

/// Stores what it can of a batch; `errors_info` names each line that was not stored.
pub async fn add_batch(ctx: &Ctx, who: &Principal, body: &[u8]) -> Answer {
    let mut parsed = Vec::new();
    let mut rejected = Vec::new();
    for (index, line) in json_lines(body).into_iter().enumerate() {
        match line.and_then(|e| convert(&e)) {
            Ok(event) => parsed.push((index, event)),
            Err(reason) => rejected.push(RejectedEvent { index, field: None, reason }),
        }
    }
    let result = runyard_tracking::ingest::store_events(&ctx.store, who, parsed, rejected, Fields::MayBeEmpty).await?;
    let errors: Map<String, Value> = result
        .rejected
        .iter()
        .map(|r| {
            let reason = match &r.field {
                Some(f) => format!("{f}: {}", r.reason),
                None => r.reason.clone(),
            };
            (r.index.to_string(), Value::String(reason))
        })
        .collect();
    if result.stored == 0 && !errors.is_empty() {
        let counted = errors.values().filter_map(Value::as_str).collect::<Vec<_>>().join(", ");
        return Err(crate::envelope::ClearmlError::new(400, 131, format!("Events not added: {counted}")));
    }
    Ok(json!({"added": result.stored, "errors": result.rejected.len(), "errors_info": errors}))
}

fn ms(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_millis()
}

/// `events.get_task_single_value_metrics`: per task that has any, its single values: the
/// `Summary` values and every scalar reported at the single-value iteration, filtered by
/// `metrics`, with the task's name.
pub async fn get_task_single_value_metrics(ctx: &Ctx, body: &Value) -> Answer {
    let tasks = crate::lookup::task_ids(body)?;
    let keep = crate::histogram::wanted(body)?;
    let singles = runyard_tracking::reads::single_values(&ctx.store, &tasks.join(",")).await?;
    let summaries = runyard_tracking::store::summaries_of(&ctx.store, &tasks).await?;
    let mut out = Vec::new();
    for task in ctx.tasks.get_many(&tasks).await? {
        let summary =
            singles.get(&task.id).into_iter().flatten().map(|v| ("Summary", v.name.as_str(), v.value.0, v.time));
        let at_single =
            summaries.get(&task.id).into_iter().flatten().filter(|s| s.first_iteration == SINGLE_VALUE_ITERATION).map(
                |s| {
                    // The newest report if it was a single value, else the first one.
                    let value = if s.last_iteration == SINGLE_VALUE_ITERATION { s.last.0 } else { s.first.0 };
                    (s.metric.as_str(), s.variant.as_str(), value, s.last_time)
                },
            );
        let values: Vec<Value> = summary
            .chain(at_single)
            .filter(|(metric, variant, _, _)| keep(metric, variant))
            .map(|(metric, variant, value, time)| {
                json!({"metric": metric, "variant": variant, "value": float(value), "timestamp": ms(time)})
            })
            .collect();
        if !values.is_empty() {
            out.push(json!({"task": task.id, "task_name": task.name, "values": values}));
        }
    }
    Ok(json!({"tasks": out}))
}

/// `events.get_task_plots`: the latest plot of each metric/variant (every iteration with
/// `iters` above 1), with the figure as `plot_str`.
pub async fn get_task_plots(ctx: &Ctx, body: &Value) -> Answer {
    let task = task_of(body)?;
    let all = body.get("iters").and_then(Value::as_u64).unwrap_or(1) > 1;
    let q = runyard_api::tracking::PlotQuery { tasks: task.clone(), all_iterations: all, ..Default::default() };
    let plots = runyard_tracking::reads::plots_as_sent(&ctx.store, q).await?;
    let events: Vec<Value> = plots
        .iter()
        .map(|p| {
            json!({"type": "plot", "task": task, "metric": p.metric, "variant": p.variant, "iter": p.iteration,
                   "timestamp": ms(p.time), "plot_str": plot_str(&p.figure)})
        })
        .collect();
    Ok(json!({"plots": events, "returned": events.len(), "total": events.len(), "scroll_id": null}))
}

/// Whether `metric`/`variant` passes a request's `metrics: [{metric, variants}]` filter.
fn wanted(filter: &[Value], metric: &str, variant: &str) -> bool {
    filter.is_empty()
        || filter.iter().any(|f| {
            f.get("metric").and_then(Value::as_str) == Some(metric)
                && crate::envelope::str_list(f, "variants")
                    .ok()
                    .flatten()
                    .is_none_or(|vs| vs.is_empty() || vs.iter().any(|v| v == variant))
        })
}

/// `events.get_task_events`: every event of a task (scalar points, plots, debug samples and
/// log lines), optionally of one `event_type` and some metrics, in time order (`order: desc`
/// for the newest first), `batch_size` at a time; `scroll_id` continues where the last batch
/// ended.
pub async fn get_task_events(ctx: &Ctx, body: &Value) -> Answer {
    let task = task_of(body)?;
    ctx.store.get_task(&task).await?;
    let kind = body.get("event_type").and_then(Value::as_str).filter(|k| !k.is_empty());
    let filter: Vec<Value> = body.get("metrics").and_then(Value::as_array).cloned().unwrap_or_default();
    let batch = body.get("batch_size").and_then(Value::as_u64).unwrap_or(500).clamp(1, 10_000) as usize;
    let offset = body.get("scroll_id").and_then(Value::as_str).and_then(|s| s.parse::<usize>().ok()).unwrap_or(0);
    let of = |k: &str| kind.is_none_or(|wanted| wanted == k);

    let mut events: Vec<(i64, i64, Value)> = Vec::new();
    let catalogue = runyard_tracking::reads::task_metrics(&ctx.store, &task).await?;
    if of("training_stats_scalar") {
        for s in catalogue.scalars.iter().filter(|s| wanted(&filter, &s.metric, &s.variant)) {
            let mut after = None;
            loop {
                let q = runyard_api::tracking::RawScalarQuery {
                    metric: s.metric.clone(),
                    variant: s.variant.clone(),
                    after,
                    limit: Some(100_000),
                };
                let page = runyard_tracking::reads::raw(&ctx.store, &task, q).await?;
                events.extend(page.points.iter().map(|p| {
                    let e = json!({"type": "training_stats_scalar", "task": task, "metric": s.metric, "variant": s.variant,
                                   "iter": p.iteration, "value": float(p.value.0), "timestamp": ms(p.time)});
                    (ms(p.time), p.iteration, e)
                }));
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
        }
    }
    if of("plot") {
        let q = runyard_api::tracking::PlotQuery { tasks: task.clone(), all_iterations: true, ..Default::default() };
        for p in runyard_tracking::reads::plots_as_sent(&ctx.store, q).await? {
            if wanted(&filter, &p.metric, &p.variant) {
                let e = json!({"type": "plot", "task": task, "metric": p.metric, "variant": p.variant, "iter": p.iteration,
                               "timestamp": ms(p.time), "plot_str": plot_str(&p.figure)});
                events.push((ms(p.time), p.iteration, e));
            }
        }
    }
    if of("training_debug_image") {
        let q = runyard_api::tracking::SampleQuery { all_iterations: true, ..Default::default() };
        for s in runyard_tracking::reads::samples(&ctx.store, &task, q).await? {
            if wanted(&filter, &s.metric, &s.variant) {
                let e = json!({"type": "training_debug_image", "task": task, "metric": s.metric, "variant": s.variant,
                               "iter": s.iteration, "timestamp": ms(s.time), "url": s.uri, "key": s.uri});
                events.push((ms(s.time), s.iteration, e));
            }
        }
    }
    if of("log") && filter.is_empty() {
        let mut after = None;
        loop {
            let q = runyard_api::ConsoleQuery { after, limit: Some(10_000), ..Default::default() };
            let page = runyard_daemon::services::console::read(&ctx.store, &task, q).await?;
            let Some(last) = page.entries.last().map(|e| e.id) else { break };
            events.extend(
                page.entries.iter().map(|e| (ms(e.time), e.iteration.unwrap_or(0), crate::logs::event(&task, e))),
            );
            after = Some(last);
        }
    }
    // A stable order, so paging neither skips nor repeats.
    events.sort_by_key(|(time, iter, _)| (*time, *iter));
    if body.get("order").and_then(Value::as_str) == Some("desc") {
        events.reverse();
    }
    let total = events.len();
    let page: Vec<Value> = events.into_iter().skip(offset).take(batch).map(|(_, _, e)| e).collect();
    let next = offset + page.len();
    Ok(json!({"events": page, "returned": page.len(), "total": total, "scroll_id": next.to_string()}))
}
