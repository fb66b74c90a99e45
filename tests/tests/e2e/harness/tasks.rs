//! Tasks and workers through the API, as the suites set them up.

use runyard_api::{Action, ActionRequest, Client, ClientError, CreateTask, RegisterWorker};

/// A Draft in `project`.
pub async fn draft(client: &Client, project: &str, name: &str) -> runyard_api::Task {
    let req = CreateTask { name: name.into(), project: Some(project.into()), ..Default::default() };
    client.create_task(&req).await.expect("create task")
}

/// `action` on one task, with no parameters.
pub async fn act(client: &Client, id: &str, action: Action) -> Result<runyard_api::ActionOutcome, ClientError> {
    client.act(id, action, &ActionRequest::default()).await
}

/// A worker registered on the default queue.
pub async fn register(client: &Client, id: &str) -> runyard_api::Worker {
    let req = RegisterWorker { id: id.into(), queues: vec!["default".into()], ..Default::default() };
    client.register_worker(&req).await.expect("register worker")
}
