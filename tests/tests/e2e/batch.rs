//! Batch actions: one outcome per task, invalid tasks skipped and untouched.

use crate::harness::tasks::{act, draft};
use crate::harness::TestServer;
use crate::scenario;
use runyard_api::{Action, ActionRequest, TaskStatus};

async fn mixed_batch(server: TestServer) {
    let c = server.client();
    let draft1 = draft(&c, "batch", "draft").await;
    let done = draft(&c, "batch", "done").await;
    act(&c, &done.id, Action::Started).await.unwrap();
    act(&c, &done.id, Action::Completed).await.unwrap();
    let failed = draft(&c, "batch", "failed").await;
    act(&c, &failed.id, Action::Failed).await.unwrap();
    let running = draft(&c, "batch", "running").await;
    act(&c, &running.id, Action::Started).await.unwrap();
    let before_running = c.get_task(&running.id).await.unwrap();

    let unknown = "0123456789abcdef0123456789abcdef".to_string();
    let ids = vec![
        draft1.id.clone(),
        done.id.clone(),
        failed.id.clone(),
        running.id.clone(),
        unknown.clone(),
        "bogus".into(),
    ];
    let r = c.batch(Action::Reset, &ActionRequest { ids: ids.clone(), ..Default::default() }).await.unwrap();
    assert_eq!((r.succeeded, r.skipped), (2, 4));
    let by_id = |id: &str| r.results.iter().find(|o| o.id == id).unwrap().clone();
    assert_eq!(by_id(&done.id).status, Some(TaskStatus::Created));
    assert_eq!(by_id(&failed.id).status, Some(TaskStatus::Created));
    assert_eq!(
        by_id(&running.id).error.as_deref(),
        Some("Running is not a valid state for reset (valid: Completed, Aborted, Failed)")
    );
    assert_eq!(
        by_id(&draft1.id).error.as_deref(),
        Some("Draft is not a valid state for reset (valid: Completed, Aborted, Failed)")
    );
    assert_eq!(by_id(&unknown).error.as_deref(), Some("no task '0123456789abcdef0123456789abcdef'"));
    assert!(!by_id("bogus").ok);
    assert_eq!(r.results.iter().map(|o| o.id.clone()).collect::<Vec<_>>(), ids, "outcomes keep request order");
    // The skipped running task is untouched.
    assert_eq!(c.get_task(&running.id).await.unwrap(), before_running);

    // A batch enqueue keeps request order in the queue.
    let order = vec![failed.id.clone(), done.id.clone(), draft1.id.clone()];
    let r = c
        .batch(
            Action::Enqueue,
            &ActionRequest { ids: order.clone(), queue: Some("default".into()), ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!(r.succeeded, 3);
    let queued =
        runyard_api::TaskQuery { status: Some("queued".into()), project: Some("batch".into()), ..Default::default() };
    assert_eq!(c.list_tasks(&queued).await.unwrap().total, 3);

    // An unknown queue fails the whole request and changes nothing.
    let err = c
        .batch(
            Action::Enqueue,
            &ActionRequest { ids: vec![running.id.clone()], queue: Some("nope".into()), ..Default::default() },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(runyard_api::ErrorCode::NotFound));
    assert!(err.to_string().contains("queue 'nope'"), "{err}");
}
scenario!(mixed_states_are_skipped_not_half_changed, super::mixed_batch);

async fn large_batch(server: TestServer) {
    let c = server.client();
    let mut ids = Vec::new();
    for i in 0..300 {
        ids.push(draft(&c, "large", &format!("t{i}")).await.id);
    }
    for action in [Action::Archive, Action::Restore, Action::Archive, Action::Delete] {
        let r = c.batch(action, &ActionRequest { ids: ids.clone(), ..Default::default() }).await.unwrap();
        assert_eq!(r.succeeded, 300, "{action}");
    }
    let all = runyard_api::TaskQuery { project: Some("large".into()), archived: true, ..Default::default() };
    assert_eq!(c.list_tasks(&all).await.unwrap().total, 0);
}
scenario!(hundreds_of_tasks_in_one_batch, super::large_batch);

async fn concurrent_creates(server: TestServer) {
    // Concurrent creations share transactions; a bad one among them fails alone.
    let c = server.client();
    let mut handles = Vec::new();
    for i in 0..200 {
        let c = c.clone();
        handles.push(tokio::spawn(async move {
            let queue = (i == 77).then(|| "no-such-queue".to_string());
            let tags = if i % 2 == 0 { vec!["even".to_string()] } else { vec![] };
            c.create_task(&runyard_api::CreateTask {
                name: format!("c{i}"),
                project: Some("concurrent".into()),
                tags,
                queue,
                ..Default::default()
            })
            .await
        }));
    }
    let mut ids = std::collections::HashSet::new();
    for (i, h) in handles.into_iter().enumerate() {
        match h.await.unwrap() {
            Ok(t) => assert!(ids.insert(t.id)),
            Err(e) => {
                assert_eq!(i, 77, "{e}");
                assert_eq!(e.code(), Some(runyard_api::ErrorCode::NotFound));
            }
        }
    }
    assert_eq!(ids.len(), 199);
    let q = runyard_api::TaskQuery { project: Some("concurrent".into()), limit: Some(1000), ..Default::default() };
    assert_eq!(c.list_tasks(&q).await.unwrap().total, 199);
    let even = runyard_api::TaskQuery { tag: Some("even".into()), ..q };
    assert_eq!(c.list_tasks(&even).await.unwrap().total, 100);
}
scenario!(concurrent_creates_share_commits, super::concurrent_creates);
