//! ClearML's transport: `service.action` under any version prefix, a JSON body on any method
//! (json-lines for batches), and the `{meta, data}` answer whose `result_code` is also the HTTP
//! status. Errors carry `data: {}` and ClearML's codes; nothing ordinary is a 5xx above 500
//! (the SDK retries those forever).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use runyard_daemon::error::Error;
use serde_json::{json, Map, Value};

/// The API version advertised in tokens (and assumed for calls without a version prefix).
pub const API_VERSION: &str = "2.31";

/// A ClearML error: result code (= HTTP status), subcode, message.
#[derive(Debug)]
pub struct ClearmlError {
    pub code: u16,
    pub subcode: u16,
    pub message: String,
}

impl ClearmlError {
    pub fn new(code: u16, subcode: u16, message: impl Into<String>) -> ClearmlError {
        ClearmlError { code, subcode, message: message.into() }
    }

    /// 400/12: a request field is missing or wrong.
    pub fn validation(message: impl Into<String>) -> ClearmlError {
        ClearmlError::new(400, 12, message)
    }

    pub fn invalid_task(id: &str) -> ClearmlError {
        ClearmlError::new(400, 101, format!("Invalid task id: id={id}"))
    }

    /// The error as a batch call's `failed` entry reports it.
    pub fn as_failure(&self) -> Value {
        json!({"codes": [self.code, self.subcode], "msg": self.message, "data": {}})
    }
}

impl From<Error> for ClearmlError {
    fn from(e: Error) -> Self {
        match &e {
            Error::NotFound { kind: "task", id } => ClearmlError::invalid_task(id),
            Error::NotFound { kind: "project", id } => {
                ClearmlError::new(400, 201, format!("Invalid project id: id={id}"))
            }
            Error::NotFound { kind: "queue", id } => ClearmlError::new(400, 701, format!("Invalid queue id: id={id}")),
            Error::NotFound { .. } => ClearmlError::new(400, 0, e.to_string()),
            Error::Invalid { .. } => ClearmlError::validation(e.to_string()),
            Error::Transition(_) => ClearmlError::new(400, 110, format!("Invalid task status: {e}")),
            Error::Conflict(_) | Error::StaleAttempt { .. } => ClearmlError::new(400, 0, e.to_string()),
            Error::Unauthorized(_) => ClearmlError::new(401, 22, e.to_string()),
            Error::Forbidden(_) => ClearmlError::new(403, 0, e.to_string()),
            Error::TooLarge { .. } | Error::OverQuota { .. } => ClearmlError::new(413, 0, e.to_string()),
            Error::TooManyAttempts { .. } | Error::TooManyOpen { .. } => ClearmlError::new(429, 0, e.to_string()),
            Error::Overloaded { .. } => ClearmlError::new(503, 0, e.to_string()),
            Error::Internal(inner) => {
                tracing::error!(error = format!("{inner:#}"), "ClearML call failed");
                ClearmlError::new(500, 0, "General error")
            }
        }
    }
}

pub type Answer = Result<Value, ClearmlError>;

/// The endpoint a path names: (`service.action`, requested version).
pub fn endpoint(path: &str) -> (String, String) {
    let path = path.trim_matches('/');
    match path.split_once('/') {
        Some((version, name)) if version.starts_with('v') => (name.to_string(), version[1..].to_string()),
        _ => (path.to_string(), API_VERSION.to_string()),
    }
}

/// The request body: a JSON object (empty: `{}`), or for batches json-lines, one object a line.
pub fn parse_body(bytes: &[u8]) -> Result<Value, ClearmlError> {
    let text = std::str::from_utf8(bytes).map_err(|_| ClearmlError::validation("the body is not UTF-8"))?;
    if text.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_str(text).map_err(|e| ClearmlError::validation(format!("malformed JSON body: {e}")))
}

