//! The resource server reads every header shape Keycloak reads (nginx, HAProxy, Apache,
//! Traefik, Envoy's XFCC, RFC 9440), composed exactly as each proxy writes it (the cases'
//! composer is the provider's, `oauth2-provider/tests/support/shapes.rs`), and refuses every
//! spoof: the headers from an address that is not the trusted proxy, a certificate from
//! another CA, and, stricter than Keycloak (README, "Behind a proxy"), a header sent twice,
//! a value it cannot read, and an XFCC `Hash` that is not the certificate's.
//!
//! A test client bound to 127.0.0.2 plays the proxy; one on 127.0.0.1 a client that talks
//! to the back end directly. Real HAProxy and Apache in front: `behind_proxies.rs`.

mod support;
// The provider's case composer (it reaches `claims` as `super::forwarded`).
#[allow(dead_code)] // claims and token_with only
#[path = "../../oauth2-provider/tests/support/forwarded.rs"]
mod forwarded;
#[allow(dead_code)] // the composer and the setups only
#[path = "../../oauth2-provider/tests/support/shapes.rs"]
mod shapes;

use std::net::IpAddr;
use std::sync::Arc;

use playbook::forwarded::{Format, ForwardedCerts};
use playbook::names;
use playbook::pki::DevPki;
use playbook::server::ClientAuth;
use serde_json::Value;
use shapes::{DIRECT, PROXY, SHAPES, proxy_headers, setup};
use support::*;

async fn start(pki: &DevPki, provider: &TestProvider, format: Format) -> resource_server::Running {
    let mut config = config(pki, provider);
    config.client_auth = ClientAuth::Request;
    let (header, chain) = setup(format);
    config.forwarded = Some(Arc::new(
        ForwardedCerts::new(
            header,
            format,
            vec![IpAddr::from(PROXY)],
            std::slice::from_ref(&pki.ca.cert.cert_der),
        )
        .expect("forwarding config")
        .with_chain(chain)
        .with_bearer_challenge(names::REALM),
    ));
    let server = resource_server(pki, config).await;
    server
        .wait_ready(std::time::Duration::from_secs(10))
        .await
        .expect("keys loaded");
    server
}

/// A whoami from `source` with `headers` (no certificate of the caller's own).
async fn whoami(
    pki: &DevPki,
    base: &str,
    source: [u8; 4],
    headers: &[(String, String)],
    token: &str,
) -> (u16, Value) {
    let tls = playbook::https::client_config(std::slice::from_ref(&pki.ca.cert.cert_der), None)
        .expect("TLS");
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .local_address(IpAddr::from(source))
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("client");
    let mut request = client.get(format!("{base}/api/whoami")).bearer_auth(token);
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let response = request.send().await.expect("answered");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

#[track_caller]
fn refused(shape: Format, case: &str, answer: &(u16, Value), status: u16, because: &str) {
    let (got, body) = answer;
    assert_eq!(
        (*got, body["error"].as_str()),
        (
            status,
            Some(if status == 400 {
                "invalid_request"
            } else {
                "invalid_token"
            })
        ),
        "{} {case}: {body}",
        shape.as_str()
    );
    let reason = body["error_description"].as_str().unwrap_or_default();
    assert!(
        reason.contains(because),
        "{} {case}: expected {because:?} in {body}",
        shape.as_str()
    );
}

/// Per shape: the proxy's header accepted and bound; every spoof and every value the
/// resource server cannot vouch for refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shape_accepted_from_the_proxy_and_spoofs_refused() {
    playbook::install_crypto_provider();
    let pki = DevPki::generate(1, 1).expect("PKI");
    let provider = TestProvider::start(&pki).await;
    let token = provider.token(&pki);
    let ca = &pki.ca.cert;
    for format in SHAPES {
        let server = start(&pki, &provider, format).await;
        let base = server.url.as_str();
        let (header, _) = setup(format);
        let leaf = proxy_headers(format, &pki.client, &[]);

        // From the proxy: the certificate is the client's, the token's binding matches.
        for (case, headers) in [
            ("leaf", leaf.clone()),
            ("leaf and chain", proxy_headers(format, &pki.client, &[ca])),
        ] {
            let (status, body) = whoami(&pki, base, PROXY, &headers, &token).await;
            assert_eq!(status, 200, "{} {case}: {body}", format.as_str());
            assert_eq!(
                body["binding"]["result"],
                "matches",
                "{} {case}: {body}",
                format.as_str()
            );
        }
        // Another client's certificate from the proxy: not the token's.
        let other = proxy_headers(format, &pki.other_client, &[]);
        refused(
            format,
            "other client",
            &whoami(&pki, base, PROXY, &other, &token).await,
            401,
            "bound to certificate",
        );
        // Spoofs: the header straight to the back end; the chain header alone likewise.
        refused(
            format,
            "from 127.0.0.1",
            &whoami(&pki, base, DIRECT, &leaf, &token).await,
            400,
            "only accepted from a trusted proxy",
        );
        let with_chain = proxy_headers(format, &pki.client, &[ca]);
        let chain_only: Vec<_> = with_chain
            .iter()
            .filter(|(n, _)| n != header)
            .cloned()
            .collect();
        if !chain_only.is_empty() {
            refused(
                format,
                "chain header from 127.0.0.1",
                &whoami(&pki, base, DIRECT, &chain_only, &token).await,
                400,
                "only accepted from a trusted proxy",
            );
        }
        // From the proxy, but a certificate of another CA, garbage, or the header twice.
        let rogue = proxy_headers(format, &pki.rogue_client, &[]);
        refused(
            format,
            "other CA",
            &whoami(&pki, base, PROXY, &rogue, &token).await,
            400,
            "does not verify against the CA",
        );
        let garbage = vec![(header.to_owned(), "hello".to_owned())];
        refused(
            format,
            "garbage",
            &whoami(&pki, base, PROXY, &garbage, &token).await,
            400,
            "",
        );
        let mut twice = leaf.clone();
        twice.extend(proxy_headers(format, &pki.client, &[]));
        refused(
            format,
            "twice",
            &whoami(&pki, base, PROXY, &twice, &token).await,
            400,
            "times",
        );
        server.stop().await.expect("stop");
    }
    provider.stop().await;
}

/// Stricter than Keycloak's `envoy` lookup, which ignores it: an XFCC `Hash` that is not the
/// SHA-256 of the certificate is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xfcc_hash_must_match() {
    playbook::install_crypto_provider();
    let pki = DevPki::generate(1, 1).expect("PKI");
    let provider = TestProvider::start(&pki).await;
    let token = provider.token(&pki);
    let server = start(&pki, &provider, Format::Xfcc).await;
    let cert = playbook::forwarded::nginx_escape(&pki.client.cert_pem);
    let wrong = vec![(
        "x-forwarded-client-cert".to_owned(),
        format!("Hash={};Cert=\"{cert}\"", "0".repeat(64)),
    )];
    let answer = whoami(&pki, &server.url, PROXY, &wrong, &token).await;
    refused(Format::Xfcc, "hash wrong", &answer, 400, "SHA-256");
    server.stop().await.expect("stop");
    provider.stop().await;
}
