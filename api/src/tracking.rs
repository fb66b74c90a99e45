//! What a task reports while it runs (the tracking plugin's wire contract): scalars, single
//! values, plots, console lines and debug samples; their summaries and downsampled reads;
//! the file store.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

/// A float that survives JSON: finite values are numbers; NaN and ±infinity are the strings
/// `"NaN"`, `"Infinity"` and `"-Infinity"` (never turned into 0 or null).
#[derive(Debug, Clone, Copy, PartialEq, Default, ToSchema)]
#[schema(value_type = f64)]
pub struct Float(pub f64);

impl Serialize for Float {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        if v.is_nan() {
            s.serialize_str("NaN")
        } else if v.is_infinite() {
            s.serialize_str(if v > 0.0 { "Infinity" } else { "-Infinity" })
        } else {
            s.serialize_f64(v)
        }
    }
}

impl<'de> Deserialize<'de> for Float {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Float, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Float;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number, or \"NaN\", \"Infinity\" or \"-Infinity\"")
            }
            fn visit_f64<E>(self, v: f64) -> Result<Float, E> {
                Ok(Float(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Float, E> {
                Ok(Float(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Float, E> {
                Ok(Float(v as f64))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Float, E> {
                match v.to_ascii_lowercase().as_str() {
                    "nan" => Ok(Float(f64::NAN)),
                    "infinity" | "inf" | "+infinity" | "+inf" => Ok(Float(f64::INFINITY)),
                    "-infinity" | "-inf" => Ok(Float(f64::NEG_INFINITY)),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// One reported event; `type` says which.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    Scalar(ScalarEvent),
    Single(SingleEvent),
    Plot(PlotEvent),
    Log(LogEvent),
    Sample(SampleEvent),
}

/// A point of a scalar series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScalarEvent {
    pub task: String,
    pub metric: String,
    pub variant: String,
    pub iteration: i64,
    pub value: Float,
    /// When it was measured (default: when it arrived).
    #[serde(default)]
    pub time: Option<DateTime<Utc>>,
}

/// A metric with no iteration (the comparison view's "Summary"); the last one reported wins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SingleEvent {
    pub task: String,
    pub name: String,
    pub value: Float,
    #[serde(default)]
    pub time: Option<DateTime<Utc>>,
}

/// A Plotly figure (`data`, `layout`, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlotEvent {
    pub task: String,
    pub metric: String,
    pub variant: String,
    pub iteration: i64,
    pub figure: serde_json::Value,
    #[serde(default)]
    pub time: Option<DateTime<Utc>>,
    /// Set by importers whose clients send figures as text (ClearML's `plot_str`): a string
    /// figure is stored as that text, and read back as the object it parses to, else as the text.
    #[serde(skip)]
    pub as_text: bool,
}

/// Console output, appended to the task's console.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogEvent {
    pub task: String,
    pub msg: String,
    #[serde(default)]
    pub level: Option<String>,
    #[serde(default)]
    pub worker: Option<String>,
    #[serde(default)]
    pub time: Option<DateTime<Utc>>,
    /// The iteration, metric and variant the line is filed under, if any: logs can be read
    /// and cleared by them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iteration: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// A debug sample: a file (image, audio, …) by reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SampleEvent {
    pub task: String,
    pub metric: String,
    pub variant: String,
    pub iteration: i64,
    pub uri: String,
    #[serde(default)]
    pub time: Option<DateTime<Utc>>,
}

impl Event {
    pub fn task(&self) -> &str {
        match self {
            Event::Scalar(e) => &e.task,
            Event::Single(e) => &e.task,
            Event::Plot(e) => &e.task,
            Event::Log(e) => &e.task,
            Event::Sample(e) => &e.task,
        }
    }
}

/// `POST /api/v1/events/batch`: events of any tasks and types, stored in one transaction.
/// Invalid events are reported and skipped; the valid rest is stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventBatch {
    pub events: Vec<Event>,
}

/// One event of a batch that was not stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RejectedEvent {
    /// Its position in the batch.
    pub index: usize,
    pub field: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BatchResult {
    pub stored: usize,
    pub rejected: Vec<RejectedEvent>,
}

/// Last, min, max (each with its iteration), first, count and mean of one metric/variant of a
/// task. The last is the newest report: by its time, then its iteration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MetricSummary {
    pub metric: String,
    pub variant: String,
    pub count: i64,
    pub first: Float,
    pub first_iteration: i64,
    pub last: Float,
    pub last_iteration: i64,
    pub last_time: DateTime<Utc>,
    /// NaN when every value was NaN.
    pub min: Float,
    pub min_iteration: i64,
    pub max: Float,
    pub max_iteration: i64,
    /// The mean of the values; NaN once a NaN was reported.
    pub mean: Float,
}

/// A single value (the comparison view's "Summary").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SingleValue {
    pub name: String,
    pub value: Float,
    pub time: DateTime<Utc>,
}

/// `GET /api/v1/tasks/{id}/metrics`: a task's catalogue of metrics with their summaries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaskMetrics {
    pub task: String,
    pub last_iteration: i64,
    pub scalars: Vec<MetricSummary>,
    pub single_values: Vec<SingleValue>,
    /// metric → variants with plots.
    pub plots: BTreeMap<String, Vec<String>>,
    /// metric → variants with debug samples.
    pub samples: BTreeMap<String, Vec<String>>,
}

/// `GET /api/v1/projects/{id}/metrics`: metric → variants reported by any task of a project.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MetricCatalogue {
    pub scalars: BTreeMap<String, Vec<String>>,
    pub single_values: Vec<String>,
    pub plots: BTreeMap<String, Vec<String>>,
}

