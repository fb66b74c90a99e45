//! Docker mode: each task runs in a container of its own through the Docker Engine API
//! (bollard). The code is checked out on the host and mounted at the same path; a Python task's
//! venv is built once per image and requirements in a container of its own (the only one that
//! may write it and the pip cache) and mounted read-only into the task's, so a second run of
//! the same requirements installs nothing and no task changes another's environment. The
//! container uses the host network (the daemon is reachable at the same URL), carries labels
//! naming its task and worker, and is removed afterwards; leftovers of a crash are removed when
//! the agent starts.

use crate::console::Console;
use crate::docker_args::ContainerArgs;
use crate::process::Ended;
use anyhow::{anyhow, bail, Context, Result};
use bollard::container::LogOutput;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, ListContainersOptions, LogsOptions, RemoveContainerOptions,
    StopContainerOptions,
};
use bollard::Docker;
use futures::StreamExt;
use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

pub const TASK_LABEL: &str = "runyard.task";
pub const WORKER_LABEL: &str = "runyard.worker";

/// The Engine connection and the agent's default image.
#[derive(Debug)]
pub struct DockerMode {
    docker: Docker,
    /// Used when a task names no image (or may not: `forbid_task_image`).
    pub image: String,
    pub forbid_task_image: bool,
    worker: String,
}

/// One container run.
pub struct Container {
    pub task: String,
    pub image: String,
    pub script: String,
    pub env: Vec<String>,
    pub working_dir: String,
    pub binds: Vec<String>,
    pub args: ContainerArgs,
    /// The agent's GPUs (`--gpus`), as a device request.
    pub gpus: Option<String>,
    pub heartbeat: Heartbeat,
}

/// The agent's sign of life to a container: a file on the host, mounted read-only, that the
/// agent touches every second while the container runs. A watcher in the container kills
/// everything in it once the file is older than `limit` (the agent died), so no container
/// outlives its agent by more than the worker timeout.
pub struct Heartbeat {
    pub file: std::path::PathBuf,
    pub limit: Duration,
}

/// Where the heartbeat file appears in a container.
const HEARTBEAT_IN_CONTAINER: &str = "/run/runyard-agent-alive";

impl Heartbeat {
    /// The watcher, a line of `sh` started before the task's own script. It acts only on a
    /// reading it could make: an image without `stat` or `date` is never killed by it.
    fn watcher(&self) -> String {
        format!(
            "( while sleep 1; do t=$(stat -c %Y {f} 2>/dev/null) || continue; n=$(date +%s) || continue; \
             if [ $((n - t)) -gt {limit} ]; then kill -KILL -1; fi; done ) >/dev/null 2>&1 &\n",
            f = HEARTBEAT_IN_CONTAINER,
            limit = self.limit.as_secs()
        )
    }

    /// Touches the file every second until dropped.
    fn beat(&self) -> Result<tokio::task::JoinHandle<()>> {
        if let Some(dir) = self.file.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))?;
        }
        let file = std::fs::File::create(&self.file)
            .with_context(|| format!("could not create the heartbeat file {}", self.file.display()))?;
        Ok(tokio::spawn(async move {
            loop {
                let _ = file.set_modified(std::time::SystemTime::now());
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }))
    }
}

impl DockerMode {
    /// Connects to the local Engine (DOCKER_HOST or the default socket).
    pub async fn connect(image: String, forbid_task_image: bool, worker: String) -> Result<DockerMode> {
        let docker = Docker::connect_with_local_defaults().context("could not connect to the Docker Engine")?;
        docker.ping().await.context("the Docker Engine does not answer (is dockerd running?)")?;
        Ok(DockerMode { docker, image, forbid_task_image, worker })
    }

    /// The image a task runs in.
    pub fn image_for(&self, task_image: Option<&str>) -> String {
        match task_image.map(str::trim).filter(|i| !i.is_empty()) {
            Some(image) if !self.forbid_task_image => image.to_string(),
            _ => self.image.clone(),
        }
    }

    /// Removes containers this worker left behind (a crash). Returns how many.
    pub async fn remove_leftovers(&self) -> Result<usize> {
        let filters = HashMap::from([("label".to_string(), vec![format!("{WORKER_LABEL}={}", self.worker)])]);
        let options = ListContainersOptions { all: true, filters: Some(filters), ..Default::default() };
        let found = self.docker.list_containers(Some(options)).await?;
        for c in &found {
            if let Some(id) = &c.id {
                self.remove(id).await;
            }
        }
        Ok(found.len())
    }

    /// The image id of an image, pulling it first when missing (progress in the console).
    pub async fn ensure_image(&self, image: &str, console: &Console) -> Result<String> {
        if let Ok(found) = self.docker.inspect_image(image).await {
            return Ok(found.id.unwrap_or_else(|| image.to_string()));
        }
        console.step(format!("pulling image {image}"));
        let options = CreateImageOptions { from_image: Some(image.to_string()), ..Default::default() };
        let mut pull = self.docker.create_image(Some(options), None, None);
        let mut last = String::new();
        while let Some(event) = pull.next().await {
            let event = event.map_err(|e| anyhow!("could not pull image {image}: {e}"))?;
            if let Some(status) = event.status {
                // One line per distinct status, not one per progress tick.
                if status != last && event.progress_detail.is_none() {
                    console.note(&status);
                    last = status;
                }
            }
        }
        let found =
            self.docker.inspect_image(image).await.with_context(|| format!("image {image} is still missing"))?;
        Ok(found.id.unwrap_or_else(|| image.to_string()))
    }

