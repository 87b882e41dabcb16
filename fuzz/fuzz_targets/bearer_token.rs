//! The resource server's bearer-token path: the `Authorization` header (RFC 6750 §2.1),
//! then the whole validator (JWS header checks, key lookup, signature, claims, `cnf`) and
//! the RFC 8705 binding check, offline: the key set is installed, not fetched.
//!
//! The first byte picks what the rest is:
//! - 0: the raw `Authorization` header value (and the query string after a `?`);
//! - 1: a token's claims (payload bytes), signed here with the installed ES256 key, so the
//!   fuzzer reaches the claim checks that a forged signature never would;
//! - 2: a token's JWS header bytes, signed likewise over fixed valid claims;
//! - else: a raw token string.
//!
//! `cargo +nightly fuzz run bearer_token` (from `fuzz/`).

#![no_main]

use std::sync::{Arc, OnceLock};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use playbook::server::Connection;
use resource_server::auth::{Validator, bearer_token, check_binding};
use resource_server::jwks::{KeySet, KeyStore};

const ISSUER: &str = "https://127.0.0.1:1/realms/fuzz";

struct Fixture {
    runtime: tokio::runtime::Runtime,
    validator: Validator,
    key: EcdsaKeyPair,
    connection: Connection,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        playbook::install_crypto_provider();
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("EC key");
        let point = key.public_key().as_ref();
        let jwks = serde_json::json!({"keys": [{
            "kid": "k1", "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..]),
        }]});
        let config = resource_server::Config::new(ISSUER, Vec::new());
        // Nothing listens on port 1: a refetch for an unknown kid fails at once and then
        // backs off, so the target stays offline.
        let keys = Arc::new(KeyStore::new(reqwest::Client::new(), &config));
        keys.install(KeySet::parse("https://127.0.0.1:1/certs", jwks).expect("JWKS"));
        let validator = Validator::new(&config, keys);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let pki = playbook::pki::DevPki::generate(1, 1).expect("dev PKI");
        let connection = Connection::new(
            ([127, 0, 0, 1], 1).into(),
            Some(Arc::from(vec![pki.client.cert_der.clone()])),
        );
        Fixture {
            runtime,
            validator,
            key,
            connection,
        }
    })
}

fn signed(key: &EcdsaKeyPair, header: &[u8], claims: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let signature = key
        .sign(&SystemRandom::new(), input.as_bytes())
        .expect("EC signature");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
}

fn validate(f: &Fixture, token: &str) {
    if let Ok((validated, _)) = f.runtime.block_on(f.validator.validate(token)) {
        let _ = check_binding(&validated.claims, &f.connection, false);
        let _ = check_binding(&validated.claims, &f.connection, true);
    }
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode {
        0 => {
            let (value, query) = match rest.iter().position(|b| *b == b'?') {
                Some(i) => (&rest[..i], std::str::from_utf8(&rest[i + 1..]).ok()),
                None => (rest, None),
            };
            let Ok(value) = HeaderValue::from_bytes(value) else {
                return;
            };
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value);
            if let Ok(token) = bearer_token(&headers, query) {
                validate(f, token);
            }
        }
        1 => {
            let header = br#"{"alg":"ES256","typ":"JWT","kid":"k1"}"#;
            validate(f, &signed(&f.key, header, rest));
        }
        2 => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_secs();
            let claims = serde_json::json!({
                "iss": ISSUER, "exp": now + 300, "iat": now, "typ": "Bearer", "azp": "c",
            });
            validate(f, &signed(&f.key, rest, claims.to_string().as_bytes()));
        }
        _ => {
            if let Ok(token) = std::str::from_utf8(rest) {
                validate(f, token);
            }
        }
    }
});
