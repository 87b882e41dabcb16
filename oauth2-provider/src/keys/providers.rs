//! Where a realm's keys come from, as Keycloak's key providers make them: the `KeyProvider`
//! components a realm file carries (`rsa`, `rsa-generated`, `rsa-enc`, `rsa-enc-generated`,
//! `ecdsa-generated`, `eddsa-generated` (Ed25519), `hmac-generated`), or the legacy realm
//! `privateKey`/`certificate`; or, when it carries none, the ones
//! `DefaultKeyProviders#createProviders` makes (RS256 and RSA-OAEP, each with a self-signed
//! certificate `CN=<realm>` so the JWKS carries `x5c`, `x5t`, `x5t#S256`, and HS512).

use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use super::jws::{ec_signing, hmac_alg, rsa_alg};
use super::{KeyError, KeyUse, Material, Meta, RealmKey, RealmKeys};

/// One `KeyProvider` component as the realm file gives it (`ComponentExportRepresentation`:
/// its name, provider id and `MultivaluedHashMap` config); the realm import makes these.
#[derive(Debug, Default, Clone)]
pub struct KeyComponent {
    pub name: Option<String>,
    pub provider_id: Option<String>,
    pub config: std::collections::BTreeMap<String, Vec<String>>,
}

/// The key material of a realm file: the legacy realm keys and the `KeyProvider`
/// components, each with its JSON path. Never printed (it holds private keys).
#[derive(Default)]
pub struct KeySource {
    pub legacy_private_key: Option<String>,
    pub legacy_certificate: Option<String>,
    pub providers: Vec<(String, KeyComponent)>,
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySource")
            .field("legacy_private_key", &self.legacy_private_key.is_some())
            .field("providers", &self.providers.len())
            .finish()
    }
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

/// `GeneratedEcdsaKeyProviderFactory#convertECDomainParmNistRepToJWSAlgorithm`.
fn ec_alg_of_curve(curve: &str) -> Option<&'static str> {
    match curve {
        "P-256" => Some("ES256"),
        "P-384" => Some("ES384"),
        "P-521" => Some("ES512"),
        _ => None,
    }
}

/// One config value of a component (`MultivaluedHashMap#getFirst`).
fn first<'a>(c: &'a KeyComponent, key: &str) -> Option<&'a str> {
    c.config
        .get(key)
        .and_then(|v| v.first())
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

/// Loads one `KeyProvider` component as its factory does. `Ok(None)`: a provider this
/// server does not use (named in the warning).
fn load_component(realm: &str, c: &KeyComponent) -> Result<Option<RealmKey>, String> {
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
    // AbstractRsaKeyProvider: `keyUse` (any case, "sig" when absent) says what an RSA key of
    // "rsa" or "rsa-generated" is for; an `enc` key is published with `use: enc` and never signs.
    let rsa_use = match first(c, "keyUse") {
        Some(u) if u.eq_ignore_ascii_case("enc") => KeyUse::Enc,
        _ => KeyUse::Sig,
    };
    let mut key = match provider_id {
        // ImportedRsaKeyProviderFactory / GeneratedRsaKeyProviderFactory (AbstractRsaKeyProvider).
        "rsa" => rsa(rsa_use, "RS256", false)?,
        "rsa-generated" => rsa(rsa_use, "RS256", true)?,
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
            let legacy = KeyComponent {
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
                let c = KeyComponent {
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
}
