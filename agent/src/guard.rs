//! The task guard: a small process between the agent and a task's process, so that the task
//! dies with the agent.
//!
//! The agent starts `runyard task-guard --parent <agent pid> -- <program> <args>` as the leader
//! of a new process group; the guard starts the program in that group and waits. It is a child
//! subreaper, so whatever the task starts and orphans (a double fork, a `setsid`) is re-parented
//! to it, not to init. The kernel sends it SIGUSR1 when the agent dies (`PR_SET_PDEATHSIG`):
//! it then kills the task's group and every process re-parented to it, and exits. When the
//! task's process ends, the guard kills what it left behind and exits the same way (the exit
//! code, or the same signal), so to the agent the guard is the task.
//!
//! Linux only (`prctl`); elsewhere the agent starts the program directly and a task outlives a
//! killed agent until the restarted agent finds it (see `worker::recover`).
//!
//! The guard runs on one thread with no async runtime: the signals it waits for are blocked and
//! taken with `sigwait`, never delivered to another thread.

use nix::sys::signal::{kill, killpg, raise, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{getpgrp, getpid, getppid, Pid};
use std::ffi::OsString;
use std::process::ExitCode;

/// The signal the kernel sends the guard when the agent dies.
const AGENT_DIED: Signal = Signal::SIGUSR1;

/// Runs `command` (program and arguments) under the guard; `parent` is the agent's pid.
/// Returns only if the guard could not be set up; otherwise it exits as the task did.
pub fn run(parent: i32, command: &[OsString]) -> ExitCode {
    let Some((program, args)) = command.split_first() else {
        eprintln!("task-guard: no command to run");
        return ExitCode::from(2);
    };
    let mut waited = SigSet::empty();
    for s in [Signal::SIGCHLD, AGENT_DIED, Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        waited.add(s);
    }
    if let Err(e) = waited.thread_block() {
        eprintln!("task-guard: could not block signals: {e}");
        return ExitCode::from(2);
    }
    if let Err(e) = nix::sys::prctl::set_child_subreaper(true).and_then(|_| nix::sys::prctl::set_pdeathsig(AGENT_DIED))
    {
        eprintln!("task-guard: could not arm the parent-death signal: {e}");
        return ExitCode::from(2);
    }
    // The agent may have died before the signal was armed.
    if getppid().as_raw() != parent {
        end_everything();
    }
    // The task starts with an empty signal mask: the standard library resets it in the child.
    let mut cmd = std::process::Command::new(program);
    cmd.args(args);
    let main = match cmd.spawn() {
        Ok(child) => Pid::from_raw(child.id() as i32),
        Err(e) => {
            eprintln!("could not start {}: {e}", program.to_string_lossy());
            return ExitCode::from(127);
        }
    };
    loop {
        match waited.wait() {
            Ok(Signal::SIGCHLD) => {
                if let Some(status) = reap(main) {
                    finish(status);
                }
            }
            // A parent-death signal also comes when the thread that started the guard ends;
            // only a new parent means the agent itself is gone.
            Ok(AGENT_DIED) if getppid().as_raw() != parent => end_everything(),
            // SIGTERM and the like reach the whole group from the agent's abort: the task
            // handles its own; the guard waits for it to end.
            _ => {}
        }
    }
}

/// Reaps every child that has ended; the main child's status once it has.
fn reap(main: Pid) -> Option<WaitStatus> {
    let mut found = None;
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => return found,
            Ok(status) if status.pid() == Some(main) => found = Some(status),
            Ok(_) => {}
        }
    }
}

/// The processes re-parented to the guard (its children other than the task's).
fn children() -> Vec<Pid> {
    let path = format!("/proc/self/task/{}/children", getpid());
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .map(Pid::from_raw)
        .collect()
}

/// Kills every process descending from the guard: its children, then those their deaths
/// re-parent to it, until none is left.
fn kill_descendants() {
    for _ in 0..1000 {
        let kids = children();
        if kids.is_empty() {
            return;
        }
        for pid in &kids {
            let _ = kill(*pid, Signal::SIGKILL);
        }
        // Once reaped, a child's own children have been re-parented here.
        for pid in kids {
            let _ = waitpid(pid, None);
        }
    }
}

/// The task ended: its leftovers go, and the guard ends as it did.
fn finish(status: WaitStatus) -> ! {
    kill_descendants();
    match status {
        WaitStatus::Exited(_, code) => std::process::exit(code),
        // The guard never handles a signal, only blocks some: unblocked, the same signal has
        // its default effect (one the runtime ignores, SIGPIPE, ends in the shell's 128 + n).
        WaitStatus::Signaled(_, sig, _) => {
            let _ = SigSet::empty().thread_set_mask();
            let _ = raise(sig);
            std::process::exit(128 + sig as i32)
        }
        _ => std::process::exit(1),
    }
}

/// The agent is gone: the whole tree is killed, the guard last.
fn end_everything() -> ! {
    kill_descendants();
    let _ = killpg(getpgrp(), Signal::SIGKILL);
    std::process::exit(137)
}
