//! The realm keys: an RS256 signing key and an RSA-OAEP encryption key per realm, generated
//! at start as Keycloak's `rsa-generated` and `rsa-enc-generated` providers do, each with a
//! self-signed certificate (`CN=<realm>`) so the JWKS carries `x5c`, `x5t`, `x5t#S256`.
//!
//! `GET /realms/{realm}/protocol/openid-connect/certs` (RFC 7517).

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};

use crate::Provider;
use crate::error::OAuthError;

/// One RSA key with its Keycloak metadata.
pub struct RsaKey {
    pair: RsaKeyPair,
    pub kid: String,
    pub alg: &'static str,
    pub use_: &'static str,
    cert_der: Vec<u8>,
}

impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("generating the realm's RSA key failed: {0}")]
pub struct KeyError(String);

impl RsaKey {
    fn generate(realm: &str, alg: &'static str, use_: &'static str) -> Result<RsaKey, KeyError> {
        let e = |what: &str| KeyError(what.to_owned());
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| e("RSA-2048 keygen"))?;
        let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
            .map_err(|_| e("PKCS#8 export"))?;
        let spki = AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(pair.public_key())
            .map_err(|_| e("SPKI export"))?;
        // KeyUtils#createKeyId: base64url(SHA-256(SubjectPublicKeyInfo DER)).
        let kid = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            spki.as_ref(),
        ));
        // AbstractRsaKeyProvider / CertificateUtils#generateV1SelfSignedCertificate:
        // a self-signed certificate with subject CN=<realm name>.
        let cert_der = {
            let der = rustls_pki_types::PrivatePkcs8KeyDer::from(pkcs8.as_ref().to_vec());
            let key = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_RSA_SHA256)
                .map_err(|err| KeyError(format!("certificate key: {err}")))?;
            let mut params = rcgen::CertificateParams::default();
            params.distinguished_name = rcgen::DistinguishedName::new();
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, realm);
            params.not_before = time::OffsetDateTime::now_utc() - time::Duration::minutes(1);
            params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(3650);
            params
                .self_signed(&key)
                .map_err(|err| KeyError(format!("certificate: {err}")))?
                .der()
                .to_vec()
        };
        Ok(RsaKey {
            pair,
            kid,
            alg,
            use_,
            cert_der,
        })
    }

    /// The JWK as `JWKBuilder#rsa` writes it (field order `kid, kty, alg, use, x5c, x5t,
    /// x5t#S256, n, e`).
    pub fn jwk(&self) -> Value {
        let public = self.pair.public_key();
        let n = URL_SAFE_NO_PAD
            .encode(public_component(public.as_ref(), Component::Modulus).unwrap_or_default());
        let e = URL_SAFE_NO_PAD
            .encode(public_component(public.as_ref(), Component::Exponent).unwrap_or_default());
        let sha1 =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &self.cert_der);
        let sha256 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &self.cert_der);
        json!({
            "kid": self.kid,
            "kty": "RSA",
            "alg": self.alg,
            "use": self.use_,
            "x5c": [STANDARD.encode(&self.cert_der)],
            "x5t": URL_SAFE_NO_PAD.encode(sha1),
            "x5t#S256": URL_SAFE_NO_PAD.encode(sha256),
            "n": n,
            "e": e,
        })
    }

    /// Signs `claims` as a JWS compact token with Keycloak's header bytes
    /// (`JWSBuilder#encodeHeader`: `{"alg":"RS256","typ" : "JWT","kid" : "<kid>"}`).
    pub fn sign(&self, claims: &Value) -> Result<String, KeyError> {
        let header = format!(r#"{{"alg":"RS256","typ" : "JWT","kid" : "{}"}}"#, self.kid);
        let payload = serde_json::to_vec(claims).map_err(|e| KeyError(e.to_string()))?;
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut sig,
            )
            .map_err(|_| KeyError("RS256 signature".into()))?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }

    /// Verifies an RS256 token signed by this key and returns its claims.
    pub fn verify(&self, token: &str) -> Option<Value> {
        let mut parts = token.split('.');
        let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
        if header.get("alg")?.as_str()? != "RS256" {
            return None;
        }
        let sig = URL_SAFE_NO_PAD.decode(s).ok()?;
        let public = aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
            self.pair.public_key().as_ref(),
        );
        public.verify(format!("{h}.{p}").as_bytes(), &sig).ok()?;
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()
    }
}

enum Component {
    Modulus,
    Exponent,
}

