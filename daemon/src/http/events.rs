//! `GET /api/v1/events`: committed changes as server-sent events.

use super::extract::{AppQuery, Caller};
use super::open::MAX_EVENT_STREAMS;
use super::AppState;
use crate::error::Result;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::stream::{self, Stream};
use runyard_api::{Change, EventsQuery};
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// A stream of `task`, `queue`, `worker`, `console` and `resync` events; each `data` is a JSON
/// `Change`. Clients re-read what they show when an event names it. `?task=ID` narrows the
/// stream to one task (an agent following the task it runs).
#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(EventsQuery),
    responses((status = 200, description = "text/event-stream of Change objects", body = Change),
        (status = 429, body = runyard_api::ErrorBody, description = "this identity holds too many event streams")))]
pub async fn stream(
    State(s): State<AppState>,
    Caller(who): Caller,
    AppQuery(q): AppQuery<EventsQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    // Held for as long as the stream is.
    let slot = s.open.take(&who.user_id, "event streams", MAX_EVENT_STREAMS)?;
    let rx = s.store.changes.subscribe();
    let events = stream::unfold((rx, q.task, slot), |(mut rx, task, slot)| async move {
        let change = loop {
            match rx.recv().await {
                Ok(change) if task.as_deref().is_none_or(|t| change.concerns_task(t)) => break change,
                Ok(_) => continue,
                // This subscriber fell behind: tell it to re-read everything.
                Err(RecvError::Lagged(_)) => break Change::Resync,
                Err(RecvError::Closed) => return None,
            }
        };
        let event = Event::default().event(change.kind()).json_data(&change).unwrap_or_default();
        Some((Ok(event), (rx, task, slot)))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
