//! ClearML's task document as a view of Runyard's `Task`, both ways, as pure functions: a task
//! to the document (and a projection of it), and the document's parts (script, parameters,
//! configuration, requirements) to Runyard's.

use runyard_api::tracking::MetricSummary;
use runyard_api::{ConfigItem, Container, ModelRef, Param, Script, Task};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub fn iso(t: chrono::DateTime<chrono::Utc>) -> Value {
    Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, false))
}

/// A task as ClearML's task document.
pub fn document(t: &Task) -> Value {
    let hyperparams: Map<String, Value> = t
        .hyperparams
        .iter()
        .map(|(section, params)| {
            let params: Map<String, Value> =
                params.iter().map(|(name, p)| (name.clone(), param_item(section, name, p))).collect();
            (section.clone(), Value::Object(params))
        })
        .collect();
    let configuration: Map<String, Value> =
        t.configuration.iter().map(|(name, c)| (name.clone(), config_item(name, c))).collect();
    let mut artifacts: Vec<&runyard_api::Artifact> = t.artifacts.iter().collect();
    artifacts.sort_by(|a, b| (&a.name, &a.kind).cmp(&(&b.name, &b.kind)));
    let artifacts: Vec<Value> = artifacts
        .into_iter()
        .map(|a| {
            json!({"key": a.name, "type": a.kind, "mode": a.mode.clone().unwrap_or_else(|| "output".into()),
                   "uri": a.uri, "content_size": a.size, "hash": a.hash,
                   "type_data": {"preview": a.preview}})
        })
        .collect();
    let models = |list: &[ModelRef]| -> Vec<Value> {
        list.iter().map(|m| json!({"name": m.name, "model": m.model_id, "uri": m.uri})).collect()
    };
    let s = &t.script;
    json!({
        "id": t.id,
        "name": t.name,
        "user": t.user,
        "company": "",
        "project": project_id(t),
        "type": t.kind.as_str(),
        "status": t.status.as_str(),
        "status_reason": t.status_reason,
        "status_message": t.status_message,
        "status_changed": iso(t.last_change),
        "comment": t.comment,
        "tags": t.tags,
        "system_tags": t.system_tags,
        "parent": t.parent,
        "created": iso(t.created),
        "started": t.started.map(iso),
        "completed": t.completed.map(iso),
        "last_update": iso(t.last_update),
        "last_change": iso(t.last_change),
        "last_iteration": t.last_iteration,
        "last_worker": t.worker,
        "script": script_doc(s),
        "execution": {
            "queue": t.execution.queue,
            "artifacts": artifacts,
            "parameters": legacy_parameters(t),
            "model_desc": legacy_configuration(t),
            "docker_cmd": docker_cmd(&t.container),
        },
        "output": {"destination": t.execution.output_uri},
        "hyperparams": hyperparams,
        "configuration": configuration,
        "runtime": t.runtime,
        "models": {"input": models(&t.models.input), "output": models(&t.models.output)},
        "container": {
            "image": t.container.image.clone().unwrap_or_default(),
            "arguments": t.container.arguments.clone().unwrap_or_default(),
            "setup_shell_script": t.container.setup_script.clone().unwrap_or_default(),
        },
        "last_metrics": {},
    })
}

/// ClearML's key for a metric or variant name in `last_metrics`: the MD5 of its UTF-8 bytes, in
/// hex (what the SDK computes to read and sort by one).
pub fn metric_key(name: &str) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(name.as_bytes()))
}

/// A number for ClearML's clients, which compare these: null when it is not finite.
fn finite(v: f64) -> Value {
    if v.is_finite() {
        json!(v)
    } else {
        Value::Null
    }
}

/// A task's `last_metrics` from its scalar summaries: `{metric key: {variant key: {metric,
/// variant, value, min_value, max_value, …}}}`, keyed as [`metric_key`] does.
pub fn last_metrics(summaries: &[MetricSummary]) -> Value {
    let mut out = Map::new();
    for s in summaries {
        let entry = json!({
            "metric": s.metric,
            "variant": s.variant,
            "value": finite(s.last.0),
            "min_value": finite(s.min.0),
            "min_value_iteration": s.min_iteration,
            "max_value": finite(s.max.0),
            "max_value_iteration": s.max_iteration,
            "first_value": finite(s.first.0),
            "first_value_iteration": s.first_iteration,
            "count": s.count,
            "mean_value": finite(s.mean.0),
        });
        let metric = out.entry(metric_key(&s.metric)).or_insert_with(|| json!({}));
        metric[metric_key(&s.variant)] = entry;
    }
    Value::Object(out)
}

