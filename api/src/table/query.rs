//! The query: filters, sort keys, paging and columns, and its query-string form.

use super::*;
use crate::lifecycle::TaskStatus;
use crate::model::TaskType;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use std::fmt;

/// One end of a range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bound {
    pub value: f64,
    pub inclusive: bool,
}

/// What a filter keeps.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterOp {
    /// Tasks whose value is one of `values` (or, `negate`d, is none of them: tasks lacking
    /// the value pass).
    Values { values: Vec<String>, negate: bool },
    /// Numbers, and dates as milliseconds since the epoch (runtime in seconds).
    Range { min: Option<Bound>, max: Option<Bound> },
    /// Tags: any (or `all`) of `include`, none of `exclude`.
    Tags { all: bool, include: Vec<String>, exclude: Vec<String> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub column: Column,
    pub op: FilterOp,
}

/// Parses a number, or for date columns a date (`2026-11-27`, `2026-11-27T10:00`, RFC 3339 or
/// milliseconds since the epoch), to the value ranges compare.
fn bound_value(column: &Column, text: &str) -> Result<f64, String> {
    let text = text.trim();
    if column.kind() == ColumnKind::Date {
        if let Ok(ms) = text.parse::<i64>() {
            return Ok(ms as f64);
        }
        let parsed = DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .ok()
            .or_else(|| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M").ok().map(|t| t.and_utc()))
            .or_else(|| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").ok().map(|t| t.and_utc()))
            .or_else(|| {
                NaiveDate::parse_from_str(text, "%Y-%m-%d")
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|t| t.and_utc())
            });
        return parsed.map(|t| t.timestamp_millis() as f64).ok_or_else(|| {
            format!("column '{column}': '{text}' is not a date (2026-11-27, 2026-11-27T10:00 or RFC 3339)")
        });
    }
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("column '{column}': '{text}' is not a number")),
    }
}

fn render_bound(column: &Column, v: f64) -> String {
    if column.kind() == ColumnKind::Date {
        if let Some(t) = DateTime::<Utc>::from_timestamp_millis(v as i64) {
            return t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        }
    }
    format!("{v}")
}

fn list(text: &str) -> Result<Vec<String>, String> {
    text.split(',').map(str::trim).filter(|v| !v.is_empty()).map(|v| unescape(v, "value")).collect()
}

