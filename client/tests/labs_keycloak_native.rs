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
//! The labs are those of `client::lab::LABS`, each with its test from `common/labs.rs`.
//! Before the labs, the same Keycloak runs `client walkthrough --html` and the page is
//! opened in headless Chromium (`common/browser.rs`), then `client token|call --html` with
//! each `--auth`/`--bind` (`common/pages.rs`), then `client compare`, its thief's outcomes
//! asserted (`common/compare.rs`).
//!
//! One Keycloak (instance `labs-tests`, free ports) serves the labs that need no restart (1 to
//! 6, 8 and 12) in turn; each lab leaves the realm as its reset puts it. Labs 7, 9 and 11 run
//! last: trusting a certificate is a Keycloak start option (`--truststore-paths`), so lab 7 restarts Keycloak twice, as an
//! attendee restarts `./start.sh --lab 7`: with the lab's realm copy and the certificate
//! trusted, then without the trust; lab 9 once, as `./start.sh --lab 9` starts it (its realm
//! copy, its truststore with the same-DN CA); lab 11 once, built with the `haproxy` x509
//! lookup as `./start.sh --lab 11 --proxy haproxy` starts it (the build
//! `keycloak_native_shapes.rs` caches for that shape, so no build step of its own there).
//! Five starts in all, about 30-100 s each.
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

use client::lab::LABS;
use common::labs::{self, LabEnv, LabTest, Results};
use native::NativeKeycloak;
use playbook::pki::DevPki;

/// This test's Keycloak instance (its own copy of the distribution and its own database):
/// neither the playground's (`playground`) nor the provider tests' (`tests`).
const INSTANCE: &str = "labs-tests";

/// Starts Keycloak with `pki`, importing `realm` (the stock realm when `None`) and trusting
/// `trust` beside the dev CA, with `more` settings; panics with the script's reason when it
/// cannot.
async fn start_keycloak(
    pki: Arc<DevPki>,
    realm: Option<PathBuf>,
    trust: Option<PathBuf>,
    more: Vec<(String, String)>,
) -> NativeKeycloak {
    tokio::task::spawn_blocking(move || {
        let mut extra = vec![(
            "KC_TRUSTSTORE_PATHS",
            trust.map(|t| t.display().to_string()).unwrap_or_default(),
        )];
        if let Some(realm) = realm {
            extra.push(("REALM_FILE", realm.display().to_string()));
        }
        extra.extend(more.iter().map(|(k, v)| (k.as_str(), v.clone())));
        NativeKeycloak::start_with(&pki, INSTANCE, &extra)
    })
    .await
    .expect("start task")
    .unwrap_or_else(|e| panic!("the native Keycloak did not start: {e}"))
}

/// The x509 lookup a restarting lab's Keycloak is built with: lab 11's is HAProxy's, as
/// `./start.sh --lab 11 --proxy haproxy` starts it (`proxy/haproxy.sh keycloak-env`, the
/// build `keycloak_native_shapes.rs` caches for the haproxy shape), the headers trusted from
/// HAProxy's source address only; the others keep the default.
fn lookup_of(n: u8) -> Vec<(String, String)> {
    if n != 11 {
        return Vec::new();
    }
    let driver = labs::root().join("proxy/haproxy.sh");
    let out = std::process::Command::new("bash")
        .arg(&driver)
        .arg("keycloak-env")
        .output()
        .expect("proxy/haproxy.sh keycloak-env");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut env: Vec<(String, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    env.push(("KC_PROXY_HEADERS".into(), "xforwarded".into()));
    env.push(("KC_PROXY_TRUSTED_ADDRESSES".into(), "127.0.0.2".into()));
    env
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

    let keycloak = start_keycloak(Arc::clone(&pki), None, None, Vec::new()).await;
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

    // The trace page of a walkthrough on this Keycloak, opened in Chromium (issue 25): on
    // the Keycloak started here anyway, before the labs change the realm.
    let (html, _) =
        common::browser::walkthrough_page(&env.dir, &env.settings, "walkthrough-keycloak").await;
    println!("trace page of a walkthrough on Keycloak: target/trace/walkthrough-keycloak.html");
    assert!(
        html.contains("CertificateUnknown"),
        "step 3b's alert from Java's TLS stack"
    );

    // `client token|call --html` on this Keycloak, one page per --auth/--bind (issues 25
    // and 26), each opened in Chromium (`common/pages.rs`; a private_key_jwt client
    // registered through the admin API first): about 20 s, no start of its own.
    common::pages::method_pages(&env.dir, &env.settings, &keycloak.base_url, "-keycloak").await;
    println!("single-command trace pages on Keycloak: target/trace/*-keycloak.html");

    // `client compare` on the same Keycloak (issue 26): the thief's outcomes as on the
    // embedded provider (`common/compare.rs`); a few seconds, no start of its own.
    let table = common::compare::compare_and_assert(&env.dir, &env.settings).await;
    println!("client compare on Keycloak:\n{table}");
    // `--auth private-key-jwt` with the defaults: the shipped realm's client-jwt client got
    // this run's certs/client-jwt.pem from keycloak-native.sh (PLAYBOOK_JWT_CLIENT_CERT).
    common::compare::private_key_jwt_out_of_the_box(&env.dir, &env.settings).await;

    let on = "native Keycloak";
    let mut results = Results::default();
    let mut restarting = Vec::new();
    for lab in LABS {
        let n = lab.info.number;
        let test = match labs::test_of(n) {
            LabTest::Plain(test) => test,
            LabTest::Restarting(test) => {
                restarting.push((n, test));
                continue;
            }
        };
        let env = env.clone();
        let started = std::time::Instant::now();
        let outcome = tokio::spawn(async move { test(&env).await }).await;
        results.record(n, on, started, outcome.map_err(labs::panic_text), "");
    }
    let log = if results.any_failed() {
        format!(
            "\n--- the tail of Keycloak's log (before the restarting labs) ---\n{}",
            keycloak.log_tail(60)
        )
    } else {
        String::new()
    };
    resource_server.stop().await.unwrap();

    // The labs that restart Keycloak (labs 7, 9 and 11), last: each restart stops the running Keycloak
    // first (same instance), then starts it on the lab's realm copy (the lab's client is in
    // it: every start imports anew).
    let running = Arc::new(Mutex::new(Some(keycloak)));
    for (n, test) in restarting {
        let started = std::time::Instant::now();
        let realm = env.dir.join(format!("labs-work/lab{n}/realm.json"));
        let (env, running, pki) = (env.clone(), Arc::clone(&running), Arc::clone(&pki));
        let outcome = tokio::spawn(async move {
            let restart: labs::Restart = Box::new(move |trust| {
                let (running, pki, realm) = (Arc::clone(&running), Arc::clone(&pki), realm.clone());
                Box::pin(async move {
                    drop(running.lock().unwrap().take());
                    // A lab without a realm copy (lab 11) gets the stock realm.
                    let realm = realm.exists().then_some(realm);
                    let k = start_keycloak(pki, realm, trust, lookup_of(n)).await;
                    let issuer = k.issuer();
                    *running.lock().unwrap() = Some(k);
                    issuer
                })
            });
            test(&env, restart).await;
        })
        .await;
        results.record(
            n,
            on,
            started,
            outcome.map_err(labs::panic_text),
            ", restarts",
        );
    }

    results.assert_all_passed(on, &log);
}
