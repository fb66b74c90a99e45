//! Child processes: each in its own process group, stdout and stderr merged through one pipe
//! (so their order is kept) into the console, stopped with SIGTERM, a grace period, then SIGKILL
//! to the whole group.

use crate::console::Console;
use anyhow::{Context, Result};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

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
    mut cmd: Command,
    console: &Console,
    stop: &CancellationToken,
    grace: Duration,
    limit: Option<Duration>,
) -> Result<Ended> {
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
