//! Tags as clients of API versions before 2.3 speak them: one `tags` list with the system tags
//! in it. Their requests' `tags` are split into `tags` and `system_tags` (by the names each kind
//! of entity reserves), and the `system_tags` of the documents they get are merged into `tags`.

use serde_json::Value;

/// Whether a request of API `version` speaks legacy tags.
pub fn applies(version: &str) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) < (2, 3)
}

/// The system tag names an entity kind reserves, and the prefixes that make a tag a system one.
fn reserved(service: &str) -> Option<(&'static [&'static str], &'static [&'static str])> {
    Some(match service {
        "models" => (&["active", "archived"], &[]),
        "projects" => (&["archived", "public", "default"], &[]),
        "tasks" => (&["active", "archived", "development"], &["annotat"]),
        "queues" => (&["default"], &[]),
        _ => return None,
    })
}

/// Moves the system tags of a request's `tags` (when it gives no `system_tags`) to
/// `system_tags`; a filter's `-name` too.
pub fn split(endpoint: &str, body: &mut Value) {
    let service = endpoint.split('.').next().unwrap_or_default();
    let Some((names, prefixes)) = reserved(service) else { return };
    let given = body.get("system_tags").and_then(Value::as_array).is_some_and(|s| !s.is_empty());
    let Some(tags) = body.get("tags").and_then(Value::as_array).filter(|_| !given) else { return };
    let is_system = |tag: &str| {
        let name = tag.strip_prefix('-').unwrap_or(tag);
        names.contains(&name) || prefixes.iter().any(|p| tag.to_lowercase().starts_with(p))
    };
    let (system, user): (Vec<Value>, Vec<Value>) =
        tags.iter().cloned().partition(|t| t.as_str().is_some_and(is_system));
    body["tags"] = Value::Array(user);
    body["system_tags"] = Value::Array(system);
}

/// Merges each answered document's `system_tags` into its `tags`.
pub fn merge(answer: &mut Value) {
    fn merge_one(doc: &mut Value) {
        let Some(system) = doc.get("system_tags").and_then(Value::as_array).cloned() else { return };
        let mut tags: Vec<String> = doc
            .get("tags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        tags.extend(system.iter().filter_map(Value::as_str).map(str::to_string));
        tags.sort();
        tags.dedup();
        doc["tags"] = tags.into();
    }
    for value in answer.as_object_mut().into_iter().flat_map(|o| o.values_mut()) {
        match value {
            Value::Array(docs) => docs.iter_mut().filter(|d| d.is_object()).for_each(merge_one),
            doc @ Value::Object(_) => merge_one(doc),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn versions_before_2_3_speak_legacy_tags() {
        assert!(applies("2.2") && applies("1.9"));
        assert!(!applies("2.3") && !applies("2.31") && !applies("999.0"));
    }

    #[test]
    fn system_tags_are_split_off_and_merged_back() {
        let mut body = json!({"tags": ["development", "-archived", "test", "Annotation"]});
        split("tasks.get_all", &mut body);
        assert_eq!(body, json!({"tags": ["test"], "system_tags": ["development", "-archived", "Annotation"]}));
        let mut answer = json!({"task": {"tags": ["test"], "system_tags": ["development"]}, "total": 1});
        merge(&mut answer);
        assert_eq!(answer["task"]["tags"], json!(["development", "test"]));
    }
}
