//! The rules the API keeps on names, lists and numbers, stated once: the daemon checks values
//! with them, and [`document`] writes them into the API document, so a client generated from the
//! document knows every rule a request must keep.

use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::schema::{
    AdditionalProperties, AllOfBuilder, ArrayBuilder, ArrayItems, Object, ObjectBuilder, OneOfBuilder, Schema,
    SchemaType, Type,
};
use utoipa::openapi::{OpenApi, RefOr, Required};

/// Control characters (Unicode Cc), as the body of a regex class.
const CONTROL: &str = r"\u0000-\u001f\u007f-\u009f";

/// A one-line name: 1 to `max` characters, not blank, no control characters, and no '/' unless
/// `slash`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NameRule {
    pub max: usize,
    pub slash: bool,
}

pub const TASK_NAME: NameRule = NameRule { max: 1024, slash: true };
pub const TAG: NameRule = NameRule { max: 255, slash: true };
pub const QUEUE_NAME: NameRule = NameRule { max: 128, slash: false };
pub const WORKER_ID: NameRule = NameRule { max: 255, slash: false };
pub const USER_NAME: NameRule = NameRule { max: 128, slash: true };
pub const VIEW_NAME: NameRule = NameRule { max: 200, slash: true };
/// The longest project path.
pub const PROJECT_PATH_MAX: usize = 255;
/// The longest a long-poll waits, in seconds.
pub const MAX_WAIT_SECONDS: f64 = 60.0;
/// The most tasks, or console lines, one page of `GET /api/v1/tasks` (or a console read) holds.
pub const MAX_LIST_PAGE: u32 = 10_000;
/// The longest a worker may stay silent before it is dropped, in seconds (a week).
pub const MAX_WORKER_TIMEOUT_SECONDS: u64 = 7 * 24 * 3600;

impl NameRule {
    /// Why `value` breaks the rule, if it does.
    pub fn check(&self, value: &str) -> Result<(), String> {
        if value.trim().is_empty() {
            return Err("must not be empty".into());
        }
        if value.chars().count() > self.max {
            return Err(format!("must be at most {} characters", self.max));
        }
        if value.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        if !self.slash && value.contains('/') {
            return Err("must not contain '/'".into());
        }
        Ok(())
    }

    /// The rule as a regular expression (ECMA-262, as JSON Schema takes it).
    pub fn pattern(&self) -> String {
        let banned = if self.slash { CONTROL.to_string() } else { format!("/{CONTROL}") };
        format!(r"^[^{banned}]*[^\s{banned}][^{banned}]*$")
    }
}

/// A project path as a regular expression: segments separated by '/', none empty, none starting
/// or ending with a space, no control characters. (`.` and `..` segments are refused as well.)
pub fn project_path_pattern() -> String {
    let segment = format!(r"[^/\s{CONTROL}](?:[^/{CONTROL}]*[^/\s{CONTROL}])?");
    format!("^{segment}(?:/{segment})*$")
}

/// What the document states of one property.
#[derive(Clone, Copy, Debug)]
pub enum Rule {
    Name(NameRule),
    /// An array of names, each keeping the rule.
    Names(NameRule),
    ProjectPath,
    /// An array of at least this many items.
    MinItems(usize),
    /// A number in this closed range.
    Range(f64, f64),
    /// Text of at least one character.
    NonEmpty,
    /// Text matching the regular expression made by the function.
    Pattern(fn() -> String),
    /// One of the words the function gives.
    OneOf(fn() -> Vec<&'static str>),
    /// 0 (no limit) or an integer in this closed range.
    ZeroOrRange(f64, f64),
}

/// The ends of a queue a task moves to.
pub fn move_ends() -> Vec<&'static str> {
    vec!["top", "bottom"]
}

/// The actions `POST /api/v1/tasks/…/{action}` takes: all but `edit` (a PATCH of the task).
pub fn task_actions() -> Vec<&'static str> {
    crate::Action::ALL.into_iter().filter(|a| *a != crate::Action::Edit).map(crate::Action::as_str).collect()
}

