//! Planning: a query's filters, sort keys and scope as SQL, and how its ids will be found
//! (walking an index that gives the order, or letting the filters drive).

use crate::scope::ProjectScope;
use crate::sql::{all, c, col, contains};
use runyard_api::table::*;
use runyard_api::{TaskStatus, TaskType};
use runyard_daemon::error::{Error, Result};
use runyard_daemon::store::{Backend, Store};
use sea_query::{BinOper, Expr, ExprTrait, Func, JoinType, Keyword, Order, Query, SelectStatement, SimpleExpr, Value};
use sha2::Digest;

/// How a sort key's value is read back for the cursor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum AtomType {
    Int,
    Real,
    Text,
}

/// One ORDER BY term.
#[derive(Debug, Clone)]
pub(super) struct Atom {
    pub(super) expr: SimpleExpr,
    pub(super) ty: AtomType,
    pub(super) descending: bool,
    pub(super) nullable: bool,
}

/// The selection and order of a query, as SQL.
pub struct Plan {
    /// `FROM … WHERE …` (no columns, no keyset condition), the filters driving.
    pub(super) selection: SelectStatement,
    /// The conditions of `selection` as checks on one task (for [`Walk`]s).
    pub(super) walk_where: Vec<SimpleExpr>,
    /// Set when an index gives the query's order.
    pub(super) walk: Option<Walk>,
    /// Index entries the walk may visit.
    pub(super) budget: i64,
    pub(super) archived: bool,
    pub(super) atoms: Vec<Atom>,
    /// Identifies the selection, so a cursor cannot be used with another query.
    pub(super) key: String,
    pub(super) backend: Backend,
}

/// An index that yields tasks in the query's order. Walking it and checking each task
/// against the filters finds a page after a few rows when many tasks match, where letting the
/// filters drive would first collect every match; a walk is tried over a bounded stretch of
/// the index ([`WALK_BUDGET`] entries) and the filters drive when it does not fill the page.
pub(super) enum Walk {
    /// No sort: the newest tasks first (the primary key).
    Newest,
    /// One metric column: its summaries index, tasks having the value.
    Metric { metric: String, variant: String, column: &'static str, descending: bool },
}

/// Index entries a walk may visit before the filters take over (five times as many within
/// a project).
pub(super) const WALK_BUDGET: i64 = 4_000;

pub(super) fn bad(param: &str, message: impl Into<String>) -> Error {
    Error::invalid(param, message.into())
}

/// The SQL of a built-in column's value (for filters and sorts), its type and whether it
/// may be missing. Tags have none: they are filtered through `task_tags` and never sorted on.
pub(crate) fn column_expr(b: Builtin, now: i64) -> (SimpleExpr, AtomType, bool) {
    let (column, ty, nullable) = match b {
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
            let millis =
                SimpleExpr::from(Func::coalesce([c("t.completed"), Expr::val(now).into()])).sub(c("t.started"));
            let seconds = SimpleExpr::from(Func::cast_as(millis, col("DOUBLE PRECISION"))).div(1000.0);
            return (seconds, AtomType::Real, true);
        }
        Builtin::Description => ("t.comment", AtomType::Text, false),
        Builtin::Queue => ("q.name", AtomType::Text, true),
        Builtin::Worker => ("t.worker", AtomType::Text, true),
        Builtin::Parent => ("t.parent", AtomType::Text, true),
        Builtin::Tags => return (SimpleExpr::Keyword(Keyword::Null), AtomType::Text, true),
    };
    (c(column), ty, nullable)
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
    let mut selection = Query::select();
    selection.from_as(col("tasks"), col("t")).join_as(
        JoinType::Join,
        col("projects"),
        col("p"),
        c("p.id").eq(c("t.project_id")),
    );
    // The scope (archive flag and project) twice: for the filters to drive, with their
    // indexes; and for walks, where the order's index must drive, as terms no index serves
    // (`+x`, `x || ''`), so the planner cannot pick one and sort everything it yields.
    let archived = q.archived as i64;
    let mut scope = vec![c("t.archived").eq(archived)];
    let mut walk_where = vec![Expr::cust("+t.archived").eq(archived)];
    if let Some(project) = ProjectScope::resolve(store, q.project.as_deref(), q.subprojects).await? {
        scope.push(project.on(c("t.project_id")));
        walk_where.push(project.on(Expr::cust("(t.project_id || '')")));
    }
    let mut cond = Vec::new();
    let mut need_users = false;
    let mut need_queues = false;
    if !q.ids.is_empty() {
        cond.push(c("t.id").is_in(q.ids.iter().map(String::as_str)));
    }
    if let Some(search) = &q.search {
        cond.push(
            contains(c("t.name"), search).or(contains(c("t.comment"), search)).or(c("t.id").eq(search.to_lowercase())),
        );
    }
    let mut members = Vec::new();
    for f in &q.filters {
        filter(&mut cond, &mut members, f, now)?;
    }

