//! Event ingestion: a batch is checked event by event, the valid ones are stored in one
//! transaction (with the summaries and the tasks' last iteration), and each rejected one is
//! reported with its reason.

use crate::series::Point;
use crate::store::{self, SeriesWrite, Writes};
use runyard_api::tracking::{
    BatchResult, Event, LogEvent, PlotEvent, RejectedEvent, SampleEvent, ScalarEvent, SingleEvent,
};
use runyard_api::{is_valid_id, Action, Change, TaskStatus};
use runyard_daemon::error::Result;
use runyard_daemon::services::access;
use runyard_daemon::store::{now_ms, ConsoleLine, Principal, Store};
use serde_json::value::RawValue;
use std::collections::{BTreeMap, HashMap};

/// Longest metric, variant or name.
pub const MAX_NAME: usize = 255;

fn reject(index: usize, field: Option<&str>, reason: impl Into<String>) -> RejectedEvent {
    RejectedEvent { index, field: field.map(str::to_string), reason: reason.into() }
}

/// Parses one event. On failure it is parsed again, as the struct its `type` names, to say
/// which field is at fault (a tagged enum does not keep the path).
fn parse(index: usize, raw: &RawValue) -> Result<Event, RejectedEvent> {
    let error = match serde_json::from_str::<Event>(raw.get()) {
        Ok(event) => return Ok(event),
        Err(error) => error,
    };
    let mut object = match serde_json::from_str::<serde_json::Value>(raw.get()) {
        Ok(serde_json::Value::Object(object)) => object,
        _ => return Err(reject(index, None, "an event is a JSON object")),
    };
    let kind = object.remove("type");
    fn diagnose<T: serde::de::DeserializeOwned>(
        index: usize,
        object: serde_json::Map<String, serde_json::Value>,
    ) -> RejectedEvent {
        match serde_path_to_error::deserialize::<_, T>(serde_json::Value::Object(object)) {
            Ok(_) => reject(index, None, "invalid event"),
            Err(e) => {
                let path = e.path().to_string();
                let mut message = e.into_inner().to_string();
                let field = match message.strip_prefix("missing field `") {
                    Some(rest) => rest.strip_suffix('`').map(str::to_string),
                    None => (path != "." && !path.is_empty()).then_some(path),
                };
                if field.is_some() && message.starts_with("missing field") {
                    message = "missing".into();
                }
                RejectedEvent { index, field, reason: message }
            }
        }
    }
    use runyard_api::tracking::*;
    Err(match kind.as_ref().and_then(|k| k.as_str()) {
        Some("scalar") => diagnose::<ScalarEvent>(index, object),
        Some("single") => diagnose::<SingleEvent>(index, object),
        Some("plot") => diagnose::<PlotEvent>(index, object),
        Some("log") => diagnose::<LogEvent>(index, object),
        Some("sample") => diagnose::<SampleEvent>(index, object),
        None => reject(index, Some("type"), "missing: one of scalar, single, plot, log, sample"),
        Some(_) => reject(index, Some("type"), error.to_string()),
    })
}

/// Whether an event's metric, variant and sample URI may be empty. Runyard's own API requires
/// them; ClearML's lets a client leave them out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fields {
    Required,
    MayBeEmpty,
}

fn check_name(index: usize, field: &str, value: &str, fields: Fields) -> Result<(), RejectedEvent> {
    if value.is_empty() && fields == Fields::Required {
        return Err(reject(index, Some(field), "must not be empty"));
    }
    if value.len() > MAX_NAME {
        return Err(reject(index, Some(field), format!("must be at most {MAX_NAME} bytes")));
    }
    if value.contains('\0') {
        return Err(reject(index, Some(field), "must not contain NUL characters"));
    }
    Ok(())
}

/// The checks that need no database.
fn validate(index: usize, event: &Event, fields: Fields) -> Result<(), RejectedEvent> {
    if !is_valid_id(event.task()) {
        return Err(reject(index, Some("task"), format!("no task '{}'", event.task())));
    }
    let series = |metric: &str, variant: &str| {
        check_name(index, "metric", metric, fields)?;
        check_name(index, "variant", variant, fields)
    };
    match event {
        Event::Scalar(e) => series(&e.metric, &e.variant),
        Event::Single(e) => check_name(index, "name", &e.name, Fields::Required),
        Event::Plot(e) => {
            series(&e.metric, &e.variant)?;
            match e.figure.is_object() || (e.as_text && e.figure.is_string()) {
                true => Ok(()),
                false => {
                    Err(reject(index, Some("figure"), "must be a Plotly figure: a JSON object with data and layout"))
                }
            }
        }
        Event::Sample(e) => {
            series(&e.metric, &e.variant)?;
            match e.uri.trim().is_empty() && fields == Fields::Required {
                true => Err(reject(index, Some("uri"), "must not be empty")),
                false => Ok(()),
            }
        }
        Event::Log(e) if e.msg.contains('\0') => Err(reject(index, Some("msg"), "must not contain NUL characters")),
        Event::Log(e) if e.level.as_ref().is_some_and(|l| l.len() > 32) => {
            Err(reject(index, Some("level"), "must be at most 32 bytes"))
        }
        Event::Log(e) => {
            let names = [("metric", &e.metric), ("variant", &e.variant)];
            names.into_iter().try_for_each(|(field, name)| match name {
                Some(name) => check_name(index, field, name, Fields::MayBeEmpty),
                None => Ok(()),
            })
        }
    }
}

