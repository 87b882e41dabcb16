//! RFC 7523 §2.2 client authentication with a signed JWT (OpenID Connect Core §9
//! `private_key_jwt`), in one place for the client and the provider.
//!
//! - the client signs an [assertion](AssertionKey::assertion) with its private key for each
//!   token request and sends it as `client_assertion`, with `client_assertion_type`
//!   [`ASSERTION_TYPE`]; nothing secret travels, and the key never leaves the client;
//! - the provider checks it against the public key it has registered for the client (a
//!   certificate or a JWKS) and refuses a `jti` it has seen before ([`JtiCache`]).
//!
//! The assertion's claims are those Keycloak 26.7.5 requires (observed on the live server,
//! `oauth2-provider/tests/scenarios/client_jwt.rs`): `iss` = `sub` = the `client_id`, one
//! `aud` (the issuer), `exp`, `iat` (without it `exp` may be at most 60 s away), and a
//! fresh `jti`.
//!
//! [RFC 7523]: https://www.rfc-editor.org/rfc/rfc7523#section-2.2

use std::collections::HashMap;
use std::sync::Mutex;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// The form's `client_assertion_type` (RFC 7523 §2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The RFC 8414 name of the method (`token_endpoint_auth_methods_supported`).
pub const METHOD: &str = "private_key_jwt";
/// How long an assertion this client makes is valid: Keycloak accepts an `iat` at most
/// 60 s old, so a longer `exp` buys nothing.
pub const LIFETIME_SECS: u64 = 60;

/// A key the client signs its assertions with: RSA (RS256), ECDSA P-256 (ES256) or
/// Ed25519 (EdDSA), the algorithm Keycloak verifies a key of that type with when it is
/// registered as a certificate.
pub struct AssertionKey(Kind);

enum Kind {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

impl std::fmt::Debug for AssertionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AssertionKey({}, [redacted])", self.alg())
    }
}

/// A private key that is not one an assertion can be signed with.
#[derive(Debug, thiserror::Error)]
#[error("not an RSA, ECDSA P-256 or Ed25519 PKCS#8 private key")]
pub struct KeyError;

impl AssertionKey {
    /// From a PKCS#8 private key (DER), its type read from the key itself.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        if let Ok(k) = RsaKeyPair::from_pkcs8(der) {
            Ok(AssertionKey(Kind::Rsa(k)))
        } else if let Ok(k) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der) {
            Ok(AssertionKey(Kind::Ec(k)))
        } else if let Ok(k) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
            Ok(AssertionKey(Kind::Ed(k)))
        } else {
            Err(KeyError)
        }
    }

    /// The JOSE `alg` its signatures are made with.
    pub fn alg(&self) -> &'static str {
        match self.0 {
            Kind::Rsa(_) => "RS256",
            Kind::Ec(_) => "ES256",
            Kind::Ed(_) => "EdDSA",
        }
    }

    /// The public key as a JWK (RFC 7517; no `kid`, `use` or `alg`): what a JWKS registered
    /// for the client (`jwks.string`) holds.
    pub fn public_jwk(&self) -> Value {
        use aws_lc_rs::signature::KeyPair as _;
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        match &self.0 {
            Kind::Rsa(k) => json!({
                "kty": "RSA",
                "n": b64(k.public_key().modulus().big_endian_without_leading_zero()),
                "e": b64(k.public_key().exponent().big_endian_without_leading_zero()),
            }),
            Kind::Ec(k) => {
                let point = k.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65])})
            }
            Kind::Ed(k) => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(k.public_key().as_ref())})
            }
        }
    }

    /// A compact JWS of `header` and `claims` signed with this key's [`alg`](Self::alg),
    /// whatever `header` says (a test may claim another algorithm).
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = match &self.0 {
            Kind::Rsa(k) => {
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    input.as_bytes(),
                    &mut sig,
                )
                .expect("RSA signing");
                sig
            }
            Kind::Ec(k) => k
                .sign(&SystemRandom::new(), input.as_bytes())
                .expect("ECDSA signing")
                .as_ref()
                .to_vec(),
            Kind::Ed(k) => k.sign(input.as_bytes()).as_ref().to_vec(),
        };
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// An assertion for `client_id` at `audience` (the issuer), made at `now` (seconds since
    /// the epoch), valid [`LIFETIME_SECS`], with a random `jti`.
    pub fn assertion(&self, client_id: &str, audience: &str, now: u64) -> String {
        self.sign(
            &json!({"alg": self.alg(), "typ": "JWT"}),
            &json!({
                "iss": client_id,
                "sub": client_id,
                "aud": audience,
                "exp": now + LIFETIME_SECS,
                "iat": now,
                "jti": random_id(),
            }),
        )
    }
}

