//! Wire errors, shaped as Keycloak sends them.
//!
//! - [`OAuthError`]: RFC 6749 §5.2 `{"error","error_description"}` (Keycloak's
//!   `CorsErrorResponseException` / `ErrorResponseException`); on the token endpoint with
//!   `Cache-Control: no-store` and `Pragma: no-cache` (`TokenEndpoint#processGrantRequest`).
//! - [`AdminError`]: what `KeycloakErrorHandler` writes for the admin API:
//!   `{"error":"<message>"}`, or `{"errorMessage":"..."}` for `ErrorResponse.exists(...)`.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use playbook::oauth::ErrorCode;
use serde_json::json;

/// An OAuth 2.0 error answer (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {error}: {description}")]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: ErrorCode,
    pub description: String,
    /// Token-endpoint answers carry `Cache-Control: no-store` and `Pragma: no-cache`.
    pub no_store: bool,
}

impl OAuthError {
    pub fn new(status: StatusCode, error: ErrorCode, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            error,
            description: description.into(),
            no_store: false,
        }
    }
    pub fn no_store(mut self) -> Self {
        self.no_store = true;
        self
    }
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            description,
        )
    }
    /// `AuthenticationProcessor#handleClientAuthException`: 401 `invalid_client`.
    pub fn invalid_client() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidClient,
            "Invalid client or Invalid client credentials",
        )
    }
    /// `AuthenticationProcessor#handleClientAuthException` for an exception that is not an
    /// authentication failure (an x509 lookup that throws): 400 `unauthorized_client`.
    pub fn unexpected_client_error() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::UnauthorizedClient,
            "Unexpected error when authenticating client",
        )
    }
    /// `ClientIdAndSecretAuthenticator#reportFailedAuth`: its own 401 `unauthorized_client`.
    pub fn bad_client_secret() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::UnauthorizedClient,
            "Invalid client or Invalid client credentials",
        )
    }
    /// `TokenManager#isValidScope` failed: the raw `scope` parameter is quoted back.
    pub fn invalid_scope(scope_param: Option<&str>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidScope,
            format!("Invalid scopes: {}", scope_param.unwrap_or("")),
        )
    }
    /// `checkRealm()`.
    pub fn realm_disabled() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            ErrorCode::AccessDenied,
            "Realm not enabled",
        )
    }
}

/// A refused request (RFC 6749 §5.2), the one shape client authentication, the grants and
/// the token endpoint share: the wire error, as Keycloak answers, and the reason, which
/// only the log gets (the answer stays Keycloak's terse one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error} ({reason})")]
pub struct Refusal {
    pub error: OAuthError,
    pub reason: String,
}

impl Refusal {
    pub fn new(error: OAuthError, reason: impl Into<String>) -> Self {
        Refusal {
            error,
            reason: reason.into(),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(json!({"error": self.error.as_str(), "error_description": self.description})),
        )
            .into_response();
        if self.no_store {
            set_no_store(response.headers_mut());
        }
        response
    }
}

/// `Cache-Control: no-store` and `Pragma: no-cache` (every token-endpoint answer).
pub(crate) fn set_no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// An admin REST error (`KeycloakErrorHandler`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {body}")]
pub struct AdminError {
    pub status: StatusCode,
    pub body: serde_json::Value,
}

impl AdminError {
    /// `{"error": "<exception message>"}`.
    pub fn new(status: StatusCode, message: &str) -> Self {
        AdminError {
            status,
            body: json!({ "error": message }),
        }
    }
    /// `ErrorResponse.exists(...)`/`error(...)`: `{"errorMessage": "..."}`.
    pub fn error_message(status: StatusCode, message: &str) -> Self {
        AdminError {
            status,
            body: json!({ "errorMessage": message }),
        }
    }
    /// `NotAuthorizedException("Bearer")` → "HTTP 401 Unauthorized".
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "HTTP 401 Unauthorized")
    }
    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "HTTP 403 Forbidden")
    }
    /// `RealmsResource`: an unknown realm on the public paths (discovery, JWKS, token,
    /// introspection), answered before any endpoint runs.
    pub fn realm_not_found() -> Self {
        Self::not_found("Realm does not exist")
    }
    /// `RealmsAdminResource#getRealmAdmin`: an unknown realm under `/admin/realms/`, in the
    /// admin API's own words.
    pub fn admin_realm_not_found() -> Self {
        Self::not_found("Realm not found.")
    }
    pub fn not_found(message: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub fn bad_request(message: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    /// A request body that is not the expected JSON (`KeycloakErrorHandler`, JSON cause).
    pub fn bad_json() -> Self {
        AdminError {
            status: StatusCode::BAD_REQUEST,
            body: json!({"error": ErrorCode::InvalidRequest, "error_description": "Cannot parse the JSON"}),
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// Unmatched paths: 404 (`{"error":"Unable to find matching target resource method"}` is
/// RESTEasy Reactive's message; the body is UNVERIFIED, the status is not).
pub async fn not_found() -> Response {
    AdminError::not_found("Unable to find matching target resource method").into_response()
}

/// A known path with another method: RESTEasy's 405 (Keycloak 26.7.5, observed:
/// `{"error":"HTTP 405 Method Not Allowed"}`, `application/json`, no `Allow` header).
pub async fn method_not_allowed() -> Response {
    AdminError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "HTTP 405 Method Not Allowed",
    )
    .into_response()
}

/// axum adds `Allow` to a 405; Keycloak's has none.
pub async fn without_allow(mut response: Response) -> Response {
    if response.status() == StatusCode::METHOD_NOT_ALLOWED {
        response.headers_mut().remove(axum::http::header::ALLOW);
    }
    response
}