/// A property of a schema and the rule it keeps.
pub struct Documented {
    pub schema: &'static str,
    pub property: &'static str,
    pub rule: Rule,
    /// The request must carry it (its default does not keep the rule).
    pub required: bool,
}

const fn at(schema: &'static str, property: &'static str, rule: Rule, required: bool) -> Documented {
    Documented { schema, property, rule, required }
}

/// Where each rule applies.
pub const DOCUMENTED: &[Documented] = &[
    at("CreateTask", "name", Rule::Name(TASK_NAME), true),
    at("CreateTask", "tags", Rule::Names(TAG), false),
    at("CreateTask", "project", Rule::ProjectPath, false),
    at("EditTask", "name", Rule::Name(TASK_NAME), false),
    at("EditTask", "tags", Rule::Names(TAG), false),
    at("ActionRequest", "name", Rule::Name(TASK_NAME), false),
    at("ActionRequest", "tags", Rule::Names(TAG), false),
    at("ActionRequest", "project", Rule::ProjectPath, false),
    at("CreateProject", "name", Rule::ProjectPath, true),
    at("UpdateProject", "name", Rule::ProjectPath, false),
    at("CreateQueue", "name", Rule::Name(QUEUE_NAME), true),
    at("RenameQueue", "name", Rule::Name(QUEUE_NAME), true),
    at("RegisterWorker", "id", Rule::Name(WORKER_ID), true),
    at("RegisterWorker", "queues", Rule::MinItems(1), true),
    at("RegisterWorker", "timeout_seconds", Rule::Range(1.0, MAX_WORKER_TIMEOUT_SECONDS as f64), false),
    at("PopRequest", "queues", Rule::MinItems(1), true),
    at("PopRequest", "wait_seconds", Rule::Range(0.0, MAX_WAIT_SECONDS), false),
    at("CreateUser", "name", Rule::Name(USER_NAME), true),
    at("AppendConsole", "text", Rule::NonEmpty, true),
    at("MoveEntry", "to", Rule::OneOf(move_ends), false),
    at("SaveView", "name", Rule::Name(VIEW_NAME), true),
    at("UpdateView", "name", Rule::Name(VIEW_NAME), false),
];

/// Parameters (of the query or the path) and the rules they keep: `schema` is the operation's
/// path (every method of it), `property` the parameter.
pub const PARAMETERS: &[Documented] = &[
    at("/api/v1/table/actions/{action}", "action", Rule::OneOf(task_actions), true),
    at("/api/v1/scalars", "tasks", Rule::NonEmpty, true),
    at("/api/v1/plots", "tasks", Rule::NonEmpty, true),
    at("/api/v1/single-values", "tasks", Rule::NonEmpty, true),
    at("/api/v1/tasks/{id}/scalars/raw", "metric", Rule::NonEmpty, true),
    at("/api/v1/tasks/{id}/scalars/raw", "variant", Rule::NonEmpty, true),
    at("/api/v1/table/values", "column", Rule::Pattern(crate::table::value_set_column_pattern), true),
    at("/api/v1/table/values", "limit", Rule::Range(1.0, crate::table::MAX_PAGE as f64), false),
    at("/api/v1/tasks/{id}/console", "wait_seconds", Rule::Range(0.0, MAX_WAIT_SECONDS), false),
    at("/api/v1/tasks/{id}/console", "limit", Rule::Range(1.0, MAX_LIST_PAGE as f64), false),
    at("/api/v1/tasks", "limit", Rule::Range(1.0, MAX_LIST_PAGE as f64), false),
    at("/api/v1/tasks/{id}/scalars/raw", "limit", Rule::Range(1.0, crate::tracking::MAX_POINTS as f64), false),
    at("/api/v1/scalars", "points", Rule::ZeroOrRange(2.0, crate::tracking::MAX_POINTS as f64), false),
];