impl Filter {
    /// Parses one filter clause; several clauses of a range column are merged by
    /// [`TableQuery::add_filter`].
    pub fn parse(text: &str) -> Result<Filter, String> {
        let text = text.trim();
        let end = text.find(|c: char| c.is_whitespace() || "<>=!".contains(c)).unwrap_or(text.len());
        let column: Column = text[..end].parse()?;
        let rest = text[end..].trim_start();
        const OPS: [&str; 10] = ["<=", ">=", "!=", "<", ">", "=", "not in ", "in ", "any ", "all "];
        let op = OPS.into_iter().find(|op| rest.starts_with(op)).ok_or_else(|| {
            format!("filter '{text}': expected an operator (=, !=, <, <=, >, >=, in, not in, any, all)")
        })?;
        let value = rest[op.len()..].trim();
        if value.is_empty() {
            return Err(format!("filter '{text}': no value"));
        }
        let kind = column.kind();
        let wrong = |what: &str| Err(format!("filter '{text}': column '{column}' does not take {what}"));
        let op = match op.trim() {
            "any" | "all" | "=" | "in" if kind == ColumnKind::Tags => {
                let (mut include, mut exclude) = (Vec::new(), Vec::new());
                for tag in list(value)? {
                    match tag.strip_prefix('!') {
                        Some(t) => exclude.push(t.to_string()),
                        None => include.push(tag),
                    }
                }
                FilterOp::Tags { all: op.trim() == "all", include, exclude }
            }
            "any" | "all" => return wrong("'any'/'all' (only tags do)"),
            _ if kind == ColumnKind::Tags => return wrong("that operator (use 'tags any a,b,!c' or 'tags all a,b')"),
            "=" | "in"
                if value.contains("..")
                    && matches!(kind, ColumnKind::Number | ColumnKind::Date | ColumnKind::Param) =>
            {
                let (lo, hi) = value.split_once("..").expect("checked");
                let bound = |s: &str| -> Result<Option<Bound>, String> {
                    if s.trim().is_empty() {
                        Ok(None)
                    } else {
                        Ok(Some(Bound { value: bound_value(&column, s)?, inclusive: true }))
                    }
                };
                FilterOp::Range { min: bound(lo)?, max: bound(hi)? }
            }
            "=" | "in" | "!=" | "not in" if matches!(kind, ColumnKind::Text | ColumnKind::Param) => {
                let values = list(value)?;
                if column == Column::Builtin(Builtin::Status) {
                    if let Some(bad) = values.iter().find(|v| TaskStatus::parse(v).is_none()) {
                        return Err(format!("filter '{text}': '{bad}' is not a task status"));
                    }
                }
                if column == Column::Builtin(Builtin::Type) {
                    if let Some(bad) = values.iter().find(|v| TaskType::parse(v).is_none()) {
                        return Err(format!("filter '{text}': '{bad}' is not a task type"));
                    }
                }
                FilterOp::Values { values, negate: op.trim() != "=" && op.trim() != "in" }
            }
            "=" | "in" => {
                let v = bound_value(&column, value)?;
                FilterOp::Range {
                    min: Some(Bound { value: v, inclusive: true }),
                    max: Some(Bound { value: v, inclusive: true }),
                }
            }
            "!=" | "not in" => return wrong("'!=' (use a range)"),
            cmp if kind == ColumnKind::Text => return wrong(&format!("'{cmp}' (it holds text: use '=' or 'in')")),
            cmp => {
                let bound = Bound { value: bound_value(&column, value)?, inclusive: cmp.ends_with('=') };
                if cmp.starts_with('<') {
                    FilterOp::Range { min: None, max: Some(bound) }
                } else {
                    FilterOp::Range { min: Some(bound), max: None }
                }
            }
        };
        Ok(Filter { column, op })
    }

