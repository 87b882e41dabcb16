//! The realm keys, as Keycloak's key providers (`KeyProvider` components) hold them: the
//! keys a realm file carries (`rsa`, `rsa-generated`, `rsa-enc-generated`, `ecdsa-generated`,
//! `eddsa-generated`, `hmac-generated`, or the legacy realm `privateKey`), or, when it carries none, the ones
//! `DefaultKeyProviders#createProviders` makes (RS256 and RSA-OAEP, each with a self-signed
//! certificate `CN=<realm>` so the JWKS carries `x5c`, `x5t`, `x5t#S256`, and HS512).
//!
//! Tokens are signed with the realm's active key for the algorithm asked for
//! (`DefaultKeyManager#getActiveKey`: enabled, active, highest priority). An algorithm with
//! no such key gets a `fallback-<alg>` key made on first use, as Keycloak's
//! `KeyProviderFactory#createFallbackKeys` does.
//!
//! `GET /realms/{realm}/protocol/openid-connect/certs` (RFC 7517): every enabled key with a
//! public key, active or passive, by priority.

use std::sync::{Arc, RwLock};

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};

use crate::Provider;
use crate::error::AdminError;
use crate::realm::{ComponentRep, RealmRep};

/// The component type of key providers in `RealmRepresentation#components`.
pub const KEY_PROVIDER_TYPE: &str = "org.keycloak.keys.KeyProvider";

/// Signature algorithms this provider signs and verifies with (Keycloak's
/// `id_token_signing_alg_values_supported`; EdDSA with Ed25519 only).
pub const SUPPORTED_SIGNATURE_ALGS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "HS256",
    "HS384", "HS512", "EdDSA",
];

/// The key material of a realm file: the legacy realm keys and the `KeyProvider`
/// components, each with its JSON path. Never printed (it holds private keys).
#[derive(Default)]
pub struct KeySource {
    legacy_private_key: Option<String>,
    legacy_certificate: Option<String>,
    providers: Vec<(String, ComponentRep)>,
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySource")
            .field("legacy_private_key", &self.legacy_private_key.is_some())
            .field("providers", &self.providers.len())
            .finish()
    }
}

impl KeySource {
    /// Takes the key fields out of `rep` (they are used here only).
    pub(crate) fn from_rep(rep: &mut RealmRep) -> KeySource {
        let providers = rep
            .components
            .as_mut()
            .and_then(|c| c.remove(KEY_PROVIDER_TYPE))
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, c)| (format!("components.{KEY_PROVIDER_TYPE}[{i}]"), c))
            .collect();
        rep.public_key = None;
        KeySource {
            legacy_private_key: rep.private_key.take().filter(|k| !k.trim().is_empty()),
            legacy_certificate: rep.certificate.take().filter(|c| !c.trim().is_empty()),
            providers,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("realm key: {0}")]
pub struct KeyError(String);

/// `KeyUse`: signature or encryption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUse {
    Sig,
    Enc,
}

impl KeyUse {
    fn as_str(self) -> &'static str {
        match self {
            KeyUse::Sig => "sig",
            KeyUse::Enc => "enc",
        }
    }
}

enum Material {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    /// EdDSA with Ed25519 (`eddsa-generated`; Ed448 is not supported).
    Ed(Ed25519KeyPair),
    Hmac(Vec<u8>),
}

/// One key with its Keycloak metadata (`KeyWrapper`).
pub struct RealmKey {
    pub kid: String,
    pub alg: String,
    pub use_: KeyUse,
    /// The component name (`rsa-generated`, `fallback-PS256`, ...).
    pub provider: String,
    pub priority: i64,
    /// `enabled` and `active` of the component: enabled and not active is "passive" (still
    /// verifies and is still published, never signs); not enabled is ignored.
    pub enabled: bool,
    pub active: bool,
    material: Material,
    cert_der: Option<Vec<u8>>,
}

impl std::fmt::Debug for RealmKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealmKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("provider", &self.provider)
            .field("priority", &self.priority)
            .finish_non_exhaustive()
    }
}

fn err(what: impl Into<String>) -> KeyError {
    KeyError(what.into())
}

/// `KeyUtils#createKeyId`: base64url(SHA-256(SubjectPublicKeyInfo DER)).
fn key_id(spki: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, spki))
}

