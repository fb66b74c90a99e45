//! `runyard agent`: pull tasks from queues and run them on this machine.

use crate::config;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use runyard_agent::{AgentConfig, RunContext, Worker};
use std::path::PathBuf;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

#[derive(Args)]
pub struct AgentArgs {
    #[command(subcommand)]
    command: Option<AgentCommand>,
    /// A queue to pull from; repeat for more, first = highest priority (default: "default").
    #[arg(long = "queue", value_name = "QUEUE")]
    queues: Vec<String>,
    /// Take turns between the queues instead of always trying the first one first.
    #[arg(long)]
    order_fairness: bool,
    /// GPUs the tasks may use: "0,1", "all" or "none" (sets CUDA_VISIBLE_DEVICES, names the worker).
    #[arg(long)]
    gpus: Option<String>,
    /// The worker id (default: "<host>:gpu<list>" or "<host>:cpu").
    #[arg(long)]
    name: Option<String>,
    /// The agent config file (default: ~/.config/runyard/agent.toml).
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// Where checkouts, environments and logs are cached (overrides the config file).
    #[arg(long, value_name = "DIR", global = true)]
    cache_dir: Option<PathBuf>,
    /// Run every task in a container (Docker mode), in IMAGE unless the task names its own
    /// (default image: the config's docker_image).
    #[arg(long, value_name = "IMAGE", num_args = 0..=1, default_missing_value = "")]
    docker: Option<String>,
    /// Services mode: run up to N CPU-only tasks at once, each in its own container (long-running
    /// helper tasks).
    #[arg(long, value_name = "N", requires = "docker", conflicts_with = "gpus")]
    services_mode: Option<usize>,
    /// Run in the background, with a pid file in the cache dir.
    #[arg(long, conflicts_with = "stop")]
    detached: bool,
    /// Stop the background agent with the same worker id.
    #[arg(long)]
    stop: bool,
    /// Run in the foreground (the default).
    #[arg(long, conflicts_with_all = ["detached", "stop"])]
    foreground: bool,
}

#[derive(Subcommand)]
enum AgentCommand {
    /// Run one task here, in the foreground (to debug it on one's own machine).
    Execute {
        /// The task's id.
        #[arg(long)]
        task: String,
    },
}

/// The agent's settings: the config file, then the command line; the server and key pair fall
/// back to the CLI's own configuration.
fn settings(args: &AgentArgs, server_flag: Option<&str>) -> Result<(AgentConfig, RunContext)> {
    // A file named on the command line must exist; the default one may not.
    let (path, mut cfg) = match &args.config {
        Some(p) if !p.exists() => bail!("the agent config {} does not exist", p.display()),
        Some(p) => (p.clone(), AgentConfig::load(p)?),
        None => {
            let p = AgentConfig::default_path().context("no config directory: set HOME or pass --config")?;
            let cfg = AgentConfig::load(&p)?;
            (p, cfg)
        }
    };
    if let Some(dir) = &args.cache_dir {
        cfg.cache_dir = dir.clone();
    }
    let client = config::load_file()?;
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let server = server_flag
        .map(str::to_string)
        .or_else(|| env("RUNYARD_SERVER"))
        .or(cfg.server.clone())
        .or(client.server)
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let access = env("RUNYARD_ACCESS_KEY").or(cfg.access_key.clone()).or(client.access_key);
    let secret = env("RUNYARD_SECRET_KEY").or(cfg.secret_key.clone()).or(client.secret_key);
    let (Some(access_key), Some(secret_key)) = (access, secret) else {
        bail!(
            "no credentials: set RUNYARD_ACCESS_KEY and RUNYARD_SECRET_KEY, or access_key and secret_key in {}",
            path.display()
        );
    };
    Ok((cfg, RunContext { server, access_key, secret_key, ..Default::default() }))
}

fn worker_id(args: &AgentArgs, gpus: Option<&str>) -> String {
    if let Some(name) = &args.name {
        return name.clone();
    }
    match gpus {
        Some(list) => format!("{}:gpu{list}", hostname()),
        None => format!("{}:cpu", hostname()),
    }
}

