//! Deleting projects: with their subprojects; refused while they hold active tasks unless the
//! tasks go with them or move out; archived tasks move to the parent project; only the
//! project's owner or an admin.

use crate::fencing::key_pair;
use crate::harness::TestServer;
use crate::scenario;
use runyard_api::{Action, ActionRequest, CreateTask, DeleteProject, ErrorCode, Role};

async fn deleting_projects(server: TestServer) {
    let ada = key_pair(&server, "ada", Role::User).await;
    let bob = key_pair(&server, "bob", Role::User).await;
    let task = |project: &str, name: &str| CreateTask {
        name: name.into(),
        project: Some(project.into()),
        ..Default::default()
    };
    let kept = ada.create_task(&task("lab/a/sub", "kept")).await.unwrap().id;
    let old = ada.create_task(&task("lab/a", "old")).await.unwrap().id;
    ada.act(&old, Action::Archive, &ActionRequest::default()).await.unwrap();
    let plain = DeleteProject::default();

    let refused = ada.delete_project("lab/a", &plain).await.unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::Conflict), "{refused}");
    assert!(refused.to_string().contains("1 active tasks"), "{refused}");
    let refused = bob.delete_project("lab/a", &DeleteProject { force: true, ..plain.clone() }).await.unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::Forbidden), "not bob's project: {refused}");
    let missing = ada.delete_project("nowhere", &plain).await.unwrap_err();
    assert_eq!(missing.code(), Some(ErrorCode::NotFound));

    // Forced: the project and its subproject go, every task moves to the parent.
    let done = ada.delete_project("lab/a", &DeleteProject { force: true, ..plain.clone() }).await.unwrap();
    assert_eq!((done.deleted_projects, done.moved_tasks, done.moved_to.as_deref()), (2, 2, Some("lab")));
    for id in [&kept, &old] {
        assert_eq!(ada.get_task(id).await.unwrap().project_name, "lab");
    }
    let left: Vec<String> = ada.list_projects().await.unwrap().into_iter().map(|p| p.name).collect();
    assert!(left.contains(&"lab".to_string()) && !left.iter().any(|p| p.starts_with("lab/")), "{left:?}");

    // With its contents: the tasks are deleted too (archived first).
    let done = ada.delete_project("lab", &DeleteProject { delete_contents: true, ..plain.clone() }).await.unwrap();
    assert_eq!((done.deleted_projects, done.deleted_tasks, done.moved_tasks), (1, 2, 0));
    assert_eq!(ada.get_task(&kept).await.unwrap_err().code(), Some(ErrorCode::NotFound));

    // A top-level project's archived tasks move to `unassigned`.
    let lone = ada.create_task(&task("solo", "lone")).await.unwrap().id;
    ada.act(&lone, Action::Archive, &ActionRequest::default()).await.unwrap();
    let done = ada.delete_project("solo", &plain).await.unwrap();
    assert_eq!(done.moved_to.as_deref(), Some("unassigned"));
    assert_eq!(ada.get_task(&lone).await.unwrap().project_name, "unassigned");
}
scenario!(delete, super::deleting_projects);
