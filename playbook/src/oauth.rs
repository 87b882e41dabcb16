//! The wire error codes, as enums: every crate matches on these, never on a string literal
//! or on a server's English description.
//!
//! - [`ErrorCode`]: RFC 6749 §5.2, the token endpoint's `{"error": "…"}`, plus the codes
//!   Keycloak adds on the paths the playground touches.
//! - [`BearerError`]: RFC 6750 §3.1, the resource server's `WWW-Authenticate: Bearer error="…"`.
//!
//! - [`bearer_challenge`] writes, and [`challenge_param`] reads, the RFC 6750 §3
//!   `WWW-Authenticate: Bearer …` value (one quoting rule: [`quoted_safe`]).
//!
//! Both enums keep a code they do not know ([`ErrorCode::Other`], [`BearerError::Other`]) verbatim,
//! so a client shows exactly what a server said.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! wire_codes {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A code this crate does not know, kept verbatim.
            Other(String),
        }

        impl $name {
            /// The code as it is on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)*
                    $name::Other(code) => code,
                }
            }

            /// The code a wire string names.
            pub fn parse(code: &str) -> Self {
                match code {
                    $($wire => $name::$variant,)*
                    other => $name::Other(other.to_owned()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let code = std::borrow::Cow::<'de, str>::deserialize(d)?;
                Ok(Self::parse(&code))
            }
        }
    };
}

wire_codes! {
    /// An OAuth 2.0 error code ([RFC 6749 §5.2]), and Keycloak's additions on our paths.
    ///
    /// [RFC 6749 §5.2]: https://www.rfc-editor.org/rfc/rfc6749#section-5.2
    ErrorCode {
        /// A parameter is missing, repeated, malformed or unsupported.
        InvalidRequest = "invalid_request",
        /// Client authentication failed (Keycloak: any authenticator's failure, 401).
        InvalidClient = "invalid_client",
        /// The grant (password, code, refresh token) is invalid.
        InvalidGrant = "invalid_grant",
        /// The client may not use this grant (Keycloak also: a wrong client secret, 401).
        UnauthorizedClient = "unauthorized_client",
        /// The grant type is not supported.
        UnsupportedGrantType = "unsupported_grant_type",
        /// A requested scope is unknown or not the client's.
        InvalidScope = "invalid_scope",
        /// Keycloak: the realm is disabled (403).
        AccessDenied = "access_denied",
        /// Keycloak: an unexpected failure (500, "consult the server log").
        UnknownError = "unknown_error",
        /// RFC 9449 §5: the DPoP proof sent to the token endpoint is invalid.
        InvalidDpopProof = "invalid_dpop_proof",
    }
}

wire_codes! {
    /// A bearer-token error code ([RFC 6750 §3.1]) in `WWW-Authenticate`.
    ///
    /// [RFC 6750 §3.1]: https://www.rfc-editor.org/rfc/rfc6750#section-3.1
    BearerError {
        /// 400: the request is malformed (two credentials, a malformed header).
        InvalidRequest = "invalid_request",
        /// 401: expired, revoked, malformed, wrongly signed, or bound to another certificate.
        InvalidToken = "invalid_token",
        /// 403: the token lacks the scope or role the route needs.
        InsufficientScope = "insufficient_scope",
        /// 503: not RFC 6750's but RFC 6749 §4.1.2.1's code for a server that cannot decide
        /// now (the resource server cannot reach the provider's keys).
        TemporarilyUnavailable = "temporarily_unavailable",
        /// 401, RFC 9449 §7.1: the DPoP proof is missing, malformed, stale, replayed, or
        /// not made for this request or this token.
        InvalidDpopProof = "invalid_dpop_proof",
    }
}

/// RFC 6750 §3: `error_description` and `scope` values must not contain `"` or `\`, and only
/// printable ASCII (%x20-21 / %x23-5B / %x5D-7E). `§` is spelled out; anything else becomes
/// `'`, `/` or `?`.
pub fn quoted_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push('\''),
            '\\' => out.push('/'),
            '§' => out.push_str("section "),
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

