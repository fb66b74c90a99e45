//! ClearML's automation, unchanged, on Runyard: the stock `HyperParameterOptimizer` (a grid
//! search) clones a base task into trials that Runyard's agent runs, and ranks them by the
//! objective they reported; a two-step `PipelineController` runs its controller in services
//! mode and its steps on agents, the second step reading the first one's artifact.

use crate::clearml::{run_sdk, sdk_python};
use crate::harness::agent::Agent;
use crate::harness::TestServer;
use crate::scenario;
use runyard_api::{EditTask, Environment, TaskStatus};

const TRAIN: &str = r#"
from clearml import Task
task = Task.init(project_name="hpo", task_name="train")
params = task.connect({"x": 0.0, "y": 0.0})
x, y = float(params["x"]), float(params["y"])
for i in range(3):
    task.get_logger().report_scalar("loss", "value", value=(x - 3) ** 2 + y + (2 - i) * 0.5, iteration=i)
print("TASK_ID", task.id)
"#;

const OPTIMIZE: &str = r#"
import sys
from clearml import Task
from clearml.automation import HyperParameterOptimizer, DiscreteParameterRange, GridSearch

Task.init(project_name="hpo", task_name="optimizer", task_type=Task.TaskTypes.optimizer, reuse_last_task_id=False)
opt = HyperParameterOptimizer(
    base_task_id=sys.argv[1],
    hyper_parameters=[
        DiscreteParameterRange("General/x", values=[1.0, 3.0, 5.0]),
        DiscreteParameterRange("General/y", values=[0.0, 1.0]),
    ],
    objective_metric_title="loss",
    objective_metric_series="value",
    objective_metric_sign="min",
    optimizer_class=GridSearch,
    execution_queue="default",
    max_number_of_concurrent_tasks=2,
    total_max_jobs=6,
    pool_period_min=0.05,
    time_limit_per_job=5.0,
)
opt.set_time_limit(in_minutes=8.0)
opt.start()
opt.wait()
for t in opt.get_top_experiments(6):
    p = t.get_parameters()
    print("TRIAL", t.id, p["General/x"], p["General/y"], t.get_last_scalar_metrics()["loss"]["value"]["last"])
opt.stop()
"#;

async fn optimizer_ranks_trials_run_by_the_agent(server: TestServer) {
    let Some(python) = sdk_python() else { return };
    let c = server.client();
    let base = crate::clearml::printed(&run_sdk(&server, &python, TRAIN, &[]), "TASK_ID").to_string();
    // The trials are clones of the base: they run in the environment that has the SDK.
    c.act(&base, runyard_api::Action::Reset, &Default::default()).await.unwrap();
    let venv = std::path::Path::new(&python).parent().unwrap().parent().unwrap().display().to_string();
    let environment = Environment { preinstalled_venv: Some(venv), ..Default::default() };
    c.edit_task(&base, &EditTask { environment: Some(environment), ..Default::default() }).await.unwrap();
    let _agent = Agent::start(&server, "hpo-agent", "default", "", &[]);

    let out = run_sdk(&server, &python, OPTIMIZE, &[&base]);
    let trials: Vec<(String, f64, f64, f64)> = out
        .lines()
        .filter_map(|l| l.strip_prefix("TRIAL "))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].to_string(), f[1].parse().unwrap(), f[2].parse().unwrap(), f[3].parse().unwrap())
        })
        .collect();
    assert_eq!(trials.len(), 6, "{out}");
    // Best first, by the objective each trial reported.
    let objectives: Vec<f64> = trials.iter().map(|t| t.3).collect();
    assert!(objectives.windows(2).all(|w| w[0] <= w[1]), "not ranked: {out}");
    assert_eq!((trials[0].1, trials[0].2, trials[0].3), (3.0, 0.0, 0.0), "{out}");
    for (id, x, y, objective) in &trials {
        let trial = c.get_task(id).await.unwrap();
        assert_eq!(trial.status, TaskStatus::Completed, "{id}");
        assert_eq!(trial.project_name, "hpo", "the trial stays in the base task's project");
        assert_eq!(trial.worker.as_deref(), Some("hpo-agent"), "run by Runyard's agent");
        let metrics = c.task_metrics(id).await.unwrap();
        let reported = metrics.scalars.iter().find(|s| s.metric == "loss").expect("the objective").last.0;
        assert_eq!(reported.to_bits(), objective.to_bits());
        assert_eq!(*objective, (x - 3.0).powi(2) + y);
    }
}
scenario!(hyperparameter_optimizer, super::optimizer_ranks_trials_run_by_the_agent);

