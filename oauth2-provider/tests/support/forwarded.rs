//! Token requests as a client behind (or around) a TLS-terminating proxy makes them: from a
//! chosen loopback source address, with an optional handshake certificate and an optional
//! `ssl-client-cert` header (`forwarded.rs`, `keycloak_native_proxy.rs`).

use std::net::IpAddr;
use std::time::Duration;

use base64::Engine as _;
use playbook::forwarded::nginx_escape;
use playbook::names;
use playbook::pki::{DevPki, Issued};
use serde_json::Value;

/// The mTLS client's token request to `base` from `source`, presenting `cert` in the
/// handshake and `header` (URL-encoded PEM) as `ssl-client-cert`.
pub async fn token(
    pki: &DevPki,
    base: &str,
    source: [u8; 4],
    cert: Option<&Issued>,
    header: Option<&Issued>,
) -> (u16, Value) {
    let headers: Vec<(String, String)> = header
        .map(|h| ("ssl-client-cert".to_owned(), nginx_escape(&h.cert_pem)))
        .into_iter()
        .collect();
    token_with(pki, base, source, cert, &headers).await
}

/// [`token`] with any headers (`shapes.rs`: each proxy's shape).
pub async fn token_with(
    pki: &DevPki,
    base: &str,
    source: [u8; 4],
    cert: Option<&Issued>,
    headers: &[(String, String)],
) -> (u16, Value) {
    let id = cert.map(|c| {
        playbook::Identity::unchecked(
            std::path::Path::new("client.pem"),
            c.cert_chain(),
            c.key_der(),
        )
    });
    let tls =
        playbook::https::client_config(std::slice::from_ref(&pki.ca.cert.cert_der), id.as_ref())
            .expect("TLS");
    let http = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .local_address(IpAddr::from(source))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let mut request = http
        .post(format!(
            "{base}/realms/{}/protocol/openid-connect/token",
            names::REALM
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", names::MTLS_CLIENT_ID),
        ]);
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let response = request.send().await.expect("answered");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

/// The claims of the access token in a 200 token response.
pub fn claims(body: &Value) -> Value {
    let token = body["access_token"].as_str().expect("access_token");
    let payload = token.split('.').nth(1).expect("a JWT");
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&json).expect("claims")
}

/// Asserts 401 `invalid_client`.
#[track_caller]
pub fn assert_invalid_client(answer: &(u16, Value)) {
    let (status, body) = answer;
    assert_eq!(
        (*status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
}
