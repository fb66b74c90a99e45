//! Group commit on SQLite: concurrent requests share one write transaction.
//!
//! SQLite takes one writer at a time, and every statement is a hand-off to the database
//! thread, so under load the write connection is the bottleneck. Requests are validated by
//! their own handlers, then queued here. Whichever request finds no write in progress becomes
//! the leader: it takes everything queued (up to a limit), writes it in one go, answers every
//! request in the group, and repeats until the queue is empty. N concurrent clients pay for
//! one commit instead of N, and a lone request pays for no hand-off at all. (PostgreSQL takes
//! concurrent writers and groups their commits itself.)

use crate::error::{Error, Result};
use futures::future::BoxFuture;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Writes a group of jobs, answering each one. A commit that fails as a whole should retry
/// the jobs one by one, so one bad job never fails its neighbours.
pub type Commit<J, R> = Arc<dyn Fn(Vec<J>) -> BoxFuture<'static, Vec<Result<R>>> + Send + Sync>;

type Queued<J, R> = (J, oneshot::Sender<Result<R>>);

/// Shared by every request handler. Cheap to clone.
pub struct Group<J, R> {
    queue: Arc<Mutex<Vec<Queued<J, R>>>>,
    /// Held by the request that is writing groups.
    leader: Arc<tokio::sync::Mutex<()>>,
    commit: Commit<J, R>,
    max: usize,
}

impl<J, R> Clone for Group<J, R> {
    fn clone(&self) -> Self {
        Group { queue: self.queue.clone(), leader: self.leader.clone(), commit: self.commit.clone(), max: self.max }
    }
}

impl<J: Send + 'static, R: Send + 'static> Group<J, R> {
    /// Groups of at most `max` jobs, each written by `commit` with (a clone of) `ctx`.
    pub fn new<C, F, Fut>(ctx: C, max: usize, commit: F) -> Self
    where
        C: Clone + Send + Sync + 'static,
        F: Fn(C, Vec<J>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Vec<Result<R>>> + Send + 'static,
    {
        let commit: Commit<J, R> = Arc::new(move |jobs| Box::pin(commit(ctx.clone(), jobs)));
        Group { queue: Default::default(), leader: Default::default(), commit, max }
    }

    /// Queues `job` and waits for its group to be written.
    pub async fn submit(&self, job: J) -> Result<R> {
        let (reply, mut answer) = oneshot::channel();
        self.queue.lock().expect("queue lock").push((job, reply));
        let gone = || Error::Internal(anyhow::anyhow!("the write was abandoned"));
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
            let group: Vec<Queued<J, R>> = {
                let mut queue = self.queue.lock().expect("queue lock");
                let n = queue.len().min(self.max);
                queue.drain(..n).collect()
            };
            if group.is_empty() {
                return;
            }
            let (jobs, replies): (Vec<_>, Vec<_>) = group.into_iter().unzip();
            for (result, reply) in (self.commit)(jobs).await.into_iter().zip(replies) {
                let _ = reply.send(result);
            }
        }
    }
}
