//! The embedded provider reads each of Keycloak's six proxy header shapes as Keycloak
//! 26.7.5 does: the same cases as `keycloak_native_shapes.rs` (`support/shapes.rs`), over
//! real TLS on loopback, a client bound to 127.0.0.2 playing the proxy, and every answer
//! equal to native Keycloak's golden answer in `tests/golden/proxy/<lookup>.json`.
//!
//! ```text
//! cargo test -p oauth2-provider --test proxy_shapes
//! ```

mod support {
    #[allow(dead_code)] // claims and token_with only
    pub mod forwarded;
    #[allow(dead_code)] // the recording half is keycloak_native_shapes.rs'
    pub mod shapes;
}

use std::net::IpAddr;
use std::sync::Arc;

use playbook::forwarded::{Format, ForwardedCerts};
use playbook::pki::DevPki;
use support::shapes::{PROXY, answers, compare, setup};

/// The provider configured for `format` as `oauth2-provider --client-cert-format …` is.
async fn provider(pki: &DevPki, format: Format) -> oauth2_provider::Running {
    let (header, chain) = setup(format);
    let forwarded = ForwardedCerts::new(
        header,
        format,
        vec![IpAddr::from(PROXY)],
        std::slice::from_ref(&pki.ca.cert.cert_der),
    )
    .expect("forwarding config")
    .with_chain(chain)
    .as_keycloak();
    let options = oauth2_provider::Options {
        forwarded: Some(Arc::new(forwarded)),
        ..Default::default()
    };
    oauth2_provider::spawn_dev(pki, &[oauth2_provider::realm_file()], options)
        .await
        .expect("serve")
}

async fn check(format: Format) {
    playbook::install_crypto_provider();
    let pki = DevPki::generate(1, 1).expect("PKI");
    let running = provider(&pki, format).await;
    let got = answers(format, &pki, running.url.as_str()).await;
    running.stop().await.expect("stop");
    compare(format, &got);
}

/// nginx: `$ssl_client_escaped_cert`, the chain rebuilt from the truststore.
#[tokio::test]
async fn nginx() {
    check(Format::Nginx).await;
}

/// HAProxy: `ssl_c_der,base64`, the chain as `ssl_c_chain_der,base64` in one header.
#[tokio::test]
async fn haproxy() {
    check(Format::Haproxy).await;
}

/// Apache: mod_headers' `SSL_CLIENT_CERT` (PEM, lines as spaces), `SSL_CLIENT_CERT_CHAIN_n`.
#[tokio::test]
async fn apache() {
    check(Format::Apache).await;
}

/// Traefik: `X-Forwarded-Tls-Client-Cert`, base64 certificates joined with commas.
#[tokio::test]
async fn traefik() {
    check(Format::Traefik).await;
}

/// Envoy: `x-forwarded-client-cert` (`Hash`, `Cert`, `Chain`), read as Keycloak's `envoy`.
#[tokio::test]
async fn envoy() {
    check(Format::Xfcc).await;
}

/// RFC 9440: `Client-Cert` and `Client-Cert-Chain` byte sequences.
#[tokio::test]
async fn rfc9440() {
    check(Format::Rfc9440).await;
}