    /// The filter as clauses [`Filter::parse`] reads back (a two-sided range is two).
    pub fn clauses(&self) -> Vec<String> {
        let c = &self.column;
        let join = |vs: &[String]| vs.iter().map(|v| escape(v)).collect::<Vec<_>>().join(",");
        match &self.op {
            FilterOp::Values { values, negate } => {
                vec![format!("{c} {} {}", if *negate { "not in" } else { "in" }, join(values))]
            }
            FilterOp::Tags { all, include, exclude } => {
                let tags: Vec<String> = include
                    .iter()
                    .map(|t| escape(t))
                    .chain(exclude.iter().map(|t| format!("!{}", escape(t))))
                    .collect();
                vec![format!("{c} {} {}", if *all { "all" } else { "any" }, tags.join(","))]
            }
            FilterOp::Range { min, max } => match (min, max) {
                (Some(lo), Some(hi)) if lo.inclusive && hi.inclusive => {
                    vec![format!("{c}={}..{}", render_bound(c, lo.value), render_bound(c, hi.value))]
                }
                _ => {
                    let mut out = Vec::new();
                    if let Some(lo) = min {
                        out.push(format!("{c}{}{}", if lo.inclusive { ">=" } else { ">" }, render_bound(c, lo.value)));
                    }
                    if let Some(hi) = max {
                        out.push(format!("{c}{}{}", if hi.inclusive { "<=" } else { "<" }, render_bound(c, hi.value)));
                    }
                    out
                }
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub column: Column,
    pub descending: bool,
}

impl fmt::Display for SortKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", if self.descending { "-" } else { "" }, self.column)
    }
}

/// Everything that selects, orders and shapes a page of the task table. Its query-string
/// form ([`TableQuery::from_pairs`], [`TableQuery::to_query_string`]) is the API's request
/// and the UI's URL:
///
/// | parameter | meaning |
/// | --- | --- |
/// | `project` | a project path or id (default: all) |
/// | `subprojects` | `false`: only the project itself (default `true`) |
/// | `group` | `true`: rows grouped by subproject (the project sorts first) |
/// | `archived` | `true`: the archive instead of the active tasks |
/// | `search` | text in the name, description or id (case-insensitive) |
/// | `filter` | a filter clause; repeatable (all must hold) |
/// | `sort` | comma-separated column ids, `-` for descending |
/// | `columns` | comma-separated column ids, `!` before a hidden one, `~<px>` after for a width |
/// | `ids` | comma-separated task ids: only these tasks |
/// | `limit` | rows per page (default 50, at most 1000) |
/// | `cursor` | the `next` of the previous page |
#[derive(Debug, Clone, PartialEq)]
pub struct TableQuery {
    pub project: Option<String>,
    pub subprojects: bool,
    pub group: bool,
    pub archived: bool,
    pub search: Option<String>,
    pub filters: Vec<Filter>,
    pub sort: Vec<SortKey>,
    pub columns: Vec<ColumnSpec>,
    pub ids: Vec<String>,
    pub limit: u32,
    pub cursor: Option<String>,
}

impl Default for TableQuery {
    fn default() -> Self {
        TableQuery {
            project: None,
            subprojects: true,
            group: false,
            archived: false,
            search: None,
            filters: Vec::new(),
            sort: Vec::new(),
            columns: default_columns(),
            ids: Vec::new(),
            limit: DEFAULT_PAGE,
            cursor: None,
        }
    }
}

/// A query that does not parse: the parameter at fault and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{param}: {message}")]
pub struct QueryError {
    pub param: String,
    pub message: String,
}

fn flag(param: &str, value: &str) -> Result<bool, QueryError> {
    match value {
        "true" | "1" | "" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(QueryError { param: param.into(), message: format!("'{value}' is not true or false") }),
    }
}

impl TableQuery {
    /// Adds a filter; a range on a column already ranged narrows it (and a range whose
    /// minimum exceeds its maximum is refused).
    pub fn add_filter(&mut self, filter: Filter) -> Result<(), String> {
        if let FilterOp::Range { min, max } = &filter.op {
            if let Some(FilterOp::Range { min: m0, max: m1 }) = self
                .filters
                .iter_mut()
                .find(|f| f.column == filter.column && matches!(f.op, FilterOp::Range { .. }))
                .map(|f| &mut f.op)
            {
                if let Some(lo) = min {
                    if m0.is_none_or(|m| lo.value > m.value || (lo.value == m.value && !lo.inclusive)) {
                        *m0 = Some(*lo);
                    }
                }
                if let Some(hi) = max {
                    if m1.is_none_or(|m| hi.value < m.value || (hi.value == m.value && !hi.inclusive)) {
                        *m1 = Some(*hi);
                    }
                }
                return check_range(&filter.column, m0, m1);
            }
            check_range(&filter.column, min, max)?;
        }
        self.filters.push(filter);
        Ok(())
    }

