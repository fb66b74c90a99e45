//! The agent's main loop: register as a worker, long-poll the queues (first queue first, or
//! round-robin with order fairness), run each task, report status and resources every few
//! seconds, obey abort and drain, and on stop abort the running task — never report it
//! completed.

use crate::config::AgentConfig;
use crate::console;
use crate::resources::Monitor;
use crate::run::{self, Outcome, RunContext};
use anyhow::{Context, Result};
use backon::{ExponentialBuilder, Retryable};
use runyard_api::{Action, ActionRequest, Client, ClientError, ErrorCode, PopRequest, RegisterWorker, Task};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long one pop waits for a task.
const POP_WAIT_SECONDS: f64 = 30.0;
/// Status reports: often while a task runs (abort requests arrive with the answer), else rarely.
const REPORT_BUSY: Duration = Duration::from_secs(1);
const REPORT_IDLE: Duration = Duration::from_secs(10);
/// A running task is pinged this often (its console output counts too).
const PING_EVERY: Duration = Duration::from_secs(30);

pub struct Worker {
    pub client: Client,
    pub config: AgentConfig,
    pub ctx: RunContext,
    pub id: String,
    pub queues: Vec<String>,
    pub order_fairness: bool,
    pub gpus: crate::gpus::Gpus,
}

/// The tasks being run and their abort switches.
type Current = Arc<Mutex<std::collections::BTreeMap<String, CancellationToken>>>;

