//! The realm keys, as Keycloak's key providers (`KeyProvider` components) hold them, and
//! how one is chosen: tokens are signed with the realm's active key for the algorithm asked
//! for (`DefaultKeyManager#getActiveKey`: enabled, active, highest priority). An algorithm
//! with no such key gets a `fallback-<alg>` key made on first use, as Keycloak's
//! `KeyProviderFactory#createFallbackKeys` does.
//!
//! Along Keycloak's seams:
//! - `providers.rs`: where a realm's keys come from: the keys a realm file carries (`rsa`,
//!   `rsa-generated`, `rsa-enc-generated`, `ecdsa-generated`, `eddsa-generated`,
//!   `hmac-generated`, or the legacy realm `privateKey`), or, when it carries none, the ones
//!   `DefaultKeyProviders#createProviders` makes;
//! - `jws.rs`: signing and verifying (RFC 7515 compact JWS with Keycloak's header bytes),
//!   and which algorithm a client's tokens get;
//! - `jwks.rs`: publication, `GET /realms/{realm}/protocol/openid-connect/certs` (RFC 7517).

mod jwks;
mod jws;
mod providers;

pub use jws::{
    INTERNAL_SIGNATURE_ALG, SUPPORTED_SIGNATURE_ALGS, access_token_alg, id_token_alg, oidc_hash,
    warn_unsupported_algs,
};
pub use providers::{KeyComponent, KeySource};

use std::sync::{Arc, RwLock};

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use axum::body::Bytes;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

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
            jws::ec_signing(meta.alg).ok_or_else(|| err(format!("no curve for {}", meta.alg)))?;
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
        if jws::rsa_alg(alg).is_some() {
            Some(RealmKey::generate_rsa(realm, meta))
        } else if jws::ec_signing(alg).is_some() {
            Some(RealmKey::generate_ec(meta))
        } else if jws::hmac_alg(alg).is_some() {
            Some(RealmKey::generate_hmac(meta))
        } else if alg == "EdDSA" {
            // GeneratedEddsaKeyProviderFactory: Ed25519 by default.
            let pair = Ed25519KeyPair::generate().map_err(|_| err("Ed25519 keygen"));
            Some(pair.and_then(|p| RealmKey::ed25519(p, meta)))
        } else {
            None
        }
    }
}

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
    fn new(realm: &str, mut keys: Vec<RealmKey>) -> Result<RealmKeys, KeyError> {
        // DefaultKeyManager: providers by priority, highest first (stable: file order).
        keys.sort_by_key(|k| std::cmp::Reverse(k.priority));
        let keys: Vec<Arc<RealmKey>> = keys.into_iter().map(Arc::new).collect();
        let jwks = jwks::serialize_jwks(&keys)?;
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
        *self.jwks.write().unwrap_or_else(|e| e.into_inner()) = jwks::serialize_jwks(&keys)?;
        Ok(key)
    }

    /// The realm's keys, by priority (for inspection and tests).
    pub fn keys(&self) -> Vec<Arc<RealmKey>> {
        self.snapshot()
    }
}
