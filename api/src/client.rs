//! A typed async client for the native API.
//!
//! It exchanges its key pair for a token on first use and logs in again once when the token
//! is refused (expired), so callers never handle tokens themselves.

use crate::console::*;
use crate::dispatch::*;
use crate::error::{ErrorBody, ErrorCode, ErrorDetail};
use crate::events::{Change, EventsQuery};
use crate::lifecycle::Action;
use crate::model::*;
use crate::projects::*;
use crate::tracking::*;
use eventsource_stream::{EventStreamError, Eventsource};
use futures::StreamExt;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::{de::DeserializeOwned, Serialize};
use std::sync::{Arc, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error body.
    #[error("{} ({status}){}", .detail.message, .detail.field.as_ref().map(|f| format!(" [field: {f}]")).unwrap_or_default())]
    Api { status: u16, detail: ErrorDetail },
    /// The server could not be reached, or the connection broke.
    #[error("could not reach the server at {url}")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The server answered something that is not the API's JSON.
    #[error("unexpected answer from the server ({status}): {body}")]
    Unexpected { status: u16, body: String },
}

impl ClientError {
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Api { detail, .. } => Some(detail.code),
            _ => None,
        }
    }
}

/// A client for one server and one key pair. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    access_key: String,
    secret_key: String,
    token: Arc<Mutex<Option<String>>>,
}

impl Client {
    /// `server` is the base URL, e.g. `http://127.0.0.1:8080`.
    pub fn new(server: &str, access_key: &str, secret_key: &str) -> Client {
        Client {
            http: reqwest::Client::builder().pool_max_idle_per_host(64).build().expect("http client"),
            base: server.trim_end_matches('/').to_string(),
            access_key: access_key.to_string(),
            secret_key: secret_key.to_string(),
            token: Arc::new(Mutex::new(None)),
        }
    }

    /// The server's base URL, as given.
    pub fn server(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    async fn send<T: DeserializeOwned>(&self, req: RequestBuilder) -> Result<T, ClientError> {
        let (status, bytes) = self.send_raw(req).await?;
        // No content reads as `null` (for `()`).
        let body: &[u8] = if status == StatusCode::NO_CONTENT { b"null" } else { &bytes };
        serde_json::from_slice(body).map_err(|_| ClientError::Unexpected {
            status: status.as_u16(),
            body: String::from_utf8_lossy(&bytes).chars().take(500).collect(),
        })
    }

    /// Sends a request; a success gives the body, an error answer its error body.
    async fn send_raw(&self, req: RequestBuilder) -> Result<(StatusCode, bytes::Bytes), ClientError> {
        let url = self.base.clone();
        let resp = req.send().await.map_err(|source| ClientError::Transport { url: url.clone(), source })?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|source| ClientError::Transport { url, source })?;
        if status.is_success() {
            return Ok((status, bytes));
        }
        Err(error_of(status.as_u16(), &bytes))
    }

