//! Steps 1 to 4 of the [pipeline](super) in order, as the extractor
//! [`Authenticated`]: the access token and its scheme ([`super::bearer`]), a client
//! certificate on this connection (step 2: in `--client-auth request` mode a connection may
//! have none, and protected routes then answer 401 saying so, unless the token comes with
//! the `DPoP` scheme), the token ([`super::validate`]), its DPoP proof ([`super::dpop`]) and
//! its binding to that certificate ([`super::binding`]). Every refusal is logged here with its
//! reason, the token only as a short SHA-256 fingerprint, and turned into the RFC 6750
//! answer ([`Refusal`]).

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use playbook::server::Connection;

use super::bearer::access_token;
use super::binding::{Binding, check_sender};
use super::claims::Claims;
use super::dpop::check_dpop;
use super::validate::{Validated, Validator, fingerprint, token_hash};
use crate::config::Config;
use crate::error::{ApiError, Refusal, Scheme};

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

/// A request that carries a valid token, bound to this connection's certificate and/or to
/// the key of this request's DPoP proof.
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
    let (scheme, token) = match access_token(&parts.headers, parts.uri.query()) {
        Err(ApiError::NoToken(_)) if connection.is_none() => {
            return Err(ApiError::NoToken(
                "this API needs an access token, sender-constrained: present the client \
                 certificate and send Authorization: Bearer <token>, or send Authorization: \
                 DPoP <token> with a DPoP proof"
                    .into(),
            ));
        }
        other => other?,
    };
    // A DPoP token's binding is its proof: it may come without a certificate.
    if connection.is_none() && scheme == Scheme::Bearer {
        return Err(ApiError::InvalidToken(
            "this connection presented no client certificate: the API requires mutual TLS \
             (RFC 8705) for a bearer token. Present the client certificate the token was \
             issued to"
                .into(),
        ));
    }
    let (validated, from_cache) = state.validator.validate(token).await?;
    let dpop = check_dpop(
        &validated.claims,
        scheme,
        token,
        parts,
        &state.config,
        &state.validator,
    )?;
    let binding = check_sender(
        &validated.claims,
        connection,
        dpop,
        state.config.require_binding,
    )?;
    Ok(Authenticated {
        token: validated,
        binding,
        from_cache,
    })
}

/// The scheme a refusal's challenge is written in: the request's (RFC 9449 §7.1); a DPoP
/// proof's refusal and a DPoP-bound token sent as a bearer token are `DPoP` whatever it is
/// ([`ApiError::challenge_in`]).
fn challenge_scheme(parts: &Parts) -> Scheme {
    match access_token(&parts.headers, None) {
        Ok((scheme, _)) => scheme,
        Err(_) => Scheme::Bearer,
    }
}

/// Logs a refusal with its reason and turns it into the RFC 6750 response.
pub(super) fn refuse(state: &Pipeline, parts: &Parts, error: ApiError) -> Refusal {
    let peer = parts
        .extensions
        .get::<Connection>()
        .map(|c| c.remote_addr.to_string())
        .unwrap_or_default();
    let token = access_token(&parts.headers, None)
        .ok()
        .map(|(_, t)| fingerprint(&token_hash(t)));
    match &error {
        ApiError::KeysUnavailable { .. } | ApiError::Busy { .. } => {
            tracing::warn!(method = %parts.method, path = %parts.uri.path(), %peer, ?token, "refused (503): {error}")
        }
        _ => {
            tracing::info!(method = %parts.method, path = %parts.uri.path(), %peer, ?token, "refused ({}): {error}", error.status().as_u16())
        }
    }
    let scheme = challenge_scheme(parts);
    error.with_realm_in(&state.config.realm, scheme)
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
