//! ClearML's range and date filters of `tasks.get_all`: a range field (`created`, `started`,
//! `last_iteration`) takes `[min, max]`, inclusive, `null` for an open end; a date field
//! (`last_update`, `last_change`, `status_changed`) also takes `"<op><iso time>"` terms (`>=`,
//! `>`, `<=`, `<`, none for equal), all of which must hold. `_any_` / `_all_` apply a `pattern`
//! (to text fields) or a `datetime` condition (to date fields) to several `fields`, one of
//! which or all of which must match. ISO times without a zone are UTC.

use crate::envelope::ClearmlError;
use chrono::{DateTime, NaiveDateTime, Utc};
use runyard_api::Task;
use serde_json::Value;

/// A bound on one value.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Bound {
    Ge(f64),
    Gt(f64),
    Le(f64),
    Lt(f64),
    Eq(f64),
}

impl Bound {
    fn holds(self, v: f64) -> bool {
        match self {
            Bound::Ge(b) => v >= b,
            Bound::Gt(b) => v > b,
            Bound::Le(b) => v <= b,
            Bound::Lt(b) => v < b,
            Bound::Eq(b) => v == b,
        }
    }
}

/// The bounds on one field; whether an unset value passes (a range open below).
#[derive(Debug, Default)]
struct Condition {
    bounds: Vec<Bound>,
    unset_passes: bool,
}

impl Condition {
    fn holds(&self, value: Option<f64>) -> bool {
        match value {
            Some(v) => self.bounds.iter().all(|b| b.holds(v)),
            None => self.unset_passes,
        }
    }
}

fn bad(field: &str, why: impl std::fmt::Display) -> ClearmlError {
    ClearmlError::validation(format!("Validation error: {field}: {why}"))
}

/// An ISO time as milliseconds since the epoch.
fn time(field: &str, text: &str) -> Result<f64, ClearmlError> {
    let text = text.trim();
    let parsed = DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc)).or_else(|_| {
        ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
            .or_else(|| chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))
            .map(|t| t.and_utc())
            .ok_or(())
    });
    parsed.map(|t| t.timestamp_millis() as f64).map_err(|_| bad(field, format!("'{text}' is not an ISO time")))
}

/// A value of a range field: a number, or an ISO time for a date.
fn point(field: &str, v: &Value, dates: bool) -> Result<f64, ClearmlError> {
    match v {
        Value::Number(n) if !dates => n.as_f64().ok_or_else(|| bad(field, "not a number")),
        Value::String(s) if dates => time(field, s),
        Value::String(s) => s.trim().parse().map_err(|_| bad(field, format!("'{s}' is not a number"))),
        other => Err(bad(field, format!("{other} is not a bound"))),
    }
}

/// `[min, max]` with `null` for an open end.
fn range(field: &str, items: &[Value], dates: bool) -> Result<Condition, ClearmlError> {
    let [min, max] = items else { return Err(bad(field, "a range is [min, max]")) };
    let mut c = Condition { unset_passes: min.is_null(), ..Default::default() };
    if !min.is_null() {
        c.bounds.push(Bound::Ge(point(field, min, dates)?));
    }
    if !max.is_null() {
        c.bounds.push(Bound::Le(point(field, max, dates)?));
    }
    Ok(c)
}

/// A date condition: `"<op><iso>"` terms, or a `[min, max]` range.
fn date_condition(field: &str, v: &Value) -> Result<Condition, ClearmlError> {
    let terms: Vec<&Value> = match v {
        Value::Array(items) if items.len() == 2 && items.iter().all(|i| !starts_with_op(i)) => {
            return range(field, items, true)
        }
        Value::Array(items) => items.iter().collect(),
        one => vec![one],
    };
    let mut c = Condition::default();
    for term in terms {
        let text = term.as_str().ok_or_else(|| bad(field, "a date term is a string"))?;
        let (op, rest) = [">=", "<=", ">", "<"]
            .iter()
            .find_map(|op| text.strip_prefix(op).map(|rest| (*op, rest)))
            .unwrap_or(("", text));
        let at = time(field, rest)?;
        c.bounds.push(match op {
            ">=" => Bound::Ge(at),
            "<=" => Bound::Le(at),
            ">" => Bound::Gt(at),
            "<" => Bound::Lt(at),
            _ => Bound::Eq(at),
        });
    }
    Ok(c)
}

