//! RFC 7523 §2.2 `private_key_jwt` at the provider: Keycloak's `JWTClientAuthenticator`
//! (`clientAuthenticatorType` `client-jwt`), in its two halves.
//!
//! - [`configure`], at import and when the admin API changes a client's attributes: the
//!   client's public keys, from `jwks.string` when `use.jwks.string` is on, else from the
//!   certificate `jwt.credential.certificate` (`use.jwks.url` is not implemented: a JWKS
//!   fetched over HTTPS; such a client is refused, and the importer says so);
//! - [`attempt`], at each request, the checks in the order Keycloak 26.7.5 makes them, each
//!   answer observed on the live server (`tests/scenarios/client_jwt.rs`): the form's
//!   parameters, the JWS, `sub` = `iss` naming the client, the algorithm, the key, the
//!   signature (with the key's algorithm, which must be the header's), then `aud` (one, the issuer or one of its endpoints), `exp` (required, no
//!   skew), `nbf` (15 s skew), `iat` (15 s skew; at most 60 s old; without it `exp` at most
//!   60 s away), `jti` (required, never twice).
//!
//! Keycloak runs its authenticators in turn, and the answer of one counts only when the
//! client named so far uses it: a refusal found before the assertion names a `client-jwt`
//! client (no assertion, an unreadable one, `sub` ≠ `iss`, an unknown client) is this
//! authenticator's answer only when the form's `client_id` (or HTTP Basic) already named
//! such a client; otherwise the next authenticator decides ([`Outcome`]).

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use playbook::oauth::ErrorCode;
use playbook::rfc7523::{ASSERTION_TYPE, JtiCache, Reuse};
use serde_json::Value;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

use super::{Authenticated, Method, authenticated};
use crate::error::{OAuthError, Refusal};
use crate::request::ClientRequest;
use crate::store::{Authenticator, Client, JwtConfig, JwtKey, JwtPublicKey, Realm};

const CERTIFICATE: &str = "jwt.credential.certificate";
const USE_JWKS_URL: &str = "use.jwks.url";
const USE_JWKS_STRING: &str = "use.jwks.string";
const JWKS_STRING: &str = "jwks.string";
const SIGNING_ALG: &str = "token.endpoint.auth.signing.alg";

/// `nbf` and `iat` may be this far in the future (seconds; observed: 13 s accepted, 17 s not).
const CLOCK_SKEW: i64 = 15;
/// The oldest `iat`, and without `iat` the farthest `exp` (seconds; observed: 57 accepted,
/// 63 not).
const MAX_AGE: i64 = 60;
/// The asymmetric algorithms Keycloak accepts in the header; anything else (`none`, HMAC)
/// is "Invalid signature algorithm".
const ALGORITHMS: [&str; 10] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
];

/// Reads the keys of client `client_id` from its attributes; what makes it unusable goes to
/// `warnings`.
pub(super) fn configure<'a>(
    client_id: &str,
    attribute: impl Fn(&str) -> Option<&'a str>,
    warnings: &mut Vec<String>,
) -> JwtConfig {
    let on = |name: &str| attribute(name).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let keys = if on(USE_JWKS_URL) {
        Err(format!(
            "{USE_JWKS_URL} is on: a JWKS fetched from jwks.url is not implemented by this provider (use {USE_JWKS_STRING} or {CERTIFICATE})"
        ))
    } else if on(USE_JWKS_STRING) {
        jwks_keys(attribute(JWKS_STRING).unwrap_or(""))
    } else {
        match attribute(CERTIFICATE)
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            Some(cert) => certificate_key(cert).map(|k| vec![k]),
            None => Err(format!("no {CERTIFICATE}")),
        }
    };
    // Observed on Keycloak 26.7.5 for `${UNSET}` and `none` (tests/golden/corpus/placeholders.json):
    // text that is no certificate at all gets its PEM parser's exception.
    let unreadable =
        matches!(&keys, Err(why) if why.starts_with(NOT_BASE64) || why.starts_with(NOT_X509))
            .then_some(UNREADABLE);
    let keys = keys.unwrap_or_else(|why| {
        warnings.push(format!(
            "client '{client_id}' (client-jwt): {why}; its assertions will be refused (\"Unable to load public key\")"
        ));
        Vec::new()
    });
    JwtConfig {
        keys,
        signing_alg: attribute(SIGNING_ALG)
            .filter(|a| !a.is_empty())
            .map(str::to_owned),
        unreadable,
    }
}

