//! The agent's settings: `~/.config/runyard/agent.toml`, overridden by the command line.
//! The server and key pair fall back to the CLI's own configuration.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentConfig {
    /// The daemon's URL.
    pub server: Option<String>,
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
    /// Git checkouts, virtual environments, pip's download cache, work directories and logs.
    pub cache_dir: PathBuf,
    /// Most cached virtual environments kept (least recently used go first).
    pub venv_cache_entries: usize,
    /// The interpreter for Python tasks that name none.
    pub python: String,
    /// A virtual environment present on this machine for Python tasks that name none, used as
    /// it is (their requirements are not installed): a curated environment instead of one
    /// built per requirement set.
    pub default_venv: Option<PathBuf>,
    /// An extra package index for pip.
    pub extra_index_url: Option<String>,
    /// Between SIGTERM and SIGKILL when a task is aborted, so it can checkpoint.
    pub abort_grace_seconds: u64,
    /// HTTPS credentials for git (never printed).
    pub git_user: Option<String>,
    pub git_token: Option<String>,
    /// An SSH private key for git; else the ssh-agent.
    pub git_ssh_key: Option<PathBuf>,
    /// The only hosts the git credentials above are sent to (a token over HTTPS only).
    pub git_hosts: Vec<String>,
    /// Whether tasks may name a repository on this machine (a path or `file://`).
    pub git_allow_local: bool,
    /// Longest a git clone or fetch may take.
    pub git_timeout_seconds: u64,
    /// Longest building an environment may take.
    pub env_timeout_seconds: u64,
    /// Dropped by the daemon when silent for this long.
    pub worker_timeout_seconds: u64,
    /// Docker mode: the image of tasks that name none.
    pub docker_image: String,
    /// Docker mode: always use `docker_image`, whatever image a task names.
    pub docker_forbid_task_image: bool,
    /// How often a running task's machine and GPU use is reported as its `:monitor:machine`
    /// and `:monitor:gpu` scalars (0: never).
    pub monitor_seconds: u64,
    /// Variables of the agent's own environment a native task sees besides the basics (PATH,
    /// HOME, USER, LANG, LC_*, TZ, TMPDIR, TERM...); a trailing `*` matches a prefix, e.g.
    /// `["LD_LIBRARY_PATH", "HTTPS_PROXY", "PIP_*"]`. Nothing else of the agent's reaches a task.
    pub env_passthrough: Vec<String>,
    /// Docker mode: host paths (and their subpaths) and named volumes a task may mount.
    pub docker_allow_mounts: Vec<String>,
    /// Docker mode: host devices a task may map.
    pub docker_allow_devices: Vec<String>,
    /// Docker mode: capabilities a task may add.
    pub docker_allow_capabilities: Vec<String>,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            server: None,
            access_key: None,
            secret_key: None,
            cache_dir: dirs::cache_dir().unwrap_or_else(std::env::temp_dir).join("runyard"),
            venv_cache_entries: 10,
            python: "python3".into(),
            default_venv: None,
            extra_index_url: None,
            abort_grace_seconds: 30,
            git_user: None,
            git_token: None,
            git_ssh_key: None,
            git_hosts: Vec::new(),
            git_allow_local: false,
            git_timeout_seconds: 600,
            env_timeout_seconds: 1800,
            worker_timeout_seconds: 60,
            docker_image: "python:3.11-slim".into(),
            docker_forbid_task_image: false,
            monitor_seconds: 10,
            env_passthrough: Vec::new(),
            docker_allow_mounts: Vec::new(),
            docker_allow_devices: Vec::new(),
            docker_allow_capabilities: Vec::new(),
        }
    }
}

/// The agent's variables every native task sees.
const BASIC_ENV: [&str; 11] =
    ["PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TERM", "PWD"];

impl AgentConfig {
    /// What a task's container may reach on the host, as the operator allows.
    pub fn container_policy(&self) -> crate::docker_args::ContainerPolicy {
        crate::docker_args::ContainerPolicy {
            mounts: self.docker_allow_mounts.clone(),
            devices: self.docker_allow_devices.clone(),
            capabilities: self.docker_allow_capabilities.clone(),
        }
    }

    /// The agent's own variables a native task starts with: the basics, `LC_*` and what
    /// `env_passthrough` names. The agent's key pair and anything else of its are left out.
    pub fn passed_on_env(&self) -> Vec<(String, String)> {
        let passed = |name: &str| {
            BASIC_ENV.contains(&name)
                || name.starts_with("LC_")
                || self.env_passthrough.iter().any(|p| match p.strip_suffix('*') {
                    Some(prefix) => name.starts_with(prefix),
                    None => p == name,
                })
        };
        std::env::vars().filter(|(k, _)| passed(k)).collect()
    }

    /// `~/.config/runyard/agent.toml` (honours `XDG_CONFIG_HOME`).
    pub fn default_path() -> Option<PathBuf> {
        dirs::config_dir().map(|d| d.join("runyard").join("agent.toml"))
    }

    /// Reads the file at `path`; a missing file gives the defaults.
    pub fn load(path: &std::path::Path) -> anyhow::Result<AgentConfig> {
        use anyhow::Context;
        match std::fs::read_to_string(path) {
            Ok(text) => {
                toml::from_str(&text).with_context(|| format!("{} is not a valid agent config", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(AgentConfig::default()),
            Err(e) => Err(e).with_context(|| format!("could not read {}", path.display())),
        }
    }

    pub fn abort_grace(&self) -> Duration {
        Duration::from_secs(self.abort_grace_seconds)
    }

    pub fn git_dir(&self) -> PathBuf {
        self.cache_dir.join("git")
    }

    pub fn venv_dir(&self) -> PathBuf {
        self.cache_dir.join("venvs")
    }

    pub fn pip_cache_dir(&self) -> PathBuf {
        self.cache_dir.join("pip")
    }

    pub fn work_dir(&self) -> PathBuf {
        self.cache_dir.join("work")
    }

    pub fn log_dir(&self) -> PathBuf {
        self.cache_dir.join("logs")
    }
}
