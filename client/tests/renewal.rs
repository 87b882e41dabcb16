//! Short-lived certificates renewed automatically, with calls flowing through: a client
//! certificate living a few seconds (`client certs issue short --seconds N`), renewed by
//! `client certs renew short --at 0.5` running beside, and a client that follows its files
//! (`client::rotation::RotatingClient`, lab 6's) calling the resource server every 200 ms for
//! about a minute: no call fails, and many certificates (each with its own bound token) are
//! presented, far more lifetimes than one certificate would have lasted.
//!
//! `RENEWAL_LIFETIME_SECS` (default 6) and `RENEWAL_TEST_SECS` (default 60) change the run:
//! the documented manual run is `RENEWAL_LIFETIME_SECS=60 RENEWAL_TEST_SECS=600`.

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use client::rotation::RotatingClient;
use client::token::{ClientAuth, TokenRequest};
use common::text;

fn secs(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Kills the renewer (the child this test started) when the test ends, even on a panic.
struct Renewer(std::process::Child);

impl Drop for Renewer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_flow_through_many_renewals_of_a_short_lived_certificate() {
    let lifetime = secs("RENEWAL_LIFETIME_SECS", 6);
    let duration = Duration::from_secs(secs("RENEWAL_TEST_SECS", 60));
    let servers = common::start().await;
    let dir = servers.dir.path();
    let issued = common::client(
        &servers,
        &[],
        &[
            "certs",
            "issue",
            "short",
            "--seconds",
            &lifetime.to_string(),
        ],
    )
    .await;
    assert!(issued.status.success(), "{}", text(&issued));

    let renewer = Renewer(
        Command::new(env!("CARGO_BIN_EXE_client"))
            .args(["certs", "renew", "short", "--at", "0.5"])
            .current_dir(dir)
            .env("CERTS_DIR", dir)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("client certs renew"),
    );

    let s = &servers.settings;
    let roots = playbook::pem::load_ca_certs(&s.ca).unwrap();
    let http = playbook::https::https_client(&roots, None).unwrap().into();
    let metadata = client::discovery::discover(&http, &s.issuer).await.unwrap();
    let request = TokenRequest {
        client_id: s.client_id.clone(),
        scope: None,
        auth: ClientAuth::TlsClientAuth,
    };
    let mut rotating = RotatingClient::new(
        dir.join("short.pem"),
        dir.join("short.key.pem"),
        roots,
        metadata.token_endpoint_for_mtls().clone(),
        request,
    )
    .unwrap();

    let started = Instant::now();
    let (mut calls, mut failures) = (0u64, Vec::new());
    let mut presented = BTreeSet::new();
    while started.elapsed() < duration {
        calls += 1;
        match rotating.get(&s.resource_server, "/api/whoami").await {
            Ok(call) if call.response.status < 300 => {
                presented.insert(call.presented);
            }
            Ok(call) => failures.push(format!(
                "{:.1}s: {}",
                started.elapsed().as_secs_f64(),
                call.response.summary()
            )),
            Err(e) => failures.push(format!(
                "{:.1}s: {}",
                started.elapsed().as_secs_f64(),
                playbook::report::error_chain(&e)
            )),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut renewer = renewer;
    let out = printed(&mut renewer.0);
    assert!(
        failures.is_empty(),
        "{} of {calls} calls failed:\n{}\nrenewer:\n{out}",
        failures.len(),
        failures.join("\n")
    );
    println!(
        "{calls} calls over {:.0} s, 0 failed, {} certificates of {lifetime} s presented",
        started.elapsed().as_secs_f64(),
        presented.len()
    );
    // Renewed at half of each lifetime: about 2 × duration / lifetime certificates; without
    // renewal the first would have expired after `lifetime` seconds.
    let expected = duration.as_secs() / lifetime;
    assert!(
        presented.len() as u64 >= expected,
        "{} certificates presented in {calls} calls over {duration:?}, expected at least {expected}\nrenewer:\n{out}",
        presented.len()
    );
    servers.stop().await;
}

/// What the renewer printed, once stopped.
fn printed(child: &mut std::process::Child) -> String {
    use std::io::Read as _;
    let _ = child.kill();
    let _ = child.wait();
    let mut text = String::new();
    if let Some(o) = child.stdout.as_mut() {
        let _ = o.read_to_string(&mut text);
    }
    if let Some(e) = child.stderr.as_mut() {
        let _ = e.read_to_string(&mut text);
    }
    text
}
