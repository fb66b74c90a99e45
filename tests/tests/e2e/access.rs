//! Who may do what, route by route: every operation of the OpenAPI document, called as an
//! admin, as the owner of the task it touches, as another user and as an agent, each on fresh
//! fixtures; and an agent's key pair running a task end to end while another agent cannot
//! speak for it.

use crate::harness::TestServer;
use crate::scenario;
use reqwest::{Method, StatusCode};
use runyard_api::{
    Action, ActionRequest, Client, CreateQueue, CreateTask, CreateUser, PopRequest, RegisterWorker, Role, TaskStatus,
};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Routes anyone may call without credentials.
const PUBLIC: [(&str, &str); 5] = [
    ("get", "/healthz"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/logout"),
    ("post", "/api/v1/auth/session"),
    ("delete", "/api/v1/auth/session"),
];

/// Allowed (`Y`) or refused with 403 (`N`), for admin, owner, other user and agent in turn.
const Y: bool = true;
const N: bool = false;
pub const READ: [bool; 4] = [Y, Y, Y, Y];
pub const ADMIN: [bool; 4] = [Y, N, N, N];
pub const OWNER: [bool; 4] = [Y, Y, N, N];
pub const PEOPLE: [bool; 4] = [Y, Y, Y, N];
pub const MACHINE: [bool; 4] = [Y, N, N, Y];

/// One operation of the document: how to call it on fresh fixtures, and who may.
struct Row {
    method: &'static str,
    template: &'static str,
    call: fn(&Fixture) -> (String, Value),
    may: [bool; 4],
}

/// What each call acts on, made afresh: a Draft and a Pending task of the owner, the queue
/// holding the Pending one, a worker of the agent, a project of the owner.
struct Fixture {
    draft: String,
    pending: String,
    queue: String,
    worker: String,
    project: String,
    view: String,
    unique: String,
    /// A user of the owner's kind, with one key pair: whose account the account routes manage.
    member: String,
    member_key: String,
}

fn matrix() -> Vec<Row> {
    macro_rules! row {
        ($method:literal, $template:literal, $may:expr, |$f:ident| $call:expr) => {
            Row { method: $method, template: $template, call: |$f: &Fixture| $call, may: $may }
        };
    }
    vec![
        row!("get", "/api/v1/me", READ, |_f| query("/api/v1/me".into())),
        row!("post", "/api/v1/users", ADMIN, |f| ("/api/v1/users".into(), json!({"name": f.unique}))),
        row!("get", "/api/v1/users", ADMIN, |_f| query("/api/v1/users".into())),
        row!("delete", "/api/v1/users/{user}", ADMIN, |f| query(format!("/api/v1/users/{}", f.member))),
        row!("post", "/api/v1/users/{user}/keys", ADMIN, |f| query(format!("/api/v1/users/{}/keys", f.member))),
        row!("delete", "/api/v1/users/{user}/keys/{key}", ADMIN, |f| {
            query(format!("/api/v1/users/{}/keys/{}", f.member, f.member_key))
        }),
        row!("post", "/api/v1/users/{user}/revoke-tokens", ADMIN, |f| {
            query(format!("/api/v1/users/{}/revoke-tokens", f.member))
        }),
        row!("get", "/api/v1/projects", READ, |_f| query("/api/v1/projects".into())),
        row!("post", "/api/v1/projects", PEOPLE, |f| ("/api/v1/projects".into(), json!({"name": f.unique}))),
        row!("get", "/api/v1/projects/{id}", READ, |f| query(format!("/api/v1/projects/{}", f.project))),
        row!("delete", "/api/v1/projects/{id}", OWNER, |f| {
            query(format!("/api/v1/projects/{}?delete_contents=true", f.project))
        }),
        row!("patch", "/api/v1/projects/{id}", PEOPLE, |f| {
            (format!("/api/v1/projects/{}", f.project), json!({"description": "changed"}))
        }),
        row!("get", "/api/v1/events", READ, |_f| query("/api/v1/events".into())),
        row!("get", "/metrics", READ, |_f| query("/metrics".into())),
        row!("get", "/api/v1/queues", READ, |_f| query("/api/v1/queues".into())),
        row!("post", "/api/v1/queues", ADMIN, |f| ("/api/v1/queues".into(), json!({"name": f.unique}))),
        row!("get", "/api/v1/queues/{queue}", READ, |f| query(format!("/api/v1/queues/{}", f.queue))),
        row!("patch", "/api/v1/queues/{queue}", ADMIN, |f| {
            (format!("/api/v1/queues/{}", f.queue), json!({"name": f.unique}))
        }),
        row!("delete", "/api/v1/queues/{queue}", ADMIN, |f| query(format!("/api/v1/queues/{}?force=true", f.queue))),
        row!("get", "/api/v1/queues/{queue}/history", READ, |f| query(format!("/api/v1/queues/{}/history", f.queue))),
        row!("post", "/api/v1/queues/{queue}/entries/{task}/move", OWNER, |f| {
            (format!("/api/v1/queues/{}/entries/{}/move", f.queue, f.pending), json!({"to": "top"}))
        }),
        row!("delete", "/api/v1/queues/{queue}/entries/{task}", OWNER, |f| query(format!(
            "/api/v1/queues/{}/entries/{}",
            f.queue, f.pending
        ))),
        row!("post", "/api/v1/queues/pop", MACHINE, |f| {
            ("/api/v1/queues/pop".into(), json!({"queues": [f.queue], "worker": f.worker, "wait_seconds": 0}))
        }),
        row!("post", "/api/v1/tasks", PEOPLE, |f| {
            ("/api/v1/tasks".into(), json!({"name": "made", "project": f.unique}))
        }),
        row!("get", "/api/v1/tasks", READ, |_f| query("/api/v1/tasks".into())),
        row!("get", "/api/v1/tasks/{id}", READ, |f| query(format!("/api/v1/tasks/{}", f.draft))),
        row!("patch", "/api/v1/tasks/{id}", OWNER, |f| {
            (format!("/api/v1/tasks/{}", f.draft), json!({"comment": "changed"}))
        }),
        row!("post", "/api/v1/tasks/{id}/outputs", OWNER, |f| {
            (format!("/api/v1/tasks/{}/outputs", f.draft), json!({"remove_artifacts": ["none"]}))
        }),
        row!("post", "/api/v1/tasks/{id}/token", ADMIN, |f| {
            (format!("/api/v1/tasks/{}/token", f.draft), json!({"attempt": 0}))
        }),
        row!("post", "/api/v1/tasks/{id}/{action}", OWNER, |f| {
            (format!("/api/v1/tasks/{}/add_tag", f.draft), json!({"tags": ["seen"]}))
        }),
        row!("post", "/api/v1/tasks/actions/{action}", OWNER, |f| {
            ("/api/v1/tasks/actions/add_tag".into(), json!({"ids": [f.draft], "tags": ["seen"]}))
        }),
        row!("post", "/api/v1/tasks/{id}/console", OWNER, |f| {
            (format!("/api/v1/tasks/{}/console", f.draft), json!({"text": "hello\n"}))
        }),
        row!("get", "/api/v1/tasks/{id}/console", READ, |f| query(format!("/api/v1/tasks/{}/console", f.draft))),
        row!("post", "/api/v1/workers", MACHINE, |f| {
            ("/api/v1/workers".into(), json!({"id": f.unique, "queues": ["default"]}))
        }),
        row!("get", "/api/v1/workers", READ, |_f| query("/api/v1/workers".into())),
        row!("get", "/api/v1/workers/{id}", READ, |f| query(format!("/api/v1/workers/{}", f.worker))),
        row!("get", "/api/v1/workers/{id}/history", READ, |f| query(format!("/api/v1/workers/{}/history", f.worker))),
        row!("post", "/api/v1/workers/{id}/report", MACHINE, |f| {
            (format!("/api/v1/workers/{}/report", f.worker), json!({}))
        }),
        row!("post", "/api/v1/workers/{id}/drain", MACHINE, |f| query(format!("/api/v1/workers/{}/drain", f.worker))),
        row!("post", "/api/v1/workers/{id}/undrain", MACHINE, |f| query(format!(
            "/api/v1/workers/{}/undrain",
            f.worker
        ))),
        row!("delete", "/api/v1/workers/{id}", MACHINE, |f| query(format!("/api/v1/workers/{}", f.worker))),
        // The tracking plugin: events and files of a task come from those who may report on it.
        row!("post", "/api/v1/events/batch", OWNER, |f| {
            ("/api/v1/events/batch".into(), json!({"events": [{"type": "log", "task": f.draft, "msg": "hi"}]}))
        }),
        row!("put", "/api/v1/tasks/{id}/files/{name}", OWNER, |f| {
            (format!("/api/v1/tasks/{}/files/notes.txt", f.draft), json!("file body"))
        }),
        row!("get", "/api/v1/files/{path}", READ, |f| query(format!("/api/v1/files/{}/x", f.draft))),
        row!("get", "/api/v1/tasks/{id}/metrics", READ, |f| query(format!("/api/v1/tasks/{}/metrics", f.draft))),
        row!("get", "/api/v1/tasks/{id}/samples", READ, |f| query(format!("/api/v1/tasks/{}/samples", f.draft))),
        row!("get", "/api/v1/tasks/{id}/scalars/raw", READ, |f| query(format!(
            "/api/v1/tasks/{}/scalars/raw?metric=m&variant=v",
            f.draft
        ))),
        row!("get", "/api/v1/projects/{id}/metrics", READ, |f| query(format!(
            "/api/v1/projects/{}/metrics",
            f.project
        ))),
        row!("get", "/api/v1/scalars", READ, |f| query(format!("/api/v1/scalars?tasks={}", f.draft))),
        row!("get", "/api/v1/single-values", READ, |f| query(format!("/api/v1/single-values?tasks={}", f.draft))),
        row!("get", "/api/v1/plots", READ, |f| query(format!("/api/v1/plots?tasks={}", f.draft))),
        // The table plugin: reads for everyone, actions through the task service, views by people.
        row!("get", "/api/v1/table/tasks", READ, |_f| query("/api/v1/table/tasks".into())),
        row!("get", "/api/v1/table/count", READ, |_f| query("/api/v1/table/count".into())),
        row!("get", "/api/v1/table/catalogue", READ, |_f| query("/api/v1/table/catalogue".into())),
        row!("get", "/api/v1/table/values", READ, |_f| query("/api/v1/table/values?column=status".into())),
        row!("get", "/api/v1/table/csv", READ, |_f| query("/api/v1/table/csv".into())),
        row!("get", "/api/v1/table/selection", READ, |f| query(format!("/api/v1/table/selection?ids={}", f.draft))),
        row!("get", "/api/v1/table/compare/scalars", READ, |f| query(format!(
            "/api/v1/table/compare/scalars?ids={}",
            f.draft
        ))),
        row!("get", "/api/v1/table/compare/plots", READ, |f| query(format!(
            "/api/v1/table/compare/plots?ids={}",
            f.draft
        ))),
        row!("get", "/api/v1/table/compare/params", READ, |f| query(format!(
            "/api/v1/table/compare/params?ids={}",
            f.draft
        ))),
        row!("post", "/api/v1/table/actions/{action}", OWNER, |f| {
            (format!("/api/v1/table/actions/add_tag?ids={}", f.draft), json!({"tags": ["seen"]}))
        }),
        row!("get", "/api/v1/table/views", READ, |_f| query("/api/v1/table/views".into())),
        row!("post", "/api/v1/table/views", PEOPLE, |f| {
            ("/api/v1/table/views".into(), json!({"name": f.unique, "state": "sort=-created"}))
        }),
        row!("patch", "/api/v1/table/views/{id}", OWNER, |f| {
            (format!("/api/v1/table/views/{}", f.view), json!({"state": "sort=name"}))
        }),
        row!("delete", "/api/v1/table/views/{id}", OWNER, |f| query(format!("/api/v1/table/views/{}", f.view))),
        // The UI's custom actions: people, on their own tasks.
        row!("get", "/api/v1/ui/actions", READ, |_f| query("/api/v1/ui/actions".into())),
        row!("post", "/api/v1/ui/actions/{name}", PEOPLE, |f| {
            ("/api/v1/ui/actions/none".into(), json!({"ids": [f.draft]}))
        }),
    ]
}

/// A call without a body.
fn query(path: String) -> (String, Value) {
    (path, Value::Null)
}

/// A key pair of a new user with `role`, as a client.
async fn user(server: &TestServer, name: &str, role: Role) -> Client {
    let c = server.client().create_user(&CreateUser { name: name.into(), role }).await.expect("create user");
    Client::new(&server.url, &c.access_key, &c.secret_key)
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

async fn fixture(server: &TestServer, admin: &Client, owner: &Client, agent: &Client) -> Fixture {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let queue = admin.create_queue(&CreateQueue { name: format!("q{n}") }).await.expect("queue").name;
    let project = format!("owned{n}");
    let task = |queue: Option<String>| CreateTask {
        name: "t".into(),
        project: Some(project.clone()),
        queue,
        ..Default::default()
    };
    let draft = owner.create_task(&task(None)).await.expect("draft").id;
    let pending = owner.create_task(&task(Some(queue.clone()))).await.expect("pending").id;
    let worker = format!("w{n}");
    let register = RegisterWorker { id: worker.clone(), queues: vec![queue.clone()], ..Default::default() };
    agent.register_worker(&register).await.expect("register");
    let project = owner.list_projects().await.unwrap().into_iter().find(|p| p.name == project).unwrap().id;
    let token = owner.login().await.unwrap().token;
    let view = json!({"name": format!("view{n}"), "state": "sort=-created"});
    let view: Value = send(server, Some(&token), "post", "/api/v1/table/views", &view).await.json().await.unwrap();
    let view = view["id"].as_str().expect("a view").to_string();
    let member = admin.create_user(&CreateUser { name: format!("m{n}"), role: Role::User }).await.expect("member");
    Fixture {
        draft,
        pending,
        queue,
        worker,
        project,
        view,
        unique: format!("u{n}"),
        member: member.user.name,
        member_key: member.access_key,
    }
}

async fn send(server: &TestServer, token: Option<&str>, method: &str, path: &str, body: &Value) -> reqwest::Response {
    let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let mut req = server.http().request(method, format!("{}{path}", server.url));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    match body {
        Value::Null => {}
        Value::String(raw) => req = req.body(raw.clone()),
        json => req = req.json(json),
    }
    req.send().await.expect("request")
}

async fn permission_matrix(server: TestServer) {
    let admin = server.client();
    let owner = user(&server, "owner", Role::User).await;
    let other = user(&server, "other", Role::User).await;
    let agent = user(&server, "box", Role::Agent).await;
    let mut tokens = Vec::new();
    for c in [&admin, &owner, &other, &agent] {
        tokens.push(c.login().await.expect("login").token);
    }
    let names = ["admin", "owner", "other user", "agent"];
    // The admin's browser session: a cookie alone may read, never change.
    let signed_in = server
        .http()
        .post(format!("{}/api/v1/auth/session", server.url))
        .json(&json!({"access_key": crate::harness::ACCESS_KEY, "secret_key": crate::harness::SECRET_KEY}))
        .send()
        .await
        .unwrap();
    let cookie = signed_in.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();

    // Every operation of the document has its row, so a new route cannot go unchecked.
    let doc: Value =
        send(&server, Some(&tokens[0]), "get", "/api/v1/openapi.json", &Value::Null).await.json().await.unwrap();
    let rows = matrix();
    let mut missing = Vec::new();
    for (template, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            // The document writes an `{action}` operation out once per action: one row covers them.
            let covers = |r: &Row| {
                r.template == *template
                    || runyard_api::rules::task_actions().iter().any(|a| r.template.replace("{action}", a) == *template)
            };
            let known = rows.iter().any(|r| r.method == method && covers(r))
                || PUBLIC.contains(&(method.as_str(), template.as_str()));
            if !known {
                missing.push(format!("{method} {template}"));
            }
        }
    }
    assert!(missing.is_empty(), "operations without a row in the permission matrix: {missing:?}");

    let mut wrong = Vec::new();
    for row in &rows {
        let f = fixture(&server, &admin, &owner, &agent).await;
        let (path, body) = (row.call)(&f);
        let anonymous = send(&server, None, row.method, &path, &body).await.status();
        if anonymous != StatusCode::UNAUTHORIZED {
            wrong.push(format!("{} {path} without credentials: {anonymous}", row.method));
        }
        if row.method != "get" {
            let method = Method::from_bytes(row.method.to_uppercase().as_bytes()).unwrap();
            let mut req = server.http().request(method, format!("{}{path}", server.url)).header("cookie", &cookie);
            if !body.is_null() {
                req = req.json(&body);
            }
            let status = req.send().await.unwrap().status();
            if status != StatusCode::FORBIDDEN {
                wrong.push(format!("{} {path} with the session cookie but no client header: {status}", row.method));
            }
        }
        // Each identity on fixtures of its own: what one call changes cannot decide another's.
        for i in 0..4 {
            let f = fixture(&server, &admin, &owner, &agent).await;
            let (path, body) = (row.call)(&f);
            let resp = send(&server, Some(&tokens[i]), row.method, &path, &body).await;
            let status = resp.status();
            let text = if row.method == "get" && path == "/api/v1/events" {
                String::new()
            } else {
                resp.text().await.unwrap_or_default()
            };
            // Batches skip, not refuse, what the caller may not touch; events are rejected one by one.
            let refused = status == StatusCode::FORBIDDEN
                || (row.template.contains("/actions/{action}") && text.contains("\"skipped\":1"))
                || (row.template == "/api/v1/events/batch" && text.contains("\"stored\":0"));
            let ok = if row.may[i] { !refused && status != StatusCode::UNAUTHORIZED } else { refused };
            if !ok {
                wrong.push(format!("{} {path} as {}: {status} {text}", row.method, names[i]));
            }
        }
    }
    assert!(wrong.is_empty(), "answers that break the rules:\n{}", wrong.join("\n"));
}

scenario!(permission_matrix_covers_every_route, super::permission_matrix);

/// An agent's key pair runs a task from pop to completed; a second agent cannot pop for the
/// first one's worker, take its id, or report on its task; a user cannot pop at all.
async fn agents_speak_only_for_their_workers(server: TestServer) {
    let admin = server.client();
    let ada = user(&server, "ada", Role::User).await;
    let box1 = user(&server, "box1", Role::Agent).await;
    let box2 = user(&server, "box2", Role::Agent).await;
    let register = RegisterWorker { id: "gpu-1".into(), queues: vec!["default".into()], ..Default::default() };
    box1.register_worker(&register).await.expect("box1 registers gpu-1");
    let taken = box2.register_worker(&register).await.unwrap_err();
    assert_eq!(taken.code(), Some(runyard_api::ErrorCode::Forbidden), "{taken}");
    assert!(ada.register_worker(&RegisterWorker { id: "mine".into(), ..register.clone() }).await.is_err());

    let task = ada
        .create_task(&CreateTask {
            name: "job".into(),
            project: Some("p".into()),
            queue: Some("default".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let pop = |worker: &str| PopRequest {
        queues: vec!["default".into()],
        worker: worker.into(),
        wait_seconds: 0.0,
        order_fairness: false,
    };
    assert!(ada.pop(&pop("gpu-1")).await.is_err(), "a user cannot pop");
    assert!(box2.pop(&pop("gpu-1")).await.is_err(), "another agent cannot pop for gpu-1");
    let popped = box1.pop(&pop("gpu-1")).await.unwrap().task.expect("the task");
    assert_eq!(popped.id, task.id);
    let started = ActionRequest { worker: Some("gpu-1".into()), ..Default::default() };
    assert!(box2.act(&task.id, Action::Started, &started).await.is_err(), "box2 does not hold it");
    box1.act(&task.id, Action::Started, &started).await.expect("started");
    assert!(box2.act(&task.id, Action::Completed, &ActionRequest::default()).await.is_err());
    assert!(box1.act(&task.id, Action::Reset, &ActionRequest::default()).await.is_err(), "agents only report");
    box1.act(&task.id, Action::Completed, &ActionRequest::default()).await.expect("completed");
    assert_eq!(admin.get_task(&task.id).await.unwrap().status, TaskStatus::Completed);
    assert!(box1
        .create_task(&CreateTask { name: "x".into(), project: Some("p".into()), ..Default::default() })
        .await
        .is_err());
}

scenario!(agents_speak_only_for_their_workers_case, super::agents_speak_only_for_their_workers);

/// The status of `GET /api/v1/me` with a Bearer token or a key pair, on `server`.
async fn me_status(server: &TestServer, token: Option<&str>, key_pair: Option<(&str, &str)>) -> StatusCode {
    let mut req = server.http().get(format!("{}/api/v1/me", server.url));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some((key, secret)) = key_pair {
        req = req.basic_auth(key, Some(secret));
    }
    req.send().await.expect("request").status()
}

/// Waits for `GET /api/v1/me` to answer `want` on every server: at once on the one that made
/// the change, within the change notification's delivery (milliseconds) on a replica.
async fn answers(
    servers: &[&TestServer],
    token: Option<&str>,
    pair: Option<(&str, &str)>,
    want: StatusCode,
    what: &str,
) {
    assert_eq!(me_status(servers[0], token, pair).await, want, "{what}");
    for s in &servers[1..] {
        let what = format!("{what}, on a replica");
        crate::harness::wait::until(&what, std::time::Duration::from_secs(2), || async {
            me_status(s, token, pair).await == want
        })
        .await;
    }
}

/// Key pairs and tokens: a user makes and revokes their own key pairs, signs one token out,
/// revokes all of them; an admin removes the user. Each takes effect on the next request, on
/// this replica and (PostgreSQL) on another one; sessions are bounded; the signing key is a
/// private file, and PostgreSQL replicas refuse to start without one.
async fn keys_and_tokens_are_revoked_at_once(server: TestServer) {
    let admin = server.client();
    let created = admin.create_user(&CreateUser { name: "ada".into(), role: Role::User }).await.unwrap();
    let ada = Client::new(&server.url, &created.access_key, &created.secret_key);
    let other = user(&server, "bob", Role::User).await;
    let replica = server.database_url.is_some().then(|| server.replica());
    let servers: Vec<&TestServer> = std::iter::once(&server).chain(replica.as_ref()).collect();

    // Her own second key pair; another user cannot make or revoke hers.
    let second = ada.create_key("ada").await.expect("a key pair of her own");
    assert_eq!(other.create_key("ada").await.unwrap_err().code(), Some(runyard_api::ErrorCode::Forbidden));
    assert!(other.delete_key("ada", &second.access_key).await.is_err());
    let pair = (second.access_key.as_str(), second.secret_key.as_str());
    answers(&servers, None, Some(pair), StatusCode::OK, "the new key pair works (and is cached)").await;
    ada.delete_key("ada", &second.access_key).await.expect("revoke her key pair");
    answers(&servers, None, Some(pair), StatusCode::UNAUTHORIZED, "a revoked key pair").await;

    // Signing one token out leaves the others; revoking all of them leaves the key pair.
    let first = ada.login().await.unwrap().token;
    let kept = Client::new(&server.url, &created.access_key, &created.secret_key).login().await.unwrap().token;
    let out = server.http().post(format!("{}/api/v1/auth/logout", server.url)).bearer_auth(&first).send().await;
    assert_eq!(out.unwrap().status(), StatusCode::NO_CONTENT);
    answers(&servers, Some(&first), None, StatusCode::UNAUTHORIZED, "the signed-out token").await;
    answers(&servers, Some(&kept), None, StatusCode::OK, "another token of hers").await;
    ada.revoke_tokens("ada").await.expect("revoke all her tokens");
    answers(&servers, Some(&kept), None, StatusCode::UNAUTHORIZED, "every token").await;
    let pair = (created.access_key.as_str(), created.secret_key.as_str());
    assert_eq!(me_status(&server, None, Some(pair)).await, StatusCode::OK, "her key pair still works");

    // Signing a browser session out revokes its token, not only the cookie.
    let signed_in = server
        .http()
        .post(format!("{}/api/v1/auth/session", server.url))
        .json(&json!({"access_key": created.access_key, "secret_key": created.secret_key}))
        .send()
        .await
        .unwrap();
    let cookie = signed_in.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let session = cookie.split_once('=').unwrap().1.to_string();
    let out = server.http().delete(format!("{}/api/v1/auth/session", server.url)).header("cookie", &cookie).send();
    assert_eq!(out.await.unwrap().status(), StatusCode::NO_CONTENT);
    answers(&servers, Some(&session), None, StatusCode::UNAUTHORIZED, "a signed-out session's token").await;

    // A renewal keeps the session's start: no token reaches past 30 days from the sign-in.
    let token = ada.login().await.unwrap();
    let renewed: runyard_api::Token = server
        .http()
        .post(format!("{}/api/v1/auth/login?expiration_sec=99999999", server.url))
        .bearer_auth(&token.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(renewed.expires_at <= chrono::Utc::now() + chrono::Duration::days(30), "{renewed:?}");

    // Removed: nothing of hers works, anywhere; her name stays; an admin cannot remove themselves.
    admin.remove_user("ada").await.expect("remove ada");
    answers(&servers, None, Some(pair), StatusCode::UNAUTHORIZED, "her key pair").await;
    answers(&servers, Some(&renewed.token), None, StatusCode::UNAUTHORIZED, "her token").await;
    let users = admin.list_users().await.unwrap();
    assert!(users.iter().any(|u| u.name == "ada" && u.disabled), "{users:?}");
    let me = admin.me().await.unwrap();
    assert_eq!(admin.remove_user(&me.name).await.unwrap_err().code(), Some(runyard_api::ErrorCode::Conflict));
    assert!(admin.create_key("ada").await.is_err(), "no new key pair for a removed user");

    // The signing key: a private file, never a database row.
    if server.database_url.is_none() {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(server.data_dir.join("signing.key")).expect("signing.key").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    } else {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(crate::harness::BIN)
            .args(["server", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .args(["--database-url", server.database_url.as_deref().unwrap()])
            .env_remove("RUNYARD_SIGNING_KEY_FILE")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains("--signing-key-file"), "{stderr}");
    }
}

scenario!(keys_and_tokens_revoked_at_once, super::keys_and_tokens_are_revoked_at_once);