    /// Exchanges the key pair for a token.
    pub async fn login(&self) -> Result<Token, ClientError> {
        let req = self.http.post(self.url("/api/v1/auth/login")).basic_auth(&self.access_key, Some(&self.secret_key));
        let token: Token = self.send(req).await?;
        *self.token.lock().expect("token lock") = Some(token.token.clone());
        Ok(token)
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: Option<Vec<(String, String)>>,
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        self.call_with(method, path, |mut req| {
            if let Some(q) = &query {
                req = req.query(q);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            req
        })
        .await
    }

    /// Sends a request built by `build`, logging in first if need be and once more if the
    /// token was refused (expired).
    async fn call_with<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<T, ClientError> {
        for attempt in 0..2 {
            let token = self.token.lock().expect("token lock").clone();
            let token = match token {
                Some(t) => t,
                None => self.login().await?.token,
            };
            let req = build(self.http.request(method.clone(), self.url(path)).bearer_auth(token));
            match self.send(req).await {
                Err(ClientError::Api { status, .. }) if status == StatusCode::UNAUTHORIZED && attempt == 0 => {
                    *self.token.lock().expect("token lock") = None;
                }
                other => return other,
            }
        }
        unreachable!("the second attempt always returns")
    }

    pub async fn health(&self) -> Result<serde_json::Value, ClientError> {
        self.send(self.http.get(self.url("/healthz"))).await
    }

    pub async fn me(&self) -> Result<User, ClientError> {
        self.call::<(), _>(Method::GET, "/api/v1/me", None, None).await
    }

    pub async fn create_task(&self, task: &CreateTask) -> Result<Task, ClientError> {
        self.call(Method::POST, "/api/v1/tasks", None, Some(task)).await
    }

    pub async fn get_task(&self, id: &str) -> Result<Task, ClientError> {
        self.call::<(), _>(Method::GET, &format!("/api/v1/tasks/{id}"), None, None).await
    }

    pub async fn list_tasks(&self, query: &TaskQuery) -> Result<TaskList, ClientError> {
        self.call::<(), _>(Method::GET, "/api/v1/tasks", Some(query_pairs(query)), None).await
    }

    pub async fn edit_task(&self, id: &str, edit: &EditTask) -> Result<Task, ClientError> {
        self.call(Method::PATCH, &format!("/api/v1/tasks/{id}"), None, Some(edit)).await
    }

    /// Applies `action` to every task in `req.ids`; skipped tasks are reported, not raised.
    pub async fn batch(&self, action: Action, req: &ActionRequest) -> Result<ActionResponse, ClientError> {
        self.call(Method::POST, &format!("/api/v1/tasks/actions/{action}"), None, Some(req)).await
    }

    /// Applies `action` to one task; a refusal is an error (409 for an illegal transition).
    pub async fn act(&self, id: &str, action: Action, req: &ActionRequest) -> Result<ActionOutcome, ClientError> {
        self.call(Method::POST, &format!("/api/v1/tasks/{id}/{action}"), None, Some(req)).await
    }

    pub async fn list_projects(&self) -> Result<Vec<Project>, ClientError> {
        self.call::<(), _>(Method::GET, "/api/v1/projects", None, None).await
    }

    pub async fn create_project(&self, project: &CreateProject) -> Result<Project, ClientError> {
        self.call(Method::POST, "/api/v1/projects", None, Some(project)).await
    }

    pub async fn update_project(&self, id: &str, update: &UpdateProject) -> Result<Project, ClientError> {
        self.call(Method::PATCH, &format!("/api/v1/projects/{}", seg(id)), None, Some(update)).await
    }

    /// Deletes a project and its subprojects (see [`crate::DeleteProject`]).
    pub async fn delete_project(
        &self,
        id: &str,
        q: &crate::DeleteProject,
    ) -> Result<crate::ProjectDeleted, ClientError> {
        self.call::<(), _>(Method::DELETE, &format!("/api/v1/projects/{}", seg(id)), Some(query_pairs(q)), None).await
    }

    /// A page of the task table.
    pub async fn table(&self, q: &crate::table::TableQuery) -> Result<crate::table::TablePage, ClientError> {
        let pairs = q.to_pairs().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        self.call::<(), _>(Method::GET, "/api/v1/table/tasks", Some(pairs), None).await
    }

    /// A task-table query's rows as CSV, handed to `sink` chunk by chunk as they stream in.
    /// Returns the bytes received.
    pub async fn table_csv(
        &self,
        q: &crate::table::TableQuery,
        mut sink: impl FnMut(&[u8]) -> std::io::Result<()>,
    ) -> Result<u64, ClientError> {
        let url = format!("{}?{}", self.url("/api/v1/table/csv"), q.to_query_string());
        let transport = |source| ClientError::Transport { url: self.base.clone(), source };
        let cached = self.token.lock().expect("token lock").clone();
        let mut token = match cached {
            Some(t) => t,
            None => self.login().await?.token,
        };
        let mut resp = self.http.get(&url).bearer_auth(&token).send().await.map_err(transport)?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            // The token expired: once more with a new one.
            token = self.login().await?.token;
            resp = self.http.get(&url).bearer_auth(&token).send().await.map_err(transport)?;
        }
        if !resp.status().is_success() {
            let status = resp.status().as_u16();
            return Err(error_of(status, &resp.bytes().await.map_err(transport)?));
        }
        let mut total = 0;
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            sink(&chunk).map_err(|e| ClientError::Unexpected { status: 200, body: format!("could not write: {e}") })?;
            total += chunk.len() as u64;
        }
        Ok(total)
    }

    /// The metrics, hyperparameters and properties of a project's tasks (with subprojects).
    pub async fn table_catalogue(&self, project: Option<&str>) -> Result<crate::table::ColumnCatalogue, ClientError> {
        let q: std::collections::BTreeMap<&str, &str> = project.map(|p| ("project", p)).into_iter().collect();
        self.get("/api/v1/table/catalogue", Some(&q)).await
    }

    /// The scalars of up to 100 tasks, a chart per metric/variant on one x grid.
    pub async fn compare_scalars(&self, tasks: &[String]) -> Result<crate::table::CompareScalars, ClientError> {
        let q = std::collections::BTreeMap::from([("tasks", tasks.join(","))]);
        self.get("/api/v1/table/compare/scalars", Some(&q)).await
    }

    /// How many tasks a task-table query selects.
    pub async fn table_count(&self, q: &crate::table::TableQuery) -> Result<u64, ClientError> {
        let pairs = q.to_pairs().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let v: serde_json::Value = self.call::<(), _>(Method::GET, "/api/v1/table/count", Some(pairs), None).await?;
        Ok(v["count"].as_u64().unwrap_or(0))
    }

    pub async fn list_queues(&self) -> Result<Vec<Queue>, ClientError> {
        self.call::<(), _>(Method::GET, "/api/v1/queues", None, None).await
    }

    pub async fn create_queue(&self, queue: &CreateQueue) -> Result<Queue, ClientError> {
        self.call(Method::POST, "/api/v1/queues", None, Some(queue)).await
    }

    pub async fn queue(&self, queue: &str) -> Result<QueueDetail, ClientError> {
        self.call::<(), _>(Method::GET, &format!("/api/v1/queues/{}", seg(queue)), None, None).await
    }

    pub async fn rename_queue(&self, queue: &str, name: &str) -> Result<Queue, ClientError> {
        let body = RenameQueue { name: name.to_string() };
        self.call(Method::PATCH, &format!("/api/v1/queues/{}", seg(queue)), None, Some(&body)).await
    }

    /// Deletes a queue; with `force` its tasks go back to Draft. Returns those tasks' ids.
    pub async fn delete_queue(&self, queue: &str, force: bool) -> Result<serde_json::Value, ClientError> {
        let query = query_pairs(&DeleteQueueQuery { force });
        self.call::<(), _>(Method::DELETE, &format!("/api/v1/queues/{}", seg(queue)), Some(query), None).await
    }

    pub async fn move_entry(&self, queue: &str, task: &str, to: &MoveEntry) -> Result<QueueDetail, ClientError> {
        let path = format!("/api/v1/queues/{}/entries/{task}/move", seg(queue));
        self.call(Method::POST, &path, None, Some(to)).await
    }

    /// Takes a task out of a queue (back to Draft).
    pub async fn remove_entry(&self, queue: &str, task: &str) -> Result<ActionOutcome, ClientError> {
        let path = format!("/api/v1/queues/{}/entries/{task}", seg(queue));
        self.call::<(), _>(Method::DELETE, &path, None, None).await
    }

    /// Long-polls for the next task of a worker's queues.
    pub async fn pop(&self, req: &PopRequest) -> Result<PopResponse, ClientError> {
        self.call(Method::POST, "/api/v1/queues/pop", None, Some(req)).await
    }

    pub async fn register_worker(&self, req: &RegisterWorker) -> Result<Worker, ClientError> {
        self.call(Method::POST, "/api/v1/workers", None, Some(req)).await
    }

    pub async fn list_workers(&self) -> Result<Vec<Worker>, ClientError> {
        self.call::<(), _>(Method::GET, "/api/v1/workers", None, None).await
    }

    pub async fn worker(&self, id: &str) -> Result<Worker, ClientError> {
        self.call::<(), _>(Method::GET, &format!("/api/v1/workers/{}", seg(id)), None, None).await
    }

    pub async fn report_worker(&self, id: &str, report: &WorkerReport) -> Result<ReportAnswer, ClientError> {
        self.call(Method::POST, &format!("/api/v1/workers/{}/report", seg(id)), None, Some(report)).await
    }

    /// Drains (`true`) or undrains a worker.
    pub async fn drain_worker(&self, id: &str, drain: bool) -> Result<Worker, ClientError> {
        let verb = if drain { "drain" } else { "undrain" };
        self.call::<(), _>(Method::POST, &format!("/api/v1/workers/{}/{verb}", seg(id)), None, None).await
    }

    pub async fn worker_history(&self, id: &str, q: &HistoryQuery) -> Result<History, ClientError> {
        let path = format!("/api/v1/workers/{}/history", seg(id));
        self.call::<(), _>(Method::GET, &path, Some(query_pairs(q)), None).await
    }

    pub async fn queue_history(&self, queue: &str, q: &HistoryQuery) -> Result<History, ClientError> {
        let path = format!("/api/v1/queues/{}/history", seg(queue));
        self.call::<(), _>(Method::GET, &path, Some(query_pairs(q)), None).await
    }

    pub async fn append_console(&self, task: &str, append: &AppendConsole) -> Result<serde_json::Value, ClientError> {
        self.call(Method::POST, &format!("/api/v1/tasks/{}/console", seg(task)), None, Some(append)).await
    }

    pub async fn console(&self, task: &str, q: &ConsoleQuery) -> Result<ConsolePage, ClientError> {
        let path = format!("/api/v1/tasks/{}/console", seg(task));
        self.call::<(), _>(Method::GET, &path, Some(query_pairs(q)), None).await
    }

    pub async fn unregister_worker(&self, id: &str) -> Result<serde_json::Value, ClientError> {
        self.call::<(), _>(Method::DELETE, &format!("/api/v1/workers/{}", seg(id)), None, None).await
    }

    /// Follows the live change stream, calling `on` for each change until it returns `false`
    /// or the server closes the stream.
    pub async fn watch(&self, on: impl FnMut(Change) -> bool) -> Result<(), ClientError> {
        self.watch_with(&EventsQuery::default(), on).await
    }

    /// [`Client::watch`], for the changes `q` selects (e.g. one task's).
    pub async fn watch_with(&self, q: &EventsQuery, mut on: impl FnMut(Change) -> bool) -> Result<(), ClientError> {
        let cached = self.token.lock().expect("token lock").clone();
        let token = match cached {
            Some(t) => t,
            None => self.login().await?.token,
        };
        let url = self.base.clone();
        let transport = |source| ClientError::Transport { url: url.clone(), source };
        let req = self.http.get(self.url("/api/v1/events")).query(&query_pairs(q)).bearer_auth(token);
        let resp = req.send().await.map_err(transport)?;
        if !resp.status().is_success() {
            return Err(ClientError::Unexpected { status: resp.status().as_u16(), body: String::new() });
        }
        let mut changes = std::pin::pin!(changes(resp.bytes_stream()));
        while let Some(change) = changes.next().await {
            let change = change.map_err(|e| match e {
                EventStreamError::Transport(source) => transport(source),
                other => ClientError::Unexpected { status: 200, body: format!("a broken event stream: {other}") },
            })?;
            if !on(change) {
                return Ok(());
            }
        }
        Ok(())
    }

    pub async fn create_user(&self, user: &CreateUser) -> Result<Credentials, ClientError> {
        self.call(Method::POST, "/api/v1/users", None, Some(user)).await
    }

    pub async fn list_users(&self) -> Result<Vec<User>, ClientError> {
        self.call::<(), _>(Method::GET, "/api/v1/users", None, None).await
    }

    /// Removes a user (by id or name): their key pairs and tokens stop working at once.
    pub async fn remove_user(&self, user: &str) -> Result<(), ClientError> {
        self.call::<(), _>(Method::DELETE, &format!("/api/v1/users/{}", seg(user)), None, None).await
    }

    /// A new key pair for a user (by id or name).
    pub async fn create_key(&self, user: &str) -> Result<Credentials, ClientError> {
        self.call::<(), _>(Method::POST, &format!("/api/v1/users/{}/keys", seg(user)), None, None).await
    }

    /// Revokes one of a user's key pairs.
    pub async fn delete_key(&self, user: &str, access_key: &str) -> Result<(), ClientError> {
        let path = format!("/api/v1/users/{}/keys/{}", seg(user), seg(access_key));
        self.call::<(), _>(Method::DELETE, &path, None, None).await
    }

    /// Revokes every token of a user (by id or name).
    pub async fn revoke_tokens(&self, user: &str) -> Result<(), ClientError> {
        self.call::<(), _>(Method::POST, &format!("/api/v1/users/{}/revoke-tokens", seg(user)), None, None).await
    }

    /// Revokes this client's token (signing out); the next call signs in again.
    pub async fn logout(&self) -> Result<(), ClientError> {
        let Some(token) = self.token.lock().expect("token lock").take() else { return Ok(()) };
        self.send(self.http.post(self.url("/api/v1/auth/logout")).bearer_auth(token)).await
    }

    /// Reports events of any tasks in one batch.
    pub async fn send_events(&self, batch: &EventBatch) -> Result<BatchResult, ClientError> {
        self.call(Method::POST, "/api/v1/events/batch", None, Some(batch)).await
    }

    /// Reports a batch already encoded as JSON (`{"events": [...]}`).
    pub async fn send_events_json(&self, json: String) -> Result<BatchResult, ClientError> {
        self.call_with(Method::POST, "/api/v1/events/batch", |req| {
            req.header(reqwest::header::CONTENT_TYPE, "application/json").body(json.clone())
        })
        .await
    }

    /// Uploads a file of a task to its output destination (`name`: its path in the task's folder).
    pub async fn upload_file(&self, task: &str, name: &str, content: Vec<u8>) -> Result<StoredFile, ClientError> {
        let path =
            format!("/api/v1/tasks/{}/files/{}", seg(task), name.split('/').map(seg).collect::<Vec<_>>().join("/"));
        self.call_with(Method::PUT, &path, |req| {
            req.header(reqwest::header::CONTENT_TYPE, "application/octet-stream").body(content.clone())
        })
        .await
    }

    /// Downloads a file of the daemon's file store by its URI (as `upload_file` returned it).
    pub async fn download(&self, uri: &str) -> Result<Vec<u8>, ClientError> {
        let cached = self.token.lock().expect("token lock").clone();
        let token = match cached {
            Some(t) => t,
            None => self.login().await?.token,
        };
        let (_, bytes) = self.send_raw(self.http.get(uri).bearer_auth(token)).await?;
        Ok(bytes.to_vec())
    }

    /// The token a task's process runs with (agents only, for a task their worker holds).
    pub async fn task_token(&self, task: &str, attempt: i64) -> Result<Token, ClientError> {
        let req = crate::TaskTokenRequest { attempt };
        self.call(Method::POST, &format!("/api/v1/tasks/{task}/token"), None, Some(&req)).await
    }

    pub async fn register_outputs(&self, task: &str, req: &RegisterOutputs) -> Result<Task, ClientError> {
        self.call(Method::POST, &format!("/api/v1/tasks/{}/outputs", seg(task)), None, Some(req)).await
    }

    pub async fn task_metrics(&self, task: &str) -> Result<TaskMetrics, ClientError> {
        self.get(&format!("/api/v1/tasks/{}/metrics", seg(task)), None::<&()>).await
    }

    pub async fn project_metrics(&self, project: &str) -> Result<MetricCatalogue, ClientError> {
        self.get(&format!("/api/v1/projects/{}/metrics", seg(project)), None::<&()>).await
    }

    /// Saves a table state under a name (a leaderboard the whole team can open).
    pub async fn save_view(&self, view: &crate::table::SaveView) -> Result<crate::table::SavedView, ClientError> {
        self.call(Method::POST, "/api/v1/table/views", None, Some(view)).await
    }

    /// The views saved for a project (a path or id).
    pub async fn list_views(&self, project: &str) -> Result<Vec<crate::table::SavedView>, ClientError> {
        self.get("/api/v1/table/views", Some(&serde_json::json!({ "project": project }))).await
    }

    pub async fn scalars(&self, q: &ScalarQuery) -> Result<ScalarSeries, ClientError> {
        self.get("/api/v1/scalars", Some(q)).await
    }

    pub async fn raw_scalars(&self, task: &str, q: &RawScalarQuery) -> Result<RawScalars, ClientError> {
        self.get(&format!("/api/v1/tasks/{}/scalars/raw", seg(task)), Some(q)).await
    }

    pub async fn single_values(
        &self,
        tasks: &[&str],
    ) -> Result<std::collections::BTreeMap<String, Vec<SingleValue>>, ClientError> {
        let q = vec![("tasks".to_string(), tasks.join(","))];
        self.call::<(), _>(Method::GET, "/api/v1/single-values", Some(q), None).await
    }

    pub async fn plots(&self, q: &PlotQuery) -> Result<Vec<Plot>, ClientError> {
        self.get("/api/v1/plots", Some(q)).await
    }

    pub async fn samples(&self, task: &str, q: &SampleQuery) -> Result<Vec<Sample>, ClientError> {
        self.get(&format!("/api/v1/tasks/{}/samples", seg(task)), Some(q)).await
    }

    async fn get<Q: Serialize, T: DeserializeOwned>(&self, path: &str, q: Option<&Q>) -> Result<T, ClientError> {
        self.call::<(), _>(Method::GET, path, q.map(query_pairs), None).await
    }
}

