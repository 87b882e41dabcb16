//! Scenarios of token introspection (RFC 7662, Keycloak's `TokenIntrospectionEndpoint`):
//! who may introspect (the audience check since Keycloak 26.6.2), and the answer for bound,
//! unbound, expired and foreign tokens.

use playbook::names::{MTLS_CLIENT_ID, SECRET_CLIENT_ID, SECRET_CLIENT_SECRET};
use reqwest::StatusCode;
use serde_json::json;

use super::Fixture;
use super::admin_api::{Admin, admin_password_grant};
use super::helpers::{claims, client_credentials, http, issuer, mtls_token, post_form};

/// Introspection. Since Keycloak 26.6.2 the introspecting client must be in the token's
/// `aud`: the mTLS client introspecting its own token (aud `account`) gets `{"active":false}`;
/// a client with `allow.token.introspection.without.audience.check` sees the claims.
/// Unauthenticated callers and missing tokens are refused.
pub async fn introspection(f: &Fixture) {
    let url = format!("{}/protocol/openid-connect/token/introspect", issuer(f));
    let a = mtls_token(f, &[]).await;
    let token = a.str("access_token").to_owned();
    let mtls = http(f, Some(&f.pki.client));
    let i = post_form(
        &mtls,
        &url,
        &[("client_id", MTLS_CLIENT_ID), ("token", &token)],
    )
    .await;
    assert_eq!(
        (i.status.as_u16(), i.body),
        (200, json!({"active": false})),
        "not in aud"
    );
    let admin = Admin::login(f).await;
    let rep = json!({"protocol": "openid-connect", "publicClient": false, "serviceAccountsEnabled": false, "standardFlowEnabled": false,
                     "clientAuthenticatorType": "client-secret", "secret": "scenario-secret",
                     "attributes": {"allow.token.introspection.without.audience.check": "true"}});
    let (url_ref, token_ref) = (&url, &token);
    let (active, garbage) = admin
        .with_throwaway_client("introspector", rep, |c| async move {
            let introspector = http(f, None);
            let mut answers = Vec::new();
            for t in [token_ref.as_str(), "not-a-token"] {
                let form = [
                    ("client_id", c.client_id.as_str()),
                    ("client_secret", "scenario-secret"),
                    ("token", t),
                ];
                answers.push(post_form(&introspector, url_ref, &form).await);
            }
            let garbage = answers.pop().expect("two answers");
            (answers.pop().expect("two answers"), garbage)
        })
        .await;
    assert_eq!(active.status, StatusCode::OK, "{}", active.body);
    let b = &active.body;
    assert_eq!(b["active"], json!(true), "{b}");
    assert_eq!(b["client_id"], MTLS_CLIENT_ID);
    assert_eq!(b["token_type"], "Bearer");
    assert_eq!(
        b["username"],
        json!(format!("service-account-{MTLS_CLIENT_ID}"))
    );
    assert_eq!(b["cnf"]["x5t#S256"], json!(f.pki.client.x5t_s256()));
    assert_eq!(b["jti"], claims(&token)["jti"]);
    assert_eq!(
        (garbage.status.as_u16(), garbage.body),
        (200, json!({"active": false}))
    );
    let i = post_form(&mtls, &url, &[("client_id", MTLS_CLIENT_ID)]).await;
    i.assert_error(400, "invalid_request", "Token not provided.");
    let i = post_form(
        &http(f, None),
        &url,
        &[("client_id", MTLS_CLIENT_ID), ("token", &token)],
    )
    .await;
    i.assert_error(
        401,
        "invalid_client",
        "Invalid client or Invalid client credentials",
    );
}

/// Introspection of a certificate-bound token, an unbound one, an expired one and another
/// realm's, by a confidential client allowed to introspect any token.
pub async fn introspection_of_tokens(f: &Fixture) {
    let bound = mtls_token(f, &[]).await.str("access_token").to_owned();
    let unbound = client_credentials(f, SECRET_CLIENT_ID, Some(SECRET_CLIENT_SECRET), None)
        .await
        .str("access_token")
        .to_owned();
    let other_realm = admin_password_grant(f, &http(f, None), &f.admin_password)
        .await
        .str("access_token")
        .to_owned();
    let admin = Admin::login(f).await;
    let short = json!({"protocol": "openid-connect", "publicClient": false, "serviceAccountsEnabled": true,
                       "standardFlowEnabled": false, "clientAuthenticatorType": "client-secret",
                       "secret": "scenario-secret", "attributes": {"access.token.lifespan": "1"}});
    let expired = admin
        .with_throwaway_client("short-lived", short, |c| async move {
            let a = client_credentials(f, &c.client_id, Some("scenario-secret"), None).await;
            assert_eq!(a.status, StatusCode::OK, "{}", a.body);
            a.str("access_token").to_owned()
        })
        .await;
    // Past exp (1 s lifetime), with a margin for clock granularity.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let rep = json!({"protocol": "openid-connect", "publicClient": false, "serviceAccountsEnabled": false,
                     "standardFlowEnabled": false, "clientAuthenticatorType": "client-secret",
                     "secret": "scenario-secret",
                     "attributes": {"allow.token.introspection.without.audience.check": "true"}});
    let url = format!("{}/protocol/openid-connect/token/introspect", issuer(f));
    let tokens = [&bound, &unbound, &expired, &other_realm];
    let answers = admin
        .with_throwaway_client("introspector", rep, |c| async move {
            let mut answers = Vec::new();
            for t in tokens {
                let form = [
                    ("client_id", c.client_id.as_str()),
                    ("client_secret", "scenario-secret"),
                    ("token", t.as_str()),
                ];
                answers.push(post_form(&http(f, None), &url, &form).await);
            }
            answers
        })
        .await;
    let active: Vec<bool> = answers
        .iter()
        .map(|a| a.body["active"].as_bool().unwrap_or(false))
        .collect();
    assert_eq!(
        active,
        [true, true, false, false],
        "bound, unbound, expired, other realm"
    );
    assert_eq!(
        answers[0].body["cnf"]["x5t#S256"],
        json!(f.pki.client.x5t_s256())
    );
    assert!(answers[1].body.get("cnf").is_none(), "{}", answers[1].body);
}
