//! Changes, announced once committed: they wake agents long-polling a queue (one `Notify` per
//! queue) and readers following a task's console (one per followed task), and feed the live
//! event stream. On PostgreSQL they also travel to the other replicas
//! over `NOTIFY`, tagged with this replica's origin so it ignores its own.

use super::users::UserAccess;
use runyard_api::Change;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, Notify};

/// The PostgreSQL channel replicas announce changes on.
pub const CHANNEL: &str = "runyard_changes";

/// Buffered events per subscriber of the live feed; a slower one gets `Resync`.
const FEED_CAPACITY: usize = 4096;

/// NOTIFY payloads must stay under 8000 bytes.
const PAYLOAD_BYTES: usize = 7000;

#[derive(Serialize, Deserialize)]
struct Payload {
    origin: String,
    changes: Vec<Change>,
}

pub struct Changes {
    queues: Mutex<HashMap<String, Arc<Notify>>>,
    /// Per followed task: woken by new output and by status changes.
    consoles: Mutex<HashMap<String, Arc<Notify>>>,
    feed: broadcast::Sender<Change>,
    origin: String,
    /// Project path -> id, for committed projects, so creating a task does not look its
    /// project up every time; forgotten whenever a project is renamed (here or on a replica).
    project_ids: Mutex<HashMap<String, String>>,
    /// Per user, what their credentials are checked against, as last read; forgotten whenever
    /// it changes (here or on a replica) and on a resync.
    access: Mutex<HashMap<String, Arc<UserAccess>>>,
    /// Counts every forgetting, so a read that raced one is not remembered.
    access_generation: AtomicU64,
}

impl Default for Changes {
    fn default() -> Self {
        Changes {
            queues: Mutex::default(),
            consoles: Mutex::default(),
            feed: broadcast::channel(FEED_CAPACITY).0,
            origin: super::new_id(),
            project_ids: Mutex::default(),
            access: Mutex::default(),
            access_generation: AtomicU64::new(0),
        }
    }
}

impl Changes {
    /// The notifier of `queue_id`; wait on it after registering interest, then re-check.
    pub fn queue(&self, queue_id: &str) -> Arc<Notify> {
        self.queues.lock().expect("changes lock").entry(queue_id.to_string()).or_default().clone()
    }

    /// The notifier of a task's console; wait on it after registering interest, then re-check.
    pub fn console(&self, task_id: &str) -> Arc<Notify> {
        self.consoles.lock().expect("changes lock").entry(task_id.to_string()).or_default().clone()
    }

    /// The id of project `path`, if known.
    pub fn project_id(&self, path: &str) -> Option<String> {
        self.project_ids.lock().expect("changes lock").get(path).cloned()
    }

    /// Remembers a project id. Only for ids whose rows are committed.
    pub fn remember_project_id(&self, path: &str, id: &str) {
        self.project_ids.lock().expect("changes lock").insert(path.to_string(), id.to_string());
    }

    /// A user's access as last read, if it has not changed since.
    pub fn access(&self, user_id: &str) -> Option<Arc<UserAccess>> {
        self.access.lock().expect("changes lock").get(user_id).cloned()
    }

    /// The generation to pass to [`Changes::remember_access`]: read it before reading the access.
    pub fn access_generation(&self) -> u64 {
        self.access_generation.load(Ordering::SeqCst)
    }

    /// Remembers a user's access read at `generation`, unless something was forgotten since.
    pub fn remember_access(&self, user_id: &str, access: Arc<UserAccess>, generation: u64) {
        let mut map = self.access.lock().expect("changes lock");
        if self.access_generation.load(Ordering::SeqCst) == generation {
            map.insert(user_id.to_string(), access);
        }
    }

    fn forget_access(&self, user_id: Option<&str>) {
        let mut map = self.access.lock().expect("changes lock");
        self.access_generation.fetch_add(1, Ordering::SeqCst);
        match user_id {
            Some(id) => {
                map.remove(id);
            }
            None => map.clear(),
        }
    }

    /// The live feed of committed changes.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.feed.subscribe()
    }

    /// Delivers committed changes to this replica's waiters and subscribers.
    pub fn publish(&self, changes: &[Change]) {
        for change in changes {
            match change {
                Change::Queue { id } => {
                    if let Some(n) = self.queues.lock().expect("changes lock").get(id) {
                        n.notify_waiters();
                    }
                }
                Change::Console { task: id } | Change::Task { id, .. } => {
                    let mut consoles = self.consoles.lock().expect("changes lock");
                    if let Some(n) = consoles.get(id) {
                        n.notify_waiters();
                        // Nobody follows it any more: forget it.
                        if Arc::strong_count(n) == 1 {
                            consoles.remove(id);
                        }
                    }
                }
                Change::Project { .. } => self.project_ids.lock().expect("changes lock").clear(),
                Change::User { id } => self.forget_access(Some(id)),
                _ => {}
            }
            let _ = self.feed.send(change.clone());
        }
    }

    /// Delivers committed changes to subscribers of the feed only, waking no agent.
    pub fn publish_feed_only(&self, changes: &[Change]) {
        for change in changes {
            let _ = self.feed.send(change.clone());
        }
    }

    /// Something may have been missed: every waiter looks again, every subscriber re-reads.
    pub fn resync(&self) {
        self.forget_access(None);
        for n in self.queues.lock().expect("changes lock").values() {
            n.notify_waiters();
        }
        for n in self.consoles.lock().expect("changes lock").values() {
            n.notify_waiters();
        }
        let _ = self.feed.send(Change::Resync);
    }

    /// NOTIFY payloads carrying `changes` to the other replicas.
    pub fn payloads(&self, changes: &[Change]) -> Vec<String> {
        let mut out = Vec::new();
        let mut batch: Vec<Change> = Vec::new();
        let mut size = 0;
        for change in changes {
            let len = serde_json::to_string(change).map(|s| s.len()).unwrap_or(0);
            if size + len > PAYLOAD_BYTES && !batch.is_empty() {
                out.push(self.encode(std::mem::take(&mut batch)));
                size = 0;
            }
            size += len + 1;
            batch.push(change.clone());
        }
        if !batch.is_empty() {
            out.push(self.encode(batch));
        }
        out
    }

    fn encode(&self, changes: Vec<Change>) -> String {
        serde_json::to_string(&Payload { origin: self.origin.clone(), changes }).expect("serializable")
    }

    /// A payload from the channel: another replica's changes are published here.
    pub fn receive(&self, payload: &str) {
        match serde_json::from_str::<Payload>(payload) {
            Ok(p) if p.origin == self.origin => {}
            Ok(p) => self.publish(&p.changes),
            Err(_) => self.resync(),
        }
    }
}