/// 128 random bits, as a UUID-shaped string: an assertion's `jti` (and the provider's
/// secure ids, Keycloak's `SecretGenerator#generateSecureID`).
pub fn random_id() -> String {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).expect("system randomness");
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Why [`JtiCache::check`] refused a `jti`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reuse {
    /// Seen before and still remembered.
    Replayed,
    /// Full of `jti`s still live: refused rather than a live one forgotten.
    Full,
}

/// The `jti`s of accepted assertions, each remembered until its assertion's `exp` (as
/// Keycloak's single-use store keeps it), at most `capacity` of them. The key is the `jti`
/// alone: Keycloak refuses a `jti` another client used (observed).
#[derive(Debug)]
pub struct JtiCache {
    capacity: usize,
    seen: Mutex<HashMap<String, u64>>,
}

impl JtiCache {
    pub fn new(capacity: usize) -> Self {
        JtiCache {
            capacity,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Remembers `jti` until `expiry`, or says it was seen before.
    pub fn check(&self, jti: &str, expiry: u64, now: u64) -> Result<(), Reuse> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.get(jti).is_some_and(|&until| until >= now) {
            return Err(Reuse::Replayed);
        }
        if seen.len() >= self.capacity {
            seen.retain(|_, until| *until >= now);
            if seen.len() >= self.capacity {
                return Err(Reuse::Full);
            }
        }
        seen.insert(jti.to_owned(), expiry);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jti_is_refused_while_remembered_and_the_cache_is_bounded() {
        let cache = JtiCache::new(2);
        assert_eq!(cache.check("a", 110, 100), Ok(()));
        assert_eq!(cache.check("a", 120, 105), Err(Reuse::Replayed));
        assert_eq!(cache.check("b", 110, 100), Ok(()));
        assert_eq!(cache.check("c", 110, 100), Err(Reuse::Full));
        // Once both have expired, room again, and "a" is new.
        assert_eq!(cache.check("c", 130, 111), Ok(()));
        assert_eq!(cache.check("a", 130, 111), Ok(()));
    }

    /// The claims of every key type's assertion, decoded; a fresh `jti` each time.
    #[test]
    fn assertions_carry_the_claims_keycloak_requires() {
        use crate::pki::KeyType;
        use base64::Engine as _;
        for key_type in [KeyType::Rsa2048, KeyType::EcdsaP256, KeyType::Ed25519] {
            let pair = key_type.generate().expect("key");
            let key = AssertionKey::from_pkcs8_der(&pair.serialize_der()).expect("a key");
            let jwt = key.assertion("c", "https://i", 1000);
            let part = |i: usize| -> serde_json::Value {
                let b = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(jwt.split('.').nth(i).expect("three parts"))
                    .expect("base64url");
                serde_json::from_slice(&b).expect("JSON")
            };
            assert_eq!(part(0)["alg"], key.alg(), "{key_type:?}");
            let claims = part(1);
            assert_eq!(claims["iss"], "c");
            assert_eq!(claims["sub"], "c");
            assert_eq!(claims["aud"], "https://i");
            assert_eq!(claims["exp"], 1060);
            assert_eq!(claims["iat"], 1000);
            assert_ne!(
                key.assertion("c", "https://i", 1000),
                jwt,
                "a fresh jti each time"
            );
        }
        assert!(AssertionKey::from_pkcs8_der(b"not a key").is_err());
    }
}
