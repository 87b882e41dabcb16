//! `private_key_jwt` (RFC 7523 §2.2, OpenID Connect Core §9) at the token endpoint, as
//! Keycloak 26.7.5's `client-jwt` authenticator answers: which audiences, times and keys it
//! accepts, how it refuses each broken assertion, a `jti` never twice, and which
//! authenticator answers when the request names clients in several ways. Every scenario uses
//! throwaway clients whose keys it makes (the realm's own `client-jwt` client has the key of
//! `client certs`, which a scenario cannot know).

use playbook::names::{MTLS_CLIENT_ID, SECRET_CLIENT_ID};
use playbook::pki::KeyType;
use playbook::rfc7523::{ASSERTION_TYPE, AssertionKey};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::Fixture;
use super::admin_api::{Admin, Throwaway};
use super::helpers::*;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// A key pair of `key_type`: the signing key, its self-signed certificate (base64 DER, as
/// Keycloak stores `jwt.credential.certificate`) and Keycloak's `kid` for it (the SHA-256
/// of the SubjectPublicKeyInfo).
struct ClientKey {
    key: AssertionKey,
    certificate: String,
    kid: String,
}

fn client_key(key_type: KeyType) -> ClientKey {
    use base64::Engine as _;
    use rcgen::PublicKeyData as _;
    let pair = key_type.generate().expect("key pair");
    let cert = rcgen::CertificateParams::new(vec!["client-jwt-scenario".to_owned()])
        .expect("params")
        .self_signed(&pair)
        .expect("self-signed certificate");
    let digest =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &pair.subject_public_key_info());
    ClientKey {
        key: AssertionKey::from_pkcs8_der(&pair.serialize_der()).expect("signing key"),
        certificate: base64::engine::general_purpose::STANDARD.encode(cert.der()),
        kid: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest),
    }
}

/// A confidential `client-jwt` client with a service account and `attributes`.
fn jwt_client(attributes: Value) -> Value {
    json!({
        "enabled": true,
        "publicClient": false,
        "serviceAccountsEnabled": true,
        "standardFlowEnabled": false,
        "clientAuthenticatorType": "client-jwt",
        "attributes": attributes,
    })
}

fn cert_client(key: &ClientKey) -> Value {
    jwt_client(json!({"jwt.credential.certificate": key.certificate, "use.jwks.url": "false"}))
}

