//! The resource server against a bare rustls responder, side by side in one run: what does
//! the API cost on top of TLS?
//!
//! ```text
//! cargo bench -p resource-server --bench vs_bare
//! BENCH_SECS=10 BENCH_ROUNDS=3 cargo bench -p resource-server --bench vs_bare
//! BENCH_LOG=1 cargo bench -p resource-server --bench vs_bare     # with the binary's logging
//! BENCH_SHAPES=keep-alive BENCH_SERVERS=resource-server perf record -F 999 target/release/deps/vs_bare-*
//! ```
//!
//! `BENCH_LOG=1` installs the subscriber the `resource-server` binary installs (its default
//! filter `resource_server=debug,playbook=info`), writing to a sink: what the log costs when
//! it is on. `BENCH_SHAPES` (`keep-alive,full`) and `BENCH_SERVERS` (`bare,resource-server`)
//! narrow a run, e.g. for a profile.
//!
//! Both servers run on one tokio runtime of two worker threads named `bench-server`, with
//! the same rustls `ServerConfig` (RSA-2048 server certificate, client certificates required
//! and verified against the dev CA). The bare responder is tokio-rustls + hyper answering
//! every request with the same JSON `GET /api/users` returns, without reading it; the
//! resource server does everything it does in production: the bearer token (one
//! certificate-bound token, so the validated-token cache hits), the RFC 8705 binding, the
//! role, the route.
//!
//! The load generator ([`client::load`]) runs in this process on the other runtime, on the
//! same two cores: 32 connections, each presenting an RSA-2048 client certificate, sending
//! `GET /api/users` one after another. Two shapes:
//! - **keep-alive**: every connection kept for the whole phase;
//! - **new connection**: a new TCP connection and a full mTLS handshake per request.
//!
//! Server CPU is read from `/proc/self/task/*/schedstat` (nanoseconds on CPU) of the
//! `bench-server` threads only, before and after each phase, so the load generator's own
//! CPU is not counted. Every phase is bounded in time (`BENCH_SECS`, default 5). The
//! ratios printed at the end are the goals of issue 14: CPU per kept-alive request within
//! 1.5× of the bare responder, throughput at least 0.8× of it, and new-connection throughput
//! at the bare responder's. Results and the machine: `resource-server/BENCHMARKS.md`.
//!
//! The stand-in provider (discovery + JWKS, tokens minted here) is the integration tests';
//! it serves the resource server's key fetch at start-up and is idle afterwards.

#[path = "../tests/support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use client::load::{self, Plan, Reuse};
use http_body_util::Full;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use hyper_util::rt::TokioIo;
use playbook::pki::{DevPki, KeyType};
use rustls::ServerConfig;
use support::{TestProvider, identity};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_rustls::TlsAcceptor;

