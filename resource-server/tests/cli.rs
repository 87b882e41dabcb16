//! The `resource-server` binary itself: flags, a clear error for a missing file, and a
//! real start from certificate files against a stand-in provider.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use playbook::names;
use playbook::pki::DevPki;
use reqwest::Method;
use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_resource-server");

/// Kills the server when the test ends, pass or fail.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `--help` documents the flags the walkthrough and the README use.
#[test]
fn help_lists_the_flags() {
    let out = Command::new(BIN)
        .arg("--help")
        .output()
        .expect("run --help");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--issuer",
        "--ca",
        "--cert",
        "--key",
        "--port",
        "--client-auth",
        "--require-binding",
        "--leeway",
        "--audience",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
}

/// A missing CA file: the process fails at once and names the file and the fix.
#[test]
fn missing_ca_file_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("nope/ca.pem");
    let out = Command::new(BIN)
        .arg("--ca")
        .arg(&ca)
        .env_remove("ISSUER")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nope/ca.pem"), "{stderr}");
    assert!(stderr.contains("client certs"), "{stderr}");
}

/// The binary, started from the files `client certs` writes, serves the API with the
/// provider's keys.
#[tokio::test]
async fn binary_serves_the_api_from_certificate_files() {
    playbook::install_crypto_provider();
    let pki = DevPki::generate(1, 1).expect("PKI");
    let dir = tempfile::tempdir().expect("tempdir");
    playbook::pki::write_files(dir.path(), &pki.files().expect("files"), false).expect("write");
    let provider = TestProvider::start(&pki).await;
    // A free port for the child: bind, read, release.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let _server = Server(
        Command::new(BIN)
            .args(["--issuer", &provider.issuer, "--port", &port.to_string()])
            .arg("--ca")
            .arg(dir.path().join("ca.pem"))
            .arg("--cert")
            .arg(dir.path().join("resource-server.pem"))
            .arg("--key")
            .arg(dir.path().join("resource-server.key.pem"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the binary"),
    );
    let base = format!("https://localhost:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let id = identity(&pki.client);
        let client =
            playbook::client::https_client(std::slice::from_ref(&pki.ca.cert.cert_der), Some(&id))
                .expect("client");
        let ready = client.get(format!("{base}/health/ready")).send().await;
        if ready.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the binary did not become ready within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let token = provider.token(&pki);
    let users = get_with(
        &pki,
        &format!("{base}{}", names::USERS_API_PATH),
        &pki.client,
        &token,
    )
    .await;
    assert_eq!(users.status, 200, "{users:?}");
    // Default --client-auth required: without a certificate the handshake itself fails.
    let anonymous =
        playbook::client::https_client(std::slice::from_ref(&pki.ca.cert.cert_der), None)
            .expect("client")
            .get(format!("{base}/public"))
            .send()
            .await;
    assert!(anonymous.is_err(), "{anonymous:?}");
    let public = call(
        &pki,
        Method::GET,
        &format!("{base}/public"),
        Some(&pki.client),
        None,
    )
    .await;
    assert_eq!(public.status, 200);
    provider.stop().await;
}
