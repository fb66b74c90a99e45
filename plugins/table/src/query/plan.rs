//! Planning: a query's filters, sort keys and scope as SQL, and how its ids will be found
//! (walking an index that gives the order, or letting the filters drive).

use crate::scope::ProjectScope;
use crate::sql::{like_pattern, Sql};
use runyard_api::table::*;
use runyard_api::{TaskStatus, TaskType};
use runyard_daemon::error::{Error, Result};
use runyard_daemon::store::{Backend, Store};
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
    pub(super) expr: String,
    pub(super) ty: AtomType,
    pub(super) descending: bool,
    pub(super) nullable: bool,
}

/// The selection and order of a query, as SQL.
pub struct Plan {
    /// `FROM … WHERE …` (without the keyset condition), the filters driving.
    pub(super) from_where: Sql,
    /// The conditions of `from_where` as checks on one task (for [`Walk`]s).
    pub(super) walk_where: Sql,
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
}
