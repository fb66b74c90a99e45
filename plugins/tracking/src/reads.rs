//! Reads: summaries and catalogues, downsampled and raw scalar series, plots, debug samples.

use crate::series::{self, Point};
use crate::store;
use runyard_api::is_valid_id;
use runyard_api::tracking::*;
use runyard_daemon::error::{Error, Result};
use runyard_daemon::store::{to_time, Store};

/// Most tasks one read may span.
pub const MAX_TASKS: usize = 100;
/// Default and largest point budget per series.
pub const DEFAULT_POINTS: usize = 2_000;
pub const MAX_POINTS: usize = runyard_api::tracking::MAX_POINTS;

/// The tasks of a comma-separated list, each known.
async fn known_tasks(store: &Store, list: &str) -> Result<Vec<String>> {
    let ids = split_ids(list);
    if ids.is_empty() {
        return Err(Error::invalid("tasks", "give at least one task id"));
    }
    if ids.len() > MAX_TASKS {
        return Err(Error::invalid("tasks", format!("at most {MAX_TASKS} tasks per read")));
    }
    known(store, &ids).await?;
    Ok(ids)
}

async fn known(store: &Store, ids: &[String]) -> Result<()> {
    let refs: Vec<&str> = ids.iter().map(String::as_str).filter(|id| is_valid_id(id)).collect();
    let heads = store.read_heads(&refs).await?;
    match ids.iter().find(|id| !heads.contains_key(id.as_str())) {
        Some(missing) => Err(Error::not_found("task", missing.as_str())),
        None => Ok(()),
    }
}

pub async fn task_metrics(store: &Store, task: &str) -> Result<TaskMetrics> {
    let id = [task.to_string()];
    known(store, &id).await?;
    let scalars = store::summaries(store, task).await?;
    let single_values = store::single_values(store, &id).await?.remove(task).unwrap_or_default();
    let last_iteration = scalars.iter().map(|s| s.last_iteration).max().unwrap_or(0);
    Ok(TaskMetrics {
        task: task.to_string(),
        last_iteration,
        scalars,
        single_values,
        plots: store::variants(store, "plots", task).await?,
        samples: store::variants(store, "debug_samples", task).await?,
    })
}

pub async fn project_metrics(store: &Store, project: &str) -> Result<MetricCatalogue> {
    let (id, _) = store.resolve_project(project).await?;
    Ok(MetricCatalogue {
        scalars: store::project_variants(store, "scalar_summaries", &id).await?,
        single_values: store::project_variants(store, "single_values", &id).await?.into_keys().collect(),
        plots: store::project_variants(store, "plots", &id).await?,
    })
}

pub async fn single_values(store: &Store, tasks: &str) -> Result<std::collections::BTreeMap<String, Vec<SingleValue>>> {
    let ids = known_tasks(store, tasks).await?;
    store::single_values(store, &ids).await
}

/// Series of many tasks, each downsampled to the point budget.
pub async fn scalars(store: &Store, q: ScalarQuery) -> Result<ScalarSeries> {
    let budget = q.points.unwrap_or(DEFAULT_POINTS);
    if budget > MAX_POINTS || (budget < 2 && budget != 0) {
        return Err(Error::invalid("points", format!("must be 0 (all) or between 2 and {MAX_POINTS}")));
    }
    let ids = known_tasks(store, &q.tasks).await?;
    let all = store::series(store, &ids, q.metric.as_deref(), q.variant.as_deref()).await?;
    let x_axis = q.x.unwrap_or_default();
    // Relative time counts from each task's first reported point.
    let mut origin: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
    for ((task, ..), points) in &all {
        let first = points.iter().map(|p| p.time).min().unwrap_or(0);
        origin.entry(task).and_modify(|o| *o = (*o).min(first)).or_insert(first);
    }
    let mut series = Vec::with_capacity(all.len());
    for ((task, metric, variant), points) in &all {
        let total = points.len();
        if budget == 0 && total > MAX_POINTS {
            return Err(Error::invalid(
                "points",
                format!("the series {metric}/{variant} of task {task} has {total} points: page through it raw"),
            ));
        }
        let ordered: Vec<Point>;
        let by_x: &[Point] = if x_axis == XAxis::Iteration {
            points
        } else {
            let mut sorted = points.clone();
            sorted.sort_by_key(|p| p.time);
            ordered = sorted;
            &ordered
        };
        let (kept, downsampled) = series::downsample(by_x, budget);
        let zero = origin.get(task.as_str()).copied().unwrap_or(0);
        let x = kept
            .iter()
            .map(|p| match x_axis {
                XAxis::Iteration => p.iteration as f64,
                XAxis::Time => p.time as f64,
                XAxis::Relative => (p.time - zero) as f64,
            })
            .collect();
        series.push(Series {
            task: task.clone(),
            metric: metric.clone(),
            variant: variant.clone(),
            x,
            y: kept.iter().map(|p| Float(p.value)).collect(),
            total,
            downsampled,
        });
    }
    Ok(ScalarSeries { series })
}

/// One series at full resolution, a page at a time.
pub async fn raw(store: &Store, task: &str, q: RawScalarQuery) -> Result<RawScalars> {
    known(store, &[task.to_string()]).await?;
    if q.metric.is_empty() {
        return Err(Error::invalid("metric", "give the metric"));
    }
    if q.variant.is_empty() {
        return Err(Error::invalid("variant", "give the variant"));
    }
    let limit = q.limit.unwrap_or(10_000);
    if limit == 0 || limit > MAX_POINTS {
        return Err(Error::invalid("limit", format!("must be between 1 and {MAX_POINTS}")));
    }
    let (points, more) =
        store::raw_points(store, task, &q.metric, &q.variant, q.after.unwrap_or(i64::MIN), limit).await?;
    let next = if more { points.last().map(|p| p.iteration) } else { None };
    let points = points
        .into_iter()
        .map(|p| runyard_api::tracking::Point { iteration: p.iteration, value: Float(p.value), time: to_time(p.time) })
        .collect();
    Ok(RawScalars { points, next })
}

pub async fn plots(store: &Store, q: PlotQuery) -> Result<Vec<Plot>> {
    let ids = known_tasks(store, &q.tasks).await?;
    store::plots(store, &ids, q.metric.as_deref(), q.variant.as_deref(), q.all_iterations, store::Figure::Parsed).await
}

/// As [`plots`], each figure the text its client sent (a JSON string), for APIs that give it
/// back verbatim.
pub async fn plots_as_sent(store: &Store, q: PlotQuery) -> Result<Vec<Plot>> {
    let ids = known_tasks(store, &q.tasks).await?;
    store::plots(store, &ids, q.metric.as_deref(), q.variant.as_deref(), q.all_iterations, store::Figure::AsSent).await
}

pub async fn samples(store: &Store, task: &str, q: SampleQuery) -> Result<Vec<Sample>> {
    known(store, &[task.to_string()]).await?;
    store::samples(store, task, q.metric.as_deref(), q.variant.as_deref(), q.iteration, q.all_iterations).await
}
