//! Batch actions on a selection given as a query ("all tasks in the project", "all that match
//! the filters", or the `ids` ticked on screen), and the dry run that counts, per action, the
//! tasks of a selection it applies to.

use crate::query;
use crate::sql::{c, col, count_all, fetch_all};
use runyard_api::table::{table_actions, SelectionSummary, TableQuery};
use runyard_api::{transition, Action, ActionRequest, ActionResponse, TaskState, TaskStatus};
use runyard_daemon::error::{Error, Result};
use runyard_daemon::services::tasks::{TaskService, MAX_BATCH};
use runyard_daemon::store::{strings, Principal, Store};
use sea_query::Expr;
use sqlx::Row;

/// How many tasks of the selection each action applies to.
pub async fn summary(store: &Store, q: &TableQuery) -> Result<SelectionSummary> {
    let plan = query::plan(store, q, chrono::Utc::now().timestamp_millis()).await?;
    let has_worker = || Expr::cust("CASE WHEN t.worker IS NULL THEN 0 ELSE 1 END");
    let has_queue = || Expr::cust("CASE WHEN t.queue_id IS NULL THEN 0 ELSE 1 END");
    let mut statement = plan.selection();
    statement
        .expr_as(c("t.status"), col("status"))
        .expr_as(c("t.archived"), col("archived"))
        .expr_as(has_worker(), col("has_worker"))
        .expr_as(has_queue(), col("has_queue"))
        .expr_as(count_all(), col("n"))
        .add_group_by([c("t.status"), c("t.archived"), has_worker(), has_queue()]);
    let mut out = SelectionSummary::default();
    for action in table_actions() {
        out.actions.insert(action.as_str().to_string(), 0);
    }
    for r in fetch_all(store, &statement).await? {
        let status: String = r.try_get("status")?;
        let n = r.try_get::<i64, _>("n")? as u64;
        let state = TaskState {
            status: TaskStatus::parse(&status)
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("bad status {status}")))?,
            archived: r.try_get::<i64, _>("archived")? != 0,
            has_worker: r.try_get::<i64, _>("has_worker")? != 0,
            edits_definition: false,
        };
        out.total += n;
        for action in table_actions() {
            if transition(action, state).is_ok() {
                *out.actions.get_mut(action.as_str()).expect("every action listed") += n;
            }
        }
        if transition(Action::Retry, state).is_ok() && r.try_get::<i64, _>("has_queue")? == 0 {
            out.retry_without_queue += n;
        }
    }
    Ok(out)
}

/// Applies `action` to every task the query selects; each task's outcome is reported (tasks
/// the action is not valid for are skipped with the reason).
pub async fn apply(
    store: &Store,
    tasks: &TaskService,
    who: &Principal,
    action: Action,
    q: &TableQuery,
    mut req: ActionRequest,
) -> Result<ActionResponse> {
    if !table_actions().any(|a| a == action) {
        return Err(Error::invalid("action", format!("'{action}' is not an action on a selection")));
    }
    if !req.ids.is_empty() {
        return Err(Error::invalid("ids", "the selection is the query: give its ids as the query's `ids` parameter"));
    }
    let plan = query::plan(store, q, chrono::Utc::now().timestamp_millis()).await?;
    let mut statement = plan.selection();
    statement.expr_as(c("t.id"), col("id")).limit(MAX_BATCH as u64 + 1);
    let ids = strings(&fetch_all(store, &statement).await?, "id")?;
    if ids.is_empty() {
        return Ok(ActionResponse { action, succeeded: 0, skipped: 0, results: Vec::new() });
    }
    if ids.len() > MAX_BATCH {
        return Err(Error::invalid("filter", format!("the selection holds more than {MAX_BATCH} tasks: narrow it")));
    }
    req.ids = ids;
    tasks.act(who, action, req).await
}