pub(crate) fn docker_cmd(c: &Container) -> Value {
    match (&c.image, &c.arguments) {
        (Some(image), Some(args)) if !args.is_empty() => Value::String(format!("{image} {args}")),
        (Some(image), _) => Value::String(image.clone()),
        _ => Value::Null,
    }
}

/// A script as ClearML has it: only the fields that are set.
fn script_doc(s: &Script) -> Value {
    let mut doc = Map::new();
    for (name, value) in [
        ("repository", &s.repository),
        ("branch", &s.branch),
        ("tag", &s.tag),
        ("version_num", &s.commit),
        ("entry_point", &s.entry_point),
        ("working_dir", &s.working_dir),
        ("diff", if s.diff.is_some() { &s.diff } else { &s.code }),
    ] {
        if let Some(v) = value.as_ref().filter(|v| !v.is_empty()) {
            doc.insert(name.into(), json!(v));
        }
    }
    doc.insert("binary".into(), json!(s.binary.as_deref().unwrap_or("python3")));
    doc.insert("requirements".into(), s.requirements.as_ref().map_or(json!({}), |r| json!({"pip": r})));
    Value::Object(doc)
}

/// `only_fields` as a projection: dotted paths pick nested values (`a.*` all of `a`, `*`
/// everything); `id` is always kept.
pub fn project(doc: &Value, only_fields: Option<&[String]>) -> Value {
    let Some(fields) = only_fields.filter(|f| !f.is_empty()) else { return doc.clone() };
    if fields.iter().any(|f| f == "*") {
        return doc.clone();
    }
    let mut out = Map::new();
    out.insert("id".into(), doc["id"].clone());
    for field in fields {
        let field = field.strip_suffix(".*").unwrap_or(field);
        let parts: Vec<String> = field.split('.').map(unescape_key).collect();
        let mut value = doc;
        let mut found = true;
        for p in &parts {
            match value.get(p.as_str()) {
                Some(v) => value = v,
                None => {
                    found = false;
                    break;
                }
            }
        }
        if !found {
            continue;
        }
        let mut slot = &mut out;
        for p in &parts[..parts.len() - 1] {
            let entry = slot.entry(p.clone()).or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            slot = entry.as_object_mut().expect("object");
        }
        slot.insert(parts[parts.len() - 1].clone(), value.clone());
    }
    Value::Object(out)
}

/// A task's project as ClearML names it: none for Runyard's `unassigned` project, where the
/// tasks created in no project go.
pub fn project_id(t: &Task) -> Option<&str> {
    (t.project_name != runyard_daemon::services::projects::UNASSIGNED).then_some(t.project.as_str())
}

/// A key of a field path as ClearML escapes it (`.` as `%2E`, `$` as `%24`, `__` as `%_%_`,
/// `%` as `%%`), unescaped.
pub fn unescape_key(key: &str) -> String {
    if !key.contains('%') {
        return key.to_string();
    }
    let key = key.strip_prefix("%_").map_or_else(|| key.to_string(), |rest| format!("_{rest}"));
    key.replace("%2E", ".").replace("%24", "$").replace("%_%_", "__").replace("%%", "%")
}

/// A hyperparameter as ClearML's `params_item` (a type and description only when set).
pub(crate) fn param_item(section: &str, name: &str, p: &Param) -> Value {
    let mut item = json!({"section": section, "name": name, "value": p.value});
    optional(&mut item, [("type", &p.kind), ("description", &p.description)]);
    item
}

/// A configuration object as ClearML's `configuration_item` (a type and description only
/// when set).
pub(crate) fn config_item(name: &str, c: &ConfigItem) -> Value {
    let mut item = json!({"name": name, "value": c.value});
    optional(&mut item, [("type", &c.kind), ("description", &c.description)]);
    item
}