/// The lines of a json-lines body: each parsed, or the reason it could not be.
pub fn json_lines(bytes: &[u8]) -> Vec<Result<Value, String>> {
    let text = String::from_utf8_lossy(bytes);
    // A single JSON array or object is accepted too (`events.add`, hand-made batches).
    if let Ok(Value::Array(items)) = serde_json::from_str::<Value>(&text) {
        return items.into_iter().map(Ok).collect();
    }
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<Value>(l)
                .or_else(|e| serde_json::from_str::<Value>(&quote_non_finite(l)).map_err(|_| e))
                .map_err(|e| format!("malformed JSON line: {e}"))
        })
        .collect()
}

/// Python's `json` writes NaN and ±Infinity as bare `NaN`, `Infinity`, `-Infinity`; outside
/// strings these become the strings `"NaN"`, `"Infinity"`, `"-Infinity"`, which Runyard's
/// floats read as themselves.
pub fn quote_non_finite(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 16);
    let (mut in_string, mut escaped) = (false, false);
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            rest = &rest[c.len_utf8()..];
            continue;
        }
        if c == '"' {
            in_string = true;
        }
        if let Some(token) = ["-Infinity", "Infinity", "NaN"].into_iter().find(|t| rest.starts_with(t)) {
            out.push('"');
            out.push_str(token);
            out.push('"');
            rest = &rest[token.len()..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The `{meta, data}` answer.
pub fn respond(name: &str, version: &str, answer: Answer) -> Response {
    let id = uuid::Uuid::now_v7().simple().to_string();
    let (code, subcode, message, data) = match answer {
        Ok(data) => (200, 0, "OK".to_string(), if data.is_object() { data } else { json!({}) }),
        Err(e) => (e.code, e.subcode, e.message, json!({})),
    };
    let body = json!({
        "meta": {
            "id": id,
            "trx": id,
            "endpoint": {"name": name, "requested_version": version, "actual_version": API_VERSION},
            "result_code": code,
            "result_subcode": subcode,
            "result_msg": message,
            "error_stack": null,
            "error_data": {},
        },
        "data": data,
    });
    (StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST), Json(body)).into_response()
}

/// A string field of a request, required.
pub fn required_str<'a>(body: &'a Value, field: &str) -> Result<&'a str, ClearmlError> {
    body.get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ClearmlError::validation(format!("Validation error: missing required field '{field}'")))
}

/// The most entries a list field of a request may hold, once duplicates are dropped.
pub const MAX_LIST: usize = 10_000;

/// The longest `name` pattern a `get_all` takes, in bytes (a task name is at most 1,024).
pub const MAX_PATTERN_BYTES: usize = 4096;

/// A list-or-single field as distinct strings in request order (`id: "x"` or `id: ["x", "y"]`),
/// at most [`MAX_LIST`] of them.
pub fn str_list(body: &Value, field: &str) -> Result<Option<Vec<String>>, ClearmlError> {
    let items: Vec<&str> = match body.get(field) {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => return Ok(None),
    };
    let mut seen = std::collections::HashSet::with_capacity(items.len().min(MAX_LIST));
    let distinct: Vec<String> = items.into_iter().filter(|s| seen.insert(*s)).map(str::to_string).collect();
    if distinct.len() > MAX_LIST {
        return Err(ClearmlError::validation(format!(
            "Validation error: {field} has {} distinct entries, at most {MAX_LIST} are allowed",
            distinct.len()
        )));
    }
    Ok(Some(distinct))
}

/// The `name` filter of a `get_all`: a regular expression (the SDK anchors and escapes it), at
/// most [`MAX_PATTERN_BYTES`] long.
pub fn name_filter(body: &Value, case_insensitive: bool) -> Result<Option<regex::Regex>, ClearmlError> {
    pattern(body, "name", case_insensitive)
}

/// A pattern filter of a `get_all` on another text field (`comment`), case-insensitive.
pub fn pattern_filter(body: &Value, field: &str) -> Result<Option<regex::Regex>, ClearmlError> {
    pattern(body, field, true)
}

