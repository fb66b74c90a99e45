//! `runyard task …`: create, list, show, and one subcommand per lifecycle action.

use crate::output;
use crate::Ctx;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use runyard_api::table::TableQuery;
use runyard_api::{Action, ActionRequest, ActionResponse, Change, Task, TaskStatus};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum TaskCommand {
    /// Create a task: a Draft, or Pending at once with --queue.
    Create(Box<super::task_create::CreateArgs>),
    /// List tasks, newest first.
    List(ListArgs),
    /// Show one task.
    Show {
        /// The task's id.
        id: String,
    },
    /// Print a task's console output.
    Log {
        /// The task's id.
        id: String,
        /// Keep printing new output until the task ends.
        #[arg(long, short)]
        follow: bool,
    },
    /// A task's reported metrics: last, min and max of each scalar series, and single values.
    Metrics {
        /// The task's id.
        id: String,
    },
    /// Put tasks in a queue (Draft or Aborted -> Pending).
    Enqueue {
        /// The tasks' ids.
        #[arg(required = true)]
        ids: Vec<String>,
        /// The queue, by name or id.
        #[arg(long)]
        queue: String,
        /// Higher goes first in the queue (default: the task's own).
        #[arg(long, allow_hyphen_values = true)]
        priority: Option<i64>,
    },
    /// Take tasks out of their queue (Pending -> Draft).
    Dequeue(Ids),
    /// Clear a previous run (Completed, Aborted or Failed -> Draft).
    Reset(Ids),
    /// Stop running tasks.
    Abort(Reasoned),
    /// Stop the running children of tasks.
    AbortChildren(Reasoned),
    /// Enqueue failed tasks again, in their last queue unless --queue is given.
    Retry {
        /// The tasks' ids.
        #[arg(required = true)]
        ids: Vec<String>,
        /// The queue, by name or id (default: each task's last queue).
        #[arg(long)]
        queue: Option<String>,
    },
    /// Make tasks read-only (Completed, Aborted or Failed -> Published).
    Publish(Ids),
    /// Move tasks to their project's archive.
    Archive(Ids),
    /// Bring tasks back from the archive.
    Restore(Ids),
    /// Delete archived tasks and everything they own.
    Delete(Ids),
    /// Make editable Draft copies of tasks.
    Clone {
        /// The tasks' ids.
        #[arg(required = true)]
        ids: Vec<String>,
        /// Name of the copy (default "Clone Of <name>").
        #[arg(long)]
        name: Option<String>,
        /// Project of the copy (default: the source's).
        #[arg(long)]
        project: Option<String>,
    },
    /// Move tasks to another project.
    Move {
        /// The tasks' ids.
        #[arg(required = true)]
        ids: Vec<String>,
        /// The project, by path (made when missing) or id.
        #[arg(long)]
        project: String,
    },
    /// Add or remove tags.
    Tag {
        /// The tasks' ids.
        #[arg(required = true)]
        ids: Vec<String>,
        /// A tag to add (repeatable).
        #[arg(long = "add", value_name = "TAG")]
        add: Vec<String>,
        /// A tag to remove (repeatable).
        #[arg(long = "remove", value_name = "TAG")]
        remove: Vec<String>,
    },
}

#[derive(Args)]
pub struct Ids {
    /// The tasks' ids.
    #[arg(required = true)]
    ids: Vec<String>,
}

#[derive(Args)]
pub struct Reasoned {
    /// The tasks' ids.
    #[arg(required = true)]
    ids: Vec<String>,
    /// Recorded as the status reason.
    #[arg(long)]
    reason: Option<String>,
}

