//! What native Keycloak (26.7.5, `keycloak-native.sh`) answers for the certificate-identity
//! cases of issue 22, recorded from the live server into `tests/golden/identity-keycloak.json`
//! (`RECORD_GOLDEN=1`), and held to it afterwards; the embedded provider is held to the same
//! answers (`the_embedded_provider_answers_as_keycloak_did`, not ignored):
//!
//! - `revoked`: `client.pem` after `client certs revoke client` (the dev CA's CRL lists it).
//!   Keycloak is given no CRL (none of its HTTPS options is one): does it still issue a token?
//! - `intermediate_right_dn`: the realm's DN, issued by an intermediate CA under the dev CA
//!   (the chain leaf + intermediate; `x509.casubjectdn` is the dev CA's DN).
//! - `intermediate_named_like_the_client`: a leaf with another DN, issued by an intermediate
//!   whose own DN is the realm's client DN ("All SubjectDNs from the certificate chain").
//!
//! ```sh
//! KEYCLOAK_CACHE_DIR=… RECORD_GOLDEN=1 cargo test -p client --test identity_keycloak_native -- --ignored
//! ```

mod common;
#[allow(dead_code)]
#[path = "../../oauth2-provider/tests/support/native.rs"]
mod native;

use std::collections::BTreeMap;
use std::path::Path;

use common::text;
use playbook::names;
use playbook::pki::DevPki;

const INSTANCE: &str = "identity-tests";
const GOLDEN: &str = "tests/golden/identity-keycloak.json";

/// `client token` with `cert` against `issuer`: `200`, or the status and error code.
async fn token(dir: &Path, issuer: &str, cert: &str) -> String {
    let s = common::settings_for(
        dir,
        issuer.trim_end_matches(&format!("/realms/{}", names::REALM)),
        "https://localhost:1",
    );
    let env = [
        (
            "CLIENT_CERT",
            dir.join(format!("{cert}.pem")).display().to_string(),
        ),
        (
            "CLIENT_KEY",
            dir.join(format!("{cert}.key.pem")).display().to_string(),
        ),
    ];
    let out = common::client_in(dir, &s, &env, &["token", "--json"]).await;
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    if out.status.success() && doc["access_token"].is_string() {
        return "200 token".to_owned();
    }
    let all = text(&out);
    for code in ["invalid_client", "unauthorized_client", "invalid_request"] {
        if all.contains(code) {
            return format!("401 {code}");
        }
    }
    if all.contains("TLS") || all.contains("handshake") || all.contains("alert") {
        return "refused in the handshake".to_owned();
    }
    format!("unexpected: {all}")
}

/// The cases: (name, certificate file in CERTS_DIR).
const CASES: [(&str, &str); 3] = [
    ("revoked", "client"),
    ("intermediate_right_dn", "inter-right"),
    ("intermediate_named_like_the_client", "inter-named-leaf"),
];

/// Makes the cases' certificates in `dir` (the dev PKI is there) with `client certs`.
fn make_cases(dir: &Path) {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_client"))
            .args(args)
            .env("CERTS_DIR", dir)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
    };
    run(&["certs", "intermediate"]);
    run(&[
        "certs",
        "issue",
        "inter-right",
        "--signed-by",
        "intermediate-ca",
    ]);
    run(&[
        "certs",
        "intermediate",
        "inter-named",
        "--dn",
        names::CLIENT_SUBJECT_DN,
    ]);
    run(&[
        "certs",
        "issue",
        "inter-named-leaf",
        "--signed-by",
        "inter-named",
        "--dn",
        "CN=someone-else,O=OAuth2 Playbook",
    ]);
    run(&["certs", "revoke", "client"]);
}

/// `got` against the golden file, or recorded into it with `RECORD_GOLDEN=1` (`record`).
fn compare(got: &BTreeMap<&str, String>, record: bool, log: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN);
    let got = serde_json::to_string_pretty(got).unwrap() + "\n";
    if record && std::env::var("RECORD_GOLDEN").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &got).unwrap();
        println!("recorded {}:\n{got}", path.display());
        return;
    }
    let want =
        std::fs::read_to_string(&path).expect("golden answers (RECORD_GOLDEN=1 records them)");
    assert_eq!(got, want, "the answers differ from native Keycloak's;{log}");
}

/// The embedded provider answers every case as native Keycloak did (golden file).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_provider_answers_as_keycloak_did() {
    let servers = common::start().await;
    make_cases(servers.dir.path());
    let mut answers = BTreeMap::new();
    for (case, cert) in CASES {
        answers.insert(
            case,
            token(servers.dir.path(), servers.settings.issuer.as_ref(), cert).await,
        );
    }
    servers.stop().await;
    compare(&answers, false, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Java 17+: cargo test -p client --test identity_keycloak_native -- --ignored"]
async fn identity_cases_on_native_keycloak() {
    playbook::install_crypto_provider();
    let pki = DevPki::generate(2, 1).expect("dev PKI");
    let dir = tempfile::tempdir().unwrap();
    playbook::pki::write_files(dir.path(), &pki.files().unwrap(), false).unwrap();
    make_cases(dir.path());

    let pki2 = std::sync::Arc::new(pki);
    let keycloak = tokio::task::spawn_blocking({
        let pki = std::sync::Arc::clone(&pki2);
        move || native::NativeKeycloak::start_with(&pki, INSTANCE, &[])
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("the native Keycloak did not start: {e}"));
    let issuer = keycloak.issuer();
    let mut answers = BTreeMap::new();
    for (case, cert) in CASES {
        answers.insert(case, token(dir.path(), &issuer, cert).await);
    }
    let log = keycloak.log_tail(40);
    drop(keycloak);
    compare(&answers, true, &format!(" Keycloak's log:\n{log}"));
}
