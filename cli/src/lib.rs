//! The `runyard` command line. [`main_impl`] is the whole binary, so tests can run the exact
//! same logic through a copy of it.

mod commands;
mod config;
mod output;
mod runtime;
mod watch;

use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;

/// Orchestrate machine-learning experiments: queue tasks, run them on your workers, compare.
#[derive(Parser)]
#[command(name = "runyard", version, propagate_version = true)]
pub struct Cli {
    /// Machine-readable JSON output.
    #[arg(long, global = true)]
    json: bool,
    /// Server URL (default: RUNYARD_SERVER, the client config, or http://127.0.0.1:8080).
    #[arg(long, global = true, value_name = "URL")]
    server: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon.
    Server(commands::server::ServerArgs),
    /// Quickstart: the daemon on its embedded defaults, with the CLI configured to use it.
    Up(commands::server::UpArgs),
    /// Create, list, inspect and act on tasks.
    #[command(subcommand)]
    Task(commands::task::TaskCommand),
    /// List and create projects.
    #[command(subcommand)]
    Project(commands::admin::ProjectCommand),
    /// Manage queues and the order of their tasks.
    #[command(subcommand)]
    Queue(commands::admin::QueueCommand),
    /// List, inspect and drain workers.
    #[command(subcommand)]
    Worker(commands::admin::WorkerCommand),
    /// Manage users and their key pairs.
    #[command(subcommand)]
    User(commands::admin::UserCommand),
    /// Pull tasks from queues and run them on this machine.
    Agent(commands::agent::AgentArgs),
    /// Fill a `demo` project with a small sweep, run for real by the local agent.
    Demo(commands::demo::DemoArgs),
    /// Exit 0 when the daemon answers its health check (for container health checks).
    Health(commands::server::HealthArgs),
    /// Print shell completions: `runyard completions bash > /etc/bash_completion.d/runyard`.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Load generators that measure the daemon.
    #[command(subcommand)]
    Bench(commands::bench::BenchCommand),
    /// Internal: the agent runs each task's process under this guard, which ends the task
    /// when the agent dies.
    #[command(hide = true)]
    TaskGuard {
        /// The agent's pid.
        #[arg(long)]
        parent: i32,
        /// The program and its arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<std::ffi::OsString>,
    },
}

/// Global options every command sees.
pub struct Ctx {
    pub json: bool,
    pub server: Option<String>,
}

impl Ctx {
    pub fn client(&self) -> anyhow::Result<runyard_api::Client> {
        config::client(self.server.as_deref())
    }
}

/// Runs the CLI; the exit code is 0 on success, 1 when some of a batch was refused, 2 on error.
pub fn main_impl() -> ExitCode {
    let cli = Cli::parse();
    // The guard runs on this one thread, before any runtime exists (see `runyard_agent::guard`).
    if let Command::TaskGuard { parent, command } = &cli.command {
        #[cfg(target_os = "linux")]
        return runyard_agent::guard::run(*parent, command);
        #[cfg(not(target_os = "linux"))]
        return {
            let _ = (parent, command);
            eprintln!("task-guard runs on Linux only");
            ExitCode::from(2)
        };
    }
    // Tasks this process runs (as an agent, or `up`'s local agent) run under the guard.
    #[cfg(target_os = "linux")]
    if matches!(cli.command, Command::Agent(_) | Command::Up(_)) {
        if let Ok(exe) = std::env::current_exe() {
            runyard_agent::process::set_guard(exe);
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let ctx = Ctx { json: cli.json, server: cli.server };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Server(args) => commands::server::server(args).await,
            Command::Up(args) => commands::server::up(args).await,
            Command::Task(cmd) => commands::task::run(&ctx, cmd).await,
            Command::Project(cmd) => commands::admin::project(&ctx, cmd).await,
            Command::Queue(cmd) => commands::admin::queue(&ctx, cmd).await,
            Command::Worker(cmd) => commands::admin::worker(&ctx, cmd).await,
            Command::User(cmd) => commands::admin::user(&ctx, cmd).await,
            Command::Agent(args) => commands::agent::agent(args, ctx.server.as_deref()).await,
            Command::Bench(cmd) => commands::bench::run(cmd).await,
            Command::Demo(args) => commands::demo::demo(&ctx, args).await,
            Command::Health(args) => commands::server::health(args).await,
            Command::Completions { shell } => {
                let mut script = Vec::new();
                clap_complete::generate(shell, &mut Cli::command(), "runyard", &mut script);
                // A closed pipe (`| head`) is not an error worth a panic.
                let _ = std::io::Write::write_all(&mut std::io::stdout(), &script);
                Ok(ExitCode::SUCCESS)
            }
            Command::TaskGuard { .. } => unreachable!("the guard runs before the runtime"),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every flag and argument of every subcommand says what it is for.
    #[test]
    fn every_flag_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
                let builtin = ["help", "version"].contains(&arg.get_id().as_str());
                if arg.get_help().is_none() && arg.get_long_help().is_none() && !builtin {
                    missing.push(format!("{path} {}", arg.get_id()));
                }
            }
            for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
                if sub.get_about().is_none() && sub.get_name() != "help" {
                    missing.push(format!("{path} {} (the subcommand)", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "runyard", &mut missing);
        assert!(missing.is_empty(), "flags without a help line:\n{}", missing.join("\n"));
    }
}
