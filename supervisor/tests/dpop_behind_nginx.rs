//! A DPoP call through nginx to a resource server the supervisor set up as `./start.sh
//! --proxy nginx` has it set up (`supervisor::up::resource_server_spec` from the same
//! arguments start.sh passes): its public URL is the proxy's (`--resource-server`, the URL
//! clients call), so a proof naming the proxy's URL is accepted, and a proof naming the
//! back end's own URL, which the back end would otherwise take for its own, is refused.
//!
//! Needs nginx (`apt-get install nginx-light`; `scripts/test.sh` and `.ci/run` install it
//! when they run as root). Without it the test fails and says so: it never skips.

#[path = "../../resource-server/tests/support/nginx.rs"]
mod nginx;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser as _;
use client::token::{ClientAuth, ClientId, ClientSecret, TokenRequest};
use nginx::{Nginx, PROXY_SOURCE};
use playbook::forwarded::{Format, ForwardedCerts};
use playbook::names;
use playbook::pki::DevPki;
use playbook::rfc9449::DpopKey;
use url::Url;

/// The provider, nginx in front of it and of one resource server started from the
/// supervisor's arguments; a DPoP-bound token through nginx, then two calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dpop_through_nginx_names_the_proxy_url() {
    playbook::install_crypto_provider();
    let pki = DevPki::generate(1, 1).expect("PKI");
    let dir = tempfile::tempdir().expect("temp dir");
    let certs = dir.path().join("certs");
    playbook::pki::write_files(&certs, &pki.files().expect("PEM files"), false)
        .expect("writing the PKI");

    // The provider behind nginx, trusting its forwarded certificates (as start.sh's).
    let forwarding = ForwardedCerts::new(
        "ssl-client-cert",
        Format::Nginx,
        vec![IpAddr::from(PROXY_SOURCE)],
        std::slice::from_ref(&pki.ca.cert.cert_der),
    )
    .expect("forwarding config");
    let options = oauth2_provider::Options {
        forwarded: Some(Arc::new(forwarding.as_keycloak())),
        ..Default::default()
    };
    let provider = oauth2_provider::spawn_dev(&pki, &[oauth2_provider::realm_file()], options)
        .await
        .expect("provider");
    let backend_port = nginx::free_port();
    let backend = SocketAddr::from(([127, 0, 0, 1], backend_port));
    let nginx = tokio::task::block_in_place(|| {
        Nginx::start(
            &certs,
            &dir.path().join("nginx"),
            provider.addr,
            &[backend],
            1,
        )
    });
    let issuer = format!("{}/realms/{}", nginx.provider_url(), names::REALM);
    let api = nginx.api_url();

    // The resource server as the supervisor makes it from start.sh's arguments.
    let args = supervisor::up::Args::parse_from(nginx.supervisor_args(&certs));
    let mut spec = supervisor::up::resource_server_spec(&args).expect("the spec");
    spec.port = backend_port;
    let server = supervisor::servers::start_resource_server(spec, Duration::from_secs(20))
        .await
        .expect("the resource server, its keys loaded through nginx");

    // A DPoP-bound token from the DPoP client, through nginx.
    let http = playbook::https::https_client(
        std::slice::from_ref(&pki.ca.cert.cert_der),
        Some(&client_identity(&certs)),
    )
    .expect("client");
    let http = client::http::Http::from(http);
    let key = DpopKey::generate().expect("a DPoP key");
    let endpoint = Url::parse(&format!("{issuer}/protocol/openid-connect/token")).unwrap();
    let request = TokenRequest {
        client_id: ClientId::new(names::DPOP_CLIENT_ID),
        scope: None,
        auth: ClientAuth::SecretBasic(ClientSecret::new(names::DPOP_CLIENT_SECRET)),
    };
    let token = client::token::request_token_with(&http, &endpoint, &request, Some(&key))
        .await
        .expect("a DPoP-bound token through nginx")
        .access_token;

    // The proof names the URL the client called, the proxy's: accepted.
    let base = Url::parse(&api).unwrap();
    let get = reqwest::Method::GET;
    let answer = client::resource::call_with(
        &http,
        &base,
        get.clone(),
        "/api/whoami",
        &token,
        None,
        Some(&key),
    )
    .await
    .expect("answered");
    assert_eq!(answer.status, 200, "{}", answer.summary());

    // A proof naming the back end's own URL, sent through nginx: refused.
    let backend_url = format!("https://localhost:{backend_port}/api/whoami");
    let proof = key.proof(
        "GET",
        &backend_url,
        Some(token.secret()),
        client::token::unix_now(),
    );
    let answer = client::resource::call_with_proof(
        &http,
        &base,
        get,
        "/api/whoami",
        &token,
        None,
        Some(&proof),
    )
    .await
    .expect("answered");
    assert_eq!(
        (answer.status, answer.error_code().map(|c| c.to_string())),
        (401, Some("invalid_dpop_proof".to_owned())),
        "{}",
        answer.summary()
    );
    let why = answer.error_description().unwrap_or_default();
    assert!(why.contains("htu"), "the reason names htu: {why}");

    server.stop().await.expect("stops");
    drop(nginx);
    provider.stop().await.expect("stops");
}

fn client_identity(certs: &std::path::Path) -> playbook::Identity {
    playbook::Identity::load(
        &certs.join("client.pem"),
        &certs.join("client.key.pem"),
        Some(playbook::x509::Purpose::Client),
    )
    .expect("client.pem")
}
