//! Lab 5, reference solution: `GET /api/reports`, for tokens granted the scope `users:read`.
//!
//! `client lab solve 5` copies this file to `resource-server/src/reports.rs` and adds two
//! lines to `resource-server/src/lib.rs`: `pub mod reports;` and, in `app()`,
//! `.merge(reports::router())`. `client lab reset 5` takes them out again.

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::AppState;
use super::auth::{Scope, UsersRead};

/// The route, to merge into the resource server's router.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/reports", get(reports))
}

/// The extractor states what the route needs: a valid token bound to this connection's
/// certificate (401 otherwise) that was granted `users:read` (403 otherwise).
async fn reports(Scope(auth, _): Scope<UsersRead>) -> Json<Value> {
    Json(json!({
        "report": "users by month",
        "rows": [{"month": "2026-11", "users": 2}],
        "for": auth.claims().azp,
    }))
}
