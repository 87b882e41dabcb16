//! The API. Each handler's signature says what it needs; the checks live in
//! [`crate::auth`], so the handlers are one-liners.
//!
//! | route | needs |
//! |---|---|
//! | `GET /public` | nothing |
//! | `GET /api/users` | realm role `oauth2-playbook-readonly` |
//! | `POST /api/users` | realm role `oauth2-playbook-write` (never granted: the walkthrough shows a 403); a JSON body of at most `max_body_bytes` (413 beyond) |
//! | `GET /api/whoami` | any valid token: shows what the server validated |
//! | `GET /health/live` | nothing: the process answers |
//! | `GET /health/ready` | nothing: 200 once the provider's keys are loaded, else 503 |

use std::sync::LazyLock;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::http::header;
use axum::response::IntoResponse;
use playbook::names;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::{Authenticated, Readonly, Role, Write};
use crate::error::{ApiError, Refusal};

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

/// `GET /api/users`: the same JSON every time, serialized once.
pub async fn list_users(_: Role<Readonly>) -> impl IntoResponse {
    static BODY: LazyLock<Bytes> =
        LazyLock::new(|| Bytes::from(serde_json::to_vec(&users()).expect("the users serialize")));
    ([(header::CONTENT_TYPE, "application/json")], BODY.clone())
}

#[derive(Debug, Deserialize)]
pub struct NewUser {
    pub username: String,
    pub email: String,
}

/// `POST /api/users`: the role is checked before the body is read, so nobody without it
/// can make the server buffer a body. A body that is too large (over
/// [`crate::Config::max_body_bytes`]) or not the JSON below gets an RFC-shaped
/// `invalid_request` answer instead of axum's plain-text rejection.
pub async fn create_user(
    State(state): State<AppState>,
    _: Role<Write>,
    body: Result<Json<NewUser>, JsonRejection>,
) -> Result<impl IntoResponse, Refusal> {
    let Json(user) = body.map_err(|rejection| {
        let status = rejection.status();
        let description = if status == StatusCode::PAYLOAD_TOO_LARGE {
            format!(
                "the request body is larger than the {} bytes this server accepts",
                state.config.max_body_bytes
            )
        } else {
            format!(
                "{}; expected Content-Type: application/json and a body like \
                 {{\"username\": \"carol\", \"email\": \"carol@example.org\"}}",
                rejection.body_text()
            )
        };
        tracing::info!(
            "POST {}: refused ({status}): {description}",
            names::USERS_API_PATH
        );
        ApiError::InvalidBody {
            status,
            description,
        }
        .with_realm(&state.config.realm)
    })?;
    let created = User {
        id: 3,
        username: user.username,
        email: user.email,
    };
    Ok((StatusCode::CREATED, Json(created)))
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
