//! Runs one task natively: code checked out, environment built, the entry point started with
//! the task's arguments and environment, its output in the task's console.

use crate::checkout::{self, inside, Source};
use crate::config::AgentConfig;
use crate::console::Console;
use crate::docker::DockerMode;
use crate::docker_args::ContainerArgs;
use crate::process::{self, Ended};
use crate::python;
use anyhow::{bail, Context, Result};
use runyard_api::{EntryKind, Task};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How a run ended.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Outcome {
    Completed,
    /// The process exited non-zero, or something failed before it started: the reason.
    Failed {
        reason: String,
        message: String,
    },
    /// Stopped on request.
    Aborted {
        reason: String,
    },
}

/// What the agent tells every task about where it runs.
#[derive(Debug, Clone, Default)]
pub struct RunContext {
    /// Docker mode: every task runs in a container.
    pub docker: Option<std::sync::Arc<DockerMode>>,
    pub server: String,
    pub access_key: String,
    pub secret_key: String,
    pub worker: Option<String>,
    /// `CUDA_VISIBLE_DEVICES` for the task, if the agent was given GPUs.
    pub gpus: Option<String>,
}

/// Runs `task` to its end. `stop` aborts it.
/// Runs `task`; `token` is what its process authenticates with (see [`Launch::of`]).
pub async fn run(
    config: &AgentConfig,
    ctx: &RunContext,
    task: &Task,
    token: Option<&str>,
    console: &Console,
    stop: &CancellationToken,
) -> Outcome {
    let failed = |reason: &str, e: anyhow::Error| {
        let message = format!("{e:#}");
        console.steps_done();
        console.note(format!("{reason}: {message}"));
        Outcome::Failed { reason: reason.to_string(), message }
    };
    let dir = config.work_dir().join(&task.id);
    let code = match prepare_code(config, task, &dir, console).await {
        Ok(code) => code,
        Err(e) => return failed("code checkout failed", e),
    };
    if stop.is_cancelled() {
        return Outcome::Aborted { reason: "aborted before it started".into() };
    }
    let launch = match Launch::of(ctx, task, token, &code) {
        Ok(l) => l,
        Err(e) => return failed("the task could not start", e),
    };
    let job = Job { config, task, code: &code, console, stop };
    let started = match &ctx.docker {
        Some(docker) => in_container(job, ctx, docker, launch).await,
        None => natively(job, launch).await,
    };
    let ended = match started {
        Ok(ended) => Ok(ended),
        Err(Failure::Pull(e) | Failure::Setup(e) | Failure::Start(e)) if stop.is_cancelled() => {
            console.note(format!("stopped while preparing: {e:#}"));
            return Outcome::Aborted { reason: "aborted before it started".into() };
        }
        Err(Failure::Pull(e)) => return failed("image pull failed", e),
        Err(Failure::Setup(e)) => return failed("environment set-up failed", e),
        Err(Failure::Start(e)) => Err(e),
    };
    let outcome = match ended {
        Err(e) => failed("the task could not start", e),
        Ok(Ended::Exited(s)) if s.success() => Outcome::Completed,
        Ok(Ended::Exited(s)) => {
            let reason = match s.code() {
                Some(code) => format!("exit code {code}"),
                None => format!("killed by signal {}", std::os::unix::process::ExitStatusExt::signal(&s).unwrap_or(0)),
            };
            console.note(format!("the task failed: {reason}"));
            Outcome::Failed { reason, message: String::new() }
        }
        Ok(Ended::Stopped { killed }) => {
            let how = if killed { "killed after the grace period" } else { "terminated" };
            console.note(format!("the task was aborted ({how})"));
            Outcome::Aborted { reason: String::new() }
        }
        Ok(Ended::TimedOut) => Outcome::Failed { reason: "timed out".into(), message: String::new() },
    };
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

/// The task's code in a fresh directory: its repository checked out, or empty.
async fn prepare_code(config: &AgentConfig, task: &Task, dir: &Path, console: &Console) -> Result<PathBuf> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.parent().unwrap_or(dir))?;
    match Source::of(&task.script) {
        None => std::fs::create_dir_all(dir)?,
        Some(source) => {
            console.step(format!("checking out {}", checkout::redact(source.url)));
            let (config_, script, dest) = (config.clone(), task.script.clone(), dir.to_path_buf());
            let limit = Duration::from_secs(config.git_timeout_seconds);
            let job = tokio::task::spawn_blocking(move || {
                let source = Source::of(&script).expect("has a repository");
                checkout::checkout(&config_, &source, &dest)
            });
            let commit = tokio::time::timeout(limit, job)
                .await
                .map_err(|_| anyhow::anyhow!("git took longer than {} s", limit.as_secs()))??;
            let commit = commit?;
            console.note(format!("checked out {commit}"));
        }
    }
    Ok(dir.to_path_buf())
}