fn starts_with_op(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.starts_with('>') || s.starts_with('<'))
}

fn ms(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64
}

/// A date or range field of a task, by ClearML's name.
fn value_of(task: &Task, field: &str) -> Option<Option<f64>> {
    Some(match field {
        "created" => Some(ms(task.created)),
        "started" => task.started.map(ms),
        "completed" => task.completed.map(ms),
        "last_update" => Some(ms(task.last_update)),
        "last_change" | "status_changed" => Some(ms(task.last_change)),
        "last_iteration" => Some(task.last_iteration as f64),
        _ => return None,
    })
}

fn text_of<'a>(task: &'a Task, field: &str) -> Option<&'a str> {
    Some(match field {
        "id" => &task.id,
        "name" => &task.name,
        "comment" => &task.comment,
        "user" => &task.user,
        "status" => task.status.as_str(),
        "type" => task.kind.as_str(),
        _ => return None,
    })
}

/// One `_any_` / `_all_` condition on a task.
enum Across {
    Pattern(regex::Regex, Vec<String>, bool),
    Date(Condition, Vec<String>, bool),
}

/// The request's range, date, `_any_` and `_all_` filters, as one predicate.
pub struct Ranges {
    fields: Vec<(String, Condition)>,
    across: Vec<Across>,
}

impl Ranges {
    pub fn of(body: &Value) -> Result<Ranges, ClearmlError> {
        let mut fields = Vec::new();
        for field in ["created", "started", "last_iteration"] {
            match body.get(field) {
                None | Some(Value::Null) => {}
                Some(Value::Array(items)) => {
                    fields.push((field.to_string(), range(field, items, field != "last_iteration")?))
                }
                Some(_) => return Err(bad(field, "a range is [min, max]")),
            }
        }
        for field in ["last_update", "last_change", "status_changed"] {
            if let Some(v) = body.get(field).filter(|v| !v.is_null()) {
                fields.push((field.to_string(), date_condition(field, v)?));
            }
        }
        let mut across = Vec::new();
        for (key, all) in [("_any_", false), ("_all_", true)] {
            let Some(spec) = body.get(key).filter(|v| !v.is_null()) else { continue };
            let names: Vec<String> = spec
                .get("fields")
                .and_then(Value::as_array)
                .ok_or_else(|| bad(key, "fields are required"))?
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
            if let Some(p) = spec.get("pattern").and_then(Value::as_str) {
                let re = regex::RegexBuilder::new(p)
                    .case_insensitive(true)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| bad(key, e))?;
                across.push(Across::Pattern(re, names, all));
            } else if let Some(d) = spec.get("datetime") {
                across.push(Across::Date(date_condition(key, d)?, names, all));
            }
        }
        Ok(Ranges { fields, across })
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.across.is_empty()
    }

    pub fn matches(&self, task: &Task) -> bool {
        let fields = self.fields.iter().all(|(f, c)| value_of(task, f).is_none_or(|v| c.holds(v)));
        fields
            && self.across.iter().all(|a| {
                let (hits, all): (Vec<bool>, bool) = match a {
                    Across::Pattern(re, names, all) => {
                        (names.iter().filter_map(|n| text_of(task, n)).map(|t| re.is_match(t)).collect(), *all)
                    }
                    Across::Date(c, names, all) => {
                        (names.iter().filter_map(|n| value_of(task, n)).map(|v| c.holds(v)).collect(), *all)
                    }
                };
                if all {
                    !hits.is_empty() && hits.iter().all(|h| *h)
                } else {
                    hits.iter().any(|h| *h)
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn terms_and_ranges() {
        let c = date_condition("last_update", &json!([">=2026-01-01T00:00:00", "<2026-02-01T00:00:00Z"])).unwrap();
        let jan = time("t", "2026-01-15T12:00:00.5").unwrap();
        let feb = time("t", "2026-02-01").unwrap();
        assert!(c.holds(Some(jan)) && !c.holds(Some(feb)) && !c.holds(None));
        let open = date_condition("last_update", &json!([null, "2026-01-20T00:00:00"])).unwrap();
        assert!(open.holds(Some(jan)) && open.holds(None) && !open.holds(Some(feb)));
        assert!(range("started", &[json!(1)], true).is_err());
        assert!(time("t", "yesterday").is_err());
    }
}