/// `task list`: the task table's query model (the README documents its syntax).
#[derive(Args)]
pub struct ListArgs {
    /// A project path or id, with its subprojects.
    #[arg(long)]
    project: Option<String>,
    /// Only tasks in this status (repeatable; wire or UI names).
    #[arg(long = "status")]
    status: Vec<String>,
    /// List the archive instead of active tasks.
    #[arg(long)]
    archived: bool,
    /// Only tasks carrying this tag (repeatable: all must match).
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// A filter, e.g. 'metric:loss/val.last<0.3', 'param:Args/lr in 0.01,0.1', 'tags any a,!b'
    /// (repeatable: all must hold).
    #[arg(long = "filter", allow_hyphen_values = true)]
    filters: Vec<String>,
    /// Sort keys, comma-separated, '-' before a key for descending: '-metric:acc/val.max,name'.
    #[arg(long, allow_hyphen_values = true)]
    sort: Option<String>,
    /// The columns, comma-separated [default: id,name,status,project,type,tags,updated].
    #[arg(long)]
    columns: Option<String>,
    /// Only tasks whose name, description or id contains this text.
    #[arg(long)]
    search: Option<String>,
    /// At most this many tasks.
    #[arg(long, default_value_t = 100)]
    limit: u32,
    /// Write every matching task (the columns asked for) to this CSV file instead.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Keep the list on screen, updated as tasks change.
    #[arg(long)]
    watch: bool,
}

/// The CLI's columns when none are asked for.
const LIST_COLUMNS: &str = "id,name,status,project,type,tags,updated";

impl ListArgs {
    /// The flags as one table query; an error names the flag at fault.
    fn query(&self) -> Result<TableQuery> {
        let mut pairs: Vec<(&str, String)> = vec![("columns", self.columns.clone().unwrap_or(LIST_COLUMNS.into()))];
        if let Some(p) = &self.project {
            pairs.push(("project", p.clone()));
        }
        if self.archived {
            pairs.push(("archived", "true".into()));
        }
        if !self.status.is_empty() {
            pairs.push(("filter", format!("status in {}", self.status.join(","))));
        }
        if !self.tags.is_empty() {
            let tags: Vec<String> = self.tags.iter().map(|t| runyard_api::table::escape(t)).collect();
            pairs.push(("filter", format!("tags all {}", tags.join(","))));
        }
        pairs.extend(self.filters.iter().map(|f| ("filter", f.clone())));
        if let Some(s) = &self.sort {
            pairs.push(("sort", s.clone()));
        }
        if let Some(s) = &self.search {
            pairs.push(("search", s.clone()));
        }
        let mut q = TableQuery::from_pairs(pairs).map_err(|e| anyhow::anyhow!("--{}: {}", e.param, e.message))?;
        if self.limit == 0 {
            bail!("--limit must be at least 1");
        }
        q.limit = self.limit.min(runyard_api::table::MAX_PAGE);
        Ok(q)
    }
}

/// A table cell as text: times as "… ago", statuses by their UI names.
fn cell(column: &str, v: &serde_json::Value) -> String {
    use serde_json::Value;
    match (column, v) {
        (_, Value::Null) => String::new(),
        ("status", Value::String(s)) => {
            TaskStatus::parse(s).map(|st| st.display_name().to_string()).unwrap_or(s.clone())
        }
        ("started" | "updated" | "created" | "completed", Value::String(s)) => {
            chrono::DateTime::parse_from_rfc3339(s).map(|t| output::ago(t.into())).unwrap_or(s.clone())
        }
        (_, Value::String(s)) => s.clone(),
        (_, Value::Array(items)) => items.iter().map(|i| cell(column, i)).collect::<Vec<_>>().join(","),
        (_, other) => other.to_string(),
    }
}

