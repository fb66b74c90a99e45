//! A task's Python environment. Virtual environments are cached, keyed by a hash of the
//! interpreter's version and the requirement set: a hit skips pip entirely. The cache keeps at
//! most `venv_cache_entries` environments, dropping the least recently used. pip's download
//! cache is shared by every build.

use crate::config::AgentConfig;
use crate::console::Console;
use crate::process::{self, Ended};
use anyhow::{bail, Context, Result};
use runyard_api::{Task, VenvMode};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};
use tokio_util::sync::CancellationToken;

/// Written into a venv once it is complete; its modification time is the last use.
const READY: &str = ".runyard-ready";

/// What the environment needs: the interpreter to build from and what to install.
#[derive(Debug, Clone, PartialEq)]
pub struct Needs {
    pub base: String,
    pub requirements: String,
    pub packages: Vec<String>,
    pub poetry: bool,
}

impl Needs {
    /// The task's requirements, else the repository's `requirements.txt`, else none.
    pub fn of(task: &Task, config: &AgentConfig, code_dir: &Path) -> Needs {
        let base = task.script.binary.clone().filter(|b| is_python(b)).unwrap_or_else(|| config.python.clone());
        let requirements = match task.script.requirements.as_deref().filter(|r| !r.trim().is_empty()) {
            Some(r) => r.to_string(),
            None => std::fs::read_to_string(code_dir.join("requirements.txt")).unwrap_or_default(),
        };
        let packages =
            task.environment.packages.as_deref().unwrap_or("").split_whitespace().map(str::to_string).collect();
        Needs { base, requirements, packages, poetry: task.environment.poetry }
    }
}

/// Where a Docker-mode venv for `needs` in image `image_id` lives (mounted into the container
/// at the same path; the container builds it once).
pub fn container_venv(config: &AgentConfig, image_id: &str, needs: &Needs) -> PathBuf {
    let mut h = Sha256::new();
    for part in [image_id, &needs.base, &needs.requirements, &needs.packages.join(" ")] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    config.cache_dir.join("venvs-docker").join(hex::encode(&h.finalize()[..12]))
}

pub fn is_python(binary: &str) -> bool {
    Path::new(binary).file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("python"))
}

/// Prepares the environment and returns the interpreter to run the task with.
pub async fn prepare(
    config: &AgentConfig,
    task: &Task,
    code_dir: &Path,
    console: &Console,
    stop: &CancellationToken,
) -> Result<PathBuf> {
    let needs = Needs::of(task, config, code_dir);
    let named = task.environment.preinstalled_venv.as_deref().filter(|v| !v.trim().is_empty()).map(PathBuf::from);
    let (venv, mode) = match (named, &config.default_venv) {
        (Some(venv), _) => (Some(venv), task.environment.venv_mode),
        (None, Some(venv)) => (Some(venv.clone()), VenvMode::Skip),
        (None, None) => (None, task.environment.venv_mode),
    };
    if let Some(venv) = venv {
        let python = venv.join("bin").join("python");
        if !python.exists() {
            bail!("the preinstalled venv {} has no bin/python", venv.display());
        }
        match mode {
            VenvMode::Skip => console.note(format!("using the preinstalled venv {} as it is", venv.display())),
            VenvMode::Requirements => {
                install(config, &python, &needs.requirements, &[], code_dir, console, stop).await?
            }
            VenvMode::Packages => install(config, &python, "", &needs.packages, code_dir, console, stop).await?,
        }
        return Ok(python);
    }
    let version = interpreter_version(&needs.base).await?;
    // A poetry project's requirement set is its pyproject.toml and lock file.
    let lock_bytes = if needs.poetry {
        let read = |name: &str| std::fs::read(code_dir.join(name)).unwrap_or_default();
        [read("pyproject.toml"), read("poetry.lock")].concat()
    } else {
        vec![]
    };
    let key = {
        let mut h = Sha256::new();
        for part in
            [version.as_bytes(), needs.requirements.as_bytes(), needs.packages.join(" ").as_bytes(), &lock_bytes]
        {
            h.update(part);
            h.update([0]);
        }
        h.update([needs.poetry as u8]);
        hex::encode(&h.finalize()[..12])
    };
    let root = config.venv_dir();
    std::fs::create_dir_all(&root)?;
    let venv = root.join(&key);
    let lock = std::fs::File::create(root.join(format!("{key}.lock")))?;
    lock.lock()?;
    let python = venv.join("bin").join("python");
    let ready = venv.join(READY);
    if ready.exists() {
        std::fs::File::options().write(true).open(&ready)?.set_modified(SystemTime::now())?;
        console.note(format!("environment cache hit ({version}, {key})"));
        return Ok(python);
    }
    console.step(format!("building the environment ({version}, {key})"));
    let _ = std::fs::remove_dir_all(&venv);
    let mut cmd = Command::new(&needs.base);
    cmd.args(["-m", "venv"]).arg(&venv);
    step(cmd, console, stop, config, "creating the virtual environment").await?;
    if needs.poetry {
        let mut cmd = Command::new("poetry");
        cmd.args(["install", "--no-interaction", "--no-root"]).current_dir(code_dir).env("VIRTUAL_ENV", &venv);
        pip_env(&mut cmd, config);
        step(cmd, console, stop, config, "poetry install").await?;
    } else {
        install(config, &python, &needs.requirements, &needs.packages, code_dir, console, stop).await?;
    }
    std::fs::write(&ready, b"")?;
    drop(lock);
    evict(&root, config.venv_cache_entries, &key);
    Ok(python)
}

