//! The workshop labs against the embedded provider and the resource server over real TLS
//! on loopback, a fresh pair per lab: for every lab, `client lab check N` fails right after
//! `client lab reset N` and passes after `client lab solve N` (the per-lab steps are in
//! `common/labs.rs`, shared with `labs_keycloak_native.rs`).

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::labs;
use common::start;

/// Lab 1: your own client certificate with openssl.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab1_client_certificate() {
    let servers = start().await;
    labs::lab1(&servers.lab_env()).await;
    servers.stop().await;
}

/// Lab 2: DN matching, exact then a regex.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab2_dn_matching() {
    let servers = start().await;
    labs::lab2(&servers.lab_env()).await;
    servers.stop().await;
}

/// Lab 3: the admin API with curl.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab3_admin_api_with_curl() {
    let servers = start().await;
    labs::lab3(&servers.lab_env()).await;
    servers.stop().await;
}

/// Lab 4: certificate-bound tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab4_bound_tokens() {
    let servers = start().await;
    labs::lab4(&servers.lab_env()).await;
    servers.stop().await;
}

/// Lab 5: a protected route of your own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab5_protected_route() {
    let servers = start().await;
    labs::lab5(&servers.lab_env()).await;
    servers.stop().await;
}

/// Lab 6: client-certificate rotation without downtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab6_certificate_rotation() {
    let servers = start().await;
    labs::lab6(&servers.lab_env()).await;
    servers.stop().await;
}

/// The embedded provider started as `./start.sh --lab 7` starts it: the lab's realm copy,
/// and the extra trust (`--truststore-paths`) when given. Returns it and its issuer.
async fn lab7_provider(dir: &Path, trust: &[PathBuf]) -> (oauth2_provider::Running, String) {
    let realm = dir.join("labs-work/lab7/realm.json");
    let provider =
        oauth2_provider::Provider::from_realm_file(&realm, oauth2_provider::Options::default())
            .unwrap();
    let tls = oauth2_provider::tls_config_from_dir(dir, trust).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let management = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = oauth2_provider::spawn(listener, Some(management), tls, provider).unwrap();
    let issuer = playbook::names::issuer_for(&running.url, playbook::names::REALM);
    (running, issuer)
}

/// Lab 7: a self-signed client certificate; each "restart" is a second embedded provider
/// on the lab's realm copy, with and then without the extra trust.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab7_self_signed() {
    let servers = start().await;
    let dir = servers.dir.path().to_owned();
    let restarted = Arc::new(Mutex::new(None::<oauth2_provider::Running>));
    labs::lab7(&servers.lab_env(), |trust| {
        let (restarted, dir) = (Arc::clone(&restarted), dir.clone());
        async move {
            let old = restarted.lock().unwrap().take();
            if let Some(old) = old {
                old.stop().await.expect("the provider stops");
            }
            let (running, issuer) = lab7_provider(&dir, trust.as_slice()).await;
            *restarted.lock().unwrap() = Some(running);
            issuer
        }
    })
    .await;
    let last = restarted.lock().unwrap().take();
    if let Some(running) = last {
        running.stop().await.expect("the provider stops");
    }
    servers.stop().await;
}

/// Lab 8: expiry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab8_expiry() {
    let servers = start().await;
    labs::lab8(&servers.lab_env()).await;
    servers.stop().await;
}
