//! ClearML's reads of scalar series beyond the histogram: every point of a series in pages
//! (`events.scalar_metrics_iter_raw`), several tasks' series at once
//! (`events.multi_task_scalar_metrics_iter_histogram`), and the metric/variant names of a
//! project's tasks (`projects.get_unique_metric_variants`).

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
        let ys: Vec<Value> = points.iter().map(|p| crate::events::float(p.value)).collect();
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

/// `events.multi_task_scalar_metrics_iter_histogram`: each task's series, downsampled, as
/// `{metric: {variant: {task id: {name, x, y}}}}`.
pub async fn multi_task_scalar_metrics_iter_histogram(ctx: &Ctx, body: &Value) -> Answer {
    let tasks = str_list(body, "tasks")?.unwrap_or_default();
    if tasks.is_empty() || tasks.len() > 100 || tasks.iter().any(|t| !runyard_api::is_valid_id(t)) {
        return Err(ClearmlError::validation("Validation error: tasks must be 1 to 100 task ids"));
    }
    let samples = body.get("samples").and_then(Value::as_u64).unwrap_or(6000) as usize;
    let q = runyard_api::tracking::ScalarQuery {
        tasks: tasks.join(","),
        points: Some(samples.clamp(2, 100_000)),
        ..Default::default()
    };
    let read = runyard_tracking::reads::scalars(&ctx.store, q).await?;
    let names: std::collections::HashMap<String, String> =
        ctx.tasks.get_many(&tasks).await?.into_iter().map(|t| (t.id, t.name)).collect();
    let mut out = Map::new();
    for s in read.series {
        let metric = out.entry(s.metric.clone()).or_insert_with(|| json!({}));
        let variant = metric.as_object_mut().expect("an object").entry(s.variant.clone()).or_insert_with(|| json!({}));
        let name = names.get(&s.task).cloned().unwrap_or_default();
        variant[&s.task] =
            json!({"name": name, "x": s.x, "y": s.y.iter().map(|v| crate::events::float(v.0)).collect::<Vec<_>>()});
    }
    Ok(Value::Object(out))
}

/// `projects.get_unique_metric_variants`: the scalar metric/variant pairs reported by the
/// project's tasks (its subprojects' too), with the keys `last_metrics` uses.
pub async fn get_unique_metric_variants(ctx: &Ctx, body: &Value) -> Answer {
    let project = match body.get("project").and_then(Value::as_str) {
        Some(p) => Some(
            ctx.store
                .project(p)
                .await
                .map_err(|_| ClearmlError::new(400, 401, format!("Invalid project id: id={p}")))?
                .id,
        ),
        None => None,
    };
    let catalogue = match project {
        Some(p) => runyard_tracking::store::project_variants(&ctx.store, "scalar_summaries", &p).await?,
        None => Default::default(),
    };
    let metrics: Vec<Value> = catalogue
        .iter()
        .flat_map(|(metric, variants)| {
            variants.iter().map(move |variant| {
                json!({"metric": metric, "variant": variant, "metric_hash": metric_key(metric), "variant_hash": metric_key(variant)})
            })
        })
        .collect();
    Ok(json!({"metrics": metrics}))
}