/// Why a run did not get going.
enum Failure {
    /// The task's image is missing and could not be pulled.
    Pull(anyhow::Error),
    /// Building the environment failed (pip, venv).
    Setup(anyhow::Error),
    /// The process or container could not start.
    Start(anyhow::Error),
}

/// What to start, wherever it runs: the interpreter kind, the entry, its arguments, the working
/// directory and the environment.
struct Launch {
    /// A shell script run with `binary` (default bash); else Python.
    shell: Option<String>,
    /// `python -m target` rather than a file.
    module: bool,
    /// The script file, or the module name.
    target: String,
    args: Vec<String>,
    cwd: PathBuf,
    env: Vec<(String, String)>,
}

impl Launch {
    /// Resolves the task's entry point inside `code` (writing custom code, adding `Task.init`).
    /// The process authenticates with `token` (its own, scoped to the task and its attempt)
    /// when there is one; without (a run in the foreground), with the key pair in use here.
    fn of(ctx: &RunContext, task: &Task, token: Option<&str>, code: &Path) -> Result<Launch> {
        let s = &task.script;
        let cwd = match s.working_dir.as_deref().filter(|w| !w.trim().is_empty() && *w != ".") {
            Some(w) => inside(code, w)?,
            None => code.to_path_buf(),
        };
        if !cwd.is_dir() {
            bail!("the working directory '{}' does not exist in the code", s.working_dir.as_deref().unwrap_or("."));
        }
        checkout::resolves_inside(code, &cwd)?;
        let entry = s.entry_point.as_deref().unwrap_or("").trim();
        if entry.is_empty() {
            bail!("the task has no entry point");
        }
        if s.entry_kind == EntryKind::Code {
            let file = inside(&cwd, entry)?;
            checkout::write_inside(code, &file, s.code.as_deref().unwrap_or("").as_bytes())?;
        }
        let module = s.entry_kind == EntryKind::Module;
        let shell = match s.binary.as_deref() {
            _ if module => None,
            Some(b) if !python::is_python(b) => Some(b.to_string()),
            Some(_) => None,
            None => entry.ends_with(".sh").then(|| "bash".to_string()),
        };
        let target = if module {
            entry.to_string()
        } else {
            let file = inside(&cwd, entry)?;
            if !file.is_file() {
                bail!("the script '{entry}' does not exist");
            }
            if shell.is_none() && s.add_task_init {
                checkout::resolves_inside(code, &file)?;
                add_task_init(code, &file)?;
            }
            file.display().to_string()
        };
        let mut args = Vec::new();
        for (name, param) in task.hyperparams.get("Args").into_iter().flatten().filter(|_| !s.reads_args) {
            args.push(format!("--{name}"));
            args.push(param.value.clone());
        }
        let mut env: Vec<(String, String)> = task.environment.variables.clone().into_iter().collect();
        env.push(("PYTHONUNBUFFERED".into(), "1".into()));
        // The ClearML variables make an instrumented script's SDK attach to this same task
        // (remote mode) through the daemon's ClearML API.
        let server = ctx.server.trim_end_matches('/');
        for (k, v) in [
            ("RUNYARD_TASK_ID", task.id.clone()),
            ("RUNYARD_SERVER", ctx.server.clone()),
            ("CLEARML_TASK_ID", task.id.clone()),
            ("CLEARML_API_HOST", format!("{server}/clearml")),
            ("CLEARML_WEB_HOST", server.to_string()),
            ("CLEARML_FILES_HOST", format!("{server}/files")),
        ] {
            env.push((k.into(), v));
        }
        match token {
            Some(token) => {
                env.push(("RUNYARD_TOKEN".into(), token.to_string()));
                env.push(("CLEARML_AUTH_TOKEN".into(), token.to_string()));
            }
            None => {
                env.push(("CLEARML_API_ACCESS_KEY".into(), ctx.access_key.clone()));
                env.push(("CLEARML_API_SECRET_KEY".into(), ctx.secret_key.clone()));
            }
        }
        if let Some(worker) = &ctx.worker {
            env.push(("RUNYARD_WORKER_ID".into(), worker.clone()));
            env.push(("CLEARML_WORKER_ID".into(), worker.clone()));
        }
        if let Some(gpus) = &ctx.gpus {
            env.push(("CUDA_VISIBLE_DEVICES".into(), gpus.clone()));
            env.push(("NVIDIA_VISIBLE_DEVICES".into(), gpus.clone()));
        }
        Ok(Launch { shell, module, target, args, cwd, env })
    }