/// An error answer as the error it carries.
fn error_of(status: u16, bytes: &[u8]) -> ClientError {
    match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(body) => ClientError::Api { status, detail: body.error },
        Err(_) => ClientError::Unexpected { status, body: String::from_utf8_lossy(bytes).chars().take(500).collect() },
    }
}

/// A name as one percent-encoded URL path segment.
fn seg(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' | b',' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A query struct as `key=value` pairs; `None` fields are left out.
fn query_pairs<T: Serialize>(query: &T) -> Vec<(String, String)> {
    let Ok(serde_json::Value::Object(map)) = serde_json::to_value(query) else {
        return Vec::new();
    };
    map.into_iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) => Some((k, s)),
            other => Some((k, other.to_string())),
        })
        .collect()
}

/// The changes in a server-sent event stream; events that carry no change are skipped.
fn changes<E>(
    body: impl futures::Stream<Item = Result<bytes::Bytes, E>>,
) -> impl futures::Stream<Item = Result<Change, EventStreamError<E>>> {
    body.eventsource().filter_map(|event| async move {
        match event {
            Ok(event) => serde_json::from_str::<Change>(&event.data).ok().map(Ok),
            Err(error) => Some(Err(error)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_character_split_across_chunks_arrives_whole() {
        let event = "data: {\"kind\":\"queue\",\"id\":\"caf\u{e9}-\u{1f680}\"}\n\n".as_bytes().to_vec();
        // Split inside the two-byte é and inside the four-byte rocket.
        let e_at = event.iter().position(|b| *b == 0xc3).unwrap() + 1;
        let rocket_at = event.iter().position(|b| *b == 0xf0).unwrap() + 2;
        let chunks = [&event[..e_at], &event[e_at..rocket_at], &event[rocket_at..]]
            .map(|c| Ok::<_, std::convert::Infallible>(bytes::Bytes::copy_from_slice(c)));
        let got: Vec<Change> = changes(futures::stream::iter(chunks)).map(Result::unwrap).collect().await;
        assert_eq!(got, vec![Change::Queue { id: "caf\u{e9}-\u{1f680}".into() }]);
    }

    #[tokio::test]
    async fn events_without_a_change_are_skipped() {
        let body = ": keep-alive\n\ndata: not json\n\nevent: x\ndata: {\"kind\":\"resync\"}\n\n";
        let chunks = [Ok::<_, std::convert::Infallible>(bytes::Bytes::from(body))];
        let got: Vec<Change> = changes(futures::stream::iter(chunks)).map(Result::unwrap).collect().await;
        assert_eq!(got, vec![Change::Resync]);
    }
}