/// Stores the valid events of a batch.
pub async fn ingest(store: &Store, who: &Principal, raws: &[Box<RawValue>]) -> Result<BatchResult> {
    let mut rejected = Vec::new();
    let mut events = Vec::with_capacity(raws.len());
    for (index, raw) in raws.iter().enumerate() {
        match parse(index, raw) {
            Ok(event) => events.push((index, event)),
            Err(r) => rejected.push(r),
        }
    }
    store_events(store, who, events, rejected, Fields::Required).await
}

/// Checks and stores parsed events (each with its position in the batch), adding to the
/// events already `rejected`.
pub async fn store_events(
    store: &Store,
    who: &Principal,
    parsed: Vec<(usize, Event)>,
    mut rejected: Vec<RejectedEvent>,
    fields: Fields,
) -> Result<BatchResult> {
    let mut events = Vec::with_capacity(parsed.len());
    for (index, event) in parsed {
        match validate(index, &event, fields) {
            Ok(()) => events.push((index, event)),
            Err(r) => rejected.push(r),
        }
    }
    let mut task_ids: Vec<&str> = events.iter().map(|(_, e)| e.task()).collect();
    task_ids.sort_unstable();
    task_ids.dedup();
    if task_ids.is_empty() {
        return Ok(BatchResult { stored: 0, rejected });
    }

    let now = now_ms();
    let mut tx = store.write().await?;
    let heads = store.lock_heads(&mut tx, &task_ids).await?;
    let mut writes = Writes::default();
    let mut series_at: HashMap<(&str, &str, &str), usize> = HashMap::new();
    let mut logs: Vec<ConsoleLine> = Vec::new();
    // Per task: the highest iteration reported (None: no iteration, only a sign of life).
    let mut touched: BTreeMap<&str, Option<i64>> = BTreeMap::new();
    let mut stored = 0;
    for (index, event) in &events {
        let task = event.task();
        let head = heads.get(task);
        if let Some(Err(denied)) = head.map(|h| access::task(who, Action::Ping, &access::TaskAccess::of(h))) {
            rejected.push(reject(*index, Some("task"), denied.to_string()));
            continue;
        }
        match head.map(|h| h.status) {
            None => {
                rejected.push(reject(*index, Some("task"), format!("no task '{task}'")));
                continue;
            }
            Some(TaskStatus::Published) => {
                rejected.push(reject(
                    *index,
                    Some("task"),
                    format!("task '{task}' is published: its results are read-only"),
                ));
                continue;
            }
            Some(_) => {}
        }
        stored += 1;
        let touch = touched.entry(task).or_default();
        let time_of = |t: &Option<chrono::DateTime<chrono::Utc>>| t.map_or(now, |t| t.timestamp_millis());
        match event {
            Event::Scalar(ScalarEvent { metric, variant, iteration, value, time, .. }) => {
                *touch = Some(touch.map_or(*iteration, |i| i.max(*iteration)));
                let at = *series_at.entry((task, metric, variant)).or_insert_with(|| {
                    writes.series.push(SeriesWrite {
                        task: task.to_string(),
                        metric: metric.clone(),
                        variant: variant.clone(),
                        points: Vec::new(),
                    });
                    writes.series.len() - 1
                });
                writes.series[at].points.push(Point { iteration: *iteration, value: value.0, time: time_of(time) });
            }
            Event::Single(SingleEvent { name, value, time, .. }) => {
                writes.singles.push((task.to_string(), name.clone(), value.0, time_of(time)));
            }
            Event::Plot(PlotEvent { metric, variant, iteration, figure, time, .. }) => {
                *touch = Some(touch.map_or(*iteration, |i| i.max(*iteration)));
                let figure = match figure {
                    serde_json::Value::String(text) => text.clone(),
                    object => object.to_string(),
                };
                writes.plots.push((
                    task.to_string(),
                    metric.clone(),
                    variant.clone(),
                    *iteration,
                    time_of(time),
                    figure,
                ));
            }
            Event::Sample(SampleEvent { metric, variant, iteration, uri, time, .. }) => {
                *touch = Some(touch.map_or(*iteration, |i| i.max(*iteration)));
                let uri = uri.clone();
                writes.samples.push((
                    task.to_string(),
                    metric.clone(),
                    variant.clone(),
                    *iteration,
                    time_of(time),
                    uri,
                ));
            }
            Event::Log(LogEvent { msg, level, worker, time, iteration, metric, variant, .. }) => {
                let text = if msg.ends_with('\n') { msg.into() } else { format!("{msg}\n").into() };
                logs.push(ConsoleLine {
                    task,
                    time: time_of(time),
                    text,
                    level: level.as_deref(),
                    worker: worker.as_deref(),
                    iteration: *iteration,
                    metric: metric.as_deref(),
                    variant: variant.as_deref(),
                });
            }
        }
    }
    store::write(&mut tx, &writes, now).await?;
    if !logs.is_empty() {
        Store::append_console_lines(&mut tx, &logs).await?;
        for line in &logs {
            tx.changed(Change::Console { task: line.task.to_string() });
        }
    }
    let touched: Vec<(&str, Option<i64>)> = touched.into_iter().collect();
    Store::touch_tasks(&mut tx, &touched, now).await?;
    tx.commit().await?;
    rejected.sort_by_key(|r| r.index);
    Ok(BatchResult { stored, rejected })
}
