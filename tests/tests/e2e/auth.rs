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
    assert!(doc["paths"]["/api/v1/tasks/actions/{action}"]["post"].is_object());
    assert!(doc["components"]["schemas"]["Task"].is_object());

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
