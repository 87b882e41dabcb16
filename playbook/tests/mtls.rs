//! The mTLS plumbing over real TLS on loopback: which client certificates a server
//! accepts, refuses, or (in `request` mode) sees as anonymous.

use std::path::Path;

use axum::Router;
use axum::routing::get;
use playbook::pki::{DevPki, Issued, Validity};
use playbook::server::{self, Background, ClientAuth, Connection};
use playbook::{Identity, x509};
use tokio::net::TcpListener;

/// Presents the certificate as it is, valid or not: the server is the one under test.
fn identity(issued: &Issued) -> Identity {
    Identity::unchecked(
        Path::new("test.pem"),
        vec![issued.cert_der.clone()],
        issued.key_der(),
    )
}

/// Answers with the subject of the client certificate on the connection, or "anonymous".
async fn whoami(conn: Connection) -> String {
    match conn.client_leaf() {
        Some(leaf) => x509::CertInfo::from_der(leaf).expect("leaf parses").subject,
        None => "anonymous".to_owned(),
    }
}

struct Server {
    url: String,
    background: Background,
}

impl Server {
    async fn start(pki: &DevPki, mode: ClientAuth) -> Server {
        let tls = server::server_config(
            &identity(&pki.resource_server),
            std::slice::from_ref(&pki.ca.cert.cert_der),
            mode,
        )
        .expect("server config");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!(
            "https://localhost:{}/whoami",
            listener.local_addr().expect("addr").port()
        );
        let app = Router::new().route("/whoami", get(whoami));
        let background = Background::spawn(|stopped| server::serve(listener, tls, app, stopped));
        Server { url, background }
    }

    async fn stop(self) {
        tokio::time::timeout(std::time::Duration::from_secs(10), self.background.stop())
            .await
            .expect("server stops within 10 s")
            .expect("server task and serve loop");
    }
}

async fn get_whoami(
    pki: &DevPki,
    url: &str,
    cert: Option<&Issued>,
) -> Result<String, reqwest::Error> {
    let id = cert.map(identity);
    let client =
        playbook::https::https_client(std::slice::from_ref(&pki.ca.cert.cert_der), id.as_ref())
            .expect("client");
    client
        .get(url)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await
}

fn expired_client(pki: &DevPki) -> Issued {
    pki.ca
        .issue_client(playbook::names::CLIENT_SUBJECT_DN, Validity::expired())
        .expect("expired cert")
}

/// `required`: only a certificate from our CA, currently valid, gets through.
#[tokio::test]
async fn required_mode_accepts_only_valid_certificates_from_our_ca() {
    playbook::install_crypto_provider();
    let pki = DevPki::generate(2, 1).expect("pki");
    let server = Server::start(&pki, ClientAuth::Required).await;

    let subject = get_whoami(&pki, &server.url, Some(&pki.client))
        .await
        .expect("right cert accepted");
    assert_eq!(subject, playbook::names::CLIENT_SUBJECT_DN);

    assert!(
        get_whoami(&pki, &server.url, None).await.is_err(),
        "no certificate: refused"
    );
    assert!(
        get_whoami(&pki, &server.url, Some(&pki.rogue_client))
            .await
            .is_err(),
        "right DN from an untrusted CA: refused"
    );
    assert!(
        get_whoami(&pki, &server.url, Some(&expired_client(&pki)))
            .await
            .is_err(),
        "expired certificate: refused"
    );
    server.stop().await;
}

/// `request` (Keycloak's `https-client-auth=request`): no certificate is anonymous, a bad
/// one still fails the handshake.
#[tokio::test]
async fn request_mode_sees_no_certificate_as_anonymous() {
    playbook::install_crypto_provider();
    let pki = DevPki::generate(2, 1).expect("pki");
    let server = Server::start(&pki, ClientAuth::Request).await;

    assert_eq!(
        get_whoami(&pki, &server.url, None)
            .await
            .expect("anonymous reaches the app"),
        "anonymous"
    );
    assert_eq!(
        get_whoami(&pki, &server.url, Some(&pki.other_client))
            .await
            .expect("trusted cert"),
        playbook::names::OTHER_CLIENT_SUBJECT_DN
    );
    assert!(
        get_whoami(&pki, &server.url, Some(&pki.rogue_client))
            .await
            .is_err(),
        "untrusted: refused"
    );
    assert!(
        get_whoami(&pki, &server.url, Some(&expired_client(&pki)))
            .await
            .is_err(),
        "expired: refused"
    );
    server.stop().await;
}