    // Sort keys: joined columns, tasks lacking a value last, the newest task first on ties.
    let mut atoms = Vec::new();
    let mut joins = Vec::new();
    let mut keys: Vec<SortKey> = Vec::new();
    if q.group {
        keys.push(SortKey { column: Column::Builtin(Builtin::Project), descending: false });
    }
    keys.extend(q.sort.iter().cloned());
    for (i, key) in keys.iter().enumerate() {
        let alias = format!("k{i}");
        let of = |column: &str| c(&format!("{alias}.{column}"));
        match &key.column {
            Column::Builtin(b) => {
                need_users |= *b == Builtin::User;
                need_queues |= *b == Builtin::Queue;
                let (expr, ty, nullable) = column_expr(*b, now);
                atoms.push(Atom { expr, ty, descending: key.descending, nullable });
            }
            Column::Metric { metric, variant, agg } => {
                let on = of("task_id")
                    .eq(c("t.id"))
                    .and(of("metric").eq(metric.as_str()))
                    .and(of("variant").eq(variant.as_str()));
                joins.push((col("scalar_summaries"), col(&alias), on));
                atoms.push(Atom {
                    expr: of(agg_column(*agg)),
                    ty: AtomType::Real,
                    descending: key.descending,
                    nullable: true,
                });
            }
            column => {
                let (section, param) = column.param().expect("the other columns");
                let on = of("task_id").eq(c("t.id")).and(of("section").eq(section)).and(of("name").eq(param));
                joins.push((col("task_params"), col(&alias), on));
                // Numbers first, in numeric order; then text; then tasks without the parameter.
                atoms.push(Atom { expr: of("num"), ty: AtomType::Real, descending: key.descending, nullable: true });
                atoms.push(Atom { expr: of("value"), ty: AtomType::Text, descending: key.descending, nullable: true });
            }
        }
    }
    if need_users {
        selection.join_as(JoinType::LeftJoin, col("users"), col("u"), c("u.id").eq(c("t.user_id")));
    }
    if need_queues {
        selection.join_as(JoinType::LeftJoin, col("queues"), col("q"), c("q.id").eq(c("t.queue_id")));
    }
    for (table, alias, on) in joins {
        selection.join_as(JoinType::LeftJoin, table, alias, on);
    }
    // Within a project (or given ids) its tasks drive, each checked; across all projects the
    // filters' own indexes drive.
    let scoped = q.project.is_some() || !q.ids.is_empty();
    walk_where.extend(cond.iter().cloned());
    for condition in scope.into_iter().chain(cond) {
        selection.and_where(condition);
    }
    for m in &members {
        selection.and_where(m.render(scoped));
        walk_where.push(m.render(true));
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
    Ok(Plan { selection, walk_where, walk, budget, archived: q.archived, atoms, key, backend: store.backend() })
}

/// A condition on another table's rows of the task: `t.id [NOT] IN (SELECT task_id FROM
/// <table> WHERE <cond>)` when the filters drive the query, or a correlated `[NOT] EXISTS` when
/// an index walk in sort order does.
struct Member {
    table: &'static str,
    cond: SimpleExpr,
    negate: bool,
}

impl Member {
    fn render(&self, correlated: bool) -> SimpleExpr {
        if correlated {
            let rows = Query::select()
                .expr(Expr::cust("1"))
                .from_as(col(self.table), col("m"))
                .and_where(c("m.task_id").eq(c("t.id")))
                .and_where(self.cond.clone())
                .to_owned();
            let exists = Expr::exists(rows);
            return if self.negate { exists.not() } else { exists };
        }
        let ids = Query::select().column(col("task_id")).from(col(self.table)).and_where(self.cond.clone()).to_owned();
        if self.negate {
            c("t.id").not_in_subquery(ids)
        } else {
            c("t.id").in_subquery(ids)
        }
    }
}

/// Adds one filter: a condition on the task's own columns to `cond`, or on another table's
/// rows to `members`.
fn filter(cond: &mut Vec<SimpleExpr>, members: &mut Vec<Member>, f: &Filter, now: i64) -> Result<()> {
    let member = |table, cond, negate| Member { table, cond, negate };
    match (&f.column, &f.op) {
        (Column::Builtin(Builtin::Tags), FilterOp::Tags { all, include, exclude }) => {
            if !include.is_empty() {
                if *all {
                    for tag in include {
                        members.push(member("task_tags", c("tag").eq(tag.as_str()), false));
                    }
                } else {
                    members.push(member("task_tags", c("tag").is_in(include.iter().map(String::as_str)), false));
                }
            }
            for tag in exclude {
                members.push(member("task_tags", c("tag").eq(tag.as_str()), true));
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
            let named = |table: &str| {
                Query::select().column(col("id")).from(col(table)).and_where(c("name").is_in(values.clone())).to_owned()
            };
            let inner = match b {
                Builtin::User => c("t.user_id").in_subquery(named("users")),
                Builtin::Queue => c("t.queue_id").in_subquery(named("queues")),
                _ => column_expr(*b, now).0.is_in(values.clone()),
            };
            // Negated, tasks lacking the value pass.
            cond.push(if *negate {
                SimpleExpr::from(Func::coalesce([inner, Expr::cust("FALSE")])).not()
            } else {
                inner
            });
        }
        (Column::Builtin(b), FilterOp::Range { min, max }) => {
            let (expr, ty, _) = column_expr(*b, now);
            cond.push(range(expr, min, max, ty == AtomType::Int));
        }
        (Column::Metric { metric, variant, agg }, FilterOp::Range { min, max }) => {
            let series = c("metric").eq(metric.as_str()).and(c("variant").eq(variant.as_str()));
            members.push(member("scalar_summaries", series.and(range(c(agg_column(*agg)), min, max, false)), false));
        }
        (column, FilterOp::Values { values, negate }) if column.param().is_some() => {
            let (section, param) = column.param().expect("checked");
            let values = c("value").is_in(values.iter().map(String::as_str));
            members.push(member("task_params", c("section").eq(section).and(c("name").eq(param)).and(values), *negate));
        }
        (column, FilterOp::Range { min, max }) if column.param().is_some() => {
            let (section, param) = column.param().expect("checked");
            let within = range(c("num"), min, max, false);
            members.push(member("task_params", c("section").eq(section).and(c("name").eq(param)).and(within), false));
        }
        (column, _) => return Err(bad("filter", format!("column '{column}' does not take that filter"))),
    }
    Ok(())
}

/// `lo <= expr <= hi` (or strict), as the bounds say; `expr IS NOT NULL` without bounds.
fn range(expr: SimpleExpr, min: &Option<Bound>, max: &Option<Bound>, integer: bool) -> SimpleExpr {
    let value = |v: f64| -> Value {
        if integer && v.fract() == 0.0 && v.abs() < 9.0e15 {
            (v as i64).into()
        } else {
            v.into()
        }
    };
    let lo = min.as_ref().map(|lo| {
        let op = if lo.inclusive { BinOper::GreaterThanOrEqual } else { BinOper::GreaterThan };
        expr.clone().binary(op, value(lo.value))
    });
    let hi = max.as_ref().map(|hi| {
        let op = if hi.inclusive { BinOper::SmallerThanOrEqual } else { BinOper::SmallerThan };
        expr.clone().binary(op, value(hi.value))
    });
    all(lo.into_iter().chain(hi)).unwrap_or_else(|| expr.is_not_null())
}

impl Plan {
    /// `FROM … WHERE …` of the whole selection (for counts and batch actions), no columns yet.
    pub fn selection(&self) -> SelectStatement {
        self.selection.clone()
    }

    /// Orders `statement` in the query's order (tasks lacking a value last, newest first on ties).
    pub fn order(&self, statement: &mut SelectStatement) {
        for a in &self.atoms {
            if a.nullable {
                statement.order_by_expr(a.expr.clone().is_null(), Order::Asc);
            }
            statement.order_by_expr(a.expr.clone(), if a.descending { Order::Desc } else { Order::Asc });
        }
        statement.order_by_expr(c("t.id"), Order::Desc);
    }
}