/// `PemUtils#decode*`: base64 DER, with or without the PEM armour lines.
fn der_from_text(text: &str) -> Result<Vec<u8>, String> {
    let body: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("-----"))
        .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
        .collect();
    if body.chars().all(|c| c == '*') {
        return Err("the value is masked (\"**********\"), as an admin-console export writes it; export with `kc.sh export` to keep the key".into());
    }
    STANDARD
        .decode(body.as_bytes())
        .map_err(|e| format!("not base64 DER: {e}"))
}

/// A self-signed certificate `CN=<realm>` for an RSA key
/// (`CertificateUtils#generateV1SelfSignedCertificate`, as `rsa-generated` makes one).
fn self_signed(pair: &RsaKeyPair, realm: &str) -> Result<Vec<u8>, KeyError> {
    let pkcs8 = AsDer::<Pkcs8V1Der>::as_der(pair).map_err(|_| err("PKCS#8 export"))?;
    let der = rustls_pki_types::PrivatePkcs8KeyDer::from(pkcs8.as_ref().to_vec());
    let key = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_RSA_SHA256)
        .map_err(|e| err(format!("certificate key: {e}")))?;
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, realm);
    params.not_before = time::OffsetDateTime::now_utc() - time::Duration::minutes(1);
    params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(3650);
    Ok(params
        .self_signed(&key)
        .map_err(|e| err(format!("certificate: {e}")))?
        .der()
        .to_vec())
}

fn ec_signing(alg: &str) -> Option<&'static sig::EcdsaSigningAlgorithm> {
    match alg {
        "ES256" => Some(&sig::ECDSA_P256_SHA256_FIXED_SIGNING),
        "ES384" => Some(&sig::ECDSA_P384_SHA384_FIXED_SIGNING),
        "ES512" => Some(&sig::ECDSA_P521_SHA512_FIXED_SIGNING),
        _ => None,
    }
}

/// `GeneratedEcdsaKeyProviderFactory#convertECDomainParmNistRepToJWSAlgorithm`.
fn ec_alg_of_curve(curve: &str) -> Option<&'static str> {
    match curve {
        "P-256" => Some("ES256"),
        "P-384" => Some("ES384"),
        "P-521" => Some("ES512"),
        _ => None,
    }
}

fn ec_curve_of_alg(alg: &str) -> &'static str {
    match alg {
        "ES384" => "P-384",
        "ES512" => "P-521",
        _ => "P-256",
    }
}

fn hmac_alg(alg: &str) -> Option<aws_lc_rs::hmac::Algorithm> {
    match alg {
        "HS256" => Some(aws_lc_rs::hmac::HMAC_SHA256),
        "HS384" => Some(aws_lc_rs::hmac::HMAC_SHA384),
        "HS512" => Some(aws_lc_rs::hmac::HMAC_SHA512),
        _ => None,
    }
}

/// The RSA signature algorithms: how to sign, and how to verify.
fn rsa_alg(alg: &str) -> Option<(&'static dyn sig::RsaEncoding, &'static sig::RsaParameters)> {
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

/// What a key provider says about its key: algorithm, use, its name, its priority.
#[derive(Clone, Copy)]
struct Meta<'a> {
    alg: &'a str,
    use_: KeyUse,
    provider: &'a str,
    priority: i64,
}

impl RealmKey {
    fn new(meta: Meta<'_>, kid: String, material: Material, cert_der: Option<Vec<u8>>) -> Self {
        RealmKey {
            kid,
            alg: meta.alg.to_owned(),
            use_: meta.use_,
            provider: meta.provider.to_owned(),
            priority: meta.priority,
            enabled: true,
            active: true,
            material,
            cert_der,
        }
    }

    /// An RSA key; without a certificate, a self-signed one is made (as `rsa-generated`
    /// and `ImportedRsaKeyProviderFactory#validateConfiguration` do).
    fn rsa(
        pair: RsaKeyPair,
        cert_der: Option<Vec<u8>>,
        realm: &str,
        meta: Meta<'_>,
    ) -> Result<RealmKey, KeyError> {
        let spki =
            AsDer::<PublicKeyX509Der>::as_der(pair.public_key()).map_err(|_| err("SPKI export"))?;
        let cert_der = match cert_der {
            Some(c) => c,
            None => self_signed(&pair, realm)?,
        };
        let kid = key_id(spki.as_ref());
        Ok(RealmKey::new(
            meta,
            kid,
            Material::Rsa(pair),
            Some(cert_der),
        ))
    }

