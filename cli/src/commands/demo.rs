//! `runyard demo`: a small sweep in a `demo` project, run for real by an agent, so a newcomer
//! has a table with metric columns, details and a comparison to look at within a minute.

use super::task_create::EXAMPLES;
use crate::Ctx;
use anyhow::{Context, Result};
use clap::Args;
use runyard_api::table::SaveView;
use runyard_api::{
    Action, ActionRequest, Client, CreateQueue, CreateTask, EntryKind, ErrorCode, Param, Script, Task, TaskStatus,
};
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct DemoArgs {
    /// The project to fill; its tasks go in its subprojects `sweep` and `baselines`.
    #[arg(long, default_value = "demo")]
    project: String,
    /// The queue an agent serves (`runyard up`'s local agent serves "default").
    #[arg(long, default_value = "default")]
    queue: String,
    /// Wait until every demo task that can run has ended (its results all in).
    #[arg(long)]
    wait: bool,
}

/// One demo task: its subproject, name, Args and queue priority.
struct Run {
    subproject: &'static str,
    name: String,
    args: Vec<(&'static str, String)>,
    priority: i64,
}

fn runs() -> Vec<Run> {
    let mut runs = vec![
        // Runs first, and is aborted once it reports.
        Run {
            subproject: "baselines",
            name: "long run (aborted)".into(),
            args: vec![("epochs", "3000".into()), ("epoch_seconds", "0.2".into())],
            priority: 10,
        },
        Run { subproject: "baselines", name: "baseline".into(), args: vec![], priority: 0 },
        Run {
            subproject: "baselines",
            name: "diverged (fails)".into(),
            args: vec![("lr", "0.9".into()), ("fail_at", "5".into())],
            priority: 0,
        },
    ];
    for lr in ["0.01", "0.03", "0.1", "0.3"] {
        for batch_size in ["8", "32"] {
            runs.push(Run {
                subproject: "sweep",
                name: format!("lr {lr} batch {batch_size}"),
                args: vec![("lr", lr.into()), ("batch_size", batch_size.into())],
                priority: 0,
            });
        }
    }
    runs
}

fn task(project: &str, run: &Run, queue: Option<&str>) -> CreateTask {
    let (_, file, code) = EXAMPLES[0];
    let args: BTreeMap<String, Param> =
        run.args.iter().map(|(k, v)| (k.to_string(), Param { value: v.clone(), ..Default::default() })).collect();
    CreateTask {
        name: run.name.clone(),
        project: Some(format!("{project}/{}", run.subproject)),
        comment: "Runyard's demo: a small training run that reports its loss, accuracy and a plot.".into(),
        tags: vec!["demo".into(), run.subproject.into()],
        script: Script {
            entry_kind: EntryKind::Code,
            entry_point: Some(file.into()),
            code: Some(code.into()),
            ..Default::default()
        },
        hyperparams: [("Args".to_string(), args)].into(),
        queue: queue.map(str::to_string),
        priority: run.priority,
        ..Default::default()
    }
}

/// The demo's leaderboard: the table with the runs' validation loss, accuracy and
/// hyperparameters as columns, best first. Saved as the project's view "leaderboard" (kept if
/// one exists) and returned as the web UI's address of that table.
async fn leaderboard(client: &Client, project: &str) -> Result<String> {
    let id = client
        .list_projects()
        .await?
        .into_iter()
        .find(|p| p.name == project)
        .map(|p| p.id)
        .with_context(|| format!("the project '{project}' the demo made is missing"))?;
    let state = "columns=name,status,project~140,metric:loss/validation.last~200,metric:loss/validation.min~200,\
                 param:Args/lr~110,param:Args/batch_size~150,iteration,updated&sort=metric:loss/validation.last";
    let view = SaveView { name: "leaderboard".into(), project: Some(id.clone()), state: state.into() };
    match client.save_view(&view).await {
        Err(e) if e.code() == Some(ErrorCode::Conflict) => {}
        saved => drop(saved.context("saving the demo's leaderboard")?),
    }
    Ok(format!("{}/projects/{id}/tasks?{state}", client.server()))
}

/// Polls a task until `done` holds, for at most `limit`.
async fn wait_for(client: &Client, id: &str, limit: Duration, done: impl Fn(&Task) -> bool) -> Result<Task> {
    let start = Instant::now();
    loop {
        let task = client.get_task(id).await?;
        if done(&task) || start.elapsed() > limit {
            return Ok(task);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

pub async fn demo(ctx: &Ctx, a: DemoArgs) -> Result<ExitCode> {
    let client = ctx.client()?;
    let served = client.list_workers().await?.iter().any(|w| w.queues.contains(&a.queue));
    let waiting = format!("{}-waiting", a.queue);
    if !client.list_queues().await?.iter().any(|q| q.name == waiting) {
        client.create_queue(&CreateQueue { name: waiting.clone() }).await?;
    }
    let mut ids = Vec::new();
    for run in runs() {
        let t = client.create_task(&task(&a.project, &run, Some(&a.queue))).await?;
        ids.push(t.id);
    }
    // One more waits in a queue no agent serves.
    let later =
        Run { subproject: "sweep", name: "lr 1.0 (queued)".into(), args: vec![("lr", "1.0".into())], priority: 0 };
    client.create_task(&task(&a.project, &later, Some(&waiting))).await?;
    println!("Created {} tasks in {}/sweep and {}/baselines.", ids.len() + 1, a.project, a.project);
    println!("Open the leaderboard: {}", leaderboard(&client, &a.project).await?);
    if !served {
        println!(
            "No agent serves the queue \"{}\": start one with `runyard agent --queue {}` (or use `runyard up`).",
            a.queue, a.queue
        );
        return Ok(ExitCode::SUCCESS);
    }
    let long = &ids[0];
    let started = wait_for(&client, long, Duration::from_secs(300), |t| {
        t.last_iteration >= 3 || !matches!(t.status, TaskStatus::Queued | TaskStatus::InProgress)
    })
    .await?;
    if started.status == TaskStatus::InProgress {
        let req = ActionRequest { reason: Some("aborted by the demo".into()), ..Default::default() };
        client.act(long, Action::Abort, &req).await.context("aborting the demo's long run")?;
    }
    println!("The local agent runs the rest, one after another; watch them in the web UI's task table.");
    if a.wait {
        for id in &ids {
            wait_for(&client, id, Duration::from_secs(600), |t| {
                !matches!(t.status, TaskStatus::Created | TaskStatus::Queued | TaskStatus::InProgress)
            })
            .await?;
        }
        println!("All demo runs have ended.");
    }
    Ok(ExitCode::SUCCESS)
}
