//! Code checkout with git2: a bare mirror per repository URL in the cache (fetched each time),
//! a working copy cloned from it for each run, the task's branch, tag or commit checked out,
//! its uncommitted diff applied and its submodules brought in.

use crate::config::AgentConfig;
use anyhow::{anyhow, bail, Context, Result};
use git2::{build::RepoBuilder, Cred, CredentialType, FetchOptions, RemoteCallbacks, Repository};
use runyard_api::Script;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// What to check out.
pub struct Source<'a> {
    pub url: &'a str,
    pub branch: Option<&'a str>,
    pub tag: Option<&'a str>,
    pub commit: Option<&'a str>,
    pub diff: Option<&'a str>,
}

impl<'a> Source<'a> {
    pub fn of(script: &'a Script) -> Option<Source<'a>> {
        Some(Source {
            url: script.repository.as_deref().filter(|r| !r.trim().is_empty())?,
            branch: script.branch.as_deref(),
            tag: script.tag.as_deref(),
            commit: script.commit.as_deref(),
            diff: script.diff.as_deref().filter(|d| !d.trim().is_empty()),
        })
    }
}

/// Checks `source` out into `dest` (which must not exist). Returns the commit checked out.
/// Blocking: run it on a blocking thread.
pub fn checkout(config: &AgentConfig, source: &Source, dest: &Path) -> Result<String> {
    // Agents sharing a cache take turns on a mirror.
    let path = mirror_path(config, source.url);
    std::fs::create_dir_all(config.git_dir())?;
    let lock = std::fs::File::create(path.with_extension("lock"))?;
    lock.lock()?;
    let mirror = mirror(&path, config, source.url)?;
    let repo = RepoBuilder::new()
        .clone(mirror.path().to_str().context("the cache path is not UTF-8")?, dest)
        .with_context(|| format!("could not make a working copy of {}", redact(source.url)))?;
    let commit = resolve(&mirror, source)?;
    let object = repo.find_object(commit, None).with_context(|| format!("commit {commit} is not in the clone"))?;
    repo.checkout_tree(&object, Some(git2::build::CheckoutBuilder::new().force()))?;
    repo.set_head_detached(commit)?;
    // Submodules point at their own remotes; keep the task's remote as origin.
    repo.remote_set_url("origin", source.url)?;
    for mut sub in repo.submodules()? {
        let mut opts = git2::SubmoduleUpdateOptions::new();
        opts.fetch(fetch_options(config));
        sub.update(true, Some(&mut opts))
            .with_context(|| format!("could not update submodule {}", sub.path().display()))?;
    }
    if let Some(diff) = source.diff {
        let diff =
            git2::Diff::from_buffer(diff.as_bytes()).context("the task's uncommitted diff is not a valid diff")?;
        repo.apply(&diff, git2::ApplyLocation::WorkDir, None)
            .context("the task's uncommitted diff does not apply to the checked-out commit")?;
    }
    Ok(commit.to_string())
}

/// The commit named by the task: commit, else tag, else branch, else the default branch.
fn resolve(repo: &Repository, source: &Source) -> Result<git2::Oid> {
    let spec = if let Some(c) = source.commit {
        c.to_string()
    } else if let Some(t) = source.tag {
        format!("refs/tags/{t}")
    } else if let Some(b) = source.branch {
        format!("refs/heads/{b}")
    } else {
        "HEAD".to_string()
    };
    let object = repo.revparse_single(&spec).map_err(|_| {
        let what = match (source.commit, source.tag, source.branch) {
            (Some(c), _, _) => format!("commit '{c}'"),
            (_, Some(t), _) => format!("tag '{t}'"),
            (_, _, Some(b)) => format!("branch '{b}'"),
            _ => "a default branch".to_string(),
        };
        anyhow!("{} has no {what}", redact(source.url))
    })?;
    Ok(object.peel_to_commit()?.id())
}

/// The cached bare mirror of `url`, fetched now.
fn mirror(path: &Path, config: &AgentConfig, url: &str) -> Result<Repository> {
    let repo = match Repository::open_bare(path) {
        Ok(repo) => repo,
        Err(_) => {
            let _ = std::fs::remove_dir_all(path);
            std::fs::create_dir_all(path)?;
            let repo = Repository::init_bare(path)?;
            repo.remote_with_fetch("origin", url, "+refs/*:refs/*")?;
            repo
        }
    };
    {
        let mut remote = repo.find_remote("origin")?;
        let refspecs: [&str; 0] = [];
        remote
            .fetch(&refspecs, Some(&mut fetch_options(config)), None)
            .map_err(|e| anyhow!("could not fetch {}: {}", redact(url), e.message()))?;
    }
    if repo.head().is_err() {
        // A new mirror: point HEAD at the remote's default branch, for tasks that name no ref.
        let mut remote = repo.find_remote("origin")?;
        let default = {
            let conn = remote.connect_auth(git2::Direction::Fetch, Some(callbacks(config)), None)?;
            conn.default_branch().ok().and_then(|b| b.as_str().map(str::to_string).ok())
        };
        if let Some(name) = default {
            let _ = repo.set_head(&name);
        }
    }
    Ok(repo)
}

fn mirror_path(config: &AgentConfig, url: &str) -> PathBuf {
    let key = hex::encode(&Sha256::digest(url.as_bytes())[..12]);
    config.git_dir().join(key)
}

fn fetch_options(config: &AgentConfig) -> FetchOptions<'static> {
    let mut opts = FetchOptions::new();
    opts.remote_callbacks(callbacks(config));
    opts
}

/// Credentials from the agent config: an HTTPS token, else an SSH key, else the ssh-agent.
fn callbacks(config: &AgentConfig) -> RemoteCallbacks<'static> {
    let user = config.git_user.clone();
    let token = config.git_token.clone();
    let key = config.git_ssh_key.clone();
    let mut callbacks = RemoteCallbacks::new();
    let mut tries = 0;
    callbacks.credentials(move |_url, username, allowed| {
        tries += 1;
        if tries > 3 {
            return Err(git2::Error::from_str("authentication failed (check the agent's git credentials)"));
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
            if let Some(token) = &token {
                return Cred::userpass_plaintext(user.as_deref().unwrap_or("git"), token);
            }
        }
        if allowed.contains(CredentialType::SSH_KEY) {
            let name = username.unwrap_or("git");
            return match &key {
                Some(path) => Cred::ssh_key(name, None, path, None),
                None => Cred::ssh_key_from_agent(name),
            };
        }
        Cred::default()
    });
    callbacks
}

/// A URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://***@{}", &url[..scheme], &url[at + 1..]),
        _ => url.to_string(),
    }
}

/// Refuses custom-code file names that would land outside the working directory.
pub fn inside(dir: &Path, name: &str) -> Result<PathBuf> {
    let rel = Path::new(name);
    if rel.is_absolute() || rel.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
        bail!("'{name}' is not a file name inside the working directory");
    }
    Ok(dir.join(rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("https://u:secret@host/r.git"), "https://***@host/r.git");
        assert_eq!(redact("https://host/r.git"), "https://host/r.git");
    }

    #[test]
    fn names_cannot_escape() {
        let d = Path::new("/w");
        assert!(inside(d, "a/b.py").is_ok());
        assert!(inside(d, "../x.py").is_err());
        assert!(inside(d, "/etc/x").is_err());
        assert!(inside(d, "a/../../x").is_err());
    }
}