/// How [`certificate_key`] says its text is not base64, or not a certificate.
const NOT_BASE64: &str = "jwt.credential.certificate is not base64";
const NOT_X509: &str = "jwt.credential.certificate is not an X.509 certificate";
/// Keycloak 26.7.5's answer to an assertion for a client whose certificate is not base64.
const UNREADABLE: &str = "Client authentication with signed JWT failed: Error when loading public keys: java.lang.RuntimeException: org.keycloak.common.util.PemException: org.bouncycastle.jcajce.provider.asymmetric.x509.CertificateFactory$ExCertificateException: parsing issue: malformed PEM data: no header found";

/// The key of a certificate (base64 DER, as Keycloak stores it, or PEM): its `kid` is
/// Keycloak's `KeyUtils#createKeyId`, the SHA-256 of the SubjectPublicKeyInfo, and its
/// algorithm the default for its type (RS256, ES256/ES384, EdDSA), whatever the header says.
fn certificate_key(text: &str) -> Result<JwtKey, String> {
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<String>()
        .split_whitespace()
        .collect();
    let der = STANDARD
        .decode(body)
        .map_err(|e| format!("{NOT_BASE64}: {e}"))?;
    let (_, cert) = X509Certificate::from_der(&der).map_err(|e| format!("{NOT_X509}: {e}"))?;
    let spki = cert.public_key();
    let kid = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, spki.raw));
    let (alg, key) = match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => (
            "RS256",
            JwtPublicKey::Rsa {
                n: strip_zeros(rsa.modulus).to_vec(),
                e: strip_zeros(rsa.exponent).to_vec(),
            },
        ),
        Ok(PublicKey::EC(point)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string());
            match curve.as_deref() {
                Some("1.2.840.10045.3.1.7") => ("ES256", JwtPublicKey::P256(point.data().to_vec())),
                Some("1.3.132.0.34") => ("ES384", JwtPublicKey::P384(point.data().to_vec())),
                other => return Err(format!("{CERTIFICATE}: unsupported curve {other:?}")),
            }
        }
        _ if spki.algorithm.algorithm.to_id_string() == "1.3.101.112" => (
            "EdDSA",
            JwtPublicKey::Ed25519(spki.subject_public_key.data.to_vec()),
        ),
        _ => return Err(format!("{CERTIFICATE}: unsupported public key type")),
    };
    Ok(JwtKey {
        kid: Some(kid),
        alg: alg.to_owned(),
        key,
    })
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[start..]
}

/// The signing keys of a JWKS: Keycloak keeps only those with `"use": "sig"` (observed: a
/// key without `use` is never found); each verifies with its `alg`, else its type's default.
fn jwks_keys(text: &str) -> Result<Vec<JwtKey>, String> {
    let jwks: Value =
        serde_json::from_str(text).map_err(|e| format!("{JWKS_STRING} is not JSON: {e}"))?;
    let keys = jwks["keys"]
        .as_array()
        .ok_or_else(|| format!("{JWKS_STRING} has no \"keys\""))?
        .iter()
        .filter(|k| k["use"] == "sig")
        .filter_map(jwk_key)
        .collect::<Vec<_>>();
    if keys.is_empty() {
        return Err(format!(
            "{JWKS_STRING} has no usable key with \"use\": \"sig\""
        ));
    }
    Ok(keys)
}

