//! Requests open at once. In all, a daemon takes so many in flight and turns the rest away at
//! once (503 with Retry-After) rather than queue them; per identity, event streams and
//! long-polls hold a connection and some memory each, so one key pair (or a task's code using
//! it) may hold only so many.

use crate::error::{Error, Result};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

/// Requests in flight at once, by default.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 10_000;

/// The daemon's places for requests in flight.
pub struct InFlight {
    places: Arc<Semaphore>,
    limit: usize,
}

impl InFlight {
    pub fn new(limit: usize) -> InFlight {
        InFlight { places: Arc::new(Semaphore::new(limit)), limit }
    }
}

/// `router` with its requests counted against `in_flight` (the daemon's own ports and a
/// plugin's share one count).
pub fn shedding<S: Clone + Send + Sync + 'static>(
    router: axum::Router<S>,
    in_flight: Arc<InFlight>,
) -> axum::Router<S> {
    router.layer(axum::middleware::from_fn_with_state(in_flight, shed))
}

/// Middleware: a request takes a place until its answer starts (a stream's body does not hold
/// one); none left, it is answered 503 at once. Health checks always get through.
pub async fn shed(State(in_flight): State<Arc<InFlight>>, req: Request, next: Next) -> Response {
    if req.uri().path() == "/healthz" {
        return next.run(req).await;
    }
    match in_flight.places.clone().try_acquire_owned() {
        Ok(_place) => next.run(req).await,
        Err(_) => Error::Overloaded { limit: in_flight.limit }.into_response(),
    }
}

/// Event streams one identity may hold open (browser tabs, agents following their tasks).
pub const MAX_EVENT_STREAMS: usize = 64;

/// Long-polls one identity may have waiting (an agent's workers each wait on one).
pub const MAX_LONG_POLLS: usize = 2048;

/// The longest a long-poll waits under a request timeout of `timeout`: a second less, and
/// never over a minute (what clients may ask for).
pub fn longest_wait(timeout: std::time::Duration) -> f64 {
    (timeout.as_secs_f64() - 1.0).clamp(0.0, 60.0)
}

/// A long-poll's wait as asked, cut to `longest`; a wait no long-poll takes is left for its
/// service to refuse, naming the field.
pub fn bounded_wait(asked: f64, longest: f64) -> f64 {
    if (0.0..=60.0).contains(&asked) {
        asked.min(longest)
    } else {
        asked
    }
}

/// What a refused client is told to wait before trying again.
pub const RETRY_AFTER_SECONDS: u64 = 5;

/// How many long-lived requests of each kind each identity holds.
#[derive(Default)]
pub struct OpenRequests(Mutex<HashMap<(String, &'static str), usize>>);

/// A held place; dropping it (the response finished or the client went away) frees it.
pub struct Slot {
    open: Arc<OpenRequests>,
    key: (String, &'static str),
}

impl OpenRequests {
    /// Takes a place of kind `what` for `identity`, refused (429) beyond `limit`.
    pub fn take(self: &Arc<Self>, identity: &str, what: &'static str, limit: usize) -> Result<Slot> {
        let key = (identity.to_string(), what);
        let mut held = self.0.lock().expect("open requests lock");
        let n = held.entry(key.clone()).or_default();
        if *n >= limit {
            return Err(Error::TooManyOpen { what, limit });
        }
        *n += 1;
        Ok(Slot { open: self.clone(), key })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.open.0.lock().expect("open requests lock");
        if let Some(n) = held.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_counted_per_identity_and_freed_on_drop() {
        let open = Arc::new(OpenRequests::default());
        let a = open.take("ada", "event streams", 2).unwrap();
        let _b = open.take("ada", "event streams", 2).unwrap();
        assert!(matches!(open.take("ada", "event streams", 2), Err(Error::TooManyOpen { limit: 2, .. })));
        assert!(open.take("bob", "event streams", 2).is_ok(), "another identity has its own places");
        assert!(open.take("ada", "long-polls", 2).is_ok(), "another kind has its own places");
        drop(a);
        assert!(open.take("ada", "event streams", 2).is_ok(), "a freed place is taken again");
    }
}
