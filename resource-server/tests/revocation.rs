//! `--crl`: client certificates on a CA's revocation list, over real TLS on loopback. In the
//! handshake the server refuses a revoked certificate with the alert `certificate_revoked`,
//! and a CRL file replaced while the server runs is read again at the next handshake; a
//! certificate forwarded by a trusted proxy is checked against the same lists (401, saying
//! why). The CRLs are the dev PKI's own (`CertificateAuthority::crl`, what `client certs
//! revoke` writes).

mod support;

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use playbook::forwarded::{Format, ForwardedCerts, nginx_escape};
use playbook::names;
use playbook::pki::{CrlState, DevPki, Issued, PkiFile, Revoked, write_files};
use playbook::server::ClientAuth;
use playbook::server::revocation::CrlVerifier;
use support::*;

/// Writes the dev CA's CRL listing `revoked` into `dir/ca.crl.pem`, atomically.
fn publish(pki: &DevPki, dir: &Path, number: u64, revoked: &[&Issued]) {
    let state = CrlState {
        number,
        revoked: revoked
            .iter()
            .map(|i| Revoked::now(&i.cert_der).unwrap())
            .collect(),
    };
    let pem = pki.ca.crl(&state).unwrap();
    write_files(dir, &[PkiFile::cert("ca.crl.pem".into(), "CRL", pem)], true).unwrap();
}

/// Revoking the client's certificate while the server runs: the next handshake with it
/// fails with `certificate_revoked`, another certificate of the same CA still passes, and
/// nothing was restarted.
#[tokio::test]
async fn a_revoked_certificate_is_refused_in_the_handshake_after_the_crl_changes() {
    playbook::install_crypto_provider();
    let pki = DevPki::generate(1, 1).expect("PKI");
    let dir = tempfile::tempdir().unwrap();
    publish(&pki, dir.path(), 1, &[]);
    let provider = TestProvider::start(&pki).await;
    let mut config = config(&pki, &provider);
    config.crls = Some(Arc::new(
        CrlVerifier::new(
            &config.ca,
            config.client_auth,
            vec![dir.path().join("ca.crl.pem")],
        )
        .expect("CRL"),
    ));
    let server = resource_server(&pki, config).await;
    server
        .wait_ready(std::time::Duration::from_secs(10))
        .await
        .expect("keys loaded");
    let url = format!("{}/api/whoami", server.url);
    let token = provider.token(&pki);

    let before = get_with(&pki, &url, &pki.client, &token).await;
    assert_eq!(before.status, 200, "{before:?}");

    publish(&pki, dir.path(), 2, &[&pki.client]);
    let err = https_client(&pki, Some(&pki.client))
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect_err("the handshake fails");
    let text = causes(&err);
    assert!(text.contains("CertificateRevoked"), "{text}");

    // Another certificate of the same CA is not on the list.
    let other_token = provider
        .key()
        .mint(&provider.claims(Some(&pki.other_client)));
    let other = get_with(&pki, &url, &pki.other_client, &other_token).await;
    assert_eq!(other.status, 200, "{other:?}");
    server.stop().await.expect("stop");
    provider.stop().await;
}

/// Behind a trusted proxy (nginx, played by a client on 127.0.0.2), the forwarded
/// certificate is checked against the CRLs too: a revoked one is 401 `invalid_request`
/// naming the revocation, the others pass.
#[tokio::test]
async fn a_revoked_forwarded_certificate_is_refused_with_401() {
    playbook::install_crypto_provider();
    let pki = DevPki::generate(1, 1).expect("PKI");
    let dir = tempfile::tempdir().unwrap();
    publish(&pki, dir.path(), 1, &[&pki.client]);
    let provider = TestProvider::start(&pki).await;
    let mut config = config(&pki, &provider);
    config.client_auth = ClientAuth::Request;
    let crls = Arc::new(
        CrlVerifier::new(
            &config.ca,
            config.client_auth,
            vec![dir.path().join("ca.crl.pem")],
        )
        .expect("CRL"),
    );
    config.crls = Some(Arc::clone(&crls));
    config.forwarded = Some(Arc::new(
        ForwardedCerts::new(
            "ssl-client-cert",
            Format::Nginx,
            vec![IpAddr::from([127, 0, 0, 2])],
            &config.ca,
        )
        .expect("forwarding config")
        .with_bearer_challenge(names::REALM)
        .with_verifier(crls),
    ));
    let server = resource_server(&pki, config).await;
    server
        .wait_ready(std::time::Duration::from_secs(10))
        .await
        .expect("keys loaded");
    let url = format!("{}/api/whoami", server.url);

    let send = |cert: &Issued, token: String| {
        let tls = playbook::https::client_config(std::slice::from_ref(&pki.ca.cert.cert_der), None)
            .expect("TLS");
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .local_address(IpAddr::from([127, 0, 0, 2]))
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .expect("client");
        client
            .get(&url)
            .bearer_auth(token)
            .header("ssl-client-cert", nginx_escape(&cert.cert_pem))
            .send()
    };
    let revoked = send(&pki.client, provider.token(&pki))
        .await
        .expect("answer");
    assert_eq!(revoked.status().as_u16(), 401);
    let challenge = revoked
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body: serde_json::Value = revoked.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request", "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("revoked"),
        "{body}"
    );
    assert!(challenge.contains("invalid_request"), "{challenge}");

    let other_token = provider
        .key()
        .mint(&provider.claims(Some(&pki.other_client)));
    let fine = send(&pki.other_client, other_token).await.expect("answer");
    assert_eq!(fine.status().as_u16(), 200);
    server.stop().await.expect("stop");
    provider.stop().await;
}

/// `--crl` with a file that is not there stops the server at start, naming the file and the
/// command that makes it.
#[test]
fn a_missing_crl_file_is_named_with_its_fix() {
    use clap::Parser as _;
    let dir = tempfile::tempdir().unwrap();
    let pki = DevPki::generate(1, 1).expect("PKI");
    write_files(dir.path(), &pki.files().unwrap(), false).unwrap();
    let ca = dir.path().join("ca.pem");
    let missing = dir.path().join("nowhere.crl.pem");
    let args = resource_server::config::Args::parse_from([
        "resource-server".as_ref(),
        "--ca".as_ref(),
        ca.as_os_str(),
        "--crl".as_ref(),
        missing.as_os_str(),
    ]);
    let err = args.config().expect_err("no such CRL").to_string();
    assert!(
        err.contains("nowhere.crl.pem") && err.contains("client certs crl"),
        "{err}"
    );
}
