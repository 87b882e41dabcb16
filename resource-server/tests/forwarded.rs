//! Client certificates forwarded by a trusted proxy, over real TLS on loopback, without
//! the proxy itself: a test client bound to 127.0.0.2 plays the proxy (the address the
//! resource server trusts), one on 127.0.0.1 plays a client that talks to the back end
//! directly. The real nginx in front is `behind_nginx.rs`.

mod support;

use std::net::IpAddr;
use std::sync::Arc;

use playbook::forwarded::{Format, ForwardedCerts, nginx_escape};
use playbook::names;
use playbook::pki::{DevPki, Issued};
use playbook::server::ClientAuth;
use support::*;

const HEADER: &str = "ssl-client-cert";
const PROXY: [u8; 4] = [127, 0, 0, 2];

async fn start(format: Format) -> (DevPki, TestProvider, resource_server::Running) {
    playbook::install_crypto_provider();
    let pki = DevPki::generate(1, 1).expect("PKI");
    let provider = TestProvider::start(&pki).await;
    let mut config = config(&pki, &provider);
    // nginx connects without a client certificate of its own.
    config.client_auth = ClientAuth::Request;
    let header = format.default_header().unwrap_or(HEADER);
    config.forwarded = Some(Arc::new(
        ForwardedCerts::new(
            header,
            format,
            vec![IpAddr::from(PROXY)],
            std::slice::from_ref(&pki.ca.cert.cert_der),
        )
        .expect("forwarding config")
        .with_bearer_challenge(names::REALM),
    ));
    let server = resource_server(&pki, config).await;
    server
        .wait_ready(std::time::Duration::from_secs(10))
        .await
        .expect("keys loaded");
    (pki, provider, server)
}

/// A GET to `url` from `source`, presenting `tls_cert` in the handshake and `header`.
async fn get(
    pki: &DevPki,
    url: &str,
    source: [u8; 4],
    tls_cert: Option<&Issued>,
    header: Option<(&str, String)>,
    token: &str,
) -> (u16, Option<String>, serde_json::Value) {
    let id = tls_cert.map(identity);
    let tls =
        playbook::https::client_config(std::slice::from_ref(&pki.ca.cert.cert_der), id.as_ref())
            .expect("TLS");
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .local_address(IpAddr::from(source))
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("client");
    let mut request = client.get(url).bearer_auth(token);
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    let response = request.send().await.expect("request reaches the server");
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().expect("ASCII").to_owned());
    let body = response.json().await.unwrap_or_default();
    (status, challenge, body)
}

/// From the trusted proxy, the forwarded certificate is the one the binding is checked
/// against: the token's own certificate passes, another one is 401 `invalid_token`, and
/// no header at all means no certificate.
#[tokio::test]
async fn forwarded_certificate_is_checked_like_a_presented_one() {
    let (pki, provider, server) = start(Format::Nginx).await;
    let url = format!("{}/api/whoami", server.url);
    let token = provider.token(&pki);

    let forwarded = Some((HEADER, nginx_escape(&pki.client.cert_pem)));
    let (status, _, body) = get(&pki, &url, PROXY, None, forwarded, &token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["binding"]["result"], "matches", "{body}");
    let at = body["binding"]["tls_terminated_at"]
        .as_str()
        .unwrap_or_default();
    assert!(at.starts_with("proxy 127.0.0.2:"), "{body}");

    let other = Some((HEADER, nginx_escape(&pki.other_client.cert_pem)));
    let (status, _, body) = get(&pki, &url, PROXY, None, other, &token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token")),
        "{body}"
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("bound to certificate"),
        "{body}"
    );

    // The proxy's own TLS certificate is never taken for the client's.
    let (status, _, body) = get(&pki, &url, PROXY, Some(&pki.client), None, &token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token")),
        "{body}"
    );

    // A certificate from another CA is refused even from the proxy.
    let rogue = Some((HEADER, nginx_escape(&pki.rogue_client.cert_pem)));
    let (status, _, body) = get(&pki, &url, PROXY, None, rogue, &token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    server.stop().await.expect("stop");
    provider.stop().await;
}

/// A client that reaches the back end directly and sends the header itself (here with
/// its own valid certificate in the handshake too): 400 `invalid_request`, saying why.
#[tokio::test]
async fn header_from_an_address_that_is_not_a_proxy_is_refused() {
    let (pki, provider, server) = start(Format::Nginx).await;
    let url = format!("{}/api/whoami", server.url);
    let token = provider.token(&pki);
    let forged = Some((HEADER, nginx_escape(&pki.client.cert_pem)));
    let (status, challenge, body) = get(
        &pki,
        &url,
        [127, 0, 0, 1],
        Some(&pki.client),
        forged,
        &token,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    let why = body["error_description"].as_str().unwrap_or_default();
    assert!(
        why.contains("only accepted from a trusted proxy") && why.contains("127.0.0.1"),
        "{why}"
    );
    let challenge = challenge.expect("WWW-Authenticate");
    assert!(
        challenge.contains("error=\"invalid_request\""),
        "{challenge}"
    );
    // Without the header the same direct client is served as before.
    let (status, _, body) = get(&pki, &url, [127, 0, 0, 1], Some(&pki.client), None, &token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["binding"]["tls_terminated_at"], "this server",
        "{body}"
    );
    server.stop().await.expect("stop");
    provider.stop().await;
}

/// Envoy's `x-forwarded-client-cert` works the same way.
#[tokio::test]
async fn envoy_xfcc_header() {
    let (pki, provider, server) = start(Format::Xfcc).await;
    let url = format!("{}/api/whoami", server.url);
    let token = provider.token(&pki);
    let xfcc = format!(
        "By=spiffe://proxy;Cert=\"{}\";Subject=\"{}\"",
        nginx_escape(&pki.client.cert_pem),
        names::CLIENT_SUBJECT_DN
    );
    let (status, _, body) = get(
        &pki,
        &url,
        PROXY,
        None,
        Some(("x-forwarded-client-cert", xfcc)),
        &token,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["binding"]["result"], "matches", "{body}");
    server.stop().await.expect("stop");
    provider.stop().await;
}
