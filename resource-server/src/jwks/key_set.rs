//! One fetched JWK Set ([RFC 7517 §5]) reduced to the keys a token may be verified with,
//! and the choice of the key for a token (`kid`, else the only key that fits its `alg`).
//! Only **signature keys of asymmetric algorithms** are kept: entries with `use` other than
//! `sig` (Keycloak publishes an `RSA-OAEP` encryption key next to its `RS256` one), without
//! `verify` in `key_ops`, symmetric (`oct`) keys and unknown algorithms are skipped, each
//! with the reason in the log. When and how often the set is fetched is [`super::KeyStore`]'s.
//!
//! [RFC 7517 §5]: https://www.rfc-editor.org/rfc/rfc7517#section-5

use std::sync::Arc;
use std::time::SystemTime;

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use serde::Deserialize;

use crate::discovery::DiscoveryError;

/// The algorithms a token may be signed with: asymmetric only. `none` and the HMAC family
/// are absent on purpose (a resource server holds no shared secret, and accepting HS256
/// "signed" with the public key is the classic key-confusion forgery). The same list as
/// for DPoP proofs (RFC 9449 §4.3 item 5), kept once in `playbook::rfc9449`.
pub const ALLOWED_ALGORITHMS: &[Algorithm] = &playbook::rfc9449::ALGORITHMS;

/// One verification key from the JWKS.
#[derive(Debug)]
pub struct VerifyKey {
    pub kid: Option<String>,
    /// The JWK's `alg`, when it names one: tokens must then use exactly that algorithm.
    pub alg: Option<Algorithm>,
    pub family: AlgorithmFamily,
    pub key: DecodingKey,
}

impl VerifyKey {
    fn fits(&self, alg: Algorithm) -> bool {
        self.family == alg.family() && self.alg.is_none_or(|a| a == alg)
    }
}

/// The usable keys of one fetch.
#[derive(Debug)]
pub struct KeySet {
    pub jwks_uri: String,
    pub keys: Vec<Arc<VerifyKey>>,
    /// When the fetch that produced this set started: every key the provider published
    /// before then is in it.
    pub fetched_at: SystemTime,
}

#[derive(Debug, Deserialize)]
struct RawJwks {
    keys: Vec<serde_json::Value>,
}

impl KeySet {
    /// Keeps the signature keys we can verify with; says why each other entry was skipped.
    pub fn parse(jwks_uri: &str, body: serde_json::Value) -> Result<KeySet, DiscoveryError> {
        let raw: RawJwks = serde_json::from_value(body).map_err(|e| DiscoveryError::BadJson {
            url: jwks_uri.to_owned(),
            detail: e.to_string(),
        })?;
        let mut keys = Vec::new();
        let mut skipped = Vec::new();
        for entry in raw.keys {
            let kid = entry.get("kid").and_then(|k| k.as_str()).map(str::to_owned);
            match usable_key(entry) {
                Ok(key) => {
                    tracing::debug!(kid = ?key.kid, alg = ?key.alg, "JWKS: signature key loaded");
                    keys.push(Arc::new(key));
                }
                Err(reason) => {
                    tracing::debug!(?kid, "JWKS: key skipped: {reason}");
                    skipped.push(format!("kid {kid:?}: {reason}"));
                }
            }
        }
        if keys.is_empty() {
            return Err(DiscoveryError::NoUsableKeys {
                url: jwks_uri.to_owned(),
                skipped: if skipped.is_empty() {
                    "the set is empty".to_owned()
                } else {
                    skipped.join("; ")
                },
            });
        }
        Ok(KeySet {
            jwks_uri: jwks_uri.to_owned(),
            keys,
            fetched_at: SystemTime::now(),
        })
    }

    /// The key for a token's `kid` and `alg`. A token without `kid` is accepted only when
    /// exactly one key fits its algorithm (single-key providers may omit `kid`).
    pub(super) fn find(&self, kid: Option<&str>, alg: Algorithm) -> Option<Arc<VerifyKey>> {
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid))
                .cloned(),
            None => {
                let mut fitting = self.keys.iter().filter(|k| k.fits(alg));
                match (fitting.next(), fitting.next()) {
                    (Some(only), None) => Some(only.clone()),
                    _ => None,
                }
            }
        }
    }

    pub fn kids(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| k.kid.clone().unwrap_or_else(|| "(no kid)".to_owned()))
            .collect()
    }
}

