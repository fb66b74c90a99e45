//! What `projects.get_all_ex` adds on request: `include_stats` (each project's active tasks,
//! its subprojects' included: counts by status, total run time, tasks ended in the last day,
//! the latest start; and its subprojects), `check_own_contents` (the active tasks and models
//! right in it) and `include_dataset_stats` (a dataset's files and bytes).

use crate::envelope::{flag, ClearmlError};
use crate::Ctx;
use runyard_api::{Task, TaskQuery, TaskStatus};
use serde_json::{json, Value};

/// The active tasks of a project, with its subprojects' or without.
async fn active_tasks(ctx: &Ctx, project: &str, subprojects: bool) -> Result<Vec<Task>, ClearmlError> {
    let mut all = Vec::new();
    loop {
        let q = TaskQuery {
            project: Some(project.to_string()),
            include_subprojects: Some(subprojects),
            limit: Some(10_000),
            offset: Some(all.len() as u64),
            ..Default::default()
        };
        let (page, total) = ctx.tasks.list(q).await?;
        let done = page.is_empty() || all.len() + page.len() >= total as usize;
        all.extend(page);
        if done {
            return Ok(all);
        }
    }
}

fn stats(tasks: &[Task]) -> Value {
    let mut counts = serde_json::Map::new();
    for status in TaskStatus::ALL {
        counts.insert(status.as_str().into(), json!(tasks.iter().filter(|t| t.status == status).count()));
    }
    let runtime: i64 =
        tasks.iter().filter_map(|t| Some((t.completed? - t.started?).num_seconds())).filter(|s| *s > 0).sum();
    let day_ago = chrono::Utc::now() - chrono::Duration::hours(24);
    let ended = |t: &&Task| {
        t.completed.is_some_and(|c| c >= day_ago)
            && !matches!(t.status, TaskStatus::Queued | TaskStatus::InProgress | TaskStatus::Failed)
    };
    json!({"active": {
        "status_count": counts,
        "total_tasks": tasks.len(),
        "total_runtime": runtime,
        "completed_tasks_24h": tasks.iter().filter(ended).count(),
        "last_task_run": tasks.iter().filter_map(|t| t.started).max().map(crate::document::iso),
    }})
}

/// A dataset project's files and bytes, as its versions (tasks) record them in their runtime
/// (`ds_file_count`, `ds_total_size`); none when no version does.
fn dataset_stats(tasks: &[Task]) -> Value {
    let sum = |key: &str| -> Option<i64> {
        let values: Vec<i64> = tasks.iter().filter_map(|t| t.runtime.get(key).and_then(Value::as_i64)).collect();
        (!values.is_empty()).then(|| values.iter().sum())
    };
    match (sum("ds_file_count"), sum("ds_total_size")) {
        (None, None) => Value::Null,
        (files, bytes) => json!({"file_count": files.unwrap_or(0), "total_size": bytes.unwrap_or(0)}),
    }
}

/// Adds what the request asks for to each project document.
pub async fn add(
    ctx: &Ctx,
    body: &Value,
    docs: &mut [Value],
    all: &[runyard_api::Project],
) -> Result<(), ClearmlError> {
    let (with_stats, own) = (flag(body, "include_stats"), flag(body, "check_own_contents"));
    let datasets = flag(body, "include_dataset_stats");
    if !with_stats && !own && !datasets {
        return Ok(());
    }
    for doc in docs.iter_mut() {
        let (Some(id), Some(path)) = (doc["id"].as_str().map(str::to_string), doc["name"].as_str().map(str::to_string))
        else {
            continue;
        };
        if with_stats {
            doc["stats"] = stats(&active_tasks(ctx, &id, true).await?);
            let prefix = format!("{path}/");
            let mut subs: Vec<&runyard_api::Project> = all.iter().filter(|p| p.name.starts_with(&prefix)).collect();
            subs.sort_by(|a, b| a.name.cmp(&b.name));
            doc["sub_projects"] = subs.iter().map(|p| json!({"id": p.id, "name": p.name})).collect();
        }
        if datasets {
            doc["dataset_stats"] = dataset_stats(&active_tasks(ctx, &id, false).await?);
        }
        if own {
            doc["own_tasks"] = json!(active_tasks(ctx, &id, false).await?.len());
            let models = crate::models::in_projects(ctx, std::slice::from_ref(&id)).await?;
            doc["own_models"] = json!(models.iter().filter(|(_, archived)| !archived).count());
        }
    }
    Ok(())
}
