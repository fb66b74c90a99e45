//! Child processes: each in its own process group, stdout and stderr merged through one pipe
//! (so their order is kept) into the console, stopped with SIGTERM, a grace period, then SIGKILL
//! to the whole group. Where a guard is set (the `runyard` binary sets itself), each runs under
//! the task guard (`crate::guard`), so it dies with the agent.

use crate::console::Console;
use anyhow::{Context, Result};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The executable that runs `task-guard`, once set.
static GUARD: OnceLock<PathBuf> = OnceLock::new();

/// Runs every later child under the task guard of `program` (a `runyard` binary). Without it
/// (library users, tests) children start directly.
pub fn set_guard(program: PathBuf) {
    let _ = GUARD.set(program);
}

/// What a child's environment starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvBase {
    /// The agent's own, with what the command sets on top.
    Agent,
    /// Nothing: only what the command sets (it was built with `env_clear`).
    Empty,
}

/// `cmd` under the task guard, where one is set: the same program, arguments, environment and
/// working directory.
fn guarded(cmd: Command, base: EnvBase) -> Command {
    let Some(guard) = GUARD.get() else { return cmd };
    let mut g = Command::new(guard);
    if base == EnvBase::Empty {
        g.env_clear();
    }
    g.arg("task-guard").arg("--parent").arg(std::process::id().to_string()).arg("--");
    g.arg(cmd.get_program()).args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => g.env(key, v),
            None => g.env_remove(key),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        g.current_dir(dir);
    }
    g
}

/// Kills every process of this user that still runs `task` for `worker` (its environment names
/// both, in `RUNYARD_TASK_ID` and `RUNYARD_WORKER_ID`): what a previous life of the worker left
/// behind. Returns how many.
pub fn kill_survivors(task: &str, worker: &str) -> usize {
    let wanted = [format!("RUNYARD_TASK_ID={task}"), format!("RUNYARD_WORKER_ID={worker}")];
    let Ok(entries) = std::fs::read_dir("/proc") else { return 0 };
    let me = std::process::id() as i32;
    let mut killed = 0;
    for entry in entries.filter_map(|e| e.ok()) {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        if pid == me {
            continue;
        }
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else { continue };
        let vars: Vec<&[u8]> = environ.split(|b| *b == 0).collect();
        if wanted.iter().all(|w| vars.contains(&w.as_bytes())) {
            // Its whole group, which the task led, and the process itself should it have left it.
            let pid = Pid::from_raw(pid);
            if let Ok(group) = nix::unistd::getpgid(Some(pid)) {
                let _ = killpg(group, Signal::SIGKILL);
            }
            let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
            killed += 1;
        }
    }
    killed
}

/// How a process ended.
#[derive(Debug)]
pub enum Ended {
    Exited(ExitStatus),
    /// Stopped on request (abort); `killed` when it outlived the grace period.
    Stopped {
        killed: bool,
    },
    /// Ran past its time limit and was killed.
    TimedOut,
}

/// Runs `cmd` to its end, its output going to `console`. `stop` ends it early: SIGTERM to its
/// group, `grace`, then SIGKILL. Whatever is left of its group once it exits is killed too.
pub async fn run(
    cmd: Command,
    base: EnvBase,
    console: &Console,
    stop: &CancellationToken,
    grace: Duration,
    limit: Option<Duration>,
) -> Result<Ended> {
    let mut cmd = guarded(cmd, base);
    let (reader, writer) = std::io::pipe().context("could not create a pipe")?;
    cmd.stdin(Stdio::null()).stdout(writer.try_clone()?).stderr(writer).process_group(0);
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = tokio::process::Command::from(cmd).spawn().with_context(|| format!("could not start {program}"))?;
    // `cmd` is gone: the child holds the only write ends, so the reader sees EOF when the
    // child and everything it started have closed them.
    let pid = Pid::from_raw(child.id().context("the child has no pid")? as i32);
    let pump = {
        let console = console.clone();
        tokio::task::spawn_blocking(move || pump(reader, &console))
    };
    let deadline = async {
        match limit {
            Some(l) => tokio::time::sleep(l).await,
            None => std::future::pending().await,
        }
    };
    let ended = tokio::select! {
        status = child.wait() => Ended::Exited(status?),
        _ = stop.cancelled() => {
            let killed = terminate(&mut child, pid, grace).await;
            Ended::Stopped { killed }
        }
        _ = deadline => {
            let _ = killpg(pid, Signal::SIGKILL);
            let _ = child.wait().await;
            Ended::TimedOut
        }
    };
    // Leftovers of the group (background children) do not outlive the task.
    let _ = killpg(pid, Signal::SIGKILL);
    // The pipe closes once the last holder is gone; don't wait forever for an escapee.
    let _ = tokio::time::timeout(Duration::from_secs(2), pump).await;
    Ok(ended)
}

/// SIGTERM to the group, then SIGKILL after `grace`. True if it had to be killed.
async fn terminate(child: &mut tokio::process::Child, pid: Pid, grace: Duration) -> bool {
    let _ = killpg(pid, Signal::SIGTERM);
    if tokio::time::timeout(grace, child.wait()).await.is_ok() {
        return false;
    }
    let _ = killpg(pid, Signal::SIGKILL);
    let _ = child.wait().await;
    true
}

/// Copies the pipe into the console until EOF, decoding UTF-8 across read boundaries.
fn pump(mut reader: std::io::PipeReader, console: &Console) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        carry.extend_from_slice(&buf[..n]);
        let valid = match std::str::from_utf8(&carry) {
            Ok(_) => carry.len(),
            // An incomplete character at the end waits for the next read.
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => carry.len(),
        };
        let rest = carry.split_off(valid);
        console.write(String::from_utf8_lossy(&carry).into_owned());
        carry = rest;
    }
    if !carry.is_empty() {
        console.write(String::from_utf8_lossy(&carry).into_owned());
    }
}
