//! Group commit for task creation: concurrent create requests share one write transaction.
//!
//! Requests are validated by their own handlers, then queued here. One worker takes whatever
//! has queued up (up to [`MAX_GROUP`]) and writes it in one transaction, so N concurrent
//! clients pay for one commit instead of N. If the group fails, each request is retried in a
//! transaction of its own, so one bad request never fails its neighbours and every error
//! reaches the request that caused it.

use super::tasks::{commit_creates, PreparedCreate};
use crate::error::{Error, Result};
use crate::store::Store;
use runyard_api::Task;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Most creations written in one transaction.
pub const MAX_GROUP: usize = 256;

type Job = (PreparedCreate, oneshot::Sender<Result<Task>>);

/// A handle to the creation worker. Cheap to clone.
#[derive(Clone)]
pub struct TaskCreator {
    jobs: mpsc::Sender<Job>,
}

impl TaskCreator {
    /// Starts the worker; it stops when every handle is dropped.
    pub fn spawn(store: Arc<Store>) -> TaskCreator {
        let (jobs, rx) = mpsc::channel(4 * MAX_GROUP);
        tokio::spawn(run(store, rx));
        TaskCreator { jobs }
    }

    pub async fn create(&self, job: PreparedCreate) -> Result<Task> {
        let (reply, answer) = oneshot::channel();
        let gone = || Error::Internal(anyhow::anyhow!("the task creation worker stopped"));
        self.jobs.send((job, reply)).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

async fn run(store: Arc<Store>, mut rx: mpsc::Receiver<Job>) {
    let mut group: Vec<Job> = Vec::with_capacity(MAX_GROUP);
    while rx.recv_many(&mut group, MAX_GROUP).await > 0 {
        let (jobs, replies): (Vec<_>, Vec<_>) = std::mem::take(&mut group).into_iter().unzip();
        match commit_creates(&store, &jobs).await {
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
                    let result = commit_creates(&store, std::slice::from_ref(job)).await.map(|mut t| t.remove(0));
                    let _ = reply.send(result);
                }
            }
        }
    }
}
