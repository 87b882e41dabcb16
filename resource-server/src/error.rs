//! Every refusal the resource server can give, shaped by [RFC 6750 §3]: one enum, one
//! [`IntoResponse`], so the status, the `WWW-Authenticate` challenge and the JSON body
//! always agree.
//!
//! | variant | status | `error` (header and body) |
//! |---|---|---|
//! | [`ApiError::NoToken`] | 401 | none: RFC 6750 §3.1 says a request with no credentials gets no error code |
//! | [`ApiError::InvalidRequest`] | 400 | `invalid_request` |
//! | [`ApiError::InvalidToken`] | 401 | `invalid_token` |
//! | [`ApiError::InvalidDpopProof`] | 401 | `invalid_dpop_proof` ([RFC 9449 §7.1]) |
//! | [`ApiError::DpopRequired`] | 401 | `invalid_token`, challenge `DPoP`: a DPoP-bound token sent as a bearer token |
//! | [`ApiError::InsufficientScope`] | 403 | `insufficient_scope` |
//! | [`ApiError::KeysUnavailable`] | 503 | `temporarily_unavailable` (no challenge: the token is not at fault), with `Retry-After` |
//! | [`ApiError::InvalidBody`] | 400, 413, 415 or 422 | `invalid_request` (no challenge: the token is not at fault) |
//! | [`ApiError::Busy`] | 503 | `temporarily_unavailable` (no challenge), with `Retry-After` |
//!
//! The challenge's scheme is the request's ([`Scheme`]): `Bearer`, or `DPoP` (RFC 9449 §7.1,
//! with `algs`) when the request used DPoP, sent a DPoP-bound token, or its proof failed.
//!
//! [RFC 6750 §3]: https://www.rfc-editor.org/rfc/rfc6750#section-3
//! [RFC 9449 §7.1]: https://www.rfc-editor.org/rfc/rfc9449#section-7.1

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use playbook::oauth::{BearerError, bearer_challenge, dpop_challenge};
use serde::Serialize;

/// Why a request to a protected route was refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// No bearer token at all (or another scheme): a bare challenge.
    #[error("no bearer token: {0}")]
    NoToken(String),
    /// The `Authorization` header (or the request) is malformed.
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    /// The token is expired, forged, for someone else, bound to another certificate, ...
    #[error("invalid_token: {0}")]
    InvalidToken(String),
    /// The DPoP proof is missing, malformed, stale, replayed, or not for this request, this
    /// token or this token's key (RFC 9449 §7.1).
    #[error("invalid_dpop_proof: {0}")]
    InvalidDpopProof(String),
    /// A DPoP-bound token sent as a bearer token: the token is good, only with its key.
    #[error("invalid_token: {0}")]
    DpopRequired(String),
    /// A valid token without the role or scope the route needs.
    #[error("insufficient_scope: {description}")]
    InsufficientScope {
        description: String,
        /// The scope the route needs, advertised in the challenge (RFC 6750 §3 `scope`).
        scope: Option<String>,
    },
    /// The provider's keys are not loaded yet, or the token names a key we do not have and
    /// the provider cannot be asked: the token cannot be checked now.
    #[error("temporarily_unavailable: {description}")]
    KeysUnavailable {
        description: String,
        /// Seconds, for `Retry-After`.
        retry_after_secs: u64,
    },
    /// The request body cannot be read as the route's JSON (too large, not JSON, wrong
    /// fields, wrong `Content-Type`). `status` is the one axum's rejection carries.
    #[error("invalid_request: {description}")]
    InvalidBody {
        status: StatusCode,
        description: String,
    },
    /// This server cannot take the request now (the DPoP replay cache is full of live
    /// proofs): not the token's fault.
    #[error("temporarily_unavailable: {description}")]
    Busy {
        description: String,
        /// Seconds, for `Retry-After`.
        retry_after_secs: u64,
    },
}

/// The `Authorization` scheme a token came with, and the one a refusal's challenge is
/// written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scheme {
    /// RFC 6750 §2.1, §3.
    #[default]
    Bearer,
    /// RFC 9449 §7.1.
    Dpop,
}

