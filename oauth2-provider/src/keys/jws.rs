//! Signing and verifying the realm's tokens: RFC 7515 compact JWS with Keycloak's header
//! bytes (`JWSBuilder`), by algorithm (RS, PS, ES and HS with 256, 384 or 512, and EdDSA
//! with Ed25519), and which algorithm a client's tokens of each kind get
//! (`DefaultTokenManager#signatureAlgorithm`).

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as sig, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::{KeyError, KeyUse, Material, RealmKey, RealmKeys, err};
use crate::store::{Client, Realm};

/// Signature algorithms this provider signs and verifies with (Keycloak's
/// `id_token_signing_alg_values_supported`; EdDSA with Ed25519 only).
pub const SUPPORTED_SIGNATURE_ALGS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "HS256",
    "HS384", "HS512", "EdDSA",
];

pub(super) fn ec_signing(alg: &str) -> Option<&'static sig::EcdsaSigningAlgorithm> {
    match alg {
        "ES256" => Some(&sig::ECDSA_P256_SHA256_FIXED_SIGNING),
        "ES384" => Some(&sig::ECDSA_P384_SHA384_FIXED_SIGNING),
        "ES512" => Some(&sig::ECDSA_P521_SHA512_FIXED_SIGNING),
        _ => None,
    }
}

pub(super) fn hmac_alg(alg: &str) -> Option<aws_lc_rs::hmac::Algorithm> {
    match alg {
        "HS256" => Some(aws_lc_rs::hmac::HMAC_SHA256),
        "HS384" => Some(aws_lc_rs::hmac::HMAC_SHA384),
        "HS512" => Some(aws_lc_rs::hmac::HMAC_SHA512),
        _ => None,
    }
}

/// The RSA signature algorithms: how to sign, and how to verify.
pub(super) fn rsa_alg(
    alg: &str,
) -> Option<(&'static dyn sig::RsaEncoding, &'static sig::RsaParameters)> {
    Some(match alg {
        "RS256" => (&sig::RSA_PKCS1_SHA256, &sig::RSA_PKCS1_2048_8192_SHA256),
        "RS384" => (&sig::RSA_PKCS1_SHA384, &sig::RSA_PKCS1_2048_8192_SHA384),
        "RS512" => (&sig::RSA_PKCS1_SHA512, &sig::RSA_PKCS1_2048_8192_SHA512),
        "PS256" => (&sig::RSA_PSS_SHA256, &sig::RSA_PSS_2048_8192_SHA256),
        "PS384" => (&sig::RSA_PSS_SHA384, &sig::RSA_PSS_2048_8192_SHA384),
        "PS512" => (&sig::RSA_PSS_SHA512, &sig::RSA_PSS_2048_8192_SHA512),
        _ => return None,
    })
}

impl RealmKey {
    /// Signs `claims` as a JWS compact token with Keycloak's header bytes
    /// (`JWSBuilder#encodeHeader`: `{"alg":"<alg>","typ" : "JWT","kid" : "<kid>"}`).
    pub fn sign(&self, claims: &Value) -> Result<String, KeyError> {
        let header = format!(
            r#"{{"alg":"{}","typ" : "JWT","kid" : "{}"}}"#,
            self.alg, self.kid
        );
        let payload = serde_json::to_vec(claims).map_err(|e| err(e.to_string()))?;
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let signature = self.sign_bytes(input.as_bytes())?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }

    fn sign_bytes(&self, input: &[u8]) -> Result<Vec<u8>, KeyError> {
        let alg = self.alg.as_str();
        match &self.material {
            Material::Rsa(pair) => {
                let (encoding, _) = rsa_alg(alg).ok_or_else(|| err(format!("{alg} with RSA")))?;
                let mut out = vec![0u8; pair.public_modulus_len()];
                pair.sign(encoding, &SystemRandom::new(), input, &mut out)
                    .map_err(|_| err(format!("{alg} signature")))?;
                Ok(out)
            }
            Material::Ec(pair) => pair
                .sign(&SystemRandom::new(), input)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| err(format!("{alg} signature"))),
            Material::Ed(pair) => Ok(pair.sign(input).as_ref().to_vec()),
            Material::Hmac(secret) => {
                let h = hmac_alg(alg).ok_or_else(|| err(format!("{alg} with HMAC")))?;
                let key = aws_lc_rs::hmac::Key::new(h, secret);
                Ok(aws_lc_rs::hmac::sign(&key, input).as_ref().to_vec())
            }
        }
    }

    fn verify_bytes(&self, input: &[u8], signature: &[u8]) -> bool {
        let alg = self.alg.as_str();
        match &self.material {
            Material::Rsa(pair) => rsa_alg(alg).is_some_and(|(_, p)| {
                sig::UnparsedPublicKey::new(p, pair.public_key().as_ref())
                    .verify(input, signature)
                    .is_ok()
            }),
            Material::Ec(pair) => {
                let p: &'static sig::EcdsaVerificationAlgorithm = match alg {
                    "ES256" => &sig::ECDSA_P256_SHA256_FIXED,
                    "ES384" => &sig::ECDSA_P384_SHA384_FIXED,
                    "ES512" => &sig::ECDSA_P521_SHA512_FIXED,
                    _ => return false,
                };
                sig::UnparsedPublicKey::new(p, pair.public_key().as_ref())
                    .verify(input, signature)
                    .is_ok()
            }
            Material::Ed(pair) => {
                alg == "EdDSA"
                    && sig::UnparsedPublicKey::new(&sig::ED25519, pair.public_key().as_ref())
                        .verify(input, signature)
                        .is_ok()
            }
            Material::Hmac(secret) => hmac_alg(alg).is_some_and(|h| {
                aws_lc_rs::hmac::verify(&aws_lc_rs::hmac::Key::new(h, secret), input, signature)
                    .is_ok()
            }),
        }
    }
}

