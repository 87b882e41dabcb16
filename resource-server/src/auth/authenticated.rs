//! Steps 1 to 4 of the [pipeline](super) in order, as the extractor
//! [`Authenticated`]: the bearer token ([`super::bearer`]), a client certificate on this
//! connection (step 2: in `--client-auth request` mode a connection may have none, and
//! protected routes then answer 401 saying so), the token ([`super::validate`]) and its
//! binding to that certificate ([`super::binding`]). Every refusal is logged here with its
//! reason, the token only as a short SHA-256 fingerprint, and turned into the RFC 6750
//! answer ([`Refusal`]).

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use playbook::server::Connection;

use super::bearer::bearer_token;
use super::binding::{Binding, check_binding};
use super::claims::Claims;
use super::validate::{Validated, Validator, fingerprint, token_hash};
use crate::config::Config;
use crate::error::{ApiError, Refusal};

/// What the pipeline reads from the application's state: the validator (with its key cache)
/// and the configuration. Any state that gives both (`FromRef`) will do; the resource
/// server's `AppState` does.
pub(super) struct Pipeline {
    validator: Arc<Validator>,
    config: Arc<Config>,
}

impl Pipeline {
    pub(super) fn of<S>(state: &S) -> Self
    where
        Arc<Validator>: FromRef<S>,
        Arc<Config>: FromRef<S>,
    {
        Pipeline {
            validator: FromRef::from_ref(state),
            config: FromRef::from_ref(state),
        }
    }
}

/// A request that carries a valid token, bound to this connection's certificate.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub token: Arc<Validated>,
    pub binding: Binding,
    /// Whether the signature check was skipped because the token was cached.
    pub from_cache: bool,
}

impl Authenticated {
    pub fn claims(&self) -> &Claims {
        &self.token.claims
    }
}

async fn authenticate(state: &Pipeline, parts: &Parts) -> Result<Authenticated, ApiError> {
    // Absent only when the router runs without `playbook::server::serve` (no TLS at all).
    let connection = parts
        .extensions
        .get::<Connection>()
        .filter(|c| c.client_leaf().is_some());
    let token = match bearer_token(&parts.headers, parts.uri.query()) {
        Err(ApiError::NoToken(_)) if connection.is_none() => {
            return Err(ApiError::NoToken(
                "this API needs mutual TLS and an access token: present the client certificate \
                 and send Authorization: Bearer <token>"
                    .into(),
            ));
        }
        other => other?,
    };
    let Some(connection) = connection else {
        return Err(ApiError::InvalidToken(
            "this connection presented no client certificate: the API requires mutual TLS \
             (RFC 8705). Present the client certificate the token was issued to"
                .into(),
        ));
    };
    let (validated, from_cache) = state.validator.validate(token).await?;
    let binding = check_binding(&validated.claims, connection, state.config.require_binding)?;
    Ok(Authenticated {
        token: validated,
        binding,
        from_cache,
    })
}

/// Logs a refusal with its reason and turns it into the RFC 6750 response.
pub(super) fn refuse(state: &Pipeline, parts: &Parts, error: ApiError) -> Refusal {
    let peer = parts
        .extensions
        .get::<Connection>()
        .map(|c| c.remote_addr.to_string())
        .unwrap_or_default();
    let token = bearer_token(&parts.headers, None)
        .ok()
        .map(|t| fingerprint(&token_hash(t)));
    match &error {
        ApiError::KeysUnavailable { .. } => {
            tracing::warn!(method = %parts.method, path = %parts.uri.path(), %peer, ?token, "refused (503): {error}")
        }
        _ => {
            tracing::info!(method = %parts.method, path = %parts.uri.path(), %peer, ?token, "refused ({}): {error}", error.status().as_u16())
        }
    }
    error.with_realm(&state.config.realm)
}

impl<S> FromRequestParts<S> for Authenticated
where
    Arc<Validator>: FromRef<S>,
    Arc<Config>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = Pipeline::of(state);
        match authenticate(&state, parts).await {
            Ok(auth) => {
                let claims = auth.claims();
                // A token is announced at info when it is first validated; later requests
                // with it (cache hits, the bulk of a kept-alive client's traffic) only at
                // trace, so that the default log formats nothing per request.
                if auth.from_cache {
                    tracing::trace!(
                        path = %parts.uri.path(),
                        jti = ?claims.jti,
                        binding = auth.binding.result,
                        "token accepted (cached)"
                    );
                } else {
                    tracing::info!(
                        path = %parts.uri.path(),
                        sub = ?claims.sub,
                        client = ?claims.client(),
                        jti = ?claims.jti,
                        binding = auth.binding.result,
                        cached = auth.from_cache,
                        "token accepted"
                    );
                }
                Ok(auth)
            }
            Err(error) => Err(refuse(&state, parts, error)),
        }
    }
}