impl Scheme {
    /// As written in `Authorization` and `WWW-Authenticate`.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Bearer => "Bearer",
            Scheme::Dpop => playbook::rfc9449::SCHEME,
        }
    }
}

impl ApiError {
    /// The RFC 6750 error code, if this refusal has one.
    pub fn code(&self) -> Option<BearerError> {
        match self {
            ApiError::NoToken(_) => None,
            ApiError::InvalidRequest(_) => Some(BearerError::InvalidRequest),
            ApiError::InvalidToken(_) => Some(BearerError::InvalidToken),
            ApiError::InsufficientScope { .. } => Some(BearerError::InsufficientScope),
            ApiError::KeysUnavailable { .. } => Some(BearerError::TemporarilyUnavailable),
            ApiError::InvalidBody { .. } => Some(BearerError::InvalidRequest),
            ApiError::InvalidDpopProof(_) => Some(BearerError::InvalidDpopProof),
            ApiError::DpopRequired(_) => Some(BearerError::InvalidToken),
            ApiError::Busy { .. } => Some(BearerError::TemporarilyUnavailable),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::NoToken(_)
            | ApiError::InvalidToken(_)
            | ApiError::InvalidDpopProof(_)
            | ApiError::DpopRequired(_) => StatusCode::UNAUTHORIZED,
            ApiError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            ApiError::KeysUnavailable { .. } | ApiError::Busy { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::InvalidBody { status, .. } => *status,
        }
    }

    pub fn description(&self) -> &str {
        match self {
            ApiError::NoToken(d)
            | ApiError::InvalidRequest(d)
            | ApiError::InvalidToken(d)
            | ApiError::InvalidDpopProof(d)
            | ApiError::DpopRequired(d) => d,
            ApiError::InsufficientScope { description, .. }
            | ApiError::Busy { description, .. }
            | ApiError::KeysUnavailable { description, .. }
            | ApiError::InvalidBody { description, .. } => description,
        }
    }

    /// The `WWW-Authenticate` value (scheme `Bearer`) for `realm`, or `None` when no
    /// challenge applies.
    pub fn challenge(&self, realm: &str) -> Option<String> {
        self.challenge_in(realm, Scheme::Bearer)
    }

    /// The `WWW-Authenticate` value in `scheme` for `realm`, or `None` when no challenge
    /// applies. A DPoP proof's refusal is always a `DPoP` challenge.
    pub fn challenge_in(&self, realm: &str, scheme: Scheme) -> Option<String> {
        if matches!(
            self,
            ApiError::KeysUnavailable { .. } | ApiError::InvalidBody { .. } | ApiError::Busy { .. }
        ) {
            return None;
        }
        let scope = match self {
            ApiError::InsufficientScope { scope, .. } => scope.as_deref(),
            _ => None,
        };
        let code = self.code();
        let error = code.as_ref().map(|c| (c, self.description()));
        let dpop = scheme == Scheme::Dpop
            || matches!(
                self,
                ApiError::InvalidDpopProof(_) | ApiError::DpopRequired(_)
            );
        Some(if dpop {
            dpop_challenge(realm, error, &playbook::rfc9449::algs())
        } else {
            bearer_challenge(realm, error, scope)
        })
    }

    /// The [`Refusal`] to send: this error plus the realm named in the challenge, the only
    /// piece of configuration the response needs.
    pub fn with_realm(self, realm: &str) -> Refusal {
        self.with_realm_in(realm, Scheme::Bearer)
    }

    /// [`ApiError::with_realm`], the challenge in `scheme`.
    pub fn with_realm_in(self, realm: &str, scheme: Scheme) -> Refusal {
        Refusal {
            error: self,
            realm: realm.to_owned(),
            scheme,
        }
    }
}

/// The JSON body: the same code and description as the challenge.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<BearerError>,
    pub error_description: &'a str,
}