async fn list(ctx: &Ctx, a: ListArgs) -> Result<ExitCode> {
    let q = a.query()?;
    let client = ctx.client()?;
    if let Some(path) = &a.csv {
        let mut file = std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("--csv: could not create {}", path.display()))?,
        );
        client.table_csv(&q, |chunk| std::io::Write::write_all(&mut file, chunk)).await?;
        std::io::Write::flush(&mut file)?;
        eprintln!("wrote {}", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let show = || async {
        let mut q = q.clone();
        let mut rows = Vec::new();
        let columns = loop {
            let page = client.table(&q).await?;
            rows.extend(page.rows);
            q.cursor = page.next;
            if q.cursor.is_none() || rows.len() >= a.limit as usize {
                break page.columns;
            }
        };
        let more = q.cursor.is_some();
        rows.truncate(a.limit as usize);
        if ctx.json {
            let total = if more { client.table_count(&q).await? } else { rows.len() as u64 };
            output::json(&serde_json::json!({ "columns": columns, "rows": rows, "total": total }));
            return Ok(());
        }
        let header: Vec<String> =
            columns.iter().map(|c| if c.contains(':') { c.clone() } else { c.to_uppercase() }).collect();
        let table = rows.iter().map(|r| columns.iter().zip(&r.values).map(|(c, v)| cell(c, v)).collect()).collect();
        output::table(&header.iter().map(String::as_str).collect::<Vec<_>>(), table);
        if more {
            let total = client.table_count(&q).await?;
            eprintln!("({} of {total} shown; use --limit)", rows.len());
        }
        Ok(())
    };
    crate::watch::show(&client, a.watch, |c| matches!(c, Change::Task { .. }), show).await?;
    Ok(ExitCode::SUCCESS)
}

fn print_task(ctx: &Ctx, t: &Task) {
    if ctx.json {
        return output::json(t);
    }
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let time = |v: Option<chrono::DateTime<chrono::Utc>>| v.map(|t| t.to_rfc3339()).unwrap_or_default();
    output::fields(&[
        ("id", t.id.clone()),
        ("name", t.name.clone()),
        ("project", t.project_name.clone()),
        ("type", t.kind.as_str().to_string()),
        ("status", format!("{} ({})", t.status.display_name(), t.status)),
        ("status reason", t.status_reason.clone()),
        ("status message", t.status_message.clone()),
        ("user", t.user.clone()),
        ("tags", t.tags.join(", ")),
        ("system tags", t.system_tags.join(", ")),
        ("parent", opt(&t.parent)),
        ("comment", t.comment.clone()),
        ("created", t.created.to_rfc3339()),
        ("started", time(t.started)),
        ("completed", time(t.completed)),
        ("last update", t.last_update.to_rfc3339()),
        ("worker", opt(&t.worker)),
        ("queue", opt(&t.execution.queue)),
        ("repository", opt(&t.script.repository)),
        ("entry point", opt(&t.script.entry_point)),
    ]);
}

