//! Health probes on the management listener (Keycloak serves them on port 9000):
//! `/health`, `/health/live`, `/health/ready`, `/health/started` → `{"status":"UP","checks":[]}`
//! (Keycloak's body without the metrics-only database check). An in-memory provider that
//! serves at all is up, ready and started.

use axum::Router;
use axum::routing::get;
use serde_json::json;

use crate::Provider;

async fn up() -> axum::Json<serde_json::Value> {
    axum::Json(json!({"status": "UP", "checks": []}))
}

/// The management routes.
pub fn router() -> Router<Provider> {
    Router::new()
        .route("/health", get(up))
        .route("/health/live", get(up))
        .route("/health/ready", get(up))
        .route("/health/started", get(up))
        .fallback(crate::error::not_found)
}
