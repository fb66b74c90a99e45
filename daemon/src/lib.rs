//! The Runyard daemon as a library: [`Daemon::build`] opens the store, makes sure an admin
//! can log in, binds the listener; [`Daemon::run_until_stopped`] serves until the shutdown
//! future completes, then drains in-flight requests.
//!
//! Layers, top to bottom: `http` (axum, the only module that knows HTTP) → `services`
//! (validation and the task lifecycle) → `store` (SQL). `auth` sits beside `services`.

pub mod auth;
pub mod error;
pub mod http;
pub mod metrics;
pub mod plugin;
pub mod services;
pub mod store;

use anyhow::Context;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Everything `runyard server` can be told.
#[derive(Clone)]
pub struct Config {
    pub bind: SocketAddr,
    /// Holds the SQLite database and generated credentials.
    pub data_dir: PathBuf,
    /// `postgres://…` or `sqlite://…`; default: SQLite in `data_dir`.
    pub database_url: Option<String>,
    pub max_body_bytes: usize,
    /// An admin key pair to provision (from `RUNYARD_ACCESS_KEY` / `RUNYARD_SECRET_KEY`).
    pub admin_key_pair: Option<(String, String)>,
    pub dispatch: services::dispatch::DispatchConfig,
    /// The base URL clients reach this daemon at (default: `http://` + the bound address).
    pub public_url: Option<String>,
    /// Object-storage destinations (`s3://bucket[/prefix]`) tasks may send their files to,
    /// written with the daemon's own credentials; none by default.
    pub output_allow: Vec<String>,
    /// How long a client has to send a request's headers.
    pub header_timeout: std::time::Duration,
    /// How long the core API may take to answer a request (long-polls wait at most a minute).
    pub request_timeout: std::time::Duration,
    /// Requests in flight at once; more are answered 503.
    pub max_in_flight: usize,
    /// The most bytes of files one task may store; `None`: no limit.
    pub task_files_quota: Option<u64>,
    /// The token signing key (default on SQLite: `<data_dir>/signing.key`, made at first start;
    /// required on PostgreSQL, where every replica reads the same key).
    pub signing_key_file: Option<PathBuf>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_deref().map(redact_url))
            .field("max_body_bytes", &self.max_body_bytes)
            .field("admin_key_pair", &self.admin_key_pair.as_ref().map(|(k, _)| (k, "<redacted>")))
            .field("dispatch", &self.dispatch)
            .field("public_url", &self.public_url)
            .field("signing_key_file", &self.signing_key_file)
            .finish()
    }
}

/// A database URL with its password hidden.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => raw.to_string(),
    }
}

/// The most bytes of files one task may store, unless the operator says otherwise (50 GiB).
pub const DEFAULT_TASK_FILES_QUOTA: u64 = 50 << 30;

impl Config {
    pub fn new(bind: SocketAddr, data_dir: PathBuf) -> Config {
        Config {
            bind,
            data_dir,
            database_url: None,
            max_body_bytes: http::DEFAULT_MAX_BODY_BYTES,
            admin_key_pair: None,
            dispatch: Default::default(),
            public_url: None,
            output_allow: Vec::new(),
            signing_key_file: None,
            header_timeout: http::serve::DEFAULT_HEADER_TIMEOUT,
            request_timeout: std::time::Duration::from_secs(120),
            max_in_flight: http::open::DEFAULT_MAX_IN_FLIGHT,
            task_files_quota: Some(DEFAULT_TASK_FILES_QUOTA),
        }
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("runyard.db").display()))
    }
}

/// A daemon bound to its port, ready to serve.
pub struct Daemon {
    /// Where the store lives, for the replica notification channel.
    database_url: String,
    listener: TcpListener,
    router: axum::Router,
    header_timeout: std::time::Duration,
    store: Arc<Store>,
    dispatcher: Arc<services::dispatch::Dispatcher>,
    background:
        Vec<Box<dyn FnOnce(tokio_util::sync::CancellationToken) -> futures::future::BoxFuture<'static, ()> + Send>>,
    /// Set when this start generated the admin key pair.
    pub credentials_file: Option<PathBuf>,
    /// SQLite: held while the daemon lives, so a second daemon cannot open the same file.
    _sqlite_lock: Option<std::fs::File>,
}

/// SQLite: locks `<database file>.lock` for this process, refusing to start when another daemon
/// holds it (two daemons on one SQLite file would each assume they are its only writer).
/// PostgreSQL needs no lock: replicas share it by design.
fn lock_sqlite_file(url: &str) -> anyhow::Result<Option<std::fs::File>> {
    let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) else { return Ok(None) };
    let path = PathBuf::from(path.split('?').next().unwrap_or(path));
    let lock_path = path.with_extension("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("could not open {}", lock_path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another Runyard daemon is using {}: stop it first (several daemons share a PostgreSQL database, \
             not a SQLite file)",
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("could not lock {}", lock_path.display()))
        }
    }
}

use store::Store;

