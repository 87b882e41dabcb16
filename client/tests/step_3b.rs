//! Walkthrough step 3b's rule (a certificate with the right DN from a CA nobody trusts),
//! over real TLS on loopback: it passes only on the refusal the topology gives. TLS ending
//! at the embedded provider: a TLS alert (rustls: unknown_ca) or a reset after the
//! certificate was sent; behind nginx (the shipped configuration, `proxy/nginx.sh run`):
//! nginx's 401 invalid_client. A provider that is not there (connection refused) fails it,
//! and so does the proxy's answer where no proxy is expected.
//!
//! The nginx test needs nginx (`apt-get install nginx-light`); without it, it fails and says
//! so, as `resource-server/tests/behind_nginx.rs` does.

mod common;
#[path = "../../resource-server/tests/support/nginx.rs"]
mod nginx;

use std::path::Path;

use client::settings::Proxy;
use client::token::{self, TokenResponse};
use client::walkthrough::UntrustedCaRefusal;
use client::{ClientError, Settings};
use common::{Servers, start};
use playbook::Identity;
use playbook::names;

/// The mTLS client's token request presenting `s`'s rogue certificate (right DN, untrusted
/// CA) to `token_endpoint`, as step 3b sends it.
async fn rogue_request(
    s: &Settings,
    token_endpoint: &url::Url,
) -> Result<TokenResponse, ClientError> {
    let roots = playbook::pem::load_ca_certs(&s.ca).unwrap();
    let rogue = Identity::load(&s.rogue_cert, &s.rogue_key, None).unwrap();
    let http: client::http::Http = playbook::https::https_client(&roots, Some(&rogue))
        .unwrap()
        .into();
    token::request_token(
        &http,
        token_endpoint,
        &s.token_request(client::token::AuthMethod::Tls),
    )
    .await
}

/// `{base}/realms/{realm}/protocol/openid-connect/token`.
fn token_endpoint(base: &str) -> url::Url {
    url::Url::parse(&format!(
        "{base}/realms/{}/protocol/openid-connect/token",
        names::REALM
    ))
    .unwrap()
}

/// TLS ending at the embedded provider: every one of 20 tries is refused as the rule
/// expects (the alert, or a reset when TLS 1.3's request crosses it), and the test says
/// which it saw; the same request to a port nothing listens on (a provider that died after
/// step 3) is not a refusal the rule accepts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_provider_an_alert_or_a_reset_and_a_dead_provider_fails() {
    let Servers {
        provider,
        resource_server,
        dir: _certs,
        settings: s,
    } = start().await;
    let s = &s;
    let endpoint = token_endpoint(&provider.url);
    let (mut alerts, mut resets) = (0, 0);
    for _ in 0..20 {
        let r = rogue_request(s, &endpoint).await;
        match UntrustedCaRefusal::of(&r, Proxy::None) {
            Some(UntrustedCaRefusal::Alert(rustls::AlertDescription::UnknownCA)) => alerts += 1,
            Some(UntrustedCaRefusal::Reset) => resets += 1,
            other => panic!("not rustls's refusal: {other:?} from {r:?}"),
        }
        // The proxy's answer is not what TLS ending at the provider gives, and vice versa.
        assert_eq!(UntrustedCaRefusal::of(&r, Proxy::Nginx), None);
    }
    println!(
        "step 3b at the embedded provider, 20 tries: {alerts} unknown_ca alerts, {resets} resets"
    );
    resource_server.stop().await.unwrap();
    provider.stop().await.unwrap();

    // The provider is gone: its port refuses connections.
    let r = rogue_request(s, &endpoint).await;
    assert!(
        matches!(
            r,
            Err(ClientError::Transport {
                kind: client::error::TransportKind::Refused,
                ..
            })
        ),
        "{r:?}"
    );
    assert_eq!(UntrustedCaRefusal::of(&r, Proxy::None), None, "{r:?}");
    assert_eq!(UntrustedCaRefusal::of(&r, Proxy::Nginx), None, "{r:?}");
}

/// Behind nginx (the shipped configuration, in front of the embedded provider): nginx
/// answers 401 invalid_client itself (`$ssl_client_verify`), which the rule accepts only
/// when the client was told of the proxy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_nginx_the_proxys_refusal() {
    let servers = start().await;
    let s = &servers.settings;
    let nginx_dir = servers.dir.path().join("nginx");
    // nginx needs an API back end to start; none is called here.
    let unused = nginx::loopback_addr(&format!("https://localhost:{}", nginx::free_port()));
    let mut proxy = tokio::task::block_in_place(|| {
        nginx::Nginx::start(
            servers.dir.path(),
            Path::new(&nginx_dir),
            servers.provider.addr,
            &[unused],
            1,
        )
    });
    // nginx answered a TCP connect before this (Nginx::start waits for it), yet one CI run saw
    // this request refused; a refused connection is not what this test is about, so it is
    // retried for up to 5 s (as the client's own --wait does), and then the answer must be
    // nginx's.
    let endpoint = token_endpoint(&proxy.provider_url());
    let mut r = rogue_request(s, &endpoint).await;
    for _ in 0..20 {
        let refused = matches!(
            &r,
            Err(ClientError::Transport {
                kind: client::error::TransportKind::Refused,
                ..
            })
        );
        if !refused {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        r = rogue_request(s, &endpoint).await;
    }
    assert_eq!(
        UntrustedCaRefusal::of(&r, Proxy::Nginx),
        Some(UntrustedCaRefusal::ByProxy(Proxy::Nginx)),
        "{r:?}"
    );
    match &r {
        Err(ClientError::OAuth { error, .. }) => assert!(
            error.status == 401
                && error
                    .error_description
                    .as_deref()
                    .is_some_and(|d| d.contains("the proxy could not verify")),
            "nginx's own answer: {error:?}"
        ),
        other => panic!("nginx's 401 invalid_client: {other:?}"),
    }
    assert_eq!(UntrustedCaRefusal::of(&r, Proxy::None), None, "{r:?}");
    tokio::task::block_in_place(|| proxy.stop());
    servers.stop().await;
}