pub async fn agent(args: AgentArgs, server_flag: Option<&str>) -> Result<ExitCode> {
    crate::runtime::init_tracing();
    let (cfg, mut ctx) = settings(&args, server_flag)?;
    let client = runyard_api::Client::new(&ctx.server, &ctx.access_key, &ctx.secret_key);
    let gpus = runyard_agent::gpus::Gpus::open(args.gpus.as_deref())?;
    ctx.gpus = gpus.visible();
    let id = worker_id(&args, ctx.gpus.as_deref());
    let pid_file = cfg.cache_dir.join(format!("agent-{}.pid", id.replace(['/', ':'], "_")));
    if args.stop {
        return stop_detached(&pid_file, &id);
    }
    if args.detached {
        return detach(&cfg, &pid_file, &id);
    }
    if let Some(image) = &args.docker {
        let image = if image.is_empty() { cfg.docker_image.clone() } else { image.clone() };
        let docker =
            runyard_agent::docker::DockerMode::connect(image, cfg.docker_forbid_task_image, id.clone()).await?;
        // Leftovers of a crash of this worker (not for `execute`: its namesake may be running).
        let left = if args.command.is_none() { docker.remove_leftovers().await? } else { 0 };
        if left > 0 {
            tracing::info!(left, "removed containers a previous run of this worker left behind");
        }
        ctx.docker = Some(std::sync::Arc::new(docker));
    }
    if let Some(AgentCommand::Execute { task }) = &args.command {
        return execute(client, cfg, ctx, task).await;
    }
    ctx.worker = Some(id.clone());
    let queues = if args.queues.is_empty() { vec!["default".to_string()] } else { args.queues.clone() };
    let worker = Worker { client, config: cfg, ctx, id, queues, order_fairness: args.order_fairness, gpus };
    let stop = CancellationToken::new();
    let signalled = stop.clone();
    tokio::spawn(async move {
        crate::runtime::shutdown_signal().await;
        signalled.cancel();
    });
    let slots = args.services_mode.unwrap_or(1);
    if slots == 0 {
        bail!("--services-mode needs at least 1");
    }
    worker.run(stop, slots).await?;
    Ok(ExitCode::SUCCESS)
}

/// `runyard agent execute --task ID`: runs the task here and reports it as this machine's.
async fn execute(client: runyard_api::Client, cfg: AgentConfig, ctx: RunContext, task: &str) -> Result<ExitCode> {
    let task = client.get_task(task).await?;
    client.act(&task.id, runyard_api::Action::Started, &Default::default()).await?;
    let abort = CancellationToken::new();
    let signalled = abort.clone();
    tokio::spawn(async move {
        crate::runtime::shutdown_signal().await;
        signalled.cancel();
    });
    let outcome = runyard_agent::worker::run_reported(&client, &cfg, &ctx, &task, None, &abort, true).await;
    runyard_agent::worker::report(&client, &task.id, Some(task.attempt), &outcome).await?;
    eprintln!("task {}: {outcome:?}", task.id);
    Ok(if outcome == runyard_agent::Outcome::Completed { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Starts this same command again in the background, in a session of its own.
fn detach(cfg: &AgentConfig, pid_file: &std::path::Path, id: &str) -> Result<ExitCode> {
    use std::os::unix::process::CommandExt;
    if let Some(pid) = running_pid(pid_file) {
        bail!("an agent named '{id}' already runs (pid {pid}); stop it with --stop");
    }
    std::fs::create_dir_all(cfg.log_dir())?;
    let log = cfg.log_dir().join(format!("agent-{}.log", id.replace(['/', ':'], "_")));
    let out = std::fs::File::create(&log)?;
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--detached").collect();
    let child = std::process::Command::new(std::env::current_exe()?)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .process_group(0)
        .spawn()?;
    std::fs::write(pid_file, child.id().to_string())?;
    crate::output::line(format_args!(
        "agent '{id}' runs in the background (pid {}); log: {}",
        child.id(),
        log.display()
    ));
    Ok(ExitCode::SUCCESS)
}

fn running_pid(pid_file: &std::path::Path) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(pid_file).ok()?.trim().parse().ok()?;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).ok().map(|_| pid)
}

fn stop_detached(pid_file: &std::path::Path, id: &str) -> Result<ExitCode> {
    let Some(pid) = running_pid(pid_file) else {
        bail!("no background agent named '{id}' is running");
    };
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM)?;
    let _ = std::fs::remove_file(pid_file);
    crate::output::line(format_args!("asked agent '{id}' (pid {pid}) to stop; it aborts its running task first"));
    Ok(ExitCode::SUCCESS)
}

/// The agent `runyard up` starts beside the daemon: the "default" queue, this machine's name.
pub fn local_worker(server: &str, access_key: &str, secret_key: &str) -> Result<Worker> {
    let cfg = match AgentConfig::default_path() {
        Some(path) => AgentConfig::load(&path)?,
        None => AgentConfig::default(),
    };
    let id = format!("{}:local", hostname());
    let ctx = RunContext {
        server: server.into(),
        access_key: access_key.into(),
        secret_key: secret_key.into(),
        worker: Some(id.clone()),
        ..Default::default()
    };
    let client = runyard_api::Client::new(server, access_key, secret_key);
    let gpus = runyard_agent::gpus::Gpus::open(None)?;
    Ok(Worker { client, config: cfg, ctx, id, queues: vec!["default".into()], order_fairness: false, gpus })
}

fn hostname() -> String {
    nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_else(|| "localhost".into())
}