/// Batch action requests (`…/actions/{action}`) name their tasks in `ids`; a one-task request
/// (`/api/v1/tasks/{id}/{action}`) has its task in the path and no `ids`.
const BATCH_REQUEST: &str = "BatchActionRequest";
const BATCH_PATHS: &[&str] = &["/api/v1/tasks/actions/{action}"];

/// What an action's request must carry besides its tasks.
pub const ACTION_NEEDS: &[(crate::Action, &[(&str, Rule)])] = &[
    (crate::Action::Move, &[("project", Rule::ProjectPath)]),
    (crate::Action::AddTag, &[("tags", Rule::Names(TAG))]),
    (crate::Action::RemoveTag, &[("tags", Rule::Names(TAG))]),
];

/// The `{action}` operations the document writes out one per action (`…/enqueue`, `…/move`),
/// each with the body it takes, as their request schemas differ by action.
const PER_ACTION: &[(&str, &str)] =
    &[("/api/v1/tasks/{id}/{action}", "ActionRequest"), ("/api/v1/tasks/actions/{action}", BATCH_REQUEST)];

/// Maps whose keys are never blank: (schema, property, levels of nested maps).
const NAMED_KEYS: &[(&str, &str, usize)] = &[
    ("CreateTask", "hyperparams", 2),
    ("CreateTask", "configuration", 1),
    ("EditTask", "hyperparams", 2),
    ("EditTask", "configuration", 1),
];

/// Schemas that need exactly one of some properties.
pub const ONE_OF: &[(&str, &[&str])] =
    &[("CreateTask", &["project", "project_id"]), ("MoveEntry", &["to", "position", "before", "after"])];

/// Writes [`DOCUMENTED`] and [`ONE_OF`] into `doc`'s schemas; names the entries whose schema
/// or property it lacks (an entry out of date).
pub fn document(doc: &mut OpenApi) -> Vec<String> {
    let mut missing = Vec::new();
    let schemas = &mut doc.components.get_or_insert_with(Default::default).schemas;
    for d in DOCUMENTED {
        let Some(RefOr::T(Schema::Object(object))) = schemas.get_mut(d.schema) else {
            missing.push(format!("{}.{}", d.schema, d.property));
            continue;
        };
        match object.properties.get_mut(d.property) {
            Some(RefOr::T(target)) => apply(target, d.rule, d.required),
            _ => missing.push(format!("{}.{}", d.schema, d.property)),
        }
        if d.required && !object.required.iter().any(|r| r == d.property) {
            object.required.push(d.property.to_string());
        }
    }
    for (schema, property, levels) in NAMED_KEYS {
        let map = match schemas.get_mut(*schema) {
            Some(RefOr::T(Schema::Object(o))) => o.properties.get_mut(*property),
            _ => None,
        };
        match map {
            Some(RefOr::T(map)) => keys_not_blank(map, *levels),
            _ => missing.push(format!("{schema}.{property}")),
        }
    }
    for d in PARAMETERS {
        let parameter = doc
            .paths
            .paths
            .get_mut(d.schema)
            .into_iter()
            .flat_map(operations)
            .find_map(|op| op.parameters.as_mut()?.iter_mut().find(|p| p.name == d.property));
        let Some(parameter) = parameter else {
            missing.push(format!("{} ?{}", d.schema, d.property));
            continue;
        };
        if d.required {
            parameter.required = Required::True;
        }
        if let Rule::OneOf(names) = d.rule {
            let text = ObjectBuilder::new().schema_type(Type::String).enum_values(Some(names()));
            parameter.schema = Some(RefOr::T(Schema::Object(text.build())));
        } else if let Rule::ZeroOrRange(min, max) = d.rule {
            let zero = ObjectBuilder::new().schema_type(Type::Integer).enum_values(Some([0]));
            let range = ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(min)).maximum(Some(max));
            let either = OneOfBuilder::new().item(zero).item(range).build();
            parameter.schema = Some(RefOr::T(Schema::OneOf(either)));
        } else if let Some(RefOr::T(schema)) = parameter.schema.as_mut() {
            apply(schema, d.rule, d.required);
        }
    }
    let schemas = &mut doc.components.get_or_insert_with(Default::default).schemas;
    for (schema, properties) in ONE_OF {
        let Some(RefOr::T(Schema::Object(object))) = schemas.get(*schema) else {
            missing.push(schema.to_string());
            continue;
        };
        // Present and not null; the others absent or null.
        let needs = |p: &str| {
            let mut branch = ObjectBuilder::new().required(p);
            for other in properties.iter().copied() {
                let Some(RefOr::T(Schema::Object(declared))) = object.properties.get(other) else { continue };
                let mut declared = declared.clone();
                if other == p {
                    not_null(&mut declared.schema_type);
                } else {
                    declared = ObjectBuilder::new().schema_type(Type::Null).build();
                }
                branch = branch.property(other, declared);
            }
            RefOr::T(Schema::Object(branch.build()))
        };
        let one = properties.iter().fold(OneOfBuilder::new(), |one, p| one.item(needs(p))).build();
        let both = AllOfBuilder::new()
            .item(RefOr::T(Schema::Object(object.clone())))
            .item(RefOr::T(Schema::OneOf(one)))
            .build();
        schemas.insert(schema.to_string(), RefOr::T(Schema::AllOf(both)));
    }
    split_action_requests(doc, &mut missing);
    one_operation_per_action(doc, &mut missing);
    query_parameters_not_null(doc);
    // An error message may quote the text it refuses, NUL included.
    for (name, schema) in doc.components.iter_mut().flat_map(|c| c.schemas.iter_mut()) {
        if let (RefOr::T(schema), false) = (schema, name.starts_with("Error")) {
            text_without_nul(schema);
        }
    }
    missing
}