impl Worker {
    /// Pulls and runs tasks until `stop`: one at a time, or up to `slots` at once (services
    /// mode). On stop, running tasks are aborted and reported before this returns.
    pub async fn run(mut self, stop: CancellationToken, slots: usize) -> Result<()> {
        let gpus = std::mem::replace(&mut self.gpus, crate::gpus::Gpus::none());
        let monitor = Monitor::new(&self.config.cache_dir, gpus);
        let register = RegisterWorker {
            id: self.id.clone(),
            queues: self.queues.clone(),
            capabilities: monitor.capabilities(),
            timeout_seconds: Some(self.config.worker_timeout_seconds),
        };
        self.client.register_worker(&register).await.context("could not register with the daemon")?;
        self.recover().await;
        tracing::info!(worker = self.id, queues = ?self.queues, slots, "registered; waiting for tasks");
        let current: Current = Arc::default();
        let drained = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reporter = tokio::spawn(report_loop(
            self.client.clone(),
            register,
            monitor,
            Duration::from_secs(self.config.monitor_seconds),
            current.clone(),
            drained.clone(),
            stop.clone(),
        ));
        let pop = PopRequest {
            queues: self.queues.clone(),
            worker: self.id.clone(),
            wait_seconds: POP_WAIT_SECONDS,
            order_fairness: self.order_fairness,
        };
        let this = Arc::new(self);
        let mut running = tokio::task::JoinSet::new();
        while !stop.is_cancelled() {
            while running.try_join_next().is_some() {}
            if running.len() >= slots.max(1) {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = running.join_next() => continue,
                }
            }
            if drained.load(std::sync::atomic::Ordering::Relaxed) {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(REPORT_IDLE) => continue,
                }
            }
            let popped = tokio::select! {
                _ = stop.cancelled() => break,
                popped = this.client.pop(&pop) => popped,
            };
            let task = match popped {
                Ok(resp) => match resp.task {
                    Some(task) => task,
                    None => continue,
                },
                Err(error) => {
                    tracing::warn!(%error, "could not ask for a task; retrying");
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep(Duration::from_secs(2)) => continue,
                    }
                }
            };
            let abort = stop.child_token();
            current.lock().expect("current lock").insert(task.id.clone(), abort.clone());
            let (this, current, stop) = (this.clone(), current.clone(), stop.clone());
            running.spawn(async move {
                if let Err(error) = this.execute(&task, &abort, &stop).await {
                    tracing::error!(
                        task = task.id,
                        error = format!("{error:#}"),
                        "could not report the task's outcome"
                    );
                }
                current.lock().expect("current lock").remove(&task.id);
            });
        }
        // Stopping: the running tasks were aborted with `stop`; wait for their reports.
        while running.join_next().await.is_some() {}
        reporter.abort();
        let _ = this.client.unregister_worker(&this.id).await;
        Ok(())
    }

    /// Where the tasks being run are written down (a file each), so a restart after a crash
    /// knows them.
    fn running_dir(&self) -> std::path::PathBuf {
        self.config.cache_dir.join(format!("agent-{}.running", self.id.replace(['/', ':'], "_")))
    }

    /// A previous life of this worker stopped before it could report its tasks: what still
    /// runs of them is killed and their work dirs removed; an outcome it wrote down is reported
    /// now; a run it did not finish is lost, and its task is reported aborted (never completed).
    async fn recover(&self) {
        let Ok(files) = std::fs::read_dir(self.running_dir()) else { return };
        for file in files.filter_map(|f| f.ok()) {
            let task = file.file_name().to_string_lossy().into_owned();
            let killed = crate::process::kill_survivors(&task, &self.id);
            if killed > 0 {
                tracing::warn!(task, killed, "killed processes a previous run of this worker left running");
            }
            let _ = std::fs::remove_dir_all(self.config.work_dir().join(&task));
            let recorded = std::fs::read(file.path()).ok().and_then(|b| serde_json::from_slice::<Recorded>(&b).ok());
            let (attempt, outcome) = match recorded {
                Some(Recorded { attempt, outcome: Some(outcome) }) => (attempt, outcome),
                Some(Recorded { attempt, outcome: None }) => {
                    (attempt, Outcome::Aborted { reason: "the agent restarted".into() })
                }
                None => (None, Outcome::Aborted { reason: "the agent restarted".into() }),
            };
            // An attempt that is over (the task was handed out again) is refused: nothing
            // this worker left can overwrite a later run.
            match report(&self.client, &task, attempt, &outcome).await {
                Ok(()) => tracing::warn!(task, ?outcome, "reported a task a previous run of this worker left"),
                Err(error) => tracing::debug!(task, %error, "the task had already ended"),
            }
            let _ = std::fs::remove_file(file.path());
        }
    }

    /// Runs one popped task and reports how it ended.
    async fn execute(&self, task: &Task, abort: &CancellationToken, stop: &CancellationToken) -> Result<()> {
        let started =
            ActionRequest { worker: Some(self.id.clone()), attempt: Some(task.attempt), ..Default::default() };
        match self.client.act(&task.id, Action::Started, &started).await {
            Ok(_) => {}
            Err(ClientError::Api { detail, .. })
                if matches!(
                    detail.code,
                    ErrorCode::Conflict | ErrorCode::NotFound | ErrorCode::InvalidTransition | ErrorCode::StaleAttempt
                ) =>
            {
                tracing::warn!(task = task.id, message = detail.message, "the task is not ours to run");
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(task = task.id, name = task.name, "running");
        let mark = self.running_dir().join(&task.id);
        let _ = std::fs::create_dir_all(self.running_dir());
        let attempt = Some(task.attempt);
        let _ = std::fs::write(&mark, serde_json::to_vec(&Recorded { attempt, outcome: None }).unwrap_or_default());
        // The task's process gets a token of its own, never this agent's key pair.
        let outcome = match self.client.task_token(&task.id, task.attempt).await {
            Ok(token) => {
                run_reported(&self.client, &self.config, &self.ctx, task, Some(&token.token), abort, false).await
            }
            Err(e) => Outcome::Failed { reason: "the task's token could not be issued".into(), message: e.to_string() },
        };
        let outcome = match outcome {
            Outcome::Aborted { reason } if stop.is_cancelled() && reason.is_empty() => {
                Outcome::Aborted { reason: "the agent was stopped".into() }
            }
            other => other,
        };
        // Written down first: should the report not get through, the next start sends it.
        let written = Recorded { attempt, outcome: Some(outcome.clone()) };
        let _ = std::fs::write(&mark, serde_json::to_vec(&written).unwrap_or_default());
        let reported = report(&self.client, &task.id, attempt, &outcome).await;
        if !matches!(reported, Err(ref e) if is_transport(e)) {
            let _ = std::fs::remove_file(mark);
        }
        reported
    }
}

/// Runs `task` with its console shipped and pings sent, returning once its output is all sent.
/// `echo`: in the foreground, also show the output and set-up steps on this terminal.
pub async fn run_reported(
    client: &Client,
    config: &AgentConfig,
    ctx: &RunContext,
    task: &Task,
    token: Option<&str>,
    abort: &CancellationToken,
    echo: bool,
) -> Outcome {
    let log_file = config.log_dir().join(format!("{}.log", task.id));
    let (console, shipped) = console::start(client.clone(), task.id.clone(), task.attempt, &log_file, echo);
    console.note(format!(
        "{} running task {} ({})",
        ctx.worker.as_deref().unwrap_or("this machine"),
        task.id,
        task.name
    ));
    // The pings carry the attempt: once the daemon answers that it is over (the task was
    // handed out again), this run stops.
    let pinger = {
        let (client, id, abort) = (client.clone(), task.id.clone(), abort.clone());
        let ping = ActionRequest { attempt: Some(task.attempt), ..Default::default() };
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PING_EVERY).await;
                if let Err(e) = client.act(&id, Action::Ping, &ping).await {
                    if e.code() == Some(ErrorCode::StaleAttempt) {
                        tracing::warn!(task = id, error = %e, "this run's attempt is over: stopping it");
                        abort.cancel();
                        return;
                    }
                }
            }
        })
    };
    let watcher = tokio::spawn(watch_for_abort(client.clone(), task.id.clone(), abort.clone()));
    let outcome = run::run(config, ctx, task, token, &console, abort).await;
    watcher.abort();
    pinger.abort();
    drop(console);
    let _ = shipped.await;
    outcome
}

