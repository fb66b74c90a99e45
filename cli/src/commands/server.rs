//! `runyard server`, `runyard up` and `runyard health`.

use crate::config::{self, ClientConfig};
use anyhow::{Context, Result};
use clap::Args;
use runyard_daemon::{Config, Daemon};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct ServerArgs {
    /// Address to listen on.
    #[arg(long, env = "RUNYARD_BIND", default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// Where the SQLite database and generated credentials live (default: the user's data dir).
    #[arg(long, env = "RUNYARD_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// PostgreSQL (postgres://user:pass@host/db) instead of the embedded SQLite.
    #[arg(long, env = "RUNYARD_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Largest accepted request body, in bytes.
    #[arg(long, default_value_t = runyard_daemon::http::DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,
    /// A task handed to an agent that does not report `started` within this time goes back
    /// to the head of its queue.
    #[arg(long, env = "RUNYARD_LEASE_TIMEOUT_SECONDS", default_value_t = 120)]
    lease_timeout_seconds: u64,
    /// A running task that reports nothing (ping, event, status) for this long is aborted
    /// as non-responsive.
    #[arg(long, env = "RUNYARD_TASK_TIMEOUT_SECONDS", default_value_t = 7200)]
    task_timeout_seconds: u64,
    /// How often the watchdog looks for expired leases, lost workers and silent tasks.
    #[arg(long, env = "RUNYARD_WATCHDOG_INTERVAL_MS", default_value_t = 2000)]
    watchdog_interval_ms: u64,
    /// Also serve the ClearML API and files server at the root of ClearML's own ports (on the
    /// --bind address), so an existing clearml.conf needs only a new host name.
    #[arg(long, value_name = "API,FILES", num_args = 0..=1, default_missing_value = "8008,8081")]
    clearml_ports: Option<String>,
    /// A TOML file of custom context-menu actions for the web UI (`[[action]]` entries: name,
    /// label, states, method, url, body, headers).
    #[arg(long, env = "RUNYARD_ACTIONS_FILE")]
    actions_file: Option<PathBuf>,
    /// The URL clients reach this daemon at, when it differs from --bind (behind a proxy or a
    /// load balancer): file URIs use it, and an `https://` one makes the session cookie Secure.
    #[arg(long, env = "RUNYARD_PUBLIC_URL")]
    public_url: Option<String>,
    /// Object-storage destinations (`s3://bucket[/prefix]`) tasks may send their files to,
    /// written with the daemon's own `AWS_*` credentials; comma-separated. None by default.
    #[arg(long, env = "RUNYARD_OUTPUT_ALLOW", value_delimiter = ',')]
    output_allow: Vec<String>,
    /// The file holding the key tokens are signed with (at least 32 bytes, mode 0600). Default
    /// on SQLite: `<data-dir>/signing.key`, made at first start. Required with PostgreSQL: every
    /// replica reads the same key.
    #[arg(long, env = "RUNYARD_SIGNING_KEY_FILE")]
    signing_key_file: Option<PathBuf>,
    /// Seconds a client has to send a request's headers before its connection is closed.
    #[arg(long, env = "RUNYARD_HEADER_TIMEOUT_SECONDS", default_value_t = 30)]
    header_timeout_seconds: u64,
    /// Seconds the core API may take to answer a request (408 beyond); long-polls wait at most
    /// a second less.
    #[arg(long, env = "RUNYARD_REQUEST_TIMEOUT_SECONDS", default_value_t = 120)]
    request_timeout_seconds: u64,
    /// Requests in flight at once (long-polls included); more are answered 503 with Retry-After.
    #[arg(long, env = "RUNYARD_MAX_IN_FLIGHT", default_value_t = runyard_daemon::http::open::DEFAULT_MAX_IN_FLIGHT)]
    max_in_flight: usize,
    /// The most bytes of files (artifacts, models, debug samples) one task may store; 0: no limit.
    #[arg(long, env = "RUNYARD_TASK_FILES_QUOTA_BYTES", default_value_t = runyard_daemon::DEFAULT_TASK_FILES_QUOTA)]
    task_files_quota_bytes: u64,
}

#[derive(Args)]
pub struct UpArgs {
    /// Address to listen on.
    #[arg(long, env = "RUNYARD_BIND", default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// Where the data lives (default: the user's data dir).
    #[arg(long, env = "RUNYARD_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Start no local agent (by default one serves the "default" queue on this machine).
    #[arg(long)]
    no_agent: bool,
}

fn default_data_dir() -> Result<PathBuf> {
    Ok(dirs::data_dir().context("no data directory: set HOME or pass --data-dir")?.join("runyard"))
}

