//! The `docker run` flags users put in a task's container arguments, parsed into the Engine
//! API's host config. Anything else is refused with an error that names the flag. What reaches
//! into the host — a host path mounted, a device, an added capability, the host's IPC namespace
//! or another container's — is refused unless the operator's [`ContainerPolicy`] allows it.

use anyhow::{bail, Context, Result};
use bollard::models::{DeviceMapping, DeviceRequest, HostConfig};

/// What the arguments set: the host config, extra environment and the user.
#[derive(Debug, Default, PartialEq)]
pub struct ContainerArgs {
    pub host: HostConfig,
    pub env: Vec<String>,
    pub user: Option<String>,
}

/// What the agent's operator lets a task's container reach on the host (agent.toml). Empty:
/// nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerPolicy {
    /// Host paths (and their subpaths) a task may mount with `-v`, and named volumes by name.
    pub mounts: Vec<String>,
    /// Host devices a task may map with `--device`.
    pub devices: Vec<String>,
    /// Capabilities a task may add with `--cap-add`.
    pub capabilities: Vec<String>,
}

impl ContainerPolicy {
    fn mount(&self, source: &str) -> Result<()> {
        let allowed = self.mounts.iter().any(|m| {
            let m = m.trim_end_matches('/');
            source == m || (m.starts_with('/') && source.starts_with(&format!("{m}/")))
        });
        if !allowed || source.split('/').any(|part| part == "..") {
            bail!(
                "container argument --volume: '{source}' is not a mount this agent allows \
                 (the agent's operator lists those in docker_allow_mounts)"
            );
        }
        Ok(())
    }

    fn device(&self, path: &str) -> Result<()> {
        if !self.devices.iter().any(|d| d == path) {
            bail!("container argument --device: '{path}' is not allowed here (docker_allow_devices)");
        }
        Ok(())
    }

    fn capability(&self, cap: &str) -> Result<()> {
        let bare = |c: &str| c.trim_start_matches("CAP_").to_ascii_uppercase();
        if !self.capabilities.iter().any(|c| bare(c) == bare(cap)) {
            bail!("container argument --cap-add: '{cap}' is not allowed here (docker_allow_capabilities)");
        }
        Ok(())
    }
}

/// Flags that take a value, in their long form; short forms map onto them.
const FLAGS: &[&str] = &[
    "--env",
    "--volume",
    "--shm-size",
    "--ipc",
    "--network",
    "--user",
    "--cpus",
    "--memory",
    "--gpus",
    "--device",
    "--cap-add",
];

fn long(flag: &str) -> Option<&'static str> {
    let name = match flag {
        "-e" => "--env",
        "-v" => "--volume",
        "-u" => "--user",
        "-m" => "--memory",
        "--net" => "--network",
        other => other,
    };
    FLAGS.iter().copied().find(|f| *f == name)
}

pub fn parse(arguments: &str, policy: &ContainerPolicy) -> Result<ContainerArgs> {
    let words = shell_words::split(arguments).context("the container arguments are not valid shell words")?;
    let mut out = ContainerArgs::default();
    let mut words = words.into_iter();
    while let Some(word) = words.next() {
        let (flag, inline) = match word.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (word.clone(), None),
        };
        let Some(name) = long(&flag) else {
            bail!("container argument '{flag}' is not supported (supported: -e, -v, -u, -m, {})", FLAGS.join(", "));
        };
        let value = match inline.or_else(|| words.next()) {
            Some(v) => v,
            None => bail!("container argument '{flag}' needs a value"),
        };
        let h = &mut out.host;
        match name {
            "--env" => out.env.push(value),
            "--volume" => {
                let bind = volume(&value)?;
                policy.mount(bind.split(':').next().unwrap_or_default())?;
                h.binds.get_or_insert_with(Vec::new).push(bind);
            }
            "--shm-size" => h.shm_size = Some(size(&value, name)?),
            "--memory" => h.memory = Some(size(&value, name)?),
            "--ipc" | "--network" if shares_outside(name, &value) => {
                bail!("container argument {name}: '{value}' would share a namespace outside the task's container")
            }
            "--ipc" => h.ipc_mode = Some(value),
            "--network" => h.network_mode = Some(value),
            "--user" => out.user = Some(value),
            "--cpus" => {
                let cpus: f64 = value
                    .parse()
                    .ok()
                    .filter(|c: &f64| *c > 0.0)
                    .with_context(|| format!("container argument --cpus: '{value}' is not a positive number"))?;
                h.nano_cpus = Some((cpus * 1e9) as i64);
            }
            "--gpus" => h.device_requests.get_or_insert_with(Vec::new).push(gpus(&value)?),
            "--device" => {
                let mapping = device(&value);
                policy.device(mapping.path_on_host.as_deref().unwrap_or_default())?;
                h.devices.get_or_insert_with(Vec::new).push(mapping);
            }
            "--cap-add" => {
                policy.capability(&value)?;
                h.cap_add.get_or_insert_with(Vec::new).push(value);
            }
            _ => unreachable!("every flag in FLAGS is handled"),
        }
    }
    Ok(out)
}

