//! What the daemon tells browsers and accepts from clients: responses are never sniffed, the
//! UI's pages carry a content security policy, the session cookie is `Secure` behind HTTPS, and
//! ClearML's own ports accept the same body sizes as the main API; a client trickling its
//! headers is cut off; event streams are bounded per identity; a task's files stay within its
//! quota; requests beyond the daemon's limit in flight are turned away, on ClearML's ports too.

use crate::harness::{Backend, TestServer, ACCESS_KEY, SECRET_KEY};
use crate::scenario;
use serde_json::json;

async fn session_cookie(server: &TestServer, forwarded_https: bool) -> String {
    let mut req = server
        .http()
        .post(format!("{}/api/v1/auth/session", server.url))
        .json(&json!({"access_key": ACCESS_KEY, "secret_key": SECRET_KEY}));
    if forwarded_https {
        req = req.header("x-forwarded-proto", "https");
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    resp.headers()["set-cookie"].to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_for_browsers_and_secure_cookies() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let api = server.http().get(format!("{}/healthz", server.url)).send().await.unwrap();
    assert_eq!(api.headers()["x-content-type-options"], "nosniff");
    let page = server.http().get(format!("{}/tasks", server.url)).send().await.unwrap();
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_string();
    for directive in ["script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"] {
        assert!(csp.contains(directive), "{csp}");
    }
    // Plain HTTP: a Secure cookie would never come back; behind an HTTPS proxy it is Secure.
    assert!(!session_cookie(&server, false).await.contains("Secure"));
    assert!(session_cookie(&server, true).await.contains("Secure"));
    let behind = TestServer::start_with(Backend::Sqlite, &["--public-url", "https://runyard.example.org"]).unwrap();
    assert!(session_cookie(&behind, false).await.contains("Secure"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clearml_ports_take_the_same_body_sizes() {
    let free = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (api, files) = (free(), free());
    let server = TestServer::start_with(Backend::Sqlite, &["--clearml-ports", &format!("{api},{files}")]).unwrap();
    // A 4 MiB batch (over axum's 2 MiB default, under the daemon's 16 MiB): read, not refused.
    let line = format!("{}\n", json!({"type": "log", "task": "0".repeat(32), "msg": "x".repeat(1000)}));
    let body = line.repeat(4 << 10);
    let resp = server
        .http()
        .post(format!("http://127.0.0.1:{api}/v2.23/events.add_batch"))
        .basic_auth(ACCESS_KEY, Some(SECRET_KEY))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_ne!(resp.status().as_u16(), 413, "{}", resp.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_lock_a_key_out_for_a_while() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let ada = server
        .client()
        .create_user(&runyard_api::CreateUser { name: "ada".into(), role: runyard_api::Role::User })
        .await
        .unwrap();
    let login = |key: String, secret: String| {
        let req = server.http().post(format!("{}/api/v1/auth/login", server.url));
        async move { req.basic_auth(key, Some(secret)).send().await.unwrap() }
    };
    for _ in 0..5 {
        assert_eq!(login(ACCESS_KEY.into(), "wrong".into()).await.status().as_u16(), 401);
    }
    // Locked out: more guesses are refused unchecked (no argon2 run), with a Retry-After. The
    // owner, whose secret the daemon verified before, is recognised without argon2 and goes on.
    let locked = login(ACCESS_KEY.into(), "wrong".into()).await;
    assert_eq!(locked.status().as_u16(), 429);
    assert!(locked.headers().contains_key("retry-after"));
    assert_eq!(login(ACCESS_KEY.into(), "another guess".into()).await.status().as_u16(), 429);
    assert_eq!(login(ACCESS_KEY.into(), SECRET_KEY.into()).await.status().as_u16(), 200);
    // Another key is not affected.
    assert_eq!(login(ada.access_key, ada.secret_key).await.status().as_u16(), 200);
}

#[test]
fn a_second_daemon_on_the_same_sqlite_file_is_refused() {
    let first = TestServer::start(Backend::Sqlite).unwrap();
    let second = std::process::Command::new(crate::harness::BIN)
        .args(["server", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(&first.data_dir)
        .env_remove("RUNYARD_DATABASE_URL")
        .env("RUNYARD_LOG", "warn")
        .output()
        .unwrap();
    assert!(!second.status.success());
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(said.contains("another Runyard daemon is using"), "{said}");
}

/// A console page holds at most 8 MiB of text (besides its first chunk): four chunks of
/// 3.5 MiB come three to a page, forwards and from the end, and nothing is lost between pages.
async fn console_pages_are_bounded_in_bytes(server: TestServer) {
    let c = server.client();
    let task = c
        .create_task(&runyard_api::CreateTask { name: "loud".into(), project: Some("p".into()), ..Default::default() })
        .await
        .unwrap();
    for i in 0..4 {
        let text = format!("{i}{}\n", "x".repeat((7 << 19) - 2));
        c.append_console(&task.id, &runyard_api::AppendConsole { text, time: None, attempt: None }).await.unwrap();
    }
    let page = c.console(&task.id, &runyard_api::ConsoleQuery::default()).await.unwrap();
    assert_eq!(page.entries.len(), 3);
    let rest = runyard_api::ConsoleQuery { after: Some(page.last), ..Default::default() };
    let rest = c.console(&task.id, &rest).await.unwrap();
    assert_eq!(rest.entries.len(), 1);
    assert!(rest.entries[0].text.starts_with('3'));
    let tail = c.console(&task.id, &runyard_api::ConsoleQuery { tail: true, ..Default::default() }).await.unwrap();
    assert_eq!(tail.entries.len(), 3);
    assert!(tail.entries[0].text.starts_with('1') && tail.first.is_some(), "more before the tail page");
}

crate::scenario!(console_pages_are_bounded, super::console_pages_are_bounded_in_bytes);

/// A client that sends its request headers slower than the deadline loses its connection; the
/// daemon goes on serving others.
async fn a_client_trickling_its_headers_is_cut_off(server: TestServer) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = server.url.trim_start_matches("http://").to_string();
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), slow.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the connection stayed open past the header deadline");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "closed after {:?}", started.elapsed());
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 408"), "{answer}");
    let health = server.http().get(format!("{}/healthz", server.url)).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
}
scenario!(
    trickled_headers_cut_off,
    super::a_client_trickling_its_headers_is_cut_off,
    &["--header-timeout-seconds", "1"]
);

/// The core API answers within the request timeout: a request whose body is still trickling in
/// at the deadline gets a 408, and a long-poll asked to wait longer returns in time, empty.
async fn requests_answer_within_the_timeout(server: TestServer) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let token = server.client().login().await.unwrap().token;
    let address = server.url.trim_start_matches("http://").to_string();
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /api/v1/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{"
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    let mut answer = [0u8; 64];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), slow.read(&mut answer)).await;
    let n = n.expect("no answer past the request timeout").unwrap();
    assert!(String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 408"), "{}", String::from_utf8_lossy(&answer));
    assert!(started.elapsed() >= std::time::Duration::from_secs(1), "answered after {:?}", started.elapsed());

    let c = server.client();
    let worker = runyard_api::RegisterWorker { id: "w".into(), queues: vec!["default".into()], ..Default::default() };
    c.register_worker(&worker).await.unwrap();
    let pop = runyard_api::PopRequest {
        queues: vec!["default".into()],
        worker: "w".into(),
        wait_seconds: 30.0,
        order_fairness: false,
    };
    let started = std::time::Instant::now();
    assert!(c.pop(&pop).await.expect("an empty answer, not a 408").task.is_none());
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "waited {:?}", started.elapsed());
}
scenario!(request_timeout, super::requests_answer_within_the_timeout, &["--request-timeout-seconds", "2"]);

/// One identity holds at most 64 event streams (a 429 with Retry-After beyond); a closed one
/// frees its place; other identities are not affected.
async fn event_streams_are_bounded_per_identity(server: TestServer) {
    let admin = server.client();
    let ada = admin
        .create_user(&runyard_api::CreateUser { name: "ada".into(), role: runyard_api::Role::User })
        .await
        .unwrap();
    let open = |key: String, secret: String| {
        let req = server.http().get(format!("{}/api/v1/events", server.url)).basic_auth(key, Some(secret));
        async move { req.send().await.unwrap() }
    };
    let mut streams = Vec::new();
    for _ in 0..64 {
        let stream = open(ACCESS_KEY.into(), SECRET_KEY.into()).await;
        assert_eq!(stream.status().as_u16(), 200);
        streams.push(stream);
    }
    let refused = open(ACCESS_KEY.into(), SECRET_KEY.into()).await;
    assert_eq!(refused.status().as_u16(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(open(ada.access_key, ada.secret_key).await.status().as_u16(), 200, "another identity");
    drop(streams.pop());
    crate::harness::wait::until("a closed stream frees its place", std::time::Duration::from_secs(5), || async {
        open(ACCESS_KEY.into(), SECRET_KEY.into()).await.status().as_u16() == 200
    })
    .await;
}
scenario!(event_streams_bounded, super::event_streams_are_bounded_per_identity);

/// A task's files stay within the operator's quota: an upload that would outgrow it is refused
/// (413, nothing kept), a file replacing another counts once.
async fn a_tasks_files_stay_within_its_quota(server: TestServer) {
    let c = server.client();
    let task = c
        .create_task(&runyard_api::CreateTask { name: "t".into(), project: Some("p".into()), ..Default::default() })
        .await
        .unwrap();
    c.upload_file(&task.id, "a.bin", vec![1; 600]).await.expect("within the quota");
    let refused = c.upload_file(&task.id, "b.bin", vec![2; 600]).await.unwrap_err();
    assert_eq!(refused.code(), Some(runyard_api::ErrorCode::PayloadTooLarge), "{refused}");
    assert!(refused.to_string().contains("quota"), "{refused}");
    c.upload_file(&task.id, "a.bin", vec![3; 900]).await.expect("a replacement counts once");
    let other = c
        .create_task(&runyard_api::CreateTask { name: "u".into(), project: Some("p".into()), ..Default::default() })
        .await
        .unwrap();
    c.upload_file(&other.id, "b.bin", vec![2; 600]).await.expect("each task has its own quota");
}
scenario!(files_within_quota, super::a_tasks_files_stay_within_its_quota, &["--task-files-quota-bytes", "1000"]);

/// Two long-polls of an agent's worker, waiting `seconds`: they hold two places in flight
/// (each tries again while the places are taken).
async fn hold_two_places(server: &TestServer, seconds: f64) -> Vec<tokio::task::JoinHandle<runyard_api::PopResponse>> {
    let c = server.client();
    let worker = runyard_api::RegisterWorker { id: "w".into(), queues: vec!["default".into()], ..Default::default() };
    c.register_worker(&worker).await.unwrap();
    (0..2)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move {
                let pop = runyard_api::PopRequest {
                    queues: vec!["default".into()],
                    worker: "w".into(),
                    wait_seconds: seconds,
                    order_fairness: false,
                };
                // A probe may take a place before this poll does: try again until it is in.
                crate::harness::wait::eventually("a poll in flight", std::time::Duration::from_secs(10), || async {
                    match c.pop(&pop).await {
                        Err(e) if e.code() == Some(runyard_api::ErrorCode::Unavailable) => None,
                        polled => Some(polled.unwrap()),
                    }
                })
                .await
            })
        })
        .collect()
}

/// A request turned away (503 with Retry-After) once the places are taken.
async fn turned_away(server: &TestServer, url: String) {
    let resp = crate::harness::wait::eventually("a request turned away", std::time::Duration::from_secs(3), || async {
        let resp = server.http().get(&url).basic_auth(ACCESS_KEY, Some(SECRET_KEY)).send().await.unwrap();
        (resp.status().as_u16() == 503).then_some(resp)
    })
    .await;
    assert!(resp.headers().contains_key("retry-after"), "{url}");
}

/// Beyond its requests in flight the daemon answers 503 with Retry-After at once, health
/// checks still pass, and it takes requests again once some end.
async fn requests_beyond_the_limit_are_turned_away(server: TestServer) {
    let polls = hold_two_places(&server, 4.0).await;
    turned_away(&server, format!("{}/api/v1/me", server.url)).await;
    let health = server.http().get(format!("{}/healthz", server.url)).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200, "health checks always get through");
    for poll in polls {
        assert!(poll.await.unwrap().task.is_none());
    }
    let me = server.http().get(format!("{}/api/v1/me", server.url)).basic_auth(ACCESS_KEY, Some(SECRET_KEY));
    assert_eq!(me.send().await.unwrap().status().as_u16(), 200, "places free again");
}
scenario!(in_flight_bounded, super::requests_beyond_the_limit_are_turned_away, &["--max-in-flight", "2"]);

/// ClearML's own ports count against the daemon's one limit in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clearml_ports_share_the_in_flight_limit() {
    let free = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (api, files) = (free(), free());
    let ports = format!("{api},{files}");
    let server = TestServer::start_with(Backend::Sqlite, &["--max-in-flight", "2", "--clearml-ports", &ports]).unwrap();
    let polls = hold_two_places(&server, 4.0).await;
    turned_away(&server, format!("http://127.0.0.1:{api}/v2.23/users.get_current_user")).await;
    turned_away(&server, format!("http://127.0.0.1:{files}/some/file.txt")).await;
    for poll in polls {
        poll.await.unwrap();
    }
}