    fn generate_rsa(realm: &str, meta: Meta<'_>) -> Result<RealmKey, KeyError> {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| err("RSA-2048 keygen"))?;
        RealmKey::rsa(pair, None, realm, meta)
    }

    fn ec(
        pair: EcdsaKeyPair,
        cert_der: Option<Vec<u8>>,
        meta: Meta<'_>,
    ) -> Result<RealmKey, KeyError> {
        let spki =
            AsDer::<PublicKeyX509Der>::as_der(pair.public_key()).map_err(|_| err("SPKI export"))?;
        let kid = key_id(spki.as_ref());
        Ok(RealmKey::new(meta, kid, Material::Ec(pair), cert_der))
    }

    fn generate_ec(meta: Meta<'_>) -> Result<RealmKey, KeyError> {
        let signing =
            ec_signing(meta.alg).ok_or_else(|| err(format!("no curve for {}", meta.alg)))?;
        let pair = EcdsaKeyPair::generate(signing).map_err(|_| err("EC keygen"))?;
        RealmKey::ec(pair, None, meta)
    }

    fn ed25519(pair: Ed25519KeyPair, meta: Meta<'_>) -> Result<RealmKey, KeyError> {
        let spki =
            AsDer::<PublicKeyX509Der>::as_der(pair.public_key()).map_err(|_| err("SPKI export"))?;
        let kid = key_id(spki.as_ref());
        Ok(RealmKey::new(meta, kid, Material::Ed(pair), None))
    }

    fn generate_hmac(meta: Meta<'_>) -> Result<RealmKey, KeyError> {
        // GeneratedHmacKeyProviderFactory: 64-byte secrets by default.
        let mut secret = vec![0u8; 64];
        aws_lc_rs::rand::fill(&mut secret).map_err(|_| err("randomness"))?;
        let kid = crate::store::new_id();
        Ok(RealmKey::new(meta, kid, Material::Hmac(secret), None))
    }

    /// A fresh key for `alg` (`KeyProviderFactory#createFallbackKeys`), or `None` for an
    /// algorithm no key provider makes.
    fn fallback(realm: &str, alg: &str) -> Option<Result<RealmKey, KeyError>> {
        // AbstractGenerated*KeyProviderFactory#createFallbackKeys: priority -100.
        let name = format!("fallback-{alg}");
        let meta = Meta {
            alg,
            use_: KeyUse::Sig,
            provider: &name,
            priority: -100,
        };
        if rsa_alg(alg).is_some() {
            Some(RealmKey::generate_rsa(realm, meta))
        } else if ec_signing(alg).is_some() {
            Some(RealmKey::generate_ec(meta))
        } else if hmac_alg(alg).is_some() {
            Some(RealmKey::generate_hmac(meta))
        } else if alg == "EdDSA" {
            // GeneratedEddsaKeyProviderFactory: Ed25519 by default.
            let pair = Ed25519KeyPair::generate().map_err(|_| err("Ed25519 keygen"));
            Some(pair.and_then(|p| RealmKey::ed25519(p, meta)))
        } else {
            None
        }
    }

    /// Whether this key is published in the JWKS: enabled, with a public key.
    fn published(&self) -> bool {
        self.enabled && !matches!(self.material, Material::Hmac(_))
    }

