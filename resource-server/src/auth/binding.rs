//! Step 4 of the [pipeline](super): the certificate binding of [RFC 8705 §3].
//! A token whose `cnf.x5t#S256` is set may only be used on a connection whose client
//! certificate has that SHA-256 thumbprint; the comparison (constant time) and its outcome
//! ([`rfc8705::Binding`]) are `playbook::rfc8705`'s, this file turns them into the answer.
//! It runs on every request, cached token or not, after the DPoP proof ([`super::dpop`]):
//! a token bound both ways (`x5t#S256` and `jkt`) needs both. `--require-binding` also
//! refuses tokens bound neither way. A `cnf` with any other confirmation method (`jwk`,
//! `jku`, …) is refused ([`check_confirmation`]): the issuer wanted a binding this server
//! cannot check.
//!
//! [RFC 8705 §3]: https://www.rfc-editor.org/rfc/rfc8705#section-3

use playbook::rfc8705::{self, Confirmation};
use playbook::server::Connection;
use serde::Serialize;

use super::claims::Claims;
use crate::error::ApiError;

/// A `cnf` this server cannot fully verify means the issuer wanted the token bound to
/// something this server does not check: the token is refused, never downgraded to a
/// plain bearer token. `x5t#S256` (RFC 8705) and `jkt` (RFC 9449) are understood.
pub fn check_confirmation(cnf: Option<&Confirmation>) -> Result<(), ApiError> {
    match cnf.and_then(Confirmation::refusal) {
        Some(why) => Err(ApiError::InvalidToken(why)),
        None => Ok(()),
    }
}

/// The RFC 8705 check, as `/api/whoami` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Binding {
    /// `cnf.x5t#S256` of the token, if it is bound.
    pub token_x5t_s256: Option<String>,
    /// SHA-256 thumbprint of the client certificate on this connection.
    pub connection_x5t_s256: Option<String>,
    /// `matches`, or `unbound` (accepted because `--require-binding` is off, or because the
    /// token is DPoP-bound instead).
    pub result: &'static str,
    /// `cnf.jkt` of the token, when it is DPoP-bound and this request's proof was signed
    /// with that key (RFC 9449).
    pub dpop_jkt: Option<String>,
    /// How the token is sender-constrained: `mtls`, `dpop`, `mtls+dpop`, or `none`.
    pub sender_constraint: &'static str,
    /// Where the client's TLS ended: `this server`, or `proxy <addr>` when a trusted
    /// proxy terminated it and forwarded the certificate (checked the same way).
    pub tls_terminated_at: String,
}

/// Compares the token's `cnf.x5t#S256` with the certificate of this connection.
pub fn check_binding(
    claims: &Claims,
    connection: &Connection,
    require_binding: bool,
) -> Result<Binding, ApiError> {
    check_sender(claims, Some(connection), None, require_binding)
}

/// [`check_binding`] for a request that may have no client certificate (`connection`
/// `None`), and whose DPoP proof, if the token is DPoP-bound, was verified for `dpop_jkt`.
pub fn check_sender(
    claims: &Claims,
    connection: Option<&Connection>,
    dpop_jkt: Option<String>,
    require_binding: bool,
) -> Result<Binding, ApiError> {
    // Hashed once per connection, not per request.
    let presented = connection.and_then(Connection::client_x5t_s256);
    let binding = rfc8705::compare(claims.bound_thumbprint(), presented);
    match &binding {
        rfc8705::Binding::Matches { .. } => {}
        rfc8705::Binding::Differs { token, presented } => {
            return Err(ApiError::InvalidToken(rfc8705::mismatch_description(
                token, presented,
            )));
        }
        rfc8705::Binding::NoCertificate { .. } => {
            return Err(ApiError::InvalidToken(
                "the token is certificate-bound but this connection has no client certificate"
                    .into(),
            ));
        }
        rfc8705::Binding::Unbound if require_binding && dpop_jkt.is_none() => {
            return Err(ApiError::InvalidToken(
                "the token is not bound to a certificate (no cnf.x5t#S256) nor to a DPoP key \
                 (no cnf.jkt) and this server requires binding (RFC 8705 §3, RFC 9449 §6). \
                 Get the token with the client certificate \
                 (tls_client_auth) from a client whose tokens are certificate-bound (Keycloak client \
                 attribute tls.client.certificate.bound.access.tokens=true); a token \
                 obtained with a client secret is never bound"
                    .into(),
            ));
        }
        rfc8705::Binding::Unbound => {}
    }
    let tls_terminated_at = match connection.and_then(|c| c.forwarded_by) {
        Some(proxy) => format!("proxy {proxy}"),
        None => "this server".to_owned(),
    };
    let sender_constraint = match (&binding, &dpop_jkt) {
        (rfc8705::Binding::Matches { .. }, Some(_)) => "mtls+dpop",
        (rfc8705::Binding::Matches { .. }, None) => "mtls",
        (_, Some(_)) => "dpop",
        (_, None) => "none",
    };
    Ok(Binding {
        result: binding.name(),
        dpop_jkt,
        sender_constraint,
        token_x5t_s256: binding.into_token(),
        connection_x5t_s256: presented.map(str::to_owned),
        tls_terminated_at,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn binding_is_compared_with_this_connection() {
        let pki = playbook::pki::DevPki::generate(1, 1).unwrap();
        let claims = |cnf: Option<String>| -> Claims {
            serde_json::from_value(serde_json::json!({
                "iss": "i", "exp": 1, "cnf": cnf.map(|t| serde_json::json!({"x5t#S256": t}))
            }))
            .unwrap()
        };
        let conn = |cert: Option<&playbook::pki::Issued>| {
            Connection::new(
                ([127, 0, 0, 1], 1).into(),
                cert.map(|c| Arc::from(vec![c.cert_der.clone()])),
            )
        };
        let bound = claims(Some(pki.client.x5t_s256()));
        assert_eq!(
            check_binding(&bound, &conn(Some(&pki.client)), true)
                .unwrap()
                .result,
            "matches"
        );
        assert!(check_binding(&bound, &conn(Some(&pki.other_client)), false).is_err());
        assert!(check_binding(&bound, &conn(None), false).is_err());
        let unbound = claims(None);
        assert_eq!(
            check_binding(&unbound, &conn(Some(&pki.client)), false)
                .unwrap()
                .result,
            "unbound"
        );
        assert!(check_binding(&unbound, &conn(Some(&pki.client)), true).is_err());
        // A DPoP-bound token meets --require-binding without a certificate; a token bound
        // both ways still needs the certificate.
        let dpop = check_sender(&unbound, None, Some("k".into()), true).unwrap();
        assert_eq!((dpop.result, dpop.sender_constraint), ("unbound", "dpop"));
        assert!(check_sender(&bound, None, Some("k".into()), false).is_err());
        let both = check_sender(
            &bound,
            Some(&conn(Some(&pki.client))),
            Some("k".into()),
            true,
        );
        assert_eq!(both.unwrap().sender_constraint, "mtls+dpop");
    }
}
