//! End-to-end numbers on loopback: what a token, a validated call, and a TLS handshake cost.
//!
//! ```text
//! cargo bench -p resource-server --bench end_to_end
//! ```
//!
//! Starts the embedded provider and the resource server in this process (127.0.0.1, real
//! mTLS, an in-memory dev PKI), then measures, one request at a time:
//!
//! - A: `client_credentials` token requests over one keep-alive mTLS connection (the
//!   provider authenticates the certificate and signs an RS256 JWT each time);
//! - B: `GET /api/whoami` with the same token on one connection (validated-token cache hit:
//!   no RSA verification, the RFC 8705 binding still checked);
//! - C: `GET /api/whoami` with a different token each time (cache miss: RSA verification);
//! - D: `GET /api/whoami` on a new TLS connection each time (a full mTLS handshake).
//!
//! Client and servers share the process and its cores, so the numbers are for comparing
//! the phases with one another and across changes, not capacity figures. Each phase is
//! bounded in count and in time. Results and the machine: `resource-server/BENCHMARKS.md`.

mod common;

use std::time::{Duration, Instant};

use common::{Servers, identity};
use playbook::pki::DevPki;

const TOKENS: usize = 300;
const CACHED_CALLS: usize = 3000;
const HANDSHAKES: usize = 300;
/// No phase runs longer than this, whatever the machine.
const PHASE_LIMIT: Duration = Duration::from_secs(60);

struct Phase {
    name: &'static str,
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl Phase {
    fn row(&self) -> String {
        let mut l = self.latencies.clone();
        l.sort();
        let pct = |p: f64| l[((l.len() as f64 * p) as usize).min(l.len() - 1)];
        format!(
            "| {} | {} | {:.0} | {:.2} | {:.2} |",
            self.name,
            l.len(),
            l.len() as f64 / self.elapsed.as_secs_f64(),
            pct(0.50).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
        )
    }
}

/// Runs `op` up to `count` times (or until [`PHASE_LIMIT`]), timing each call; returns the
/// timings and what each call produced.
async fn measure<F, Fut, T>(name: &'static str, count: usize, mut op: F) -> (Phase, Vec<T>)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let start = Instant::now();
    let mut latencies = Vec::with_capacity(count);
    let mut outputs = Vec::with_capacity(count);
    for i in 0..count {
        let t = Instant::now();
        outputs.push(op(i).await);
        latencies.push(t.elapsed());
        if start.elapsed() > PHASE_LIMIT {
            break;
        }
    }
    let phase = Phase {
        name,
        latencies,
        elapsed: start.elapsed(),
    };
    (phase, outputs)
}

/// Peak and current resident memory of this process (Linux), in MiB.
fn memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| format!("{:.1} MiB", kb / 1024.0))
            .unwrap_or_else(|| "n/a".into())
    };
    format!("peak RSS {}, RSS now {}", field("VmHWM:"), field("VmRSS:"))
}

#[tokio::main]
async fn main() {
    playbook::install_crypto_provider();
    let pki = DevPki::generate(2, 1).expect("pki");
    let ca = vec![pki.ca.cert.cert_der.clone()];
    let servers = Servers::start(&pki).await;
    let (issuer, server) = (&servers.issuer, &servers.server);
    let memory_at_start = memory();

    let client_id = identity(&pki.client);
    let http = playbook::https::https_client(&ca, Some(&client_id)).expect("client");
    let token_url = format!("{issuer}/protocol/openid-connect/token");
    let whoami = format!("{}/api/whoami", server.url);
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", playbook::names::MTLS_CLIENT_ID),
    ];

    let (a, tokens) = measure(
        "A. token request (mTLS client auth + RS256 signing)",
        TOKENS,
        |_| {
            let req = http.post(&token_url).form(&form).send();
            async move {
                let body: serde_json::Value = req
                    .await
                    .expect("token")
                    .error_for_status()
                    .expect("200")
                    .json()
                    .await
                    .expect("json");
                body["access_token"]
                    .as_str()
                    .expect("access_token")
                    .to_owned()
            }
        },
    )
    .await;

    let call = |token: String, client: reqwest::Client| {
        let url = whoami.clone();
        async move {
            let status = client
                .get(&url)
                .bearer_auth(token)
                .send()
                .await
                .expect("call")
                .status();
            assert_eq!(
                status, 200,
                "whoami must succeed for the numbers to mean anything"
            );
        }
    };
    let first = tokens[0].clone();
    let (b, _) = measure(
        "B. API call, same token (cache hit, binding checked)",
        CACHED_CALLS,
        |_| call(first.clone(), http.clone()),
    )
    .await;
    let (c, _) = measure(
        "C. API call, new token each time (RS256 verification)",
        tokens.len(),
        |i| call(tokens[i].clone(), http.clone()),
    )
    .await;
    let (d, _) = measure(
        "D. API call on a new mTLS connection each time",
        HANDSHAKES,
        |_| {
            let fresh = playbook::https::https_client(&ca, Some(&client_id)).expect("client");
            call(first.clone(), fresh)
        },
    )
    .await;

    println!("| phase | requests | per second | p50 ms | p99 ms |");
    println!("|---|---|---|---|---|");
    for phase in [&a, &b, &c, &d] {
        println!("{}", phase.row());
    }
    println!();
    println!(
        "memory: after start-up {memory_at_start}; at the end {}",
        memory()
    );
    servers.stop().await;
}