/// Sets the fields that have a value (ClearML leaves unset ones out).
fn optional<const N: usize>(item: &mut Value, fields: [(&str, &Option<String>); N]) {
    for (name, value) in fields {
        if let Some(v) = value {
            item[name] = json!(v);
        }
    }
}

/// The value, type and description of a ClearML parameter or configuration item.
pub(crate) fn item_fields(item: &Value) -> (String, Option<String>, Option<String>) {
    let field = |name: &str| item.get(name).and_then(text_of).filter(|s| !s.is_empty());
    (item.get("value").and_then(text_of).unwrap_or_default(), field("type"), field("description"))
}

pub(crate) fn param_of(item: &Value) -> Param {
    let (value, kind, description) = item_fields(item);
    Param { value, kind, description }
}

pub(crate) fn config_of(item: &Value) -> ConfigItem {
    let (value, kind, description) = item_fields(item);
    ConfigItem { value, kind, description }
}

pub(crate) fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

pub(crate) fn script_of(v: &Value, mut s: Script) -> Script {
    let field = |name: &str| v.get(name).and_then(Value::as_str).map(str::to_string).filter(|x| !x.is_empty());
    for (name, slot) in [
        ("repository", &mut s.repository),
        ("branch", &mut s.branch),
        ("tag", &mut s.tag),
        ("version_num", &mut s.commit),
        ("entry_point", &mut s.entry_point),
        ("working_dir", &mut s.working_dir),
        ("binary", &mut s.binary),
        ("diff", &mut s.diff),
    ] {
        if v.get(name).is_some() {
            *slot = field(name);
        }
    }
    if let Some(r) = v.get("requirements") {
        s.requirements = requirements_text(r);
    }
    // Without a repository the SDK records the whole script as the "diff": Runyard keeps it as
    // the task's custom code, which its agent writes to the entry point.
    if s.repository.is_none() && s.diff.as_deref().is_some_and(|d| !is_patch(d)) && s.entry_point.is_some() {
        s.entry_kind = runyard_api::EntryKind::Code;
        s.code = s.diff.take();
    }
    // Both a branch/tag and a commit may be recorded; the commit is what ran.
    if s.commit.is_some() {
        s.branch = None;
        s.tag = None;
    } else if s.tag.is_some() {
        s.branch = None;
    }
    s
}

/// Whether a recorded "diff" is a patch (rather than a whole script).
pub(crate) fn is_patch(text: &str) -> bool {
    text.starts_with("diff ") || text.starts_with("--- ") || (text.contains("\n--- ") && text.contains("\n+++ "))
}

/// `requirements.pip` as text: the SDK sends a string, the agent a list.
pub(crate) fn requirements_text(r: &Value) -> Option<String> {
    match r.get("pip") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Array(lines)) => {
            Some(lines.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("\n")).filter(|s| !s.is_empty())
        }
        _ => None,
    }
}

pub(crate) fn hyperparams_of(v: &Value) -> BTreeMap<String, BTreeMap<String, Param>> {
    let mut out: BTreeMap<String, BTreeMap<String, Param>> = BTreeMap::new();
    for (section, params) in v.as_object().into_iter().flatten() {
        let entry = out.entry(section.clone()).or_default();
        for (name, p) in params.as_object().into_iter().flatten() {
            entry.insert(name.clone(), param_of(p));
        }
    }
    out
}

/// Section of the legacy `execution.parameters` named `TF_DEFINE/<name>`; the others are `Args`.
const TF_DEFINE: &str = "TF_DEFINE";

/// The type of hyperparameters and configuration items set through the legacy fields.
const LEGACY: &str = "legacy";

fn is_legacy(kind: &Option<String>) -> bool {
    kind.as_deref() == Some(LEGACY)
}