    /// The JWK as `JWKBuilder` writes it (field order `kid, kty, alg, use`, then `crv, x, y`
    /// for EC keys, `x5c, x5t, x5t#S256` when there is a certificate, `n, e` for RSA).
    pub fn jwk(&self) -> Option<Value> {
        let mut m = Map::new();
        m.insert("kid".into(), json!(self.kid));
        let certs = |m: &mut Map<String, Value>| {
            if let Some(cert) = &self.cert_der {
                let sha1 =
                    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, cert);
                let sha256 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, cert);
                m.insert("x5c".into(), json!([STANDARD.encode(cert)]));
                m.insert("x5t".into(), json!(URL_SAFE_NO_PAD.encode(sha1)));
                m.insert("x5t#S256".into(), json!(URL_SAFE_NO_PAD.encode(sha256)));
            }
        };
        match &self.material {
            Material::Rsa(pair) => {
                let public = pair.public_key().as_ref();
                let n = public_component(public, 0)?;
                let e = public_component(public, 1)?;
                m.insert("kty".into(), json!("RSA"));
                m.insert("alg".into(), json!(self.alg));
                m.insert("use".into(), json!(self.use_.as_str()));
                certs(&mut m);
                m.insert("n".into(), json!(URL_SAFE_NO_PAD.encode(n)));
                m.insert("e".into(), json!(URL_SAFE_NO_PAD.encode(e)));
            }
            Material::Ec(pair) => {
                // The uncompressed point 0x04 || x || y, each coordinate of the curve's size.
                let point = pair.public_key().as_ref();
                let size = (point.len() - 1) / 2;
                m.insert("kty".into(), json!("EC"));
                m.insert("alg".into(), json!(self.alg));
                m.insert("use".into(), json!(self.use_.as_str()));
                m.insert("crv".into(), json!(ec_curve_of_alg(&self.alg)));
                m.insert(
                    "x".into(),
                    json!(URL_SAFE_NO_PAD.encode(&point[1..1 + size])),
                );
                m.insert(
                    "y".into(),
                    json!(URL_SAFE_NO_PAD.encode(&point[1 + size..])),
                );
                certs(&mut m);
            }
            Material::Ed(pair) => {
                // JWKBuilder#okp.
                m.insert("kty".into(), json!("OKP"));
                m.insert("alg".into(), json!(self.alg));
                m.insert("use".into(), json!(self.use_.as_str()));
                m.insert("crv".into(), json!("Ed25519"));
                m.insert(
                    "x".into(),
                    json!(URL_SAFE_NO_PAD.encode(pair.public_key().as_ref())),
                );
            }
            Material::Hmac(_) => return None,
        }
        Some(Value::Object(m))
    }

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

/// Reads n (index 0) or e (index 1) from a PKCS#1 `RSAPublicKey` DER (what
/// `RsaKeyPair::public_key` returns), unsigned big-endian without leading zeros
/// (Keycloak's `toIntegerBytes`).
fn public_component(der: &[u8], idx: usize) -> Option<Vec<u8>> {
    use x509_parser::der_parser::der::parse_der_sequence;
    let (_, seq) = parse_der_sequence(der).ok()?;
    let items = seq.as_sequence().ok()?;
    let bytes = items.get(idx)?.as_slice().ok()?;
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    Some(bytes[start..].to_vec())
}

/// One config value of a component (`MultivaluedHashMap#getFirst`).
fn first<'a>(c: &'a ComponentRep, key: &str) -> Option<&'a str> {
    c.config
        .get(key)
        .and_then(|v| v.first())
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