    /// Reads a query string's pairs; the error names the parameter at fault.
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<TableQuery, QueryError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut q = TableQuery::default();
        let mut seen = std::collections::HashSet::new();
        for (key, value) in pairs {
            let (key, value) = (key.as_ref(), value.as_ref());
            let err = |message: String| QueryError { param: key.to_string(), message };
            if key != "filter" && !seen.insert(key.to_string()) {
                return Err(err("given twice".into()));
            }
            match key {
                "project" => q.project = Some(value.to_string()).filter(|p| !p.is_empty()),
                "subprojects" => q.subprojects = flag(key, value)?,
                "group" => q.group = flag(key, value)?,
                "archived" => q.archived = flag(key, value)?,
                "search" => q.search = Some(value.trim().to_string()).filter(|s| !s.is_empty()),
                "filter" => {
                    let filter = Filter::parse(value).map_err(err)?;
                    q.add_filter(filter).map_err(err)?;
                }
                "sort" => {
                    q.sort = value
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(|s| {
                            let (descending, id) = match s.strip_prefix('-') {
                                Some(id) => (true, id),
                                None => (false, s),
                            };
                            Ok(SortKey { column: id.parse().map_err(err)?, descending })
                        })
                        .collect::<Result<_, QueryError>>()?;
                    if q.sort.iter().any(|k| k.column == Column::Builtin(Builtin::Tags)) {
                        return Err(err("tasks cannot be sorted by their tags".into()));
                    }
                }
                "columns" => {
                    q.columns = value
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(|s| s.parse().map_err(err))
                        .collect::<Result<_, QueryError>>()?;
                }
                "ids" => {
                    q.ids = value.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect();
                    if let Some(bad) = q.ids.iter().find(|id| !crate::is_valid_id(id)) {
                        return Err(err(format!("'{bad}' is not a task id")));
                    }
                }
                "limit" => {
                    q.limit = value
                        .parse::<u32>()
                        .ok()
                        .filter(|l| (1..=MAX_PAGE).contains(l))
                        .ok_or_else(|| err(format!("'{value}' is not a page size from 1 to {MAX_PAGE}")))?
                }
                "cursor" => q.cursor = Some(value.to_string()).filter(|c| !c.is_empty()),
                _ => return Err(err("unknown parameter (project, subprojects, group, archived, search, filter, sort, columns, ids, limit, cursor)".into())),
            }
        }
        Ok(q)
    }

    /// Parses a query string (`a=b&c=d`, without the `?`).
    pub fn from_query_string(query: &str) -> Result<TableQuery, QueryError> {
        TableQuery::from_pairs(form_urlencoded::parse(query.as_bytes()))
    }

    /// The query's pairs, defaults left out, in a stable order.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(p) = &self.project {
            out.push(("project", p.clone()));
        }
        if !self.subprojects {
            out.push(("subprojects", "false".into()));
        }
        if self.group {
            out.push(("group", "true".into()));
        }
        if self.archived {
            out.push(("archived", "true".into()));
        }
        if let Some(s) = &self.search {
            out.push(("search", s.clone()));
        }
        for f in &self.filters {
            out.extend(f.clauses().into_iter().map(|c| ("filter", c)));
        }
        if !self.sort.is_empty() {
            out.push(("sort", self.sort.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")));
        }
        if self.columns != default_columns() {
            out.push(("columns", self.columns.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")));
        }
        if !self.ids.is_empty() {
            out.push(("ids", self.ids.join(",")));
        }
        if self.limit != DEFAULT_PAGE {
            out.push(("limit", self.limit.to_string()));
        }
        if let Some(c) = &self.cursor {
            out.push(("cursor", c.clone()));
        }
        out
    }

    /// The query as a URL query string (without the `?`).
    pub fn to_query_string(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.to_pairs() {
            s.append_pair(k, &v);
        }
        s.finish()
    }

    /// What selects and orders the rows (not the columns, page size or cursor): a cursor
    /// belongs to the query with the same selection.
    pub fn selection_key(&self) -> String {
        let q = TableQuery { columns: default_columns(), limit: DEFAULT_PAGE, cursor: None, ..self.clone() };
        q.to_query_string()
    }

    /// The columns shown, in order.
    pub fn visible_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| !c.hidden).map(|c| &c.column)
    }
}

