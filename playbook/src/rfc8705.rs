//! RFC 8705 certificate-bound access tokens, in one place for all three crates.
//!
//! - the provider puts the [`confirmation`] of the client's certificate into the token it
//!   mints;
//! - the resource server reads the token's [`Confirmation`], refuses what it cannot verify
//!   ([`Confirmation::unverifiable`]) and [`compare`]s it with the connection's certificate;
//! - the client [`compare`]s its token with its own certificate to explain what will happen.
//!
//! The thumbprint is RFC 8705 §3.1 `x5t#S256`: base64url, without padding, of the SHA-256
//! of the certificate's DER. It is what Keycloak's `MtlsHoKTokenUtil` puts in `cnf`.
//!
//! [RFC 8705]: https://www.rfc-editor.org/rfc/rfc8705#section-3

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// The one confirmation method the playground mints and checks: the member of `cnf`.
pub const METHOD: &str = "x5t#S256";

/// RFC 8705 §3.1 `x5t#S256` of a DER certificate.
pub fn thumbprint(der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, der))
}

/// The `cnf` claim of a token bound to the certificate whose [`thumbprint`] is given:
/// `{"x5t#S256": "…"}`.
pub fn confirmation(thumbprint: &str) -> serde_json::Value {
    serde_json::json!({ METHOD: thumbprint })
}

/// The `cnf` claim as a token carries it ([RFC 7800 §3.1]).
///
/// [RFC 7800 §3.1]: https://www.rfc-editor.org/rfc/rfc7800#section-3.1
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Confirmation {
    /// RFC 8705 §3.1: the thumbprint of the certificate the token is bound to.
    #[serde(rename = "x5t#S256", default, skip_serializing_if = "Option::is_none")]
    pub x5t_s256: Option<String>,
    /// RFC 9449 §6.1: the RFC 7638 thumbprint of the client's DPoP key
    /// ([`crate::rfc9449`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jkt: Option<String>,
    /// Keycloak's `kc-jkt-type` (`DPoP`) beside `jkt`: what kind of key `jkt` names, not a
    /// method of its own ([`crate::rfc9449::KC_JKT_TYPE`]).
    #[serde(
        rename = "kc-jkt-type",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub kc_jkt_type: Option<String>,
    /// Every other member: `jwk`, `kid`, `jku`, `jwe` (RFC 7800), or anything newer. A token
    /// bound by a method nobody here verifies must be refused, never accepted as a plain
    /// bearer token.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

impl Confirmation {
    /// The confirmation methods in this `cnf` other than `x5t#S256` and `jkt`.
    pub fn unverifiable(&self) -> Vec<&str> {
        self.other.keys().map(String::as_str).collect()
    }

    /// Why a resource server that checks `x5t#S256` (RFC 8705) and `jkt` (RFC 9449) must
    /// refuse this `cnf`, if it must: another method, or none at all.
    pub fn refusal(&self) -> Option<String> {
        let other = self.unverifiable();
        if !other.is_empty() {
            return Some(format!(
                "the token is bound by confirmation method {other:?} in its cnf claim, which \
                 this server does not verify; it checks cnf.x5t#S256 (RFC 8705 mutual-TLS \
                 binding) and cnf.jkt (RFC 9449 DPoP), and a bound token is never accepted as \
                 a plain bearer token. Get a token bound to the client certificate or to a \
                 DPoP key instead"
            ));
        }
        (self.x5t_s256.is_none() && self.jkt.is_none()).then(|| {
            "the token's cnf claim is empty: it says the token is bound but not to what \
             (expected cnf.x5t#S256, RFC 8705 §3.1, or cnf.jkt, RFC 9449 §6.1)"
                .to_owned()
        })
    }
}

/// A token's binding compared with a certificate (RFC 8705 §3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "binding", rename_all = "snake_case")]
pub enum Binding {
    /// `cnf.x5t#S256` equals the certificate's thumbprint.
    Matches { x5t_s256: String },
    /// Bound, but to another certificate.
    Differs { token: String, presented: String },
    /// Bound, and no certificate was presented.
    NoCertificate { token: String },
    /// No `cnf.x5t#S256`: a plain bearer token.
    Unbound,
}

impl Binding {
    /// `matches`, `differs`, `no_certificate` or `unbound`: the wire name (`/api/whoami`).
    pub fn name(&self) -> &'static str {
        match self {
            Binding::Matches { .. } => "matches",
            Binding::Differs { .. } => "differs",
            Binding::NoCertificate { .. } => "no_certificate",
            Binding::Unbound => "unbound",
        }
    }

    /// The token's own thumbprint, if it is bound (taken out, not copied: the resource
    /// server does this on every request).
    pub fn into_token(self) -> Option<String> {
        match self {
            Binding::Matches { x5t_s256 } => Some(x5t_s256),
            Binding::Differs { token, .. } | Binding::NoCertificate { token } => Some(token),
            Binding::Unbound => None,
        }
    }
}

const BOUND_TO: &str = "the token is bound to certificate x5t#S256=";
const PRESENTED: &str = " but this connection presented x5t#S256=";

