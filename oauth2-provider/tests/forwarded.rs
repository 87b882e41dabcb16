//! `tls_client_auth` with the client certificate forwarded by a trusted proxy, over real
//! TLS on loopback and without the proxy itself: a test client bound to 127.0.0.2 plays
//! the proxy (Keycloak's `spi-x509cert-lookup--provider=nginx`), one on 127.0.0.1 a client
//! that reaches the provider directly. The real nginx in front is
//! `resource-server/tests/behind_nginx.rs`.

use std::net::IpAddr;
use std::sync::Arc;

use playbook::forwarded::{Format, ForwardedCerts};
use playbook::pki::DevPki;
use support::forwarded::{assert_invalid_client, claims, token};

mod support {
    pub mod forwarded;
}

const PROXY: [u8; 4] = [127, 0, 0, 2];

/// From the trusted proxy the forwarded certificate authenticates the client and binds
/// the token (`cnf.x5t#S256`), as a presented one does; without it the client is
/// anonymous (401 `invalid_client`); from elsewhere the header is ignored (401).
#[tokio::test]
async fn token_with_a_forwarded_certificate() {
    playbook::install_crypto_provider();
    let pki = DevPki::generate(1, 1).expect("PKI");
    let forwarded = ForwardedCerts::new(
        "ssl-client-cert",
        Format::Nginx,
        vec![IpAddr::from(PROXY)],
        std::slice::from_ref(&pki.ca.cert.cert_der),
    )
    .expect("forwarding config")
    .as_keycloak();
    let options = oauth2_provider::Options {
        forwarded: Some(Arc::new(forwarded)),
        ..Default::default()
    };
    let running = oauth2_provider::spawn_dev(&pki, &[oauth2_provider::realm_file()], options)
        .await
        .expect("serve");
    let base = running.url.as_str();

    let answer = token(&pki, base, PROXY, None, Some(&pki.client)).await;
    assert_eq!(answer.0, 200, "{}", answer.1);
    let claims = claims(&answer.1);
    assert_eq!(claims["cnf"]["x5t#S256"], pki.client.x5t_s256(), "{claims}");

    assert_invalid_client(&token(&pki, base, PROXY, None, None).await);
    assert_invalid_client(&token(&pki, base, PROXY, None, Some(&pki.other_client)).await);
    // From an address that is not the proxy, the header is not trusted: as Keycloak 26.7.5
    // with proxy-trusted-addresses (observed live), it is ignored, and the client without a
    // certificate of its own gets 401 invalid_client; the provider's log says why.
    assert_invalid_client(&token(&pki, base, [127, 0, 0, 1], None, Some(&pki.client)).await);
    running.stop().await.expect("stop");
}
