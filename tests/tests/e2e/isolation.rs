//! What a task's code can reach. A native task starts from a cleared environment: the basics
//! every program expects, what the operator passes on (`env_passthrough`), and its own
//! variables; the agent's settings and key pair stay with the agent.

use crate::harness::agent::{code_task, git, run_to_end, server, Agent};
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
    for present in
        ["PASSED_ON=yes", "MINE=own", "PATH=", "HOME=", "RUNYARD_TASK_ID=", "RUNYARD_TOKEN=", "CLEARML_AUTH_TOKEN="]
    {
        assert!(out.lines().any(|l| l.starts_with(present)), "{present} missing:\n{out}");
    }
    // The task's own token stands in for the agent's key pair.
    for absent in [
        "AGENT_ONLY_SETTING",
        "RUNYARD_SECRET_KEY",
        "RUNYARD_ACCESS_KEY",
        "RUNYARD_LOG",
        "CLEARML_API_ACCESS_KEY",
        "CLEARML_API_SECRET_KEY",
    ] {
        assert!(!out.lines().any(|l| l.starts_with(absent)), "{absent} reached the task:\n{out}");
    }
}

/// A task whose code comes from `repo` (a local repository), running `main.sh`.
fn from_repo(name: &str, repo: &std::path::Path) -> runyard_api::CreateTask {
    let mut t = code_task(name, "main.sh", "bash", "");
    t.script.entry_kind = runyard_api::EntryKind::Script;
    t.script.code = None;
    t.script.repository = Some(repo.display().to_string());
    t
}

/// A repository with `main.sh` and a link `out` to a folder outside it.
fn repository_with_a_link(root: &std::path::Path, outside: &std::path::Path) -> std::path::PathBuf {
    let repo = root.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q"]);
    std::fs::write(repo.join("main.sh"), "echo main ran\n").unwrap();
    std::os::unix::fs::symlink(outside, repo.join("out")).unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "one"]);
    repo
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_repositories_links_and_diffs_stay_in_their_place() {
    let server = server();
    let c = server.client();
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let repo = repository_with_a_link(root.path(), outside.path());

    // An agent that does not allow local repositories refuses one, naming the setting.
    c.create_queue(&runyard_api::CreateQueue { name: "strict".into() }).await.unwrap();
    let strict = Agent::start(&server, "strict", "strict", "", &[]);
    let mut t = from_repo("local", &repo);
    t.queue = Some("strict".into());
    let (t, out) = run_to_end(&c, &t).await;
    assert_eq!(t.status, TaskStatus::Failed, "{out}");
    assert!(t.status_message.contains("git_allow_local"), "{}", t.status_message);
    drop(strict);

    let _agent = Agent::start(&server, "lenient", "default", "git_allow_local = true\n", &[]);
    let (t, out) = run_to_end(&c, &from_repo("plain", &repo)).await;
    assert_eq!(t.status, TaskStatus::Completed, "{out}");

    // Custom code written through the repository's link would land outside: refused.
    let mut through = from_repo("through a link", &repo);
    through.script.entry_kind = runyard_api::EntryKind::Code;
    through.script.entry_point = Some("out/evil.sh".into());
    through.script.code = Some("echo evil\n".into());
    let (t, out) = run_to_end(&c, &through).await;
    assert_eq!(t.status, TaskStatus::Failed, "{out}");
    assert!(!outside.path().join("evil.sh").exists(), "written outside the checkout");

    // A diff that makes a link out of the checkout: refused.
    let mut linked = from_repo("diff link", &repo);
    linked.script.diff = Some(
        "diff --git a/escape b/escape\nnew file mode 120000\nindex 0000000..1111111\n--- /dev/null\n+++ b/escape\n\
         @@ -0,0 +1 @@\n+../../../../etc\n\\ No newline at end of file\n"
            .into(),
    );
    let (t, out) = run_to_end(&c, &linked).await;
    assert_eq!(t.status, TaskStatus::Failed, "{out}");
    assert!(t.status_message.contains("outside the working copy"), "{}", t.status_message);
}
