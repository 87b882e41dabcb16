//! The token endpoint, `POST /realms/{realm}/protocol/openid-connect/token` (RFC 6749 §3.2):
//! it wires one request through the protocol steps, in Keycloak's order
//! (`TokenEndpoint#processGrantRequest`):
//!
//! 1. the request, read once ([`crate::request::ClientRequest`]);
//! 2. the realm and `grant_type` checks;
//! 3. client authentication ([`crate::client_auth`]), then the bearer-only and
//!    duplicate-parameter checks, then the DPoP proof ([`crate::dpop`]);
//! 4. the grant ([`crate::grant`]: `client_credentials`, `password`);
//! 5. minting the tokens ([`crate::mint`]).
//!
//! Every answer carries `Cache-Control: no-store` and `Pragma: no-cache`, except the 404 for
//! an unknown realm, which Keycloak sends before the endpoint runs.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use playbook::oauth::ErrorCode;
use serde_json::{Value, json};

use crate::Provider;
use crate::error::{AdminError, OAuthError, Refusal};
use crate::request::ClientRequest;

/// Grant types Keycloak 26.7 has factories for (`OAuth2GrantType` providers).
const KNOWN_GRANTS: &[&str] = &[
    "authorization_code",
    "client_credentials",
    "password",
    "refresh_token",
    "urn:ietf:params:oauth:grant-type:token-exchange",
    "urn:ietf:params:oauth:grant-type:uma-ticket",
    "urn:openid:params:grant-type:ciba",
    "urn:ietf:params:oauth:grant-type:device_code",
];

fn no_store(mut response: Response) -> Response {
    crate::error::set_no_store(response.headers_mut());
    response
}

/// `POST /realms/{realm}/protocol/openid-connect/token`.
pub async fn token_endpoint(
    State(provider): State<Provider>,
    Path(realm_name): Path<String>,
    req: ClientRequest,
) -> Response {
    match process(&provider, &realm_name, &req) {
        Ok(body) => no_store((StatusCode::OK, axum::Json(body)).into_response()),
        Err(Failure::Refused(Refusal { error, reason })) => {
            tracing::info!(
                realm = %realm_name,
                remote = %req.conn.remote_addr,
                "token request refused ({} {}: {}): {reason}",
                error.status.as_u16(),
                error.error,
                error.description
            );
            error.no_store().into_response()
        }
        // RealmsResource throws NotFound before TokenEndpoint runs: no no-store headers.
        Err(Failure::NoRealm) => AdminError::realm_not_found().into_response(),
        Err(Failure::Internal(message)) => no_store(internal(&message)),
    }
}

/// Why the endpoint did not issue a token: a refusal (RFC 6749 §5.2, the answer the
/// client gets), a realm that is not there (404 before the endpoint runs), or our fault.
enum Failure {
    Refused(Refusal),
    NoRealm,
    Internal(String),
}

impl From<Refusal> for Failure {
    fn from(r: Refusal) -> Self {
        Failure::Refused(r)
    }
}

fn fail(e: OAuthError, reason: impl Into<String>) -> Failure {
    Failure::Refused(Refusal::new(e, reason))
}

fn process(provider: &Provider, realm_name: &str, req: &ClientRequest) -> Result<Value, Failure> {
    let form = &req.form;
    let store = provider.read();
    let Some(realm) = store.realm(realm_name) else {
        return Err(Failure::NoRealm);
    };
    // checkSsl: we only serve HTTPS. checkRealm:
    if !realm.enabled {
        return Err(fail(OAuthError::realm_disabled(), "realm disabled"));
    }
    // checkGrantType
    let Some(grant_type) = form.first("grant_type") else {
        return Err(fail(
            OAuthError::invalid_request("Missing form parameter: grant_type"),
            "no grant_type",
        ));
    };
    if !KNOWN_GRANTS.contains(&grant_type) {
        return Err(fail(
            OAuthError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::UnsupportedGrantType,
                "Unsupported grant_type",
            ),
            format!("grant_type '{grant_type}'"),
        ));
    }
    // checkClient: client authentication, then bearer-only.
    let auth =
        crate::client_auth::authenticate("token", realm, req, &provider.inner.assertion_replay)?;
    let client = realm
        .client_by_id(&auth.client_uuid)
        .expect("authenticated client exists");
    if client.bearer_only {
        return Err(fail(
            OAuthError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidClient,
                "Bearer-only not allowed",
            ),
            format!("client '{}' is bearer-only", client.client_id),
        ));
    }
    // checkParameterDuplicated: after client authentication.
    if form.has_duplicates() {
        return Err(fail(
            OAuthError::invalid_request("duplicated parameter"),
            "a form parameter was sent more than once",
        ));
    }
    // DPoPUtil.handleDPoPHeader: after checkParameters, before the grant.
    let dpop_jkt = crate::dpop::handle_dpop_header(client, req, &provider.inner.dpop_replay)?;
    let issue = match grant_type {
        "client_credentials" => crate::grant::client_credentials(realm, client, req),
        "password" => crate::grant::password(realm, client, req),
        other => {
            return Err(fail(
                OAuthError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::UnsupportedGrantType,
                    "Unsupported grant_type",
                ),
                format!(
                    "grant_type '{other}' exists in Keycloak but is not implemented by this provider"
                ),
            ));
        }
    }?;
    let issue = crate::grant::Issue { dpop_jkt, ..issue };
    crate::mint::mint(provider, &req.base, issue).map_err(|e| Failure::Internal(e.to_string()))
}

fn internal(message: &str) -> Response {
    tracing::error!("internal error: {message}");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        axum::Json(json!({"error": ErrorCode::UnknownError, "error_description": "For more on this error consult the server log."})),
    )
        .into_response()
}
