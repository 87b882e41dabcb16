//! The API. Each handler's signature says what it needs; the checks live in
//! [`crate::auth`], so the handlers are one-liners.
//!
//! | route | needs |
//! |---|---|
//! | `GET /public` | nothing |
//! | `GET /api/users` | realm role `oauth2-playbook-readonly` |
//! | `POST /api/users` | realm role `oauth2-playbook-write` (never granted: the walkthrough shows a 403) |
//! | `GET /api/whoami` | any valid token: shows what the server validated |
//! | `GET /health/live` | nothing: the process answers |
//! | `GET /health/ready` | nothing: 200 once the provider's keys are loaded, else 503 |

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use playbook::names;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::{Authenticated, Readonly, Role, Write};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: u32,
    pub username: String,
    pub email: String,
}

/// The fixed data set the API serves: the point is who may read it, not the data.
pub fn users() -> Vec<User> {
    [
        (1, "alice", "alice@example.org"),
        (2, "bob", "bob@example.org"),
    ]
    .into_iter()
    .map(|(id, username, email)| User {
        id,
        username: username.to_owned(),
        email: email.to_owned(),
    })
    .collect()
}

pub async fn public() -> Json<Value> {
    Json(json!({"message": "public: no token needed"}))
}

pub async fn list_users(_: Role<Readonly>) -> Json<Vec<User>> {
    Json(users())
}

#[derive(Debug, Deserialize)]
pub struct NewUser {
    pub username: String,
    pub email: String,
}

pub async fn create_user(_: Role<Write>, Json(user): Json<NewUser>) -> impl IntoResponse {
    let created = User {
        id: 3,
        username: user.username,
        email: user.email,
    };
    (StatusCode::CREATED, Json(created))
}

/// Everything the server concluded about the caller, for people learning what it checks.
pub async fn whoami(auth: Authenticated) -> Json<Value> {
    let claims = auth.claims();
    Json(json!({
        "subject": claims.sub,
        "client": claims.client(),
        "username": claims.preferred_username,
        "issuer": claims.iss,
        "audience": claims.aud,
        "roles": claims.roles(),
        "scopes": claims.scopes(),
        "expires_at": claims.exp,
        "jti": claims.jti,
        "token": {
            "alg": auth.token.alg,
            "kid": auth.token.kid,
            "fingerprint": auth.token.fingerprint,
            "validated_from_cache": auth.from_cache,
        },
        "binding": auth.binding,
        "required_role_for_users": names::READONLY_ROLE,
    }))
}

pub async fn live() -> Json<Value> {
    Json(json!({"status": "UP"}))
}

pub async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    match state.validator.keys().status() {
        Ok(kids) => (
            StatusCode::OK,
            Json(json!({"status": "UP", "issuer": state.config.issuer, "kids": kids})),
        ),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "DOWN", "issuer": state.config.issuer, "reason": reason})),
        ),
    }
}

pub async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": "not_found", "error_description": "no such route"})),
    )
}