fn jwk_key(jwk: &Value) -> Option<JwtKey> {
    let b64 = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str()?).ok();
    let (default_alg, key) = match (jwk["kty"].as_str()?, jwk["crv"].as_str()) {
        ("RSA", _) => (
            "RS256",
            JwtPublicKey::Rsa {
                n: b64("n")?,
                e: b64("e")?,
            },
        ),
        ("EC", Some(crv @ ("P-256" | "P-384"))) => {
            let mut point = vec![4u8];
            point.extend(b64("x")?);
            point.extend(b64("y")?);
            if crv == "P-256" {
                ("ES256", JwtPublicKey::P256(point))
            } else {
                ("ES384", JwtPublicKey::P384(point))
            }
        }
        ("OKP", Some("Ed25519")) => ("EdDSA", JwtPublicKey::Ed25519(b64("x")?)),
        _ => return None,
    };
    Some(JwtKey {
        kid: jwk["kid"].as_str().map(str::to_owned),
        alg: jwk["alg"].as_str().unwrap_or(default_alg).to_owned(),
        key,
    })
}

/// What this authenticator made of a request.
pub(super) enum Outcome<'a> {
    /// Its answer: the client named so far uses `client-jwt`.
    Decided(Result<Authenticated, Refusal>),
    /// The assertion named this client, which uses another authenticator: it is the client
    /// named so far for the next one.
    Named(&'a Client),
    /// Nothing for it to decide: the next authenticator does.
    Pass,
}

fn uses_jwt(client: &Client) -> bool {
    !client.public_client && matches!(client.authenticator, Authenticator::Jwt(_))
}

/// 400 `invalid_client` with Keycloak's words (the challenge of `JWTClientValidator`).
fn bad(message: impl Into<String>, reason: impl Into<String>) -> Refusal {
    Refusal::new(
        OAuthError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidClient, message),
        reason,
    )
}

/// A JWS in compact form, decoded but not verified.
struct Jws<'a> {
    header: Value,
    claims: Value,
    signing_input: &'a str,
    signature: Vec<u8>,
}

fn parse(assertion: &str) -> Result<Jws<'_>, String> {
    let mut parts = assertion.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not a JWS in compact form (three dot-separated parts)".into());
    };
    let json = |name: &str, b: &str| -> Result<Value, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(b)
            .map_err(|e| format!("{name}: not base64url: {e}"))?;
        serde_json::from_slice(&bytes).map_err(|e| format!("{name}: not JSON: {e}"))
    };
    Ok(Jws {
        header: json("header", h)?,
        claims: json("claims", c)?,
        signing_input: &assertion[..h.len() + 1 + c.len()],
        signature: URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|e| format!("signature: not base64url: {e}"))?,
    })
}

/// A numeric claim (Keycloak also reads a number sent as a string).
fn number(claims: &Value, name: &str) -> Option<i64> {
    match &claims[name] {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// `JWTClientAuthenticator#authenticateClient` for a request whose client, so far, is
/// `named` (by the form's `client_id` or HTTP Basic), remembering accepted `jti`s in `seen`.
pub(super) fn attempt<'a>(
    realm: &'a Realm,
    req: &ClientRequest,
    named: Option<&'a Client>,
    seen: &JtiCache,
) -> Outcome<'a> {
    let form = &req.auth_form;
    // Before the assertion names a client, a refusal counts only if `named` uses client-jwt.
    let early = |refusal: Refusal| match named.filter(|c| uses_jwt(c)) {
        Some(_) => Outcome::Decided(Err(refusal)),
        None => Outcome::Pass,
    };
    let generic = |reason: String| Refusal::new(OAuthError::invalid_client(), reason);
    match form.first("client_assertion_type") {
        None => {
            return early(bad(
                "Parameter client_assertion_type is missing",
                "no client_assertion_type in the form",
            ));
        }
        Some(t) if t != ASSERTION_TYPE => {
            return early(bad(
                format!(
                    "Parameter client_assertion_type has value '{t}' but expected is '{ASSERTION_TYPE}'"
                ),
                "wrong client_assertion_type",
            ));
        }
        Some(_) => {}
    }
    let Some(assertion) = form.first("client_assertion") else {
        return early(bad(
            "client_assertion parameter missing",
            "no client_assertion in the form",
        ));
    };
    let jws = match parse(assertion) {
        Ok(jws) => jws,
        Err(e) => {
            return early(bad(
                format!("Client authentication with signed JWT failed: {e}"),
                format!("client_assertion unreadable: {e}"),
            ));
        }
    };
    let (sub, iss) = (jws.claims["sub"].as_str(), jws.claims["iss"].as_str());
    let Some(sub) = sub.filter(|s| Some(*s) == iss) else {
        return early(generic(format!(
            "client_assertion: sub {sub:?} must be present and equal iss {iss:?}"
        )));
    };
    if let Some(id) = form.first("client_id").filter(|id| *id != sub) {
        return early(bad(
            "client_id parameter does not match authenticated client",
            format!("form client_id '{id}' but the assertion's sub is '{sub}'"),
        ));
    }
    let Some(client) = realm.client_by_client_id(sub) else {
        return early(generic(format!(
            "client_assertion names unknown client '{sub}'"
        )));
    };
    let Authenticator::Jwt(config) = &client.authenticator else {
        return Outcome::Named(client);
    };
    if client.public_client {
        return Outcome::Named(client);
    }
    Outcome::Decided(verify(realm, req, client, config, &jws, seen))
}

