//! The task table's query engine: a [`TableQuery`] to a page of rows, in two steps. The first
//! statement selects and orders the page's task ids alone (filters as `IN (subquery)` over
//! indexed tables, sort keys as joined columns, keyset paging from the cursor); the second
//! loads the shown columns of just those tasks.

use crate::scope::ProjectScope;
use crate::sql::{like_pattern, Sql};
use base64::Engine as _;
use runyard_api::table::*;
use runyard_api::{TaskStatus, TaskType};
use runyard_daemon::error::{Error, Result};
use runyard_daemon::store::{Backend, Store};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Digest;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::HashMap;

/// How a sort key's value is read back for the cursor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum AtomType {
    Int,
    Real,
    Text,
}

/// One ORDER BY term.
#[derive(Debug, Clone)]
struct Atom {
    expr: String,
    ty: AtomType,
    descending: bool,
    nullable: bool,
}

/// The selection and order of a query, as SQL.
pub struct Plan {
    /// `FROM … WHERE …` (without the keyset condition), the filters driving.
    from_where: Sql,
    /// The conditions of `from_where` as checks on one task (for [`Walk`]s).
    walk_where: Sql,
    /// Set when an index gives the query's order.
    walk: Option<Walk>,
    /// Index entries the walk may visit.
    budget: i64,
    archived: bool,
    atoms: Vec<Atom>,
    /// Identifies the selection, so a cursor cannot be used with another query.
    key: String,
    backend: Backend,
}

/// An index that yields tasks in the query's order. Walking it and checking each task
/// against the filters finds a page after a few rows when many tasks match, where letting the
/// filters drive would first collect every match; a walk is tried over a bounded stretch of
/// the index ([`WALK_BUDGET`] entries) and the filters drive when it does not fill the page.
enum Walk {
    /// No sort: the newest tasks first (the primary key).
    Newest,
    /// One metric column: its summaries index, tasks having the value.
    Metric { metric: String, variant: String, column: &'static str, descending: bool },
}

/// Index entries a walk may visit before the filters take over (five times as many within
/// a project).
const WALK_BUDGET: i64 = 4_000;

/// A page position: the last row's sort values and id.
#[derive(Serialize, Deserialize)]
struct Cursor {
    /// The selection the cursor belongs to.
    q: String,
    v: Vec<Value>,
    id: String,
}

fn bad(param: &str, message: impl Into<String>) -> Error {
    Error::invalid(param, message.into())
}

/// The SQL of a built-in column's value (for filters and sorts), its type and whether it
/// may be missing. Tags have none: they are filtered through `task_tags` and never sorted on.
pub(crate) fn column_expr(b: Builtin, now: i64) -> (String, AtomType, bool) {
    let (expr, ty, nullable) = match b {
        Builtin::Id => ("t.id", AtomType::Text, false),
        Builtin::Name => ("t.name", AtomType::Text, false),
        Builtin::Type => ("t.type", AtomType::Text, false),
        Builtin::Status => ("t.status", AtomType::Text, false),
        Builtin::Project => ("p.name", AtomType::Text, false),
        Builtin::User => ("u.name", AtomType::Text, true),
        Builtin::Started => ("t.started", AtomType::Int, true),
        Builtin::Updated => ("t.last_update", AtomType::Int, false),
        Builtin::Created => ("t.created", AtomType::Int, false),
        Builtin::Completed => ("t.completed", AtomType::Int, true),
        Builtin::Iteration => ("t.last_iteration", AtomType::Int, false),
        // Seconds from start to completion, or to now while unfinished.
        Builtin::Runtime => {
            let expr = format!("CAST((COALESCE(t.completed, {now}) - t.started) AS DOUBLE PRECISION) / 1000.0");
            return (expr, AtomType::Real, true);
        }
        Builtin::Description => ("t.comment", AtomType::Text, false),
        Builtin::Queue => ("q.name", AtomType::Text, true),
        Builtin::Worker => ("t.worker", AtomType::Text, true),
        Builtin::Parent => ("t.parent", AtomType::Text, true),
        Builtin::Tags => ("NULL", AtomType::Text, true),
    };
    (expr.to_string(), ty, nullable)
}

/// The summary column holding a metric aggregate.
pub(crate) fn agg_column(agg: Agg) -> &'static str {
    match agg {
        Agg::Last => "last_value",
        Agg::Min => "min_value",
        Agg::Max => "max_value",
    }
}