/// Text never holds NUL (`\u0000`): every backend refuses it alike. States it on every string
/// and map key that has no pattern of its own.
fn text_without_nul(schema: &mut Schema) {
    let mut nested = |s: &mut RefOr<Schema>| {
        if let RefOr::T(s) = s {
            text_without_nul(s);
        }
    };
    match schema {
        Schema::Object(o) => {
            let text = match &o.schema_type {
                SchemaType::Type(t) => *t == Type::String,
                SchemaType::Array(types) => types.contains(&Type::String),
                SchemaType::AnyValue => false,
            };
            if text && o.pattern.is_none() && o.enum_values.is_none() {
                o.pattern = Some(r"^[^\u0000]*$".into());
            }
            if let Some(Schema::Object(keys)) = o.property_names.as_deref_mut() {
                if keys.pattern.is_none() {
                    keys.pattern = Some(r"^[^\u0000]*$".into());
                }
            }
            o.properties.values_mut().for_each(&mut nested);
            if let Some(AdditionalProperties::RefOr(s)) = o.additional_properties.as_deref_mut() {
                nested(s);
            }
        }
        Schema::Array(a) => {
            if let ArrayItems::RefOrSchema(item) = &mut a.items {
                nested(item);
            }
        }
        Schema::OneOf(one) => one.items.iter_mut().for_each(nested),
        Schema::AllOf(all) => all.items.iter_mut().for_each(nested),
        Schema::AnyOf(any) => any.items.iter_mut().for_each(nested),
        _ => {}
    }
}

