//! `order_by` of `tasks.get_all`: fields of the task document, `-` first for descending, and
//! `last_metrics.<metric key>.<variant key>.<value|min_value|max_value>` (the keys as
//! [`crate::document::metric_key`] makes them), and `hyperparams.<section>.<name>` (numbers by
//! value). Tasks without the metric, parameter or value (not started, no comment) come last
//! either way; fields Runyard does not keep leave the order to the next key.

use crate::document::metric_key;
use crate::envelope::ClearmlError;
use runyard_api::tracking::MetricSummary;
use runyard_api::Task;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

/// Which value of a metric's summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Value {
    Last,
    Min,
    Max,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Field {
    Created,
    Started,
    Completed,
    LastUpdate,
    LastChange,
    LastIteration,
    Name,
    Comment,
    Status,
    Type,
    Id,
    Metric {
        metric: String,
        variant: String,
        value: Value,
    },
    /// `hyperparams.<section>.<name>[.value]` (a `.` inside a name as `%2E`).
    Param {
        section: String,
        name: String,
    },
    Unknown,
}

/// One key of `order_by`.
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    descending: bool,
    field: Field,
    /// For a metric key: each task's value of it (none for NaN), once [`SortKey::resolve`]d.
    values: HashMap<String, f64>,
}

impl SortKey {
    pub fn parse(spec: &str) -> Result<SortKey, ClearmlError> {
        let (descending, name) = match spec.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, spec),
        };
        let field = match name {
            "created" => Field::Created,
            "started" => Field::Started,
            "completed" => Field::Completed,
            "last_update" => Field::LastUpdate,
            "last_change" | "status_changed" => Field::LastChange,
            "last_iteration" => Field::LastIteration,
            "name" => Field::Name,
            "comment" => Field::Comment,
            "status" => Field::Status,
            "type" => Field::Type,
            "id" => Field::Id,
            _ if name.starts_with("hyperparams.") => param_field(&name["hyperparams.".len()..]),
            _ => match name.strip_prefix("last_metrics.") {
                Some(path) => metric_field(path).ok_or_else(|| {
                    ClearmlError::validation(format!(
                        "Validation error: order_by '{spec}' must be last_metrics.<metric>.<variant>.<value|min_value|max_value>"
                    ))
                })?,
                None => Field::Unknown,
            },
        };
        Ok(SortKey { descending, field, values: HashMap::new() })
    }

    /// Whether this key orders by a metric (and so needs the tasks' summaries).
    pub fn by_metric(&self) -> bool {
        matches!(self.field, Field::Metric { .. })
    }

    /// Takes each task's value of this key's metric from `summaries` (by task).
    pub fn resolve(&mut self, summaries: &BTreeMap<String, Vec<MetricSummary>>) {
        let Field::Metric { metric, variant, value } = &self.field else { return };
        for (task, list) in summaries {
            let found = list.iter().find(|s| metric_key(&s.metric) == *metric && metric_key(&s.variant) == *variant);
            let v = found.map(|s| match value {
                Value::Last => s.last.0,
                Value::Min => s.min.0,
                Value::Max => s.max.0,
            });
            if let Some(v) = v.filter(|v| !v.is_nan()) {
                self.values.insert(task.clone(), v);
            }
        }
    }

    /// Orders two tasks by this key.
    pub fn compare(&self, a: &Task, b: &Task) -> Ordering {
        let ordered = |o: Ordering| if self.descending { o.reverse() } else { o };
        match &self.field {
            Field::Created => ordered(a.created.cmp(&b.created)),
            Field::Started => last_when_unset(a.started.as_ref(), b.started.as_ref(), ordered),
            Field::Completed => last_when_unset(a.completed.as_ref(), b.completed.as_ref(), ordered),
            Field::Comment => last_when_unset(
                Some(&a.comment).filter(|c| !c.is_empty()),
                Some(&b.comment).filter(|c| !c.is_empty()),
                ordered,
            ),
            Field::LastUpdate => ordered(a.last_update.cmp(&b.last_update)),
            Field::LastChange => ordered(a.last_change.cmp(&b.last_change)),
            Field::LastIteration => ordered(a.last_iteration.cmp(&b.last_iteration)),
            Field::Name => ordered(a.name.cmp(&b.name)),
            Field::Status => ordered(a.status.as_str().cmp(b.status.as_str())),
            Field::Type => ordered(a.kind.as_str().cmp(b.kind.as_str())),
            Field::Id => ordered(a.id.cmp(&b.id)),
            Field::Unknown => Ordering::Equal,
            // Numbers by value, before text; tasks without the parameter last.
            Field::Param { section, name } => {
                let of = |t: &Task| t.hyperparams.get(section).and_then(|s| s.get(name)).map(|p| p.value.clone());
                match (of(a), of(b)) {
                    (Some(x), Some(y)) => ordered(match (x.trim().parse::<f64>(), y.trim().parse::<f64>()) {
                        (Ok(x), Ok(y)) => x.total_cmp(&y),
                        (Ok(_), Err(_)) => Ordering::Less,
                        (Err(_), Ok(_)) => Ordering::Greater,
                        (Err(_), Err(_)) => x.cmp(&y),
                    }),
                    (Some(_), None) => Ordering::Less,
                    (None, Some(_)) => Ordering::Greater,
                    (None, None) => Ordering::Equal,
                }
            }
            Field::Metric { .. } => {
                // Missing (or NaN) last, whichever way the rest are ordered.
                match (self.values.get(&a.id), self.values.get(&b.id)) {
                    (Some(x), Some(y)) => ordered(x.total_cmp(y)),
                    (Some(_), None) => Ordering::Less,
                    (None, Some(_)) => Ordering::Greater,
                    (None, None) => Ordering::Equal,
                }
            }
        }
    }
}

