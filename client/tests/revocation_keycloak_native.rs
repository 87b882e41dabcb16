//! Native Keycloak (26.7.5) with the JVM's own revocation checking turned on, recorded from
//! the live server into `tests/golden/revocation-jvm-keycloak.json` (`RECORD_GOLDEN=1`) and
//! held to it afterwards (lab 10, issue 22).
//!
//! None of Keycloak's options is a CRL for client certificates (its default: a revoked
//! certificate still gets a token, `identity_keycloak_native.rs`). Java's TLS stack can
//! check revocation itself: `-Dcom.sun.net.ssl.checkRevocation=true` turns it on for the
//! certificates the server's trust manager validates, `-Dcom.sun.security.enableCRLDP=true`
//! lets it fetch the CRL named in the certificate's CRL distribution point. Here the dev CA's
//! CRL (`client certs crl`, then `revoke`) is served over HTTP on loopback and the client
//! certificates name it (`client certs issue --crl-url`). The cases:
//!
//! - `no_distribution_point`: `client.pem`, without the extension: can Java decide at all?
//! - `unreachable_distribution_point`: a CRL URL where nothing listens.
//! - `not_revoked`: a certificate naming the CRL, not on it.
//! - `before_revocation` / `at_once_after_revocation`: the stolen certificate, before and
//!   right after `client certs revoke` (Java keeps a fetched CRL for a while).
//! - `within_60_s_after_revocation`: asked every 2 s until it is refused (or 60 s passed); the
//!   seconds it took are printed, not recorded.
//! - `not_revoked_afterwards`: the other certificate, once the new CRL is in force.
//!
//! One Keycloak start of its own (the flags make every certificate without a reachable CRL
//! fail, so it cannot share the labs' Keycloak): about 1.5 minutes in CI, half of it the
//! wait for Java to fetch the CRL again.
//!
//! ```sh
//! KEYCLOAK_CACHE_DIR=… RECORD_GOLDEN=1 cargo test -p client --test revocation_keycloak_native -- --ignored
//! ```

mod common;
#[allow(dead_code)]
#[path = "../../oauth2-provider/tests/support/native.rs"]
mod native;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::text;
use playbook::pki::DevPki;

const INSTANCE: &str = "revocation-tests";
const GOLDEN: &str = "tests/golden/revocation-jvm-keycloak.json";
/// The JVM options under test, appended to Keycloak's own (kc.sh's `JAVA_OPTS_APPEND`).
const JVM_FLAGS: &str =
    "-Dcom.sun.net.ssl.checkRevocation=true -Dcom.sun.security.enableCRLDP=true";

/// `client ARGS…` with CERTS_DIR = `dir`, which must succeed.
fn client(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_client"))
        .args(args)
        .env("CERTS_DIR", dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "client {args:?}: {}", text(&out));
}

/// Serves `dir/ca.crl.pem` at `/ca.crl.pem` on a free loopback port, read anew for every
/// request; counts the requests.
async fn crl_server(
    dir: PathBuf,
    fetches: Arc<AtomicUsize>,
) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/ca.crl.pem", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/ca.crl.pem",
        axum::routing::get(move || {
            let (dir, fetches) = (dir.clone(), Arc::clone(&fetches));
            async move {
                fetches.fetch_add(1, Ordering::SeqCst);
                let body = std::fs::read(dir.join("ca.crl.pem")).unwrap_or_default();
                ([("content-type", "application/pkix-crl")], body)
            }
        }),
    );
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (url, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Java 17+: cargo test -p client --test revocation_keycloak_native -- --ignored"]
async fn keycloak_with_the_jvm_revocation_flags() {
    playbook::install_crypto_provider();
    let pki = DevPki::generate(2, 1).expect("dev PKI");
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path();
    playbook::pki::write_files(certs, &pki.files().unwrap(), false).unwrap();
    client(certs, &["certs", "crl"]);
    let fetches = Arc::new(AtomicUsize::new(0));
    let (url, server) = crl_server(certs.to_owned(), Arc::clone(&fetches)).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let dead = format!("http://127.0.0.1:{closed}/ca.crl.pem");
    for (name, crl_url) in [("good", &url), ("stolen", &url), ("dead", &dead)] {
        client(certs, &["certs", "issue", name, "--crl-url", crl_url]);
    }

    let pki = Arc::new(pki);
    let keycloak = tokio::task::spawn_blocking({
        let pki = Arc::clone(&pki);
        move || {
            native::NativeKeycloak::start_with(
                &pki,
                INSTANCE,
                &[("JAVA_OPTS_APPEND", JVM_FLAGS.to_owned())],
            )
        }
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("the native Keycloak did not start: {e}"));
    let issuer = keycloak.issuer();
    let mut answers = BTreeMap::new();
    let ask = async |cert: &str| common::token_answer(certs, &issuer, cert).await;
    answers.insert("no_distribution_point", ask("client").await);
    answers.insert("unreachable_distribution_point", ask("dead").await);
    answers.insert("not_revoked", ask("good").await);
    answers.insert("before_revocation", ask("stolen").await);
    client(certs, &["certs", "revoke", "stolen"]);
    let revoked_at = Instant::now();
    answers.insert("at_once_after_revocation", ask("stolen").await);
    let mut last = String::new();
    while revoked_at.elapsed() < Duration::from_secs(60) {
        last = ask("stolen").await;
        if last != "200 token" {
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    println!(
        "the revoked certificate: {last} after {:.0} s; the CRL was fetched {} times",
        revoked_at.elapsed().as_secs_f64(),
        fetches.load(Ordering::SeqCst)
    );
    answers.insert("within_60_s_after_revocation", last);
    answers.insert("not_revoked_afterwards", ask("good").await);
    let log = keycloak.log_tail(40);
    drop(keycloak);
    server.abort();

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN);
    let got = serde_json::to_string_pretty(&answers).unwrap() + "\n";
    if std::env::var("RECORD_GOLDEN").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &got).unwrap();
        println!("recorded {}:\n{got}", path.display());
        return;
    }
    let want =
        std::fs::read_to_string(&path).expect("golden answers (RECORD_GOLDEN=1 records them)");
    assert_eq!(
        got, want,
        "the answers differ from native Keycloak's; Keycloak's log:\n{log}"
    );
}
