//! Paging: one page's ids in order (by an index walk or a scan), keyset cursors, counts.

use super::plan::*;
use crate::sql::Sql;
use base64::Engine as _;
use runyard_daemon::error::Result;
use runyard_daemon::store::{Backend, Store};
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
    fn after(&self, cursor: &Cursor) -> Result<Sql> {
        let invalid = || bad("cursor", "the cursor does not belong to this query");
        if cursor.q != self.key || cursor.v.len() != self.atoms.len() {
            return Err(invalid());
        }
        let bind_value = |sql: &mut Sql, a: &Atom, v: &Value| -> Result<()> {
            match (a.ty, v) {
                (AtomType::Int, Value::Number(n)) => sql.bind(n.as_i64().ok_or_else(invalid)?),
                (AtomType::Real, Value::Number(n)) => sql.bind(n.as_f64().ok_or_else(invalid)?),
                (AtomType::Text, Value::String(s)) => sql.bind(s.as_str()),
                _ => return Err(invalid()),
            };
            Ok(())
        };
        let mut out = Sql::new("(");
        let mut terms = 0;
        for i in 0..=self.atoms.len() {
            let mut term = Sql::new("(");
            for (a, v) in self.atoms.iter().zip(&cursor.v).take(i) {
                if v.is_null() {
                    term.push(&format!("{} IS NULL AND ", a.expr));
                } else {
                    term.push(&format!("{} = ", a.expr));
                    bind_value(&mut term, a, v)?;
                    term.push(" AND ");
                }
            }
            if i == self.atoms.len() {
                term.push("t.id < ").bind(cursor.id.as_str());
            } else {
                let (a, v) = (&self.atoms[i], &cursor.v[i]);
                if v.is_null() {
                    continue; // Nothing sorts after a missing value at this level.
                }
                let cmp = if a.descending { " < " } else { " > " };
                if a.nullable {
                    term.push(&format!("({} IS NULL OR {}{cmp}", a.expr, a.expr));
                    bind_value(&mut term, a, v)?;
                    term.push(")");
                } else {
                    term.push(&format!("{}{cmp}", a.expr));
                    bind_value(&mut term, a, v)?;
                }
            }
            term.push(")");
            if terms > 0 {
                out.push(" OR ");
            }
            out.append(&term);
            terms += 1;
        }
        out.push(")");
        Ok(out)
    }

    /// The page after `cursor` by walking the index, when its budget fills the page (the
    /// rows, one more than `limit`).
    async fn walk(&self, store: &Store, cursor: Option<&Cursor>, limit: u32) -> Result<Option<Vec<AnyRow>>> {
        let Some(walk) = &self.walk else { return Ok(None) };
        let join = match self.backend {
            // SQLite: CROSS JOIN fixes the join order, the index first.
            Backend::Sqlite => "CROSS JOIN",
            Backend::Postgres => "JOIN",
        };
        let mut sql;
        match walk {
            Walk::Newest => {
                let mut after = Sql::new("");
                if let Some(c) = cursor {
                    after.push(" AND t.id < ").bind(c.id.as_str());
                }
                let mut bound = Sql::new("SELECT t.id AS id FROM tasks t WHERE +t.archived = ");
                bound.bind(self.archived as i64).append(&after);
                bound.push(&format!(" ORDER BY t.id DESC LIMIT 1 OFFSET {}", self.budget));
                let bound: Option<String> = bound.query().fetch_optional(store.pool()).await?.map(|r| r.get("id"));
                sql = Sql::new("SELECT t.id AS id FROM tasks t JOIN projects p ON p.id = t.project_id WHERE ");
                sql.append(&self.walk_where).append(&after);
                if let Some(b) = bound {
                    sql.push(" AND t.id >= ").bind(b);
                }
                sql.push(" ORDER BY t.id DESC");
            }
            Walk::Metric { metric, variant, column, descending } => {
                let (dir, cmp, beyond) = if *descending { ("DESC", "<", ">") } else { ("ASC", ">", "<") };
                let mut base = Sql::new(" k0.metric = ");
                base.bind(metric.as_str()).push(" AND k0.variant = ").bind(variant.as_str());
                base.push(&format!(" AND k0.{column} IS NOT NULL"));
                if let Some(c) = cursor {
                    let Some(v) = c.v.first().and_then(Value::as_f64) else {
                        return Ok(None); // Past the tasks having the value.
                    };
                    // The first term bounds the index range; the second settles ties.
                    base.push(&format!(" AND k0.{column} {cmp}= "))
                        .bind(v)
                        .push(&format!(" AND (k0.{column} {cmp} "))
                        .bind(v)
                        .push(" OR k0.task_id < ")
                        .bind(c.id.as_str())
                        .push(")");
                }
                let order = format!(" ORDER BY k0.{column} {dir}, k0.task_id DESC");
                let mut bound =
                    Sql::new(&format!("SELECT k0.{column} AS v, k0.task_id AS id FROM scalar_summaries k0 WHERE"));
                bound.append(&base).push(&format!("{order} LIMIT 1 OFFSET {}", self.budget));
                let bound = bound.query().fetch_optional(store.pool()).await?;
                sql = Sql::new(&format!(
                    "SELECT t.id AS id, k0.{column} AS s0 FROM scalar_summaries k0 {join} tasks t ON t.id = k0.task_id \
                     JOIN projects p ON p.id = t.project_id WHERE"
                ));
                sql.append(&base);
                if let Some(b) = bound {
                    let (v, id): (f64, String) = (b.try_get("v")?, b.try_get("id")?);
                    sql.push(&format!(" AND k0.{column} {beyond}= "))
                        .bind(v)
                        .push(&format!(" AND (k0.{column} {beyond} "))
                        .bind(v)
                        .push(" OR k0.task_id >= ")
                        .bind(id)
                        .push(")");
                }
                sql.push(" AND ").append(&self.walk_where).push(&order);
            }
        }
        sql.push(&format!(" LIMIT {}", limit as i64 + 1));
        let rows = sql.query().fetch_all(store.pool()).await?;
        Ok((rows.len() > limit as usize).then_some(rows))
    }

    /// The page after `cursor` with the filters driving.
    async fn scan(&self, store: &Store, cursor: Option<&Cursor>, limit: u32) -> Result<Vec<AnyRow>> {
        let mut sql = Sql::new("SELECT t.id AS id");
        for (i, a) in self.atoms.iter().enumerate() {
            sql.push(&format!(", {} AS s{i}", a.expr));
        }
        sql.append(&self.from_where);
        if let Some(c) = cursor {
            sql.push(" AND ").append(&self.after(c)?);
        }
        sql.push(&format!(" ORDER BY {} LIMIT {}", self.order_by(), limit as i64 + 1));
        Ok(sql.query().fetch_all(store.pool()).await?)
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
    let mut sql = Sql::new("SELECT COUNT(*) AS n");
    sql.append(&plan.from_where);
    let n: i64 = sql.query().fetch_one(store.pool()).await?.try_get("n")?;
    Ok(n as u64)
}
