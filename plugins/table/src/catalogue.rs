//! What the column pickers and value-set filters offer: the metric/variant pairs and
//! hyperparameters present in a project (from `table_catalogue`, kept by triggers), and the
//! distinct values of a column with how many tasks have each.

use crate::query::column_expr;
use crate::scope::ProjectScope;
use crate::sql::{c, col, contains, count_all, fetch_all};
use runyard_api::table::*;
use runyard_api::PROPERTIES_SECTION;
use runyard_daemon::error::{Error, Result};
use runyard_daemon::store::Store;
use sea_query::{ExprTrait, JoinType, Order, Query, SelectStatement};
use sqlx::Row;

/// The metrics, hyperparameters and user properties of a project's tasks.
pub async fn catalogue(store: &Store, project: Option<&str>, subprojects: bool) -> Result<ColumnCatalogue> {
    let mut statement = Query::select();
    statement.distinct().columns([col("kind"), col("a"), col("b")]).from_as(col("table_catalogue"), col("c"));
    if let Some(scope) = ProjectScope::resolve(store, project, subprojects).await? {
        statement.and_where(scope.on(c("c.project_id")));
    }
    statement.order_by(col("kind"), Order::Asc).order_by(col("a"), Order::Asc).order_by(col("b"), Order::Asc);
    let mut out = ColumnCatalogue::default();
    for r in fetch_all(store, &statement).await? {
        let (kind, a, b): (String, String, String) = (r.try_get("kind")?, r.try_get("a")?, r.try_get("b")?);
        match kind.as_str() {
            "metric" => out.metrics.entry(a).or_default().push(b),
            _ if a == PROPERTIES_SECTION => out.properties.push(b),
            _ => out.hyperparams.entry(a).or_default().push(b),
        }
    }
    Ok(out)
}

/// Removes catalogue entries that no task of their project has any more (after deletes,
/// resets and moves). Returns how many went.
pub async fn sweep(store: &Store) -> Result<u64> {
    let sql = "DELETE FROM table_catalogue WHERE \
        (kind = 'metric' AND NOT EXISTS (SELECT 1 FROM scalar_summaries s JOIN tasks t ON t.id = s.task_id \
            WHERE s.metric = table_catalogue.a AND s.variant = table_catalogue.b AND t.project_id = table_catalogue.project_id)) \
        OR (kind = 'param' AND NOT EXISTS (SELECT 1 FROM task_params s JOIN tasks t ON t.id = s.task_id \
            WHERE s.section = table_catalogue.a AND s.name = table_catalogue.b AND t.project_id = table_catalogue.project_id))";
    let mut tx = store.write().await?;
    let done = sqlx::query(sql).execute(&mut **tx).await?.rows_affected();
    tx.commit().await?;
    Ok(done)
}

/// The distinct values of a value-set column, with their task counts, in order.
pub async fn values(store: &Store, q: &ValuesQuery) -> Result<ColumnValues> {
    let column: Column = q.column.parse().map_err(|e: String| Error::invalid("column", e))?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Error::invalid("limit", format!("a page holds 1 to {MAX_PAGE} values")));
    }
    let now = chrono::Utc::now().timestamp_millis();
    let mut statement = Query::select();
    let tasks_of = |statement: &mut SelectStatement, table: &str| {
        statement
            .from_as(col(table), col("m"))
            .join_as(JoinType::Join, col("tasks"), col("t"), c("t.id").eq(c("m.task_id")))
            .join_as(JoinType::Join, col("projects"), col("p"), c("p.id").eq(c("t.project_id")));
    };
    let expr = match (&column, column.kind()) {
        (Column::Builtin(Builtin::Tags), _) => {
            tasks_of(&mut statement, "task_tags");
            c("m.tag")
        }
        (column, ColumnKind::Param) => {
            let (section, param) = column.param().expect("a parameter column");
            tasks_of(&mut statement, "task_params");
            statement.and_where(c("m.section").eq(section)).and_where(c("m.name").eq(param));
            c("m.value")
        }
        (Column::Builtin(b), ColumnKind::Text) => {
            statement
                .from_as(col("tasks"), col("t"))
                .join_as(JoinType::Join, col("projects"), col("p"), c("p.id").eq(c("t.project_id")))
                .join_as(JoinType::LeftJoin, col("users"), col("u"), c("u.id").eq(c("t.user_id")))
                .join_as(JoinType::LeftJoin, col("queues"), col("q"), c("q.id").eq(c("t.queue_id")));
            column_expr(*b, now).0
        }
        (column, _) => {
            return Err(Error::invalid("column", format!("column '{column}' takes a range filter, not a value set")));
        }
    };
    statement.and_where(c("t.archived").eq(q.archived as i64)).and_where(expr.clone().is_not_null());
    if let Some(scope) = ProjectScope::resolve(store, q.project.as_deref(), q.subprojects.unwrap_or(true)).await? {
        statement.and_where(scope.on(c("t.project_id")));
    }
    if let Some(search) = q.search.as_deref().filter(|s| !s.is_empty()) {
        statement.and_where(contains(expr.clone(), search));
    }
    if let Some(after) = &q.after {
        statement.and_where(expr.clone().gt(after.as_str()));
    }
    statement
        .expr_as(expr.clone(), col("v"))
        .expr_as(count_all(), col("n"))
        .add_group_by([expr.clone()])
        .order_by_expr(expr, Order::Asc)
        .limit(limit as u64 + 1);
    let rows = fetch_all(store, &statement).await?;
    let mut values = Vec::with_capacity(rows.len());
    for r in rows.iter().take(limit as usize) {
        values.push(ColumnValue { value: r.try_get("v")?, tasks: r.try_get::<i64, _>("n")? as u64 });
    }
    let next = (rows.len() > limit as usize).then(|| values.last().map(|v| v.value.clone())).flatten();
    Ok(ColumnValues { values, next })
}
