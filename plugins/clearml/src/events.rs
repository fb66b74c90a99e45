//! `events.add_batch` / `events.add`: ClearML's events mapped onto the tracking plugin's.

use crate::envelope::{json_lines, Answer};
use crate::Ctx;
use runyard_api::tracking::{Event, Float, LogEvent, PlotEvent, RejectedEvent, SampleEvent, ScalarEvent, SingleEvent};
use serde_json::{json, Map, Value};

/// The iteration the SDK gives single values (`report_single_value`), under metric `Summary`.
const SINGLE_VALUE_ITERATION: i64 = i32::MIN as i64;

fn time_of(e: &Value) -> Option<chrono::DateTime<chrono::Utc>> {
    e.get("timestamp").and_then(Value::as_i64).and_then(chrono::DateTime::from_timestamp_millis)
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
            let (metric, variant, iter) = (str_of(e, "metric")?, str_of(e, "variant")?, iteration()?);
            if iter == SINGLE_VALUE_ITERATION && metric == "Summary" {
                return Ok(Event::Single(SingleEvent { task, name: variant, value: Float(value), time }));
            }
            Ok(Event::Scalar(ScalarEvent { task, metric, variant, iteration: iter, value: Float(value), time }))
        }
        "plot" => {
            let plot = str_of(e, "plot_str")?;
            let figure = serde_json::from_str(&plot).map_err(|err| format!("plot_str is not JSON: {err}"))?;
            Ok(Event::Plot(PlotEvent {
                task,
                metric: str_of(e, "metric")?,
                variant: str_of(e, "variant")?,
                iteration: iteration()?,
                figure,
                time,
            }))
        }
        "log" => Ok(Event::Log(LogEvent {
            task,
            msg: str_of(e, "msg")?,
            level: e.get("level").and_then(Value::as_str).map(str::to_lowercase),
            worker: e.get("worker").and_then(Value::as_str).map(str::to_string),
            time,
        })),
        "training_debug_image" => Ok(Event::Sample(SampleEvent {
            task,
            metric: str_of(e, "metric")?,
            variant: str_of(e, "variant")?,
            iteration: iteration()?,
            uri: str_of(e, "url").or_else(|_| str_of(e, "key"))?,
            time,
        })),
        "" => Err("missing field 'type'".into()),
        other => Err(format!("unsupported event type '{other}'")),
    }
}

/// Stores what it can of a batch; `errors_info` names each line that was not stored.
pub async fn add_batch(ctx: &Ctx, body: &[u8]) -> Answer {
    let mut parsed = Vec::new();
    let mut rejected = Vec::new();
    for (index, line) in json_lines(body).into_iter().enumerate() {
        match line.and_then(|e| convert(&e)) {
            Ok(event) => parsed.push((index, event)),
            Err(reason) => rejected.push(RejectedEvent { index, field: None, reason }),
        }
    }
    let result = runyard_tracking::ingest::store_events(&ctx.store, parsed, rejected).await?;
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
    Ok(json!({"added": result.stored, "errors": result.rejected.len(), "errors_info": errors}))
}
