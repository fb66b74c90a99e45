//! The table's statements are built with sea-query and rendered for the store's backend.
//! Helpers for the shapes the table uses again and again: columns written `t.id`, scalar
//! subqueries, case-insensitive "contains" patterns, and running a statement.

use runyard_daemon::error::Result;
use runyard_daemon::store::Store;
use sea_query::{Expr, Func, LikeExpr, SelectStatement, SimpleExpr, SubQueryStatement};
use sqlx::any::AnyRow;

pub use runyard_daemon::store::col;

/// A column: `alias.column`, or a bare `column`.
pub fn c(path: &str) -> SimpleExpr {
    match path.split_once('.') {
        Some((table, column)) => Expr::col((col(table), col(column))).into(),
        None => Expr::col(col(path)).into(),
    }
}

/// `(SELECT …)` as a value.
pub fn scalar(statement: SelectStatement) -> SimpleExpr {
    SimpleExpr::SubQuery(None, Box::new(SubQueryStatement::SelectStatement(statement)))
}

/// `COUNT(*)`.
pub fn count_all() -> SimpleExpr {
    Func::count(Expr::col(sea_query::Asterisk)).into()
}

/// `expr` contains `text`, ignoring case (`LOWER(expr) LIKE '%text%' ESCAPE '\'`, the text's
/// own wildcards taken literally).
pub fn contains(expr: SimpleExpr, text: &str) -> SimpleExpr {
    let pattern = format!("%{}%", text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
    SimpleExpr::from(Func::lower(expr)).like(LikeExpr::new(pattern).escape('\\'))
}

/// Every condition, joined by `AND` (`None` for none).
pub fn all(conditions: impl IntoIterator<Item = SimpleExpr>) -> Option<SimpleExpr> {
    conditions.into_iter().reduce(|a, b| a.and(b))
}

/// Any of the conditions, joined by `OR` (`None` for none).
pub fn any(conditions: impl IntoIterator<Item = SimpleExpr>) -> Option<SimpleExpr> {
    conditions.into_iter().reduce(|a, b| a.or(b))
}

/// Runs a query; its rows.
pub async fn fetch_all(store: &Store, statement: &SelectStatement) -> Result<Vec<AnyRow>> {
    let (sql, values) = store.render(statement);
    Ok(sqlx::query_with(&sql, values).fetch_all(store.pool()).await?)
}

/// Runs a query; its first row, if any.
pub async fn fetch_optional(store: &Store, statement: &SelectStatement) -> Result<Option<AnyRow>> {
    let (sql, values) = store.render(statement);
    Ok(sqlx::query_with(&sql, values).fetch_optional(store.pool()).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_query::{PostgresQueryBuilder, Query, SqliteQueryBuilder};

    #[test]
    fn conditions_keep_their_grouping() {
        let q = Query::select()
            .expr(c("t.id"))
            .from_as(col("tasks"), col("t"))
            .and_where(c("t.archived").eq(0))
            .and_where(any([contains(c("t.name"), "50%_a\\b"), c("t.id").eq("x")]).expect("two"))
            .to_owned();
        let (sql, values) = q.build(SqliteQueryBuilder);
        assert_eq!(
            sql,
            r#"SELECT "t"."id" FROM "tasks" AS "t" WHERE "t"."archived" = ? AND (LOWER("t"."name") LIKE ? ESCAPE '\' OR "t"."id" = ?)"#
        );
        assert_eq!(values.0[1], sea_query::Value::from("%50\\%\\_a\\\\b%"));
        let (sql, _) = q.build(PostgresQueryBuilder);
        assert!(sql.contains(r#"LOWER("t"."name") LIKE $2 ESCAPE"#), "{sql}");
    }
}
