//! Throughput behind nginx: N resource-server processes behind the shipped nginx
//! configuration, beside one resource server called directly.
//!
//! ```text
//! cargo bench -p resource-server --bench behind_nginx
//! ```
//!
//! The embedded provider runs in this process (it only hands out one token and the keys);
//! the resource servers run as separate processes (the `resource-server` binary), as they
//! would in production, and nginx runs `proxy/nginx/nginx.conf.in` through
//! `proxy/nginx.sh run`. A small load generator in this process keeps `CONCURRENCY`
//! keep-alive mTLS connections busy with `GET /api/whoami` (a validated-token cache hit;
//! the RFC 8705 binding still checked against the forwarded certificate) for `DURATION`
//! per configuration. Needs nginx (`apt-get install nginx-light`).
//!
//! Everything (load generator, nginx, the servers) shares the machine's cores, so on a small
//! machine the figure is what the whole chain costs, not what N machines would serve.
//! Results and the machine: `resource-server/BENCHMARKS.md`.

#[path = "../tests/support/nginx.rs"]
mod nginx;
#[path = "../tests/support/mod.rs"]
mod support;

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nginx::{Nginx, PROXY_SOURCE, free_port};
use playbook::forwarded::{Format, ForwardedCerts};
use playbook::names;
use playbook::pki::DevPki;
use support::identity;

const CONCURRENCY: usize = 16;
const DURATION: Duration = Duration::from_secs(8);
const WARM_UP: Duration = Duration::from_secs(1);

/// A `resource-server` process, killed on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_server(certs: &Path, issuer: &str, port: u16, behind_proxy: bool) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_resource-server"));
    cmd.arg("--issuer")
        .arg(issuer)
        .arg("--ca")
        .arg(certs.join("ca.pem"))
        .arg("--cert")
        .arg(certs.join("resource-server.pem"))
        .arg("--key")
        .arg(certs.join("resource-server.key.pem"))
        .arg("--port")
        .arg(port.to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if behind_proxy {
        cmd.args(["--client-auth", "request", "--trusted-proxy"])
            .arg(IpAddr::from(PROXY_SOURCE).to_string())
            .args(["--client-cert-header", "ssl-client-cert"]);
    }
    Server(cmd.spawn().expect("starting resource-server"))
}

/// Waits until `url` answers 200 (bounded).
async fn wait_ready(http: &reqwest::Client, url: &str) {
    let start = Instant::now();
    loop {
        if let Ok(r) = http.get(url).send().await
            && r.status() == 200
        {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{url} not ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

struct Result {
    requests: usize,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// `CONCURRENCY` workers, each on its own keep-alive connection, for `DURATION`.
async fn load(pki: &DevPki, url: &str, token: &str) -> Result {
    let roots = vec![pki.ca.cert.cert_der.clone()];
    let id = identity(&pki.client);
    let mut workers = Vec::new();
    let start = Instant::now() + WARM_UP;
    let end = start + DURATION;
    for _ in 0..CONCURRENCY {
        let http = playbook::https::https_client(&roots, Some(&id)).expect("client");
        let (url, token) = (url.to_owned(), token.to_owned());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let t = Instant::now();
                if t >= end {
                    break;
                }
                let r = http
                    .get(&url)
                    .bearer_auth(&token)
                    .send()
                    .await
                    .expect("answered");
                assert_eq!(r.status(), 200, "{url}");
                let _ = r.bytes().await.expect("body");
                if t >= start {
                    latencies.push(t.elapsed());
                }
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.expect("worker"));
    }
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    Result {
        requests: all.len(),
        per_second: all.len() as f64 / DURATION.as_secs_f64(),
        p50_ms: pct(0.50).as_secs_f64() * 1e3,
        p99_ms: pct(0.99).as_secs_f64() * 1e3,
    }
}

#[tokio::main]
async fn main() {
    playbook::install_crypto_provider();
    let pki = DevPki::generate(2, 1).expect("pki");
    let dir = tempfile::tempdir().expect("temp dir");
    let certs = dir.path().join("certs");
    playbook::pki::write_files(&certs, &pki.files().expect("PEM"), false).expect("PKI files");
    let roots = vec![pki.ca.cert.cert_der.clone()];

    let forwarded = ForwardedCerts::new(
        "ssl-client-cert",
        Format::Nginx,
        vec![IpAddr::from(PROXY_SOURCE)],
        &roots,
    )
    .expect("forwarding");
    let provider = oauth2_provider::spawn_dev(
        &pki,
        &[oauth2_provider::realm_file()],
        oauth2_provider::Options {
            forwarded: Some(Arc::new(forwarded)),
            ..Default::default()
        },
    )
    .await
    .expect("provider");
    let provider_addr = provider.addr;
    let http = playbook::https::https_client(&roots, Some(&identity(&pki.client))).expect("client");
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());

    let mut rows = Vec::new();
    // Direct: the client's TLS ends at the one resource server.
    {
        let issuer = names::issuer_for(&provider.url, names::REALM);
        let token = token(&http, &issuer).await;
        let port = free_port();
        let _server = spawn_server(&certs, &issuer, port, false);
        let url = format!("https://localhost:{port}");
        wait_ready(&http, &format!("{url}/health/ready")).await;
        let r = load(&pki, &format!("{url}/api/whoami"), &token).await;
        rows.push((
            "1 resource server, direct (mTLS at the server)".to_owned(),
            r,
        ));
    }
    // Behind nginx: 1 and 2 instances.
    for n in [1usize, 2] {
        let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let addrs: Vec<SocketAddr> = ports
            .iter()
            .map(|p| SocketAddr::from(([127, 0, 0, 1], *p)))
            .collect();
        let nginx_dir = dir.path().join(format!("nginx-{n}"));
        let nginx = Nginx::start(&certs, &nginx_dir, provider_addr, &addrs, workers);
        let issuer = format!("{}/realms/{}", nginx.provider_url(), names::REALM);
        let token = token(&http, &issuer).await;
        let _servers: Vec<Server> = ports
            .iter()
            .map(|p| spawn_server(&certs, &issuer, *p, true))
            .collect();
        for p in &ports {
            wait_ready(&http, &format!("https://localhost:{p}/health/ready")).await;
        }
        let r = load(&pki, &format!("{}/api/whoami", nginx.api_url()), &token).await;
        rows.push((
            format!("{n} resource server(s) behind nginx ({workers} workers; mTLS at the proxy)"),
            r,
        ));
        drop(nginx);
    }
    println!(
        "GET /api/whoami, {CONCURRENCY} keep-alive mTLS connections, {}s each ({} cores)\n",
        DURATION.as_secs(),
        workers
    );
    println!("| configuration | requests | per second | p50 ms | p99 ms |");
    println!("|---|---|---|---|---|");
    for (name, r) in rows {
        println!(
            "| {name} | {} | {:.0} | {:.2} | {:.2} |",
            r.requests, r.per_second, r.p50_ms, r.p99_ms
        );
    }
    provider.stop().await.expect("provider stops");
}

/// A certificate-bound token for the mTLS client, from the provider at `issuer`.
async fn token(http: &reqwest::Client, issuer: &str) -> String {
    let body: serde_json::Value = http
        .post(format!("{issuer}/protocol/openid-connect/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", names::MTLS_CLIENT_ID),
        ])
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("token JSON");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}
