//! The error body every failed request returns, and its stable codes.

use crate::lifecycle::TaskStatus;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Stable, machine-readable error codes. Each maps to exactly one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// 400: the request is malformed or a field is invalid.
    InvalidRequest,
    /// 401: no or bad credentials.
    Unauthorized,
    /// 403: authenticated, but not allowed.
    Forbidden,
    /// 404: no such entity.
    NotFound,
    /// 409: the action is not valid in the entity's current state.
    InvalidTransition,
    /// 409: the entity already exists, or is in use.
    Conflict,
    /// 409: a report from an attempt that is over: the task was handed out again since (the
    /// agent stops that run).
    StaleAttempt,
    /// 413: the body is too large.
    PayloadTooLarge,
    /// 429: too many attempts (failed sign-ins with one key) or open streams; try again later.
    TooManyRequests,
    /// 500: a fault on the server side; details are in the server log.
    Internal,
    /// 503: the daemon is at its limit of requests in flight; try again shortly.
    Unavailable,
}

impl ErrorCode {
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidRequest => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::InvalidTransition | ErrorCode::Conflict | ErrorCode::StaleAttempt => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::TooManyRequests => 429,
            ErrorCode::Internal => 500,
            ErrorCode::Unavailable => 503,
        }
    }
}

/// `{"error": {...}}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
    /// The request field at fault, as a path (`script.branch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For invalid transitions: the statuses in which the action is valid.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub valid_states: Vec<TaskStatus>,
}