const PIPELINE: &str = r#"
from clearml import PipelineController

def make_data(n: int = 5):
    return [i * i for i in range(int(n))]

def consume(data):
    total = sum(data)
    print("TOTAL", total)
    return total

pipe = PipelineController(name="squares", project="pipes", version="1.0.0", add_pipeline_tags=False)
pipe.set_default_execution_queue("default")
pipe.add_parameter(name="n", default=5)
pipe.add_function_step(name="make", function=make_data, function_kwargs=dict(n="${pipeline.n}"),
                       function_return=["data"], cache_executed_step=False)
pipe.add_function_step(name="consume", function=consume, function_kwargs=dict(data="${make.data}"),
                       function_return=["total"], parents=["make"], cache_executed_step=False)
pipe.start(queue="services")
"#;

async fn a_pipeline_runs_on_runyards_agents(server: TestServer) {
    let Some(python) = sdk_python() else { return };
    let c = server.client();
    c.create_queue(&runyard_api::CreateQueue { name: "services".into() }).await.unwrap();
    // Agents whose tasks run in the environment with the SDK: one for the controller, one for
    // the steps.
    let venv = std::path::Path::new(&python).parent().unwrap().parent().unwrap().display().to_string();
    let config = format!("default_venv = \"{venv}\"\n");
    let _controller = Agent::start(&server, "services-agent", "services", &config, &[]);
    let _steps = Agent::start(&server, "steps-agent", "default", &config, &[]);

    // The launcher hands the controller to the services queue and exits.
    run_sdk(&server, &python, PIPELINE, &[]);
    let all = || async {
        let q = runyard_api::TaskQuery {
            project: Some("pipes".into()),
            include_subprojects: Some(true),
            ..Default::default()
        };
        c.list_tasks(&q).await.unwrap().tasks
    };
    let done = crate::harness::wait::eventually("the pipeline done", std::time::Duration::from_secs(400), || async {
        let tasks = all().await;
        let controller = tasks.iter().find(|t| t.kind == runyard_api::TaskType::Controller)?;
        matches!(controller.status, TaskStatus::Completed | TaskStatus::Failed | TaskStatus::Stopped).then_some(tasks)
    })
    .await;
    let by_name = |name: &str| done.iter().find(|t| t.name == name).unwrap_or_else(|| panic!("no {name}: {done:?}"));
    let controller = done.iter().find(|t| t.kind == runyard_api::TaskType::Controller).unwrap();
    let log = crate::harness::agent::console(&c, &controller.id).await;
    assert_eq!(controller.status, TaskStatus::Completed, "{log}");
    assert_eq!(controller.worker.as_deref(), Some("services-agent"), "the controller ran in services mode");
    for step in ["make", "consume"] {
        let t = by_name(step);
        assert_eq!(t.status, TaskStatus::Completed, "{step}");
        assert_eq!(t.worker.as_deref(), Some("steps-agent"), "{step} ran on the steps' queue");
        assert_eq!(t.parent.as_deref(), Some(controller.id.as_str()), "{step} is the controller's");
    }
    // The second step read the first one's artifact through the files server.
    let consumed = crate::harness::agent::console(&c, &by_name("consume").id).await;
    assert!(consumed.contains("TOTAL 30"), "{consumed}");
    assert!(by_name("make").artifacts.iter().any(|a| a.name == "data"), "{:?}", by_name("make").artifacts);
}
scenario!(pipeline, super::a_pipeline_runs_on_runyards_agents);