/// Builds the plan of `q`: project, archive, ids, search and filters as conditions; sort keys
/// as ORDER BY terms over joined tables.
pub async fn plan(store: &Store, q: &TableQuery, now: i64) -> Result<Plan> {
    let mut joins = Sql::new("");
    // The scope (archive flag and project) twice: for the filters to drive, with their
    // indexes; and for walks, where the order's index must drive, as terms no index serves
    // (`+x`, `x || ''`), so the planner cannot pick one and sort everything it yields.
    let mut scope = Sql::new("t.archived = ");
    scope.bind(q.archived as i64);
    let mut walk_scope = Sql::new("+t.archived = ");
    walk_scope.bind(q.archived as i64);
    if let Some(project) = ProjectScope::resolve(store, q.project.as_deref(), q.subprojects).await? {
        scope.push(" AND ").append(&project.on("t.project_id"));
        walk_scope.push(" AND ").append(&project.on("(t.project_id || '')"));
    }
    let mut cond = Sql::new("");
    let mut need_users = false;
    let mut need_queues = false;
    if !q.ids.is_empty() {
        cond.push(" AND t.id IN ").bind_list(&q.ids);
    }
    if let Some(search) = &q.search {
        let pattern = like_pattern(search);
        cond.push(" AND (LOWER(t.name) LIKE ")
            .bind(pattern.clone())
            .push(" ESCAPE '\\' OR LOWER(t.comment) LIKE ")
            .bind(pattern)
            .push(" ESCAPE '\\' OR t.id = ")
            .bind(search.to_lowercase())
            .push(")");
    }
    let mut members = Vec::new();
    for f in &q.filters {
        filter(&mut cond, &mut members, f, now)?;
    }

    // Sort keys: joined columns, tasks lacking a value last, the newest task first on ties.
    let mut atoms = Vec::new();
    let mut keys: Vec<SortKey> = Vec::new();
    if q.group {
        keys.push(SortKey { column: Column::Builtin(Builtin::Project), descending: false });
    }
    keys.extend(q.sort.iter().cloned());
    for (i, key) in keys.iter().enumerate() {
        let alias = format!("k{i}");
        match &key.column {
            Column::Builtin(b) => {
                need_users |= *b == Builtin::User;
                need_queues |= *b == Builtin::Queue;
                let (expr, ty, nullable) = column_expr(*b, now);
                atoms.push(Atom { expr, ty, descending: key.descending, nullable });
            }
            Column::Metric { metric, variant, agg } => {
                joins
                    .push(&format!(
                        " LEFT JOIN scalar_summaries {alias} ON {alias}.task_id = t.id AND {alias}.metric = "
                    ))
                    .bind(metric)
                    .push(&format!(" AND {alias}.variant = "))
                    .bind(variant);
                atoms.push(Atom {
                    expr: format!("{alias}.{}", agg_column(*agg)),
                    ty: AtomType::Real,
                    descending: key.descending,
                    nullable: true,
                });
            }
            c => {
                let (section, name) = c.param().expect("the other columns");
                joins
                    .push(&format!(" LEFT JOIN task_params {alias} ON {alias}.task_id = t.id AND {alias}.section = "))
                    .bind(section)
                    .push(&format!(" AND {alias}.name = "))
                    .bind(name);
                // Numbers first, in numeric order; then text; then tasks without the parameter.
                atoms.push(Atom {
                    expr: format!("{alias}.num"),
                    ty: AtomType::Real,
                    descending: key.descending,
                    nullable: true,
                });
                atoms.push(Atom {
                    expr: format!("{alias}.value"),
                    ty: AtomType::Text,
                    descending: key.descending,
                    nullable: true,
                });
            }
        }
    }
    let mut from_where = Sql::new(" FROM tasks t JOIN projects p ON p.id = t.project_id");
    if need_users {
        from_where.push(" LEFT JOIN users u ON u.id = t.user_id");
    }
    if need_queues {
        from_where.push(" LEFT JOIN queues q ON q.id = t.queue_id");
    }
    from_where.append(&joins).push(" WHERE ").append(&scope).append(&cond);
    // Within a project (or given ids) its tasks drive, each checked; across all projects the
    // filters' own indexes drive.
    let scoped = q.project.is_some() || !q.ids.is_empty();
    let mut walk_where = walk_scope;
    walk_where.append(&cond);
    for m in &members {
        from_where.push(" AND ").append(&m.render(scoped));
        walk_where.push(" AND ").append(&m.render(true));
    }
    let walk = match (q.group, keys.as_slice()) {
        (false, []) => Some(Walk::Newest),
        (false, [SortKey { column: Column::Metric { metric, variant, agg }, descending }]) => Some(Walk::Metric {
            metric: metric.clone(),
            variant: variant.clone(),
            column: agg_column(*agg),
            descending: *descending,
        }),
        _ => None,
    };
    let key = hex::encode(&sha2::Sha256::digest(q.selection_key().as_bytes())[..8]);
    // Within a project only some of the index's tasks are candidates: walk further.
    let budget = if q.project.is_some() { WALK_BUDGET * 5 } else { WALK_BUDGET };
    Ok(Plan { from_where, walk_where, walk, budget, archived: q.archived, atoms, key, backend: store.backend() })
}

