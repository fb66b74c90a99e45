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
    check_remote(config, source.url)?;
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
        // Relative URLs live beside the task's own remote; others are checked like it.
        if let Some(url) = sub.url().ok().flatten().filter(|u| !u.starts_with("./") && !u.starts_with("../")) {
            check_remote(config, url).with_context(|| format!("submodule {}", sub.path().display()))?;
        }
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
        // A link the diff makes must stay inside the working copy.
        for delta in diff.deltas().filter(|d| d.new_file().mode() == git2::FileMode::Link) {
            if let Some(path) = delta.new_file().path() {
                link_stays_inside(dest, &dest.join(path))?;
            }
        }
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

/// Where a repository URL points: another machine (with its scheme and host) or this one.
#[derive(Debug, PartialEq)]
enum Remote {
    Network { scheme: String, host: String },
    Local,
}

fn remote_of(url: &str) -> Remote {
    if let Some((scheme, rest)) = url.split_once("://") {
        let scheme = scheme.to_ascii_lowercase();
        if scheme == "file" {
            return Remote::Local;
        }
        let authority = rest.split('/').next().unwrap_or_default();
        let host = authority.rsplit('@').next().unwrap_or_default();
        let host = host.rsplit_once(':').map_or(host, |(h, _)| h).trim_matches(['[', ']']);
        return Remote::Network { scheme, host: host.to_ascii_lowercase() };
    }
    // scp-like `[user@]host:path`, where a colon comes before any slash.
    match (url.find(':'), url.find('/')) {
        (Some(colon), slash) if slash.is_none_or(|s| colon < s) && colon > 0 => {
            let host = url[..colon].rsplit('@').next().unwrap_or_default();
            Remote::Network { scheme: "ssh".into(), host: host.to_ascii_lowercase() }
        }
        _ => Remote::Local,
    }
}

/// Refuses a repository on this machine unless the operator allows them (`git_allow_local`).
fn check_remote(config: &AgentConfig, url: &str) -> Result<()> {
    if remote_of(url) == Remote::Local && !config.git_allow_local {
        bail!(
            "'{}' is a repository on the agent's machine; this agent checks out only remote ones \
             (its operator may set git_allow_local)",
            redact(url)
        );
    }
    Ok(())
}

/// Whether the agent's credentials may go to `url`: a host its operator lists in `git_hosts`,
/// and for a token, over HTTPS only.
fn credentials_go_to(hosts: &[String], url: &str, token: bool) -> bool {
    match remote_of(url) {
        Remote::Network { scheme, host } => {
            hosts.iter().any(|h| h.eq_ignore_ascii_case(&host)) && (!token || scheme == "https")
        }
        Remote::Local => false,
    }
}

/// Refuses a link under `dir` that points outside it.
fn link_stays_inside(dir: &Path, link: &Path) -> Result<()> {
    let target = std::fs::read_link(link).with_context(|| format!("could not read the link {}", link.display()))?;
    let mut resolved = link.parent().unwrap_or(dir).to_path_buf();
    for part in target.components() {
        match part {
            std::path::Component::Normal(p) => resolved.push(p),
            std::path::Component::ParentDir => {
                resolved.pop();
            }
            std::path::Component::CurDir => {}
            _ => bail!("the diff makes a link {} to an absolute path", link.display()),
        }
    }
    if !resolved.starts_with(dir) {
        bail!("the diff makes a link {} that points outside the working copy", link.display());
    }
    Ok(())
}

