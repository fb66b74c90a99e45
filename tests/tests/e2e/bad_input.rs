//! Bad input gets a clear 4xx naming the field, and changes nothing.

use crate::harness::{TestServer, ACCESS_KEY, SECRET_KEY};
use crate::scenario;
use serde_json::{json, Value};

async fn post(server: &TestServer, path: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let resp = server
        .http()
        .post(format!("{}{path}", server.url))
        .basic_auth(ACCESS_KEY, Some(SECRET_KEY))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn task_count(server: &TestServer) -> u64 {
    server.client().list_tasks(&Default::default()).await.unwrap().total
}

async fn refused(server: TestServer) {
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("malformed JSON", "{\"name\": ".into(), 400, "name"),
        ("not JSON at all", "hello".into(), 400, "body"),
        ("unknown field", json!({"name": "x", "project": "p", "colour": "red"}).to_string(), 400, "colour"),
        ("wrong type", json!({"name": "x", "project": "p", "tags": "a"}).to_string(), 400, "tags"),
        ("nested wrong type", json!({"name": "x", "project": "p", "script": {"branch": 5}}).to_string(), 400, "script.branch"),
        ("empty name", json!({"name": "  ", "project": "p"}).to_string(), 400, "name"),
        ("no project", json!({"name": "x"}).to_string(), 400, "project"),
        ("dot-dot project", json!({"name": "x", "project": "a/../b"}).to_string(), 400, "project"),
        ("control char project", json!({"name": "x", "project": "a\u{1}b"}).to_string(), 400, "project"),
        ("unknown type", json!({"name": "x", "project": "p", "type": "magic"}).to_string(), 400, "type"),
        ("unknown queue", json!({"name": "x", "project": "p", "queue": "nope"}).to_string(), 404, ""),
        ("unknown parent", json!({"name": "x", "project": "p", "parent": "0123456789abcdef0123456789abcdef"}).to_string(), 400, "parent"),
        ("escaping code file", json!({"name": "x", "project": "p", "script": {"entry_kind": "code", "code": "print()", "entry_point": "../x.py"}}).to_string(), 400, "script.entry_point"),
        ("two refs", json!({"name": "x", "project": "p", "script": {"branch": "main", "commit": "abc"}}).to_string(), 400, "script"),
        ("NUL in text", json!({"name": "x", "project": "p", "comment": "a\u{0}b"}).to_string(), 400, "body"),
    ];
    for (what, body, status, field) in cases {
        let (got, body) = post(&server, "/api/v1/tasks", body).await;
        assert_eq!(got, status, "{what}: {body}");
        let error = &body["error"];
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: {body}");
        if !field.is_empty() {
            assert_eq!(error["field"], field, "{what}: {body}");
        }
    }
    assert_eq!(task_count(&server).await, 0, "nothing was created");

    // Actions: unknown action, missing parameters, ids in the wrong place.
    let (s, b) = post(&server, "/api/v1/tasks/actions/explode", json!({"ids": ["a"]}).to_string()).await;
    assert_eq!((s, b["error"]["field"].as_str()), (400, Some("action")));
    let (s, b) =
        post(&server, "/api/v1/tasks/actions/move", json!({"ids": ["0123456789abcdef0123456789abcdef"]}).to_string())
            .await;
    assert_eq!((s, b["error"]["field"].as_str()), (400, Some("project")));
    let (s, b) = post(&server, "/api/v1/tasks/actions/archive", json!({"ids": []}).to_string()).await;
    assert_eq!((s, b["error"]["field"].as_str()), (400, Some("ids")));
    let (s, _) = post(&server, "/api/v1/tasks/0123456789abcdef0123456789abcdef/reset", "").await;
    assert_eq!(s, 404);

    // Unknown query parameters and bad values.
    let resp = server
        .http()
        .get(format!("{}/api/v1/tasks?stauts=queued", server.url))
        .basic_auth(ACCESS_KEY, Some(SECRET_KEY))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"]["field"], "stauts");
    let resp = server
        .http()
        .get(format!("{}/api/v1/tasks?status=sleeping", server.url))
        .basic_auth(ACCESS_KEY, Some(SECRET_KEY))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);

    // Numbers past what the store can hold are refused, not a crash.
    for path in [
        "/api/v1/tasks?offset=18446744073709551615",
        "/api/v1/queues/default/history?interval_seconds=2305843009213693952",
    ] {
        let resp = server
            .http()
            .get(format!("{}{path}", server.url))
            .basic_auth(ACCESS_KEY, Some(SECRET_KEY))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{path}");
    }
    let (s, b) = post(
        &server,
        "/api/v1/workers",
        json!({"id": "w", "queues": ["default"], "timeout_seconds": 10_000_000_000_000_000u64}).to_string(),
    )
    .await;
    assert_eq!((s, b["error"]["field"].as_str()), (400, Some("timeout_seconds")));
    let gpus = json!([{"index": 0, "utilization_percent": 1.0}, {"index": 0, "utilization_percent": 2.0}]);
    let (s, _) = post(&server, "/api/v1/workers", json!({"id": "w", "queues": ["default"]}).to_string()).await;
    assert_eq!(s, 200);
    let (s, b) = post(&server, "/api/v1/workers/w/report", json!({"gpus": gpus}).to_string()).await;
    assert_eq!(s, 200, "a report with a repeated GPU index is stored: {b}");

    // Unknown routes answer in the same JSON shape.
    let resp = server.http().get(format!("{}/api/v1/nothing", server.url)).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"]["code"], "not_found");
}
scenario!(malformed_requests_name_the_field, super::refused);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_bodies_get_413() {
    let server = TestServer::start_with(crate::harness::Backend::Sqlite, &["--max-body-bytes", "4096"]).unwrap();
    let big = json!({"name": "x", "project": "p", "comment": "y".repeat(10_000)}).to_string();
    let (status, body) = post(&server, "/api/v1/tasks", big).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "payload_too_large");
    assert_eq!(task_count(&server).await, 0);
}
