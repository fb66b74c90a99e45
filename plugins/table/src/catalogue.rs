//! What the column pickers and value-set filters offer: the metric/variant pairs and
//! hyperparameters present in a project (from `table_catalogue`, kept by triggers), and the
//! distinct values of a column with how many tasks have each.

use crate::query::column_expr;
use crate::scope::ProjectScope;
use crate::sql::{like_pattern, Sql};
use runyard_api::table::*;
use runyard_api::PROPERTIES_SECTION;
use runyard_daemon::error::{Error, Result};
use runyard_daemon::store::Store;
use sqlx::Row;

/// The metrics, hyperparameters and user properties of a project's tasks.
pub async fn catalogue(store: &Store, project: Option<&str>, subprojects: bool) -> Result<ColumnCatalogue> {
    let mut sql = Sql::new("SELECT DISTINCT kind, a, b FROM table_catalogue c");
    if let Some(scope) = ProjectScope::resolve(store, project, subprojects).await? {
        sql.push(" WHERE ").append(&scope.on("c.project_id"));
    }
    sql.push(" ORDER BY kind, a, b");
    let mut out = ColumnCatalogue::default();
    for r in sql.query().fetch_all(store.pool()).await? {
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
    let (expr, mut sql) = match (&column, column.kind()) {
        (Column::Builtin(Builtin::Tags), _) => (
            "m.tag".to_string(),
            Sql::new(
                " FROM task_tags m JOIN tasks t ON t.id = m.task_id JOIN projects p ON p.id = t.project_id WHERE ",
            ),
        ),
        (c, ColumnKind::Param) => {
            let (section, name) = c.param().expect("a parameter column");
            let mut sql = Sql::new(" FROM task_params m JOIN tasks t ON t.id = m.task_id JOIN projects p ON p.id = t.project_id WHERE m.section = ");
            sql.bind(section).push(" AND m.name = ").bind(name).push(" AND ");
            ("m.value".to_string(), sql)
        }
        (Column::Builtin(b), ColumnKind::Text) => {
            let (expr, _, _) = column_expr(*b, now);
            let sql = Sql::new(
                " FROM tasks t JOIN projects p ON p.id = t.project_id LEFT JOIN users u ON u.id = t.user_id \
                 LEFT JOIN queues q ON q.id = t.queue_id WHERE ",
            );
            (expr, sql)
        }
        (c, _) => {
            return Err(Error::invalid("column", format!("column '{c}' takes a range filter, not a value set")));
        }
    };
    sql.push("t.archived = ").bind(q.archived as i64).push(&format!(" AND {expr} IS NOT NULL"));
    if let Some(scope) = ProjectScope::resolve(store, q.project.as_deref(), q.subprojects.unwrap_or(true)).await? {
        sql.push(" AND ").append(&scope.on("t.project_id"));
    }
    if let Some(search) = q.search.as_deref().filter(|s| !s.is_empty()) {
        let pattern = like_pattern(search);
        sql.push(&format!(" AND LOWER({expr}) LIKE ")).bind(pattern).push(" ESCAPE '\\'");
    }
    if let Some(after) = &q.after {
        sql.push(&format!(" AND {expr} > ")).bind(after.as_str());
    }
    let mut full = Sql::new(&format!("SELECT {expr} AS v, COUNT(*) AS n"));
    full.append(&sql).push(&format!(" GROUP BY {expr} ORDER BY {expr} LIMIT {}", limit as i64 + 1));
    let rows = full.query().fetch_all(store.pool()).await?;
    let mut values = Vec::with_capacity(rows.len());
    for r in rows.iter().take(limit as usize) {
        values.push(ColumnValue { value: r.try_get("v")?, tasks: r.try_get::<i64, _>("n")? as u64 });
    }
    let next = (rows.len() > limit as usize).then(|| values.last().map(|v| v.value.clone())).flatten();
    Ok(ColumnValues { values, next })
}