/// Loads one `KeyProvider` component as its factory does. `Ok(None)`: a provider this
/// server does not use (named in the warning).
fn load_component(realm: &str, c: &ComponentRep) -> Result<Option<RealmKey>, String> {
    let provider_id = c.provider_id.as_deref().unwrap_or("");
    let name = c.name.clone().unwrap_or_else(|| provider_id.to_owned());
    let priority = match first(c, "priority") {
        None => 0,
        Some(p) => p
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("config.priority: '{p}' is not a number"))?,
    };
    // ComponentModel#get(name, true): missing means true.
    let flag = |key: &str| first(c, key).is_none_or(|v| v.eq_ignore_ascii_case("true"));
    let (enabled, active) = (flag("enabled"), flag("active"));
    let base = Meta {
        alg: "",
        use_: KeyUse::Sig,
        provider: &name,
        priority,
    };
    let rsa = |use_: KeyUse, default_alg: &str, generated: bool| -> Result<RealmKey, String> {
        let alg = first(c, "algorithm").unwrap_or(default_alg);
        if use_ == KeyUse::Sig && rsa_alg(alg).is_none() {
            return Err(format!(
                "config.algorithm: '{alg}' is not an RSA signature algorithm"
            ));
        }
        let key = match first(c, "privateKey") {
            // The Generated*KeyProviderFactory makes the key when the file has none.
            None if generated => {
                return RealmKey::generate_rsa(realm, Meta { alg, use_, ..base })
                    .map_err(|e| e.to_string());
            }
            None => return Err("config.privateKey: missing".into()),
            Some(k) => der_from_text(k).map_err(|e| format!("config.privateKey: {e}"))?,
        };
        // PemUtils#decodePrivateKey: PKCS#8 or PKCS#1.
        let pair = RsaKeyPair::from_pkcs8(&key)
            .or_else(|_| RsaKeyPair::from_der(&key))
            .map_err(|e| format!("config.privateKey: not an RSA private key ({e})"))?;
        let cert = match first(c, "certificate") {
            None => None,
            Some(t) => Some(der_from_text(t).map_err(|e| format!("config.certificate: {e}"))?),
        };
        RealmKey::rsa(pair, cert, realm, Meta { alg, use_, ..base }).map_err(|e| e.to_string())
    };
    let mut key = match provider_id {
        // ImportedRsaKeyProviderFactory / GeneratedRsaKeyProviderFactory (AbstractRsaKeyProvider).
        "rsa" => rsa(KeyUse::Sig, "RS256", false)?,
        "rsa-generated" => rsa(KeyUse::Sig, "RS256", true)?,
        // ImportedRsaEncKeyProviderFactory / GeneratedRsaEncKeyProviderFactory.
        "rsa-enc" => rsa(KeyUse::Enc, "RSA-OAEP", false)?,
        "rsa-enc-generated" => rsa(KeyUse::Enc, "RSA-OAEP", true)?,
        // GeneratedEcdsaKeyProviderFactory: the curve names the algorithm.
        "ecdsa-generated" => {
            let curve = first(c, "ecdsaEllipticCurveKey").unwrap_or("P-256");
            let alg = ec_alg_of_curve(curve)
                .ok_or_else(|| format!("config.ecdsaEllipticCurveKey: unknown curve '{curve}'"))?;
            match first(c, "ecdsaPrivateKey") {
                None => RealmKey::generate_ec(Meta {
                    alg,
                    use_: KeyUse::Sig,
                    ..base
                })
                .map_err(|e| e.to_string())?,
                Some(k) => {
                    let der =
                        der_from_text(k).map_err(|e| format!("config.ecdsaPrivateKey: {e}"))?;
                    let signing = ec_signing(alg).expect("ec_alg_of_curve gives ES*");
                    let pair = EcdsaKeyPair::from_private_key_der(signing, &der).map_err(|e| {
                        format!("config.ecdsaPrivateKey: not a {curve} private key ({e})")
                    })?;
                    let cert = match first(c, "certificate") {
                        None => None,
                        Some(t) => {
                            Some(der_from_text(t).map_err(|e| format!("config.certificate: {e}"))?)
                        }
                    };
                    RealmKey::ec(
                        pair,
                        cert,
                        Meta {
                            alg,
                            use_: KeyUse::Sig,
                            ..base
                        },
                    )
                    .map_err(|e| e.to_string())?
                }
            }
        }
        // GeneratedHmacKeyProviderFactory: a base64url secret and its kid.
        "hmac-generated" => {
            let alg = first(c, "algorithm").unwrap_or("HS256");
            if hmac_alg(alg).is_none() {
                return Err(format!(
                    "config.algorithm: '{alg}' is not an HMAC algorithm"
                ));
            }
            match first(c, "secret") {
                None => RealmKey::generate_hmac(Meta {
                    alg,
                    use_: KeyUse::Sig,
                    ..base
                })
                .map_err(|e| e.to_string())?,
                Some(s) => {
                    let secret = URL_SAFE_NO_PAD
                        .decode(s.trim().trim_end_matches('=').as_bytes())
                        .map_err(|e| format!("config.secret: not base64url ({e})"))?;
                    let kid = first(c, "kid")
                        .map(str::to_owned)
                        .unwrap_or_else(crate::store::new_id);
                    RealmKey::new(
                        Meta {
                            alg,
                            use_: KeyUse::Sig,
                            ..base
                        },
                        kid,
                        Material::Hmac(secret),
                        None,
                    )
                }
            }
        }
        // GeneratedEddsaKeyProviderFactory: Ed25519 only here.
        "eddsa-generated" => {
            let curve = first(c, "eddsaEllipticCurveKey").unwrap_or("Ed25519");
            if curve != "Ed25519" {
                return Err(format!(
                    "config.eddsaEllipticCurveKey: {curve} is not supported by this provider (Ed25519 is); its key is not used"
                ));
            }
            let meta = Meta {
                alg: "EdDSA",
                use_: KeyUse::Sig,
                ..base
            };
            let pair = match first(c, "eddsaPrivateKey") {
                None => Ed25519KeyPair::generate().map_err(|_| "Ed25519 keygen".to_owned())?,
                Some(k) => {
                    let der =
                        der_from_text(k).map_err(|e| format!("config.eddsaPrivateKey: {e}"))?;
                    Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).map_err(|e| {
                        format!("config.eddsaPrivateKey: not an Ed25519 private key ({e})")
                    })?
                }
            };
            RealmKey::ed25519(pair, meta).map_err(|e| e.to_string())?
        }
        // Keys for encrypting Keycloak's own cookies and codes: nothing here uses them.
        "aes-generated" => return Ok(None),
        other => {
            return Err(format!(
                "key provider '{other}' is not supported by this provider (see README: \"Not supported\"); its key is not used"
            ));
        }
    };
    key.enabled = enabled;
    key.active = active;
    Ok(Some(key))
}

