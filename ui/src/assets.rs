//! The built app, embedded: hashed assets cached for good, the page itself revalidated, and
//! every route of the app answered with the page (the app routes in the browser).

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rust_embed::RustEmbed;
use tower_http::compression::CompressionLayer;

#[derive(RustEmbed)]
#[folder = "$OUT_DIR/ui"]
struct Built;

/// The paths the app routes itself (see `web/src/main.tsx`).
const APP_ROUTES: [&str; 6] = ["login", "projects", "tasks", "queues", "workers", "compare"];

pub fn routes() -> Router {
    let mut router = Router::new().route("/", get(page)).route("/assets/{*path}", get(asset));
    for r in APP_ROUTES {
        router = router.route(&format!("/{r}"), get(page)).route(&format!("/{r}/{{*rest}}"), get(page));
    }
    router.layer(CompressionLayer::new())
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
