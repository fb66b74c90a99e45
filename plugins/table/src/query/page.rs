//! Paging: one page's ids in order (by an index walk or a scan), keyset cursors, counts.

use super::plan::*;
use crate::sql::{all, any, c, col, count_all, fetch_all, fetch_optional};
use base64::Engine as _;
use runyard_daemon::error::Result;
use runyard_daemon::store::{Backend, Store};
use sea_query::{BinOper, Expr, ExprTrait, JoinType, Order, Query, SelectStatement, SimpleExpr};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A page position: the last row's sort values and id.
#[derive(Serialize, Deserialize)]
struct Cursor {
    /// The selection the cursor belongs to.
    q: String,
    v: Vec<Value>,
    id: String,
}

impl Plan {
    /// Rows strictly after the cursor's position in the plan's order.
    fn after(&self, cursor: &Cursor) -> Result<SimpleExpr> {
        let invalid = || bad("cursor", "the cursor does not belong to this query");
        if cursor.q != self.key || cursor.v.len() != self.atoms.len() {
            return Err(invalid());
        }
        let value = |a: &Atom, v: &Value| -> Result<sea_query::Value> {
            Ok(match (a.ty, v) {
                (AtomType::Int, Value::Number(n)) => n.as_i64().ok_or_else(invalid)?.into(),
                (AtomType::Real, Value::Number(n)) => n.as_f64().ok_or_else(invalid)?.into(),
                (AtomType::Text, Value::String(s)) => s.as_str().into(),
                _ => return Err(invalid()),
            })
        };
        // Equal on the first i sort values and after on the next; or equal on all, older id.
        let mut terms = Vec::new();
        for i in 0..=self.atoms.len() {
            let mut term = Vec::new();
            for (a, v) in self.atoms.iter().zip(&cursor.v).take(i) {
                term.push(if v.is_null() { a.expr.clone().is_null() } else { a.expr.clone().eq(value(a, v)?) });
            }
            if i == self.atoms.len() {
                term.push(c("t.id").lt(cursor.id.as_str()));
            } else {
                let (a, v) = (&self.atoms[i], &cursor.v[i]);
                if v.is_null() {
                    continue; // Nothing sorts after a missing value at this level.
                }
                let op = if a.descending { BinOper::SmallerThan } else { BinOper::GreaterThan };
                let beyond = a.expr.clone().binary(op, value(a, v)?);
                term.push(if a.nullable { a.expr.clone().is_null().or(beyond) } else { beyond });
            }
            terms.extend(all(term));
        }
        Ok(any(terms).expect("the last term is always there"))
    }

    /// The page after `cursor` by walking the index, when its budget fills the page (the
    /// rows, one more than `limit`).
    async fn walk(&self, store: &Store, cursor: Option<&Cursor>, limit: u32) -> Result<Option<Vec<AnyRow>>> {
        let Some(walk) = &self.walk else { return Ok(None) };
        let mut statement = Query::select();
        match walk {
            Walk::Newest => {
                let after = cursor.map(|c0| c("t.id").lt(c0.id.as_str()));
                let mut bound = Query::select();
                bound
                    .expr_as(c("t.id"), col("id"))
                    .from_as(col("tasks"), col("t"))
                    .and_where(Expr::cust("+t.archived").eq(self.archived as i64))
                    .and_where_option(after.clone())
                    .order_by_expr(c("t.id"), Order::Desc)
                    .limit(1)
                    .offset(self.budget as u64);
                let bound: Option<String> = fetch_optional(store, &bound).await?.map(|r| r.get("id"));
                statement.expr_as(c("t.id"), col("id")).from_as(col("tasks"), col("t")).join_as(
                    JoinType::Join,
                    col("projects"),
                    col("p"),
                    c("p.id").eq(c("t.project_id")),
                );
                for condition in &self.walk_where {
                    statement.and_where(condition.clone());
                }
                statement
                    .and_where_option(after)
                    .and_where_option(bound.map(|b| c("t.id").gte(b)))
                    .order_by_expr(c("t.id"), Order::Desc);
            }
            Walk::Metric { metric, variant, column, descending } => {
                let value = c(&format!("k0.{column}"));
                let (dir, cmp, beyond) = if *descending {
                    (Order::Desc, BinOper::SmallerThan, BinOper::GreaterThan)
                } else {
                    (Order::Asc, BinOper::GreaterThan, BinOper::SmallerThan)
                };
                let or_equal = |op: &BinOper| match op {
                    BinOper::SmallerThan => BinOper::SmallerThanOrEqual,
                    _ => BinOper::GreaterThanOrEqual,
                };
                let mut base = vec![
                    c("k0.metric").eq(metric.as_str()),
                    c("k0.variant").eq(variant.as_str()),
                    value.clone().is_not_null(),
                ];
                if let Some(cursor) = cursor {
                    let Some(v) = cursor.v.first().and_then(Value::as_f64) else {
                        return Ok(None); // Past the tasks having the value.
                    };
                    // The first term bounds the index range; the second settles ties.
                    base.push(value.clone().binary(or_equal(&cmp), v));
                    base.push(value.clone().binary(cmp, v).or(c("k0.task_id").lt(cursor.id.as_str())));
                }
                let order = |statement: &mut SelectStatement| {
                    statement.order_by_expr(value.clone(), dir.clone()).order_by_expr(c("k0.task_id"), Order::Desc);
                };
                let mut bound = Query::select();
                bound
                    .expr_as(value.clone(), col("v"))
                    .expr_as(c("k0.task_id"), col("id"))
                    .from_as(col("scalar_summaries"), col("k0"));
                for condition in &base {
                    bound.and_where(condition.clone());
                }
                order(&mut bound);
                bound.limit(1).offset(self.budget as u64);
                let bound = fetch_optional(store, &bound).await?;
                // SQLite: CROSS JOIN fixes the join order, the index first.
                let join = match self.backend {
                    Backend::Sqlite => JoinType::CrossJoin,
                    Backend::Postgres => JoinType::Join,
                };
                statement
                    .expr_as(c("t.id"), col("id"))
                    .expr_as(value.clone(), col("s0"))
                    .from_as(col("scalar_summaries"), col("k0"))
                    .join_as(join, col("tasks"), col("t"), c("t.id").eq(c("k0.task_id")))
                    .join_as(JoinType::Join, col("projects"), col("p"), c("p.id").eq(c("t.project_id")));
                for condition in base {
                    statement.and_where(condition);
                }
                if let Some(b) = bound {
                    let (v, id): (f64, String) = (b.try_get("v")?, b.try_get("id")?);
                    statement.and_where(value.clone().binary(or_equal(&beyond), v));
                    statement.and_where(value.clone().binary(beyond, v).or(c("k0.task_id").gte(id)));
                }
                for condition in &self.walk_where {
                    statement.and_where(condition.clone());
                }
                order(&mut statement);
            }
        }
        statement.limit(limit as u64 + 1);
        let rows = fetch_all(store, &statement).await?;
        Ok((rows.len() > limit as usize).then_some(rows))
    }

