//! The access token's claims as this server reads them: the registered JWT claims
//! ([RFC 7519 §4.1]), the access-token profile of [RFC 9068] (`client_id`, `roles`, `scope`),
//! Keycloak's own (`azp`, `typ`, `realm_access.roles`) and the RFC 8705 `cnf`. Unknown
//! claims are ignored. Steps 3 to 5 of the [pipeline](super) read them; nothing
//! here checks anything.
//!
//! [RFC 7519 §4.1]: https://www.rfc-editor.org/rfc/rfc7519#section-4.1
//! [RFC 9068]: https://www.rfc-editor.org/rfc/rfc9068#section-2.2

use serde::{Deserialize, Deserializer, Serialize};

/// The claims this server reads. Unknown claims are ignored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    // `iss` and `exp` default when absent so that the check that requires them (in
    // `jsonwebtoken::decode`) reports the missing claim by name.
    #[serde(default)]
    pub iss: String,
    #[serde(default)]
    pub sub: Option<String>,
    /// `aud` may be a string or an array (RFC 7519 §4.1.3); always a list here.
    #[serde(default, deserialize_with = "string_or_list")]
    pub aud: Vec<String>,
    #[serde(default, deserialize_with = "numeric_date")]
    pub exp: u64,
    #[serde(default, deserialize_with = "optional_numeric_date")]
    pub nbf: Option<u64>,
    #[serde(default, deserialize_with = "optional_numeric_date")]
    pub iat: Option<u64>,
    #[serde(default)]
    pub jti: Option<String>,
    /// Keycloak: `Bearer` for access tokens (`DPoP` for DPoP-bound ones), `ID` for ID tokens,
    /// `Refresh` for refresh tokens.
    #[serde(default)]
    pub typ: Option<String>,
    /// The client the token was issued to (OIDC; Keycloak sets it).
    #[serde(default)]
    pub azp: Option<String>,
    /// The client the token was issued to (RFC 9068 §2.2).
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub realm_access: Option<RealmAccess>,
    /// RFC 9068 §7.2.1.1 (SCIM-style) roles, for providers that are not Keycloak.
    #[serde(default)]
    pub roles: Option<Vec<String>>,
    /// The confirmation: the certificate (RFC 8705 §3.1 `x5t#S256`) and/or the DPoP key
    /// (RFC 9449 §6.1 `jkt`) the token is bound to.
    #[serde(default)]
    pub cnf: Option<Confirmation>,
    #[serde(default)]
    pub preferred_username: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RealmAccess {
    #[serde(default)]
    pub roles: Vec<String>,
}

pub use playbook::rfc8705::Confirmation;

impl Claims {
    /// The client the token was issued to: `azp`, else `client_id`.
    pub fn client(&self) -> Option<&str> {
        self.azp.as_deref().or(self.client_id.as_deref())
    }

    /// Realm roles: Keycloak's `realm_access.roles` plus RFC 9068 `roles`.
    pub fn roles(&self) -> Vec<&str> {
        let realm = self.realm_access.iter().flat_map(|r| r.roles.iter());
        let plain = self.roles.iter().flatten();
        realm.chain(plain).map(String::as_str).collect()
    }

    /// The granted scopes: the `scope` claim split on spaces (RFC 6749 §3.3).
    pub fn scopes(&self) -> Vec<&str> {
        scopes_of(self.scope.as_deref())
    }

    pub fn has_role(&self, role: &str) -> bool {
        let realm = self.realm_access.iter().flat_map(|r| r.roles.iter());
        realm.chain(self.roles.iter().flatten()).any(|r| r == role)
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        has_scope(self.scope.as_deref(), scope)
    }

    pub fn bound_thumbprint(&self) -> Option<&str> {
        self.cnf.as_ref().and_then(|c| c.x5t_s256.as_deref())
    }

    /// `cnf.jkt`: the RFC 7638 thumbprint of the DPoP key the token is bound to (RFC 9449 §6.1).
    pub fn bound_jkt(&self) -> Option<&str> {
        self.cnf.as_ref().and_then(|c| c.jkt.as_deref())
    }
}

/// RFC 6749 §3.3: `scope = scope-token *( SP scope-token )`.
pub fn scopes_of(scope: Option<&str>) -> Vec<&str> {
    scope
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect()
}

/// Exact match of one scope token: `users:read` is not granted by `users:readonly` nor by
/// `admin users:read:all`.
pub fn has_scope(scope: Option<&str>, wanted: &str) -> bool {
    scopes_of(scope).contains(&wanted)
}

/// NumericDate (RFC 7519 §2): seconds, possibly fractional.
fn numeric_date<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    n.as_u64()
        .or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| f as u64)
        })
        .ok_or_else(|| serde::de::Error::custom("a NumericDate must be a non-negative number"))
}

pub(super) fn optional_numeric_date<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<u64>, D::Error> {
    numeric_date(d).map(Some)
}

fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_match_exactly_never_by_substring() {
        assert!(has_scope(Some("profile users:read email"), "users:read"));
        assert!(has_scope(Some("users:read"), "users:read"));
        assert!(!has_scope(Some("users:readonly"), "users:read"));
        assert!(!has_scope(Some("admin:users:read"), "users:read"));
        assert!(!has_scope(Some("users:read:all profile"), "users:read"));
        assert!(!has_scope(Some("users"), "users:read"));
        assert!(!has_scope(Some(""), "users:read"));
        assert!(!has_scope(None, "users:read"));
        // Scope tokens are case-sensitive (RFC 6749 §3.3).
        assert!(!has_scope(Some("USERS:READ"), "users:read"));
        assert_eq!(scopes_of(Some("a  b ")), ["a", "b"]);
    }

    #[test]
    fn claims_read_keycloak_and_rfc9068_shapes() {
        let claims: Claims = serde_json::from_value(serde_json::json!({
            "iss": "i", "exp": 1.5e9, "aud": "account", "typ": "Bearer",
            "realm_access": {"roles": ["a"]}, "roles": ["b"],
            "cnf": {"x5t#S256": "t"}, "client_id": "c", "scope": "x y"
        }))
        .unwrap();
        assert_eq!(claims.exp, 1_500_000_000);
        assert_eq!(claims.aud, ["account"]);
        assert_eq!(claims.roles(), ["a", "b"]);
        assert_eq!(claims.client(), Some("c"));
        assert_eq!(claims.bound_thumbprint(), Some("t"));
        assert!(claims.has_scope("y") && !claims.has_scope("x y"));
    }
}