/// Whether a namespace setting would join one outside the task's container (another container's,
/// or the host's IPC). The host network is the agent's default and stays allowed.
fn shares_outside(flag: &str, value: &str) -> bool {
    value.starts_with("container:") || (flag == "--ipc" && value == "host")
}

fn volume(value: &str) -> Result<String> {
    let parts: Vec<&str> = value.split(':').collect();
    if parts.len() < 2 || parts.len() > 3 || !parts[1].starts_with('/') || parts[0].is_empty() {
        bail!("container argument --volume: '{value}' is not SOURCE:/PATH[:OPTIONS]");
    }
    Ok(value.to_string())
}

/// `512m`, `8g`, `1024`: bytes, with docker's binary suffixes.
fn size(value: &str, flag: &str) -> Result<i64> {
    let v = value.trim().to_ascii_lowercase();
    let (digits, unit) = match v.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => v.split_at(i),
        None => (v.as_str(), ""),
    };
    let n: i64 = digits.parse().with_context(|| format!("container argument {flag}: '{value}' is not a size"))?;
    let scale: i64 = match unit.trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => bail!("container argument {flag}: '{value}' is not a size (e.g. 512m, 8g)"),
    };
    Ok(n * scale)
}

/// `all`, a count, or `device=0,1`.
pub fn gpus(value: &str) -> Result<DeviceRequest> {
    let v = value.trim_matches('"');
    let mut request = DeviceRequest {
        driver: Some("nvidia".into()),
        capabilities: Some(vec![vec!["gpu".into()]]),
        ..Default::default()
    };
    if v == "all" {
        request.count = Some(-1);
    } else if let Some(ids) = v.strip_prefix("device=") {
        request.device_ids = Some(ids.split(',').map(str::to_string).collect());
    } else if let Ok(n) = v.parse::<i64>() {
        request.count = Some(n);
    } else {
        bail!("container argument --gpus: '{value}' is not all, a count, or device=0,1");
    }
    Ok(request)
}