/// The RFC 6750 §3 challenge: `Bearer realm="…"`, then, when there is a code,
/// `error="…", error_description="…"`, and `scope="…"` when given, every value
/// [`quoted_safe`].
pub fn bearer_challenge(
    realm: &str,
    error: Option<(&BearerError, &str)>,
    scope: Option<&str>,
) -> String {
    let mut value = format!("Bearer realm=\"{}\"", quoted_safe(realm));
    if let Some((code, description)) = error {
        value.push_str(&format!(
            ", error=\"{}\", error_description=\"{}\"",
            quoted_safe(code.as_str()),
            quoted_safe(description)
        ));
    }
    if let Some(scope) = scope {
        value.push_str(&format!(", scope=\"{}\"", quoted_safe(scope)));
    }
    value
}

/// The RFC 9449 §7.1 challenge: `DPoP realm="…"`, then `error="…", error_description="…"`
/// when there is a code, then `algs="…"`, the proof algorithms accepted (every value
/// [`quoted_safe`]).
pub fn dpop_challenge(realm: &str, error: Option<(&BearerError, &str)>, algs: &str) -> String {
    let bearer = bearer_challenge(realm, error, None);
    let params = bearer.strip_prefix("Bearer ").unwrap_or(&bearer);
    format!("DPoP {params}, algs=\"{}\"", quoted_safe(algs))
}

/// The value of `name="…"` in a `WWW-Authenticate` challenge. `error="` also occurs inside
/// `error_description="`: only a match that starts a parameter (at the start, or after a
/// space or a comma) counts.
pub fn challenge_param(challenge: &str, name: &str) -> Option<String> {
    let marker = format!("{name}=\"");
    let start = challenge.match_indices(&marker).find_map(|(i, _)| {
        (i == 0 || matches!(challenge.as_bytes()[i - 1], b' ' | b',')).then_some(i + marker.len())
    })?;
    let rest = &challenge[start..];
    rest.find('"').map(|end| rest[..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_the_wire_and_keep_unknown_ones() {
        for code in [
            "invalid_client",
            "invalid_scope",
            "access_denied",
            "unknown_error",
        ] {
            let parsed = ErrorCode::parse(code);
            assert!(!matches!(parsed, ErrorCode::Other(_)), "{code}");
            assert_eq!(parsed.as_str(), code);
        }
        assert_eq!(
            ErrorCode::parse("slow_down"),
            ErrorCode::Other("slow_down".into())
        );
        let json = serde_json::json!({"error": "invalid_client"});
        let code: ErrorCode = serde_json::from_value(json["error"].clone()).unwrap();
        assert_eq!(code, ErrorCode::InvalidClient);
        assert_eq!(serde_json::to_value(&code).unwrap(), json["error"]);
        assert_eq!(
            BearerError::parse("insufficient_scope"),
            BearerError::InsufficientScope
        );
        assert_eq!(BearerError::InvalidToken.as_str(), "invalid_token");
        assert_eq!(BearerError::InvalidToken.to_string(), "invalid_token");
    }

    #[test]
    fn the_dpop_challenge_has_the_bearer_parameters_and_algs() {
        let c = dpop_challenge(
            "r",
            Some((&BearerError::InvalidDpopProof, "replayed \"proof\"")),
            "ES256 PS256",
        );
        assert_eq!(
            c,
            "DPoP realm=\"r\", error=\"invalid_dpop_proof\", error_description=\"replayed 'proof'\", algs=\"ES256 PS256\""
        );
        assert_eq!(
            challenge_param(&c, "error").as_deref(),
            Some("invalid_dpop_proof")
        );
        assert_eq!(
            dpop_challenge("r", None, "ES256"),
            "DPoP realm=\"r\", algs=\"ES256\""
        );
    }

    #[test]
    fn the_challenge_is_written_and_read_with_one_quoting_rule() {
        let c = bearer_challenge(
            "r",
            Some((
                &BearerError::InvalidToken,
                "issuer \"x\" is wrong\\ (RFC 8705 §3) é",
            )),
            Some("users:read"),
        );
        assert_eq!(
            c,
            "Bearer realm=\"r\", error=\"invalid_token\", error_description=\"issuer 'x' is wrong/ (RFC 8705 section 3) ?\", scope=\"users:read\""
        );
        assert_eq!(
            challenge_param(&c, "error").as_deref(),
            Some("invalid_token")
        );
        assert_eq!(challenge_param(&c, "scope").as_deref(), Some("users:read"));
        assert!(
            challenge_param(&c, "error_description")
                .unwrap()
                .starts_with("issuer 'x'")
        );
        assert_eq!(bearer_challenge("r", None, None), "Bearer realm=\"r\"");
        assert_eq!(challenge_param("Bearer realm=\"r\"", "error"), None);
    }
}