/// A condition on another table's rows of the task: `t.id [NOT] IN (SELECT task_id FROM
/// <table> WHERE <cond>)` when the filters drive the query, or a correlated `[NOT] EXISTS` when
/// an index walk in sort order does.
struct Member {
    table: &'static str,
    cond: Sql,
    negate: bool,
}

impl Member {
    fn new(table: &'static str, negate: bool) -> Member {
        Member { table, cond: Sql::new(""), negate }
    }

    fn render(&self, correlated: bool) -> Sql {
        let not = if self.negate { "NOT " } else { "" };
        let mut sql = if correlated {
            Sql::new(&format!("{not}EXISTS (SELECT 1 FROM {} m WHERE m.task_id = t.id AND ", self.table))
        } else {
            Sql::new(&format!("t.id {not}IN (SELECT task_id FROM {} WHERE ", self.table))
        };
        sql.append(&self.cond).push(")");
        sql
    }
}

/// Adds one filter: a condition on the task's own columns to `cond`, or on another table's
/// rows to `members`.
fn filter(cond: &mut Sql, members: &mut Vec<Member>, f: &Filter, now: i64) -> Result<()> {
    match (&f.column, &f.op) {
        (Column::Builtin(Builtin::Tags), FilterOp::Tags { all, include, exclude }) => {
            if !include.is_empty() {
                if *all {
                    for tag in include {
                        let mut m = Member::new("task_tags", false);
                        m.cond.push("tag = ").bind(tag);
                        members.push(m);
                    }
                } else {
                    let mut m = Member::new("task_tags", false);
                    m.cond.push("tag IN ").bind_list(include);
                    members.push(m);
                }
            }
            for tag in exclude {
                let mut m = Member::new("task_tags", true);
                m.cond.push("tag = ").bind(tag);
                members.push(m);
            }
        }
        (Column::Builtin(b), FilterOp::Values { values, negate }) => {
            let values: Vec<String> = match b {
                Builtin::Status => {
                    values.iter().filter_map(|v| TaskStatus::parse(v)).map(|s| s.as_str().to_string()).collect()
                }
                Builtin::Type => {
                    values.iter().filter_map(|v| TaskType::parse(v)).map(|t| t.as_str().to_string()).collect()
                }
                _ => values.clone(),
            };
            let mut inner = Sql::new("");
            match b {
                Builtin::User => {
                    inner.push("t.user_id IN (SELECT id FROM users WHERE name IN ").bind_list(&values).push(")")
                }
                Builtin::Queue => {
                    inner.push("t.queue_id IN (SELECT id FROM queues WHERE name IN ").bind_list(&values).push(")")
                }
                _ => {
                    let (expr, _, _) = column_expr(*b, now);
                    inner.push(&expr).push(" IN ").bind_list(&values)
                }
            };
            cond.push(" AND ");
            if *negate {
                // Tasks lacking the value pass.
                cond.push("NOT COALESCE(").append(&inner).push(", FALSE)");
            } else {
                cond.append(&inner);
            }
        }
        (Column::Builtin(b), FilterOp::Range { min, max }) => {
            let (expr, ty, _) = column_expr(*b, now);
            cond.push(" AND ");
            range(cond, &expr, min, max, ty == AtomType::Int);
        }
        (Column::Metric { metric, variant, agg }, FilterOp::Range { min, max }) => {
            let mut m = Member::new("scalar_summaries", false);
            m.cond.push("metric = ").bind(metric).push(" AND variant = ").bind(variant).push(" AND ");
            range(&mut m.cond, agg_column(*agg), min, max, false);
            members.push(m);
        }
        (c, FilterOp::Values { values, negate }) if c.param().is_some() => {
            let (section, name) = c.param().expect("checked");
            let mut m = Member::new("task_params", *negate);
            m.cond
                .push("section = ")
                .bind(section)
                .push(" AND name = ")
                .bind(name)
                .push(" AND value IN ")
                .bind_list(values);
            members.push(m);
        }
        (c, FilterOp::Range { min, max }) if c.param().is_some() => {
            let (section, name) = c.param().expect("checked");
            let mut m = Member::new("task_params", false);
            m.cond.push("section = ").bind(section).push(" AND name = ").bind(name).push(" AND ");
            range(&mut m.cond, "num", min, max, false);
            members.push(m);
        }
        (c, _) => return Err(bad("filter", format!("column '{c}' does not take that filter"))),
    }
    Ok(())
}