/// Writes each of [`PER_ACTION`]'s operations out once per action: its path with the action in
/// place of `{action}`, its body the request schema plus what [`ACTION_NEEDS`] says.
fn one_operation_per_action(doc: &mut OpenApi, missing: &mut Vec<String>) {
    for (generic, request) in PER_ACTION {
        let Some(item) = doc.paths.paths.remove(*generic) else {
            missing.push(generic.to_string());
            continue;
        };
        for action in task_actions() {
            let mut item = item.clone();
            let Some(op) = item.post.as_mut() else { continue };
            op.operation_id = op.operation_id.as_ref().map(|id| format!("{id}_{action}"));
            if let Some(parameters) = op.parameters.as_mut() {
                parameters.retain(|p| p.name != "action");
            }
            let base = RefOr::Ref(utoipa::openapi::Ref::from_schema_name(*request));
            let needs = ACTION_NEEDS.iter().find(|(a, _)| a.as_str() == action).map_or(&[][..], |(_, n)| *n);
            let schema = if needs.is_empty() {
                base
            } else {
                let mut extra = ObjectBuilder::new();
                for (field, rule) in needs.iter() {
                    extra = extra.required(*field).property(*field, needed(*rule));
                }
                RefOr::T(Schema::AllOf(AllOfBuilder::new().item(base).item(extra).build()))
            };
            for content in op.request_body.iter_mut().flat_map(|b| b.content.values_mut()) {
                content.schema = Some(schema.clone());
            }
            doc.paths.paths.insert(generic.replace("{action}", action), item);
        }
    }
}

/// A field an action needs, as it must be: present, and keeping its rule (a list of names has
/// at least one).
fn needed(rule: Rule) -> RefOr<Schema> {
    let text = ObjectBuilder::new().schema_type(Type::String);
    let mut schema = match rule {
        Rule::Names(_) => Schema::Array(ArrayBuilder::new().items(text).min_items(Some(1)).build()),
        _ => Schema::Object(text.build()),
    };
    apply(&mut schema, rule, true);
    RefOr::T(schema)
}

/// [`BATCH_REQUEST`]: the action request with `ids` required (at least one); the one-task
/// `ActionRequest` without `ids`.
fn split_action_requests(doc: &mut OpenApi, missing: &mut Vec<String>) {
    let schemas = &mut doc.components.get_or_insert_with(Default::default).schemas;
    let Some(RefOr::T(Schema::Object(single))) = schemas.get_mut("ActionRequest") else {
        missing.push("ActionRequest".into());
        return;
    };
    let mut batch = single.clone();
    single.properties.remove("ids");
    if let Some(RefOr::T(Schema::Array(ids))) = batch.properties.get_mut("ids") {
        ids.min_items = Some(1);
        ids.default = None;
    }
    batch.required.push("ids".into());
    schemas.insert(BATCH_REQUEST.into(), RefOr::T(Schema::Object(batch)));
    for path in BATCH_PATHS {
        let body = doc.paths.paths.get_mut(*path).and_then(|item| item.post.as_mut()?.request_body.as_mut());
        let Some(body) = body else {
            missing.push(path.to_string());
            continue;
        };
        for content in body.content.values_mut() {
            content.schema = Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(BATCH_REQUEST)));
        }
    }
}

/// A map's keys, and those of the maps it holds `levels` deep, not blank.
fn keys_not_blank(map: &mut Schema, levels: usize) {
    let Schema::Object(o) = map else { return };
    if levels == 0 {
        return;
    }
    let keys = ObjectBuilder::new().schema_type(Type::String).pattern(Some(r"^[^\u0000]*[^\s\u0000][^\u0000]*$"));
    o.property_names = Some(Box::new(Schema::Object(keys.build())));
    if let Some(AdditionalProperties::RefOr(RefOr::T(inner))) = o.additional_properties.as_deref_mut() {
        keys_not_blank(inner, levels - 1);
    }
}

/// The type without `null`.
fn not_null(schema_type: &mut SchemaType) {
    if let SchemaType::Array(types) = schema_type {
        let kept: Vec<Type> = types.iter().filter(|t| **t != Type::Null).cloned().collect();
        *schema_type = match kept.as_slice() {
            [one] => SchemaType::Type(one.clone()),
            _ => SchemaType::Array(kept),
        };
    }
}