async fn install(
    config: &AgentConfig,
    python: &Path,
    requirements: &str,
    packages: &[String],
    code_dir: &Path,
    console: &Console,
    stop: &CancellationToken,
) -> Result<()> {
    if !requirements.trim().is_empty() {
        let file = tempfile_in(code_dir, "requirements", requirements)?;
        let mut cmd = Command::new(python);
        cmd.args(["-m", "pip", "install", "-r"]).arg(&file).current_dir(code_dir);
        pip_env(&mut cmd, config);
        let result = step(cmd, console, stop, config, "pip install -r requirements").await;
        let _ = std::fs::remove_file(&file);
        result?;
    }
    if !packages.is_empty() {
        let mut cmd = Command::new(python);
        cmd.args(["-m", "pip", "install"]).args(packages).current_dir(code_dir);
        pip_env(&mut cmd, config);
        step(cmd, console, stop, config, "pip install").await?;
    }
    Ok(())
}

fn pip_env(cmd: &mut Command, config: &AgentConfig) {
    cmd.env("PIP_CACHE_DIR", config.pip_cache_dir())
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("PIP_NO_INPUT", "1")
        .env("PYTHONUNBUFFERED", "1");
    if let Some(index) = &config.extra_index_url {
        cmd.env("PIP_EXTRA_INDEX_URL", index);
    }
}

fn tempfile_in(dir: &Path, stem: &str, body: &str) -> Result<PathBuf> {
    let path = dir.join(format!(".runyard-{stem}-{}.txt", std::process::id()));
    std::fs::write(&path, body)?;
    Ok(path)
}

/// Runs one set-up step, failing with `what` and the exit status.
async fn step(
    cmd: Command,
    console: &Console,
    stop: &CancellationToken,
    config: &AgentConfig,
    what: &str,
) -> Result<()> {
    let limit = Duration::from_secs(config.env_timeout_seconds);
    match process::run(cmd, process::EnvBase::Agent, console, stop, config.abort_grace(), Some(limit)).await? {
        Ended::Exited(s) if s.success() => Ok(()),
        Ended::Exited(s) => bail!("{what} failed ({s})"),
        Ended::Stopped { .. } => bail!("{what} was stopped"),
        Ended::TimedOut => bail!("{what} took longer than {} s", limit.as_secs()),
    }
}

/// `python --version`, asked once per interpreter for the agent's lifetime (through a version
/// manager's shim, asking costs more than a cached run).
async fn interpreter_version(python: &str) -> Result<String> {
    static KNOWN: std::sync::Mutex<Option<std::collections::HashMap<String, String>>> = std::sync::Mutex::new(None);
    if let Some(v) = KNOWN.lock().expect("versions lock").get_or_insert_with(Default::default).get(python) {
        return Ok(v.clone());
    }
    let version = ask_version(python).await?;
    KNOWN.lock().expect("versions lock").get_or_insert_with(Default::default).insert(python.into(), version.clone());
    Ok(version)
}

async fn ask_version(python: &str) -> Result<String> {
    let out = tokio::process::Command::new(python)
        .arg("--version")
        .output()
        .await
        .with_context(|| format!("no Python interpreter '{python}' on this worker"))?;
    let text =
        String::from_utf8_lossy(if out.stdout.is_empty() { &out.stderr } else { &out.stdout }).trim().to_string();
    if !out.status.success() || text.is_empty() {
        bail!("'{python} --version' failed");
    }
    Ok(text)
}

/// Drops the least recently used complete environments beyond `keep` (never `current`, and
/// never one another agent is building or using right now).
fn evict(root: &Path, keep: usize, current: &str) {
    let Ok(dirs) = std::fs::read_dir(root) else { return };
    let mut ready: Vec<(SystemTime, PathBuf)> = dirs
        .filter_map(|d| d.ok())
        .filter_map(|d| {
            let used = std::fs::metadata(d.path().join(READY)).ok()?.modified().ok()?;
            Some((used, d.path()))
        })
        .collect();
    ready.sort();
    let excess = ready.len().saturating_sub(keep.max(1));
    for (_, dir) in ready.into_iter().take(excess) {
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
        if name == current {
            continue;
        }
        let Ok(lock) = std::fs::File::create(root.join(format!("{name}.lock"))) else { continue };
        if lock.try_lock().is_ok() {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
