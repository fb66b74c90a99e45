//! When an agent dies its tasks die with it: the task guard ends the whole process tree at
//! once, and a restarted agent ends whatever a previous life of it left running.

use crate::harness::agent::{alive, code_task, finished, server, wait_for, Agent};
use crate::harness::wait::{eventually, until};
use runyard_api::TaskStatus;
use std::path::Path;
use std::time::Duration;

/// Pids listed in `file`, once it holds `n` of them.
async fn pids(file: &Path, n: usize) -> Vec<String> {
    eventually(&format!("{n} pids in {}", file.display()), Duration::from_secs(30), || async {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let pids: Vec<String> = text.lines().map(str::to_string).collect();
        (pids.len() >= n).then_some(pids)
    })
    .await
}

/// The parent of process `pid`.
fn parent_of(pid: &str) -> String {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the process runs");
    stat.rsplit(')').next().unwrap().split_whitespace().nth(1).unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_agent_takes_its_task_tree_with_it() {
    let server = server();
    let c = server.client();
    let agent = Agent::start(&server, "mortal", "default", "worker_timeout_seconds = 2\n", &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    // A child that forks a grandchild, a process that leaves the group and the session, and the
    // script itself; each would leave a file behind if it lived to its end.
    let script = format!(
        "( ( sleep 4; touch '{d}/grandchild' ) & echo $! >> '{d}/pids'; sleep 4 ) & echo $! >> '{d}/pids'\n\
         setsid sh -c 'echo $$ >> \"{d}/pids\"; sleep 4; touch \"{d}/escaped\"' &\n\
         echo $$ >> '{d}/pids'\n\
         sleep 4\n\
         touch '{d}/marker'\n"
    );
    let id = c.create_task(&code_task("tree", "job.sh", "bash", &script)).await.unwrap().id;
    let pids = pids(&dir.path().join("pids"), 4).await;
    assert!(pids.iter().all(|p| alive(p)), "the tree runs: {pids:?}");

    agent.signal("-KILL");
    let gone = || async { pids.iter().all(|p| !alive(p)) };
    until("every process of the task is gone within 2 s of the agent's death", Duration::from_secs(2), gone).await;

    let t = wait_for(&c, &id, Duration::from_secs(30), |t| t.status != TaskStatus::InProgress).await;
    assert_eq!(t.status, TaskStatus::Stopped, "{}", t.status_reason);
    assert_eq!(t.status_reason, "worker lost");
    for file in ["marker", "grandchild", "escaped"] {
        assert!(!dir.path().join(file).exists(), "{file} was written: a process outlived its agent");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_agent_ends_what_its_previous_life_left_running() {
    let server = server();
    let c = server.client();
    let mut agent = Agent::start(&server, "phoenix", "default", "", &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let script = format!("echo $$ >> '{d}/pids'\nsleep 30\ntouch '{d}/marker'\n");
    let id = c.create_task(&code_task("orphan", "job.sh", "bash", &script)).await.unwrap().id;
    let pid = pids(&dir.path().join("pids"), 1).await.remove(0);
    wait_for(&c, &id, Duration::from_secs(30), |t| t.status == TaskStatus::InProgress).await;

    // An orphan on purpose: the agent is frozen, its guard killed, then the agent, so nothing
    // is left to end the task's process.
    let guard = parent_of(&pid);
    agent.signal("-STOP");
    let _ = std::process::Command::new("kill").args(["-KILL", &guard]).status();
    until("the guard is dead", Duration::from_secs(5), || async { !alive(&guard) }).await;
    agent.signal("-KILL");
    agent.wait_exit(Duration::from_secs(5));
    assert!(alive(&pid), "the orphan outlived its agent");

    let cache = std::mem::replace(&mut agent.cache, tempfile::tempdir().unwrap());
    let _agent = Agent::start_in(cache, &server, "phoenix", "default", "", &[], &[]);
    until("the restarted agent kills the orphan", Duration::from_secs(15), || async { !alive(&pid) }).await;
    let t = finished(&c, &id).await;
    assert_eq!(t.status, TaskStatus::Stopped, "{}", t.status_reason);
    assert!(t.status_reason.contains("restarted"), "{}", t.status_reason);
    assert!(!dir.path().join("marker").exists());
}
