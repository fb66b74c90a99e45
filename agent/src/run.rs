//! Runs one task natively: code checked out, environment built, the entry point started with
//! the task's arguments and environment, its output in the task's console.

use crate::checkout::{self, inside, Source};
use crate::config::AgentConfig;
use crate::console::Console;
use crate::process::{self, Ended};
use crate::python;
use anyhow::{bail, Context, Result};
use runyard_api::{EntryKind, Task};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
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
    pub server: String,
    pub access_key: String,
    pub secret_key: String,
    pub worker: Option<String>,
    /// `CUDA_VISIBLE_DEVICES` for the task, if the agent was given GPUs.
    pub gpus: Option<String>,
}

/// Runs `task` to its end. `stop` aborts it.
pub async fn run(
    config: &AgentConfig,
    ctx: &RunContext,
    task: &Task,
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
    let cmd = match command(config, ctx, task, &code, console, stop).await {
        Ok(cmd) => cmd,
        Err(e) if stop.is_cancelled() => {
            console.note(format!("stopped while preparing: {e:#}"));
            return Outcome::Aborted { reason: "aborted before it started".into() };
        }
        Err(e) => return failed("environment set-up failed", e),
    };
    console.steps_done();
    console.note(format!("starting {}", describe(&cmd)));
    let ended = process::run(cmd, console, stop, config.abort_grace(), None).await;
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

/// The command line of the task, its environment built.
async fn command(
    config: &AgentConfig,
    ctx: &RunContext,
    task: &Task,
    code: &Path,
    console: &Console,
    stop: &CancellationToken,
) -> Result<Command> {
    let s = &task.script;
    let cwd = match s.working_dir.as_deref().filter(|w| !w.trim().is_empty() && *w != ".") {
        Some(w) => inside(code, w)?,
        None => code.to_path_buf(),
    };
    if !cwd.is_dir() {
        bail!("the working directory '{}' does not exist in the code", s.working_dir.as_deref().unwrap_or("."));
    }
    let entry = s.entry_point.as_deref().unwrap_or("").trim();
    if entry.is_empty() {
        bail!("the task has no entry point");
    }
    if s.entry_kind == EntryKind::Code {
        let file = inside(&cwd, entry)?;
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&file, s.code.as_deref().unwrap_or(""))?;
    }
    let shell = s.entry_kind != EntryKind::Module
        && match s.binary.as_deref() {
            Some(b) => !python::is_python(b),
            None => entry.ends_with(".sh"),
        };
    let mut cmd = if shell {
        let file = inside(&cwd, entry)?;
        if !file.is_file() {
            bail!("the script '{entry}' does not exist");
        }
        let mut cmd = Command::new(s.binary.as_deref().unwrap_or("bash"));
        cmd.arg(file);
        cmd
    } else {
        let python = python::prepare(config, task, code, console, stop).await?;
        let mut cmd = Command::new(python);
        if s.entry_kind == EntryKind::Module {
            cmd.args(["-m", entry]);
        } else {
            let file = inside(&cwd, entry)?;
            if !file.is_file() {
                bail!("the script '{entry}' does not exist");
            }
            if s.add_task_init {
                add_task_init(&file)?;
            }
            cmd.arg(file);
        }
        cmd
    };
    for (name, param) in task.hyperparams.get("Args").into_iter().flatten() {
        cmd.arg(format!("--{name}")).arg(&param.value);
    }
    cmd.current_dir(&cwd).envs(&task.environment.variables).env("PYTHONUNBUFFERED", "1");
    let vars = [
        ("RUNYARD_TASK_ID", task.id.as_str()),
        ("RUNYARD_SERVER", ctx.server.as_str()),
        ("CLEARML_TASK_ID", task.id.as_str()),
        ("CLEARML_API_HOST", ctx.server.as_str()),
        ("CLEARML_WEB_HOST", ctx.server.as_str()),
        ("CLEARML_FILES_HOST", ctx.server.as_str()),
        ("CLEARML_API_ACCESS_KEY", ctx.access_key.as_str()),
        ("CLEARML_API_SECRET_KEY", ctx.secret_key.as_str()),
    ];
    cmd.envs(vars);
    if let Some(worker) = &ctx.worker {
        cmd.env("RUNYARD_WORKER_ID", worker).env("CLEARML_WORKER_ID", worker);
    }
    if let Some(gpus) = &ctx.gpus {
        cmd.env("CUDA_VISIBLE_DEVICES", gpus).env("NVIDIA_VISIBLE_DEVICES", gpus);
    }
    Ok(cmd)
}

/// Adds the `Task.init` lines to a Python entry point (after any `from __future__` imports).
fn add_task_init(file: &Path) -> Result<()> {
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
    std::fs::write(file, out)?;
    Ok(())
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
        add_task_init(&f).unwrap();
        let text = std::fs::read_to_string(&f).unwrap();
        assert_eq!(
            text,
            "from __future__ import annotations\nfrom clearml import Task\ntask = Task.init()\nprint(1)\n"
        );
        add_task_init(&f).unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), text);
    }
}