/// A refusal as it goes on the wire: the [`ApiError`] plus the realm that its
/// `WWW-Authenticate` challenge names. This is what extractors reject with and what
/// handlers return; its [`IntoResponse`] writes the status, the challenge and the body.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub error: ApiError,
    pub realm: String,
    pub scheme: Scheme,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let error = &self.error;
        let body = ErrorBody {
            error: error.code(),
            error_description: error.description(),
        };
        let mut response = (error.status(), Json(body)).into_response();
        let headers = response.headers_mut();
        if let Some(challenge) = error.challenge_in(&self.realm, self.scheme)
            && let Ok(value) = HeaderValue::from_str(&challenge)
        {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        if let ApiError::KeysUnavailable {
            retry_after_secs, ..
        }
        | ApiError::Busy {
            retry_after_secs, ..
        } = error
        {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        // Refusals carry token-dependent details: never cache them.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_token_challenge_has_no_error_code() {
        let e = ApiError::NoToken("send a token".into());
        assert_eq!(e.challenge("r").as_deref(), Some("Bearer realm=\"r\""));
        assert_eq!(e.status(), StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn invalid_token_challenge_carries_code_and_sanitised_description() {
        let e = ApiError::InvalidToken("issuer \"x\" is wrong\\é".into());
        assert_eq!(
            e.challenge("r").as_deref(),
            Some(
                "Bearer realm=\"r\", error=\"invalid_token\", error_description=\"issuer 'x' is wrong/?\""
            )
        );
    }

    #[test]
    fn section_sign_is_spelled_out_in_the_header_and_kept_in_the_body() {
        let e = ApiError::InvalidToken("bound to another certificate (RFC 8705 §3)".into());
        let challenge = e.challenge("r").unwrap();
        assert!(challenge.ends_with("(RFC 8705 section 3)\""), "{challenge}");
        assert!(e.description().contains("§3"));
    }

    #[test]
    fn dpop_refusals_challenge_in_the_dpop_scheme() {
        let e = ApiError::InvalidDpopProof("replayed".into());
        assert_eq!(e.status(), StatusCode::UNAUTHORIZED);
        let c = e.challenge("r").unwrap();
        assert!(
            c.starts_with("DPoP realm=\"r\", error=\"invalid_dpop_proof\", error_description=\"replayed\", algs=\"ES256 "),
            "{c}"
        );
        let bound = ApiError::DpopRequired("DPoP-bound".into());
        assert!(
            bound
                .challenge("r")
                .unwrap()
                .starts_with("DPoP realm=\"r\", error=\"invalid_token\"")
        );
        let expired = ApiError::InvalidToken("expired".into());
        assert!(expired.challenge("r").unwrap().starts_with("Bearer "));
        assert!(
            expired
                .challenge_in("r", Scheme::Dpop)
                .unwrap()
                .starts_with("DPoP realm=\"r\", error=\"invalid_token\"")
        );
    }

    #[test]
    fn insufficient_scope_names_the_scope() {
        let e = ApiError::InsufficientScope {
            description: "needs users:read".into(),
            scope: Some("users:read".into()),
        };
        assert_eq!(e.status(), StatusCode::FORBIDDEN);
        assert!(
            e.challenge("r")
                .unwrap()
                .ends_with(", scope=\"users:read\"")
        );
    }

    #[test]
    fn unavailable_has_no_challenge_and_says_when_to_retry() {
        let e = ApiError::KeysUnavailable {
            description: "provider down".into(),
            retry_after_secs: 2,
        };
        assert_eq!(e.challenge("r"), None);
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
        let response = e.with_realm("r").into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        assert!(!response.headers().contains_key(header::WWW_AUTHENTICATE));
    }

    #[test]
    fn a_bad_body_keeps_its_status_and_has_no_challenge() {
        let e = ApiError::InvalidBody {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            description: "too large".into(),
        };
        assert_eq!(e.code(), Some(BearerError::InvalidRequest));
        assert_eq!(e.challenge("r"), None);
        assert_eq!(
            e.with_realm("r").into_response().status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
    }
}