impl Daemon {
    pub async fn build(config: Config, plugins: Vec<Box<dyn plugin::Plugin>>) -> anyhow::Result<Daemon> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("could not create the data dir {}", config.data_dir.display()))?;
        let url = config.database_url();
        let sqlite_lock = lock_sqlite_file(&url)?;
        let store = Arc::new(
            Store::connect(&url).await.with_context(|| format!("could not open the database {}", redact_url(&url)))?,
        );
        for plugin in &plugins {
            store
                .apply_migrations(plugin.migrator(store.backend()))
                .await
                .with_context(|| format!("could not migrate the {} plugin's tables", plugin.name()))?;
        }
        store.ensure_default_queue().await?;
        let credentials_file = auth::bootstrap_admin(&store, &config.data_dir, config.admin_key_pair.clone()).await?;
        let key_file = match (&config.signing_key_file, store.backend()) {
            (Some(file), _) => file.clone(),
            (None, store::Backend::Sqlite) => config.data_dir.join("signing.key"),
            (None, store::Backend::Postgres) => anyhow::bail!(
                "with PostgreSQL every replica must sign tokens with the same key: pass --signing-key-file \
                 (RUNYARD_SIGNING_KEY_FILE), a file of at least 32 random bytes, the same on every replica"
            ),
        };
        let create = config.signing_key_file.is_none();
        let auth = Arc::new(auth::Auth::new(store.clone(), &key_file, create).await?);
        let listener =
            TcpListener::bind(config.bind).await.with_context(|| format!("could not listen on {}", config.bind))?;
        let tasks = services::tasks::TaskService::new(store.clone());
        let metrics = Arc::new(metrics::Metrics::default());
        let dispatcher = Arc::new(services::dispatch::Dispatcher::new(
            store.clone(),
            tasks.clone(),
            metrics.clone(),
            config.dispatch.clone(),
        ));
        let state = http::AppState {
            https: config.public_url.as_deref().is_some_and(|u| u.starts_with("https://")),
            store: store.clone(),
            auth: auth.clone(),
            tasks: tasks.clone(),
            dispatcher: dispatcher.clone(),
            metrics,
            open: Arc::default(),
            longest_wait: http::open::longest_wait(config.request_timeout),
        };
        let in_flight = Arc::new(http::open::InFlight::new(config.max_in_flight));
        let ctx = plugin::PluginContext {
            store: store.clone(),
            tasks: tasks.clone(),
            auth: auth.clone(),
            dispatcher: dispatcher.clone(),
            data_dir: config.data_dir.clone(),
            public_url: config
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{}", listener.local_addr().expect("bound"))),
            max_body_bytes: config.max_body_bytes,
            header_timeout: config.header_timeout,
            task_files_quota: config.task_files_quota,
            output_allow: config.output_allow.clone(),
            in_flight: in_flight.clone(),
        };
        let (mut parts, mut hooks, mut background) = (Vec::new(), Vec::new(), Vec::new());
        for plugin in &plugins {
            let mounted =
                plugin.mount(&ctx).with_context(|| format!("could not start the {} plugin", plugin.name()))?;
            parts.push((mounted.routes, mounted.root_routes, mounted.openapi));
            hooks.extend(mounted.hooks);
            background.extend(mounted.background);
        }
        tasks.register_hooks(hooks);
        let router = http::router(state, config.max_body_bytes, config.request_timeout, in_flight, parts);
        Ok(Daemon {
            database_url: url,
            listener,
            router,
            header_timeout: config.header_timeout,
            store,
            dispatcher,
            background,
            credentials_file,
            _sqlite_lock: sqlite_lock,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener")
    }

    /// Serves (and runs the watchdog) until `shutdown` completes, then finishes in-flight
    /// requests, stops the watchdog and closes the store.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let stop = tokio_util::sync::CancellationToken::new();
        let watchdog = tokio::spawn(self.dispatcher.clone().watchdog(stop.clone()));
        let background: Vec<_> = self.background.into_iter().map(|work| tokio::spawn(work(stop.clone()))).collect();
        let replicas = {
            let (store, url, stop) = (self.store.clone(), self.database_url.clone(), stop.clone());
            tokio::spawn(async move {
                if let Err(error) = store.listen_to_replicas(&url, stop).await {
                    tracing::error!(error = format!("{error:#}"), "replica notifications unavailable");
                }
            })
        };
        http::serve::serve(self.listener, self.router, self.header_timeout, shutdown).await?;
        stop.cancel();
        let _ = watchdog.await;
        for work in background {
            let _ = work.await;
        }
        let _ = replicas.await;
        self.store.close().await;
        Ok(())
    }
}

impl From<anyhow::Error> for error::Error {
    fn from(e: anyhow::Error) -> Self {
        error::Error::Internal(e)
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn database_passwords_are_hidden() {
        assert_eq!(
            redact_url("postgres://ada:s3cr:et@db.local:5432/runyard"),
            "postgres://ada:***@db.local:5432/runyard"
        );
        // An @ in the password, percent-encoded as URLs require, is hidden whole.
        assert_eq!(
            redact_url("postgres://ada:p%40ss@db/runyard?sslmode=require"),
            "postgres://ada:***@db/runyard?sslmode=require"
        );
        assert_eq!(redact_url("postgres://ada@db/runyard"), "postgres://ada@db/runyard");
        assert_eq!(redact_url("sqlite:///var/lib/runyard/runyard.db"), "sqlite:///var/lib/runyard/runyard.db");
        assert_eq!(redact_url("not a url"), "not a url");
    }
}
