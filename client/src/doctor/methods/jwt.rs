//! `private_key_jwt`'s own checks (Keycloak's `client-jwt`), each a verdict keyed by its
//! check id: the key file, its certificate, a person's own assertion read as Keycloak 26.7.5
//! reads it (the rules of `oauth2-provider/src/client_auth/jwt.rs`, each observed on the live
//! server), the key the realm registers, and the algorithm the client allows.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use playbook::rfc7523::AssertionKey;
use serde_json::{Value, json};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

use crate::doctor::Verdict;
use crate::token::{AccessToken, DecodedJwt};

/// `nbf` and `iat` may be this far in the future (seconds), as Keycloak allows.
const CLOCK_SKEW: i64 = 15;
/// The oldest `iat` Keycloak accepts, and without `iat` the farthest `exp` (seconds).
const MAX_AGE: i64 = playbook::rfc7523::LIFETIME_SECS as i64;
/// The algorithms Keycloak accepts in an assertion's header (asymmetric ones only).
const ALGORITHMS: [&str; 10] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
];

/// The key file, read as the client reads it for `--auth private-key-jwt`.
pub fn key(path: &Path) -> Result<AssertionKey, (String, String)> {
    let fix = format!(
        "pass the client's private key as PKCS#8 PEM with --jwt-key (JWT_KEY): RSA, ECDSA P-256 or Ed25519 (`openssl pkcs8 -topk8 -nocrypt -in KEY` converts one); `client certs` writes {}",
        playbook::names::JWT_KEY_FILE
    );
    let der = playbook::pem::load_key(path)
        .map_err(|e| (format!("{}: {e}", path.display()), fix.clone()))?;
    AssertionKey::from_pkcs8_der(der.secret_der())
        .map_err(|e| (format!("{}: {e}", path.display()), fix))
}

/// The public key of a certificate (DER) as a JWK, to compare with a key's.
pub fn certificate_jwk(der: &[u8]) -> Option<Value> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let spki = cert.public_key();
    let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
    let strip = |b: &[u8]| b[b.iter().position(|&x| x != 0).unwrap_or(b.len())..].to_vec();
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => Some(
            json!({"kty": "RSA", "n": b64(&strip(rsa.modulus)), "e": b64(&strip(rsa.exponent))}),
        ),
        Ok(PublicKey::EC(point)) if point.data().len() == 65 => {
            let p = point.data();
            Some(json!({"kty": "EC", "crv": "P-256", "x": b64(&p[1..33]), "y": b64(&p[33..65])}))
        }
        _ if spki.algorithm.algorithm.to_id_string() == "1.3.101.112" => {
            Some(json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&spki.subject_public_key.data)}))
        }
        _ => None,
    }
}

/// Whether two JWKs hold the same public key (their `kid`, `use` and `alg` aside).
pub fn same_key(a: &Value, b: &Value) -> bool {
    ["kty", "crv", "n", "e", "x", "y"]
        .iter()
        .all(|m| a.get(*m) == b.get(*m))
}

/// `--jwt-cert`: the certificate of the key, the one the realm registers.
pub fn key_matches(key: &AssertionKey, cert: &Path) -> Verdict {
    if !cert.exists() {
        return Ok(format!(
            "no certificate at {} (a realm with a JWKS instead needs none): the key the realm registers is compared online",
            cert.display()
        ));
    }
    let der = playbook::pem::load_certs(cert)
        .ok()
        .and_then(|c| c.into_iter().next());
    let Some(jwk) = der.as_deref().and_then(certificate_jwk) else {
        return Err((
            format!(
                "{}: not a certificate with an RSA, P-256 or Ed25519 key",
                cert.display()
            ),
            "pass the certificate made with the key (--jwt-cert, JWT_CERT)".into(),
        ));
    };
    if same_key(&jwk, &key.public_jwk()) {
        Ok(format!("{} holds this key's public half", cert.display()))
    } else {
        Err((
            format!("{} holds another key: registered at the realm, it verifies no assertion this key signs", cert.display()),
            "pass the certificate made with this key (certs/NAME.pem beside certs/NAME.key.pem), and register that one as jwt.credential.certificate".into(),
        ))
    }
}

