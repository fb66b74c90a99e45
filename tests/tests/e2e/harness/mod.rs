//! The real parts tests run against: the `runyard` binary on a random loopback port, and a
//! throwaway PostgreSQL 15 server started from `/usr/lib/postgresql/15/bin`.

pub mod agent;
pub mod tasks;
pub mod wait;

use runyard_api::Client;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_runyard-dup");
pub const ACCESS_KEY: &str = "TESTACCESSKEY00000000000";
pub const SECRET_KEY: &str = "test-secret-test-secret-test-secret-000000000000";

/// Which database a scenario runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A `runyard server` process; killed on drop.
pub struct TestServer {
    child: Option<Child>,
    /// Server flags, kept for restarts.
    flags: Vec<String>,
    /// Extra environment of the server process.
    env: Vec<(String, String)>,
    pub url: String,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    /// PostgreSQL: the token signing key file every replica reads.
    signing_key: Option<PathBuf>,
    _dir: Option<tempfile::TempDir>,
}

impl TestServer {
    /// A fresh server on `backend`, or `None` (with a note) when PostgreSQL is unavailable.
    pub fn start(backend: Backend) -> Option<TestServer> {
        Self::start_with(backend, &[])
    }

    pub fn start_with(backend: Backend, extra: &[&str]) -> Option<TestServer> {
        Self::start_with_env(backend, extra, &[])
    }

    pub fn start_with_env(backend: Backend, extra: &[&str], env: &[(&str, &str)]) -> Option<TestServer> {
        let database_url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(pg()?.fresh_database()),
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = dir.path().to_path_buf();
        let flags = extra.iter().map(|f| f.to_string()).collect();
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let signing_key = database_url.as_ref().map(|_| {
            let key = data_dir.join("signing.key");
            std::fs::write(&key, "a test signing key shared by the replicas of one database").expect("signing key");
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod 600");
            key
        });
        Some(Self::spawned(dir, flags, env, database_url, signing_key))
    }

    /// A second daemon on the same database (PostgreSQL), with its own data dir and port.
    pub fn replica(&self) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let (flags, env) = (self.flags.clone(), self.env.clone());
        Self::spawned(dir, flags, env, self.database_url.clone(), self.signing_key.clone())
    }

    /// A daemon started on `dir`.
    fn spawned(
        dir: tempfile::TempDir,
        flags: Vec<String>,
        env: Vec<(String, String)>,
        database_url: Option<String>,
        signing_key: Option<PathBuf>,
    ) -> TestServer {
        let data_dir = dir.path().to_path_buf();
        let mut server = TestServer {
            child: None,
            flags,
            env,
            url: String::new(),
            data_dir,
            database_url,
            signing_key,
            _dir: Some(dir),
        };
        server.spawn();
        server
    }

    /// Starts (again) on the same data dir and database, on a new port.
    pub fn spawn(&mut self) {
        self.spawn_at("127.0.0.1:0");
    }

    /// Starts again on the same data dir, database and address: to its clients, the same
    /// daemon back after a restart.
    pub fn respawn_in_place(&mut self) {
        let address = self.url.trim_start_matches("http://").to_string();
        self.spawn_at(&address);
    }

    fn spawn_at(&mut self, bind: &str) {
        let mut cmd = Command::new(BIN);
        cmd.args(["server", "--bind", bind, "--data-dir"])
            .arg(&self.data_dir)
            .args(&self.flags)
            .env("RUNYARD_ACCESS_KEY", ACCESS_KEY)
            .env("RUNYARD_SECRET_KEY", SECRET_KEY)
            .env("RUNYARD_LOG", "warn")
            .env_remove("RUNYARD_DATABASE_URL")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(url) = &self.database_url {
            cmd.args(["--database-url", url]);
        }
        if let Some(key) = &self.signing_key {
            cmd.arg("--signing-key-file").arg(key);
        }
        let mut child = cmd.spawn().expect("spawn runyard server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("read stdout");
        let url = line.trim().strip_prefix("Runyard listening on ").unwrap_or_else(|| {
            let status = child.wait().expect("wait");
            panic!("server did not start ({status}): {line:?}")
        });
        self.url = url.to_string();
        self.child = Some(child);
    }

    /// SIGKILL: the daemon dies mid-flight, as in a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill -9");
            child.wait().expect("wait");
        }
    }

    /// SIGTERM, then waits; returns whether it exited cleanly.
    pub fn stop(&mut self) -> bool {
        let Some(mut child) = self.child.take() else { return true };
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        false
    }

    pub fn client(&self) -> Client {
        Client::new(&self.url, ACCESS_KEY, SECRET_KEY)
    }

    /// Raw HTTP for bad-input tests.
    pub fn http(&self) -> reqwest::Client {
        reqwest::Client::new()
    }

    /// Runs the CLI against this server with the admin key pair.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_as(ACCESS_KEY, SECRET_KEY, args)
    }

    pub fn cli_as(&self, access: &str, secret: &str, args: &[&str]) -> Output {
        let home = self.data_dir.join("home");
        std::fs::create_dir_all(&home).expect("home");
        Command::new(BIN)
            .args(args)
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("RUNYARD_SERVER", &self.url)
            .env("RUNYARD_ACCESS_KEY", access)
            .env("RUNYARD_SECRET_KEY", secret)
            .output()
            .expect("run cli")
    }

    /// Runs the CLI with `--json`, panicking with its output unless it exits 0.
    pub fn cli_json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.cli(&all);
        assert!(out.status.success(), "runyard {args:?} failed: {}", describe(&out));
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", describe(&out)))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn describe(out: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A throwaway PostgreSQL server shared by the test binary; it stops itself when the test
/// process exits.
pub struct PgServer {
    port: u16,
    bin: PathBuf,
    /// The shell that runs PostgreSQL and cleans up after this process exits.
    _watcher: Child,
}