/// Cancels `abort` the moment the daemon asks the task to stop, from the live change stream.
/// (The status report's answer is the fallback, should the stream be down.)
async fn watch_for_abort(client: Client, task: String, abort: CancellationToken) {
    loop {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let only = runyard_api::EventsQuery { task: Some(task.clone()) };
        // Its status changes (not its console output) are worth a look.
        let watching = client
            .watch_with(&only, |change| matches!(change, runyard_api::Change::Console { .. }) || tx.send(()).is_ok());
        let looking = async {
            while rx.recv().await.is_some() {
                if let Ok(t) = client.get_task(&task).await {
                    if t.status != runyard_api::TaskStatus::InProgress || t.status_message == "stopping" {
                        abort.cancel();
                        return;
                    }
                }
            }
            // The stream ended: only `watching` decides what happens next.
            std::future::pending::<()>().await
        };
        tokio::select! {
            _ = watching => {}
            _ = looking => return,
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The daemon could not be reached (as opposed to answering with an error).
fn is_transport(e: &anyhow::Error) -> bool {
    matches!(e.downcast_ref::<ClientError>(), Some(ClientError::Transport { .. }))
}

/// How long an agent keeps trying to report how a task ended.
pub const OUTCOME_RETRIES: Duration = Duration::from_secs(60);

/// What the agent writes down about a task it runs (in its cache, until the daemon has it):
/// the attempt it was handed, and once the run ends, its outcome.
#[derive(Debug, Serialize, Deserialize)]
struct Recorded {
    attempt: Option<i64>,
    outcome: Option<Outcome>,
}

/// Tells the daemon how the task ended (for `attempt`, when the run had one).
pub async fn report(client: &Client, task: &str, attempt: Option<i64>, outcome: &Outcome) -> Result<()> {
    let (action, mut req) = match outcome {
        Outcome::Completed => (Action::Completed, ActionRequest::default()),
        Outcome::Failed { reason, message } => (
            Action::Failed,
            ActionRequest { reason: Some(reason.clone()), message: Some(message.clone()), ..Default::default() },
        ),
        Outcome::Aborted { reason } => (
            Action::Stopped,
            ActionRequest { reason: (!reason.is_empty()).then(|| reason.clone()), ..Default::default() },
        ),
    };
    req.attempt = attempt;
    // Tried until the daemon answers, for up to OUTCOME_RETRIES: the outcome must outlast a
    // passing network error or a daemon restart (the daemon's own refusal is final).
    let tries = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(250))
        .with_max_delay(Duration::from_secs(5))
        .without_max_times()
        .with_total_delay(Some(OUTCOME_RETRIES));
    (|| client.act(task, action, &req))
        .retry(tries)
        .when(|e| !matches!(e, ClientError::Api { .. }))
        .notify(|error, wait| tracing::warn!(%error, task, "the outcome did not reach the daemon; trying again in {wait:?}"))
        .await
        .map(|_| ())
        .map_err(Into::into)
}

/// Reports status and resource use: every second while busy (the answer carries aborts and
/// drain), well within the worker timeout while idle; every `monitor_every` also as the running
/// tasks' `:monitor:` scalars.
async fn report_loop(
    client: Client,
    register: RegisterWorker,
    mut monitor: Monitor,
    monitor_every: Duration,
    current: Current,
    drained: Arc<std::sync::atomic::AtomicBool>,
    stop: CancellationToken,
) {
    // Well within the worker timeout, so an idle worker is never dropped.
    let idle = REPORT_IDLE.min(Duration::from_secs(register.timeout_seconds.unwrap_or(60)) / 3);
    let mut last = std::time::Instant::now();
    // When each running task was first seen, and when its machine use was last sent.
    let mut series: std::collections::HashMap<String, (std::time::Instant, Option<std::time::Instant>)> =
        Default::default();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(REPORT_BUSY.min(idle)) => {}
        }
        let running = current.lock().expect("current lock").clone();
        if running.is_empty() && last.elapsed() < idle {
            continue;
        }
        last = std::time::Instant::now();
        let report = monitor.report(running.keys().next().cloned());
        series.retain(|id, _| running.contains_key(id));
        if !monitor_every.is_zero() {
            let mut events = Vec::new();
            for id in running.keys() {
                let (started, sent) = series.entry(id.clone()).or_insert((last, None));
                if sent.is_none_or(|s| s.elapsed() >= monitor_every) {
                    *sent = Some(last);
                    events.extend(crate::resources::monitor_events(id, started.elapsed().as_secs() as i64, &report));
                }
            }
            if !events.is_empty() {
                let client = client.clone();
                // Off the report path: a slow daemon must not delay abort requests.
                tokio::spawn(async move {
                    if let Err(error) = client.send_events(&runyard_api::tracking::EventBatch { events }).await {
                        tracing::debug!(%error, "could not report machine use");
                    }
                });
            }
        }
        match client.report_worker(&register.id, &report).await {
            Ok(answer) => {
                drained.store(answer.drain, std::sync::atomic::Ordering::Relaxed);
                for (id, abort) in &running {
                    if answer.abort.contains(id) {
                        tracing::info!(task = id, "abort requested");
                        abort.cancel();
                    }
                }
            }
            // Dropped (silent too long, or removed): register again.
            Err(ClientError::Api { detail, .. }) if detail.code == ErrorCode::NotFound => {
                let _ = client.register_worker(&register).await;
            }
            Err(error) => tracing::warn!(%error, "could not report status"),
        }
    }
}
