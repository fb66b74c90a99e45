//! The built app, embedded: hashed assets cached for good, the page itself revalidated, and
//! every route of the app answered with the page (the app routes in the browser).

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::prelude::{Engine, BASE64_STANDARD};
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;

#[derive(RustEmbed)]
#[folder = "$OUT_DIR/ui"]
struct Built;

/// What the app's pages may load: scripts and connections from the daemon only, and the page's
/// own inline scripts (the theme set before the first paint) by their hashes; styles also
/// inline, as the chart library injects them; images from anywhere (debug samples live in
/// object storage); never framed by another site, no plugins, no foreign form targets.
fn content_security_policy() -> HeaderValue {
    let page = Built::get("index.html").map(|f| String::from_utf8_lossy(&f.data).into_owned()).unwrap_or_default();
    let hashes: String = page
        .split("<script>")
        .skip(1)
        .filter_map(|rest| rest.split_once("</script>").map(|(script, _)| script))
        .map(|script| format!(" 'sha256-{}'", BASE64_STANDARD.encode(Sha256::digest(script.as_bytes()))))
        .collect();
    let policy = format!(
        "default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; img-src * data: blob:; \
         font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; \
         frame-ancestors 'none'"
    );
    HeaderValue::from_str(&policy).expect("a policy is a valid header value")
}

/// The paths the app routes itself (see `web/src/main.tsx`).
const APP_ROUTES: [&str; 6] = ["login", "projects", "tasks", "queues", "workers", "compare"];

pub fn routes() -> Router {
    let mut router = Router::new().route("/", get(page)).route("/assets/{*path}", get(asset));
    for r in APP_ROUTES {
        router = router.route(&format!("/{r}"), get(page)).route(&format!("/{r}/{{*rest}}"), get(page));
    }
    router
        .layer(CompressionLayer::new())
        .layer(SetResponseHeaderLayer::overriding(header::CONTENT_SECURITY_POLICY, content_security_policy()))
}

async fn page() -> Response {
    file("index.html", "no-cache")
}

async fn asset(Path(path): Path<String>) -> Response {
    file(&format!("assets/{path}"), "public, max-age=31536000, immutable")
}

fn file(path: &str, cache: &'static str) -> Response {
    match Built::get(path) {
        Some(f) => {
            let mime = f.metadata.mimetype().to_string();
            ([(header::CONTENT_TYPE, mime), (header::CACHE_CONTROL, cache.to_string())], f.data).into_response()
        }
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}
