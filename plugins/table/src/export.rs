//! CSV export: the rows a query selects (or the given `ids`), with exactly its visible
//! columns in their order, RFC 4180 quoting, numbers at full precision. One statement reads
//! every row in the table's order, each shown value a column of it, and streams: rows are
//! encoded as they arrive and handed to the response a chunk at a time.

use crate::query::{self, agg_column, column_expr, AtomType};
use crate::sql::{c, col, scalar};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use runyard_api::table::{Builtin, Column, TableQuery};
use runyard_daemon::error::Result;
use runyard_daemon::store::{Backend, Store};
use sea_query::{Expr, ExprTrait, Query, SimpleExpr};
use sqlx::any::AnyRow;
use sqlx::Row;
use std::sync::Arc;

/// Rows encoded per chunk of the response.
const CHUNK_ROWS: usize = 2000;

/// How a column's value is read back and written.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Int,
    Time,
    Real,
    /// A metric aggregate: the value, and a flag telling NaN (a summary without a value)
    /// from a task without the series.
    Metric,
}

/// The SQL of a column's value in the export statement (a metric takes two: the value, and
/// whether the summary lacks one).
fn expr(column: &Column, backend: Backend, now: i64) -> (Vec<SimpleExpr>, Kind) {
    let of_task = |table: &str, what: SimpleExpr| {
        Query::select().expr(what).from(col(table)).and_where(c("task_id").eq(c("t.id"))).to_owned()
    };
    let named = |table: &str, id: &str| {
        scalar(Query::select().column(col("name")).from(col(table)).and_where(c("id").eq(c(id))).to_owned())
    };
    match column {
        Column::Builtin(Builtin::Tags) => {
            let tags = match backend {
                Backend::Sqlite => {
                    "(SELECT group_concat(tag, ', ') FROM (SELECT tag FROM task_tags WHERE task_id = t.id ORDER BY tag))"
                }
                Backend::Postgres => "(SELECT string_agg(tag, ', ' ORDER BY tag) FROM task_tags WHERE task_id = t.id)",
            };
            (vec![Expr::cust(tags)], Kind::Text)
        }
        Column::Builtin(Builtin::User) => (vec![named("users", "t.user_id")], Kind::Text),
        Column::Builtin(Builtin::Queue) => (vec![named("queues", "t.queue_id")], Kind::Text),
        Column::Builtin(b) => {
            let (e, ty, _) = column_expr(*b, now);
            let kind = match (b, ty) {
                (Builtin::Started | Builtin::Updated | Builtin::Created | Builtin::Completed, _) => Kind::Time,
                (_, AtomType::Int) => Kind::Int,
                (_, AtomType::Real) => Kind::Real,
                (_, AtomType::Text) => Kind::Text,
            };
            (vec![e], kind)
        }
        Column::Metric { metric, variant, agg } => {
            let value = c(agg_column(*agg));
            let lacks = Expr::case(value.clone().is_null(), 1).finally(0).into();
            let exprs = [value, lacks]
                .map(|what| {
                    let mut summary = of_task("scalar_summaries", what);
                    summary.and_where(c("metric").eq(metric.as_str())).and_where(c("variant").eq(variant.as_str()));
                    scalar(summary)
                })
                .to_vec();
            (exprs, Kind::Metric)
        }
        column => {
            let (section, param) = column.param().expect("the other columns");
            let mut value = of_task("task_params", c("value"));
            value.and_where(c("section").eq(section)).and_where(c("name").eq(param));
            (vec![scalar(value)], Kind::Text)
        }
    }
}

/// A row's cells as CSV text: numbers in their shortest exact form, times as RFC 3339,
/// NaN as `NaN`, missing values empty.
fn cells(row: &AnyRow, kinds: &[Kind]) -> Result<Vec<String>> {
    let mut out = Vec::with_capacity(kinds.len());
    let mut i = 0;
    for kind in kinds {
        out.push(match kind {
            Kind::Text => row.try_get::<Option<String>, _>(i)?.unwrap_or_default(),
            Kind::Int => row.try_get::<Option<i64>, _>(i)?.map(|v| v.to_string()).unwrap_or_default(),
            Kind::Time => row
                .try_get::<Option<i64>, _>(i)?
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                .unwrap_or_default(),
            Kind::Real => row.try_get::<Option<f64>, _>(i)?.map(|v| v.to_string()).unwrap_or_default(),
            Kind::Metric => {
                i += 1;
                match (row.try_get::<Option<f64>, _>(i - 1)?, row.try_get::<Option<i64>, _>(i)?) {
                    (Some(v), _) if v.is_nan() => "NaN".into(),
                    (Some(v), _) if v.is_infinite() => (if v > 0.0 { "Infinity" } else { "-Infinity" }).into(),
                    (Some(v), _) => v.to_string(),
                    (None, Some(1)) => "NaN".into(),
                    (None, _) => String::new(),
                }
            }
        });
        i += 1;
    }
    Ok(out)
}

/// The query's CSV. The statement is planned first, so a bad query is refused before
/// anything is sent; a failure part-way ends the body early (a truncated transfer, never a
/// complete-looking file).
pub async fn csv(store: Arc<Store>, q: &TableQuery) -> Result<impl Stream<Item = std::io::Result<Bytes>>> {
    let now = chrono::Utc::now().timestamp_millis();
    let plan = query::plan(&store, q, now).await?;
    let columns: Vec<&Column> = q.visible_columns().collect();
    let mut statement = plan.selection();
    let mut kinds = Vec::with_capacity(columns.len());
    for column in &columns {
        let (exprs, kind) = expr(column, store.backend(), now);
        statement.exprs(exprs);
        kinds.push(kind);
    }
    if columns.is_empty() {
        statement.expr(c("t.id"));
    }
    plan.order(&mut statement);
    let (sql, values) = store.render(&statement);
    let header: Vec<String> = columns.iter().map(|c| c.to_string()).collect();

    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    tokio::spawn(async move {
        let failed = async {
            let fresh = || csv::Writer::from_writer(Vec::with_capacity(CHUNK_ROWS * 128));
            let mut w = fresh();
            w.write_record(&header)?;
            let mut rows = sqlx::query_with(&sql, values).fetch(store.pool());
            let mut n = 0;
            while let Some(row) = rows.next().await {
                w.write_record(cells(&row?, &kinds)?)?;
                n += 1;
                if n % CHUNK_ROWS == 0 {
                    let chunk = std::mem::replace(&mut w, fresh()).into_inner().map_err(|e| e.into_error())?;
                    if tx.send(Ok(Bytes::from(chunk))).await.is_err() {
                        return Ok(()); // The client went away.
                    }
                }
            }
            let _ = tx.send(Ok(Bytes::from(w.into_inner().map_err(|e| e.into_error())?))).await;
            anyhow::Ok(())
        }
        .await;
        if let Err(e) = failed {
            tracing::error!(error = %e, "CSV export failed part-way");
            let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
        }
    });
    Ok(futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }))
}

/// The name a CSV download gets: the project's path (`-` for `/`; "tasks" for all projects),
/// the number of tasks when the query names them (`ids`: the rows on screen), and the date.
pub async fn file_name(store: &Store, q: &TableQuery) -> Result<String> {
    let project = match &q.project {
        Some(p) => store.resolve_project(p).await?.1,
        None => "tasks".to_string(),
    };
    let mut name: String =
        project.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '-' }).collect();
    if !q.ids.is_empty() {
        name.push_str(&format!("-{}-tasks", q.ids.len()));
    }
    Ok(format!("{name}-{}.csv", chrono::Utc::now().format("%Y-%m-%d")))
}
