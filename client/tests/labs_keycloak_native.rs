//! The workshop labs against the real Keycloak, run natively (`oauth2-provider/
//! keycloak-native.sh`, started through the oauth2-provider tests' own support,
//! `tests/support/native.rs`), with the resource server in process trusting its tokens:
//! for every lab, `client lab check N` fails right after `client lab reset N` and passes
//! after `client lab solve N`, with the same per-lab steps as against the embedded provider
//! (`common/labs.rs`).
//!
//! ```sh
//! cargo test -p client --test labs_keycloak_native -- --ignored      # needs Java 17+
//! ```
//!
//! One Keycloak (instance `labs-tests`, free ports) serves labs 1 to 6 and 8 in turn; each
//! lab leaves the realm as its reset puts it. Lab 7 runs last: trusting a certificate is a
//! Keycloak start option (`--truststore-paths`), so it restarts Keycloak twice, as an
//! attendee restarts `./start.sh --lab 7`: with the lab's realm copy and the certificate
//! trusted, then without the trust. Three starts in all, about 30-100 s each.
//!
//! `scripts/test.sh` runs it with the other native Keycloak suites whenever Java is there,
//! and always under `CI=true`. It is `#[ignore]`d only so that a bare `cargo test` on a
//! machine without Java stays green.

mod common;
#[allow(dead_code)]
#[path = "../../oauth2-provider/tests/support/native.rs"]
mod native;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use common::labs::{self, LabEnv};
use native::NativeKeycloak;
use playbook::pki::DevPki;

/// This test's Keycloak instance (its own copy of the distribution and its own database):
/// neither the playground's (`playground`) nor the provider tests' (`tests`).
const INSTANCE: &str = "labs-tests";

/// Starts Keycloak with `pki`, importing `realm` (the stock realm when `None`) and trusting
/// `trust` beside the dev CA; panics with the script's reason when it cannot.
async fn start_keycloak(
    pki: Arc<DevPki>,
    realm: Option<PathBuf>,
    trust: Option<PathBuf>,
) -> NativeKeycloak {
    tokio::task::spawn_blocking(move || {
        let mut extra = vec![(
            "KC_TRUSTSTORE_PATHS",
            trust.map(|t| t.display().to_string()).unwrap_or_default(),
        )];
        if let Some(realm) = realm {
            extra.push(("REALM_FILE", realm.display().to_string()));
        }
        NativeKeycloak::start_with(&pki, INSTANCE, &extra)
    })
    .await
    .expect("start task")
    .unwrap_or_else(|e| panic!("the native Keycloak did not start: {e}"))
}

/// The text of a panic caught from a lab's task.
fn panic_text(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(p) => p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "a panic without a message".to_owned()),
        Err(e) => e.to_string(),
    }
}

/// Prints lab `n`'s outcome (and, when it failed, why, at once: a later lab's panic must not
/// hide it), and keeps it for the verdict.
fn record(
    results: &mut Vec<(u8, Result<(), String>)>,
    n: u8,
    started: std::time::Instant,
    outcome: Result<(), String>,
    note: &str,
) {
    println!(
        "lab {n} on native Keycloak ... {} ({} s{note})",
        if outcome.is_ok() { "ok" } else { "FAILED" },
        started.elapsed().as_secs()
    );
    if let Err(e) = &outcome {
        eprintln!("lab {n} failed on native Keycloak: {e}");
    }
    results.push((n, outcome));
}

/// Every lab against native Keycloak; fails naming each lab that did not pass, with its
/// reason (and the tail of Keycloak's log).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Java 17+: cargo test -p client --test labs_keycloak_native -- --ignored"]
async fn every_lab_on_native_keycloak() {
    playbook::install_crypto_provider();
    let pki = Arc::new(DevPki::generate(2, 1).expect("dev PKI"));
    let dir = tempfile::tempdir().unwrap();
    playbook::pki::write_files(dir.path(), &pki.files().unwrap(), false).unwrap();

    let keycloak = start_keycloak(Arc::clone(&pki), None, None).await;
    println!(
        "Keycloak {} (native) answers at {}",
        oauth2_provider::KEYCLOAK_VERSION,
        keycloak.base_url
    );
    let resource_server = common::spawn_resource_server(&pki, &keycloak.issuer()).await;
    let env = LabEnv {
        dir: dir.path().to_owned(),
        settings: common::settings_for(dir.path(), &keycloak.base_url, &resource_server.url),
    };

    let mut results: Vec<(u8, Result<(), String>)> = Vec::new();
    for n in [1u8, 2, 3, 4, 5, 6, 8] {
        let env = env.clone();
        let started = std::time::Instant::now();
        let outcome = tokio::spawn(async move {
            match n {
                1 => labs::lab1(&env).await,
                2 => labs::lab2(&env).await,
                3 => labs::lab3(&env).await,
                4 => labs::lab4(&env).await,
                5 => labs::lab5(&env).await,
                6 => labs::lab6(&env).await,
                _ => labs::lab8(&env).await,
            }
        })
        .await
        .map_err(panic_text);
        record(&mut results, n, started, outcome, "");
    }
    let log = if results.iter().any(|(_, r)| r.is_err()) {
        keycloak.log_tail(60)
    } else {
        String::new()
    };
    resource_server.stop().await.unwrap();

    // Lab 7: each restart stops the running Keycloak first (same instance), then starts it
    // on the lab's realm copy (the lab's client is in it: every start imports anew).
    let started = std::time::Instant::now();
    let realm = env.dir.join("labs-work/lab7/realm.json");
    let lab7_env = env.clone();
    let running = Arc::new(Mutex::new(Some(keycloak)));
    let outcome = tokio::spawn(async move {
        labs::lab7(&lab7_env, |trust| {
            let (running, pki, realm) = (Arc::clone(&running), Arc::clone(&pki), realm.clone());
            async move {
                drop(running.lock().unwrap().take());
                let k = start_keycloak(pki, Some(realm), trust).await;
                let issuer = k.issuer();
                *running.lock().unwrap() = Some(k);
                issuer
            }
        })
        .await;
    })
    .await
    .map_err(panic_text);
    record(&mut results, 7, started, outcome, ", two restarts");

    let failed: Vec<String> = results
        .iter()
        .filter_map(|(n, r)| r.as_ref().err().map(|e| format!("lab {n}: {e}")))
        .collect();
    assert!(
        failed.is_empty(),
        "{} of 8 labs failed on native Keycloak:\n{}\n--- the tail of Keycloak's log (before lab 7) ---\n{log}",
        failed.len(),
        failed.join("\n\n")
    );
}