    /// The command line after the interpreter.
    fn tail(&self) -> Vec<String> {
        let mut out = if self.module { vec!["-m".to_string(), self.target.clone()] } else { vec![self.target.clone()] };
        out.extend(self.args.iter().cloned());
        out
    }
}

/// The fixed parts of one run.
#[derive(Clone, Copy)]
struct Job<'a> {
    config: &'a AgentConfig,
    task: &'a Task,
    /// Where the code was checked out.
    code: &'a Path,
    console: &'a Console,
    stop: &'a CancellationToken,
}

/// On this machine, in its own process group, with a cached venv for Python.
async fn natively(job: Job<'_>, launch: Launch) -> std::result::Result<Ended, Failure> {
    let Job { config, task, code, console, stop } = job;
    let program = match &launch.shell {
        Some(shell) => PathBuf::from(shell),
        None => python::prepare(config, task, code, console, stop).await.map_err(Failure::Setup)?,
    };
    // The task starts from a cleared environment: the basics and what the operator passes
    // on, then its own variables. The agent's key pair and settings stay with the agent.
    let mut cmd = Command::new(program);
    cmd.env_clear().envs(config.passed_on_env()).envs(launch.env.iter().map(|(k, v)| (k, v)));
    cmd.args(launch.tail()).current_dir(&launch.cwd);
    console.steps_done();
    console.note(format!("starting {}", describe(&cmd)));
    process::run(cmd, process::EnvBase::Empty, console, stop, config.abort_grace(), None).await.map_err(Failure::Start)
}

/// In a container: the startup script, the environment set-up, then the entry point, all inside.
async fn in_container(
    job: Job<'_>,
    ctx: &RunContext,
    docker: &DockerMode,
    launch: Launch,
) -> std::result::Result<Ended, Failure> {
    let Job { config, task, code, console, stop } = job;
    let args = container_args(config, task)?;
    let image = docker.image_for(task.container.image.as_deref());
    let image_id = docker.ensure_image(&image, console).await.map_err(Failure::Pull)?;
    let mut script = String::from("set -e\n");
    if let Some(setup) = task.container.setup_script.as_deref().filter(|s| !s.trim().is_empty()) {
        script.push_str(setup);
        script.push('\n');
    }
    let mut binds = vec![format!("{0}:{0}", code.display())];
    let interpreter = match &launch.shell {
        Some(shell) => shell.clone(),
        None => {
            let needs = python::Needs::of(task, config, code);
            let base = task.script.binary.clone().filter(|b| python::is_python(b)).unwrap_or_else(|| "python3".into());
            if needs.requirements.trim().is_empty() && needs.packages.is_empty() {
                // The image holds the environment: use it as it is.
                base
            } else {
                let venv = python::container_venv(config, &image_id, &needs);
                let build = VenvBuild { image: &image, venv: &venv, base: &base, needs: &needs };
                build_venv(&job, docker, build).await?;
                // Read-only: no task changes an environment other tasks reuse.
                binds.push(format!("{0}:{0}:ro", venv.display()));
                format!("{}/bin/python", venv.display())
            }
        }
    };
    let mut line = vec![interpreter];
    line.extend(launch.tail());
    script.push_str("exec ");
    script.push_str(&shell_words::join(&line));
    script.push('\n');
    let mut env: Vec<String> = launch.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    // pip's own settings (index, find-links) reach the container as they reach native runs.
    env.extend(pip_settings());
    console.steps_done();
    console.note(format!("starting {} in {image}", shell_words::join(&line)));
    let container = crate::docker::Container {
        task: task.id.clone(),
        image,
        script,
        env,
        working_dir: launch.cwd.display().to_string(),
        binds,
        args,
        gpus: ctx.gpus.clone(),
        heartbeat: heartbeat(config, task),
    };
    docker.run(container, console, stop, config.abort_grace()).await.map_err(Failure::Start)
}

/// The task's container arguments, as the operator's policy allows them.
fn container_args(config: &AgentConfig, task: &Task) -> std::result::Result<ContainerArgs, Failure> {
    crate::docker_args::parse(task.container.arguments.as_deref().unwrap_or(""), &config.container_policy())
        .map_err(Failure::Start)
}

/// A container venv to build: where, from which interpreter and image, with what.
struct VenvBuild<'a> {
    image: &'a str,
    venv: &'a Path,
    base: &'a str,
    needs: &'a python::Needs,
}

