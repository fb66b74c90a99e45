//! The task lifecycle through the HTTP API, on both backends.

use crate::harness::tasks::{act, draft, register};
use crate::harness::TestServer;
use crate::scenario;
use runyard_api::{Action, ActionRequest, Client, ClientError, CreateTask, EditTask, ErrorCode, TaskStatus};

fn req_queue(q: &str) -> ActionRequest {
    ActionRequest { queue: Some(q.into()), ..Default::default() }
}

async fn full_run(server: TestServer) {
    let c = server.client();
    let t = draft(&c, "lifecycle", "full run").await;
    assert_eq!(t.status, TaskStatus::Created);
    assert_eq!(t.user, "admin");
    assert_eq!(t.id.len(), 32);

    let o = c.act(&t.id, Action::Enqueue, &req_queue("default")).await.unwrap();
    assert_eq!(o.status, Some(TaskStatus::Queued));
    let queued = c.get_task(&t.id).await.unwrap();
    assert_eq!(queued.execution.queue.as_deref(), Some("default"));
    assert_eq!(c.list_queues().await.unwrap().iter().find(|q| q.name == "default").unwrap().length, 1);

    // An agent pops it, then starts it; another worker could not start it.
    register(&c, "host:gpu0").await;
    let popped = c
        .pop(&runyard_api::PopRequest {
            queues: vec!["default".into()],
            worker: "host:gpu0".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(popped.task.map(|t| t.id), Some(t.id.clone()));
    register(&c, "intruder").await;
    let intruder = ActionRequest { worker: Some("intruder".into()), ..Default::default() };
    assert_eq!(c.act(&t.id, Action::Started, &intruder).await.unwrap_err().code(), Some(ErrorCode::Conflict));
    let started = ActionRequest { worker: Some("host:gpu0".into()), ..Default::default() };
    assert_eq!(c.act(&t.id, Action::Started, &started).await.unwrap().status, Some(TaskStatus::InProgress));
    assert_eq!(c.list_queues().await.unwrap().iter().find(|q| q.name == "default").unwrap().length, 0);
    let running = c.get_task(&t.id).await.unwrap();
    assert_eq!(running.worker.as_deref(), Some("host:gpu0"));
    assert!(running.started.is_some());

    act(&c, &t.id, Action::Ping).await.unwrap();
    assert_eq!(act(&c, &t.id, Action::Completed).await.unwrap().status, Some(TaskStatus::Completed));
    assert!(c.get_task(&t.id).await.unwrap().completed.is_some());
    assert_eq!(act(&c, &t.id, Action::Publish).await.unwrap().status, Some(TaskStatus::Published));

    // Published is read-only: no reset, no definition edits, but tags, name and comment may change.
    let err = act(&c, &t.id, Action::Reset).await.unwrap_err();
    let ClientError::Api { status, detail } = &err else { panic!("{err}") };
    assert_eq!((*status, detail.code), (409, ErrorCode::InvalidTransition));
    assert_eq!(detail.valid_states, vec![TaskStatus::Completed, TaskStatus::Stopped, TaskStatus::Failed]);
    assert!(detail.message.contains("Published is not a valid state for reset"), "{}", detail.message);
    let edit = EditTask { container: Some(Default::default()), ..Default::default() };
    let err = c.edit_task(&t.id, &edit).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidTransition));
    let renamed = c
        .edit_task(
            &t.id,
            &EditTask { name: Some("renamed".into()), tags: Some(vec!["best".into()]), ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!((renamed.name.as_str(), renamed.tags.clone()), ("renamed", vec!["best".to_string()]));

    // Clone works from any state and makes an editable Draft whose parent is the source.
    let o = act(&c, &t.id, Action::Clone).await.unwrap();
    let clone = c.get_task(o.new_id.as_deref().unwrap()).await.unwrap();
    assert_eq!(clone.status, TaskStatus::Created);
    assert_eq!(clone.parent.as_deref(), Some(t.id.as_str()));
    assert_eq!(clone.name, "Clone Of renamed");
    assert!(clone.comment.contains("clone of task") && clone.comment.contains("UTC"), "{}", clone.comment);
    assert_eq!(clone.tags, vec!["best".to_string()]);
    assert!(clone.started.is_none() && clone.worker.is_none());
    let edit = EditTask {
        script: Some(runyard_api::Script { binary: Some("python3.11".into()), ..Default::default() }),
        ..Default::default()
    };
    assert_eq!(c.edit_task(&clone.id, &edit).await.unwrap().script.binary.as_deref(), Some("python3.11"));
}
scenario!(full_run_and_published_is_read_only, super::full_run);

async fn abort_and_failures(server: TestServer) {
    let c = server.client();
    // Without a (registered) worker an abort takes effect at once.
    let a = draft(&c, "abort", "no worker").await;
    act(&c, &a.id, Action::Started).await.unwrap();
    assert_eq!(act(&c, &a.id, Action::Abort).await.unwrap().status, Some(TaskStatus::Stopped));
    let a = c.get_task(&a.id).await.unwrap();
    assert_eq!(a.status_reason, "aborted by user");

    // With a registered worker it is "stopping" until the agent acknowledges.
    register(&c, "w1").await;
    let b = draft(&c, "abort", "with worker").await;
    c.act(&b.id, Action::Started, &ActionRequest { worker: Some("w1".into()), ..Default::default() }).await.unwrap();
    let o = act(&c, &b.id, Action::Abort).await.unwrap();
    assert_eq!(o.status, Some(TaskStatus::InProgress));
    assert_eq!(c.get_task(&b.id).await.unwrap().status_message, "stopping");
    assert_eq!(act(&c, &b.id, Action::Stopped).await.unwrap().status, Some(TaskStatus::Stopped));
    assert_eq!(c.get_task(&b.id).await.unwrap().status_message, "");

    // An aborted task can be enqueued again; a failed one retried into its last queue.
    assert_eq!(c.act(&b.id, Action::Enqueue, &req_queue("default")).await.unwrap().status, Some(TaskStatus::Queued));
    act(&c, &b.id, Action::Started).await.unwrap();
    let failed =
        ActionRequest { reason: Some("exit code 3".into()), message: Some("boom".into()), ..Default::default() };
    c.act(&b.id, Action::Failed, &failed).await.unwrap();
    let b2 = c.get_task(&b.id).await.unwrap();
    assert_eq!(
        (b2.status, b2.status_reason.as_str(), b2.status_message.as_str()),
        (TaskStatus::Failed, "exit code 3", "boom")
    );
    assert_eq!(act(&c, &b.id, Action::Retry).await.unwrap().status, Some(TaskStatus::Queued));
    assert_eq!(c.get_task(&b.id).await.unwrap().execution.queue.as_deref(), Some("default"));

    // Reset clears the run.
    act(&c, &b.id, Action::Dequeue).await.unwrap();
    act(&c, &b.id, Action::Started).await.unwrap();
    act(&c, &b.id, Action::Completed).await.unwrap();
    act(&c, &b.id, Action::Reset).await.unwrap();
    let reset = c.get_task(&b.id).await.unwrap();
    assert_eq!(reset.status, TaskStatus::Created);
    assert!(reset.started.is_none() && reset.completed.is_none() && reset.worker.is_none());

    // Abort all children: running children stop, the parent does not change.
    let parent = draft(&c, "abort", "parent").await;
    act(&c, &parent.id, Action::Started).await.unwrap();
    let mut kids = Vec::new();
    for i in 0..3 {
        let k = c
            .create_task(&CreateTask {
                name: format!("child {i}"),
                project: Some("abort".into()),
                parent: Some(parent.id.clone()),
                ..Default::default()
            })
            .await
            .unwrap();
        if i < 2 {
            act(&c, &k.id, Action::Started).await.unwrap();
        }
        kids.push(k.id);
    }
    let o = act(&c, &parent.id, Action::AbortChildren).await.unwrap();
    assert_eq!((o.status, o.affected), (Some(TaskStatus::InProgress), Some(2)));
    let statuses: Vec<_> = futures_statuses(&c, &kids).await;
    assert_eq!(statuses, vec![TaskStatus::Stopped, TaskStatus::Stopped, TaskStatus::Created]);
    let err = act(&c, &kids[2], Action::AbortChildren).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidTransition));
}
scenario!(abort_retry_reset_and_children, super::abort_and_failures);

