//! Group commit for task creation on SQLite: concurrent create requests share one write
//! transaction. (PostgreSQL takes concurrent writers and groups their commits itself.)
//!
//! Requests are validated by their own handlers, then queued here. Whichever request finds no
//! write in progress becomes the leader: it takes everything queued (up to [`MAX_GROUP`]),
//! writes it in one transaction, answers every request in the group, and repeats until the
//! queue is empty. So N concurrent clients pay for one commit instead of N, and a lone request
//! pays for no hand-off at all. If a group fails, each of its requests is retried in a
//! transaction of its own, so one bad request never fails its neighbours.

use super::tasks::{commit_creates, PreparedCreate};
use crate::error::{Error, Result};
use crate::store::{Backend, Store};
use runyard_api::Task;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Most creations written in one transaction.
pub const MAX_GROUP: usize = 256;

type Job = (PreparedCreate, oneshot::Sender<Result<Task>>);

/// Shared by every request handler. Cheap to clone.
#[derive(Clone)]
pub struct TaskCreator {
    store: Arc<Store>,
    queue: Arc<Mutex<Vec<Job>>>,
    /// Held by the request that is writing groups.
    leader: Arc<tokio::sync::Mutex<()>>,
}

impl TaskCreator {
    pub fn new(store: Arc<Store>) -> TaskCreator {
        TaskCreator { store, queue: Default::default(), leader: Default::default() }
    }

    pub async fn create(&self, job: PreparedCreate) -> Result<Task> {
        if self.store.backend() == Backend::Postgres {
            // PostgreSQL takes concurrent writers and groups their WAL flushes itself.
            return commit_creates(&self.store, std::slice::from_ref(&job)).await.map(|mut t| t.remove(0));
        }
        let (reply, mut answer) = oneshot::channel();
        self.queue.lock().expect("queue lock").push((job, reply));
        let gone = || Error::Internal(anyhow::anyhow!("task creation was abandoned"));
        tokio::select! {
            biased;
            result = &mut answer => result.map_err(|_| gone())?,
            guard = self.leader.clone().lock_owned() => {
                // Our job was queued before we led, so draining the queue answers it. The drain
                // runs as a task of its own: if this request goes away, the group still finishes
                // and every other request in it still gets its answer.
                let leader = self.clone();
                tokio::spawn(async move {
                    let _leading = guard;
                    leader.drain().await;
                });
                answer.await.map_err(|_| gone())?
            }
        }
    }

    async fn drain(&self) {
        loop {
            let group: Vec<Job> = {
                let mut queue = self.queue.lock().expect("queue lock");
                let n = queue.len().min(MAX_GROUP);
                queue.drain(..n).collect()
            };
            if group.is_empty() {
                return;
            }
            let (jobs, replies): (Vec<_>, Vec<_>) = group.into_iter().unzip();
            match commit_creates(&self.store, &jobs).await {
                Ok(tasks) => {
                    for (task, reply) in tasks.into_iter().zip(replies) {
                        let _ = reply.send(Ok(task));
                    }
                }
                Err(e) if jobs.len() == 1 => {
                    let _ = replies.into_iter().next().expect("one reply").send(Err(e));
                }
                Err(_) => {
                    for (job, reply) in jobs.iter().zip(replies) {
                        let result =
                            commit_creates(&self.store, std::slice::from_ref(job)).await.map(|mut t| t.remove(0));
                        let _ = reply.send(result);
                    }
                }
            }
        }
    }
}