/// `DefaultKeyProviders`: the default providers have priority 100.
fn default_meta<'a>(alg: &'a str, use_: KeyUse, provider: &'a str) -> Meta<'a> {
    Meta {
        alg,
        use_,
        provider,
        priority: 100,
    }
}

/// `DefaultKeyProviders#createSecretProvider`.
const HMAC_DEFAULT: Meta<'static> = Meta {
    alg: "HS512",
    use_: KeyUse::Sig,
    provider: "hmac-generated-hs512",
    priority: 100,
};

/// A realm's keys, by priority (highest first; ties in the file's order).
#[derive(Debug)]
pub struct RealmKeys {
    realm: String,
    keys: RwLock<Vec<Arc<RealmKey>>>,
    /// The JWKS document, serialized when the keys change (at start, and when a fallback key
    /// is made).
    jwks: RwLock<Bytes>,
}

impl RealmKeys {
    /// `DefaultKeyProviders#createProviders`: `rsa-generated` (RS256), `rsa-enc-generated`
    /// (RSA-OAEP) and `hmac-generated-hs512`, each with priority 100.
    pub fn generate(realm: &str) -> Result<RealmKeys, KeyError> {
        let keys = vec![
            RealmKey::generate_rsa(realm, default_meta("RS256", KeyUse::Sig, "rsa-generated"))?,
            RealmKey::generate_rsa(
                realm,
                default_meta("RSA-OAEP", KeyUse::Enc, "rsa-enc-generated"),
            )?,
            RealmKey::generate_hmac(HMAC_DEFAULT)?,
        ];
        RealmKeys::new(realm, keys)
    }

