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
//!
//! The same Keycloak decides every cell of lab 9's matrix (`client::lab::lab9::CELLS`): it
//! starts as `./start.sh --lab 9` starts it (the lab's realm copy with its three clients,
//! the lab's `truststore.pem` with the same-DN CA), and `client lab check 9 --json` asks it
//! with each certificate; the answers go to `tests/golden/lab9-keycloak.json`, and what
//! Keycloak logged for them (its client authenticators at DEBUG) to
//! `tests/golden/lab9-keycloak.log` (read, not compared). The reference predictions
//! (`labs/09-who-else/solution/predictions.txt`) must be those answers
//! (`lab9_reference_predictions_are_keycloaks_answers`), and the embedded provider, started
//! the same way, must give them too (`the_embedded_provider_answers_lab9_as_keycloak_did`).
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
const LAB9_GOLDEN: &str = "tests/golden/lab9-keycloak.json";
const LAB9_LOG: &str = "tests/golden/lab9-keycloak.log";

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
    compare_with(GOLDEN, got, record, log);
}

/// [`compare`] for the golden file `golden`.
fn compare_with<K: serde::Serialize + Ord>(
    golden: &str,
    got: &BTreeMap<K, String>,
    record: bool,
    log: &str,
) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(golden);
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
            common::token_answer(servers.dir.path(), servers.settings.issuer.as_ref(), cert).await,
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
    // Started as ./start.sh --lab 9 starts it: lab 9's realm copy (the stock realm and the
    // lab's clients) and its truststore (the same-DN CA); the client authenticators at DEBUG.
    let (realm, trust) = prepare_lab9(dir.path()).await;
    let extra = [
        ("REALM_FILE", realm.display().to_string()),
        ("KC_TRUSTSTORE_PATHS", trust.display().to_string()),
        (
            "KC_LOG_LEVEL",
            "INFO,org.keycloak.authentication.authenticators.client:debug".to_owned(),
        ),
    ];

    let pki2 = std::sync::Arc::new(pki);
    let keycloak = tokio::task::spawn_blocking({
        let pki = std::sync::Arc::clone(&pki2);
        move || native::NativeKeycloak::start_with(&pki, INSTANCE, &extra)
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("the native Keycloak did not start: {e}"));
    let issuer = keycloak.issuer();
    let mut answers = BTreeMap::new();
    for (case, cert) in CASES {
        answers.insert(case, common::token_answer(dir.path(), &issuer, cert).await);
    }
    let lab9 = lab9_answers(dir.path(), &issuer).await;
    let log = keycloak.log_tail(400);
    drop(keycloak);
    let tail = log.lines().rev().take(40).collect::<Vec<_>>();
    let tail = tail.into_iter().rev().collect::<Vec<_>>().join("\n");
    compare(&answers, true, &format!(" Keycloak's log:\n{tail}"));
    if std::env::var("RECORD_GOLDEN").is_ok_and(|v| v == "1") {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(LAB9_LOG);
        std::fs::write(&path, authenticator_lines(&log)).unwrap();
    }
    compare_with(
        LAB9_GOLDEN,
        &lab9,
        true,
        &format!(" Keycloak's log:\n{tail}"),
    );
}

/// The repository root (the labs' folders, the realm file).
fn root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// `client lab ARGS…` with lab 9's work directory in `dir` (the dev PKI is there), against
/// `issuer`.
async fn lab(dir: &Path, issuer: &str, args: &[&str]) -> std::process::Output {
    let s = common::settings_for(
        dir,
        issuer.trim_end_matches(&format!("/realms/{}", names::REALM)),
        "https://localhost:1",
    );
    let vars = [
        ("LAB_WORK_DIR", dir.join("labs-work").display().to_string()),
        ("PLAYBOOK_ROOT", root().display().to_string()),
    ];
    let mut all = vec!["lab"];
    all.extend_from_slice(args);
    common::client_in(dir, &s, &vars, &all).await
}

/// Lab 9's files in `dir` (`client lab prepare 9`, offline): the matrix, the realm copy,
/// the truststore. Returns the realm copy and the truststore.
async fn prepare_lab9(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let o = lab(dir, "https://localhost:1/realms/x", &["prepare", "9"]).await;
    assert!(o.status.success(), "{}", text(&o));
    let work = dir.join("labs-work/lab9");
    (work.join("realm.json"), work.join("truststore.pem"))
}

/// Every cell of lab 9 as the provider at `issuer` answers it (`token`, the error code, or
/// `handshake`), read from `client lab check 9 --json` with the reference predictions in
/// place (so every cell is asked).
async fn lab9_answers(dir: &Path, issuer: &str) -> BTreeMap<String, String> {
    let reference = root().join("labs/09-who-else/solution/predictions.txt");
    std::fs::copy(&reference, dir.join("labs-work/lab9/predictions.txt")).unwrap();
    let o = lab(dir, issuer, &["check", "9", "--json"]).await;
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("check 9 --json: {e}: {}", text(&o)));
    let answers: BTreeMap<String, String> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let what = c["what"].as_str().unwrap();
            let cell = what.split_whitespace().next().unwrap().to_owned();
            (cell, c["found"].as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(
        answers.len(),
        client::lab::lab9::CELLS.len(),
        "one answer per cell: {}",
        text(&o)
    );
    answers
}

/// The lines of Keycloak's log its client authenticators wrote (X.509 matching, the CA
/// check, the deprecation warnings), timestamps and thread names dropped.
fn authenticator_lines(log: &str) -> String {
    log.lines()
        .filter(|l| {
            l.contains("authenticators.client")
                || l.contains("X509")
                || l.contains("SubjectDN")
                || l.contains("casubjectdn")
        })
        .map(|l| {
            match l
                .find(" WARN ")
                .or_else(|| l.find(" DEBUG "))
                .or_else(|| l.find(" INFO "))
                .or_else(|| l.find(" ERROR "))
            {
                Some(i) => &l[i + 1..],
                None => l,
            }
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The reference predictions of lab 9 are native Keycloak's recorded answers, cell by cell.
#[test]
fn lab9_reference_predictions_are_keycloaks_answers() {
    let reference =
        std::fs::read_to_string(root().join("labs/09-who-else/solution/predictions.txt")).unwrap();
    let predictions = client::lab::lab9::parse(&reference);
    let golden: BTreeMap<String, String> = serde_json::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(LAB9_GOLDEN)).unwrap(),
    )
    .unwrap();
    assert_eq!(
        predictions, golden,
        "labs/09-who-else/solution/predictions.txt vs {LAB9_GOLDEN}"
    );
}

/// The embedded provider, started as `./start.sh --lab 9` starts it (the lab's realm copy,
/// its truststore beside the dev CA), answers every cell of lab 9 as native Keycloak did.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_provider_answers_lab9_as_keycloak_did() {
    playbook::install_crypto_provider();
    let pki = DevPki::generate(2, 1).expect("dev PKI");
    let dir = tempfile::tempdir().unwrap();
    playbook::pki::write_files(dir.path(), &pki.files().unwrap(), false).unwrap();
    let (realm, trust) = prepare_lab9(dir.path()).await;
    let provider =
        oauth2_provider::Provider::from_realm_file(&realm, oauth2_provider::Options::default())
            .unwrap();
    let tls = oauth2_provider::tls_config_from_dir(dir.path(), &[trust]).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = oauth2_provider::spawn(listener, None, tls, provider).unwrap();
    let issuer = names::issuer_for(&running.url, names::REALM);
    let answers = lab9_answers(dir.path(), &issuer).await;
    running.stop().await.unwrap();
    compare_with(LAB9_GOLDEN, &answers, false, "");
}