fn pattern(body: &Value, field: &str, case_insensitive: bool) -> Result<Option<regex::Regex>, ClearmlError> {
    let Some(pattern) = body.get(field).and_then(Value::as_str) else { return Ok(None) };
    if pattern.len() > MAX_PATTERN_BYTES {
        return Err(ClearmlError::validation(format!(
            "Validation error: {field} is a pattern of {} bytes, at most {MAX_PATTERN_BYTES} are allowed",
            pattern.len()
        )));
    }
    regex::RegexBuilder::new(pattern)
        .case_insensitive(case_insensitive)
        .size_limit(1 << 20)
        .build()
        .map(Some)
        .map_err(|e| ClearmlError::validation(format!("Validation error: {field} is not a valid pattern: {e}")))
}

/// The page of `items` that `page` and `page_size` ask for (all of them without a `page_size`);
/// a page past the end is empty.
pub fn page_of<T>(body: &Value, items: Vec<T>) -> Vec<T> {
    let Some(size) = body.get("page_size").and_then(Value::as_u64) else { return items };
    let size = size.clamp(1, MAX_LIST as u64);
    let page = body.get("page").and_then(Value::as_u64).unwrap_or(0);
    let skip = usize::try_from(page.saturating_mul(size)).unwrap_or(usize::MAX);
    items.into_iter().skip(skip).take(size as usize).collect()
}

/// The items a scroll reads at a time when a request names no `size` (ClearML's largest page).
const SCROLL_SIZE: usize = 500;

/// The items a `get_all` answers: with `scroll_id` (null to begin), `size` items from where the
/// scroll stands, and the scroll's next id (`refresh_scroll` reads it all again from the
/// start); with `start`, `size` items from there; else [`page_of`]. A scroll id is the
/// position, opaque to the clients.
pub fn scroll_of<T>(body: &Value, items: Vec<T>) -> Result<(Vec<T>, Option<String>), ClearmlError> {
    let size = || -> Result<usize, ClearmlError> {
        match body.get("size") {
            None | Some(Value::Null) => Ok(SCROLL_SIZE),
            Some(v) => match v.as_u64().filter(|s| *s >= 1) {
                Some(size) => Ok(size.min(MAX_LIST as u64) as usize),
                None => Err(ClearmlError::validation("Validation error: size must be a positive number")),
            },
        }
    };
    let Some(scroll) = body.get("scroll_id") else {
        if let Some(start) = body.get("start").and_then(Value::as_u64) {
            let skip = usize::try_from(start).unwrap_or(usize::MAX);
            return Ok((items.into_iter().skip(skip).take(size()?).collect(), None));
        }
        return Ok((page_of(body, items), None));
    };
    let at = match scroll {
        Value::Null => 0,
        Value::String(id) => id
            .strip_prefix("scroll-")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| ClearmlError::validation(format!("Validation error: invalid scroll_id '{id}'")))?,
        _ => return Err(ClearmlError::validation("Validation error: scroll_id must be a string")),
    };
    let (from, size) = if flag(body, "refresh_scroll") { (0, size()?.max(at)) } else { (at, size()?) };
    let page: Vec<T> = items.into_iter().skip(from).take(size).collect();
    let next = from + page.len();
    Ok((page, Some(format!("scroll-{next}"))))
}

