//! ClearML's tag filters, and `tasks.update_tags`. A filter on a list field (`tags`, `system_tags`) is a
//! list of terms: a value includes, `-value` or `__$not value` excludes, `null` also matches an
//! empty list; `__$any`/`__$or` (the default) and `__$all`/`__$and` set how the includes that
//! follow combine, the first one also how the groups combine (else all must hold).

use crate::envelope::{str_list, Answer, ClearmlError};
use crate::Ctx;
use runyard_api::Action;
use runyard_daemon::store::Principal;
use serde_json::{json, Value};

/// A parsed list-field filter.
#[derive(Debug, Default)]
pub struct TagFilter {
    any: Vec<String>,
    all: Vec<String>,
    none: Vec<String>,
    /// The groups combine with OR (else AND).
    or: bool,
    allow_empty: bool,
}

impl TagFilter {
    /// The filter a request's `field` holds, if any.
    pub fn of(body: &Value, field: &str) -> Result<Option<TagFilter>, ClearmlError> {
        match body.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(terms)) => Self::parse(field, terms).map(Some),
            Some(one) => Self::parse(field, std::slice::from_ref(one)).map(Some),
        }
    }

    fn parse(field: &str, terms: &[Value]) -> Result<TagFilter, ClearmlError> {
        let bad = |why: String| ClearmlError::validation(format!("Validation error: {field}: {why}"));
        let mut filter = TagFilter::default();
        let (mut all_context, mut global, mut negate, mut legacy) = (false, None, false, true);
        for term in terms {
            let value = match term {
                Value::Null => {
                    filter.allow_empty = true;
                    continue;
                }
                Value::String(s) => s.as_str(),
                other => return Err(bad(format!("a string expected, not {other}"))),
            };
            match value {
                "__$not" => {
                    negate = true;
                    continue;
                }
                "__$all" | "__$and" | "__$any" | "__$or" => {
                    all_context = matches!(value, "__$all" | "__$and");
                    global.get_or_insert(all_context);
                    legacy = false;
                    continue;
                }
                "__$nop" => {
                    all_context = false;
                    continue;
                }
                op if op.starts_with("__$") => return Err(bad(format!("unsupported operator {op}"))),
                _ => {}
            }
            let (value, include) = match value.strip_prefix('-') {
                Some(rest) if legacy && !negate => (rest.to_string(), false),
                _ => (value.to_string(), !negate),
            };
            negate = false;
            if value.is_empty() {
                return Err(bad("an empty tag".into()));
            }
            match (include, all_context) {
                (false, _) => filter.none.push(value),
                (true, true) => filter.all.push(value),
                (true, false) => filter.any.push(value),
            }
        }
        filter.or = global == Some(false);
        let mut named = 0;
        for list in [&mut filter.any, &mut filter.all, &mut filter.none] {
            list.sort_unstable();
            list.dedup();
            named += list.len();
        }
        let most = runyard_daemon::services::tasks::MAX_TAG_FILTER;
        if named > most {
            return Err(bad(format!("names {named} tags, at most {most} are allowed")));
        }
        Ok(filter)
    }

    /// Whether a list of tags passes.
    pub fn matches(&self, have: &[String]) -> bool {
        let has = |t: &String| have.contains(t);
        let mut groups = Vec::with_capacity(3);
        if !self.any.is_empty() {
            groups.push(self.any.iter().any(has));
        }
        if !self.all.is_empty() {
            groups.push(self.all.iter().all(has));
        }
        if !self.none.is_empty() {
            groups.push(!self.none.iter().any(has));
        }
        let passed = groups.is_empty() || if self.or { groups.iter().any(|g| *g) } else { groups.iter().all(|g| *g) };
        passed || (self.allow_empty && have.is_empty())
    }

    /// The one tag a store query can preselect by (an include that every match has).
    pub fn required(&self) -> Option<&str> {
        match (self.any.as_slice(), self.all.as_slice()) {
            ([one], []) if !self.or && !self.allow_empty => Some(one),
            _ => None,
        }
    }
}

/// The tags of a document's list field.
pub fn of_doc(doc: &Value, field: &str) -> Vec<String> {
    doc[field].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect()
}

/// Keeps the documents that pass the request's `tags` and `system_tags` filters, and its
/// `filters` on them.
pub fn retain(docs: &mut Vec<Value>, body: &Value) -> Result<(), ClearmlError> {
    for field in ["tags", "system_tags"] {
        if let Some(filter) = TagFilter::of(body, field)? {
            docs.retain(|d| filter.matches(&of_doc(d, field)));
        }
        if let Some(filter) = ListFilter::of(body, field)? {
            docs.retain(|d| filter.matches(&of_doc(d, field)));
        }
    }
    Ok(())
}

