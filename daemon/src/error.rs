//! The daemon's one error type: services return it, `http::error` turns it into a response.

use runyard_api::{ErrorCode, InvalidTransition, TaskStatus};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request field is missing or invalid.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// No entity of that kind has that id or name.
    #[error("no {kind} '{id}'")]
    NotFound { kind: &'static str, id: String },
    /// The action is not valid in the task's status.
    #[error(transparent)]
    Transition(#[from] InvalidTransition),
    /// The entity exists already or is in use.
    #[error("{0}")]
    Conflict(String),
    /// A report from an attempt that is over: the task was handed out again.
    #[error("attempt {reported} of task '{task}' is over (the current attempt is {current})")]
    StaleAttempt { task: String, reported: i64, current: i64 },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("the request body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    /// A holder's stored files (a task's, or a user's outside any task) would outgrow the
    /// operator's quota.
    #[error("the files of {holder} would take more than the quota of {limit} bytes")]
    OverQuota { holder: String, limit: u64 },
    /// Too many failed sign-ins with one key: refused without checking, for a while.
    #[error("too many failed sign-ins with this key: try again in {retry_after} s")]
    TooManyAttempts { retry_after: u64 },
    /// One identity holds as many long-lived requests of a kind (event streams, long-polls)
    /// as it may.
    #[error("this identity already holds {limit} open {what}: close one first")]
    TooManyOpen { what: &'static str, limit: usize },
    /// As many requests are in flight as the daemon takes at once.
    #[error("the server is at its limit of {limit} requests in flight: try again shortly")]
    Overloaded { limit: usize },
    /// A fault of ours or of the database; the details go to the log, not the client.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Invalid { field: field.into(), message: message.into() }
    }

    pub fn not_found(kind: &'static str, id: impl Into<String>) -> Error {
        Error::NotFound { kind, id: id.into() }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Invalid { .. } => ErrorCode::InvalidRequest,
            Error::NotFound { .. } => ErrorCode::NotFound,
            Error::Transition(_) => ErrorCode::InvalidTransition,
            Error::Conflict(_) => ErrorCode::Conflict,
            Error::StaleAttempt { .. } => ErrorCode::StaleAttempt,
            Error::Unauthorized(_) => ErrorCode::Unauthorized,
            Error::Forbidden(_) => ErrorCode::Forbidden,
            Error::TooLarge { .. } | Error::OverQuota { .. } => ErrorCode::PayloadTooLarge,
            Error::TooManyAttempts { .. } | Error::TooManyOpen { .. } => ErrorCode::TooManyRequests,
            Error::Internal(_) => ErrorCode::Internal,
            Error::Overloaded { .. } => ErrorCode::Unavailable,
        }
    }

    pub fn field(&self) -> Option<&str> {
        match self {
            Error::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }

    pub fn valid_states(&self) -> Vec<TaskStatus> {
        match self {
            Error::Transition(t) => t.valid_states(),
            _ => Vec::new(),
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            // A concurrent request won a check-then-insert race: the row exists now.
            if db.is_unique_violation() {
                return Error::Conflict("it exists already (created by a concurrent request)".into());
            }
            // PostgreSQL text cannot hold NUL characters.
            if matches!(db.code().as_deref(), Some("22021") | Some("22P05")) {
                return Error::invalid("body", "text must not contain NUL characters");
            }
        }
        Error::Internal(e.into())
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Error::Internal(e.into())
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Internal(e.into())
    }
}