/// `lo <= expr <= hi` (or strict), as the bounds say.
fn range(sql: &mut Sql, expr: &str, min: &Option<Bound>, max: &Option<Bound>, integer: bool) {
    let value = |sql: &mut Sql, v: f64| {
        if integer && v.fract() == 0.0 && v.abs() < 9.0e15 {
            sql.bind(v as i64);
        } else {
            sql.bind(v);
        }
    };
    let mut first = true;
    if let Some(lo) = min {
        sql.push(expr).push(if lo.inclusive { " >= " } else { " > " });
        value(sql, lo.value);
        first = false;
    }
    if let Some(hi) = max {
        if !first {
            sql.push(" AND ");
        }
        sql.push(expr).push(if hi.inclusive { " <= " } else { " < " });
        value(sql, hi.value);
        first = false;
    }
    if first {
        sql.push(expr).push(" IS NOT NULL");
    }
}

impl Plan {
    /// `FROM … WHERE …` of the whole selection (for counts and batch actions).
    pub fn from_where(&self) -> &Sql {
        &self.from_where
    }

    /// The ORDER BY terms of the query's order (tasks lacking a value last, newest first on ties).
    pub fn order_by(&self) -> String {
        let mut terms = Vec::new();
        for a in &self.atoms {
            if a.nullable {
                terms.push(format!("({} IS NULL)", a.expr));
            }
            terms.push(format!("{}{}", a.expr, if a.descending { " DESC" } else { "" }));
        }
        terms.push("t.id DESC".into());
        terms.join(", ")
    }

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
}

impl Plan {
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

fn time(ms: Option<i64>) -> Value {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| json!(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)))
        .unwrap_or(Value::Null)
}

fn float(v: f64) -> Value {
    serde_json::to_value(runyard_api::tracking::Float(v)).unwrap_or(Value::Null)
}

