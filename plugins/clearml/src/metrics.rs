//! ClearML's reads of scalar series beyond the histograms: every point of a series in pages
//! (`events.scalar_metrics_iter_raw`) and the metric/variant names of tasks
//! (`projects.get_unique_metric_variants`).

use crate::document::metric_key;
use crate::envelope::{required_str, str_list, Answer, ClearmlError};
use crate::Ctx;
use serde_json::{json, Map, Value};

/// The default page of `scalar_metrics_iter_raw`.
const RAW_BATCH: usize = 10_000;

/// Where a raw read goes on: the last iteration returned and the page size, as
/// `<iteration>:<batch>` (ClearML's clients pass it back opaque).
fn scroll(after: i64, batch: usize) -> String {
    format!("{after}:{batch}")
}

fn scrolled(id: &str) -> Result<(i64, usize), ClearmlError> {
    let bad = || ClearmlError::validation(format!("Validation error: invalid scroll_id '{id}'"));
    let (after, batch) = id.split_once(':').ok_or_else(bad)?;
    Ok((after.parse().map_err(|_| bad())?, batch.parse().map_err(|_| bad())?))
}

/// `events.scalar_metrics_iter_raw`: a metric's variants at full resolution, `batch_size`
/// iterations a page, `{variants: {variant: {iter: [...], y: [...]}}, returned, total,
/// scroll_id}`; a page with nothing returned ends the scroll.
pub async fn scalar_metrics_iter_raw(ctx: &Ctx, body: &Value) -> Answer {
    let task = required_str(body, "task")?;
    if !runyard_api::is_valid_id(task) {
        return Err(ClearmlError::invalid_task(task));
    }
    let metric = body.get("metric").ok_or_else(|| ClearmlError::validation("Validation error: metric is required"))?;
    let name = metric.get("metric").and_then(Value::as_str).unwrap_or_default().to_string();
    let (after, batch) = match body.get("scroll_id").and_then(Value::as_str).filter(|s| !s.is_empty()) {
        Some(id) => scrolled(id)?,
        None => {
            let batch = body.get("batch_size").and_then(Value::as_u64).map_or(RAW_BATCH, |b| b as usize);
            (i64::MIN, batch.clamp(1, RAW_BATCH))
        }
    };
    let summaries = runyard_tracking::store::summaries(&ctx.store, task).await?;
    let variants = match str_list(metric, "variants")?.filter(|v| !v.is_empty()) {
        Some(v) => v,
        None => summaries.iter().filter(|s| s.metric == name).map(|s| s.variant.clone()).collect(),
    };
    let (mut out, mut returned, mut last) = (Map::new(), 0, after);
    for variant in &variants {
        let (points, _) = runyard_tracking::store::raw_points(&ctx.store, task, &name, variant, after, batch).await?;
        returned += points.len();
        last = last.max(points.last().map_or(after, |p| p.iteration));
        let iters: Vec<i64> = points.iter().map(|p| p.iteration).collect();
        let ys: Vec<Value> = points.iter().map(|p| crate::document::float(p.value)).collect();
        out.insert(variant.clone(), json!({"iter": iters, "y": ys}));
    }
    let mut answer = json!({"variants": out, "returned": returned, "scroll_id": scroll(last, batch)});
    if body.get("count_total").and_then(Value::as_bool).unwrap_or(false) {
        let total: i64 =
            summaries.iter().filter(|s| s.metric == name && variants.contains(&s.variant)).map(|s| s.count).sum();
        answer["total"] = json!(total);
    }
    Ok(answer)
}

/// `projects.get_unique_metric_variants`: the scalar metric/variant pairs reported by the
/// tasks of a project (its subprojects' too) and/or of `ids`, every task's without either, with
/// the keys `last_metrics` uses; sorted by metric, then variant.
pub async fn get_unique_metric_variants(ctx: &Ctx, body: &Value) -> Answer {
    let mut select = json!({"search_hidden": true, "only_fields": ["id"]});
    if let Some(p) = body.get("project").and_then(Value::as_str) {
        let id = ctx
            .store
            .project(p)
            .await
            .map_err(|_| ClearmlError::new(400, 401, format!("Invalid project id: id={p}")))?
            .id;
        select["project"] = json!(id);
        select["include_subprojects"] = json!(body.get("include_subprojects").and_then(Value::as_bool).unwrap_or(true));
    }
    let ids = str_list(body, "ids")?;
    let tasks: Vec<String> = match (&ids, select.get("project")) {
        (Some(ids), None) => ids.clone(),
        _ => {
            let listed = crate::tasks::get_all(ctx, &select).await?;
            let all = listed["tasks"].as_array().into_iter().flatten().filter_map(|t| t["id"].as_str());
            all.filter(|t| ids.as_ref().is_none_or(|ids| ids.iter().any(|i| i == t))).map(str::to_string).collect()
        }
    };
    let summaries = runyard_tracking::store::summaries_of(&ctx.store, &tasks).await?;
    let pairs: std::collections::BTreeSet<(&str, &str)> =
        summaries.values().flatten().map(|s| (s.metric.as_str(), s.variant.as_str())).collect();
    let metrics: Vec<Value> = pairs
        .iter()
        .map(|(metric, variant)| {
            json!({"metric": metric, "variant": variant, "metric_hash": metric_key(metric), "variant_hash": metric_key(variant)})
        })
        .collect();
    Ok(json!({"metrics": metrics}))
}