/// `tasks.update_tags`: tags added to and removed from several tasks, in any state.
pub async fn update_task_tags(ctx: &Ctx, who: &Principal, body: &Value) -> Answer {
    let ids = str_list(body, "ids")?
        .filter(|ids| !ids.is_empty())
        .ok_or_else(|| ClearmlError::validation("Validation error: missing required field 'ids'"))?;
    for (field, action) in [("add_tags", Action::AddTag), ("remove_tags", Action::RemoveTag)] {
        let tags = str_list(body, field)?.unwrap_or_default();
        if !tags.is_empty() {
            let req = runyard_api::ActionRequest { ids: ids.clone(), tags, ..Default::default() };
            let response = ctx.tasks.act(who, action, req).await?;
            if let Some(why) = response.results.into_iter().find_map(|r| r.error) {
                let forbidden = ["belongs to another", "may not", "is not held by"].iter().any(|w| why.contains(w));
                return Err(ClearmlError::new(if forbidden { 403 } else { 400 }, 0, why));
            }
        }
    }
    Ok(json!({"updated": ids.len()}))
}

/// One part (`any` or `all`) of a `filters` entry: terms to include and to exclude (`null` for
/// an empty list).
#[derive(Debug, Default)]
struct Part {
    include: Vec<Option<String>>,
    exclude: Vec<Option<String>>,
}

/// A `filters` entry on a list field: `{any: {include, exclude}, all: {include, exclude}, op}`.
/// `any` holds when one of its terms does (an excluded tag holds when missing), `all` when all
/// do; the two combine by `op` (`and` unless `or`).
#[derive(Debug, Default)]
pub struct ListFilter {
    any: Option<Part>,
    all: Option<Part>,
    or: bool,
}

impl ListFilter {
    /// The request's `filters` on `field`, if any.
    pub fn of(body: &Value, field: &str) -> Result<Option<ListFilter>, ClearmlError> {
        let Some(spec) = body.get("filters").and_then(|f| f.get(field)) else { return Ok(None) };
        let bad = |why: &str| ClearmlError::validation(format!("Validation error: filters.{field}: {why}"));
        let spec = spec.as_object().ok_or_else(|| bad("must be an object"))?;
        let mut filter = ListFilter::default();
        for (key, value) in spec {
            let part = match key.as_str() {
                "op" => {
                    filter.or = match value.as_str() {
                        Some("and") => false,
                        Some("or") => true,
                        _ => return Err(bad("op is and or or")),
                    };
                    continue;
                }
                "any" => &mut filter.any,
                "all" => &mut filter.all,
                other => return Err(bad(&format!("unknown condition '{other}' (any, all or op)"))),
            };
            let mut parsed = Part::default();
            for (kind, terms) in value.as_object().ok_or_else(|| bad("a condition is an object"))? {
                let list = match kind.as_str() {
                    "include" => &mut parsed.include,
                    "exclude" => &mut parsed.exclude,
                    other => return Err(bad(&format!("unknown list '{other}' (include or exclude)"))),
                };
                for term in terms.as_array().ok_or_else(|| bad("include and exclude are lists"))? {
                    match term {
                        Value::Null => list.push(None),
                        Value::String(s) => list.push(Some(s.clone())),
                        _ => return Err(bad("terms are strings or null")),
                    }
                }
            }
            *part = Some(parsed);
        }
        Ok(Some(filter))
    }

    pub fn matches(&self, have: &[String]) -> bool {
        let included = |t: &Option<String>| t.as_ref().map_or(have.is_empty(), |t| have.contains(t));
        let excluded = |t: &Option<String>| !included(t);
        let any = self.any.as_ref().map(|p| {
            let mut pieces = Vec::new();
            if !p.include.is_empty() {
                pieces.push(p.include.iter().any(included));
            }
            if !p.exclude.is_empty() {
                pieces.push(p.exclude.iter().any(excluded));
            }
            pieces.is_empty() || pieces.iter().any(|x| *x)
        });
        let all = self.all.as_ref().map(|p| p.include.iter().all(included) && p.exclude.iter().all(excluded));
        match (any, all) {
            (Some(a), Some(b)) if self.or => a || b,
            (Some(a), Some(b)) => a && b,
            (Some(x), None) | (None, Some(x)) => x,
            (None, None) => true,
        }
    }
}