    /// The page after `cursor` with the filters driving.
    async fn scan(&self, store: &Store, cursor: Option<&Cursor>, limit: u32) -> Result<Vec<AnyRow>> {
        let mut statement = self.selection();
        statement.expr_as(c("t.id"), col("id"));
        for (i, a) in self.atoms.iter().enumerate() {
            statement.expr_as(a.expr.clone(), col(&format!("s{i}")));
        }
        if let Some(cursor) = cursor {
            statement.and_where(self.after(cursor)?);
        }
        self.order(&mut statement);
        statement.limit(limit as u64 + 1);
        fetch_all(store, &statement).await
    }

    /// The cursor after `last`, a row of [`Plan::walk`] or [`Plan::scan`].
    fn cursor_after(&self, last: &AnyRow) -> Result<String> {
        let mut v = Vec::new();
        for (i, a) in self.atoms.iter().enumerate() {
            let name = format!("s{i}");
            v.push(match a.ty {
                AtomType::Int => json!(last.try_get::<Option<i64>, _>(name.as_str())?),
                AtomType::Real => json!(last.try_get::<Option<f64>, _>(name.as_str())?),
                AtomType::Text => json!(last.try_get::<Option<String>, _>(name.as_str())?),
            });
        }
        let cursor = Cursor { q: self.key.clone(), v, id: last.try_get("id")? };
        Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).expect("serializable")))
    }
}

/// The ids of one page in order, and the cursor after it (when more follow).
pub async fn page_ids(
    store: &Store,
    plan: &Plan,
    cursor: Option<&str>,
    limit: u32,
) -> Result<(Vec<String>, Option<String>)> {
    let cursor = match cursor {
        Some(c) => {
            let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(c)
                .ok()
                .and_then(|b| serde_json::from_slice::<Cursor>(&b).ok())
                .ok_or_else(|| bad("cursor", "not a cursor of this table"))?;
            plan.after(&decoded)?; // Checks that it belongs to this query.
            Some(decoded)
        }
        None => None,
    };
    let rows = match plan.walk(store, cursor.as_ref(), limit).await? {
        Some(rows) => rows,
        None => plan.scan(store, cursor.as_ref(), limit).await?,
    };
    let more = rows.len() > limit as usize;
    let rows = &rows[..rows.len().min(limit as usize)];
    let ids: Vec<String> = rows.iter().map(|r| r.try_get("id")).collect::<Result<_, _>>()?;
    let next = match (more, rows.last()) {
        (true, Some(last)) => Some(plan.cursor_after(last)?),
        _ => None,
    };
    Ok((ids, next))
}

/// How many tasks the plan selects.
pub async fn count(store: &Store, plan: &Plan) -> Result<u64> {
    let mut statement = plan.selection();
    statement.expr_as(count_all(), col("n"));
    let n: i64 = fetch_optional(store, &statement).await?.expect("a count has a row").try_get("n")?;
    Ok(n as u64)
}
