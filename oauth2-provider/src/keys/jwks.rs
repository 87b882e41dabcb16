//! The realm's public keys as a JWK set (RFC 7517), every enabled key with a public key,
//! active or passive, by priority, as `JWKSServerUtils#getRealmJwks` and `JWKBuilder` write
//! them. Served at `GET /realms/{realm}/protocol/openid-connect/certs` by
//! [`crate::discovery::jwks`].

use std::sync::Arc;

use aws_lc_rs::signature::KeyPair as _;
use axum::body::Bytes;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};

use super::{KeyError, Material, RealmKey, RealmKeys, err};

fn ec_curve_of_alg(alg: &str) -> &'static str {
    match alg {
        "ES384" => "P-384",
        "ES512" => "P-521",
        _ => "P-256",
    }
}

impl RealmKey {
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
                m.insert("x5c".into(), json!([STANDARD.encode(cert)]));
                m.insert("x5t".into(), json!(URL_SAFE_NO_PAD.encode(sha1)));
                m.insert(
                    "x5t#S256".into(),
                    json!(playbook::rfc8705::thumbprint(cert)),
                );
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

impl RealmKeys {
    /// The JWKS document (`{"keys":[...]}`).
    pub fn jwks(&self) -> Value {
        serde_json::from_slice(&self.jwks_bytes()).expect("serialized by serialize_jwks")
    }

    pub fn jwks_bytes(&self) -> Bytes {
        self.jwks.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// `JWKSServerUtils#getRealmJwks`: every enabled key with a public key.
pub(super) fn serialize_jwks(keys: &[Arc<RealmKey>]) -> Result<Bytes, KeyError> {
    let list: Vec<Value> = keys
        .iter()
        .filter(|k| k.published())
        .filter_map(|k| k.jwk())
        .collect();
    Ok(serde_json::to_vec(&json!({ "keys": list }))
        .map_err(|e| err(format!("JWKS: {e}")))?
        .into())
}