async fn futures_statuses(c: &Client, ids: &[String]) -> Vec<TaskStatus> {
    let mut out = Vec::new();
    for id in ids {
        out.push(c.get_task(id).await.unwrap().status);
    }
    out
}

async fn archive_and_projects(server: TestServer) {
    let c = server.client();
    let a = draft(&c, "vision", "top").await;
    let b = draft(&c, "vision/resnet", "sub").await;
    let _other = draft(&c, "visionary", "prefix but not a subproject").await;
    c.act(&b.id, Action::Enqueue, &req_queue("default")).await.unwrap();

    let q = |project: &str, sub: bool, archived: bool| runyard_api::TaskQuery {
        project: Some(project.into()),
        include_subprojects: Some(sub),
        archived,
        ..Default::default()
    };
    assert_eq!(c.list_tasks(&q("vision", true, false)).await.unwrap().total, 2);
    assert_eq!(c.list_tasks(&q("vision", false, false)).await.unwrap().total, 1);

    // Archive moves Pending to Draft and sets the archived system tag.
    let r = c
        .batch(Action::Archive, &ActionRequest { ids: vec![a.id.clone(), b.id.clone()], ..Default::default() })
        .await
        .unwrap();
    assert_eq!((r.succeeded, r.skipped), (2, 0));
    let b2 = c.get_task(&b.id).await.unwrap();
    assert_eq!(b2.status, TaskStatus::Created);
    assert!(b2.archived() && b2.system_tags.contains(&"archived".to_string()));
    assert_eq!(c.list_tasks(&q("vision", true, false)).await.unwrap().total, 0);
    assert_eq!(c.list_tasks(&q("vision", true, true)).await.unwrap().total, 2);

    // Restore brings one back; delete only works in the archive.
    act(&c, &a.id, Action::Restore).await.unwrap();
    let err = act(&c, &a.id, Action::Delete).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidTransition));
    assert!(err.to_string().contains("archive"), "{err}");
    act(&c, &b.id, Action::Delete).await.unwrap();
    assert_eq!(c.get_task(&b.id).await.unwrap_err().code(), Some(ErrorCode::NotFound));

    // Move to another project, tags in any state.
    let o = c
        .act(&a.id, Action::Move, &ActionRequest { project: Some("archive-test/moved".into()), ..Default::default() })
        .await
        .unwrap();
    assert!(o.ok);
    assert_eq!(c.get_task(&a.id).await.unwrap().project_name, "archive-test/moved");
    c.act(&a.id, Action::AddTag, &ActionRequest { tags: vec!["x".into(), "y".into()], ..Default::default() })
        .await
        .unwrap();
    c.act(&a.id, Action::RemoveTag, &ActionRequest { tags: vec!["x".into()], ..Default::default() }).await.unwrap();
    assert_eq!(c.get_task(&a.id).await.unwrap().tags, vec!["y".to_string()]);
    let tagged = runyard_api::TaskQuery { tag: Some("y".into()), ..Default::default() };
    assert_eq!(
        c.list_tasks(&tagged).await.unwrap().tasks.iter().map(|t| t.id.clone()).collect::<Vec<_>>(),
        vec![a.id.clone()]
    );
    let projects = c.list_projects().await.unwrap();
    assert!(projects.iter().any(|p| p.name == "archive-test"), "parents are created with their children");
}
scenario!(archive_restore_delete_move_and_subprojects, super::archive_and_projects);