/// Reads n or e from a PKCS#1 `RSAPublicKey` DER (what `RsaKeyPair::public_key` returns),
/// unsigned big-endian without leading zeros (Keycloak's `toIntegerBytes`).
fn public_component(der: &[u8], which: Component) -> Option<Vec<u8>> {
    use x509_parser::der_parser::der::parse_der_sequence;
    let (_, seq) = parse_der_sequence(der).ok()?;
    let items = seq.as_sequence().ok()?;
    let idx = match which {
        Component::Modulus => 0,
        Component::Exponent => 1,
    };
    let bytes = items.get(idx)?.as_slice().ok()?;
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    Some(bytes[start..].to_vec())
}

/// Keycloak's `hmac-generated` key: HS512 over a random 64-byte secret. It signs refresh
/// tokens (Keycloak 26.7.5, observed: their header is `alg: HS512`), and is never in the
/// JWKS (a shared secret has no public half).
pub struct HmacKey {
    key: aws_lc_rs::hmac::Key,
    pub kid: String,
}

impl std::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HmacKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl HmacKey {
    fn generate() -> Result<HmacKey, KeyError> {
        let rng = SystemRandom::new();
        let key = aws_lc_rs::hmac::Key::generate(aws_lc_rs::hmac::HMAC_SHA512, &rng)
            .map_err(|_| KeyError("HS512 key generation".into()))?;
        Ok(HmacKey {
            key,
            kid: uuid::Uuid::new_v4().to_string(),
        })
    }

    /// Signs `claims` as an HS512 JWS with Keycloak's header bytes.
    pub fn sign(&self, claims: &Value) -> Result<String, KeyError> {
        let header = format!(r#"{{"alg":"HS512","typ" : "JWT","kid" : "{}"}}"#, self.kid);
        let payload = serde_json::to_vec(claims).map_err(|e| KeyError(e.to_string()))?;
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let tag = aws_lc_rs::hmac::sign(&self.key, signing_input.as_bytes());
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(tag.as_ref())
        ))
    }
}

/// A realm's keys: the active RS256 signing key, the RSA-OAEP encryption key and the HS512
/// key for refresh tokens.
#[derive(Debug)]
pub struct RealmKeys {
    pub signing: RsaKey,
    pub encryption: RsaKey,
    pub hmac: HmacKey,
    /// The JWKS document, serialized once: the keys never change after start.
    jwks: Bytes,
}

impl RealmKeys {
    pub fn generate(realm: &str) -> Result<RealmKeys, KeyError> {
        let signing = RsaKey::generate(realm, "RS256", "sig")?;
        let encryption = RsaKey::generate(realm, "RSA-OAEP", "enc")?;
        // JWKSServerUtils#getRealmJwks: every enabled key with a public key.
        let doc = json!({ "keys": [signing.jwk(), encryption.jwk()] });
        let jwks = serde_json::to_vec(&doc)
            .map_err(|e| KeyError(format!("JWKS: {e}")))?
            .into();
        Ok(RealmKeys {
            signing,
            encryption,
            hmac: HmacKey::generate()?,
            jwks,
        })
    }

    /// The JWKS document (`{"keys":[...]}`).
    pub fn jwks(&self) -> Value {
        serde_json::from_slice(&self.jwks).expect("serialized by generate")
    }

    /// The checks every consumer of this realm's access tokens makes first (the admin API's
    /// `AppAuthManager` and introspection's `TokenVerifier`): RS256 signature by the realm
    /// key, `iss` equal to `expected_issuer`, not expired. `Err` names the failed check.
    pub fn verify_access_token(
        &self,
        token: &str,
        expected_issuer: &str,
    ) -> Result<Map<String, Value>, &'static str> {
        let Some(Value::Object(claims)) = self.signing.verify(token) else {
            return Err("bad signature or not a JWT");
        };
        if claims.get("iss").and_then(Value::as_str) != Some(expected_issuer) {
            return Err("issuer is not this server's issuer for the realm");
        }
        if claims
            .get("exp")
            .and_then(Value::as_i64)
            .is_none_or(|e| e <= crate::token::now())
        {
            return Err("expired");
        }
        Ok(claims)
    }
}

/// `OIDCLoginProtocolService#certs`.
pub async fn jwks(
    State(provider): State<Provider>,
    Path(realm): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(keys) = provider.keys(&realm) else {
        return OAuthError::realm_not_found().into_response();
    };
    let body = keys.jwks.clone();
    // Content type switches only for exactly this Accept header.
    let content_type = if headers
        .get(header::ACCEPT)
        .is_some_and(|v| v.as_bytes() == b"application/jwk-set+json")
    {
        "application/jwk-set+json"
    } else {
        "application/json"
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}