const SERVER_THREAD: &str = "bench-server";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Nanoseconds on CPU of every thread of this process named `name` (Linux schedstat).
fn thread_cpu_ns(name: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim_end() == name)
        })
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// The reference: TLS (the same config) and HTTP/1.1, a constant answer, nothing else.
async fn bare_responder(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    body: Bytes,
    stop: oneshot::Receiver<()>,
) {
    let acceptor = TlsAcceptor::from(tls);
    tokio::pin!(stop);
    loop {
        let (tcp, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(_) => continue,
            },
            _ = &mut stop => return,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let body = body.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let service = hyper::service::service_fn(move |_req| {
                let mut response = hyper::Response::new(Full::new(body.clone()));
                response
                    .headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                async move { Ok::<_, std::convert::Infallible>(response) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

/// One measured phase.
struct Row {
    server: &'static str,
    reuse: Reuse,
    report: load::Report,
    cpu_ns: u64,
}

impl Row {
    fn cpu_per_request_us(&self) -> f64 {
        self.cpu_ns as f64 / 1e3 / self.report.succeeded().max(1) as f64
    }

    fn print(&self) {
        let r = &self.report;
        println!(
            "| {} | {} | {} | {:.0} | {:.1} | {:.2} | {:.2} | {} |",
            self.server,
            self.reuse.as_str(),
            r.succeeded(),
            r.requests_per_sec(),
            self.cpu_per_request_us(),
            r.latency_at(0.5).as_secs_f64() * 1e3,
            r.latency_at(0.99).as_secs_f64() * 1e3,
            r.answered() - r.succeeded() + r.failed,
        );
    }
}

async fn phase(
    server: &'static str,
    addr: SocketAddr,
    request: &load::Request,
    client_tls: &rustls::ClientConfig,
    plan: &Plan,
) -> Row {
    let target = load::Target {
        addr,
        server_name: "localhost".try_into().expect("a DNS name"),
        tls: client_tls.clone(),
    };
    let before = thread_cpu_ns(SERVER_THREAD);
    let report = load::run(target, request.clone(), plan, Default::default()).await;
    let cpu_ns = thread_cpu_ns(SERVER_THREAD).saturating_sub(before);
    if let Some(e) = &report.first_error {
        eprintln!("{server} {}: first failure: {e}", plan.reuse.as_str());
    }
    Row {
        server,
        reuse: plan.reuse,
        report,
        cpu_ns,
    }
}

fn main() {
    playbook::install_crypto_provider();
    let secs: u64 = env_or("BENCH_SECS", 5);
    let rounds: usize = env_or("BENCH_ROUNDS", 2);
    let connections: usize = env_or("BENCH_CONNECTIONS", 32);
    let shapes: String = env_or("BENCH_SHAPES", "keep-alive,full".to_owned());
    let only: String = env_or("BENCH_SERVERS", "bare,resource-server".to_owned());
    let log = std::env::var_os("BENCH_LOG").is_some_and(|v| v != "0");
    if log {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "resource_server=debug,playbook=info",
            ))
            .with_ansi(false)
            .with_writer(std::io::sink)
            .init();
    }

    let servers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(SERVER_THREAD)
        .enable_all()
        .build()
        .expect("server runtime");
    let load = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bench-load")
        .enable_all()
        .build()
        .expect("load runtime");

    let pki = DevPki::generate_with(KeyType::Rsa2048, 2, 1).expect("dev PKI");
    load.block_on(async {
        let provider = TestProvider::start(&pki).await;
        let config = support::config(&pki, &provider);
        let tls = config
            .server_tls(&identity(&pki.resource_server))
            .expect("server TLS config");

        // Both servers on the server runtime, so their CPU is the bench-server threads'.
        let (rs, bare_addr, stop_bare) = {
            let _in_servers = servers.enter();
            let bind = || {
                let std = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
                std.set_nonblocking(true).expect("non-blocking");
                TcpListener::from_std(std).expect("listener")
            };
            let rs = resource_server::spawn(bind(), tls.clone(), config).expect("resource server");
            let bare = bind();
            let bare_addr = bare.local_addr().expect("addr");
            let (stop_bare, stopped) = oneshot::channel();
            let body = Bytes::from(serde_json::to_vec(&resource_server::routes::users()).unwrap());
            servers.spawn(bare_responder(bare, tls, body, stopped));
            (rs, bare_addr, stop_bare)
        };
        rs.wait_ready(Duration::from_secs(20)).await.expect("keys load");

        let client_tls = playbook::https::client_config(
            std::slice::from_ref(&pki.ca.cert.cert_der),
            Some(&identity(&pki.client)),
        )
        .expect("client TLS config");
        let mut headers = HeaderMap::new();
        let bearer = format!("Bearer {}", provider.token(&pki));
        headers.insert(AUTHORIZATION, HeaderValue::from_str(&bearer).unwrap());
        let request = load::Request {
            method: hyper::Method::GET,
            path: playbook::names::USERS_API_PATH.to_owned(),
            headers,
            body: Bytes::new(),
            fresh: None,
        };
        let plan = |reuse| Plan {
            connections,
            duration: Duration::from_secs(secs),
            count: None,
            reuse,
        };

        println!(
            "{connections} connections, {secs} s per phase, {rounds} rounds, RSA-2048 certificates, \
             GET {} with one certificate-bound token, server log {}\n",
            playbook::names::USERS_API_PATH,
            if log { "on (to a sink)" } else { "off" }
        );
        println!(
            "| server | connection | requests | req/s | server CPU µs/req | p50 ms | p99 ms | errors |"
        );
        println!("|---|---|---:|---:|---:|---:|---:|---:|");
        // Warm-up (not printed): connections, the token cache, allocator pools.
        let warm = Plan {
            duration: Duration::from_secs(1),
            ..plan(Reuse::KeepAlive)
        };
        phase("bare", bare_addr, &request, &client_tls, &warm).await;
        phase("resource-server", rs.addr, &request, &client_tls, &warm).await;

        let mut ratios = Vec::new();
        for _ in 0..rounds {
            let mut rows = Vec::new();
            for reuse in [Reuse::KeepAlive, Reuse::Full] {
                if !shapes.split(',').any(|s| s == reuse.as_str()) {
                    continue;
                }
                for (name, addr) in [("bare", bare_addr), ("resource-server", rs.addr)] {
                    if !only.split(',').any(|s| s == name) {
                        continue;
                    }
                    let row = phase(name, addr, &request, &client_tls, &plan(reuse)).await;
                    row.print();
                    rows.push(row);
                }
            }
            if let [bare_ka, rs_ka, bare_new, rs_new] = &rows[..] {
                ratios.push((
                    rs_ka.cpu_per_request_us() / bare_ka.cpu_per_request_us(),
                    rs_ka.report.requests_per_sec() / bare_ka.report.requests_per_sec(),
                    rs_new.report.requests_per_sec() / bare_new.report.requests_per_sec(),
                ));
            }
        }
        println!();
        println!("| round | keep-alive CPU/req, resource server ÷ bare (goal ≤ 1.5) | keep-alive req/s ratio (goal ≥ 0.8) | new-connection req/s ratio (goal ≈ 1) |");
        println!("|---|---:|---:|---:|");
        for (i, (cpu, ka, new)) in ratios.iter().enumerate() {
            println!("| {} | {cpu:.2} | {ka:.2} | {new:.2} |", i + 1);
        }

        let _ = stop_bare.send(());
        rs.stop().await.expect("resource server stops");
        provider.stop().await;
    });
}
