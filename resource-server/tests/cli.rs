//! The `resource-server` binary itself: flags, a clear error for a missing file (one line,
//! no backtrace), and a real start from certificate files against a stand-in provider,
//! with a log free of colour codes when it goes to a pipe.

mod support;

use std::io::BufRead as _;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
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
        "--request-timeout",
        "--max-connections-per-peer",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
}

/// A missing CA file: the process fails at once (exit 1) and names the file and the fix,
/// as one `error:` line with the cause chain, and no Rust backtrace even when
/// `RUST_BACKTRACE=1` is set: it is a setup mistake, not a bug.
#[test]
fn missing_ca_file_is_named_without_a_backtrace() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("nope/ca.pem");
    let out = Command::new(BIN)
        .arg("--ca")
        .arg(&ca)
        .env_remove("ISSUER")
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: checking --issuer"), "{stderr}");
    assert!(stderr.contains("nope/ca.pem"), "{stderr}");
    assert!(stderr.contains("client certs"), "{stderr}");
    assert!(!stderr.to_lowercase().contains("backtrace"), "{stderr}");
    assert!(!stderr.contains("Caused by"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}

/// The child's stdout (its log), line by line, read on a thread so a test can wait for a
/// line with a deadline.
struct Log {
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Log {
    fn of(child: &mut Child) -> Log {
        let stdout = child.stdout.take().expect("stdout piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Log {
            lines,
            seen: Vec::new(),
        }
    }

    #[track_caller]
    fn assert_no_ansi(&self) {
        assert!(
            self.seen.iter().all(|line| !line.contains('\x1b')),
            "ANSI escape codes in a piped log: {:#?}",
            self.seen
        );
    }

    /// The first line containing `needle`, waiting at most `timeout`.
    fn wait_for(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(e) => panic!(
                    "no log line with {needle:?} ({e}); log so far: {:#?}",
                    self.seen
                ),
            }
        }
    }
}

/// Starts the binary with the certificate files in `dir`, trusting `issuer`; waits until
/// it is ready (asking with `pki.client`, trusting `server_roots` for the server's
/// certificate). Returns the process, its log and its base URL.
async fn start_binary(
    pki: &DevPki,
    server_roots: &[rustls_pki_types::CertificateDer<'static>],
    dir: &std::path::Path,
    issuer: &str,
) -> (Server, Log, String) {
    // `--port 0`: the OS picks a free port and the log says which (no bind-and-release race).
    let mut server = Server(
        Command::new(BIN)
            .args(["--issuer", issuer, "--port", "0"])
            .arg("--ca")
            .arg(dir.join("ca.pem"))
            .arg("--cert")
            .arg(dir.join("resource-server.pem"))
            .arg("--key")
            .arg(dir.join("resource-server.key.pem"))
            .env_remove("RUST_LOG")
            .env_remove("NO_COLOR")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the binary"),
    );
    let mut log = Log::of(&mut server.0);
    let listening = log.wait_for("resource server listening", Duration::from_secs(30));
    // stdout is a pipe here, as when start.sh writes the log to a file: no colour codes.
    log.assert_no_ansi();
    let port = listening
        .split_whitespace()
        .find_map(|field| field.strip_prefix("addr=127.0.0.1:"))
        .and_then(|port| port.parse::<u16>().ok())
        .unwrap_or_else(|| panic!("no addr=127.0.0.1:<port> in {listening:?}"));
    let base = format!("https://localhost:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let id = identity(&pki.client);
        let client = playbook::https::https_client(server_roots, Some(&id)).expect("client");
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
    (server, log, base)
}

/// A dev PKI written to a temporary directory as `client certs` writes it, and a stand-in
/// provider with that PKI's certificate.
async fn files_and_provider() -> (DevPki, tempfile::TempDir, TestProvider) {
    playbook::install_crypto_provider();
    let pki = DevPki::generate(1, 1).expect("PKI");
    let dir = tempfile::tempdir().expect("tempdir");
    playbook::pki::write_files(dir.path(), &pki.files().expect("files"), false).expect("write");
    let provider = TestProvider::start(&pki).await;
    (pki, dir, provider)
}

/// The binary, started from the files `client certs` writes, serves the API with the
/// provider's keys.
#[tokio::test]
async fn binary_serves_the_api_from_certificate_files() {
    let (pki, dir, provider) = files_and_provider().await;
    let roots = [pki.ca.cert.cert_der.clone()];
    let (_server, mut log, base) = start_binary(&pki, &roots, dir.path(), &provider.issuer).await;
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
        playbook::https::https_client(std::slice::from_ref(&pki.ca.cert.cert_der), None)
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
    log.wait_for("token accepted", Duration::from_secs(10));
    log.assert_no_ansi();
    provider.stop().await;
}

/// A certificate file replaced on disk while the server runs (fault test): the server
/// keeps serving with the certificate it loaded at start (a client that trusts only the
/// old CA still connects), and says so in its log; a restart picks up the new file.
#[tokio::test]
async fn a_replaced_certificate_file_takes_effect_at_the_next_start() {
    let (pki, dir, provider) = files_and_provider().await;
    let roots = [pki.ca.cert.cert_der.clone()];
    let (server, log, base) = start_binary(&pki, &roots, dir.path(), &provider.issuer).await;
    assert!(
        log.seen
            .iter()
            .any(|line| line.contains("at the next start")),
        "the log says when a replaced file takes effect: {:#?}",
        log.seen
    );

    // Another CA's resource-server certificate and key replace ours on disk (ca.pem stays).
    let other = DevPki::generate(1, 1).expect("another PKI");
    let replacements: Vec<_> = other
        .files()
        .expect("files")
        .into_iter()
        .filter(|f| f.name.starts_with("resource-server."))
        .collect();
    assert_eq!(replacements.len(), 2, "certificate and key");
    playbook::pki::write_files(dir.path(), &replacements, true).expect("replace");
    let public = format!("{base}/public");
    let answer = call(&pki, Method::GET, &public, Some(&pki.client), None).await;
    assert_eq!(
        answer.status, 200,
        "still the certificate loaded at start: {answer:?}"
    );
    drop(server);

    // Restarted, it serves the new certificate: a client of the old CA no longer trusts it.
    let both = [pki.ca.cert.cert_der.clone(), other.ca.cert.cert_der.clone()];
    let (_server, _log, base) = start_binary(&pki, &both, dir.path(), &provider.issuer).await;
    let old_ca =
        playbook::https::https_client(&roots, Some(&identity(&pki.client))).expect("client");
    let refused = old_ca.get(format!("{base}/public")).send().await;
    assert!(
        refused.is_err(),
        "the new certificate is served: {refused:?}"
    );
    provider.stop().await;
}