/// Turns one JWK into a verification key, or says why it cannot be one.
fn usable_key(entry: serde_json::Value) -> Result<VerifyKey, String> {
    if let Some(usage) = entry.get("use").and_then(|u| u.as_str())
        && usage != "sig"
    {
        return Err(format!("use is {usage:?}, not \"sig\""));
    }
    if let Some(ops) = entry.get("key_ops").and_then(|o| o.as_array())
        && !ops.iter().any(|op| op.as_str() == Some("verify"))
    {
        return Err("key_ops does not include \"verify\"".to_owned());
    }
    if entry.get("kty").and_then(|k| k.as_str()) == Some("oct") {
        return Err("symmetric (oct) keys are never accepted".to_owned());
    }
    let alg = match entry.get("alg").and_then(|a| a.as_str()) {
        None => None,
        Some(name) => {
            let alg: Algorithm = name
                .parse()
                .map_err(|_| format!("alg {name:?} is not a signature algorithm we accept"))?;
            if !ALLOWED_ALGORITHMS.contains(&alg) {
                return Err(format!(
                    "alg {name:?} is not an asymmetric signature algorithm"
                ));
            }
            Some(alg)
        }
    };
    let jwk: Jwk = serde_json::from_value(entry).map_err(|e| format!("not a valid JWK: {e}"))?;
    let family = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => AlgorithmFamily::Rsa,
        AlgorithmParameters::EllipticCurve(_) => AlgorithmFamily::Ec,
        AlgorithmParameters::OctetKeyPair(_) => AlgorithmFamily::Ed,
        _ => {
            return Err("unsupported key type".to_owned());
        }
    };
    if let Some(alg) = alg
        && alg.family() != family
    {
        return Err(format!("alg {alg:?} does not match the key type"));
    }
    let key = DecodingKey::from_jwk(&jwk).map_err(|e| format!("unusable key material: {e}"))?;
    Ok(VerifyKey {
        kid: jwk.common.key_id.clone(),
        alg,
        family,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // A real 2048-bit modulus is not needed to test the filtering: `from_jwk` only
    // base64-decodes n and e.
    fn rsa(kid: &str, extra: serde_json::Value) -> serde_json::Value {
        let mut key = json!({"kid": kid, "kty": "RSA", "n": "sXch", "e": "AQAB"});
        key.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        key
    }

    #[test]
    fn keeps_signature_keys_and_skips_the_rest() {
        let jwks = json!({"keys": [
            rsa("sig", json!({"alg": "RS256", "use": "sig"})),
            rsa("enc", json!({"alg": "RSA-OAEP", "use": "enc"})),
            {"kid": "hmac", "kty": "oct", "k": "c2VjcmV0", "alg": "HS256"},
            rsa("hs-labelled", json!({"alg": "HS256"})),
            rsa("no-alg", json!({})),
            {"kid": "weird", "kty": "XYZ"},
        ]});
        let set = KeySet::parse("https://p/certs", jwks).unwrap();
        assert_eq!(set.kids(), ["sig", "no-alg"]);
    }

    #[test]
    fn a_set_without_usable_keys_is_an_error_that_says_why() {
        let jwks = json!({"keys": [rsa("enc", json!({"use": "enc"}))]});
        let err = KeySet::parse("https://p/certs", jwks).unwrap_err();
        assert!(err.to_string().contains("use is \"enc\""), "{err}");
    }

    #[test]
    fn a_token_without_kid_needs_exactly_one_fitting_key() {
        let one = KeySet::parse("u", json!({"keys": [rsa("a", json!({"alg": "RS256"}))]})).unwrap();
        assert!(one.find(None, Algorithm::RS256).is_some());
        assert!(
            one.find(None, Algorithm::PS256).is_none(),
            "alg pinned by the JWK"
        );
        let two = KeySet::parse(
            "u",
            json!({"keys": [rsa("a", json!({})), rsa("b", json!({}))]}),
        )
        .unwrap();
        assert!(two.find(None, Algorithm::RS256).is_none());
        assert!(two.find(Some("b"), Algorithm::RS256).is_some());
    }
}
