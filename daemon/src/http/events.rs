//! `GET /api/v1/events`: committed changes as server-sent events.

use super::AppState;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::stream::{self, Stream};
use runyard_api::Change;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// A stream of `task`, `queue`, `worker` and `resync` events; each `data` is a JSON `Change`.
/// Clients re-read what they show when an event names it.
#[utoipa::path(get, path = "/api/v1/events", tag = "events",
    responses((status = 200, description = "text/event-stream of Change objects", body = Change)))]
pub async fn stream(State(s): State<AppState>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = s.store.changes.subscribe();
    let events = stream::unfold(rx, |mut rx| async move {
        let change = match rx.recv().await {
            Ok(change) => change,
            // This subscriber fell behind: tell it to re-read everything.
            Err(RecvError::Lagged(_)) => Change::Resync,
            Err(RecvError::Closed) => return None,
        };
        let event = Event::default().event(change.kind()).json_data(&change).unwrap_or_default();
        Some((Ok(event), rx))
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