/// The checks once the assertion named a `client-jwt` client.
fn verify(
    realm: &Realm,
    req: &ClientRequest,
    client: &Client,
    config: &JwtConfig,
    jws: &Jws<'_>,
    seen: &JtiCache,
) -> Result<Authenticated, Refusal> {
    let id = &client.client_id;
    if !client.enabled {
        return Err(super::disabled(client));
    }
    let alg = jws.header["alg"].as_str().unwrap_or("");
    if !ALGORITHMS.contains(&alg) || config.signing_alg.as_deref().is_some_and(|a| a != alg) {
        return Err(bad(
            "Invalid signature algorithm",
            format!(
                "client '{id}': assertion alg '{alg}' (allowed: asymmetric{})",
                config
                    .signing_alg
                    .as_deref()
                    .map(|a| format!(", and only {a} for this client"))
                    .unwrap_or_default()
            ),
        ));
    }
    let kid = jws.header["kid"].as_str();
    let key = match kid {
        Some(kid) => config.keys.iter().find(|k| k.kid.as_deref() == Some(kid)),
        None => config.keys.first(),
    };
    let Some(key) = key else {
        if let Some(words) = config.unreadable {
            return Err(bad(
                words,
                format!("client '{id}': its {CERTIFICATE} is no certificate (a placeholder kept?)"),
            ));
        }
        return Err(bad(
            "Unable to load public key",
            format!("client '{id}': no registered key for kid {kid:?}"),
        ));
    };
    if key.alg != alg || !signature_valid(key, jws.signing_input.as_bytes(), &jws.signature) {
        return Err(bad(
            "Client authentication with signed JWT failed: Signature on JWT token failed validation",
            format!(
                "client '{id}': the signature does not verify with the registered key ({}, header alg {alg})",
                key.alg
            ),
        ));
    }
    claims_valid(realm, req, client, &jws.claims, seen)?;
    Ok(authenticated(client, Method::PrivateKeyJwt))
}

/// Verifies with the key's own algorithm, which must be the header's (observed: a PS256 or
/// RS512 assertion against an RSA certificate, whose key is RS256, fails as a bad signature,
/// whether signed with PS256/RS512 or with RS256).
fn signature_valid(key: &JwtKey, message: &[u8], sig: &[u8]) -> bool {
    let rsa = |alg: &'static signature::RsaParameters, n: &[u8], e: &[u8]| {
        RsaPublicKeyComponents { n, e }
            .verify(alg, message, sig)
            .is_ok()
    };
    match (&key.key, key.alg.as_str()) {
        (JwtPublicKey::Rsa { n, e }, alg) => match alg {
            "RS256" => rsa(&signature::RSA_PKCS1_2048_8192_SHA256, n, e),
            "RS384" => rsa(&signature::RSA_PKCS1_2048_8192_SHA384, n, e),
            "RS512" => rsa(&signature::RSA_PKCS1_2048_8192_SHA512, n, e),
            "PS256" => rsa(&signature::RSA_PSS_2048_8192_SHA256, n, e),
            "PS384" => rsa(&signature::RSA_PSS_2048_8192_SHA384, n, e),
            "PS512" => rsa(&signature::RSA_PSS_2048_8192_SHA512, n, e),
            _ => false,
        },
        (JwtPublicKey::P256(point), "ES256") => {
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(message, sig)
                .is_ok()
        }
        (JwtPublicKey::P384(point), "ES384") => {
            UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point)
                .verify(message, sig)
                .is_ok()
        }
        (JwtPublicKey::Ed25519(k), "EdDSA") => UnparsedPublicKey::new(&signature::ED25519, k)
            .verify(message, sig)
            .is_ok(),
        _ => false,
    }
}

