//! Extractors that turn every malformed request into our error body, naming the field.

use crate::error::Error;
use crate::store::Principal;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// A JSON body. An empty body reads as `{}`; unknown fields and wrong types are refused with
/// the path of the field at fault.
pub struct AppJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for AppJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                Error::TooLarge { limit: super::max_body_bytes() }
            } else {
                Error::invalid("body", rejection.body_text())
            }
        })?;
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { &bytes };
        parse_json(bytes).map(AppJson)
    }
}

/// Parses JSON, naming the field at fault on error. Text with NUL characters is refused on
/// every backend alike (PostgreSQL cannot store it). A number with a zero fraction (`3.0`) is
/// taken where an integer is expected, as JSON Schema counts it an integer.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    if bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
        return Err(Error::invalid("body", "text must not contain NUL characters (\\u0000)"));
    }
    let mut text = std::borrow::Cow::Borrowed(bytes);
    // Each retry turns one integral float into an integer; a body has only so many fields.
    for _ in 0..64 {
        let mut de = serde_json::Deserializer::from_slice(&text);
        let e = match serde_path_to_error::deserialize(&mut de) {
            Ok(value) => return Ok(value),
            Err(e) => e,
        };
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.to_string().starts_with("invalid type: floating point") {
            if let Some(fixed) = integral_at(&text, inner.line(), inner.column()) {
                text = std::borrow::Cow::Owned(fixed);
                continue;
            }
        }
        let field = if path == "." || path.is_empty() { "body".to_string() } else { path };
        return Err(Error::invalid(field, inner.to_string()));
    }
    Err(Error::invalid("body", "too many numbers with a fraction where integers are expected"))
}

/// The JSON text with the number that ends at (`line`, `column`) written as an integer, if it
/// is one (`3.0`, `1e3`) within ±2^53.
fn integral_at(text: &[u8], line: usize, column: usize) -> Option<Vec<u8>> {
    let line_start =
        if line <= 1 { 0 } else { text.iter().enumerate().filter(|(_, b)| **b == b'\n').nth(line - 2)?.0 + 1 };
    let numeric = |b: &u8| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-');
    let mut end = (line_start + column).min(text.len());
    while end > line_start && !numeric(&text[end - 1]) {
        end -= 1;
    }
    let mut start = end;
    while start > line_start && numeric(&text[start - 1]) {
        start -= 1;
    }
    let value: f64 = std::str::from_utf8(&text[start..end]).ok()?.parse().ok()?;
    if start == end || value.fract() != 0.0 || value.abs() > 9_007_199_254_740_992.0 {
        return None;
    }
    let mut fixed = text[..start].to_vec();
    fixed.extend_from_slice(format!("{}", value as i64).as_bytes());
    fixed.extend_from_slice(&text[end..]);
    Some(fixed)
}

/// A query string, with unknown parameters refused.
pub struct AppQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for AppQuery<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(AppQuery).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." { "query".to_string() } else { path };
            Error::invalid(field, e.into_inner().to_string())
        })
    }
}

/// The authenticated caller, put in place by the auth middleware.
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| Error::Unauthorized("authentication required".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Counts {
        n: u32,
        items: Vec<i64>,
        ratio: f64,
    }

    #[test]
    fn integral_floats_are_integers() {
        let parsed: Counts = parse_json(b"{\"n\": 3.0, \"items\": [1, -2.0, 1e3],\n \"ratio\": 2.0}").unwrap();
        assert_eq!(parsed, Counts { n: 3, items: vec![1, -2, 1000], ratio: 2.0 });
        let refused = parse_json::<Counts>(b"{\"n\": 3.5, \"items\": [], \"ratio\": 1}").unwrap_err();
        assert!(refused.to_string().contains("floating point"), "{refused}");
        let refused = parse_json::<Counts>(b"{\"n\": 1e300, \"items\": [], \"ratio\": 1}").unwrap_err();
        assert!(refused.to_string().contains("n"), "{refused}");
    }
}
