//! `runyard project|queue|user …`.

use crate::output;
use crate::Ctx;
use anyhow::Result;
use clap::Subcommand;
use runyard_api::{CreateProject, CreateQueue, CreateUser, Role};
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum ProjectCommand {
    /// List projects (subprojects are `parent/child` paths).
    List,
    /// Create a project and its missing parents.
    Create {
        name: String,
        #[arg(long, default_value = "")]
        description: String,
    },
}

#[derive(Subcommand)]
pub enum QueueCommand {
    List,
    Create { name: String },
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user and print their key pair (the secret is shown only once).
    Create {
        name: String,
        /// Make the user an admin.
        #[arg(long)]
        admin: bool,
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
                println!("{}  {}", p.id, p.name);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn queue(ctx: &Ctx, cmd: QueueCommand) -> Result<ExitCode> {
    let client = ctx.client()?;
    match cmd {
        QueueCommand::List => {
            let queues = client.list_queues().await?;
            if ctx.json {
                output::json(&queues);
            } else {
                let rows = queues.iter().map(|q| vec![q.id.clone(), q.name.clone(), q.length.to_string()]).collect();
                output::table(&["ID", "NAME", "LENGTH"], rows);
            }
        }
        QueueCommand::Create { name } => {
            let q = client.create_queue(&CreateQueue { name }).await?;
            if ctx.json {
                output::json(&q);
            } else {
                println!("{}  {}", q.id, q.name);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn user(ctx: &Ctx, cmd: UserCommand) -> Result<ExitCode> {
    let UserCommand::Create { name, admin } = cmd;
    let role = if admin { Role::Admin } else { Role::User };
    let c = ctx.client()?.create_user(&CreateUser { name, role }).await?;
    if ctx.json {
        output::json(&c);
    } else {
        output::fields(&[
            ("user", c.user.name.clone()),
            ("access_key", c.access_key.clone()),
            ("secret_key", c.secret_key.clone()),
        ]);
        eprintln!("The secret is shown only this once.");
    }
    Ok(ExitCode::SUCCESS)
}
