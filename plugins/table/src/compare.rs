//! Comparison data for up to 100 tasks — given as ids, or the first 100 a table query
//! selects: scalars merged per metric/variant and downsampled on one x grid per chart, single
//! values as one table, the latest plots marked mergeable or not, and the differences between
//! the tasks' hyperparameters and configuration.

use crate::query;
use crate::sql::{c, col, fetch_all};
use runyard_api::is_valid_id;
use runyard_api::table::*;
use runyard_api::tracking::{Float, PlotQuery, XAxis};
use runyard_daemon::error::{Error, Result};
use runyard_daemon::store::Store;
use runyard_tracking::series::downsample_grid;
use sea_query::{ExprTrait, Query};
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The most tasks one comparison holds.
pub const MAX_TASKS: usize = 100;
/// Points per line when none is asked for.
const DEFAULT_POINTS: usize = 1000;

/// What to compare: the tasks, and for scalars which series and how.
pub struct Selection {
    pub tasks: Vec<TaskRef>,
    pub metric: Option<String>,
    pub variant: Option<String>,
    pub x: XAxis,
    pub points: usize,
}

/// Reads a comparison's query string: `tasks` (comma-separated ids) or a table query (its
/// first 100 tasks, or `limit`), and `metric`, `variant`, `x`, `points` for scalars.
pub async fn selection(store: &Store, raw: &str) -> Result<Selection> {
    let (mut ids, mut rest) = (Vec::new(), Vec::new());
    let mut sel =
        Selection { tasks: Vec::new(), metric: None, variant: None, x: XAxis::Iteration, points: DEFAULT_POINTS };
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        match k.as_ref() {
            "tasks" => ids = v.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
            "metric" => sel.metric = Some(v.into_owned()),
            "variant" => sel.variant = Some(v.into_owned()),
            "x" => {
                sel.x = serde_json::from_value(serde_json::Value::String(v.to_string()))
                    .map_err(|_| Error::invalid("x", format!("'{v}' is not iteration, time or relative")))?
            }
            "points" => {
                sel.points =
                    v.parse().ok().filter(|p| (2..=10_000).contains(p)).ok_or_else(|| {
                        Error::invalid("points", format!("'{v}' is not a point count from 2 to 10000"))
                    })?
            }
            _ => rest.push((k.into_owned(), v.into_owned())),
        }
    }
    if ids.is_empty() {
        let explicit_limit = rest.iter().any(|(k, _)| k == "limit");
        let mut q = TableQuery::from_pairs(rest).map_err(|e| Error::invalid(&e.param, e.message))?;
        if !explicit_limit {
            q.limit = MAX_TASKS as u32;
        }
        if q.limit as usize > MAX_TASKS {
            return Err(Error::invalid("limit", format!("a comparison holds at most {MAX_TASKS} tasks")));
        }
        let plan = query::plan(store, &q, chrono::Utc::now().timestamp_millis()).await?;
        ids = query::page_ids(store, &plan, q.cursor.as_deref(), q.limit).await?.0;
    } else if !rest.is_empty() {
        return Err(Error::invalid(&rest[0].0, "give either `tasks` or a table query, not both"));
    }
    if ids.len() > MAX_TASKS {
        return Err(Error::invalid("tasks", format!("a comparison holds at most {MAX_TASKS} tasks")));
    }
    if let Some(bad) = ids.iter().find(|id| !is_valid_id(id)) {
        return Err(Error::invalid("tasks", format!("'{bad}' is not a task id")));
    }
    if !ids.is_empty() {
        let statement = Query::select()
            .columns([col("id"), col("name")])
            .from(col("tasks"))
            .and_where(c("id").is_in(ids.iter().map(String::as_str)))
            .to_owned();
        let names: HashMap<String, String> = fetch_all(store, &statement)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("name")?)))
            .collect::<Result<_>>()?;
        for id in ids {
            let name = names.get(&id).cloned().ok_or_else(|| Error::not_found("task", id.clone()))?;
            sel.tasks.push(TaskRef { id, name });
        }
    }
    Ok(sel)
}

/// A task's points of one series: `(task, [(x, y)])`.
type Line = (String, Vec<(f64, f64)>);

fn ids(sel: &Selection) -> Vec<String> {
    sel.tasks.iter().map(|t| t.id.clone()).collect()
}

/// The prefix of the metrics agents report about the machine a task runs on.
const MACHINE_METRICS: &str = ":monitor:";

