//! Step 4 of the [pipeline](super), for DPoP: the proof of possession of [RFC 9449 §7.1].
//! A token whose `cnf.jkt` is set may only be used with `Authorization: DPoP <token>` and a
//! `DPoP` header holding a proof, signed with the key of that thumbprint, for this request
//! (`htm`, `htu` = [`Config::public_url`] and the path), recent (`iat` within
//! [`Config::dpop_window`]), for this token (`ath`) and never seen before by this instance
//! (the replay cache, [`Validator::dpop_replay`]). The checks are `playbook::rfc9449`'s; this
//! file picks the request's parts and turns the outcome into the answer.
//!
//! - A DPoP-bound token sent as a bearer token is refused: whoever holds it without the key
//!   is exactly whom the binding keeps out.
//! - A token that is not DPoP-bound sent with the `DPoP` scheme is refused too (as Keycloak
//!   does): the scheme says a binding the token does not have.
//! - A `DPoP` header next to `Authorization: Bearer` is ignored (RFC 9449 §7.2).
//!
//! It runs on every request, cached token or not. The certificate binding ([`super::binding`])
//! runs after it: a token bound both ways needs both proofs.
//!
//! [RFC 9449 §7.1]: https://www.rfc-editor.org/rfc/rfc9449#section-7.1

use axum::http::request::Parts;
use playbook::rfc9449::{self, ProofError, ProofRequest};

use super::claims::Claims;
use super::validate::Validator;
use crate::config::Config;
use crate::error::{ApiError, Scheme};

/// The DPoP check of one request: `Ok(Some(jkt))` when the token is DPoP-bound and the
/// proof holds, `Ok(None)` when the token is not DPoP-bound and came as a bearer token.
pub fn check_dpop(
    claims: &Claims,
    scheme: Scheme,
    token: &str,
    parts: &Parts,
    config: &Config,
    validator: &Validator,
) -> Result<Option<String>, ApiError> {
    let bound = claims.bound_jkt();
    let bound = match (scheme, bound) {
        (Scheme::Bearer, None) => return Ok(None),
        (Scheme::Bearer, Some(jkt)) => {
            return Err(ApiError::DpopRequired(format!(
                "the token is DPoP-bound (cnf.jkt {jkt}) but was sent as a bearer token: send \
                 it as Authorization: DPoP <token> with a DPoP proof signed by that key \
                 (RFC 9449 §7.1). Without the key, the token is of no use"
            )));
        }
        (Scheme::Dpop, None) => {
            return Err(ApiError::InvalidToken(
                "the token is not DPoP-bound (no cnf.jkt) but was sent with Authorization: \
                 DPoP; send it as Authorization: Bearer, or get a DPoP-bound token by sending \
                 a DPoP proof to the token endpoint"
                    .into(),
            ));
        }
        (Scheme::Dpop, Some(jkt)) => jkt,
    };
    let proof = proof_header(parts)?;
    let url = request_url(parts, config)?;
    let now = jsonwebtoken::get_current_timestamp();
    let request = ProofRequest {
        method: parts.method.as_str(),
        url: &url,
        access_token: Some(token),
    };
    let proof = rfc9449::verify(proof, request, config.dpop_window, now).map_err(refusal)?;
    if !rfc9449::compare_jkt(bound, &proof.jkt) {
        return Err(ApiError::InvalidDpopProof(format!(
            "the DPoP proof is signed by key jkt={} but the token is bound to jkt={bound}: a \
             proof from another key than the token's (RFC 9449 §7.1)",
            proof.jkt
        )));
    }
    // Last, so that a proof refused for another reason does not use up its jti.
    validator
        .dpop_replay()
        .check(&proof, now)
        .map_err(refusal)?;
    Ok(Some(proof.jkt))
}

/// The one `DPoP` header's value (RFC 9449 §4.3 item 1: exactly one).
fn proof_header(parts: &Parts) -> Result<&str, ApiError> {
    let mut values = parts.headers.get_all(rfc9449::HEADER).iter();
    match (values.next(), values.next()) {
        (None, _) => Err(refusal(ProofError::Missing)),
        (Some(_), Some(_)) => Err(refusal(ProofError::Repeated)),
        (Some(value), None) => value.to_str().map_err(|_| {
            refusal(ProofError::Malformed(
                "the DPoP header is not printable ASCII".into(),
            ))
        }),
    }
}

/// The URL this request was made to as the client saw it: the configured public URL and
/// the path (the query is not part of `htu`). Without a configured URL, `https://` and the
/// `Host` header.
fn request_url(parts: &Parts, config: &Config) -> Result<String, ApiError> {
    let path = parts.uri.path();
    match &config.public_url {
        Some(base) => Ok(format!("{base}{path}")),
        None => {
            let host = parts
                .headers
                .get(axum::http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .ok_or_else(|| {
                    ApiError::InvalidRequest(
                        "no Host header to compare the DPoP proof's htu with".into(),
                    )
                })?;
            Ok(format!("https://{host}{path}"))
        }
    }
}

/// A proof's refusal: 401 `invalid_dpop_proof`, or 503 when the replay cache is full.
fn refusal(error: ProofError) -> ApiError {
    match error {
        ProofError::ReplayCacheFull(wait) => ApiError::Busy {
            description: error.to_string(),
            retry_after_secs: wait,
        },
        other => ApiError::InvalidDpopProof(other.to_string()),
    }
}
