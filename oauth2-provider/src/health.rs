//! Health probes on the management listener (Keycloak serves them on port 9000):
//! `/health`, `/health/live`, `/health/ready`, `/health/started` → `{"status":"UP","checks":…}`
//! with the checks Keycloak 26.7.5 lists (observed on the native server). An in-memory
//! provider that serves at all is up, ready and started.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::Provider;

/// Keycloak 26.7.5's answer, observed: `application/json; charset=UTF-8`, `no-store`.
fn up(checks: Value) -> Response {
    let mut response = axum::Json(json!({"status": "UP", "checks": checks})).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `/health` and `/health/ready` list the readiness checks (all up once serving). The
/// playground's Keycloak runs with `cache=local` (oauth2-provider/keycloak.conf), so it lists
/// no "Keycloak cluster health check" (that check comes with the clustered cache, `ispn`).
async fn ready() -> Response {
    up(json!([
        {"name": "Graceful Shutdown", "status": "UP"},
        {"name": "Keycloak Initialized", "status": "UP"},
    ]))
}

async fn live() -> Response {
    up(json!([]))
}

/// The management routes.
pub fn router() -> Router<Provider> {
    Router::new()
        .route("/health", get(ready))
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/health/started", get(live))
        .fallback(crate::error::not_found)
}
