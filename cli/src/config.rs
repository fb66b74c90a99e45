//! Where clients find the server and their key pair: `RUNYARD_SERVER`, `RUNYARD_ACCESS_KEY`,
//! `RUNYARD_SECRET_KEY`, else `~/.config/runyard/config.toml`.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClientConfig {
    pub server: Option<String>,
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
}

/// `~/.config/runyard/config.toml` (honours `XDG_CONFIG_HOME`).
pub fn config_path() -> Result<PathBuf> {
    Ok(dirs::config_dir().context("no config directory: set HOME")?.join("runyard").join("config.toml"))
}

pub fn load_file() -> Result<ClientConfig> {
    let path = config_path()?;
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).with_context(|| format!("{} is not valid TOML", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ClientConfig::default()),
        Err(e) => Err(e).with_context(|| format!("could not read {}", path.display())),
    }
}

pub fn save_file(config: &ClientConfig) -> Result<PathBuf> {
    let path = config_path()?;
    let body = format!("# Written by `runyard up`.\n{}", toml::to_string(config)?);
    runyard_daemon::auth::write_private(&path, &body).with_context(|| format!("could not write {}", path.display()))?;
    Ok(path)
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// A client for the configured server, or an error that says how to configure one.
pub fn client(server_flag: Option<&str>) -> Result<runyard_api::Client> {
    let file = load_file()?;
    let server = server_flag
        .map(str::to_string)
        .or_else(|| env("RUNYARD_SERVER"))
        .or(file.server)
        .unwrap_or_else(|| "http://127.0.0.1:8080".to_string());
    let (Some(access), Some(secret)) =
        (env("RUNYARD_ACCESS_KEY").or(file.access_key), env("RUNYARD_SECRET_KEY").or(file.secret_key))
    else {
        bail!(
            "no credentials: set RUNYARD_ACCESS_KEY and RUNYARD_SECRET_KEY, or run `runyard up` (which writes {})",
            config_path()?.display()
        );
    };
    Ok(runyard_api::Client::new(&server, &access, &secret))
}