    /// Runs the container to its end; `stop` stops it (SIGTERM, `grace`, SIGKILL). The
    /// container is removed afterwards, whatever happened.
    pub async fn run(
        &self,
        c: Container,
        console: &Console,
        stop: &CancellationToken,
        grace: Duration,
    ) -> Result<Ended> {
        let name = format!("runyard-{}", c.task);
        self.remove(&name).await;
        // An init process as PID 1 passes signals on, so SIGTERM reaches the task at once.
        // No process in the container gains privileges (setuid binaries, file capabilities).
        let mut host = HostConfig {
            network_mode: Some("host".into()),
            init: Some(true),
            security_opt: Some(vec!["no-new-privileges".into()]),
            ..c.args.host
        };
        host.binds.get_or_insert_with(Vec::new).extend(c.binds);
        let beat = c.heartbeat.beat()?;
        host.binds
            .get_or_insert_with(Vec::new)
            .push(format!("{}:{HEARTBEAT_IN_CONTAINER}:ro", c.heartbeat.file.display()));
        let script = format!("{}{}", c.heartbeat.watcher(), c.script);
        if let Some(gpus) = &c.gpus {
            host.device_requests
                .get_or_insert_with(Vec::new)
                .push(crate::docker_args::gpus(&format!("device={gpus}"))?);
        }
        let mut env = c.env;
        env.extend(c.args.env);
        let labels =
            HashMap::from([(TASK_LABEL.to_string(), c.task.clone()), (WORKER_LABEL.to_string(), self.worker.clone())]);
        let body = ContainerCreateBody {
            image: Some(c.image.clone()),
            cmd: Some(vec!["sh".into(), "-c".into(), script]),
            env: Some(env),
            working_dir: Some(c.working_dir),
            user: c.args.user,
            // One terminal: stdout and stderr arrive merged, in order.
            tty: Some(true),
            labels: Some(labels),
            host_config: Some(host),
            ..Default::default()
        };
        let options = CreateContainerOptions { name: Some(name.clone()), ..Default::default() };
        let created = self.docker.create_container(Some(options), body).await;
        let result = match created {
            Ok(_) => self.follow(&name, console, stop, grace).await,
            Err(e) => Err(anyhow!("could not create the container: {e}")),
        };
        beat.abort();
        let _ = std::fs::remove_file(&c.heartbeat.file);
        self.remove(&name).await;
        result
    }

    async fn follow(&self, name: &str, console: &Console, stop: &CancellationToken, grace: Duration) -> Result<Ended> {
        self.docker.start_container(name, None).await.map_err(|e| anyhow!("could not start the container: {e}"))?;
        let logs = {
            let options = LogsOptions { follow: true, stdout: true, stderr: true, ..Default::default() };
            let mut stream = self.docker.logs(name, Some(options));
            let console = console.clone();
            tokio::spawn(async move {
                while let Some(Ok(chunk)) = stream.next().await {
                    let bytes = match chunk {
                        LogOutput::StdOut { message }
                        | LogOutput::StdErr { message }
                        | LogOutput::Console { message } => message,
                        LogOutput::StdIn { .. } => continue,
                    };
                    console.write(String::from_utf8_lossy(&bytes).into_owned());
                }
            })
        };
        let ended = tokio::select! {
            code = self.exit_code(name) => Ended::Exited(std::process::ExitStatus::from_raw((code? as i32 & 0xff) << 8)),
            _ = stop.cancelled() => {
                let asked = Instant::now();
                let t = grace.as_secs().min(i32::MAX as u64) as i32;
                let _ = self.docker.stop_container(name, Some(StopContainerOptions { t: Some(t), ..Default::default() })).await;
                let _ = self.exit_code(name).await;
                Ended::Stopped { killed: asked.elapsed() >= grace }
            }
        };
        // The log stream ends with the container; don't wait long for a straggler.
        let _ = tokio::time::timeout(Duration::from_secs(2), logs).await;
        Ok(ended)
    }

    /// Waits for the container to exit and returns its exit code.
    async fn exit_code(&self, name: &str) -> Result<i64> {
        let mut wait = self.docker.wait_container(name, None);
        match wait.next().await {
            Some(Ok(r)) => Ok(r.status_code),
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(e)) => bail!("lost the container: {e}"),
            None => bail!("lost the container"),
        }
    }

    async fn remove(&self, name: &str) {
        let options = RemoveContainerOptions { force: true, v: true, ..Default::default() };
        let _ = self.docker.remove_container(name, Some(options)).await;
    }
}