pub fn flag(body: &Value, field: &str) -> bool {
    body.get(field).and_then(Value::as_bool).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_under_any_version() {
        assert_eq!(endpoint("/v2.23/tasks.create"), ("tasks.create".into(), "2.23".into()));
        assert_eq!(endpoint("auth.login"), ("auth.login".into(), API_VERSION.into()));
        assert_eq!(endpoint("v2.5/queues.get_all/"), ("queues.get_all".into(), "2.5".into()));
    }

    #[test]
    fn json_lines_report_each_bad_line() {
        let lines = json_lines(b"{\"a\":1}\n{bad\n{\"b\":2}");
        assert!(lines[0].is_ok() && lines[1].is_err() && lines[2].is_ok());
        assert_eq!(json_lines(b"[{\"a\":1},{\"b\":2}]").len(), 2);
    }

    #[test]
    fn bare_non_finite_numbers_are_read_outside_strings_only() {
        let line = r#"{"value": NaN, "low": -Infinity, "high": Infinity, "msg": "NaN \" Infinity"}"#;
        let v = json_lines(line.as_bytes()).remove(0).unwrap();
        assert_eq!(
            (v["value"].as_str(), v["low"].as_str(), v["high"].as_str()),
            (Some("NaN"), Some("-Infinity"), Some("Infinity"))
        );
        assert_eq!(v["msg"], "NaN \" Infinity");
    }

    #[test]
    fn lists_are_distinct_and_bounded() {
        let ids: Vec<String> = (0..20_000).map(|i| format!("{}", i % 3)).collect();
        assert_eq!(str_list(&json!({"id": ids}), "id").unwrap(), Some(vec!["0".into(), "1".into(), "2".into()]));
        let many: Vec<String> = (0..=MAX_LIST).map(|i| i.to_string()).collect();
        let error = str_list(&json!({"tags": many}), "tags").unwrap_err();
        assert!(error.code == 400 && error.message.contains("tags"), "{error:?}");
    }

    #[test]
    fn patterns_are_bounded() {
        let error = name_filter(&json!({"name": "a".repeat(MAX_PATTERN_BYTES + 1)}), true).unwrap_err();
        assert!(error.message.contains("name"), "{error:?}");
        assert!(name_filter(&json!({"name": "^a.*$"}), true).unwrap().unwrap().is_match("abc"));
    }

    #[test]
    fn pages_past_the_end_are_empty() {
        let items: Vec<u32> = (0..10).collect();
        assert_eq!(page_of(&json!({"page": 1, "page_size": 4}), items.clone()), vec![4, 5, 6, 7]);
        assert_eq!(page_of(&json!({"page": 1u64 << 63, "page_size": 4}), items.clone()), Vec::<u32>::new());
        assert_eq!(page_of(&json!({"page": u64::MAX, "page_size": u64::MAX}), items.clone()), Vec::<u32>::new());
        assert_eq!(page_of(&json!({}), items.clone()).len(), 10);
    }

    proptest::proptest! {
        /// Lines as Python's `json` writes them (bare NaN and ±Infinity, any text in strings):
        /// every line parses, its text unchanged, its number read back bit for bit.
        #[test]
        fn python_json_lines_read_back_exactly(
            values in proptest::collection::vec(proptest::num::f64::ANY, 1..12),
            text in "\\PC{0,16}",
        ) {
            let number = |v: f64| match v {
                v if v.is_nan() => "NaN".to_string(),
                v if v == f64::INFINITY => "Infinity".to_string(),
                v if v == f64::NEG_INFINITY => "-Infinity".to_string(),
                v => serde_json::to_string(&v).expect("finite"),
            };
            let message = serde_json::to_string(&text).expect("a string");
            let lines: Vec<String> =
                values.iter().map(|v| format!("{{\"value\": {}, \"msg\": {message}}}", number(*v))).collect();
            let parsed = json_lines(lines.join("\n").as_bytes());
            proptest::prop_assert_eq!(parsed.len(), values.len());
            for (v, line) in values.iter().zip(parsed) {
                let line = line.expect("parsed");
                proptest::prop_assert_eq!(&line["msg"], &json!(text));
                let back: runyard_api::tracking::Float = serde_json::from_value(line["value"].clone()).expect("a float");
                proptest::prop_assert!(back.0.to_bits() == v.to_bits() || (v.is_nan() && back.0.is_nan()), "{v} -> {}", back.0);
            }
        }

        /// Any bytes: one answer per non-empty line (or per item of an array), never a panic.
        #[test]
        fn any_body_gives_answers_without_panicking(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let _ = json_lines(&bytes);
        }
    }
}
