//! ClearML's attributes of Runyard's queues, projects, workers and tasks that Runyard's own model
//! does not carry (tags, system tags, a display name, metadata, the task a worker says it runs, a
//! task's fields as sent): one JSON document per entity in the plugin's
//! `clearml_extras` table, laid over the entity's ClearML document on reads. Metadata, ClearML's
//! `{key: {key, type, value}}` map, is edited the same way on models, queues and projects.

use crate::envelope::{str_list, ClearmlError};
use crate::Ctx;
use runyard_daemon::error::Error;
use serde_json::{Map, Value};
use sqlx::Row;
use std::collections::HashMap;

/// The entities that carry extras.
#[derive(Clone, Copy)]
pub enum Kind {
    Queue,
    Project,
    Worker,
    Task,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Queue => "queue",
            Kind::Project => "project",
            Kind::Worker => "worker",
            Kind::Task => "task",
        }
    }
}

/// Every entity of `kind` that has extras, by id.
pub async fn all(ctx: &Ctx, kind: Kind) -> Result<HashMap<String, Map<String, Value>>, ClearmlError> {
    let rows = sqlx::query("SELECT id, document FROM clearml_extras WHERE kind = $1")
        .bind(kind.name())
        .fetch_all(ctx.store.pool())
        .await
        .map_err(Error::from)?;
    let mut found = HashMap::with_capacity(rows.len());
    by_id(rows, &mut found)?;
    Ok(found)
}

/// Rows of `id, document` into `found`.
fn by_id(rows: Vec<sqlx::any::AnyRow>, found: &mut HashMap<String, Map<String, Value>>) -> Result<(), ClearmlError> {
    for row in rows {
        let text: String = row.try_get("document").map_err(Error::from)?;
        if let Ok(Value::Object(doc)) = serde_json::from_str(&text) {
            found.insert(row.try_get("id").map_err(Error::from)?, doc);
        }
    }
    Ok(())
}

/// The extras of the given entities, by id (those with none left out).
pub async fn of(ctx: &Ctx, kind: Kind, ids: &[String]) -> Result<HashMap<String, Map<String, Value>>, ClearmlError> {
    let mut found = HashMap::new();
    for chunk in ids.chunks(500) {
        let marks: Vec<String> = (2..chunk.len() + 2).map(|i| format!("${i}")).collect();
        let sql = format!("SELECT id, document FROM clearml_extras WHERE kind = $1 AND id IN ({})", marks.join(", "));
        let mut query = sqlx::query(&sql).bind(kind.name());
        for id in chunk {
            query = query.bind(id);
        }
        by_id(query.fetch_all(ctx.store.pool()).await.map_err(Error::from)?, &mut found)?;
    }
    Ok(found)
}

/// One entity's extras (empty when it has none).
pub async fn get(ctx: &Ctx, kind: Kind, id: &str) -> Result<Map<String, Value>, ClearmlError> {
    let row = sqlx::query("SELECT document FROM clearml_extras WHERE kind = $1 AND id = $2")
        .bind(kind.name())
        .bind(id)
        .fetch_optional(ctx.store.pool())
        .await
        .map_err(Error::from)?;
    let text: Option<String> = row.map(|r| r.try_get("document")).transpose().map_err(Error::from)?;
    Ok(match text.and_then(|t| serde_json::from_str(&t).ok()) {
        Some(Value::Object(doc)) => doc,
        _ => Map::new(),
    })
}

pub async fn put(ctx: &Ctx, kind: Kind, id: &str, doc: &Map<String, Value>) -> Result<(), ClearmlError> {
    sqlx::query(
        "INSERT INTO clearml_extras (kind, id, document) VALUES ($1, $2, $3) \
         ON CONFLICT (kind, id) DO UPDATE SET document = excluded.document",
    )
    .bind(kind.name())
    .bind(id)
    .bind(serde_json::to_string(doc).expect("JSON"))
    .execute(ctx.store.pool())
    .await
    .map_err(Error::from)?;
    Ok(())
}

pub async fn remove(ctx: &Ctx, kind: Kind, id: &str) -> Result<(), ClearmlError> {
    sqlx::query("DELETE FROM clearml_extras WHERE kind = $1 AND id = $2")
        .bind(kind.name())
        .bind(id)
        .execute(ctx.store.pool())
        .await
        .map_err(Error::from)?;
    Ok(())
}

/// Copies the extras a request sets onto `doc`, checked; answers the fields it set.
pub fn apply(doc: &mut Map<String, Value>, body: &Value) -> Result<Map<String, Value>, ClearmlError> {
    let mut set = Map::new();
    for field in ["tags", "system_tags"] {
        if let Some(list) = str_list(body, field)? {
            set.insert(field.into(), list.into());
        }
    }
    match body.get("display_name") {
        None => {}
        Some(v @ (Value::String(_) | Value::Null)) => {
            set.insert("display_name".into(), v.clone());
        }
        Some(_) => return Err(ClearmlError::validation("Validation error: display_name must be a string")),
    }
    if let Some(meta) = body.get("metadata") {
        let mut metadata = Map::new();
        add_metadata(&mut metadata, meta)?;
        set.insert("metadata".into(), Value::Object(metadata));
    }
    doc.extend(set.clone());
    Ok(set)
}

/// Adds or replaces metadata items: a list of `{key, type, value}` or a map of them by key.
pub fn add_metadata(metadata: &mut Map<String, Value>, items: &Value) -> Result<(), ClearmlError> {
    let items: Vec<&Value> = match items {
        Value::Array(list) => list.iter().collect(),
        Value::Object(map) => map.values().collect(),
        Value::Null => vec![],
        _ => return Err(ClearmlError::validation("Validation error: metadata must be a list or a map of items")),
    };
    for item in items {
        let key = item
            .get("key")
            .and_then(Value::as_str)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| ClearmlError::validation("Validation error: a metadata item needs a key"))?;
        let mut entry = Map::new();
        for field in ["key", "type", "value"] {
            if let Some(v) = item.get(field) {
                entry.insert(field.into(), v.clone());
            }
        }
        metadata.insert(key.to_string(), Value::Object(entry));
    }
    Ok(())
}

/// `*.add_or_update_metadata` (`replace_metadata` starts afresh) and `*.delete_metadata`
/// (`keys`) on a document's `metadata`.
pub fn edit_metadata(doc: &mut Map<String, Value>, body: &Value, delete: bool) -> Result<(), ClearmlError> {
    let replace = crate::envelope::flag(body, "replace_metadata");
    let mut metadata = match doc.get("metadata") {
        Some(Value::Object(m)) if !replace => m.clone(),
        _ => Map::new(),
    };
    if delete {
        for key in str_list(body, "keys")?.unwrap_or_default() {
            metadata.remove(&key);
        }
    } else {
        add_metadata(&mut metadata, body.get("metadata").unwrap_or(&Value::Null))?;
    }
    doc.insert("metadata".into(), Value::Object(metadata));
    Ok(())
}
