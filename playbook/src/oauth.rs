//! The wire error codes, as enums: every crate matches on these, never on a string literal
//! or on a server's English description.
//!
//! - [`ErrorCode`]: RFC 6749 §5.2, the token endpoint's `{"error": "…"}`, plus the codes
//!   Keycloak adds on the paths the playground touches.
//! - [`BearerError`]: RFC 6750 §3.1, the resource server's `WWW-Authenticate: Bearer error="…"`.
//!
//! Both keep a code they do not know ([`ErrorCode::Other`], [`BearerError::Other`]) verbatim,
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

        impl From<&str> for $name {
            fn from(code: &str) -> Self {
                Self::parse(code)
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
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
    }
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
        assert_eq!(BearerError::InvalidToken, "invalid_token");
        assert_eq!(BearerError::InvalidToken.to_string(), "invalid_token");
    }
}