/// Builds a task's venv, unless a task with the same image and requirements built it already,
/// in a container of its own: the venv and the pip cache are writable there and only there
/// (the task's container mounts the venv read-only and the pip cache not at all). The build
/// runs pip alone, with the task's container arguments (mounts of wheel directories, say); the
/// task's setup script runs in the task's container.
async fn build_venv(job: &Job<'_>, docker: &DockerMode, b: VenvBuild<'_>) -> std::result::Result<(), Failure> {
    let Job { config, task, code, console, stop } = *job;
    if b.venv.join(READY).exists() {
        console.note("environment cache hit");
        return Ok(());
    }
    let setup = |e: std::io::Error| Failure::Setup(e.into());
    std::fs::create_dir_all(b.venv).map_err(setup)?;
    let reqs = code.join(".runyard-requirements.txt");
    checkout::write_inside(code, &reqs, b.needs.requirements.as_bytes()).map_err(Failure::Setup)?;
    let pip_cache = config.pip_cache_dir();
    std::fs::create_dir_all(&pip_cache).map_err(setup)?;
    let q = |p: &Path| shell_words::quote(&p.display().to_string()).into_owned();
    let packages = b.needs.packages.iter().map(|p| shell_words::quote(p).into_owned()).collect::<Vec<_>>();
    let script = format!(
        "set -e\necho '[runyard] building the environment'\n{base} -m venv --clear {venv}\n\
         PIP_CACHE_DIR={cache} {venv}/bin/python -m pip install -r {reqs} {packages}\ntouch {venv}/{READY}\n",
        base = b.base,
        venv = q(b.venv),
        cache = q(&pip_cache),
        reqs = q(&reqs),
        packages = packages.join(" "),
    );
    let container = crate::docker::Container {
        task: task.id.clone(),
        image: b.image.to_string(),
        script,
        env: pip_settings().collect(),
        working_dir: code.display().to_string(),
        binds: vec![
            format!("{0}:{0}:ro", code.display()),
            format!("{0}:{0}", b.venv.display()),
            format!("{0}:{0}", pip_cache.display()),
        ],
        args: container_args(config, task)?,
        gpus: None,
        heartbeat: heartbeat(config, task),
    };
    match docker.run(container, console, stop, config.abort_grace()).await.map_err(Failure::Setup)? {
        Ended::Exited(status) if status.success() => Ok(()),
        ended => Err(Failure::Setup(anyhow::anyhow!("building the environment did not succeed: {ended:?}"))),
    }
}

/// pip's own settings of the agent (index, find-links), as `KEY=value` for a container.
fn pip_settings() -> impl Iterator<Item = String> {
    std::env::vars().filter(|(k, _)| k.starts_with("PIP_")).map(|(k, v)| format!("{k}={v}"))
}

/// The marker of a finished container venv.
const READY: &str = ".runyard-ready";

/// The agent's sign of life to a task's containers.
fn heartbeat(config: &AgentConfig, task: &Task) -> crate::docker::Heartbeat {
    crate::docker::Heartbeat {
        file: config.cache_dir.join("alive").join(&task.id),
        limit: Duration::from_secs(config.worker_timeout_seconds.max(1)),
    }
}

/// Adds the `Task.init` lines to a Python entry point (after any `from __future__` imports).
fn add_task_init(code: &Path, file: &Path) -> Result<()> {
    let source = std::fs::read_to_string(file).with_context(|| format!("could not read {}", file.display()))?;
    if source.contains("Task.init(") {
        return Ok(());
    }
    let lines: Vec<&str> = source.lines().collect();
    let at = lines.iter().rposition(|l| l.trim_start().starts_with("from __future__")).map_or(0, |i| i + 1);
    let mut out = lines[..at].join("\n");
    if at > 0 {
        out.push('\n');
    }
    out.push_str("from clearml import Task\ntask = Task.init()\n");
    out.push_str(&lines[at..].join("\n"));
    out.push('\n');
    checkout::write_inside(code, file, out.as_bytes())
}

/// The command line, for the console (arguments only; the environment may hold secrets).
fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program()).chain(cmd.get_args()).map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_init_goes_after_future_imports() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.py");
        std::fs::write(&f, "from __future__ import annotations\nprint(1)\n").unwrap();
        add_task_init(dir.path(), &f).unwrap();
        let text = std::fs::read_to_string(&f).unwrap();
        assert_eq!(
            text,
            "from __future__ import annotations\nfrom clearml import Task\ntask = Task.init()\nprint(1)\n"
        );
        add_task_init(dir.path(), &f).unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), text);
    }
}
