//! Every endpoint but /healthz needs a token or key pair; users and roles.

use crate::harness::{TestServer, ACCESS_KEY, SECRET_KEY};
use crate::scenario;
use runyard_api::{Client, CreateTask, CreateUser, ErrorCode, Role};

async fn tokens_keys_and_users(server: TestServer) {
    let http = server.http();
    let health = http.get(format!("{}/healthz", server.url)).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200);

    for path in ["/api/v1/tasks", "/api/v1/projects", "/api/v1/queues", "/api/v1/me", "/api/v1/openapi.json"] {
        let resp = http.get(format!("{}{path}", server.url)).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 401, "{path}");
        let resp = http.get(format!("{}{path}", server.url)).bearer_auth("not-a-token").send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 401, "{path}");
    }
    let wrong = Client::new(&server.url, ACCESS_KEY, "wrong-secret");
    assert_eq!(wrong.login().await.unwrap_err().code(), Some(ErrorCode::Unauthorized));
    let unknown = Client::new(&server.url, "NOSUCHKEY", SECRET_KEY);
    assert_eq!(unknown.list_projects().await.unwrap_err().code(), Some(ErrorCode::Unauthorized));

    // A token works as Bearer, and HTTP Basic works on any request.
    let admin = server.client();
    let token = admin.login().await.unwrap();
    assert!(token.expires_at > chrono::Utc::now());
    let resp = http.get(format!("{}/api/v1/me", server.url)).bearer_auth(&token.token).send().await.unwrap();
    assert_eq!(resp.json::<serde_json::Value>().await.unwrap()["name"], "admin");
    let resp =
        http.get(format!("{}/api/v1/me", server.url)).basic_auth(ACCESS_KEY, Some(SECRET_KEY)).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);

    // The OpenAPI document is generated from the code.
    let doc: serde_json::Value = http
        .get(format!("{}/api/v1/openapi.json", server.url))
        .bearer_auth(&token.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Each action is its own operation in the document.
    assert!(doc["paths"]["/api/v1/tasks/actions/enqueue"]["post"].is_object());
    assert!(doc["components"]["schemas"]["Task"].is_object());
    // The web UI's API types are generated from `ui/web/openapi.json`: it must be this document
    // (`scripts/ui-openapi` refreshes it).
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../ui/web/openapi.json");
    let committed: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(doc == committed, "ui/web/openapi.json is stale: run scripts/ui-openapi");

    // New users get their own key pair; tasks record who created them.
    let creds = admin.create_user(&CreateUser { name: "ada".into(), role: Role::User }).await.unwrap();
    assert_eq!(
        admin.create_user(&CreateUser { name: "ada".into(), role: Role::User }).await.unwrap_err().code(),
        Some(ErrorCode::Conflict)
    );
    let ada = Client::new(&server.url, &creds.access_key, &creds.secret_key);
    let t = ada
        .create_task(&CreateTask { name: "mine".into(), project: Some("p".into()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(t.user, "ada");
    assert_eq!(ada.get_task(&t.id).await.unwrap().user, "ada");
    let forbidden = ada.create_user(&CreateUser { name: "eve".into(), role: Role::Admin }).await.unwrap_err();
    assert_eq!(forbidden.code(), Some(ErrorCode::Forbidden));
}
scenario!(tokens_key_pairs_and_users, super::tokens_keys_and_users);

#[test]
fn first_start_writes_a_private_credentials_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(crate::harness::BIN)
        .args(["server", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("RUNYARD_ACCESS_KEY")
        .env_remove("RUNYARD_SECRET_KEY")
        .env_remove("RUNYARD_DATABASE_URL")
        .env("RUNYARD_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    let url = line.trim().strip_prefix("Runyard listening on ").unwrap().to_string();
    let path = dir.path().join("credentials.toml");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&path).unwrap();
    let value = |key: &str| {
        text.lines().find_map(|l| l.strip_prefix(&format!("{key} = \""))).unwrap().trim_end_matches('"').to_string()
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let me = rt.block_on(Client::new(&url, &value("access_key"), &value("secret_key")).me()).unwrap();
    assert_eq!((me.name.as_str(), me.role), ("admin", Role::Admin));
    child.kill().unwrap();
    child.wait().unwrap();
}

/// The browser's session: a key pair exchanged for an HttpOnly, SameSite cookie that reads
/// freely but changes nothing without the client header; sign-out clears it.
async fn browser_session(server: TestServer) {
    let http = server.http();
    let url = |p: &str| format!("{}{p}", server.url);
    let wrong = http
        .post(url("/api/v1/auth/session"))
        .json(&serde_json::json!({"access_key": ACCESS_KEY, "secret_key": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let missing =
        http.post(url("/api/v1/auth/session")).json(&serde_json::json!({"access_key": ACCESS_KEY})).send().await;
    let missing = missing.unwrap();
    assert_eq!(missing.status().as_u16(), 400);
    assert!(missing.text().await.unwrap().contains("secret_key"));

    let ok = http
        .post(url("/api/v1/auth/session"))
        .json(&serde_json::json!({"access_key": ACCESS_KEY, "secret_key": SECRET_KEY}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let set_cookie = ok.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(set_cookie.starts_with("runyard_session="), "{set_cookie}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie} lacks {attribute}");
    }
    assert_eq!(ok.json::<serde_json::Value>().await.unwrap()["name"], "admin");
    let cookie = set_cookie.split(';').next().unwrap().to_string();

    // Reads need only the cookie; changes need the client header too (a cross-site form
    // cannot send it).
    let me = http.get(url("/api/v1/me")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(me.status().as_u16(), 200);
    let create = |with_header: bool| {
        let mut r = http
            .post(url("/api/v1/projects"))
            .header("cookie", &cookie)
            .json(&serde_json::json!({"name": format!("p{with_header}")}));
        if with_header {
            r = r.header("x-runyard-client", "web");
        }
        r.send()
    };
    let forged = create(false).await.unwrap();
    assert_eq!(forged.status().as_u16(), 403);
    assert!(forged.text().await.unwrap().contains("x-runyard-client"));
    assert_eq!(create(true).await.unwrap().status().as_u16(), 201);

    let out = http.delete(url("/api/v1/auth/session")).send().await.unwrap();
    assert_eq!(out.status().as_u16(), 204);
    assert!(out.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    let bad = http.get(url("/api/v1/me")).header("cookie", "runyard_session=forged").send().await.unwrap();
    assert_eq!(bad.status().as_u16(), 401);
}
scenario!(browser_session_cookie, super::browser_session);

/// The web UI is served from the root: its page for every route of the app (a ClearML results
/// link included), assets cached for good and compressed; other paths stay 404s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_ui_is_served() {
    let server = TestServer::start(crate::harness::Backend::Sqlite).expect("server");
    let http = server.http();
    for path in ["/", "/login", "/projects", "/projects/p1/tasks/t1/output/log", "/queues/default", "/workers/w"] {
        let r = http.get(format!("{}{path}", server.url)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
        assert_eq!(r.headers()["cache-control"], "no-cache", "{path}");
        let page = r.text().await.unwrap();
        assert!(page.contains("<title>Runyard</title>"), "{path}: {page}");
    }
    let page = http.get(format!("{}/", server.url)).send().await.unwrap().text().await.unwrap();
    if let Some(start) = page.find("/assets/") {
        let asset = &page[start..start + page[start..].find('"').unwrap()];
        let r = http.get(format!("{}{asset}", server.url)).header("accept-encoding", "gzip").send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{asset}");
        assert!(r.headers()["cache-control"].to_str().unwrap().contains("immutable"));
        assert_eq!(r.headers()["content-encoding"], "gzip", "{asset}");
    }
    let missing = http.get(format!("{}/assets/nope.js", server.url)).send().await.unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    let unknown = http.get(format!("{}/nope", server.url)).send().await.unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
}