impl RealmKeys {
    /// Signs `claims` with the active key for `alg`.
    pub fn sign(&self, alg: &str, claims: &Value) -> Result<String, KeyError> {
        self.active(alg)?.sign(claims)
    }

    /// Verifies a token signed by one of this realm's enabled keys (active or passive),
    /// chosen by the header's `kid` and `alg`, and returns its claims.
    pub fn verify(&self, token: &str) -> Option<Value> {
        let mut parts = token.split('.');
        let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
        let alg = header.get("alg")?.as_str()?;
        let kid = header.get("kid").and_then(Value::as_str);
        let signature = URL_SAFE_NO_PAD.decode(s).ok()?;
        let input = format!("{h}.{p}");
        let ok = self.snapshot().iter().any(|k| {
            k.enabled
                && k.use_ == KeyUse::Sig
                && k.alg == alg
                && kid.is_none_or(|kid| kid == k.kid)
                && k.verify_bytes(input.as_bytes(), &signature)
        });
        if !ok {
            return None;
        }
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()
    }

    /// The checks every consumer of this realm's access tokens makes first (the admin API's
    /// `AppAuthManager` and introspection's `TokenVerifier`): a signature by a realm key,
    /// `iss` equal to `expected_issuer`, not expired. `Err` names the failed check.
    pub fn verify_access_token(
        &self,
        token: &str,
        expected_issuer: &str,
    ) -> Result<Map<String, Value>, &'static str> {
        let Some(Value::Object(claims)) = self.verify(token) else {
            return Err("bad signature or not a JWT");
        };
        if claims.get("iss").and_then(Value::as_str) != Some(expected_issuer) {
            return Err("issuer is not this server's issuer for the realm");
        }
        if claims
            .get("exp")
            .and_then(Value::as_i64)
            .is_none_or(|e| e <= crate::clock::now())
        {
            return Err("expired");
        }
        Ok(claims)
    }
}

/// The algorithm a client's tokens of one kind are signed with: the client attribute
/// `attribute` when set, else the realm's `defaultSignatureAlgorithm`
/// (`DefaultTokenManager#signatureAlgorithm`).
fn client_alg<'a>(realm: &'a Realm, client: &'a Client, attribute: &str) -> &'a str {
    client
        .attribute(attribute)
        .filter(|a| !a.is_empty())
        .unwrap_or(&realm.default_signature_algorithm)
}

/// Access tokens (`TokenCategory.ACCESS`): `access.token.signed.response.alg`.
pub fn access_token_alg<'a>(realm: &'a Realm, client: &'a Client) -> &'a str {
    client_alg(realm, client, "access.token.signed.response.alg")
}

/// ID tokens (`TokenCategory.ID`): `id.token.signed.response.alg`.
pub fn id_token_alg<'a>(realm: &'a Realm, client: &'a Client) -> &'a str {
    client_alg(realm, client, "id.token.signed.response.alg")
}

/// `Constants.INTERNAL_SIGNATURE_ALGORITHM`: refresh tokens (`TokenCategory.INTERNAL`) are
/// signed with the realm's HMAC key.
pub const INTERNAL_SIGNATURE_ALG: &str = "HS512";

/// The hash behind `at_hash` for an ID token signed with `alg`
/// (`TokenManager#generateOIDCHash`: the signature algorithm's hash, left half).
pub fn oidc_hash(alg: &str, input: &[u8]) -> String {
    let digest = match &alg[alg.len().saturating_sub(3)..] {
        "384" => &aws_lc_rs::digest::SHA384,
        "512" => &aws_lc_rs::digest::SHA512,
        _ => &aws_lc_rs::digest::SHA256,
    };
    let d = aws_lc_rs::digest::digest(digest, input);
    URL_SAFE_NO_PAD.encode(&d.as_ref()[..d.as_ref().len() / 2])
}

/// Warns, naming the client and attribute, about each signature algorithm a client asks
/// for that this provider cannot sign with (Keycloak would fail the token request).
pub fn warn_unsupported_algs(realm: &Realm) {
    let check = |what: &str, alg: &str| {
        if !SUPPORTED_SIGNATURE_ALGS.contains(&alg) {
            tracing::warn!(
                "realm '{}': {what} = '{alg}' is not supported by this provider (see README: \"Not supported\"); tokens that need it fail with a server error",
                realm.name
            );
        }
    };
    check(
        "defaultSignatureAlgorithm",
        &realm.default_signature_algorithm,
    );
    for c in &realm.clients {
        for attr in [
            "access.token.signed.response.alg",
            "id.token.signed.response.alg",
        ] {
            if let Some(alg) = c.attribute(attr).filter(|a| !a.is_empty()) {
                check(&format!("client '{}' attribute {attr}", c.client_id), alg);
            }
        }
    }
}
