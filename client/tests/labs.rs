//! The workshop labs against the embedded provider and the resource server over real TLS
//! on loopback, a fresh pair per lab: for every lab of `client::lab::LABS`, `client lab
//! check N` fails right after `client lab reset N` and passes after `client lab solve N` (the
//! per-lab steps are in `common/labs.rs`, shared with `labs_keycloak_native.rs`).

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use client::lab::LABS;
use common::labs::{self, LabTest, Results};
use common::start;

/// Every lab of `LABS` in turn, each on a fresh pair of servers; fails naming each lab that
/// did not pass, with its reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_lab_on_the_embedded_provider() {
    let mut results = Results::default();
    for lab in LABS {
        let n = lab.info.number;
        let started = std::time::Instant::now();
        let servers = start().await;
        let env = servers.lab_env();
        let outcome = match labs::test_of(n) {
            LabTest::Plain(test) => tokio::spawn(async move { test(&env).await }).await,
            LabTest::Restarting(test) => {
                let dir = servers.dir.path().to_owned();
                tokio::spawn(async move { restarting(n, test, &env, dir).await }).await
            }
        };
        servers.stop().await;
        results.record(
            n,
            "the embedded provider",
            started,
            outcome.map_err(labs::panic_text),
            "",
        );
    }
    results.assert_all_passed("the embedded provider", "");
}

/// The embedded provider started as `./start.sh --lab N` starts it: the lab's realm copy,
/// and the extra trust (`--truststore-paths`) when given. Returns it and its issuer.
async fn lab_provider(n: u8, dir: &Path, trust: &[PathBuf]) -> (oauth2_provider::Running, String) {
    // A lab without a realm copy (lab 11) gets the stock realm.
    let copy = dir.join(format!("labs-work/lab{n}/realm.json"));
    let realm = if copy.exists() {
        copy
    } else {
        labs::root().join("oauth2-provider/import/oauth2-playbook-realm.json")
    };
    let options = oauth2_provider::Options {
        forwarded: (n == 11).then(|| std::sync::Arc::new(behind_haproxy(dir))),
        ..Default::default()
    };
    let provider = oauth2_provider::Provider::from_realm_file(&realm, options).unwrap();
    let tls = oauth2_provider::tls_config_from_dir(dir, trust).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let management = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = oauth2_provider::spawn(listener, Some(management), tls, provider).unwrap();
    let issuer = playbook::names::issuer_for(&running.url, playbook::names::REALM);
    (running, issuer)
}

/// Lab 11's provider reads the certificate as `./start.sh --lab 11 --proxy haproxy` has it:
/// the flags `proxy/haproxy.sh server-args` names, trusted from HAProxy's source address.
fn behind_haproxy(dir: &Path) -> playbook::forwarded::ForwardedCerts {
    let args = playbook::forwarded::ProxyArgs {
        trusted_proxies: vec![std::net::IpAddr::from([127, 0, 0, 2])],
        client_cert_header: Some("x-ssl-client-cert".into()),
        client_cert_format: playbook::forwarded::Format::Haproxy,
        client_cert_chain_header: Some("x-ssl-client-chain".into()),
        ..Default::default()
    };
    let roots = playbook::pem::load_ca_certs(&dir.join("ca.pem")).unwrap();
    args.build(&roots)
        .unwrap()
        .expect("a proxy configured")
        .as_keycloak()
}

/// A lab that restarts the provider (lab 7, a self-signed client certificate): each
/// "restart" is another embedded provider on the lab's realm copy, with the extra trust
/// given (or none), the one before it stopped.
async fn restarting(n: u8, test: labs::Restarting, env: &labs::LabEnv, dir: PathBuf) {
    let restarted = Arc::new(Mutex::new(None::<oauth2_provider::Running>));
    let restart = Arc::clone(&restarted);
    test(
        env,
        Box::new(move |trust| {
            let (restarted, dir) = (Arc::clone(&restart), dir.clone());
            Box::pin(async move {
                let old = restarted.lock().unwrap().take();
                if let Some(old) = old {
                    old.stop().await.expect("the provider stops");
                }
                let (running, issuer) = lab_provider(n, &dir, trust.as_slice()).await;
                *restarted.lock().unwrap() = Some(running);
                issuer
            })
        }),
    )
    .await;
    let last = restarted.lock().unwrap().take();
    if let Some(running) = last {
        running.stop().await.expect("the provider stops");
    }
}