fn env_key_pair() -> Option<(String, String)> {
    match (std::env::var("RUNYARD_ACCESS_KEY"), std::env::var("RUNYARD_SECRET_KEY")) {
        (Ok(a), Ok(s)) if !a.is_empty() && !s.is_empty() => Some((a, s)),
        _ => None,
    }
}

/// The plugins every daemon runs.
pub fn plugins(
    clearml_ports: Option<(SocketAddr, SocketAddr)>,
    ui_actions: Vec<runyard_ui::ActionConfig>,
) -> Vec<Box<dyn runyard_daemon::plugin::Plugin>> {
    vec![
        Box::new(runyard_tracking::Tracking),
        Box::new(runyard_table::Table),
        Box::new(runyard_clearml::Clearml { ports: clearml_ports }),
        Box::new(runyard_ui::Ui { actions: ui_actions }),
    ]
}

/// `--clearml-ports API,FILES` as addresses on the bind address's host.
fn clearml_ports(bind: SocketAddr, ports: Option<&str>) -> Result<Option<(SocketAddr, SocketAddr)>> {
    let Some(ports) = ports else { return Ok(None) };
    let parsed: Vec<u16> =
        ports.split(',').map(|p| p.trim().parse::<u16>()).collect::<Result<_, _>>().map_err(|_| {
            anyhow::anyhow!("--clearml-ports takes two port numbers, API and files, e.g. 8008,8081 (got '{ports}')")
        })?;
    let [api, files] = parsed[..] else {
        anyhow::bail!("--clearml-ports takes two port numbers, API and files, e.g. 8008,8081 (got '{ports}')");
    };
    Ok(Some((SocketAddr::new(bind.ip(), api), SocketAddr::new(bind.ip(), files))))
}

async fn start(
    config: Config,
    clearml_ports: Option<(SocketAddr, SocketAddr)>,
    ui_actions: Vec<runyard_ui::ActionConfig>,
) -> Result<Daemon> {
    tracing::info!(?config, "starting");
    let daemon = Daemon::build(config, plugins(clearml_ports, ui_actions)).await?;
    if let Some(path) = &daemon.credentials_file {
        eprintln!("Generated an admin key pair: {} (mode 0600)", path.display());
    }
    Ok(daemon)
}