static PG: OnceLock<Option<PgServer>> = OnceLock::new();

/// The shared PostgreSQL server, or `None` when its binaries are missing. Set
/// `RUNYARD_REQUIRE_PG=1` (CI does) to make a missing PostgreSQL a failure instead of a skip.
pub fn pg() -> Option<&'static PgServer> {
    let pg = PG.get_or_init(|| {
        let bin = PathBuf::from(std::env::var("RUNYARD_PG_BIN").unwrap_or("/usr/lib/postgresql/15/bin".into()));
        if !bin.join("postgres").exists() {
            assert!(
                std::env::var("RUNYARD_REQUIRE_PG").is_err(),
                "RUNYARD_REQUIRE_PG is set but {} has no postgres",
                bin.display()
            );
            eprintln!("note: PostgreSQL 15 not found in {}: PostgreSQL scenarios skipped", bin.display());
            return None;
        }
        Some(PgServer::start(bin))
    });
    pg.as_ref()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// Runs a PostgreSQL program, as `nobody` when we are root (PostgreSQL refuses to run as root).
fn pg_command(bin: &Path, program: &str) -> Command {
    let is_root = Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false);
    let mut cmd = if is_root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]).arg(bin.join(program));
        c
    } else {
        Command::new(bin.join(program))
    };
    cmd.env("LC_ALL", "C.UTF-8").current_dir("/tmp");
    cmd
}

impl PgServer {
    fn start(bin: PathBuf) -> PgServer {
        let dir = std::env::temp_dir().join(format!("runyard-pg-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&dir).expect("pg dir");
        let _ = Command::new("chown").args(["65534:65534"]).arg(&dir).status();
        let data = dir.join("data");
        let out = pg_command(&bin, "initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .output()
            .expect("initdb");
        assert!(out.status.success(), "initdb failed: {}", describe(&out));
        let port = free_port();
        // A watcher shell stops the server and removes its files once this test process is gone.
        let script = format!(
            "{postgres} -D {data} -p {port} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 >{dir}/log 2>&1 & pg=$!; \
             while [ -d /proc/{parent} ] && kill -0 $pg 2>/dev/null; do sleep 0.5; done; \
             kill -INT $pg 2>/dev/null; wait $pg; rm -rf {dir}",
            postgres = bin.join("postgres").display(),
            data = data.display(),
            dir = dir.display(),
            parent = std::process::id(),
        );
        let mut sh = pg_command(Path::new("/bin"), "sh");
        sh.args(["-c", &script]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        let watcher = sh.spawn().expect("start postgres");
        let server = PgServer { port, bin, _watcher: watcher };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = Command::new(server.bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q"])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ready {
                break;
            }
            assert!(Instant::now() < deadline, "PostgreSQL did not start; see {}/log", dir.display());
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// A new, empty database; returns its URL.
    pub fn fresh_database(&self) -> String {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let name = format!("t{}_{}", std::process::id(), NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
        let out = Command::new(self.bin.join("createdb"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", &name])
            .output()
            .expect("createdb");
        assert!(out.status.success(), "createdb failed: {}", describe(&out));
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }
}

/// Declares one test per backend running the same async scenario.
/// Server flags may follow the body: `scenario!(name, body, &["--lease-timeout-seconds", "1"])`.
#[macro_export]
macro_rules! scenario {
    ($name:ident, $body:path) => {
        $crate::scenario!($name, $body, &[]);
    };
    ($name:ident, $body:path, $flags:expr) => {
        mod $name {
            use $crate::harness::{Backend, TestServer};

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $body(TestServer::start_with(Backend::Sqlite, $flags).expect("sqlite server")).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match TestServer::start_with(Backend::Postgres, $flags) {
                    Some(server) => $body(server).await,
                    None => eprintln!("skipped: no PostgreSQL"),
                }
            }
        }
    };
}