/// The x axis of a scalar read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum XAxis {
    #[default]
    Iteration,
    /// Wall time, milliseconds since the epoch.
    Time,
    /// Milliseconds since the task started (or since its first point).
    Relative,
}

/// `GET /api/v1/scalars`: series of one or many tasks, downsampled to a point budget.
/// The largest point budget per series of `GET /api/v1/scalars`.
pub const MAX_POINTS: usize = 100_000;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema, IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ScalarQuery {
    /// Comma-separated task ids (at most 100).
    pub tasks: String,
    /// Only this metric (default: all).
    pub metric: Option<String>,
    /// Only this variant (default: all).
    pub variant: Option<String>,
    pub x: Option<XAxis>,
    /// Points per series at most (default 2000; 0 = every point, for up to 100,000).
    pub points: Option<usize>,
}

/// One series as read: x and y in x order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Series {
    pub task: String,
    pub metric: String,
    pub variant: String,
    pub x: Vec<f64>,
    pub y: Vec<Float>,
    /// Points in the stored series.
    pub total: usize,
    /// Whether `x`/`y` hold fewer points than stored (min and max of each bucket kept).
    pub downsampled: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScalarSeries {
    pub series: Vec<Series>,
}

/// `GET /api/v1/tasks/{id}/scalars/raw`: one series at full resolution, a page at a time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema, IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RawScalarQuery {
    pub metric: String,
    pub variant: String,
    /// Only points after this iteration.
    pub after: Option<i64>,
    /// At most this many points (default 10,000, at most 100,000).
    pub limit: Option<usize>,
}

/// A point at full resolution.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Point {
    pub iteration: i64,
    pub value: Float,
    pub time: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RawScalars {
    pub points: Vec<Point>,
    /// Ask for points `after` this next; absent on the last page.
    pub next: Option<i64>,
}

/// `GET /api/v1/plots`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema, IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PlotQuery {
    /// Comma-separated task ids (at most 100).
    pub tasks: String,
    pub metric: Option<String>,
    pub variant: Option<String>,
    /// Every reported iteration, not only the last of each metric/variant.
    pub all_iterations: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Plot {
    pub task: String,
    pub metric: String,
    pub variant: String,
    pub iteration: i64,
    pub time: DateTime<Utc>,
    pub figure: serde_json::Value,
}

/// `GET /api/v1/tasks/{id}/samples`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema, IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SampleQuery {
    pub metric: Option<String>,
    pub variant: Option<String>,
    /// Only this iteration (default: the last of each metric/variant).
    pub iteration: Option<i64>,
    /// Every iteration.
    pub all_iterations: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Sample {
    pub metric: String,
    pub variant: String,
    pub iteration: i64,
    pub time: DateTime<Utc>,
    pub uri: String,
}

/// `PUT /api/v1/files/{path}`: where a stored file lives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StoredFile {
    pub path: String,
    /// The URI to record in an artifact, model or debug sample.
    pub uri: String,
    pub size: u64,
    /// SHA-256 of the content, hex.
    pub hash: String,
}

/// Ids from a comma-separated list, without blanks or repeats.
pub fn split_ids(list: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    list.split(',').map(str::trim).filter(|s| !s.is_empty() && seen.insert(*s)).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_read_bit_for_bit() {
        // What Python's json writes for these doubles; each must come back as the same bits.
        for text in ["1.8350735760110002", "5e-324", "2.2250738585072014e-308", "1.7976931348623157e308", "-0.0"] {
            let expected: f64 = text.parse().unwrap();
            let read: Float = serde_json::from_str(text).unwrap();
            assert_eq!(read.0.to_bits(), expected.to_bits(), "{text}");
            let inside: serde_json::Value = serde_json::from_str(&format!("{{\"v\": {text}}}")).unwrap();
            assert_eq!(inside["v"].as_f64().unwrap().to_bits(), expected.to_bits(), "{text} inside a document");
            assert_eq!(serde_json::to_string(&read).unwrap().parse::<f64>().unwrap().to_bits(), expected.to_bits());
        }
    }

    #[test]
    fn non_finite_floats_round_trip_as_strings() {
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1.5, -0.25] {
            let json = serde_json::to_string(&Float(v)).unwrap();
            let back: Float = serde_json::from_str(&json).unwrap();
            assert!(back.0 == v || (v.is_nan() && back.0.is_nan()), "{v} -> {json}");
        }
        assert_eq!(serde_json::to_string(&Float(f64::NAN)).unwrap(), "\"NaN\"");
        assert!(serde_json::from_str::<Float>("\"zero\"").is_err());
        assert_eq!(serde_json::from_str::<Float>("3").unwrap(), Float(3.0));
    }

    #[test]
    fn events_name_their_type() {
        let e: Event = serde_json::from_str(
            r#"{"type":"scalar","task":"t","metric":"m","variant":"v","iteration":3,"value":"NaN"}"#,
        )
        .unwrap();
        assert!(matches!(e, Event::Scalar(ScalarEvent { iteration: 3, value, .. }) if value.0.is_nan()));
        assert!(serde_json::from_str::<Event>(r#"{"type":"single","task":"t","name":"n","value":1,"x":1}"#).is_err());
        assert!(serde_json::from_str::<Event>(r#"{"type":"scalar","task":"t"}"#).is_err());
        assert!(serde_json::from_str::<Event>(r#"{"type":"bogus","task":"t"}"#).is_err());
    }
}