pub async fn server(args: ServerArgs) -> Result<ExitCode> {
    crate::runtime::init_tracing();
    let data_dir = match args.data_dir {
        Some(d) => d,
        None => default_data_dir()?,
    };
    let ports = clearml_ports(args.bind, args.clearml_ports.as_deref())?;
    if args.request_timeout_seconds == 0 {
        anyhow::bail!("--request-timeout-seconds must be at least 1");
    }
    if args.watchdog_interval_ms == 0 {
        anyhow::bail!("--watchdog-interval-ms must be at least 1");
    }
    if let Some(url) = args.public_url.as_deref().filter(|u| !u.starts_with("http://") && !u.starts_with("https://")) {
        anyhow::bail!("--public-url '{url}' must start with http:// or https://");
    }
    let config = Config {
        database_url: args.database_url,
        public_url: args.public_url.map(|u| u.trim_end_matches('/').to_string()),
        output_allow: args.output_allow,
        signing_key_file: args.signing_key_file,
        header_timeout: std::time::Duration::from_secs(args.header_timeout_seconds.max(1)),
        request_timeout: std::time::Duration::from_secs(args.request_timeout_seconds),
        max_in_flight: args.max_in_flight.max(1),
        task_files_quota: (args.task_files_quota_bytes > 0).then_some(args.task_files_quota_bytes),
        max_body_bytes: args.max_body_bytes,
        admin_key_pair: env_key_pair(),
        dispatch: runyard_daemon::services::dispatch::DispatchConfig {
            lease_seconds: args.lease_timeout_seconds,
            task_silence_seconds: args.task_timeout_seconds,
            watchdog_interval: std::time::Duration::from_millis(args.watchdog_interval_ms),
        },
        ..Config::new(args.bind, data_dir)
    };
    let actions = match &args.actions_file {
        Some(path) => runyard_ui::load_actions(path).context("--actions-file")?,
        None => Vec::new(),
    };
    let daemon = start(config, ports, actions).await?;
    tracing::info!(address = %daemon.local_addr(), "listening");
    println!("Runyard listening on http://{}", daemon.local_addr());
    daemon.run_until_stopped(crate::runtime::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// Prints a line; a closed stdout (the reader went away) is no reason to stop the daemon.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

pub async fn up(args: UpArgs) -> Result<ExitCode> {
    crate::runtime::init_tracing();
    let data_dir = match args.data_dir {
        Some(d) => d,
        None => default_data_dir()?,
    };
    let env_pair = env_key_pair();
    let daemon = start(
        Config { admin_key_pair: env_pair.clone(), ..Config::new(args.bind, data_dir.clone()) },
        None,
        Vec::new(),
    )
    .await?;
    let url = format!("http://{}", daemon.local_addr());
    let (access_key, secret_key): (String, String) = match env_pair {
        Some(pair) => pair,
        None => read_credentials(&data_dir)?,
    };
    let path = config::save_file(&ClientConfig {
        server: Some(url.clone()),
        access_key: Some(access_key.clone()),
        secret_key: Some(secret_key.clone()),
    })?;
    say!("Runyard is up at {url}");
    say!("Web UI: {url}  (sign in with access key {access_key} and its secret key, in {})", path.display());
    say!("Data: {}  CLI config: {}", data_dir.display(), path.display());
    let stop = tokio_util::sync::CancellationToken::new();
    let agent = if args.no_agent {
        None
    } else {
        // The local agent gets a key pair of its own, with the agent role: a task's code must
        // not inherit the admin's rights. It is made through the API, once the daemon serves.
        let (url, data_dir, stop) = (url.clone(), data_dir.clone(), stop.clone());
        Some(tokio::spawn(async move {
            let worker = match local_agent_key_pair(&url, &access_key, &secret_key, &data_dir).await {
                Ok((access, secret)) => super::agent::local_worker(&url, &access, &secret),
                Err(e) => Err(e),
            };
            match worker {
                Ok(worker) => {
                    say!("A local agent ({}) serves the \"default\" queue.", worker.id);
                    if let Err(error) = worker.run(stop, 1).await {
                        tracing::error!(%error, "the local agent stopped");
                    }
                }
                Err(error) => tracing::error!(%error, "the local agent could not start"),
            }
        }))
    };
    say!("Try: runyard task create --project hello --name first --example train --queue default");
    say!("Or fill a demo project to look around: runyard demo");
    // On shutdown the agent goes first: it aborts its task and reports it while the daemon listens.
    let shutdown = async move {
        crate::runtime::shutdown_signal().await;
        stop.cancel();
        if let Some(agent) = agent {
            let _ = agent.await;
        }
    };
    daemon.run_until_stopped(shutdown).await?;
    Ok(ExitCode::SUCCESS)
}

/// The local agent's key pair (agent role): made on the first `up` and kept in the data dir.
async fn local_agent_key_pair(
    url: &str,
    access_key: &str,
    secret_key: &str,
    data_dir: &std::path::Path,
) -> Result<(String, String)> {
    let path = data_dir.join("local-agent.toml");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let c: ClientConfig = toml::from_str(&text).with_context(|| format!("{} is not valid TOML", path.display()))?;
        if let (Some(a), Some(s)) = (c.access_key, c.secret_key) {
            return Ok((a, s));
        }
    }
    let admin = runyard_api::Client::new(url, access_key, secret_key);
    let name = format!("local-agent-{}", &runyard_daemon::store::new_id()[..8]);
    let made = admin.create_user(&runyard_api::CreateUser { name, role: runyard_api::Role::Agent }).await?;
    let file = ClientConfig {
        server: Some(url.to_string()),
        access_key: Some(made.access_key.clone()),
        secret_key: Some(made.secret_key.clone()),
    };
    runyard_daemon::auth::write_private(&path, &toml::to_string(&file)?)
        .with_context(|| format!("could not write {}", path.display()))?;
    Ok((made.access_key, made.secret_key))
}

/// The admin key pair the first start wrote to the data dir.
fn read_credentials(data_dir: &std::path::Path) -> Result<(String, String)> {
    let path = runyard_daemon::auth::credentials_path(data_dir);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!("could not read {}: set RUNYARD_ACCESS_KEY and RUNYARD_SECRET_KEY to an admin key pair", path.display())
    })?;
    let c: ClientConfig = toml::from_str(&text).with_context(|| format!("{} is not valid TOML", path.display()))?;
    match (c.access_key, c.secret_key) {
        (Some(a), Some(s)) => Ok((a, s)),
        _ => anyhow::bail!("{} lacks access_key or secret_key", path.display()),
    }
}

#[derive(Args)]
pub struct HealthArgs {
    /// The address the daemon listens on (an unspecified one, 0.0.0.0, is asked on loopback).
    #[arg(long, env = "RUNYARD_BIND", default_value = "127.0.0.1:8080")]
    bind: std::net::SocketAddr,
}

/// `runyard health`: GET /healthz of the daemon on this machine, within two seconds.
pub async fn health(a: HealthArgs) -> Result<ExitCode> {
    let mut addr = a.bind;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(2)).build()?;
    let resp =
        client.get(format!("http://{addr}/healthz")).send().await.with_context(|| format!("no daemon at {addr}"))?;
    if resp.status().is_success() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("the daemon at {addr} is unhealthy: {}", resp.status());
    Ok(ExitCode::FAILURE)
}