/// The audiences Keycloak accepts in an assertion: the issuer and its endpoints (observed:
/// token, introspection, PAR, CIBA).
fn audiences(issuer: &str) -> Vec<String> {
    let oidc = format!("{issuer}/protocol/openid-connect");
    vec![
        issuer.to_owned(),
        format!("{oidc}/token"),
        format!("{oidc}/token/introspect"),
        format!("{oidc}/ext/par/request"),
        format!("{oidc}/ext/ciba/auth"),
    ]
}

fn number(claims: &Value, name: &str) -> Option<i64> {
    match &claims[name] {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A problem of an assertion: the check it fails, what was found and the fix.
pub type Problem = (&'static str, (String, String));

/// A person's assertion read as Keycloak reads it, at `now`: the problems found, each with
/// the check it fails, in Keycloak's order (algorithm, audience, times, `jti`); a summary when
/// there is none.
pub fn assertion(
    text: &str,
    client_id: &str,
    issuer: &str,
    key_alg: Option<&str>,
    now: i64,
) -> Result<String, Vec<Problem>> {
    let jwt = DecodedJwt::decode(&AccessToken::new(text.trim())).map_err(|e| {
        vec![(
            "jwt-claims",
            (
                format!("--assertion is not a JWT: {e}"),
                "pass the compact JWS your code sends as client_assertion (three base64url parts)"
                    .into(),
            ),
        )]
    })?;
    let (h, c) = (&jwt.header, &jwt.claims);
    let mut problems = Vec::new();
    let alg = h["alg"].as_str().unwrap_or("");
    if !ALGORITHMS.contains(&alg) {
        problems.push(("jwt-alg", (
            format!("alg {alg:?}: Keycloak takes asymmetric algorithms only ({})", ALGORITHMS.join(", ")),
            "sign with the client's private key (RS256 for an RSA key, ES256 for P-256, EdDSA for Ed25519), never HS256 or none".into(),
        )));
    } else if key_alg.is_some_and(|k| k != alg) {
        problems.push(("jwt-alg", (
            format!("alg {alg} but the key signs {}: a registered certificate verifies with its key type's algorithm only", key_alg.unwrap_or("")),
            format!("sign with {} (the key's algorithm)", key_alg.unwrap_or("")),
        )));
    }
    let (iss, sub) = (c["iss"].as_str(), c["sub"].as_str());
    if iss != Some(client_id) || sub != Some(client_id) {
        problems.push((
            "jwt-claims",
            (
                format!("iss {iss:?}, sub {sub:?}: both must be the client id {client_id:?}"),
                format!("set iss and sub to {client_id}"),
            ),
        ));
    }
    let aud: Vec<&str> = match &c["aud"] {
        Value::String(a) => vec![a],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let allowed = audiences(issuer);
    if aud.len() != 1 || !allowed.iter().any(|a| a == aud[0]) {
        problems.push(("jwt-audience", (
            format!("aud {aud:?}: Keycloak wants one audience, the issuer or one of its endpoints"),
            format!("set aud to the issuer, {issuer}, as one string (the issuer Keycloak computes: behind a proxy, its public URL)"),
        )));
    }
    let lifetime = |detail: String, fix: &str| ("jwt-lifetime", (detail, fix.to_owned()));
    let (exp, iat, nbf) = (number(c, "exp"), number(c, "iat"), number(c, "nbf"));
    match exp {
        None => problems.push(lifetime("no exp".into(), "set exp: now + 60 s at most")),
        Some(exp) if exp < now => problems.push(lifetime(
            format!("expired {} s ago (exp {exp})", now - exp),
            "make a new assertion for each token request (exp a minute ahead); check this machine's clock",
        )),
        Some(exp) if iat.is_none() && exp - now > MAX_AGE => problems.push(lifetime(
            format!("no iat, and exp {} s away: without iat Keycloak takes at most {MAX_AGE} s", exp - now),
            "set iat to now, or exp at most 60 s ahead",
        )),
        Some(_) => {}
    }
    if let Some(iat) = iat {
        if iat - CLOCK_SKEW > now {
            problems.push(lifetime(
                format!("iat {} s in the future", iat - now),
                "check the clocks (NTP): Keycloak allows 15 s",
            ));
        } else if now - iat > MAX_AGE {
            problems.push(lifetime(
                format!(
                    "iat {} s ago: Keycloak takes an assertion at most {MAX_AGE} s old",
                    now - iat
                ),
                "make a new assertion for each token request, not one kept for later",
            ));
        }
    }
    if nbf.is_some_and(|nbf| nbf - CLOCK_SKEW > now) {
        problems.push(lifetime(
            "nbf in the future".into(),
            "drop nbf, or set it to now",
        ));
    }
    let Some(jti) = c["jti"].as_str() else {
        problems.push(("jwt-replay", (
            "no jti".into(),
            "set jti to a new random value for each assertion: Keycloak refuses an assertion without one, and one it has seen".into(),
        )));
        return Err(problems);
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(format!(
        "alg {alg}, iss = sub = {client_id}, aud {}, expires in {} s, jti {jti} (Keycloak takes it once)",
        aud[0],
        exp.unwrap_or(now) - now
    ))
}

/// The keys the realm registers for the client, as JWKs: from `jwks.string` (signing keys
/// only) when `use.jwks.string` is on, else from `jwt.credential.certificate`; none with
/// `use.jwks.url` (Keycloak fetches them). `Err`: none Keycloak can use.
pub fn registered_keys(attributes: &Value) -> Result<Vec<Value>, (String, String)> {
    let attr = |k: &str| attributes[k].as_str().map(str::trim).unwrap_or("");
    let on = |k: &str| attr(k).eq_ignore_ascii_case("true");
    let fix = "register the client's certificate (Credentials → Signed JWT → Keys: jwt.credential.certificate, the base64 DER of --jwt-cert), or its JWKS with \"use\": \"sig\"";
    if on("use.jwks.url") {
        // Fetched by Keycloak: nothing here to compare.
        return Ok(Vec::new());
    }
    if on("use.jwks.string") {
        let jwks: Value = serde_json::from_str(attr("jwks.string")).unwrap_or_default();
        let keys: Vec<Value> = jwks["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|k| k["use"] == "sig")
            .cloned()
            .collect();
        if keys.is_empty() {
            return Err((
                "jwks.string holds no key with \"use\": \"sig\" (Keycloak finds no other)".into(),
                fix.into(),
            ));
        }
        return Ok(keys);
    }
    let cert = attr("jwt.credential.certificate");
    let body: String = cert
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.split_whitespace())
        .collect();
    match STANDARD
        .decode(body)
        .ok()
        .as_deref()
        .and_then(certificate_jwk)
    {
        Some(jwk) => Ok(vec![jwk]),
        None if cert.is_empty() => Err((
            "no jwt.credential.certificate: Keycloak answers \"Unable to load public key\"".into(),
            fix.into(),
        )),
        None => Err((
            "jwt.credential.certificate is not a certificate Keycloak can use".into(),
            fix.into(),
        )),
    }
}

/// `token.endpoint.auth.signing.alg` against the key's algorithm.
pub fn signing_alg(attributes: &Value, key_alg: &str) -> Verdict {
    match attributes["token.endpoint.auth.signing.alg"]
        .as_str()
        .filter(|a| !a.is_empty())
    {
        None => Ok(format!(
            "not set: any asymmetric algorithm, {key_alg} among them"
        )),
        Some(a) if a == key_alg => Ok(format!("{a}, this key's")),
        Some(a) => Err((
            format!(
                "the client takes only {a}; this key signs {key_alg}: Keycloak answers \"Invalid signature algorithm\""
            ),
            format!(
                "set token.endpoint.auth.signing.alg to {key_alg} or leave it empty (Credentials → Signature algorithm), or sign with a key of {a}"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "https://localhost:9443/realms/oauth2-playbook";
    const NOW: i64 = 1_800_000_000;

    /// An unsigned JWS of `claims` with `alg` (the doctor reads, the server verifies).
    fn jws(alg: &str, claims: Value) -> String {
        let b = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "{}.{}.c2ln",
            b(json!({"alg": alg, "typ": "JWT"})),
            b(claims)
        )
    }

    fn good() -> Value {
        json!({"iss": "c", "sub": "c", "aud": ISSUER, "exp": NOW + 50, "iat": NOW, "jti": "j1"})
    }

    /// The checks each problem fails, for `claims` changed by `change`.
    fn problems(alg: &str, change: impl FnOnce(&mut Value)) -> Vec<&'static str> {
        let mut c = good();
        change(&mut c);
        match assertion(&jws(alg, c), "c", ISSUER, Some("RS256"), NOW) {
            Ok(_) => Vec::new(),
            Err(p) => p.into_iter().map(|(id, _)| id).collect(),
        }
    }

    #[test]
    fn each_rule_keycloak_applies_to_an_assertion_names_its_check() {
        assert_eq!(problems("RS256", |_| {}), Vec::<&str>::new());
        assert_eq!(problems("HS256", |_| {}), ["jwt-alg"]);
        assert_eq!(
            problems("ES256", |_| {}),
            ["jwt-alg"],
            "not the key's algorithm"
        );
        assert_eq!(
            problems("RS256", |c| c["sub"] = json!("other")),
            ["jwt-claims"]
        );
        assert_eq!(
            problems("RS256", |c| c["aud"] = json!([ISSUER, "x"])),
            ["jwt-audience"]
        );
        assert_eq!(
            problems("RS256", |c| c["aud"] =
                json!(format!("{ISSUER}/protocol/openid-connect/token"))),
            Vec::<&str>::new()
        );
        assert_eq!(
            problems("RS256", |c| c["aud"] =
                json!(format!("{ISSUER}/protocol/openid-connect/userinfo"))),
            ["jwt-audience"]
        );
        assert_eq!(
            problems("RS256", |c| c["exp"] = json!(NOW - 1)),
            ["jwt-lifetime"]
        );
        assert_eq!(
            problems("RS256", |c| c["iat"] = json!(NOW + 16)),
            ["jwt-lifetime"]
        );
        assert_eq!(
            problems("RS256", |c| c["iat"] = json!(NOW + 14)),
            Vec::<&str>::new(),
            "15 s of skew"
        );
        assert_eq!(
            problems("RS256", |c| c["iat"] = json!(NOW - 61)),
            ["jwt-lifetime"]
        );
        let no_iat = |far: i64| {
            move |c: &mut Value| {
                c.as_object_mut().unwrap().remove("iat");
                c["exp"] = json!(NOW + far);
            }
        };
        assert_eq!(problems("RS256", no_iat(300)), ["jwt-lifetime"]);
        assert_eq!(problems("RS256", no_iat(50)), Vec::<&str>::new());
        assert_eq!(
            problems("RS256", |c| {
                c.as_object_mut().unwrap().remove("jti");
            }),
            ["jwt-replay"]
        );
        assert!(assertion("not a jwt", "c", ISSUER, None, NOW).is_err());
    }

    #[test]
    fn the_registered_key_is_read_from_the_certificate_or_the_jwks_signing_keys() {
        let pki = playbook::pki::DevPki::generate(2, 1).unwrap();
        let cert = STANDARD.encode(&pki.client.cert_der);
        let from_cert = registered_keys(&json!({"jwt.credential.certificate": cert})).unwrap();
        assert_eq!(
            from_cert,
            vec![certificate_jwk(&pki.client.cert_der).unwrap()]
        );
        assert!(!same_key(
            &from_cert[0],
            &certificate_jwk(&pki.other_client.cert_der).unwrap()
        ));
        let mut sig = from_cert[0].clone();
        sig["use"] = json!("sig");
        sig["kid"] = json!("k");
        let jwks = json!({"keys": [sig]}).to_string();
        let keys =
            registered_keys(&json!({"use.jwks.string": "true", "jwks.string": jwks})).unwrap();
        assert!(same_key(&keys[0], &from_cert[0]), "kid and use aside");
        let unused = json!({"keys": [from_cert[0]]}).to_string();
        assert!(
            registered_keys(&json!({"use.jwks.string": "true", "jwks.string": unused})).is_err(),
            "no use: sig"
        );
        assert!(registered_keys(&json!({})).is_err());
        assert!(
            signing_alg(
                &json!({"token.endpoint.auth.signing.alg": "ES256"}),
                "RS256"
            )
            .is_err()
        );
        assert!(signing_alg(&json!({}), "RS256").is_ok());
    }
}
