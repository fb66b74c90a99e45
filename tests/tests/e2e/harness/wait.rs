//! Waiting in tests: for a condition, with a deadline and a message saying what never happened.
//! Suites wait only through these; a fixed sleep has no place outside the harness.

use std::future::Future;
use std::time::{Duration, Instant};

/// How often a condition is looked at again.
const POLL: Duration = Duration::from_millis(50);

/// Looks at `check` until it gives a value; panics after `within`, naming `what` never happened.
pub async fn eventually<T, F: Future<Output = Option<T>>>(
    what: &str,
    within: Duration,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(POLL).await;
    }
}

/// [`eventually`] for a condition that holds or not.
pub async fn until<F: Future<Output = bool>>(what: &str, within: Duration, mut check: impl FnMut() -> F) {
    eventually(what, within, || {
        let holds = check();
        async move { holds.await.then_some(()) }
    })
    .await
}

/// [`until`] outside an async context (drop handlers, setup threads).
pub fn until_blocking(what: &str, within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while !check() {
        if Instant::now() >= deadline {
            eprintln!("{what}: not within {within:?}");
            return false;
        }
        std::thread::sleep(POLL);
    }
    true
}

/// Gives a request sent from another task time to reach the daemon and settle into its wait.
/// Only for scenarios that need a long-poll under way before they act, where nothing outside
/// the daemon can see that it is.
pub async fn request_under_way() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}