/// Credentials from the agent config: an HTTPS token, else an SSH key, else the ssh-agent; to
/// the hosts of `git_hosts` only.
fn callbacks(config: &AgentConfig) -> RemoteCallbacks<'static> {
    let user = config.git_user.clone();
    let token = config.git_token.clone();
    let key = config.git_ssh_key.clone();
    let hosts = config.git_hosts.clone();
    let mut callbacks = RemoteCallbacks::new();
    let mut tries = 0;
    callbacks.credentials(move |url, username, allowed| {
        tries += 1;
        if tries > 3 {
            return Err(git2::Error::from_str("authentication failed (check the agent's git credentials)"));
        }
        if !credentials_go_to(&hosts, url, false) {
            return Err(git2::Error::from_str(&format!(
                "{} asks for credentials; this agent sends its git credentials only to the hosts in git_hosts",
                redact(url)
            )));
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) && credentials_go_to(&hosts, url, true) {
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

/// Fails unless `path` — as far as it exists — resolves inside `dir`: no link leads out.
pub fn resolves_inside(dir: &Path, path: &Path) -> Result<()> {
    let root = dir.canonicalize().with_context(|| format!("{} is missing", dir.display()))?;
    let mut existing = path;
    while existing.symlink_metadata().is_err() {
        existing = existing.parent().unwrap_or(dir);
    }
    let real = existing.canonicalize().ok().filter(|r| r.starts_with(&root));
    if real.is_none() {
        bail!("'{}' leads outside the working directory (through a link)", path.display());
    }
    Ok(())
}

/// Writes `content` to `file` (a path under `dir`), never through a link: its folder must
/// resolve inside `dir`, and a link in the file's place is refused (`O_NOFOLLOW`).
pub fn write_inside(dir: &Path, file: &Path, content: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let folder = file.parent().unwrap_or(dir);
    resolves_inside(dir, folder)?;
    std::fs::create_dir_all(folder)?;
    resolves_inside(dir, folder)?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(file)
        .with_context(|| format!("could not write {} (a link is never written through)", file.display()))?;
    f.write_all(content)?;
    Ok(())
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
    fn remotes_and_where_credentials_go() {
        let hosts = vec!["github.com".to_string()];
        assert!(credentials_go_to(&hosts, "https://github.com/a/b.git", true));
        assert!(credentials_go_to(&hosts, "https://user@GitHub.com:443/a/b.git", true));
        assert!(!credentials_go_to(&hosts, "http://github.com/a/b.git", true), "no token in clear");
        assert!(credentials_go_to(&hosts, "git@github.com:a/b.git", false));
        assert!(credentials_go_to(&hosts, "ssh://git@github.com/a/b.git", false));
        assert!(!credentials_go_to(&hosts, "https://evil.example/a/b.git", true));
        assert!(!credentials_go_to(&hosts, "https://github.com.evil.example/a.git", true));
        for local in ["/srv/repo", "file:///srv/repo", "repo", "./repo", "C/repo"] {
            assert_eq!(remote_of(local), Remote::Local, "{local}");
        }
        let config = AgentConfig::default();
        assert!(check_remote(&config, "/home/agent/.ssh").is_err());
        assert!(check_remote(&config, "https://github.com/a/b.git").is_ok());
    }

    #[test]
    fn writes_never_go_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::os::unix::fs::symlink(outside.path(), d.join("out")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("f.py"), d.join("f.py")).unwrap();
        assert!(write_inside(d, &d.join("out/x.py"), b"x").is_err());
        assert!(write_inside(d, &d.join("f.py"), b"x").is_err());
        assert!(!outside.path().join("x.py").exists() && !outside.path().join("f.py").exists());
        write_inside(d, &d.join("a/b/ok.py"), b"ok").unwrap();
        assert_eq!(std::fs::read(d.join("a/b/ok.py")).unwrap(), b"ok");
        assert!(resolves_inside(d, &d.join("out")).is_err());
        assert!(resolves_inside(d, &d.join("a/new/deeper")).is_ok());
    }

    #[test]
    fn links_must_stay_inside() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("sub")).unwrap();
        std::os::unix::fs::symlink("../a.txt", d.join("sub/ok")).unwrap();
        std::os::unix::fs::symlink("../../etc/passwd", d.join("sub/out")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", d.join("abs")).unwrap();
        assert!(link_stays_inside(d, &d.join("sub/ok")).is_ok());
        assert!(link_stays_inside(d, &d.join("sub/out")).is_err());
        assert!(link_stays_inside(d, &d.join("abs")).is_err());
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
