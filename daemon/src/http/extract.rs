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
/// every backend alike (PostgreSQL cannot store it).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    if bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
        return Err(Error::invalid("body", "text must not contain NUL characters (\\u0000)"));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." || path.is_empty() { "body".to_string() } else { path };
        Error::invalid(field, e.into_inner().to_string())
    })
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