/// The legacy `execution.parameters` (`{name: value}`, API 2.8 and before) as hyperparameters
/// of type `legacy`, in `Args` (or `TF_DEFINE` for `TF_DEFINE/<name>`), over `hyperparams`;
/// with `replace`, in place of the legacy ones there were.
pub(crate) fn add_legacy_parameters(
    hyperparams: &mut BTreeMap<String, BTreeMap<String, Param>>,
    execution: &Value,
    replace: bool,
) {
    let Some(legacy) = execution.get("parameters").and_then(Value::as_object) else { return };
    if replace {
        for params in hyperparams.values_mut() {
            params.retain(|_, p| !is_legacy(&p.kind));
        }
        hyperparams.retain(|_, params| !params.is_empty());
    }
    for (name, value) in legacy {
        let (section, name) = match name.strip_prefix("TF_DEFINE/") {
            Some(rest) => (TF_DEFINE, rest),
            None => ("Args", name.as_str()),
        };
        let param = Param { value: text_of(value).unwrap_or_default(), kind: Some(LEGACY.into()), description: None };
        hyperparams.entry(section.to_string()).or_default().insert(name.to_string(), param);
    }
}

/// The legacy `execution.model_desc` (`{name: value}`) as configuration items of type
/// `legacy`; with `replace`, in place of the legacy ones there were.
pub(crate) fn add_legacy_configuration(
    configuration: &mut BTreeMap<String, ConfigItem>,
    execution: &Value,
    replace: bool,
) {
    let Some(legacy) = execution.get("model_desc").and_then(Value::as_object) else { return };
    if replace {
        configuration.retain(|_, c| !is_legacy(&c.kind));
    }
    for (name, value) in legacy {
        let item =
            ConfigItem { value: text_of(value).unwrap_or_default(), kind: Some(LEGACY.into()), description: None };
        configuration.insert(name.clone(), item);
    }
}

/// The legacy `execution.model_desc` view of the configuration items set through it.
fn legacy_configuration(t: &Task) -> Value {
    t.configuration.iter().filter(|(_, c)| is_legacy(&c.kind)).map(|(name, c)| (name.clone(), json!(c.value))).collect()
}

/// The legacy `execution.parameters` view of the `Args` and `TF_DEFINE` hyperparameters.
fn legacy_parameters(t: &Task) -> Value {
    let mut out = Map::new();
    for (section, prefix) in [("Args", ""), (TF_DEFINE, "TF_DEFINE/")] {
        for (name, p) in t.hyperparams.get(section).into_iter().flatten() {
            out.insert(format!("{prefix}{name}"), json!(p.value));
        }
    }
    Value::Object(out)
}

pub(crate) fn configuration_of(v: &Value) -> BTreeMap<String, ConfigItem> {
    v.as_object().into_iter().flatten().map(|(name, c)| (name.clone(), config_of(c))).collect()
}

/// The document's `container` as Runyard's.
pub(crate) fn container_of(c: &Value) -> Container {
    let field = |n: &str| c.get(n).and_then(Value::as_str).map(str::to_string).filter(|s| !s.is_empty());
    Container { image: field("image"), arguments: field("arguments"), setup_script: field("setup_shell_script") }
}

/// The iteration the SDK gives single values (`report_single_value`), under metric `Summary`.
pub(crate) const SINGLE_VALUE_ITERATION: i64 = i32::MIN as i64;

/// A value as JSON: NaN and ±Inf as ClearML's clients expect them, strings.
pub(crate) fn float(v: f64) -> Value {
    serde_json::to_value(runyard_api::tracking::Float(v)).unwrap_or(Value::Null)
}

