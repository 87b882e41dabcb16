//! Scenarios of the documents a client reads before it asks for a token: discovery (OpenID
//! Connect Discovery 1.0, RFC 8414, with RFC 8705's `mtls_endpoint_aliases`), the JWKS
//! (RFC 7517), and health on the management interface.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use playbook::names::USERS_READ_SCOPE;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::Fixture;
use super::helpers::{http, issuer, send, token_url};

/// The discovery document names the realm's endpoints, the mTLS aliases, and the methods.
pub async fn discovery_document(f: &Fixture) {
    let url = format!("{}/.well-known/openid-configuration", issuer(f));
    let a = send(http(f, None).get(url)).await;
    assert_eq!(a.status, StatusCode::OK);
    let d = a.body;
    let iss = issuer(f);
    let p = format!("{iss}/protocol/openid-connect");
    assert_eq!(d["issuer"], json!(iss));
    assert_eq!(d["token_endpoint"], json!(format!("{p}/token")));
    assert_eq!(d["jwks_uri"], json!(format!("{p}/certs")));
    assert_eq!(
        d["introspection_endpoint"],
        json!(format!("{p}/token/introspect"))
    );
    assert_eq!(d["tls_client_certificate_bound_access_tokens"], json!(true));
    assert_eq!(
        d["mtls_endpoint_aliases"]["token_endpoint"],
        d["token_endpoint"]
    );
    assert_eq!(
        d["mtls_endpoint_aliases"]["introspection_endpoint"],
        d["introspection_endpoint"]
    );
    let has = |field: &str, v: &str| {
        assert!(
            d[field].as_array().is_some_and(|a| a.contains(&json!(v))),
            "{field} contains {v}: {}",
            d[field]
        )
    };
    for m in [
        "tls_client_auth",
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    ] {
        has("token_endpoint_auth_methods_supported", m);
        has("introspection_endpoint_auth_methods_supported", m);
    }
    assert!(
        !d["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("self_signed_tls_client_auth")),
        "Keycloak has no self_signed_tls_client_auth"
    );
    has("grant_types_supported", "client_credentials");
    has("grant_types_supported", "password");
    has("scopes_supported", "openid");
    has("scopes_supported", USERS_READ_SCOPE);
    has("id_token_signing_alg_values_supported", "RS256");
    assert!(
        d.get("token_introspection_endpoint").is_none(),
        "26.x has only introspection_endpoint"
    );
    // Unknown realm: 404.
    let a = send(http(f, None).get(format!(
        "{}/realms/no-such-realm/.well-known/openid-configuration",
        f.base_url
    )))
    .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

/// Discovery asked for with an `Origin` (a browser app), and the RFC 8414 document.
pub async fn discovery_variants(f: &Fixture) {
    let client = http(f, None);
    let a = send(
        client
            .get(format!("{}/.well-known/openid-configuration", issuer(f)))
            .header("origin", "https://app.example.test"),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    let a = send(client.get(format!(
        "{}/.well-known/oauth-authorization-server",
        issuer(f)
    )))
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["issuer"], json!(issuer(f)));
    assert_eq!(a.body["token_endpoint"], json!(token_url(f)));
}

/// The JWKS has the RS256 signing key; kid = base64url(SHA-256(SPKI)); x5c/x5t#S256 agree.
pub async fn jwks_keys(f: &Fixture) {
    let url = format!("{}/protocol/openid-connect/certs", issuer(f));
    let a = send(http(f, None).get(&url)).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(
        a.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let jwks = a.body;
    let keys = jwks["keys"].as_array().expect("keys");
    let sig: Vec<&Value> = keys
        .iter()
        .filter(|k| k["use"] == "sig" && k["alg"] == "RS256")
        .collect();
    assert_eq!(sig.len(), 1, "one RS256 signing key: {jwks}");
    let k = sig[0];
    assert_eq!(k["kty"], "RSA");
    assert_eq!(k["e"], "AQAB");
    let kid = k["kid"].as_str().expect("kid");
    assert_eq!(kid.len(), 43, "base64url SHA-256");
    let der = STANDARD
        .decode(k["x5c"][0].as_str().expect("x5c"))
        .expect("x5c is standard base64 DER");
    assert_eq!(k["x5t#S256"], json!(playbook::rfc8705::thumbprint(&der)));
    // KeyUtils#createKeyId: SHA-256 over the certificate's SubjectPublicKeyInfo.
    let (_, cert) = x509_parser::parse_x509_certificate(&der).expect("x5c parses");
    let spki = cert.tbs_certificate.subject_pki.raw;
    let expected_kid =
        URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, spki));
    assert_eq!(kid, expected_kid);
    // The modulus in `n` is the certificate's key.
    let n = URL_SAFE_NO_PAD.decode(k["n"].as_str().unwrap()).expect("n");
    assert_eq!(n.len(), 256, "RSA-2048");
    // Accept: application/jwk-set+json switches the content type.
    let a = send(
        http(f, None)
            .get(&url)
            .header("accept", "application/jwk-set+json"),
    )
    .await;
    let content_type = a.headers["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("application/jwk-set+json"),
        "{content_type}"
    );
}

/// Health answers on the management interface.
pub async fn health_endpoints(f: &Fixture) {
    for path in [
        "/health/ready",
        "/health/live",
        "/health/started",
        "/health",
    ] {
        let a = send(http(f, None).get(format!("{}{path}", f.management_url))).await;
        assert_eq!(a.status, StatusCode::OK, "{path}");
        let v = a.body;
        assert_eq!(v["status"], "UP", "{path}: {v}");
    }
}
