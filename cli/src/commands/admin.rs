//! `runyard project|queue|user …`.

use crate::output;
use crate::Ctx;
use anyhow::Result;
use clap::Subcommand;
use runyard_api::{Change, CreateProject, CreateQueue, CreateUser, MoveEntry, Queue, QueueDetail, Role, Worker};
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum ProjectCommand {
    /// List projects (subprojects are `parent/child` paths).
    List,
    /// Create a project and its missing parents.
    Create {
        /// The project's path, e.g. `team/vision`.
        name: String,
        /// What the project is for.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Delete a project and its subprojects. One holding active tasks needs --delete-contents
    /// (its tasks are deleted too) or --force (they move to the parent project); archived
    /// tasks move out unless deleted with it.
    Delete {
        /// The project, by path or id.
        project: String,
        /// Delete its active tasks with it.
        #[arg(long)]
        delete_contents: bool,
        /// Move its active tasks to the parent project.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
pub enum QueueCommand {
    /// Queues with their length, listening workers and oldest entry.
    List {
        /// Keep the list on screen, updated as queues change.
        #[arg(long)]
        watch: bool,
    },
    /// Create a queue.
    Create {
        /// The queue's name.
        name: String,
    },
    /// A queue's entries in dispatch order.
    Show {
        /// The queue, by name or id.
        queue: String,
        /// Keep the queue on screen, updated as it changes.
        #[arg(long)]
        watch: bool,
    },
    /// Rename a queue.
    Rename {
        /// The queue, by name or id.
        queue: String,
        /// Its new name.
        name: String,
    },
    /// Delete a queue; one holding tasks needs --force (its tasks go back to Draft).
    Delete {
        /// The queue, by name or id.
        queue: String,
        /// Delete it even when it holds tasks.
        #[arg(long)]
        force: bool,
    },
    /// Move a waiting task: --to top|bottom|N, --before TASK or --after TASK.
    Move {
        /// The queue, by name or id.
        queue: String,
        /// The waiting task's id.
        task: String,
        /// Where to: the top, the bottom or position N (0 is the top).
        #[arg(long, value_name = "top|bottom|N", required_unless_present_any = ["before", "after"])]
        to: Option<String>,
        /// Just before this waiting task.
        #[arg(long, conflicts_with_all = ["to", "after"])]
        before: Option<String>,
        /// Just after this waiting task.
        #[arg(long, conflicts_with = "to")]
        after: Option<String>,
    },
    /// Take a task out of the queue (back to Draft).
    Remove {
        /// The queue, by name or id.
        queue: String,
        /// The waiting task's id.
        task: String,
    },
}

#[derive(Subcommand)]
pub enum WorkerCommand {
    /// Workers with their queues, task and last report.
    List {
        /// Keep the list on screen, updated as workers report.
        #[arg(long)]
        watch: bool,
    },
    /// One worker: its queues, task, capabilities and resource use.
    Show {
        /// The worker's id.
        id: String,
    },
    /// Finish the current task, then pull nothing more.
    Drain {
        /// The worker's id.
        id: String,
    },
    /// Pull tasks again after a drain.
    Undrain {
        /// The worker's id.
        id: String,
    },
}

/// A role, as the command line names it.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum RoleArg {
    Admin,
    User,
    Agent,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Admin => Role::Admin,
            RoleArg::User => Role::User,
            RoleArg::Agent => Role::Agent,
        }
    }
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user and print their key pair (the secret is shown only once).
    Create {
        /// The user's name.
        name: String,
        /// What the key pair may do: `user` creates tasks and changes its own; `admin` everything;
        /// `agent` only registers workers, pops their queues and reports on their tasks (give
        /// each worker machine one).
        #[arg(long, value_enum, default_value_t = RoleArg::User)]
        role: RoleArg,
        /// The same as `--role admin`.
        #[arg(long, conflicts_with = "role")]
        admin: bool,
    },
    /// List users (admins).
    List,
    /// Remove a user: every key pair and token stops working at once; the name stays on
    /// their tasks.
    Remove {
        /// The user's name or id.
        user: String,
    },
    /// Make another key pair for a user (yourself, or anyone as an admin).
    CreateKey {
        /// The user's name or id.
        user: String,
    },
    /// Revoke one of a user's key pairs.
    RevokeKey {
        /// The user's name or id.
        user: String,
        /// The key pair's access key.
        access_key: String,
    },
    /// Revoke every token a user holds (their sessions and their tasks' tokens).
    RevokeTokens {
        /// The user's name or id.
        user: String,
    },
}