/// Good claims for `client_id` (aud the issuer, `exp` 30 s away, a fresh `jti`), then each
/// of `changes` set (or removed, for `null`).
fn claims(f: &Fixture, client_id: &str, changes: Value) -> Value {
    let now = now();
    let mut c = json!({
        "iss": client_id,
        "sub": client_id,
        "aud": issuer(f),
        "exp": now + 30,
        "iat": now,
        "jti": uuid::Uuid::new_v4().to_string(),
    });
    for (k, v) in changes.as_object().expect("an object") {
        if v.is_null() {
            c.as_object_mut().expect("object").remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

fn rs256() -> Value {
    json!({"alg": "RS256", "typ": "JWT"})
}

/// The form of a `private_key_jwt` request: grant, assertion type and assertion, and more.
async fn assertion_request(f: &Fixture, assertion: &str, extra: &[(&str, &str)]) -> Answer {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion),
    ];
    form.extend_from_slice(extra);
    post_form(&http(f, None), &token_url(f), &form).await
}

/// A form as data: names and values.
type Form = Vec<(&'static str, String)>;

#[track_caller]
fn assert_granted(a: &Answer, client_id: &str, context: &str) {
    assert_eq!(a.status, StatusCode::OK, "{context}: {}", a.body);
    assert_eq!(a.body["token_type"], "Bearer", "{context}");
    let c = super::helpers::claims(a.str("access_token"));
    assert_eq!(c["azp"], client_id, "{context}");
    assert!(c.get("cnf").is_none(), "{context}: not bound: {c}");
}

/// Good assertions: each key type as a certificate, the `kid` Keycloak computes (or none),
/// every audience it accepts, a one-element `aud` array, any `typ`, and HTTP Basic naming
/// the client beside the assertion. Tokens are Bearer, not bound.
pub async fn client_jwt_token_response(f: &Fixture) {
    let admin = Admin::login(f).await;
    for key_type in [KeyType::Rsa2048, KeyType::EcdsaP256, KeyType::Ed25519] {
        let key = client_key(key_type);
        admin
            .with_throwaway_client("jwt", cert_client(&key), |t: Throwaway| async move {
                let header = json!({"alg": key.key.alg()});
                let a = assertion_request(
                    f,
                    &key.key.sign(&header, &claims(f, &t.client_id, json!({}))),
                    &[],
                )
                .await;
                assert_granted(&a, &t.client_id, &format!("{key_type}"));
                a.assert_no_store();
                if key_type != KeyType::Rsa2048 {
                    return;
                }
                let oidc = format!("{}/protocol/openid-connect", issuer(f));
                let accepted = [
                    json!(token_url(f)),
                    json!(format!("{oidc}/token/introspect")),
                    json!(format!("{oidc}/ext/par/request")),
                    json!(format!("{oidc}/ext/ciba/auth")),
                    json!([issuer(f)]),
                ];
                for aud in accepted {
                    let c = claims(f, &t.client_id, json!({"aud": aud}));
                    let a = assertion_request(f, &key.key.sign(&rs256(), &c), &[]).await;
                    assert_granted(&a, &t.client_id, &format!("aud {aud}"));
                }
                let header = json!({"alg": "RS256", "kid": key.kid, "typ": "at+jwt"});
                let a = assertion_request(
                    f,
                    &key.key.sign(&header, &claims(f, &t.client_id, json!({}))),
                    &[],
                )
                .await;
                assert_granted(&a, &t.client_id, "kid of the certificate, typ at+jwt");
                // The form's client_id, or HTTP Basic, may name the client too.
                let a = assertion_request(
                    f,
                    &key.key.sign(&rs256(), &claims(f, &t.client_id, json!({}))),
                    &[("client_id", &t.client_id)],
                )
                .await;
                assert_granted(&a, &t.client_id, "client_id in the form");
                let form = [
                    ("grant_type", "client_credentials"),
                    ("client_assertion_type", ASSERTION_TYPE),
                    (
                        "client_assertion",
                        &key.key.sign(&rs256(), &claims(f, &t.client_id, json!({}))),
                    ),
                ];
                let a = send(
                    http(f, None)
                        .post(token_url(f))
                        .basic_auth(&t.client_id, Some("ignored"))
                        .form(&form),
                )
                .await;
                assert_granted(&a, &t.client_id, "HTTP Basic naming the client");
            })
            .await;
    }
}

/// One broken assertion per rule, each from a `client-jwt` client named by the assertion:
/// 400 `invalid_client` with Keycloak's words.
pub async fn client_jwt_assertion_refusals(f: &Fixture) {
    let admin = Admin::login(f).await;
    let key = client_key(KeyType::Rsa2048);
    let other = client_key(KeyType::Rsa2048);
    admin
        .with_throwaway_client("jwt", cert_client(&key), |t: Throwaway| async move {
            let id = t.client_id.as_str();
            let oidc = format!("{}/protocol/openid-connect", issuer(f));
            let now = now();
            let signature = "Client authentication with signed JWT failed: Signature on JWT token failed validation";
            let cases: Vec<(&str, String, &str)> = vec![
                ("signed by another key", other.key.sign(&rs256(), &claims(f, id, json!({}))), signature),
                ("alg HS256", key.key.sign(&json!({"alg": "HS256"}), &claims(f, id, json!({}))), "Invalid signature algorithm"),
                ("alg none", key.key.sign(&json!({"alg": "none"}), &claims(f, id, json!({}))), "Invalid signature algorithm"),
                ("a kid that is not the certificate's", key.key.sign(&json!({"alg": "RS256", "kid": "other"}), &claims(f, id, json!({}))), "Unable to load public key"),
                ("no aud", key.key.sign(&rs256(), &claims(f, id, json!({"aud": null}))), "Invalid token audience"),
                ("aud another server", key.key.sign(&rs256(), &claims(f, id, json!({"aud": "https://elsewhere.example"}))), "Invalid token audience"),
                ("aud the server, not the realm", key.key.sign(&rs256(), &claims(f, id, json!({"aud": f.base_url}))), "Invalid token audience"),
                ("aud the issuer with a slash", key.key.sign(&rs256(), &claims(f, id, json!({"aud": format!("{}/", issuer(f))}))), "Invalid token audience"),
                ("aud the revocation endpoint", key.key.sign(&rs256(), &claims(f, id, json!({"aud": format!("{oidc}/revoke")}))), "Invalid token audience"),
                ("aud the userinfo endpoint", key.key.sign(&rs256(), &claims(f, id, json!({"aud": format!("{oidc}/userinfo")}))), "Invalid token audience"),
                ("two audiences, both good", key.key.sign(&rs256(), &claims(f, id, json!({"aud": [issuer(f), token_url(f)]}))), "Multiple audiences not allowed"),
                ("no exp", key.key.sign(&rs256(), &claims(f, id, json!({"exp": null}))), "Token exp claim is required"),
                ("expired", key.key.sign(&rs256(), &claims(f, id, json!({"exp": now - 30}))), "Token is not active"),
                ("nbf a minute ahead", key.key.sign(&rs256(), &claims(f, id, json!({"nbf": now + 60}))), "Token is not active"),
                ("iat a minute ahead", key.key.sign(&rs256(), &claims(f, id, json!({"iat": now + 60, "exp": now + 90}))), "Token was issued in the future"),
                ("iat two minutes old", key.key.sign(&rs256(), &claims(f, id, json!({"iat": now - 120}))), "Token was issued too far in the past to be used now"),
                ("no iat, exp five minutes away", key.key.sign(&rs256(), &claims(f, id, json!({"iat": null, "exp": now + 300}))), "Token expiration is too far in the future and iat claim not present in token"),
                ("no jti", key.key.sign(&rs256(), &claims(f, id, json!({"jti": null}))), "Token jti claim is required"),
                // Rules broken together: the first in Keycloak's order answers.
                ("no aud, exp or jti", key.key.sign(&rs256(), &claims(f, id, json!({"aud": null, "exp": null, "jti": null}))), "Invalid token audience"),
                ("expired and two minutes old", key.key.sign(&rs256(), &claims(f, id, json!({"iat": now - 120, "exp": now - 30}))), "Token is not active"),
                ("another key and no aud", other.key.sign(&rs256(), &claims(f, id, json!({"aud": null}))), signature),
                ("alg HS256 and an unknown kid", key.key.sign(&json!({"alg": "HS256", "kid": "other"}), &claims(f, id, json!({}))), "Invalid signature algorithm"),
            ];
            for (name, assertion, description) in cases {
                let a = assertion_request(f, &assertion, &[]).await;
                a.assert_error_in(&format!("{name}: "), 400, "invalid_client", description);
            }
            // Longer lifetimes are fine while iat is recent, and nbf within the skew.
            for (name, changes) in [
                ("exp a day away", json!({"exp": now + 86_400})),
                ("nbf 5 s ahead", json!({"nbf": now + 5})),
                ("iat 5 s ahead", json!({"iat": now + 5})),
                ("no iat, exp 20 s away", json!({"iat": null, "exp": now + 20})),
            ] {
                let a = assertion_request(f, &key.key.sign(&rs256(), &claims(f, id, changes)), &[]).await;
                assert_granted(&a, id, name);
            }
        })
        .await;
}

/// An assertion is good once: the same one again, or its `jti` in another assertion (even
/// another client's), is refused.
pub async fn client_jwt_replay(f: &Fixture) {
    let admin = Admin::login(f).await;
    let key = client_key(KeyType::Rsa2048);
    let second = client_key(KeyType::Rsa2048);
    let (uuid2, id2) = admin.create_client("jwt", cert_client(&second)).await;
    admin
        .with_throwaway_client("jwt", cert_client(&key), |t: Throwaway| async move {
            let c = claims(f, &t.client_id, json!({}));
            let assertion = key.key.sign(&rs256(), &c);
            let a = assertion_request(f, &assertion, &[]).await;
            assert_granted(&a, &t.client_id, "first use");
            let a = assertion_request(f, &assertion, &[]).await;
            a.assert_error_in("replayed: ", 400, "invalid_client", "Token reuse detected");
            let again = json!({"jti": c["jti"], "exp": now() + 40});
            let a = assertion_request(
                f,
                &key.key
                    .sign(&rs256(), &claims(f, &t.client_id, again.clone())),
                &[],
            )
            .await;
            a.assert_error_in(
                "same jti, new assertion: ",
                400,
                "invalid_client",
                "Token reuse detected",
            );
            let a = assertion_request(f, &second.key.sign(&rs256(), &claims(f, &id2, again)), &[])
                .await;
            a.assert_error_in(
                "same jti, another client: ",
                400,
                "invalid_client",
                "Token reuse detected",
            );
        })
        .await;
    admin.delete_client(&uuid2).await;
}

/// Which authenticator answers: a refusal found before the assertion names a `client-jwt`
/// client is this authenticator's answer only when the form's `client_id` (or HTTP Basic)
/// named such a client; else 401 "Invalid client or Invalid client credentials", or the
/// answer of the authenticator of the client named.
pub async fn client_jwt_who_answers(f: &Fixture) {
    let admin = Admin::login(f).await;
    let key = &client_key(KeyType::Rsa2048);
    let admin = &admin;
    admin
        .with_throwaway_client("jwt", cert_client(key), |t: Throwaway| async move {
            let id = t.client_id.as_str();
            let good = || key.key.sign(&rs256(), &claims(f, id, json!({})));
            let generic = "Invalid client or Invalid client credentials";
            let post = |form: Form| async move {
                post_form(
                    &http(f, None),
                    &token_url(f),
                    &form.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>(),
                )
                .await
            };
            let grant = ("grant_type", "client_credentials".to_owned());
            let typ = ("client_assertion_type", ASSERTION_TYPE.to_owned());
            let named = ("client_id", id.to_owned());
            let cases: Vec<(&str, Form, u16, &str, &str)> = vec![
                ("no assertion type, no client_id", vec![grant.clone(), ("client_assertion", good())], 401, "invalid_client", generic),
                ("no assertion type", vec![grant.clone(), named.clone(), ("client_assertion", good())], 400, "invalid_client", "Parameter client_assertion_type is missing"),
                ("a client secret instead", vec![grant.clone(), named.clone(), ("client_secret", "x".into())], 400, "invalid_client", "Parameter client_assertion_type is missing"),
                ("wrong assertion type", vec![grant.clone(), named.clone(), ("client_assertion_type", "urn:x".into()), ("client_assertion", good())], 400, "invalid_client", "Parameter client_assertion_type has value 'urn:x' but expected is 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'"),
                ("no assertion", vec![grant.clone(), named.clone(), typ.clone()], 400, "invalid_client", "client_assertion parameter missing"),
                ("no assertion, no client_id", vec![grant.clone(), typ.clone()], 401, "invalid_client", generic),
                ("not a JWT, no client_id", vec![grant.clone(), typ.clone(), ("client_assertion", "abc.def.ghi".into())], 401, "invalid_client", generic),
                ("sub is not iss", vec![grant.clone(), typ.clone(), ("client_assertion", key.key.sign(&rs256(), &claims(f, id, json!({"sub": "someone-else"}))))], 401, "invalid_client", generic),
                ("sub is not iss, client_id named", vec![grant.clone(), named.clone(), typ.clone(), ("client_assertion", key.key.sign(&rs256(), &claims(f, id, json!({"iss": "someone-else"}))))], 401, "invalid_client", generic),
                ("no sub", vec![grant.clone(), typ.clone(), ("client_assertion", key.key.sign(&rs256(), &claims(f, id, json!({"sub": null}))))], 401, "invalid_client", generic),
                ("an unknown client", vec![grant.clone(), typ.clone(), ("client_assertion", key.key.sign(&rs256(), &claims(f, "nobody", json!({}))))], 401, "invalid_client", generic),
                ("client_id names the secret client", vec![grant.clone(), ("client_id", SECRET_CLIENT_ID.into()), typ.clone(), ("client_assertion", good())], 401, "unauthorized_client", generic),
                ("client_id names the mTLS client", vec![grant.clone(), ("client_id", MTLS_CLIENT_ID.into()), typ.clone(), ("client_assertion", good())], 401, "invalid_client", generic),
                ("the assertion names the mTLS client", vec![grant.clone(), typ.clone(), ("client_assertion", key.key.sign(&rs256(), &claims(f, MTLS_CLIENT_ID, json!({}))))], 400, "invalid_client", "Missing client_id parameter"),
                ("the assertion names the secret client", vec![grant.clone(), typ.clone(), ("client_assertion", key.key.sign(&rs256(), &claims(f, SECRET_CLIENT_ID, json!({}))))], 401, "invalid_client", generic),
            ];
            for (name, form, status, error, description) in cases {
                post(form).await.assert_error_in(&format!("{name}: "), status, error, description);
            }
            // HTTP Basic names the client: its answer, as the form's client_id.
            let a = send(
                http(f, None)
                    .post(token_url(f))
                    .basic_auth(id, Some("x"))
                    .form(&[("grant_type", "client_credentials")]),
            )
            .await;
            a.assert_error_in("Basic only: ", 400, "invalid_client", "Parameter client_assertion_type is missing");
            // Named only in the query: no authenticator of its type reads it.
            let a = post_form(
                &http(f, None),
                &format!("{}?client_id={id}", token_url(f)),
                &[("grant_type", "client_credentials")],
            )
            .await;
            a.assert_error_in("?client_id= only: ", 401, "invalid_client", generic);
            // A disabled client: 401, even with a good assertion.
            // (A partial representation: Keycloak changes only the fields given.)
            let rep = json!({"clientId": id, "enabled": false});
            let a = admin.send(reqwest::Method::PUT, &format!("/clients/{}", t.uuid), &rep).await;
            assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.body);
            assertion_request(f, &good(), &[]).await.assert_error_in("disabled: ", 401, "invalid_client", generic);
        })
        .await;
}

/// Where the key comes from: `jwks.string` (keys with `"use": "sig"` only, found by `kid`,
/// else the first) wins over the certificate when `use.jwks.string` is on; no key at all,
/// or a `kid` not in the set, is "Unable to load public key"; `token.endpoint.auth.signing.alg`
/// allows one algorithm.
pub async fn client_jwt_keys(f: &Fixture) {
    let admin = Admin::login(f).await;
    let (key, other) = (&client_key(KeyType::Rsa2048), &client_key(KeyType::Rsa2048));
    let with_use = |k: &ClientKey, kid: &str| {
        let mut jwk = k.key.public_jwk();
        jwk["kid"] = json!(kid);
        jwk["use"] = json!("sig");
        jwk
    };
    let jwks = json!({"keys": [with_use(other, "k2"), with_use(key, "k1")]}).to_string();
    let rep = jwt_client(json!({
        "use.jwks.url": "false",
        "use.jwks.string": "true",
        "jwks.string": jwks,
        "jwt.credential.certificate": other.certificate,
    }));
    admin
        .with_throwaway_client("jwks", rep, |t: Throwaway| async move {
            let id = t.client_id.as_str();
            let c = || claims(f, id, json!({}));
            let kid = |k: &str| json!({"alg": "RS256", "kid": k});
            assert_granted(&assertion_request(f, &key.key.sign(&kid("k1"), &c()), &[]).await, id, "kid k1");
            assert_granted(&assertion_request(f, &other.key.sign(&kid("k2"), &c()), &[]).await, id, "kid k2");
            assert_granted(&assertion_request(f, &other.key.sign(&rs256(), &c()), &[]).await, id, "no kid: the first key");
            assertion_request(f, &key.key.sign(&kid("k2"), &c()), &[]).await.assert_error_in(
                "kid of another key: ",
                400,
                "invalid_client",
                "Client authentication with signed JWT failed: Signature on JWT token failed validation",
            );
            assertion_request(f, &key.key.sign(&kid("k9"), &c()), &[]).await.assert_error_in(
                "unknown kid: ",
                400,
                "invalid_client",
                "Unable to load public key",
            );
        })
        .await;
    // A key without "use" is not a signing key for Keycloak.
    let mut bare = key.key.public_jwk();
    bare["kid"] = json!("k1");
    let rep = jwt_client(
        json!({"use.jwks.string": "true", "jwks.string": json!({"keys": [bare]}).to_string()}),
    );
    admin
        .with_throwaway_client("jwks", rep, |t: Throwaway| async move {
            let a = assertion_request(
                f,
                &key.key.sign(
                    &json!({"alg": "RS256", "kid": "k1"}),
                    &claims(f, &t.client_id, json!({})),
                ),
                &[],
            )
            .await;
            a.assert_error_in(
                "a JWK without use: ",
                400,
                "invalid_client",
                "Unable to load public key",
            );
        })
        .await;
    // No key registered at all.
    admin
        .with_throwaway_client("jwt", jwt_client(json!({})), |t: Throwaway| async move {
            let a = assertion_request(
                f,
                &key.key.sign(&rs256(), &claims(f, &t.client_id, json!({}))),
                &[],
            )
            .await;
            a.assert_error_in(
                "no key: ",
                400,
                "invalid_client",
                "Unable to load public key",
            );
        })
        .await;
    // One algorithm allowed.
    let rep = jwt_client(
        json!({"jwt.credential.certificate": key.certificate, "token.endpoint.auth.signing.alg": "ES256"}),
    );
    admin
        .with_throwaway_client("jwt", rep, |t: Throwaway| async move {
            let a = assertion_request(
                f,
                &key.key.sign(&rs256(), &claims(f, &t.client_id, json!({}))),
                &[],
            )
            .await;
            a.assert_error_in(
                "RS256 where ES256 is required: ",
                400,
                "invalid_client",
                "Invalid signature algorithm",
            );
        })
        .await;
    // The key's algorithm (its JWK's alg, else its type's default: RS256 for RSA) must be
    // the header's: an RS256 signature under an RS512 header fails, as does the reverse.
    admin
        .with_throwaway_client("jwt", cert_client(key), |t: Throwaway| async move {
            let a = assertion_request(f, &key.key.sign(&json!({"alg": "RS512"}), &claims(f, &t.client_id, json!({}))), &[]).await;
            a.assert_error_in(
                "RS256 signature under an RS512 header: ",
                400,
                "invalid_client",
                "Client authentication with signed JWT failed: Signature on JWT token failed validation",
            );
        })
        .await;
}
