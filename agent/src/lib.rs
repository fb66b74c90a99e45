//! The Runyard agent, as a library: the `runyard agent` command drives it.
//!
//! A worker registers with the daemon, long-polls its queues, and runs each task natively:
//! `checkout` (git), `python` (cached virtual environments), `run` (the command line),
//! `process` (process groups, merged output, abort), `console` (shipping output), `resources`
//! and `gpus` (machine usage, NVML), `worker` (the loop, status reports, abort and drain).

pub mod checkout;
pub mod config;
pub mod console;
pub mod docker;
pub mod docker_args;
pub mod gpus;
#[cfg(target_os = "linux")]
pub mod guard;
pub mod process;
pub mod python;
pub mod resources;
pub mod run;
pub mod worker;

pub use config::AgentConfig;
pub use run::{Outcome, RunContext};
pub use worker::Worker;