/// Every series of the tasks, a chart per metric/variant, each line downsampled on the
/// chart's shared x range; and the single values as one table.
pub async fn scalars(store: &Store, sel: &Selection) -> Result<CompareScalars> {
    let ids = ids(sel);
    let all = if ids.is_empty() {
        Vec::new()
    } else {
        runyard_tracking::store::series(store, &ids, sel.metric.as_deref(), sel.variant.as_deref()).await?
    };
    // Relative time counts from each task's first point.
    let mut origin: HashMap<&str, i64> = HashMap::new();
    for ((task, ..), points) in &all {
        let first = points.iter().map(|p| p.time).min().unwrap_or(0);
        origin.entry(task.as_str()).and_modify(|o| *o = (*o).min(first)).or_insert(first);
    }
    // Keyed so the task's own metrics come first, the agents' machine metrics after them.
    let mut charts: BTreeMap<(bool, String, String), Vec<Line>> = BTreeMap::new();
    for ((task, metric, variant), points) in &all {
        let zero = origin.get(task.as_str()).copied().unwrap_or(0);
        let mut xy: Vec<(f64, f64)> = points
            .iter()
            .map(|p| {
                let x = match sel.x {
                    XAxis::Iteration => p.iteration as f64,
                    XAxis::Time => p.time as f64,
                    XAxis::Relative => (p.time - zero) as f64,
                };
                (x, p.value)
            })
            .collect();
        if sel.x != XAxis::Iteration {
            xy.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        let machine = metric.starts_with(MACHINE_METRICS);
        charts.entry((machine, metric.clone(), variant.clone())).or_default().push((task.clone(), xy));
    }
    let order: HashMap<&str, usize> = sel.tasks.iter().enumerate().map(|(i, t)| (t.id.as_str(), i)).collect();
    let charts = charts
        .into_iter()
        .map(|((_, metric, variant), mut lines)| {
            lines.sort_by_key(|(task, _)| order.get(task.as_str()).copied().unwrap_or(usize::MAX));
            let lo = lines.iter().filter_map(|(_, xy)| xy.first().map(|p| p.0)).fold(f64::INFINITY, f64::min);
            let hi = lines.iter().filter_map(|(_, xy)| xy.last().map(|p| p.0)).fold(f64::NEG_INFINITY, f64::max);
            let range = if lo.is_finite() { [lo, hi] } else { [0.0, 0.0] };
            let lines = lines
                .into_iter()
                .map(|(task, xy)| {
                    let kept = downsample_grid(&xy, range, sel.points / 2);
                    CompareLine {
                        task,
                        x: kept.iter().map(|p| p.0).collect(),
                        y: kept.iter().map(|p| Float(p.1)).collect(),
                        total: xy.len(),
                    }
                })
                .collect();
            CompareChart { metric, variant, range, lines }
        })
        .collect();

    let singles =
        if ids.is_empty() { BTreeMap::new() } else { runyard_tracking::store::single_values(store, &ids).await? };
    let names: BTreeSet<&str> = singles.values().flatten().map(|v| v.name.as_str()).collect();
    let names: Vec<String> = names.into_iter().map(str::to_string).collect();
    let values = sel
        .tasks
        .iter()
        .map(|t| {
            let mine = singles.get(&t.id);
            names.iter().map(|n| mine.and_then(|vs| vs.iter().find(|v| &v.name == n)).map(|v| v.value)).collect()
        })
        .collect();
    Ok(CompareScalars { tasks: sel.tasks.clone(), x: sel.x, charts, single_values: CompareSingles { names, values } })
}

/// Whether a Plotly figure may be overlaid with others: every trace a line, scatter, bar or box.
fn mergeable(figure: &serde_json::Value) -> bool {
    figure.get("data").and_then(|d| d.as_array()).is_some_and(|traces| {
        traces.iter().all(|t| {
            matches!(
                t.get("type").and_then(|v| v.as_str()).unwrap_or("scatter"),
                "scatter" | "scattergl" | "bar" | "box"
            )
        })
    })
}

/// The latest figure of each metric/variant of each task.
pub async fn plots(store: &Store, sel: &Selection) -> Result<ComparePlots> {
    let ids = ids(sel);
    let plots = if ids.is_empty() {
        Vec::new()
    } else {
        runyard_tracking::reads::plots(store, PlotQuery { tasks: ids.join(","), ..Default::default() }).await?
    };
    let order: HashMap<&str, usize> = sel.tasks.iter().enumerate().map(|(i, t)| (t.id.as_str(), i)).collect();
    let mut grouped: BTreeMap<(String, String), Vec<CompareFigure>> = BTreeMap::new();
    for p in plots {
        grouped.entry((p.metric, p.variant)).or_default().push(CompareFigure {
            task: p.task,
            iteration: p.iteration,
            figure: p.figure,
        });
    }
    let plots = grouped
        .into_iter()
        .map(|((metric, variant), mut figures)| {
            figures.sort_by_key(|f| order.get(f.task.as_str()).copied().unwrap_or(usize::MAX));
            let mergeable = figures.iter().all(|f| mergeable(&f.figure));
            ComparePlot { metric, variant, mergeable, figures }
        })
        .collect();
    Ok(ComparePlots { tasks: sel.tasks.clone(), plots })
}

fn compared(name: String, values: Vec<Option<String>>) -> CompareValue {
    let differs = values.windows(2).any(|w| w[0] != w[1]);
    CompareValue { name, values, differs }
}

/// The tasks' hyperparameters and configuration items side by side, each marked where the
/// tasks disagree.
pub async fn params(store: &Store, sel: &Selection) -> Result<CompareParams> {
    let mut tasks = Vec::with_capacity(sel.tasks.len());
    for t in &sel.tasks {
        tasks.push(store.get_task(&t.id).await?);
    }
    let hp_keys: BTreeSet<(&str, &str)> = tasks
        .iter()
        .flat_map(|t| t.hyperparams.iter().flat_map(|(s, ps)| ps.keys().map(move |n| (s.as_str(), n.as_str()))))
        .collect();
    let hyperparams = hp_keys
        .into_iter()
        .map(|(section, name)| {
            let values = tasks
                .iter()
                .map(|t| t.hyperparams.get(section).and_then(|ps| ps.get(name)).map(|p| p.value.clone()))
                .collect();
            compared(format!("{section}/{name}"), values)
        })
        .collect();
    let cfg_names: BTreeSet<&str> = tasks.iter().flat_map(|t| t.configuration.keys().map(String::as_str)).collect();
    let configuration = cfg_names
        .into_iter()
        .map(|name| {
            compared(
                name.to_string(),
                tasks.iter().map(|t| t.configuration.get(name).map(|c| c.value.clone())).collect(),
            )
        })
        .collect();
    Ok(CompareParams { tasks: sel.tasks.clone(), hyperparams, configuration })
}
