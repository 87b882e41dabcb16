//! `tls_client_auth` with the client certificate forwarded by a trusted proxy, over real
//! TLS on loopback and without the proxy itself: a test client bound to 127.0.0.2 plays
//! the proxy (Keycloak's `spi-x509cert-lookup--provider=nginx`), one on 127.0.0.1 a client
//! that reaches the provider directly. The real nginx in front is
//! `resource-server/tests/behind_nginx.rs`.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use playbook::forwarded::{Format, ForwardedCerts, nginx_escape};
use playbook::names;
use playbook::pki::DevPki;

const HEADER: &str = "ssl-client-cert";
const PROXY: [u8; 4] = [127, 0, 0, 2];

/// POSTs the mTLS client's token request from `source` with an optional forwarded header;
/// the connection itself carries no client certificate.
async fn token_request(
    pki: &DevPki,
    base_url: &str,
    source: [u8; 4],
    header: Option<String>,
) -> (u16, serde_json::Value) {
    let tls = playbook::client::client_config(std::slice::from_ref(&pki.ca.cert.cert_der), None)
        .expect("TLS");
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .local_address(IpAddr::from(source))
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let mut request = client
        .post(format!(
            "{base_url}/realms/{}/protocol/openid-connect/token",
            names::REALM
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", names::MTLS_CLIENT_ID),
        ]);
    if let Some(value) = header {
        request = request.header(HEADER, value);
    }
    let response = request.send().await.expect("request reaches the provider");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

/// From the trusted proxy the forwarded certificate authenticates the client and binds
/// the token (`cnf.x5t#S256`), as a presented one does; without it the client is
/// anonymous (401 `invalid_client`); from elsewhere the header is ignored (401).
#[tokio::test]
async fn token_with_a_forwarded_certificate() {
    playbook::install_crypto_provider();
    let pki = DevPki::generate(1, 1).expect("PKI");
    let forwarded = ForwardedCerts::new(
        HEADER,
        Format::Nginx,
        vec![IpAddr::from(PROXY)],
        std::slice::from_ref(&pki.ca.cert.cert_der),
    )
    .expect("forwarding config")
    .ignoring_untrusted();
    let options = oauth2_provider::Options {
        forwarded: Some(Arc::new(forwarded)),
        ..Default::default()
    };
    let provider =
        oauth2_provider::Provider::from_realm_file(&oauth2_provider::realm_file(), options)
            .expect("import");
    let tls = oauth2_provider::tls_config_from_pki(&pki).expect("TLS");
    let running = oauth2_provider::spawn(provider, tls).await.expect("serve");
    let cert = nginx_escape(&pki.client.cert_pem);

    let (status, body) = token_request(&pki, &running.base_url, PROXY, Some(cert.clone())).await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().expect("access_token");
    let payload = token.split('.').nth(1).expect("JWT");
    use base64::Engine as _;
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64url"),
    )
    .expect("claims");
    assert_eq!(claims["cnf"]["x5t#S256"], pki.client.x5t_s256(), "{claims}");

    let (status, body) = token_request(&pki, &running.base_url, PROXY, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );

    let other = nginx_escape(&pki.other_client.cert_pem);
    let (status, body) = token_request(&pki, &running.base_url, PROXY, Some(other)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );

    // From an address that is not the proxy, the header is not trusted: as Keycloak 26.7.5
    // with proxy-trusted-addresses (observed live), it is ignored, and the client without a
    // certificate of its own gets 401 invalid_client; the provider's log says why.
    let (status, body) = token_request(&pki, &running.base_url, [127, 0, 0, 1], Some(cert)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    running.stop().await;
}
