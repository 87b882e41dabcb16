//! Scenarios of the token endpoint that answer with a token: `client_credentials` (RFC 6749
//! §4.4) with `tls_client_auth` (RFC 8705 §2) or a client secret (HTTP Basic, form post), the
//! token's claims and binding (RFC 8705 §3), scopes, and the probes of methods, content types
//! and credential mixes recorded for the conformance check. The refusals are in
//! `token_errors.rs`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use playbook::names::{
    CA_SUBJECT_DN, CLIENT_SUBJECT_DN, MTLS_CLIENT_ID, READONLY_ROLE, SECRET_CLIENT_ID,
    SECRET_CLIENT_SECRET, USERS_READ_SCOPE, WRITE_ROLE,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::admin_api::Admin;
use super::helpers::{
    Answer, claims, client_credentials, header, http, issuer, mtls_token, post_form, realm_roles,
    scope_set, send, token_url,
};
use super::{Fixture, shared_service_account};

/// The token response of `client_credentials` with `tls_client_auth`: fields and headers.
pub async fn mtls_token_response(f: &Fixture) {
    let a = mtls_token(f, &[]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    a.assert_no_store();
    let b = &a.body;
    let expires = b["expires_in"].as_i64().expect("expires_in");
    assert!((299..=300).contains(&expires), "expires_in {expires}");
    assert_eq!(b["refresh_expires_in"], json!(0));
    assert_eq!(b["token_type"], "Bearer");
    assert_eq!(b["not-before-policy"], json!(0));
    assert_eq!(scope_set(a.str("scope")), vec!["email", "profile"]);
    for absent in ["refresh_token", "id_token", "session_state"] {
        assert!(b.get(absent).is_none(), "{absent} must be absent: {b}");
    }
}

/// The access token's header and claims: issuer, subject = service-account user,
/// `cnf.x5t#S256` = thumbprint of the client certificate used.
pub async fn mtls_token_claims(f: &Fixture) {
    let admin = Admin::login(f).await;
    let uuid = admin.client_uuid(MTLS_CLIENT_ID).await;
    let sa = admin.service_account(&uuid).await;
    let a = mtls_token(f, &[]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let jwt = a.str("access_token");
    let h = header(jwt);
    assert_eq!(h["alg"], "RS256");
    assert_eq!(h["typ"], "JWT");
    assert!(h["kid"].is_string());
    let c = claims(jwt);
    assert_eq!(c["iss"], json!(issuer(f)));
    assert_eq!(c["sub"], sa["id"]);
    assert_eq!(c["azp"], MTLS_CLIENT_ID);
    assert_eq!(c["client_id"], MTLS_CLIENT_ID);
    assert_eq!(c["typ"], "Bearer");
    assert_eq!(
        c["preferred_username"],
        json!(format!("service-account-{MTLS_CLIENT_ID}"))
    );
    assert_eq!(c["email_verified"], json!(false));
    assert_eq!(c["acr"], "1");
    assert_eq!(
        c["aud"], "account",
        "audience from the account client roles"
    );
    assert!(
        c["jti"].as_str().unwrap().starts_with("trrtcc:"),
        "{}",
        c["jti"]
    );
    // iat and exp are taken at two instants (TokenManager#initToken): a second may tick between.
    let lifetime = c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap();
    assert!((300..=301).contains(&lifetime), "exp - iat = {lifetime}");
    assert!(c.get("sid").is_none(), "transient session: no sid");
    assert_eq!(
        scope_set(c["scope"].as_str().unwrap()),
        vec!["email", "profile"]
    );
    // RFC 8705 §3.1: the token is bound to the certificate used on this connection.
    assert_eq!(c["cnf"]["x5t#S256"], json!(f.pki.client.x5t_s256()));
    let roles = realm_roles(&c);
    for r in [
        "default-roles-oauth2-playbook",
        "offline_access",
        "uma_authorization",
    ] {
        assert!(roles.contains(&r.to_owned()), "{r} in {roles:?}");
    }
    assert!(!roles.contains(&WRITE_ROLE.to_owned()));
    assert!(c["clientAddress"].is_string() && c["clientHost"].is_string());
}

/// A token verifies with jsonwebtoken (an independent JWT library) against the JWKS; a
/// tampered token does not.
pub async fn token_verifies_with_independent_library(f: &Fixture) {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header, jwk::JwkSet};
    let a = mtls_token(f, &[]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let jwt = a.str("access_token").to_owned();
    let a = send(http(f, None).get(format!("{}/protocol/openid-connect/certs", issuer(f)))).await;
    let jwks: JwkSet = serde_json::from_value(a.body).expect("JWK set parses with jsonwebtoken");
    let kid = decode_header(&jwt).expect("header").kid.expect("kid");
    let jwk = jwks.find(&kid).expect("the token's kid is in the JWKS");
    let key = DecodingKey::from_jwk(jwk).expect("RSA JWK");
    let mut v = Validation::new(Algorithm::RS256);
    v.set_issuer(&[issuer(f)]);
    v.set_audience(&["account"]);
    let data = decode::<Value>(&jwt, &key, &v).expect("signature, exp, iss and aud verify");
    assert_eq!(data.claims["azp"], MTLS_CLIENT_ID);
    // Flip one character of the payload: the signature no longer verifies.
    let mut parts: Vec<String> = jwt.split('.').map(str::to_owned).collect();
    let mut payload = claims(&jwt);
    payload["azp"] = json!("someone-else");
    parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap());
    assert!(decode::<Value>(&parts.join("."), &key, &v).is_err());
}

/// `realm_access.roles` is taken from the current role mappings: absent before the
/// walkthrough assigns the role, present after, gone again after removal.
pub async fn token_claims_follow_role_mappings(f: &Fixture) {
    let _lock = shared_service_account().await;
    let admin = Admin::login(f).await;
    let uuid = admin.client_uuid(MTLS_CLIENT_ID).await;
    let sa = admin.service_account(&uuid).await;
    let sa_id = sa["id"].as_str().unwrap();
    let role = admin.role(READONLY_ROLE).await;
    admin.set_role(sa_id, &role, false).await;
    let roles = |a: &Answer| realm_roles(&claims(a.str("access_token")));
    let before = mtls_token(f, &[]).await;
    assert!(!roles(&before).contains(&READONLY_ROLE.to_owned()));
    admin.set_role(sa_id, &role, true).await;
    let after = mtls_token(f, &[]).await;
    let result = roles(&after);
    admin.set_role(sa_id, &role, false).await;
    assert!(result.contains(&READONLY_ROLE.to_owned()), "{result:?}");
    assert!(!result.contains(&WRITE_ROLE.to_owned()));
    let removed = mtls_token(f, &[]).await;
    assert!(!roles(&removed).contains(&READONLY_ROLE.to_owned()));
}

/// The client-secret client authenticates with HTTP Basic and with form post.
pub async fn secret_client_basic_and_post(f: &Fixture) {
    let client = http(f, None);
    let a = send(
        client
            .post(token_url(f))
            .basic_auth(SECRET_CLIENT_ID, Some(SECRET_CLIENT_SECRET))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "Basic: {}", a.body);
    let c = claims(a.str("access_token"));
    assert_eq!(c["azp"], SECRET_CLIENT_ID);
    assert!(c.get("cnf").is_none(), "not certificate-bound");
    let a = post_form(
        &client,
        &token_url(f),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", SECRET_CLIENT_ID),
            ("client_secret", SECRET_CLIENT_SECRET),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "post: {}", a.body);
    assert_eq!(claims(a.str("access_token"))["azp"], SECRET_CLIENT_ID);
}

/// `scope=users:read` (an optional client scope) is granted; `scope=openid` adds an ID token.
pub async fn optional_scope_and_openid(f: &Fixture) {
    let a = mtls_token(f, &[("scope", USERS_READ_SCOPE)]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(
        scope_set(a.str("scope")),
        vec!["email", "profile", USERS_READ_SCOPE]
    );
    assert_eq!(
        scope_set(claims(a.str("access_token"))["scope"].as_str().unwrap()),
        vec!["email", "profile", USERS_READ_SCOPE]
    );
    let a = mtls_token(f, &[("scope", "openid users:read")]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(
        scope_set(a.str("scope")),
        vec!["email", "openid", "profile", USERS_READ_SCOPE]
    );
    let id = claims(a.str("id_token"));
    assert_eq!(id["typ"], "ID");
    assert_eq!(id["aud"], MTLS_CLIENT_ID);
    // A default scope may be named explicitly.
    let a = mtls_token(f, &[("scope", "profile")]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
}

/// Without `x509.allow.regex.pattern.comparison` Keycloak matches `x509.subjectdn` as a
/// regex against Java's legacy DN form, `CN=..., O=...` (comma *and space*).
pub async fn regex_mode_matches_java_legacy_dn(f: &Fixture) {
    let admin = Admin::login(f).await;
    let legacy = "CN=oauth2-playbook-client-credentials-mtls, O=OAuth2 Playbook";
    for (dn, expected) in [(legacy, 200u16), (CLIENT_SUBJECT_DN, 401)] {
        let rep = json!({"protocol": "openid-connect", "publicClient": false, "serviceAccountsEnabled": true,
                         "standardFlowEnabled": false, "clientAuthenticatorType": "client-x509",
                         "attributes": {"x509.subjectdn": dn, "x509.casubjectdn": CA_SUBJECT_DN}});
        let a = admin
            .with_throwaway_client("regex", rep, |c| async move {
                client_credentials(f, &c.client_id, None, Some(&f.pki.client)).await
            })
            .await;
        assert_eq!(a.status.as_u16(), expected, "regex '{dn}': {}", a.body);
    }
}

/// GET, PUT and OPTIONS on the token endpoint (a CORS preflight with and without `Origin`).
pub async fn token_endpoint_methods(f: &Fixture) {
    let client = http(f, Some(&f.pki.client));
    let url = token_url(f);
    let get = send(client.get(&url)).await;
    assert!(get.status.is_client_error(), "GET: {}", get.status);
    let put = send(client.put(&url).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", MTLS_CLIENT_ID),
    ]))
    .await;
    assert!(put.status.is_client_error(), "PUT: {}", put.status);
    for origin in [None, Some("https://app.example.test")] {
        let mut r = client
            .request(reqwest::Method::OPTIONS, &url)
            .header("access-control-request-method", "POST");
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        let a = send(r).await;
        assert!(a.status.is_success(), "OPTIONS {origin:?}: {}", a.status);
    }
}

/// What `Content-Type` a token request may carry: the form type (with `charset`), a type
/// that only starts like it, another type, none.
pub async fn token_endpoint_content_types(f: &Fixture) {
    let client = http(f, Some(&f.pki.client));
    let body = format!("grant_type=client_credentials&client_id={MTLS_CLIENT_ID}");
    let with_type = |ct: Option<&str>, query: bool| {
        let mut r = client.post(token_url(f)).body(body.clone());
        if query {
            r = r.query(&[("client_id", MTLS_CLIENT_ID)]);
        }
        match ct {
            Some(ct) => r.header("content-type", ct),
            None => r,
        }
    };
    let a = send(with_type(
        Some("application/x-www-form-urlencoded; charset=UTF-8"),
        false,
    ))
    .await;
    assert_eq!(a.status, StatusCode::OK, "charset: {}", a.body);
    for ct in [None, Some("application/json"), Some("text/plain")] {
        let a = send(with_type(ct, false)).await;
        a.assert_error(400, "invalid_request", "Missing form parameter: grant_type");
        a.assert_no_store();
    }
    // Only starts like a form: the endpoint reads grant_type, the authenticator no client_id.
    let evil = Some("application/x-www-form-urlencoded-evil");
    let a = send(with_type(evil, false)).await;
    a.assert_error(
        401,
        "invalid_client",
        "Invalid client or Invalid client credentials",
    );
    let a = send(with_type(evil, true)).await;
    assert_eq!(a.status, StatusCode::OK, "evil + ?client_id: {}", a.body);
}

/// HTTP Basic and form credentials in one request: right or wrong, same or other client.
pub async fn basic_and_form_credentials(f: &Fixture) {
    let client = http(f, None);
    let cases: [(&str, &str, &str, &str); 4] = [
        (
            SECRET_CLIENT_SECRET,
            SECRET_CLIENT_ID,
            SECRET_CLIENT_SECRET,
            "right, same client",
        ),
        (
            "wrong",
            SECRET_CLIENT_ID,
            SECRET_CLIENT_SECRET,
            "wrong Basic, right form",
        ),
        (
            SECRET_CLIENT_SECRET,
            SECRET_CLIENT_ID,
            "wrong",
            "right Basic, wrong form",
        ),
        (
            SECRET_CLIENT_SECRET,
            MTLS_CLIENT_ID,
            "anything",
            "form names another client",
        ),
    ];
    let mut statuses = Vec::new();
    for (basic_secret, form_client, form_secret, case) in cases {
        let a = send(
            client
                .post(token_url(f))
                .basic_auth(SECRET_CLIENT_ID, Some(basic_secret))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", form_client),
                    ("client_secret", form_secret),
                ]),
        )
        .await;
        a.assert_no_store();
        statuses.push((case, a.status.as_u16()));
    }
    assert_eq!(statuses[0], ("right, same client", 200), "{statuses:?}");
}

/// `client.secret.authentication.allowed.method`: a secret client limited to one method.
pub async fn secret_authentication_allowed_method(f: &Fixture) {
    let admin = Admin::login(f).await;
    let rep = json!({"protocol": "openid-connect", "publicClient": false, "serviceAccountsEnabled": true,
                     "standardFlowEnabled": false, "clientAuthenticatorType": "client-secret",
                     "secret": "scenario-secret",
                     "attributes": {"client.secret.authentication.allowed.method": "client_secret_post"}});
    let (post, basic) = admin
        .with_throwaway_client("allowed-method", rep, |c| async move {
            let client = http(f, None);
            let post = client_credentials(f, &c.client_id, Some("scenario-secret"), None).await;
            let basic = send(
                client
                    .post(token_url(f))
                    .basic_auth(&c.client_id, Some("scenario-secret"))
                    .form(&[("grant_type", "client_credentials")]),
            )
            .await;
            (post, basic)
        })
        .await;
    assert_eq!(
        post.status,
        StatusCode::OK,
        "client_secret_post: {}",
        post.body
    );
    assert!(basic.status.is_client_error() || basic.status.is_success());
}
