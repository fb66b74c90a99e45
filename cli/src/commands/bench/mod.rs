//! `runyard bench …`: load generators that start a real daemon process and measure it.

mod agent;
mod api;
mod clearml;
mod dispatch;
mod ingest;
mod table;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitCode, Stdio};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Task creation throughput, batch action latency and daemon memory.
    Api(api::ApiArgs),
    /// Enqueue-to-agent latency, sustained dispatch throughput, and the cost of idle agents.
    Dispatch(dispatch::DispatchArgs),
    /// A real agent: dequeue to child start, console latency, and the idle agent's cost.
    Agent(agent::AgentArgs),
    /// Scalar ingestion throughput (against a plain SQLite insert) and downsampled reads.
    Ingest(ingest::IngestArgs),
    /// The clearml SDK's Task.init against the daemon (vs offline) and events.add_batch ingestion.
    Clearml(clearml::ClearmlArgs),
    /// Task-table queries (filters, metric sort, paging) over a seeded population.
    Table(table::TableArgs),
}

pub async fn run(cmd: BenchCommand) -> Result<ExitCode> {
    match cmd {
        BenchCommand::Api(a) => api::run(a).await,
        BenchCommand::Dispatch(a) => dispatch::run(a).await,
        BenchCommand::Agent(a) => agent::run(a).await,
        BenchCommand::Ingest(a) => ingest::run(a).await,
        BenchCommand::Clearml(a) => clearml::run(a).await,
        BenchCommand::Table(a) => table::run(a).await,
    }
}

/// A daemon child process on a random loopback port, killed on drop.
pub(crate) struct DaemonProcess {
    child: Child,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

pub(crate) const BENCH_KEY: &str = "BENCHACCESSKEY0000000000";
pub(crate) const BENCH_SECRET: &str = "bench-secret-bench-secret-bench-secret-00000000";

impl DaemonProcess {
    pub fn start(database_url: Option<&str>) -> Result<DaemonProcess> {
        Self::start_in(database_url, None)
    }

    /// A daemon on `data_dir` (kept afterwards), or on a temporary one.
    pub fn start_in(database_url: Option<&str>, data_dir: Option<&std::path::Path>) -> Result<DaemonProcess> {
        let temp = match data_dir {
            Some(_) => None,
            None => Some(tempfile::tempdir()?),
        };
        let dir = data_dir.or(temp.as_ref().map(|t| t.path())).expect("one of them");
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.args(["server", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .env("RUNYARD_ACCESS_KEY", BENCH_KEY)
            .env("RUNYARD_SECRET_KEY", BENCH_SECRET)
            .env("RUNYARD_LOG", "warn")
            .env_remove("RUNYARD_DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(url) = database_url {
            // The only replica: a signing key of its own.
            let key = dir.join("signing.key");
            if !key.exists() {
                runyard_daemon::auth::write_private(&key, &runyard_daemon::auth::generate_key_pair().1)?;
            }
            cmd.args(["--database-url", url]).arg("--signing-key-file").arg(key);
        }
        let mut child = cmd.spawn().context("could not start the daemon")?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line)?;
        let Some(url) = line.trim().strip_prefix("Runyard listening on ") else {
            let _ = child.kill();
            bail!("the daemon did not start: {line}");
        };
        Ok(DaemonProcess { url: url.to_string(), child, _dir: temp })
    }

    /// Resident memory in MiB, from /proc.
    pub fn rss_mib(&self) -> Result<f64> {
        rss_mib(self.child.id())
    }

    /// CPU seconds (user + system) the daemon has used so far.
    pub fn cpu_seconds(&self) -> Result<f64> {
        cpu_seconds(self.child.id())
    }
}

/// Resident memory of process `pid` in MiB, from /proc.
pub(crate) fn rss_mib(pid: u32) -> Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no VmRSS in /proc")?;
    Ok(kib / 1024.0)
}

/// CPU seconds (user + system) process `pid` has used so far.
pub(crate) fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|u| u.parse::<f64>().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    Ok(ticks / 100.0)
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

/// The `p`-th percentile (0..=100) of `xs`.
pub(crate) fn percentile(mut xs: Vec<f64>, p: f64) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    let i = ((p / 100.0) * (xs.len() - 1) as f64).round() as usize;
    xs[i]
}