/// The audiences Keycloak accepts: the issuer and its token, introspection, PAR and CIBA
/// endpoints (observed; revocation and userinfo are refused).
fn audiences(issuer: &str) -> [String; 5] {
    let oidc = format!("{issuer}/protocol/openid-connect");
    [
        issuer.to_owned(),
        format!("{oidc}/token"),
        format!("{oidc}/token/introspect"),
        format!("{oidc}/ext/par/request"),
        format!("{oidc}/ext/ciba/auth"),
    ]
}

/// `aud`, then the times, then `jti` (Keycloak's order, observed with claims wrong together).
fn claims_valid(
    realm: &Realm,
    req: &ClientRequest,
    client: &Client,
    claims: &Value,
    seen: &JtiCache,
) -> Result<(), Refusal> {
    let id = &client.client_id;
    let aud: Vec<&str> = match &claims["aud"] {
        Value::String(a) => vec![a],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if aud.len() > 1 {
        return Err(bad(
            "Multiple audiences not allowed",
            format!("client '{id}': aud {aud:?}"),
        ));
    }
    let issuer = playbook::names::issuer_for(&req.base, &realm.name);
    if !aud
        .first()
        .is_some_and(|a| audiences(&issuer).iter().any(|x| x == a))
    {
        return Err(bad(
            "Invalid token audience",
            format!(
                "client '{id}': aud {aud:?} is not the issuer {issuer} or one of its endpoints"
            ),
        ));
    }
    let now = crate::clock::now();
    let Some(exp) = number(claims, "exp") else {
        return Err(bad(
            "Token exp claim is required",
            format!("client '{id}': no exp"),
        ));
    };
    let nbf = number(claims, "nbf");
    if exp < now || nbf.is_some_and(|nbf| nbf - CLOCK_SKEW > now) {
        return Err(bad(
            "Token is not active",
            format!("client '{id}': exp {exp}, nbf {nbf:?}, now {now}"),
        ));
    }
    match number(claims, "iat") {
        Some(iat) if iat - CLOCK_SKEW > now => {
            return Err(bad(
                "Token was issued in the future",
                format!("client '{id}': iat {iat}, now {now}"),
            ));
        }
        Some(iat) if now - iat > MAX_AGE => {
            return Err(bad(
                "Token was issued too far in the past to be used now",
                format!("client '{id}': iat {iat} more than {MAX_AGE} s before now {now}"),
            ));
        }
        None if exp - now > MAX_AGE => {
            return Err(bad(
                "Token expiration is too far in the future and iat claim not present in token",
                format!(
                    "client '{id}': no iat and exp {exp} more than {MAX_AGE} s after now {now}"
                ),
            ));
        }
        _ => {}
    }
    let Some(jti) = claims["jti"].as_str() else {
        return Err(bad(
            "Token jti claim is required",
            format!("client '{id}': no jti"),
        ));
    };
    let (now, exp) = (
        u64::try_from(now).unwrap_or(0),
        u64::try_from(exp).unwrap_or(0),
    );
    seen.check(jti, exp, now).map_err(|why| {
        bad(
            "Token reuse detected",
            match why {
                Reuse::Replayed => format!("client '{id}': jti '{jti}' was used before"),
                Reuse::Full => format!(
                    "client '{id}': the jti cache is full of live assertions; refused rather than forget one"
                ),
            },
        )
    })
}
