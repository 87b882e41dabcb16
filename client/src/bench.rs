//! `client bench`: a bounded load against the token endpoint or an API route, for the
//! questions people ask when they experiment with mTLS. What does a full handshake cost
//! against a resumed one, or against a kept-alive connection? RSA against ECDSA
//! certificates (`client certs --key-type`)? A certificate-bound token against a plain
//! bearer token (`--auth secret`)?
//!
//! ```text
//! client bench api                         # GET /api/users, kept-alive connections, 10 s
//! client bench api --reuse full            # a full mTLS handshake per request
//! client bench token --reuse resume -n 500 # token requests, TLS resumption, 500 at most
//! client bench api --auth secret --json    # an unbound token; JSON for scripts
//! client bench api --auth secret --bind dpop  # a DPoP-bound token, a new proof per call
//! ```
//!
//! What is good only once (a DPoP proof, a `private_key_jwt` assertion) is made anew for each
//! request ([`crate::load::Fresh`]), its signature inside the measured latency.
//!
//! The load itself is [`crate::load`]: `--connections` workers, each sending one request
//! after another until `--duration` is over or `--count` requests are done, whichever
//! comes first; a run never outlasts `--duration`. Latency is measured per request from the
//! moment it is sent (including connect and handshake when it opens its own connection).
//! The client runs on the same machine as the servers here: the numbers compare set-ups
//! with one another, they are not a capacity test.

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::load::{self, Plan, Progress, Report};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rustls_pki_types::ServerName;
use serde_json::{Value, json};
use url::Url;

use crate::error::ClientError;
use crate::output::Output;

/// What `client bench` loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// The provider's token endpoint: a client-credentials grant per request (the
    /// provider authenticates the client and signs a JWT each time).
    Token,
    /// A resource-server route (`--path`) with one token obtained before the run.
    Api,
}

/// Where the load goes: the address to connect to and the name to verify.
pub async fn target(url: &Url, tls: rustls::ClientConfig) -> Result<load::Target, ClientError> {
    let bad = |fix: &str| ClientError::Setting {
        name: "URL",
        value: url.to_string(),
        fix: fix.to_owned(),
    };
    if url.scheme() != "https" {
        return Err(bad("client bench speaks HTTPS only: use an https:// URL"));
    }
    let host = url.host_str().ok_or_else(|| bad("the URL has no host"))?;
    let port = url.port_or_known_default().unwrap_or(443);
    // `[::1]` in a URL, `::1` as a name to verify.
    let name = host.trim_start_matches('[').trim_end_matches(']');
    let server_name = ServerName::try_from(name.to_owned())
        .map_err(|_| bad("the host is neither a DNS name nor an IP address"))?;
    let addr = tokio::net::lookup_host((name, port))
        .await
        .map_err(|e| bad(&format!("cannot resolve {name}: {e}")))?
        .next()
        .ok_or_else(|| bad(&format!("{name} resolves to no address")))?;
    Ok(load::Target {
        addr,
        server_name,
        tls,
    })
}

/// The origin-form request target of `url`: path and query.
pub fn path_and_query(url: &Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

/// Runs the load with a progress bar on stderr (on a terminal, and not with `--json`).
pub async fn run(
    target: load::Target,
    request: load::Request,
    plan: &Plan,
    out: &Output,
) -> Report {
    let progress = Arc::new(Progress::default());
    let bar = if out.is_human() && std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(
            Some(plan.duration.as_millis() as u64),
            ProgressDrawTarget::stderr(),
        )
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let ticker = {
        let bar = bar.clone();
        let progress = progress.clone();
        let count = plan.count;
        tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let done = progress.done.load(Ordering::Relaxed);
                let elapsed = started.elapsed();
                bar.set_position(elapsed.as_millis() as u64);
                let of = count.map(|c| format!(" of {c}")).unwrap_or_default();
                bar.set_message(format!(
                    "{done}{of} requests, {:.0}/s",
                    done as f64 / elapsed.as_secs_f64().max(1e-3)
                ));
            }
        })
    };
    let report = load::run(target, request, plan, progress).await;
    ticker.abort();
    bar.finish_and_clear();
    report
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The report as JSON (`--json`), with `what` describing the run.
pub fn to_json(report: &Report, what: Value) -> Value {
    json!({
        "run": what,
        "reuse": report.reuse,
        "connections": report.connections,
        "elapsed_s": report.elapsed.as_secs_f64(),
        "requests": report.answered(),
        "succeeded": report.succeeded(),
        "failed": report.failed,
        "statuses": report.statuses.iter().map(|(s, n)| (s.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "first_error": report.first_error,
        "requests_per_s": report.requests_per_sec(),
        "handshakes": {
            "full": report.full_handshakes,
            "resumed": report.resumed_handshakes,
            "per_s": report.handshakes_per_sec(),
        },
        "latency_ms": {
            "p50": ms(report.latency_at(0.50)),
            "p90": ms(report.latency_at(0.90)),
            "p99": ms(report.latency_at(0.99)),
            "max": ms(report.max_latency()),
        },
    })
}

/// The human summary.
pub fn print(report: &Report, out: &Output) {
    let statuses = report
        .statuses
        .iter()
        .map(|(s, n)| format!("{n} × {s}"))
        .collect::<Vec<_>>()
        .join(", ");
    out.plain(&format!(
        "  requests     {} in {:.1} s: {:.0} req/s ({})",
        report.answered(),
        report.elapsed.as_secs_f64(),
        report.requests_per_sec(),
        if statuses.is_empty() {
            "no answers".to_owned()
        } else {
            statuses
        }
    ));
    out.plain(&format!(
        "  latency      p50 {:.2} ms   p90 {:.2} ms   p99 {:.2} ms   max {:.2} ms",
        ms(report.latency_at(0.50)),
        ms(report.latency_at(0.90)),
        ms(report.latency_at(0.99)),
        ms(report.max_latency()),
    ));
    out.plain(&format!(
        "  handshakes   {} full, {} resumed: {:.1}/s over {} connection{} ({})",
        report.full_handshakes,
        report.resumed_handshakes,
        report.handshakes_per_sec(),
        report.connections,
        if report.connections == 1 { "" } else { "s" },
        report.reuse.as_str(),
    ));
    if report.failed > 0 {
        out.fail(&format!(
            "{} requests got no answer; the first: {}",
            report.failed,
            report.first_error.as_deref().unwrap_or("?")
        ));
    }
}

/// Whether the run measured what it was meant to: answers, all of them 2xx, no failures.
pub fn all_succeeded(report: &Report) -> bool {
    report.answered() > 0 && report.succeeded() == report.answered() && report.failed == 0
}