/// Why a [`Binding::Differs`] token is refused, naming both thumbprints; [`parse_mismatch`]
/// reads them back (from a person's saved answer, as workshop lab 4 does).
pub fn mismatch_description(token: &str, presented: &str) -> String {
    format!(
        "{BOUND_TO}{token}{PRESENTED}{presented} (RFC 8705 §3): use the certificate the token \
         was issued to"
    )
}

/// The token's and the presented certificate's thumbprints in a [`mismatch_description`].
pub fn parse_mismatch(description: &str) -> Option<(String, String)> {
    let thumbprint = |after: &str| -> Option<String> {
        let i = description.find(after)? + after.len();
        let t: String = description[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        (!t.is_empty()).then_some(t)
    };
    Some((thumbprint(BOUND_TO)?, thumbprint(PRESENTED)?))
}

/// Compares the token's `cnf.x5t#S256` with the thumbprint of the presented certificate.
///
/// In constant time, as security comparisons here always are: both thumbprints are public
/// today, but the habit costs nothing and survives a later change that compares something
/// that is not (only the lengths, fixed for SHA-256, are compared in variable time).
pub fn compare(token: Option<&str>, presented: Option<&str>) -> Binding {
    use subtle::ConstantTimeEq as _;
    match (token, presented) {
        (None, _) => Binding::Unbound,
        (Some(token), None) => Binding::NoCertificate {
            token: token.to_owned(),
        },
        (Some(token), Some(presented)) => {
            if bool::from(token.as_bytes().ct_eq(presented.as_bytes())) {
                Binding::Matches {
                    x5t_s256: token.to_owned(),
                }
            } else {
                Binding::Differs {
                    token: token.to_owned(),
                    presented: presented.to_owned(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against a vector computed independently:
    /// `printf 'hello' | openssl dgst -sha256 -binary | basenc --base64url | tr -d '='`.
    #[test]
    fn thumbprint_is_base64url_sha256_without_padding() {
        assert_eq!(
            thumbprint(b"hello"),
            "LPJNul-wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ"
        );
        assert_eq!(
            confirmation(&thumbprint(b"hello")),
            serde_json::json!({"x5t#S256": "LPJNul-wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ"})
        );
    }

    #[test]
    fn compare_names_every_outcome() {
        assert_eq!(
            compare(Some("a"), Some("a")),
            Binding::Matches {
                x5t_s256: "a".into()
            }
        );
        assert_eq!(
            compare(Some("a"), Some("b")),
            Binding::Differs {
                token: "a".into(),
                presented: "b".into()
            }
        );
        assert_eq!(
            compare(Some("a"), None),
            Binding::NoCertificate { token: "a".into() }
        );
        assert_eq!(compare(None, Some("b")), Binding::Unbound);
        assert_eq!(compare(Some("a"), Some("ab")).name(), "differs");
        assert_eq!(compare(None, None).name(), "unbound");
        assert_eq!(compare(Some("a"), None).into_token().as_deref(), Some("a"));
    }

    #[test]
    fn a_mismatch_names_both_thumbprints_and_reads_back() {
        let text = mismatch_description("abc-_1", "XYZ");
        assert_eq!(parse_mismatch(&text), Some(("abc-_1".into(), "XYZ".into())));
        // Quoted for a WWW-Authenticate header (`§` spelled out), it still reads back.
        let quoted = crate::oauth::quoted_safe(&text);
        assert_eq!(
            parse_mismatch(&quoted),
            Some(("abc-_1".into(), "XYZ".into()))
        );
        assert_eq!(parse_mismatch("the token expired 3s ago"), None);
    }

    #[test]
    fn other_confirmation_methods_are_refused_never_ignored() {
        let dpop: Confirmation = serde_json::from_str(r#"{"jkt":"k"}"#).unwrap();
        assert_eq!(dpop.refusal(), None);
        // As Keycloak 26.7.5 mints it.
        let keycloak: Confirmation =
            serde_json::from_str(r#"{"jkt":"k","kc-jkt-type":"DPoP"}"#).unwrap();
        assert_eq!(keycloak.refusal(), None);
        assert_eq!(dpop.jkt.as_deref(), Some("k"));
        let jwk: Confirmation = serde_json::from_str(r#"{"jwk":{}}"#).unwrap();
        assert!(jwk.refusal().unwrap().contains("[\"jwk\"]"));
        let both: Confirmation = serde_json::from_str(r#"{"x5t#S256":"t","jwk":{}}"#).unwrap();
        assert_eq!(both.unverifiable(), ["jwk"]);
        assert!(both.refusal().is_some());
        let empty: Confirmation = serde_json::from_str("{}").unwrap();
        assert!(empty.refusal().unwrap().contains("empty"));
        let good: Confirmation = serde_json::from_str(r#"{"x5t#S256":"t"}"#).unwrap();
        assert_eq!(good.refusal(), None);
        assert_eq!(serde_json::to_string(&good).unwrap(), r#"{"x5t#S256":"t"}"#);
    }
}