/// Prints each task's outcome; exit 0 only if every task succeeded.
fn print_outcomes(ctx: &Ctx, r: &ActionResponse) -> ExitCode {
    if ctx.json {
        output::json(r);
    } else {
        let rows = r
            .results
            .iter()
            .map(|o| {
                let detail = match (&o.error, &o.new_id, o.affected) {
                    (Some(e), _, _) => e.clone(),
                    (_, Some(n), _) => format!("new task {n}"),
                    (_, _, Some(n)) => format!("{n} children aborted"),
                    _ => o.status.map(|s| s.display_name().to_string()).unwrap_or_else(|| "deleted".into()),
                };
                vec![o.id.clone(), if o.ok { "ok".into() } else { "skipped".into() }, detail]
            })
            .collect();
        output::table(&["ID", "OUTCOME", "DETAIL"], rows);
    }
    if r.skipped == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

async fn batch(ctx: &Ctx, action: Action, req: ActionRequest) -> Result<ExitCode> {
    let r = ctx.client()?.batch(action, &req).await?;
    Ok(print_outcomes(ctx, &r))
}

fn ids(ids: Vec<String>) -> ActionRequest {
    ActionRequest { ids, ..Default::default() }
}

pub async fn run(ctx: &Ctx, cmd: TaskCommand) -> Result<ExitCode> {
    match cmd {
        TaskCommand::Create(a) => {
            let task = ctx.client()?.create_task(&super::task_create::build(*a)?).await?;
            print_task(ctx, &task);
            Ok(ExitCode::SUCCESS)
        }
        TaskCommand::List(a) => list(ctx, a).await,
        TaskCommand::Show { id } => {
            print_task(ctx, &ctx.client()?.get_task(&id).await?);
            Ok(ExitCode::SUCCESS)
        }
        TaskCommand::Log { id, follow } => log(ctx, &id, follow).await,
        TaskCommand::Metrics { id } => {
            let m = ctx.client()?.task_metrics(&id).await?;
            if ctx.json {
                output::json(&m);
            } else {
                let value = |v: runyard_api::tracking::Float, i: i64| format!("{:.6} @{i}", v.0);
                let mut rows: Vec<Vec<String>> = m
                    .scalars
                    .iter()
                    .map(|s| {
                        vec![
                            s.metric.clone(),
                            s.variant.clone(),
                            value(s.last, s.last_iteration),
                            value(s.min, s.min_iteration),
                            value(s.max, s.max_iteration),
                            s.count.to_string(),
                        ]
                    })
                    .collect();
                rows.extend(m.single_values.iter().map(|v| {
                    vec![
                        "Summary".into(),
                        v.name.clone(),
                        format!("{:.6}", v.value.0),
                        "".into(),
                        "".into(),
                        "1".into(),
                    ]
                }));
                output::table(&["METRIC", "VARIANT", "LAST", "MIN", "MAX", "POINTS"], rows);
            }
            Ok(ExitCode::SUCCESS)
        }
        TaskCommand::Enqueue { ids, queue, priority } => {
            batch(ctx, Action::Enqueue, ActionRequest { ids, queue: Some(queue), priority, ..Default::default() }).await
        }
        TaskCommand::Dequeue(a) => batch(ctx, Action::Dequeue, ids(a.ids)).await,
        TaskCommand::Reset(a) => batch(ctx, Action::Reset, ids(a.ids)).await,
        TaskCommand::Abort(a) => {
            batch(ctx, Action::Abort, ActionRequest { ids: a.ids, reason: a.reason, ..Default::default() }).await
        }
        TaskCommand::AbortChildren(a) => {
            batch(ctx, Action::AbortChildren, ActionRequest { ids: a.ids, reason: a.reason, ..Default::default() })
                .await
        }
        TaskCommand::Retry { ids, queue } => {
            batch(ctx, Action::Retry, ActionRequest { ids, queue, ..Default::default() }).await
        }
        TaskCommand::Publish(a) => batch(ctx, Action::Publish, ids(a.ids)).await,
        TaskCommand::Archive(a) => batch(ctx, Action::Archive, ids(a.ids)).await,
        TaskCommand::Restore(a) => batch(ctx, Action::Restore, ids(a.ids)).await,
        TaskCommand::Delete(a) => batch(ctx, Action::Delete, ids(a.ids)).await,
        TaskCommand::Clone { ids, name, project } => {
            batch(ctx, Action::Clone, ActionRequest { ids, name, project, ..Default::default() }).await
        }
        TaskCommand::Move { ids, project } => {
            batch(ctx, Action::Move, ActionRequest { ids, project: Some(project), ..Default::default() }).await
        }
        TaskCommand::Tag { ids, add, remove } => {
            if add.is_empty() && remove.is_empty() {
                bail!("give --add TAG and/or --remove TAG");
            }
            let mut code = ExitCode::SUCCESS;
            for (action, tags) in [(Action::AddTag, add), (Action::RemoveTag, remove)] {
                if !tags.is_empty() {
                    let c = batch(ctx, action, ActionRequest { ids: ids.clone(), tags, ..Default::default() }).await?;
                    if c != ExitCode::SUCCESS {
                        code = c;
                    }
                }
            }
            Ok(code)
        }
    }
}

/// Prints a task's console; with `follow`, long-polls for more until the task has ended.
async fn log(ctx: &Ctx, id: &str, follow: bool) -> Result<ExitCode> {
    use std::io::Write;
    let client = ctx.client()?;
    let mut q = runyard_api::ConsoleQuery { limit: Some(10_000), ..Default::default() };
    loop {
        let page = client.console(id, &q).await?;
        let mut out = std::io::stdout().lock();
        for entry in &page.entries {
            out.write_all(entry.text.as_bytes())?;
        }
        out.flush()?;
        q.after = Some(page.last);
        let running = matches!(page.status, TaskStatus::Queued | TaskStatus::InProgress);
        if page.entries.is_empty() && (!follow || !running) {
            return Ok(ExitCode::SUCCESS);
        }
        q.wait_seconds = follow.then_some(30.0);
    }
}