/// A query parameter is absent or has a value: an `Option` is "not required", never `null`.
fn query_parameters_not_null(doc: &mut OpenApi) {
    let parameters =
        doc.paths.paths.values_mut().flat_map(operations).flat_map(|op| op.parameters.iter_mut().flatten());
    for parameter in parameters.filter(|p| p.parameter_in == ParameterIn::Query) {
        match parameter.schema.as_mut() {
            Some(RefOr::T(Schema::Object(o))) => not_null(&mut o.schema_type),
            Some(RefOr::T(Schema::OneOf(one))) => {
                let is_null = |s: &RefOr<Schema>| matches!(s, RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::Null));
                one.items.retain(|s| !is_null(s));
                if one.items.len() == 1 {
                    parameter.schema = one.items.pop();
                }
            }
            _ => {}
        }
    }
}

/// The operations of a path, whatever their method.
fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete].into_iter().flatten()
}

fn apply(target: &mut Schema, rule: Rule, required: bool) {
    match (target, rule) {
        (Schema::Object(o), Rule::Name(name)) => {
            name_schema(o, name);
            if required {
                o.default = None;
            }
        }
        (Schema::Object(o), Rule::ProjectPath) => {
            if required {
                o.default = None;
            }
            o.min_length = Some(1);
            o.max_length = Some(PROJECT_PATH_MAX);
            o.pattern = Some(project_path_pattern());
        }
        (Schema::Object(o), Rule::Range(min, max)) => {
            o.minimum = Some(min.into());
            o.maximum = Some(max.into());
        }
        (Schema::Object(o), Rule::NonEmpty) => o.min_length = Some(1),
        (Schema::Object(o), Rule::OneOf(words)) => {
            let mut values: Vec<serde_json::Value> = words().into_iter().map(Into::into).collect();
            if matches!(&o.schema_type, SchemaType::Array(types) if types.contains(&Type::Null)) {
                values.push(serde_json::Value::Null);
            }
            o.enum_values = Some(values);
        }
        (Schema::Object(o), Rule::Pattern(pattern)) => {
            o.min_length = Some(1);
            o.pattern = Some(pattern());
        }
        (Schema::Array(a), Rule::MinItems(n)) => {
            a.min_items = Some(n);
            if required {
                a.default = None;
            }
        }
        (Schema::Array(a), Rule::Names(name)) => {
            if let ArrayItems::RefOrSchema(item) = &mut a.items {
                if let RefOr::T(Schema::Object(o)) = item.as_mut() {
                    name_schema(o, name);
                }
            }
        }
        // An optional property is `oneOf [null, T]` or a type array: constrain its non-null part.
        (Schema::OneOf(one), rule) => {
            for item in one.items.iter_mut() {
                if let RefOr::T(s) = item {
                    apply(s, rule, required);
                }
            }
        }
        _ => {}
    }
}

fn name_schema(o: &mut Object, rule: NameRule) {
    o.min_length = Some(1);
    o.max_length = Some(rule.max);
    o.pattern = Some(rule.pattern());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pattern and the check agree, on edge cases of every kind.
    #[test]
    fn patterns_state_the_checks() {
        let samples = [
            "a",
            " a",
            "a ",
            "   ",
            "",
            "a/b",
            "/",
            "a\nb",
            "a\u{7f}",
            "a\u{85}",
            "\u{a0}",
            "\u{3000}x",
            "ü",
            "tab\t",
            "a b",
            "\u{feff}",
        ];
        for rule in [TASK_NAME, QUEUE_NAME, NameRule { max: 3, slash: true }] {
            let re = regex::Regex::new(&rule.pattern()).unwrap();
            for s in samples.iter().copied().chain(["abcd", "ab\u{e9}"]) {
                let by_length = s.chars().count() <= rule.max;
                assert_eq!(rule.check(s).is_ok(), re.is_match(s) && by_length, "{rule:?} on {s:?}");
            }
        }
        let re = regex::Regex::new(&project_path_pattern()).unwrap();
        for s in ["a", "a/b/c", "vision models/res net-50", "", " ", "a//b", "/a", "a/", " a", "a /b", "a\nb"] {
            assert_eq!(crate::validate_project_name(s).is_ok(), re.is_match(s), "{s:?}");
        }
    }
}