/// Each request sees the certificate of its own connection, not another's.
#[tokio::test]
async fn each_connection_carries_its_own_certificate() {
    playbook::install_crypto_provider();
    let pki = DevPki::generate(2, 1).expect("pki");
    let server = Server::start(&pki, ClientAuth::Request).await;
    let (a, b) = tokio::join!(
        get_whoami(&pki, &server.url, Some(&pki.client)),
        get_whoami(&pki, &server.url, Some(&pki.other_client))
    );
    assert_eq!(a.expect("a"), playbook::names::CLIENT_SUBJECT_DN);
    assert_eq!(b.expect("b"), playbook::names::OTHER_CLIENT_SUBJECT_DN);
    server.stop().await;
}

/// The thumbprint of a fixed certificate equals the one openssl computed for the same file:
/// `openssl x509 -in fixed-client.pem -outform DER | openssl dgst -sha256 -binary | basenc --base64url`.
#[test]
fn thumbprint_matches_openssl_for_a_fixed_certificate() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fixed-client.pem");
    let certs = playbook::pem::load_certs(&path).expect("fixture loads");
    assert_eq!(
        playbook::rfc8705::thumbprint(&certs[0]),
        "bpJC3lNTsT8UKsfGgsQb_kzdebS_2H_QRe4tP9tPi3Q"
    );
    let info = x509::CertInfo::from_der(&certs[0]).expect("parses");
    // `openssl x509 -noout -subject -nameopt RFC2253` prints the same string.
    assert_eq!(info.subject, "CN=thumbprint-fixture,O=OAuth2 Playbook");
}

/// Loading errors name the file and the problem.
#[test]
fn loading_errors_name_the_file_and_the_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope.pem");
    let err = playbook::pem::load_certs(&missing).unwrap_err().to_string();
    assert!(
        err.contains("nope.pem") && err.contains("client certs"),
        "{err}"
    );

    let not_pem = dir.path().join("garbage.pem");
    std::fs::write(&not_pem, "hello").expect("write");
    let err = playbook::pem::load_certs(&not_pem).unwrap_err().to_string();
    assert!(
        err.contains("garbage.pem") && err.contains("BEGIN CERTIFICATE"),
        "{err}"
    );

    let pki = DevPki::generate(2, 1).expect("pki");
    let (cert, key) = (
        dir.path().join("client.pem"),
        dir.path().join("other.key.pem"),
    );
    std::fs::write(&cert, &pki.client.cert_pem).expect("write");
    std::fs::write(&key, &pki.other_client.key_pem).expect("write");
    let err = Identity::load(&cert, &key, None).unwrap_err().to_string();
    assert!(
        err.contains("does not match") && err.contains("other.key.pem"),
        "{err}"
    );

    let key = dir.path().join("client.key.pem");
    std::fs::write(&key, &pki.client.key_pem).expect("write");
    let err = Identity::load(&cert, &key, Some(x509::Purpose::Server))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("serverAuth"),
        "client cert used as a server cert: {err}"
    );

    let expired = expired_client(&pki);
    std::fs::write(&cert, &expired.cert_pem).expect("write");
    std::fs::write(&key, &expired.key_pem).expect("write");
    let err = Identity::load(&cert, &key, None).unwrap_err().to_string();
    assert!(
        err.contains("expired") && err.contains("client.pem"),
        "{err}"
    );
}

/// Every `--key-type`: a PKI of that type (CA, server, clients) completes the mTLS
/// handshake, the server sees the client's subject, and the rogue CA's client is refused.
#[tokio::test]
async fn every_key_type_completes_the_mutual_handshake() {
    playbook::install_crypto_provider();
    for key_type in playbook::pki::KeyType::ALL {
        let pki = DevPki::generate_with(key_type, 2, 1).expect("pki");
        assert_eq!(pki.key_type(), key_type);
        let expected_key = match key_type {
            playbook::pki::KeyType::Rsa2048 => "RSA 2048",
            playbook::pki::KeyType::Rsa4096 => "RSA 4096",
            playbook::pki::KeyType::EcdsaP256 => "ECDSA P-256",
            playbook::pki::KeyType::Ed25519 => "Ed25519",
        };
        for cert in [&pki.ca.cert, &pki.resource_server, &pki.client] {
            let info = x509::CertInfo::from_der(&cert.cert_der).expect("parses");
            assert_eq!(info.public_key, expected_key, "{key_type}");
        }
        let server = Server::start(&pki, ClientAuth::Required).await;
        let subject = get_whoami(&pki, &server.url, Some(&pki.client))
            .await
            .unwrap_or_else(|e| panic!("{key_type}: right cert accepted: {e:?}"));
        assert_eq!(subject, playbook::names::CLIENT_SUBJECT_DN, "{key_type}");
        assert!(
            get_whoami(&pki, &server.url, Some(&pki.rogue_client))
                .await
                .is_err(),
            "{key_type}: untrusted CA refused"
        );
        server.stop().await;
    }
}