fn device(value: &str) -> DeviceMapping {
    let mut parts = value.splitn(3, ':');
    let host = parts.next().unwrap_or("").to_string();
    let inside = parts.next().map(str::to_string).unwrap_or_else(|| host.clone());
    let perms = parts.next().unwrap_or("rwm").to_string();
    DeviceMapping { path_on_host: Some(host), path_in_container: Some(inside), cgroup_permissions: Some(perms) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowing() -> ContainerPolicy {
        ContainerPolicy {
            mounts: vec!["/data".into(), "models".into()],
            devices: vec!["/dev/fuse".into()],
            capabilities: vec!["SYS_ADMIN".into()],
        }
    }

    #[test]
    fn common_flags_map_onto_the_host_config() {
        let a = parse(
            "-e A=1 --env=B='two words' -v /data:/data:ro --shm-size 8g --ipc=shareable --network host \
                       --user 1000 --cpus 1.5 -m 512m --gpus device=0,1 --device /dev/fuse --cap-add SYS_ADMIN",
            &allowing(),
        )
        .unwrap();
        assert_eq!(a.env, ["A=1", "B=two words"]);
        assert_eq!(a.host.binds.as_deref(), Some(&["/data:/data:ro".to_string()][..]));
        assert_eq!(a.host.shm_size, Some(8 << 30));
        assert_eq!(a.host.memory, Some(512 << 20));
        assert_eq!(a.host.nano_cpus, Some(1_500_000_000));
        assert_eq!(a.host.ipc_mode.as_deref(), Some("shareable"));
        assert_eq!(a.user.as_deref(), Some("1000"));
        let gpu = &a.host.device_requests.as_ref().unwrap()[0];
        assert_eq!(gpu.device_ids.as_deref(), Some(&["0".to_string(), "1".to_string()][..]));
        assert_eq!(a.host.devices.as_ref().unwrap()[0].path_in_container.as_deref(), Some("/dev/fuse"));
        assert_eq!(a.host.cap_add.as_deref(), Some(&["SYS_ADMIN".to_string()][..]));
    }

    #[test]
    fn anything_else_is_refused_by_name() {
        let none = ContainerPolicy::default();
        let e = parse("--privileged", &none).unwrap_err().to_string();
        assert!(e.contains("'--privileged' is not supported"), "{e}");
        assert!(parse("--shm-size lots", &none).unwrap_err().to_string().contains("--shm-size"));
        assert!(parse("-e", &none).unwrap_err().to_string().contains("needs a value"));
        assert!(parse("-v nocolon", &none).unwrap_err().to_string().contains("--volume"));
        assert_eq!(parse("", &none).unwrap(), ContainerArgs::default());
    }

    #[test]
    fn what_reaches_the_host_needs_the_operator() {
        let none = ContainerPolicy::default();
        for refused in [
            "-v /:/host",
            "-v /var/run/docker.sock:/var/run/docker.sock",
            "--device /dev/sda",
            "--cap-add SYS_ADMIN",
            "--ipc host",
            "--network container:other",
            "--ipc=container:other",
        ] {
            assert!(parse(refused, &none).is_err(), "{refused}");
        }
        let some = allowing();
        assert!(
            parse("-v /data/set1:/in:ro -v models:/models --device /dev/fuse --cap-add CAP_SYS_ADMIN", &some).is_ok()
        );
        for refused in
            ["-v /database:/x", "-v /data/../etc:/x", "-v /etc:/x", "--device /dev/sda", "--cap-add NET_ADMIN"]
        {
            let e = parse(refused, &some).unwrap_err().to_string();
            assert!(e.contains("allow"), "{refused}: {e}");
        }
    }

    proptest::proptest! {
        /// Whatever a task's container arguments say, nothing of the host is reached without the
        /// operator's leave: no mounts, devices, capabilities or host namespaces, and no panic.
        #[test]
        fn nothing_reaches_the_host_without_leave(
            words in proptest::collection::vec(
                "-v|--volume|--mount|--device|--cap-add|--privileged|--pid|--ipc|--network|--userns|-e|\
                 host|container:x|/|/etc:/etc|SYS_ADMIN|/dev/sda|[a-z=:/.,-]{0,12}",
                0..8,
            )
        ) {
            let text = words.join(" ");
            if let Ok(args) = parse(&text, &ContainerPolicy::default()) {
                let host = args.host;
                proptest::prop_assert!(host.binds.unwrap_or_default().is_empty(), "{text}");
                proptest::prop_assert!(host.mounts.unwrap_or_default().is_empty(), "{text}");
                proptest::prop_assert!(host.devices.unwrap_or_default().is_empty(), "{text}");
                proptest::prop_assert!(host.cap_add.unwrap_or_default().is_empty(), "{text}");
                proptest::prop_assert!(host.privileged != Some(true), "{text}");
                proptest::prop_assert!(host.pid_mode.is_none(), "{text}");
                let ipc = host.ipc_mode.unwrap_or_default();
                proptest::prop_assert!(ipc != "host" && !ipc.starts_with("container:"), "{text}");
            }
        }
    }
}
