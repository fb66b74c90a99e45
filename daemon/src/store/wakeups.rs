//! Wake-ups for agents long-polling a queue: one `Notify` per queue, fired after a commit that
//! put tasks in it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

#[derive(Default)]
pub struct Wakeups {
    queues: Mutex<HashMap<String, Arc<Notify>>>,
}

impl Wakeups {
    /// The notifier of `queue_id`; wait on it after registering interest, then re-check.
    pub fn subscribe(&self, queue_id: &str) -> Arc<Notify> {
        self.queues.lock().expect("wakeups lock").entry(queue_id.to_string()).or_default().clone()
    }

    /// Wakes every waiter of every queue (they look again and wait again).
    pub fn notify_all(&self) {
        for n in self.queues.lock().expect("wakeups lock").values() {
            n.notify_waiters();
        }
    }

    /// Wakes everyone waiting on `queue_id`.
    pub fn notify(&self, queue_id: &str) {
        if let Some(n) = self.queues.lock().expect("wakeups lock").get(queue_id) {
            n.notify_waiters();
        }
    }
}
