//! Reading tasks: one, several by id, or a filtered page.

use crate::error::{Error, Result};
use crate::store::{Store, TaskFilter};
use runyard_api::{is_valid_id, Task, TaskQuery, TaskStatus};

pub(super) async fn get(store: &Store, id: &str) -> Result<Task> {
    if !is_valid_id(id) {
        return Err(Error::not_found("task", id));
    }
    store.get_task(id).await
}

pub(super) async fn get_many(store: &Store, ids: &[String]) -> Result<Vec<Task>> {
    let mut seen = std::collections::HashSet::new();
    let ids: Vec<&str> = ids.iter().map(String::as_str).filter(|id| is_valid_id(id) && seen.insert(*id)).collect();
    store.get_tasks(&ids).await
}

/// The most tags one list filter names (each is a condition of the query).
pub const MAX_TAG_FILTER: usize = 100;

pub(super) async fn list(store: &Store, q: TaskQuery) -> Result<(Vec<Task>, u64)> {
    let project = match &q.project {
        Some(p) => Some((store.resolve_project(p).await?.1, q.include_subprojects.unwrap_or(true))),
        None => None,
    };
    let mut statuses: Vec<TaskStatus> = match &q.status {
        Some(s) => s
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| TaskStatus::parse(s).ok_or_else(|| Error::invalid("status", format!("unknown status '{s}'"))))
            .collect::<Result<_>>()?,
        None => Vec::new(),
    };
    statuses.sort_by_key(|s| s.as_str());
    statuses.dedup();
    let mut tags: Vec<String> =
        q.tag.map(|t| t.split(',').map(str::to_string).filter(|t| !t.is_empty()).collect()).unwrap_or_default();
    tags.sort();
    tags.dedup();
    if tags.len() > MAX_TAG_FILTER {
        return Err(Error::invalid("tag", format!("names {} tags, at most {MAX_TAG_FILTER} are allowed", tags.len())));
    }
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > runyard_api::rules::MAX_LIST_PAGE {
        return Err(Error::invalid("limit", format!("must be between 1 and {}", runyard_api::rules::MAX_LIST_PAGE)));
    }
    if q.offset.is_some_and(|o| o > i64::MAX as u64) {
        return Err(Error::invalid("offset", "is too large"));
    }
    let filter = TaskFilter {
        project,
        statuses,
        archived: q.archived,
        tags,
        parent: q.parent,
        limit: limit as u64,
        offset: q.offset.unwrap_or(0),
    };
    store.list_tasks(&filter).await
}