/// A figure as ClearML's `plot_str`: the text it was sent as.
pub(crate) fn plot_str(figure: &Value) -> String {
    match figure {
        Value::String(text) => text.clone(),
        object => object.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runyard_api::{EntryKind, TaskStatus};

    #[test]
    fn last_metrics_are_keyed_as_the_sdk_computes() {
        assert_eq!(metric_key("loss"), "81513effdf5790b79549208838404407");
        assert_eq!(metric_key("ü"), "c03410a5204b21cd8229ff754688d743");
        let t = chrono::Utc::now();
        let f = runyard_api::tracking::Float;
        let s = MetricSummary {
            metric: "loss".into(),
            variant: "ü".into(),
            count: 3,
            first: f(3.0),
            first_iteration: 0,
            last: f(f64::NAN),
            last_iteration: 2,
            last_time: t,
            min: f(0.5),
            min_iteration: 1,
            max: f(3.0),
            max_iteration: 0,
            mean: f(f64::NAN),
        };
        let lm = last_metrics(&[s]);
        let entry = &lm["81513effdf5790b79549208838404407"]["c03410a5204b21cd8229ff754688d743"];
        assert_eq!(entry["variant"], "ü");
        assert_eq!(entry["value"], Value::Null, "not finite: null");
        assert_eq!((entry["min_value"].as_f64(), entry["min_value_iteration"].as_i64()), (Some(0.5), Some(1)));
    }

    fn task() -> Task {
        let mut t: Task = serde_json::from_value(json!({
            "id": "0123456789abcdef0123456789abcdef", "name": "train", "project": "p1", "project_name": "vision",
            "type": "training", "status": "in_progress", "status_reason": "", "status_message": "", "user": "ada",
            "tags": ["best"], "system_tags": [], "comment": "", "parent": null,
            "created": "2026-11-01T10:00:00Z", "started": "2026-11-01T10:01:00Z", "completed": null,
            "last_update": "2026-11-01T10:02:00Z", "last_change": "2026-11-01T10:01:00Z", "last_iteration": 7,
            "worker": "gpu-1", "priority": 0, "script": {}, "environment": {}, "container": {}, "execution": {},
            "hyperparams": {}, "configuration": {}, "runtime": {}, "models": {"input": [], "output": []},
            "artifacts": []
        }))
        .expect("a task");
        t.script = Script {
            repository: Some("https://git.example/r.git".into()),
            commit: Some("abc123".into()),
            entry_point: Some("train.py".into()),
            working_dir: Some(".".into()),
            binary: Some("python3".into()),
            diff: Some("diff --git a/x b/x\n--- a/x\n+++ b/x\n".into()),
            requirements: Some("torch\nnumpy".into()),
            ..Default::default()
        };
        let lr = Param { value: "0.1".into(), kind: Some("float".into()), description: Some("step".into()) };
        t.hyperparams.insert("Args".into(), [("lr".to_string(), lr)].into_iter().collect());
        t.configuration.insert("model".into(), ConfigItem { value: "layers: 3".into(), kind: None, description: None });
        t.container =
            Container { image: Some("py:3.11".into()), arguments: Some("--shm-size 1g".into()), setup_script: None };
        t
    }

    #[test]
    fn a_task_and_its_document_map_both_ways() {
        let t = task();
        let doc = document(&t);
        assert_eq!((doc["status"].as_str(), doc["last_worker"].as_str()), (Some("in_progress"), Some("gpu-1")));
        assert_eq!(doc["execution"]["docker_cmd"], "py:3.11 --shm-size 1g");
        assert_eq!(doc["hyperparams"]["Args"]["lr"]["value"], "0.1");
        // Each part read back from the document is the task's own.
        assert_eq!(script_of(&doc["script"], Script::default()), t.script);
        assert_eq!(hyperparams_of(&doc["hyperparams"]), t.hyperparams);
        assert_eq!(configuration_of(&doc["configuration"]), t.configuration);
        assert_eq!(container_of(&doc["container"]), t.container);
        assert_eq!(requirements_text(&doc["script"]["requirements"]), t.script.requirements);
        assert_eq!(t.status, TaskStatus::InProgress);
    }

    #[test]
    fn a_script_without_a_repository_is_custom_code_and_a_commit_wins() {
        let s = script_of(&json!({"entry_point": "run.py", "diff": "print('hi')\n"}), Script::default());
        assert_eq!((s.entry_kind, s.code.as_deref(), s.diff), (EntryKind::Code, Some("print('hi')\n"), None));
        let s = script_of(&json!({"repository": "r", "branch": "main", "version_num": "abc"}), Script::default());
        assert_eq!((s.branch, s.commit.as_deref()), (None, Some("abc")));
        // The agent sends requirements as a list of lines.
        assert_eq!(requirements_text(&json!({"pip": ["a", "b"]})).as_deref(), Some("a\nb"));
    }

    #[test]
    fn a_projection_keeps_the_id_and_the_dotted_fields() {
        let doc = document(&task());
        let only = ["script.entry_point".to_string(), "status".to_string()];
        let projected = project(&doc, Some(&only));
        assert_eq!(projected, json!({"id": doc["id"], "script": {"entry_point": "train.py"}, "status": "in_progress"}));
        assert_eq!(project(&doc, None), doc);
    }
}