pub async fn project(ctx: &Ctx, cmd: ProjectCommand) -> Result<ExitCode> {
    let client = ctx.client()?;
    match cmd {
        ProjectCommand::List => {
            let projects = client.list_projects().await?;
            if ctx.json {
                output::json(&projects);
            } else {
                let rows = projects
                    .iter()
                    .map(|p| vec![p.id.clone(), p.name.clone(), p.task_count.to_string(), p.description.clone()])
                    .collect();
                output::table(&["ID", "NAME", "TASKS", "DESCRIPTION"], rows);
            }
        }
        ProjectCommand::Create { name, description } => {
            let p = client.create_project(&CreateProject { name, description }).await?;
            if ctx.json {
                output::json(&p);
            } else {
                crate::output::line(format_args!("{}  {}", p.id, p.name));
            }
        }
        ProjectCommand::Delete { project, delete_contents, force } => {
            let done = client.delete_project(&project, &runyard_api::DeleteProject { delete_contents, force }).await?;
            if ctx.json {
                output::json(&done);
            } else {
                let moved = done.moved_to.as_deref().map(|to| format!(", {} moved to {to}", done.moved_tasks));
                crate::output::line(format_args!(
                    "deleted {} projects and {} tasks{}",
                    done.deleted_projects,
                    done.deleted_tasks,
                    moved.unwrap_or_default()
                ));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_queues(ctx: &Ctx, queues: &[Queue]) {
    if ctx.json {
        return output::json(&queues);
    }
    let rows = queues
        .iter()
        .map(|q| {
            vec![
                q.id.clone(),
                q.name.clone(),
                q.length.to_string(),
                q.workers.join(","),
                q.oldest_entry.map(output::ago).unwrap_or_default(),
            ]
        })
        .collect();
    output::table(&["ID", "NAME", "LENGTH", "WORKERS", "OLDEST"], rows);
}

fn print_detail(ctx: &Ctx, d: &QueueDetail) {
    if ctx.json {
        return output::json(d);
    }
    let rows = d
        .entries
        .iter()
        .enumerate()
        .map(|(i, e)| vec![i.to_string(), e.task.clone(), e.name.clone(), e.priority.to_string(), output::ago(e.added)])
        .collect();
    crate::output::line(format_args!(
        "queue {} ({} waiting; workers: {})",
        d.queue.name,
        d.queue.length,
        d.queue.workers.join(", ")
    ));
    output::table(&["#", "TASK", "NAME", "PRIORITY", "ENQUEUED"], rows);
}

pub async fn queue(ctx: &Ctx, cmd: QueueCommand) -> Result<ExitCode> {
    let client = ctx.client()?;
    match cmd {
        QueueCommand::List { watch } => {
            let show = || async {
                print_queues(ctx, &client.list_queues().await?);
                anyhow::Ok(())
            };
            crate::watch::show(&client, watch, |c| matches!(c, Change::Queue { .. } | Change::Worker { .. }), show)
                .await?;
        }
        QueueCommand::Create { name } => print_queues(ctx, &[client.create_queue(&CreateQueue { name }).await?]),
        QueueCommand::Show { queue, watch } => {
            let show = || async {
                print_detail(ctx, &client.queue(&queue).await?);
                anyhow::Ok(())
            };
            crate::watch::show(&client, watch, |c| matches!(c, Change::Queue { .. }), show).await?;
        }
        QueueCommand::Rename { queue, name } => print_queues(ctx, &[client.rename_queue(&queue, &name).await?]),
        QueueCommand::Delete { queue, force } => {
            let r = client.delete_queue(&queue, force).await?;
            if ctx.json {
                output::json(&r);
            } else {
                crate::output::line(format_args!("deleted {queue}; back to Draft: {}", r["returned_to_draft"]));
            }
        }
        QueueCommand::Move { queue, task, to, before, after } => {
            let mut target = MoveEntry { before, after, ..Default::default() };
            match to.as_deref() {
                Some(t @ ("top" | "bottom")) => target.to = Some(t.to_string()),
                Some(n) => {
                    target.position =
                        Some(n.parse().map_err(|_| anyhow::anyhow!("--to takes top, bottom or a position number"))?)
                }
                None => {}
            }
            print_detail(ctx, &client.move_entry(&queue, &task, &target).await?);
        }
        QueueCommand::Remove { queue, task } => {
            let o = client.remove_entry(&queue, &task).await?;
            if ctx.json {
                output::json(&o);
            } else {
                crate::output::line(format_args!("{} removed from {queue} (now Draft)", o.id));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_workers(ctx: &Ctx, workers: &[Worker]) {
    if ctx.json {
        return output::json(&workers);
    }
    let rows = workers
        .iter()
        .map(|w| {
            let r = &w.last_report;
            vec![
                w.id.clone(),
                w.queues.join(","),
                w.task.clone().unwrap_or_default(),
                format!("{:.0}%", r.cpu_percent),
                format!("{:.1}/{:.1} GiB", gib(r.memory_used_bytes), gib(r.memory_total_bytes)),
                w.capabilities.gpus.len().to_string(),
                if w.drained { "drained".into() } else { "active".into() },
                output::ago(w.last_seen),
            ]
        })
        .collect();
    output::table(&["ID", "QUEUES", "TASK", "CPU", "MEMORY", "GPUS", "STATE", "SEEN"], rows);
}

fn gib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
}

pub async fn worker(ctx: &Ctx, cmd: WorkerCommand) -> Result<ExitCode> {
    let client = ctx.client()?;
    let workers = match cmd {
        WorkerCommand::List { watch } => {
            let show = || async {
                print_workers(ctx, &client.list_workers().await?);
                anyhow::Ok(())
            };
            crate::watch::show(&client, watch, |c| matches!(c, Change::Worker { .. }), show).await?;
            return Ok(ExitCode::SUCCESS);
        }
        WorkerCommand::Show { id } => vec![client.worker(&id).await?],
        WorkerCommand::Drain { id } => vec![client.drain_worker(&id, true).await?],
        WorkerCommand::Undrain { id } => vec![client.drain_worker(&id, false).await?],
    };
    print_workers(ctx, &workers);
    Ok(ExitCode::SUCCESS)
}

pub async fn user(ctx: &Ctx, cmd: UserCommand) -> Result<ExitCode> {
    let client = ctx.client()?;
    let credentials = match cmd {
        UserCommand::Create { name, role, admin } => {
            let role = if admin { Role::Admin } else { role.into() };
            client.create_user(&CreateUser { name, role }).await?
        }
        UserCommand::CreateKey { user } => client.create_key(&user).await?,
        UserCommand::List => {
            let users = client.list_users().await?;
            if ctx.json {
                output::json(&users);
            } else {
                let rows = users
                    .iter()
                    .map(|u| {
                        let state = if u.disabled { "removed" } else { "active" };
                        vec![u.id.clone(), u.name.clone(), format!("{:?}", u.role).to_lowercase(), state.to_string()]
                    })
                    .collect();
                output::table(&["ID", "NAME", "ROLE", "STATE"], rows);
            }
            return Ok(ExitCode::SUCCESS);
        }
        UserCommand::Remove { user } => {
            client.remove_user(&user).await?;
            eprintln!("Removed {user}: their key pairs and tokens no longer work.");
            return Ok(ExitCode::SUCCESS);
        }
        UserCommand::RevokeKey { user, access_key } => {
            client.delete_key(&user, &access_key).await?;
            eprintln!("Revoked key pair {access_key} of {user}.");
            return Ok(ExitCode::SUCCESS);
        }
        UserCommand::RevokeTokens { user } => {
            client.revoke_tokens(&user).await?;
            eprintln!("Revoked every token of {user}; their key pairs still work.");
            return Ok(ExitCode::SUCCESS);
        }
    };
    if ctx.json {
        output::json(&credentials);
    } else {
        output::fields(&[
            ("user", credentials.user.name.clone()),
            ("access_key", credentials.access_key.clone()),
            ("secret_key", credentials.secret_key.clone()),
        ]);
        eprintln!("The secret is shown only this once.");
    }
    Ok(ExitCode::SUCCESS)
}
