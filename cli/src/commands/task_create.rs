//! `runyard task create`: a task from flags (what to run, from where, in what environment and
//! container), or from an example the binary carries.

use anyhow::{bail, Context, Result};
use clap::Args;
use runyard_api::{Container, CreateTask, EntryKind, Environment, Execution, Param, Script, TaskType};
use std::path::{Path, PathBuf};

/// The examples the binary carries: name, file name, code.
pub const EXAMPLES: [(&str, &str, &str); 1] = [("train", "train.py", include_str!("../../assets/train.py"))];

#[derive(Args)]
pub struct CreateArgs {
    /// The project, by path (`team/vision`, made when missing) or id.
    #[arg(long, help_heading = "Task")]
    project: String,
    /// The task's name.
    #[arg(long, help_heading = "Task")]
    name: String,
    /// training, testing, inference, data_processing, application, monitor, controller, optimizer, service, qc, custom
    #[arg(long = "type", default_value = "training", help_heading = "Task")]
    kind: String,
    /// A description of the task.
    #[arg(long, help_heading = "Task")]
    comment: Option<String>,
    /// A label on the task, shown in the table and filtered on (repeatable; not a git tag).
    #[arg(long = "tag", value_name = "LABEL", help_heading = "Task")]
    tags: Vec<String>,
    /// Git repository URL to check the code out from.
    #[arg(long, help_heading = "Git source")]
    repo: Option<String>,
    /// The git branch to check out (its newest commit when the task runs).
    #[arg(long, conflicts_with_all = ["tag_ref", "commit"], help_heading = "Git source")]
    branch: Option<String>,
    /// The git tag to check out.
    #[arg(
        long = "git-tag",
        id = "tag_ref",
        value_name = "TAG",
        conflicts_with = "commit",
        help_heading = "Git source"
    )]
    git_tag: Option<String>,
    /// The git commit to check out.
    #[arg(long, help_heading = "Git source")]
    commit: Option<String>,
    /// A script to run (path inside the repository or working dir).
    #[arg(long, conflicts_with_all = ["module", "code_file", "example"], help_heading = "What to run")]
    script: Option<String>,
    /// A Python module to run with `python -m`.
    #[arg(long, conflicts_with_all = ["code_file", "example"], help_heading = "What to run")]
    module: Option<String>,
    /// A local file whose content becomes the task's custom code.
    #[arg(long, conflicts_with = "example", help_heading = "What to run")]
    code_file: Option<PathBuf>,
    /// An example the binary carries as the task's custom code: `train` (a small training run
    /// that reports its loss, accuracy and a plot; needs nothing installed).
    #[arg(long, value_parser = EXAMPLES.map(|(name, _, _)| name), help_heading = "What to run")]
    example: Option<String>,
    /// The interpreter (default python3).
    #[arg(long, help_heading = "What to run")]
    binary: Option<String>,
    /// The directory to run in, relative to the repository root.
    #[arg(long, help_heading = "What to run")]
    workdir: Option<String>,
    /// A hyperparameter of the Args section, passed to the script as --KEY VALUE.
    #[arg(long = "arg", value_name = "KEY=VALUE", help_heading = "What to run")]
    args: Vec<String>,
    /// An environment variable for the task.
    #[arg(long = "env", value_name = "KEY=VALUE", help_heading = "Environment")]
    env: Vec<String>,
    /// A requirements.txt to record with the task.
    #[arg(long, conflicts_with = "packages", help_heading = "Environment")]
    requirements: Option<PathBuf>,
    /// Packages to install, space separated.
    #[arg(long, help_heading = "Environment")]
    packages: Option<String>,
    /// Run in this Docker image (on an agent in Docker mode).
    #[arg(long, help_heading = "Container")]
    docker_image: Option<String>,
    /// Extra `docker run` arguments for the task's container.
    #[arg(long, allow_hyphen_values = true, help_heading = "Container")]
    docker_args: Option<String>,
    /// A bash script run in the container before the environment is set up.
    #[arg(long, help_heading = "Container")]
    startup_script: Option<PathBuf>,
    /// Where the task's files (artifacts, models) go: the daemon's file store by default, or an
    /// allowed `s3://bucket/prefix`.
    #[arg(long, help_heading = "Environment")]
    output_uri: Option<String>,
    /// Enqueue at once instead of saving a Draft.
    #[arg(long, help_heading = "Queue")]
    queue: Option<String>,
    /// Higher goes first in its queue; ties keep queue order.
    #[arg(long, default_value_t = 0, allow_hyphen_values = true, help_heading = "Queue")]
    priority: i64,
}

fn key_value(s: &str, flag: &str) -> Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => bail!("{flag} takes KEY=VALUE, got '{s}'"),
    }
}

fn read(path: &Path, flag: &str) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("{flag}: could not read {}", path.display()))
}

/// The task the flags describe.
pub fn build(a: CreateArgs) -> Result<CreateTask> {
    let kind = TaskType::parse(&a.kind).with_context(|| {
        let all: Vec<_> = TaskType::ALL.iter().map(|t| t.as_str()).collect();
        format!("--type must be one of {}", all.join(", "))
    })?;
    let mut script = Script {
        repository: a.repo,
        branch: a.branch,
        tag: a.git_tag,
        commit: a.commit,
        binary: a.binary,
        working_dir: a.workdir,
        ..Default::default()
    };
    if let Some(s) = a.script {
        script.entry_point = Some(s);
    } else if let Some(m) = a.module {
        script.entry_kind = EntryKind::Module;
        script.entry_point = Some(m);
    } else if let Some(f) = a.code_file {
        script.entry_kind = EntryKind::Code;
        script.code = Some(read(&f, "--code-file")?);
        script.entry_point = f.file_name().map(|n| n.to_string_lossy().into_owned());
    } else if let Some(name) = a.example {
        let (_, file, code) =
            EXAMPLES.into_iter().find(|(n, _, _)| *n == name).context("--example: no such example")?;
        script.entry_kind = EntryKind::Code;
        script.code = Some(code.to_string());
        script.entry_point = Some(file.to_string());
    }
    if let Some(r) = a.requirements {
        script.requirements = Some(read(&r, "--requirements")?);
    }
    let mut task = CreateTask {
        name: a.name,
        project: Some(a.project),
        kind,
        comment: a.comment.unwrap_or_default(),
        tags: a.tags,
        script,
        environment: Environment { packages: a.packages, ..Default::default() },
        container: Container {
            image: a.docker_image,
            arguments: a.docker_args,
            setup_script: a.startup_script.map(|p| read(&p, "--startup-script")).transpose()?,
        },
        execution: Execution { output_uri: a.output_uri, queue: None },
        queue: a.queue,
        priority: a.priority,
        ..Default::default()
    };
    for kv in a.args {
        let (k, v) = key_value(&kv, "--arg")?;
        task.hyperparams.entry("Args".into()).or_default().insert(k, Param { value: v, ..Default::default() });
    }
    for kv in a.env {
        let (k, v) = key_value(&kv, "--env")?;
        task.environment.variables.insert(k, v);
    }
    Ok(task)
}
