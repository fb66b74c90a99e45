//! Errors as responses: one status per code, a JSON body, and nothing internal on the wire.

use crate::error::Error;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use runyard_api::{ErrorBody, ErrorDetail};

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        if let Error::Internal(e) = &self {
            tracing::error!(error = format!("{e:#}"), "request failed");
        }
        let code = self.code();
        let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message: self.to_string(),
                field: self.field().map(str::to_string),
                valid_states: self.valid_states(),
            },
        };
        let mut response = (status, Json(body)).into_response();
        let retry_after = match &self {
            Error::TooManyAttempts { retry_after } => Some(*retry_after),
            Error::TooManyOpen { .. } | Error::Overloaded { .. } => Some(super::open::RETRY_AFTER_SECONDS),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}
