//! What a task's code can reach. A native task starts from a cleared environment: the basics
//! every program expects, what the operator passes on (`env_passthrough`), and its own
//! variables; the agent's settings and key pair stay with the agent.

use crate::harness::agent::{code_task, run_to_end, server, Agent};
use runyard_api::TaskStatus;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_native_task_sees_only_its_allowed_environment() {
    let server = server();
    let c = server.client();
    let config = "env_passthrough = [\"PASSED_*\"]\n";
    let agent_env = [("AGENT_ONLY_SETTING", "s3cret"), ("PASSED_ON", "yes")];
    let _agent = Agent::start(&server, "clean", "default", config, &agent_env);
    let mut task = code_task("env", "job.sh", "bash", "env | sort\n");
    task.environment.variables.insert("MINE".into(), "own".into());
    let (t, out) = run_to_end(&c, &task).await;
    assert_eq!(t.status, TaskStatus::Completed, "{out}");
    for present in ["PASSED_ON=yes", "MINE=own", "PATH=", "HOME=", "RUNYARD_TASK_ID="] {
        assert!(out.lines().any(|l| l.starts_with(present)), "{present} missing:\n{out}");
    }
    for absent in ["AGENT_ONLY_SETTING", "RUNYARD_SECRET_KEY", "RUNYARD_ACCESS_KEY", "RUNYARD_LOG"] {
        assert!(!out.lines().any(|l| l.starts_with(absent)), "{absent} reached the task:\n{out}");
    }
}