/// A task's reported progress (percent) from its runtime properties, where it has one.
fn progress(runtime: &str) -> Option<f64> {
    let v: Value = serde_json::from_str(runtime).ok()?;
    match v.get("progress")? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|p| p.is_finite())
    .map(|p| p.clamp(0.0, 100.0))
}

/// The rows of `ids` (in that order) with the values of `columns`.
pub async fn rows(store: &Store, ids: &[String], columns: &[&Column], now: i64) -> Result<Vec<TableRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut conn = store.pool().acquire().await?;
    // The task columns the shown columns need (the runtime properties only when they hold a
    // progress), and only the joins those need.
    let mut select =
        vec!["t.id", "t.status", "t.archived", "CASE WHEN t.runtime LIKE '%progress%' THEN t.runtime END AS runtime"];
    let mut joins = String::new();
    for c in columns {
        let Column::Builtin(b) = c else { continue };
        match b {
            Builtin::Name => select.push("t.name"),
            Builtin::Type => select.push("t.type"),
            Builtin::Project => {
                select.push("p.name AS project");
                joins.push_str(" JOIN projects p ON p.id = t.project_id");
            }
            Builtin::User => {
                select.push("u.name AS user_name");
                joins.push_str(" LEFT JOIN users u ON u.id = t.user_id");
            }
            Builtin::Started => select.push("t.started"),
            Builtin::Updated => select.push("t.last_update"),
            Builtin::Created => select.push("t.created"),
            Builtin::Completed => select.push("t.completed"),
            Builtin::Runtime => select.extend(["t.started", "t.completed"]),
            Builtin::Iteration => select.push("t.last_iteration"),
            Builtin::Description => select.push("t.comment"),
            Builtin::Queue => {
                select.push("q.name AS queue");
                joins.push_str(" LEFT JOIN queues q ON q.id = t.queue_id");
            }
            Builtin::Worker => select.push("t.worker"),
            Builtin::Parent => select.push("t.parent"),
            Builtin::Id | Builtin::Status | Builtin::Tags => {}
        }
    }
    let mut seen = std::collections::HashSet::new();
    select.retain(|s| seen.insert(*s));
    let mut base = HashMap::new();
    let mut sql = Sql::new(&format!("SELECT {} FROM tasks t{joins} WHERE t.id IN ", select.join(", ")));
    sql.bind_list(ids);
    for r in sql.query().fetch_all(&mut *conn).await? {
        base.insert(r.try_get::<String, _>("id")?, r);
    }

    // Metric and parameter values of the page, by task: just the series and parameters shown.
    let mut summaries: HashMap<(String, String, String), [Option<f64>; 3]> = HashMap::new();
    let mut wanted = Sql::new("");
    for c in columns {
        if let Column::Metric { metric, variant, .. } = c {
            wanted.push(if wanted.is_empty() { "(" } else { " OR " });
            wanted.push("(metric = ").bind(metric).push(" AND variant = ").bind(variant).push(")");
        }
    }
    if !wanted.is_empty() {
        let mut sql = Sql::new(
            "SELECT task_id, metric, variant, last_value, min_value, max_value FROM scalar_summaries WHERE task_id IN ",
        );
        sql.bind_list(ids).push(" AND ").append(&wanted).push(")");
        for r in sql.query().fetch_all(&mut *conn).await? {
            summaries.insert(
                (r.try_get("task_id")?, r.try_get("metric")?, r.try_get("variant")?),
                [r.try_get("last_value")?, r.try_get("min_value")?, r.try_get("max_value")?],
            );
        }
    }
    let mut params: HashMap<(String, String, String), String> = HashMap::new();
    let mut wanted = Sql::new("");
    for (section, name) in columns.iter().filter_map(|c| c.param()) {
        wanted.push(if wanted.is_empty() { "(" } else { " OR " });
        wanted.push("(section = ").bind(section).push(" AND name = ").bind(name).push(")");
    }
    if !wanted.is_empty() {
        let mut sql = Sql::new("SELECT task_id, section, name, value FROM task_params WHERE task_id IN ");
        sql.bind_list(ids).push(" AND ").append(&wanted).push(")");
        for r in sql.query().fetch_all(&mut *conn).await? {
            params.insert((r.try_get("task_id")?, r.try_get("section")?, r.try_get("name")?), r.try_get("value")?);
        }
    }
    let mut tags: HashMap<String, Vec<String>> = HashMap::new();
    if columns.contains(&&Column::Builtin(Builtin::Tags)) {
        let mut sql = Sql::new("SELECT task_id, tag FROM task_tags WHERE task_id IN ");
        sql.bind_list(ids).push(" ORDER BY task_id, tag");
        for r in sql.query().fetch_all(&mut *conn).await? {
            tags.entry(r.try_get("task_id")?).or_default().push(r.try_get("tag")?);
        }
    }

    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(r) = base.get(id) else { continue }; // Deleted between the two reads.
        let status: String = r.try_get("status")?;
        let mut values = Vec::with_capacity(columns.len());
        for c in columns {
            values.push(match c {
                Column::Builtin(b) => match b {
                    Builtin::Id => json!(id),
                    Builtin::Name => json!(r.try_get::<String, _>("name")?),
                    Builtin::Type => json!(r.try_get::<String, _>("type")?),
                    Builtin::Status => json!(status),
                    Builtin::Project => json!(r.try_get::<String, _>("project")?),
                    Builtin::User => json!(r.try_get::<Option<String>, _>("user_name")?),
                    Builtin::Tags => json!(tags.get(id).cloned().unwrap_or_default()),
                    Builtin::Started => time(r.try_get("started")?),
                    Builtin::Updated => time(r.try_get("last_update")?),
                    Builtin::Created => time(r.try_get("created")?),
                    Builtin::Completed => time(r.try_get("completed")?),
                    Builtin::Iteration => json!(r.try_get::<i64, _>("last_iteration")?),
                    Builtin::Runtime => {
                        let started: Option<i64> = r.try_get("started")?;
                        let end = r.try_get::<Option<i64>, _>("completed")?.unwrap_or(now);
                        started.map(|s| json!((end - s) as f64 / 1000.0)).unwrap_or(Value::Null)
                    }
                    Builtin::Description => json!(r.try_get::<String, _>("comment")?),
                    Builtin::Queue => json!(r.try_get::<Option<String>, _>("queue")?),
                    Builtin::Worker => json!(r.try_get::<Option<String>, _>("worker")?),
                    Builtin::Parent => json!(r.try_get::<Option<String>, _>("parent")?),
                },
                Column::Metric { metric, variant, agg } => {
                    match summaries.get(&(id.clone(), metric.clone(), variant.clone())) {
                        // A summary whose value is NULL holds NaN.
                        Some(values) => float(values[*agg as usize].unwrap_or(f64::NAN)),
                        None => Value::Null,
                    }
                }
                c => {
                    let (section, name) = c.param().expect("the other columns");
                    params
                        .get(&(id.clone(), section.to_string(), name.to_string()))
                        .map(|v| json!(v))
                        .unwrap_or(Value::Null)
                }
            });
        }
        out.push(TableRow {
            id: id.clone(),
            status: TaskStatus::parse(&status)
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("bad status {status}")))?,
            archived: r.try_get::<i64, _>("archived")? != 0,
            progress: r.try_get::<Option<String>, _>("runtime")?.as_deref().and_then(progress),
            values,
        });
    }
    Ok(out)
}

/// One page of the table.
pub async fn page(store: &Store, q: &TableQuery) -> Result<TablePage> {
    let now = chrono::Utc::now().timestamp_millis();
    let plan = plan(store, q, now).await?;
    let (ids, next) = page_ids(store, &plan, q.cursor.as_deref(), q.limit).await?;
    let columns: Vec<&Column> = q.visible_columns().collect();
    let rows = rows(store, &ids, &columns, now).await?;
    Ok(TablePage { columns: columns.iter().map(|c| c.to_string()).collect(), rows, next })
}