    /// The keys of an imported realm (`DefaultExportImportManager#importRealm`): its
    /// `KeyProvider` components; without any, the legacy `privateKey` (as `rsa` and
    /// `rsa-enc` providers) or generated keys. A component whose key cannot be used is
    /// skipped with a warning naming its JSON path: Keycloak imports the realm and logs the
    /// failure when it loads the provider.
    pub fn load(realm: &str, source: &KeySource) -> Result<RealmKeys, KeyError> {
        if source.providers.is_empty() {
            let Some(pem) = &source.legacy_private_key else {
                return RealmKeys::generate(realm);
            };
            let legacy = ComponentRep {
                provider_id: Some("rsa".into()),
                config: [
                    ("privateKey", Some(pem.clone())),
                    ("certificate", source.legacy_certificate.clone()),
                    ("priority", Some("100".into())),
                ]
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k.to_owned(), vec![v])))
                .collect(),
                ..Default::default()
            };
            let mut keys = Vec::new();
            for (name, id) in [("rsa", "rsa"), ("rsa-enc", "rsa-enc")] {
                let c = ComponentRep {
                    name: Some(name.into()),
                    provider_id: Some(id.into()),
                    ..legacy.clone()
                };
                match load_component(realm, &c) {
                    Ok(Some(k)) => keys.push(k),
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!("realm '{realm}': privateKey: {e}; generating keys instead");
                        return RealmKeys::generate(realm);
                    }
                }
            }
            keys.push(RealmKey::generate_hmac(HMAC_DEFAULT)?);
            return RealmKeys::new(realm, keys);
        }
        let mut keys = Vec::new();
        for (field, c) in &source.providers {
            match load_component(realm, c) {
                Ok(Some(k)) => keys.push(k),
                Ok(None) => {}
                Err(e) => tracing::warn!("realm '{realm}': {field}: {e}"),
            }
        }
        RealmKeys::new(realm, keys)
    }

    fn new(realm: &str, mut keys: Vec<RealmKey>) -> Result<RealmKeys, KeyError> {
        // DefaultKeyManager: providers by priority, highest first (stable: file order).
        keys.sort_by_key(|k| std::cmp::Reverse(k.priority));
        let keys: Vec<Arc<RealmKey>> = keys.into_iter().map(Arc::new).collect();
        let jwks = serialize_jwks(&keys)?;
        for k in &keys {
            tracing::debug!(
                realm,
                "key {} {} {} priority {} {}",
                k.provider,
                k.alg,
                k.kid,
                k.priority,
                match (k.enabled, k.active) {
                    (false, _) => "disabled",
                    (true, false) => "passive",
                    (true, true) => "active",
                }
            );
        }
        Ok(RealmKeys {
            realm: realm.to_owned(),
            keys: RwLock::new(keys),
            jwks: RwLock::new(jwks),
        })
    }

    fn snapshot(&self) -> Vec<Arc<RealmKey>> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// `DefaultKeyManager#getActiveKey(realm, SIG, alg)`: the enabled, active signature key
    /// of highest priority for `alg`, made (`fallback-<alg>`) when there is none.
    pub fn active(&self, alg: &str) -> Result<Arc<RealmKey>, KeyError> {
        let pick = |keys: &[Arc<RealmKey>]| {
            keys.iter()
                .find(|k| k.enabled && k.active && k.use_ == KeyUse::Sig && k.alg == alg)
                .cloned()
        };
        if let Some(k) = pick(&self.snapshot()) {
            return Ok(k);
        }
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        if let Some(k) = pick(&keys) {
            return Ok(k);
        }
        let key = RealmKey::fallback(&self.realm, alg).ok_or_else(|| {
            err(format!(
                "no key for algorithm '{alg}' and no provider makes one"
            ))
        })??;
        tracing::info!(
            realm = %self.realm,
            "no active {alg} key: created fallback-{alg} (kid {}), as Keycloak does",
            key.kid
        );
        let key = Arc::new(key);
        keys.push(key.clone());
        *self.jwks.write().unwrap_or_else(|e| e.into_inner()) = serialize_jwks(&keys)?;
        Ok(key)
    }

    /// Signs `claims` with the active key for `alg`.
    pub fn sign(&self, alg: &str, claims: &Value) -> Result<String, KeyError> {
        self.active(alg)?.sign(claims)
    }

    /// The realm's keys, by priority (for inspection and tests).
    pub fn keys(&self) -> Vec<Arc<RealmKey>> {
        self.snapshot()
    }

    /// The JWKS document (`{"keys":[...]}`).
    pub fn jwks(&self) -> Value {
        serde_json::from_slice(&self.jwks_bytes()).expect("serialized by serialize_jwks")
    }

    fn jwks_bytes(&self) -> Bytes {
        self.jwks.read().unwrap_or_else(|e| e.into_inner()).clone()
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

/// `JWKSServerUtils#getRealmJwks`: every enabled key with a public key.
fn serialize_jwks(keys: &[Arc<RealmKey>]) -> Result<Bytes, KeyError> {
    let list: Vec<Value> = keys
        .iter()
        .filter(|k| k.published())
        .filter_map(|k| k.jwk())
        .collect();
    Ok(serde_json::to_vec(&json!({ "keys": list }))
        .map_err(|e| err(format!("JWKS: {e}")))?
        .into())
}

/// The algorithm a client's tokens of one kind are signed with: the client attribute
/// `attribute` when set, else the realm's `defaultSignatureAlgorithm`
/// (`DefaultTokenManager#signatureAlgorithm`).
fn client_alg<'a>(
    realm: &'a crate::store::Realm,
    client: &'a crate::store::Client,
    attribute: &str,
) -> &'a str {
    client
        .attribute(attribute)
        .filter(|a| !a.is_empty())
        .unwrap_or(&realm.default_signature_algorithm)
}

/// Access tokens (`TokenCategory.ACCESS`): `access.token.signed.response.alg`.
pub fn access_token_alg<'a>(
    realm: &'a crate::store::Realm,
    client: &'a crate::store::Client,
) -> &'a str {
    client_alg(realm, client, "access.token.signed.response.alg")
}

/// ID tokens (`TokenCategory.ID`): `id.token.signed.response.alg`.
pub fn id_token_alg<'a>(
    realm: &'a crate::store::Realm,
    client: &'a crate::store::Client,
) -> &'a str {
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
pub fn warn_unsupported_algs(realm: &crate::store::Realm) {
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

/// `OIDCLoginProtocolService#certs`.
pub async fn jwks(
    State(provider): State<Provider>,
    Path(realm): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(keys) = provider.keys(&realm) else {
        return AdminError::realm_not_found().into_response();
    };
    let body = keys.jwks_bytes();
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