/// Values in the key's direction, unset ones last either way (as ClearML orders them).
fn last_when_unset<T: Ord>(a: Option<&T>, b: Option<&T>, ordered: impl Fn(Ordering) -> Ordering) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => ordered(x.cmp(y)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// `<section>.<name>[.value]` after `hyperparams.`, `%2E` standing for a `.` in either.
fn param_field(path: &str) -> Field {
    let parts: Vec<String> = path.split('.').map(|p| p.replace("%2E", ".").replace("%2e", ".")).collect();
    match parts.as_slice() {
        [section, name] | [section, name, _] => Field::Param { section: section.clone(), name: name.clone() },
        _ => Field::Unknown,
    }
}

/// `<metric key>.<variant key>.<value>` after `last_metrics.`.
fn metric_field(path: &str) -> Option<Field> {
    let mut parts = path.split('.');
    let (metric, variant, value) = (parts.next()?, parts.next()?, parts.next().unwrap_or("value"));
    if parts.next().is_some() {
        return None;
    }
    let value = match value {
        "value" => Value::Last,
        "min_value" => Value::Min,
        "max_value" => Value::Max,
        _ => return None,
    };
    Some(Field::Metric { metric: metric.to_string(), variant: variant.to_string(), value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse() {
        let k = SortKey::parse("-last_metrics.a.b.min_value").unwrap();
        assert!(k.descending);
        assert_eq!(k.field, Field::Metric { metric: "a".into(), variant: "b".into(), value: Value::Min });
        assert_eq!(SortKey::parse("name").unwrap().field, Field::Name);
        assert_eq!(SortKey::parse("hyperparams.x").unwrap().field, Field::Unknown);
        let param = Field::Param { section: "sec.tion".into(), name: "lr".into() };
        assert_eq!(SortKey::parse("-hyperparams.sec%2Etion.lr.value").unwrap().field, param);
        assert!(SortKey::parse("last_metrics.a").is_err());
        assert!(SortKey::parse("last_metrics.a.b.median").is_err());
    }
}