fn check_range(column: &Column, min: &Option<Bound>, max: &Option<Bound>) -> Result<(), String> {
    if let (Some(lo), Some(hi)) = (min, max) {
        if lo.value > hi.value || (lo.value == hi.value && !(lo.inclusive && hi.inclusive)) {
            return Err(format!(
                "column '{column}': the range is empty (minimum {} above maximum {})",
                render_bound(column, lo.value),
                render_bound(column, hi.value)
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_round_trip_with_escaped_names() {
        for id in ["name", "metric:train%2Floss/val.max", "param:Args/lr", "prop:my%20prop", "metric:a%2Eb/c.last"] {
            let c: Column = id.parse().unwrap();
            assert_eq!(c.to_string(), id);
        }
        let c: Column = "metric:train%2Floss/val.max".parse().unwrap();
        assert_eq!(c, Column::Metric { metric: "train/loss".into(), variant: "val".into(), agg: Agg::Max });
        for bad in ["nope", "metric:loss.last", "metric:loss/val.avg", "param:lr", "prop:", "metric:/v.last"] {
            assert!(bad.parse::<Column>().is_err(), "{bad}");
        }
    }

    #[test]
    fn filters_parse_and_render() {
        let q = TableQuery::from_query_string(
            "filter=metric:loss/train.last%3C0.3&filter=param:Args/lr+in+0.01,0.1&filter=tags+any+a,!b\
             &filter=started=2026-11-01..2026-11-27&sort=-metric:acc/val.max,name&search=res",
        )
        .unwrap();
        assert_eq!(q.filters.len(), 4);
        assert_eq!(q.filters[0].op, FilterOp::Range { min: None, max: Some(Bound { value: 0.3, inclusive: false }) });
        assert_eq!(q.filters[1].op, FilterOp::Values { values: vec!["0.01".into(), "0.1".into()], negate: false });
        assert_eq!(
            q.filters[2].op,
            FilterOp::Tags { all: false, include: vec!["a".into()], exclude: vec!["b".into()] }
        );
        assert!(q.sort[0].descending);
        let again = TableQuery::from_query_string(&q.to_query_string()).unwrap();
        assert_eq!(again, q);
    }

    #[test]
    fn ranges_narrow_and_empty_ones_are_refused() {
        let q = TableQuery::from_query_string("filter=iteration>=10&filter=iteration<20").unwrap();
        assert_eq!(q.filters.len(), 1);
        assert_eq!(
            q.filters[0].op,
            FilterOp::Range {
                min: Some(Bound { value: 10.0, inclusive: true }),
                max: Some(Bound { value: 20.0, inclusive: false })
            }
        );
        let again = TableQuery::from_query_string(&q.to_query_string()).unwrap();
        assert_eq!(again, q);
        for bad in [
            "filter=iteration=5..2",
            "filter=iteration>5&filter=iteration<5",
            "filter=iteration<abc",
            "filter=name<3",
            "filter=status+in+done",
            "filter=tags<3",
            "filter=started>yesterday",
            "filter=iteration",
            "sort=tags",
            "columns=bogus",
            "limit=0",
            "what=1",
            "ids=xyz",
            "search=a&search=b",
        ] {
            let err = TableQuery::from_query_string(bad).unwrap_err();
            assert!(bad.starts_with(&err.param), "{bad}: {err}");
        }
    }

    #[test]
    fn columns_keep_widths_and_hidden_flags() {
        let q = TableQuery::from_query_string("columns=name~240,!user,metric:loss/val.last").unwrap();
        assert_eq!(q.columns[0].width, Some(240));
        assert!(q.columns[1].hidden);
        assert_eq!(q.visible_columns().count(), 2);
        assert_eq!(TableQuery::from_query_string(&q.to_query_string()).unwrap(), q);
    }

    proptest::proptest! {
        /// Any query string is parsed or refused naming a parameter, never a panic; what parses
        /// renders to a query string that parses back to the same query.
        #[test]
        fn any_query_string_parses_or_is_refused_and_round_trips(
            pairs in proptest::collection::vec(
                (
                    "filter|sort|columns|search|project|limit|group|archived|ids|subprojects|x",
                    "[a-z0-9:/.,<>=!+~-]{0,16}|status in created|metric:loss/val.last<0.5|param:Args/lr in 0.1,1|tags any a,!b|name",
                ),
                0..6,
            )
        ) {
            let mut s = form_urlencoded::Serializer::new(String::new());
            for (k, v) in &pairs {
                s.append_pair(k, v);
            }
            match TableQuery::from_query_string(&s.finish()) {
                Ok(q) => proptest::prop_assert_eq!(TableQuery::from_query_string(&q.to_query_string()).expect("renders parseably"), q),
                Err(e) => proptest::prop_assert!(!e.param.is_empty(), "{e:?}"),
            }
        }
    }
}
