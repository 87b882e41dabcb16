//! A small HTTP/1.1 load generator over mutual TLS, for `client bench` (and the resource
//! server's `vs_bare` bench, through its dev-dependency on this crate): `connections` tasks, each sending one request after another, until a
//! deadline or a request count is reached, whichever comes first.
//!
//! How each request gets its connection ([`Reuse`]):
//! - [`Reuse::KeepAlive`]: one TLS connection per task, kept for every request;
//! - [`Reuse::Resume`]: a new TCP + TLS connection per request, resuming the TLS session
//!   (TLS 1.3 PSK, RFC 8446 §2.2: no certificates sent, no signature made);
//! - [`Reuse::Full`]: a new connection and a full handshake per request (certificates
//!   both ways, a signature on each side).
//!
//! A request that is still in flight at the deadline is abandoned and not counted, so a run
//! never outlasts the time it was given. Latencies (including connect and handshake when a
//! request opens its own connection) go into an HDR histogram with microsecond resolution.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1;
use hyper::header::{CONNECTION, HOST, HeaderMap, HeaderValue};
use hyper::{Method, Request as HttpRequest};
use hyper_util::rt::TokioIo;
use rustls::client::Resumption;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::time::Instant as TokioInstant;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// How a request gets its TLS connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reuse {
    /// One connection per worker, kept alive for all its requests.
    #[default]
    KeepAlive,
    /// A new connection per request, resuming the TLS session (no certificates, no signatures).
    Resume,
    /// A new connection per request with a full handshake (session resumption off).
    Full,
}

impl Reuse {
    pub fn as_str(self) -> &'static str {
        match self {
            Reuse::KeepAlive => "keep-alive",
            Reuse::Resume => "resume",
            Reuse::Full => "full",
        }
    }
}

/// Where the load goes.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    /// The name the server certificate is checked against (and the `Host` header).
    pub server_name: ServerName<'static>,
    /// Roots and client certificate; [`run`] sets the resumption policy per [`Reuse`].
    pub tls: rustls::ClientConfig,
}

/// The request every worker sends, again and again.
#[derive(Clone)]
pub struct Request {
    pub method: Method,
    /// Origin form: `/api/users`, `/realms/x/protocol/openid-connect/token?…`.
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// What is good only once, made anew for every request (a DPoP proof, RFC 9449 §11.1; a
    /// client assertion, RFC 7523 §3): its cost is part of each request's latency.
    pub fresh: Option<Fresh>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("fresh", &self.fresh.is_some())
            .finish_non_exhaustive()
    }
}

/// Makes a request's single-use parts: headers added (or replacing), and the body when the
/// body itself holds one (a client assertion in the form).
pub type Fresh = Arc<dyn Fn() -> Result<FreshParts, String> + Send + Sync>;

/// One request's single-use parts ([`Fresh`]).
#[derive(Debug, Default)]
pub struct FreshParts {
    pub headers: HeaderMap,
    pub body: Option<Bytes>,
}

/// How much load, and how it is shaped.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Concurrent workers (each with at most one connection at a time).
    pub connections: usize,
    /// The run stops at this deadline, whatever is in flight.
    pub duration: Duration,
    /// The run stops after this many requests, if it comes first.
    pub count: Option<u64>,
    pub reuse: Reuse,
}

/// Counters a caller can read while [`run`] is going (a progress bar).
#[derive(Debug, Default)]
pub struct Progress {
    /// Requests answered (any status) plus requests failed.
    pub done: AtomicU64,
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct Report {
    pub reuse: Reuse,
    pub connections: usize,
    pub elapsed: Duration,
    /// Answers by HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    /// Requests that got no answer (connect, handshake or HTTP error).
    pub failed: u64,
    /// The first failure, as a hint of what went wrong.
    pub first_error: Option<String>,
    pub full_handshakes: u64,
    pub resumed_handshakes: u64,
    /// Latency of answered requests in microseconds.
    pub latency: Histogram<u64>,
}

impl Report {
    /// Answered requests, whatever the status.
    pub fn answered(&self) -> u64 {
        self.statuses.values().sum()
    }

    /// Answered with a 2xx status.
    pub fn succeeded(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(s, _)| (200..300).contains(*s))
            .map(|(_, n)| n)
            .sum()
    }

    pub fn requests_per_sec(&self) -> f64 {
        self.answered() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn handshakes_per_sec(&self) -> f64 {
        (self.full_handshakes + self.resumed_handshakes) as f64
            / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The latency at quantile `q` (0.5 = median).
    pub fn latency_at(&self, q: f64) -> Duration {
        Duration::from_micros(self.latency.value_at_quantile(q))
    }

    pub fn max_latency(&self) -> Duration {
        Duration::from_micros(self.latency.max())
    }
}

fn new_histogram() -> Histogram<u64> {
    // 1 µs to 10 min, 3 significant digits: a few tens of KiB per worker.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("static histogram bounds are valid")
}

/// What each worker shares.
struct Shared {
    target: Target,
    connector: TlsConnector,
    request: Request,
    host: HeaderValue,
    reuse: Reuse,
    count: Option<u64>,
    issued: AtomicU64,
    deadline: TokioInstant,
    progress: Arc<Progress>,
}

#[derive(Default)]
struct Tally {
    statuses: BTreeMap<u16, u64>,
    failed: u64,
    first_error: Option<String>,
    full: u64,
    resumed: u64,
    latency: Option<Histogram<u64>>,
}

impl Tally {
    fn fail(&mut self, what: String) {
        self.failed += 1;
        self.first_error.get_or_insert(what);
    }
}

/// Runs the plan against `target` and reports. Never runs past `plan.duration`.
pub async fn run(
    mut target: Target,
    request: Request,
    plan: &Plan,
    progress: Arc<Progress>,
) -> Report {
    target.tls.resumption = match plan.reuse {
        // Full handshakes only: no session is stored, so none can be offered.
        Reuse::Full => Resumption::disabled(),
        // One session store for all workers, as one client process has.
        Reuse::KeepAlive | Reuse::Resume => Resumption::in_memory_sessions(1024),
    };
    let connector = TlsConnector::from(Arc::new(target.tls.clone()));
    let host = HeaderValue::from_str(&host_header(&target)).expect("a host name is a header value");
    let start = Instant::now();
    let shared = Arc::new(Shared {
        connector,
        host,
        request,
        reuse: plan.reuse,
        count: plan.count,
        issued: AtomicU64::new(0),
        deadline: TokioInstant::now() + plan.duration,
        progress,
        target,
    });
    let workers: Vec<_> = (0..plan.connections.max(1))
        .map(|_| tokio::spawn(worker(shared.clone())))
        .collect();
    let mut total = Tally {
        latency: Some(new_histogram()),
        ..Tally::default()
    };
    for w in workers {
        let Ok(t) = w.await else {
            total.fail("a load worker panicked".into());
            continue;
        };
        for (status, n) in t.statuses {
            *total.statuses.entry(status).or_default() += n;
        }
        total.failed += t.failed;
        if total.first_error.is_none() {
            total.first_error = t.first_error;
        }
        total.full += t.full;
        total.resumed += t.resumed;
        if let (Some(all), Some(mine)) = (total.latency.as_mut(), t.latency.as_ref()) {
            // Same bounds on both sides: adding cannot fail.
            let _ = all.add(mine);
        }
    }
    Report {
        reuse: plan.reuse,
        connections: plan.connections.max(1),
        elapsed: start.elapsed(),
        statuses: total.statuses,
        failed: total.failed,
        first_error: total.first_error,
        full_handshakes: total.full,
        resumed_handshakes: total.resumed,
        latency: total.latency.unwrap_or_else(new_histogram),
    }
}

fn host_header(target: &Target) -> String {
    let host = match &target.server_name {
        ServerName::DnsName(name) => name.as_ref().to_owned(),
        ServerName::IpAddress(ip) => match std::net::IpAddr::from(*ip) {
            std::net::IpAddr::V6(v6) => format!("[{v6}]"),
            v4 => v4.to_string(),
        },
        other => format!("{other:?}"),
    };
    format!("{host}:{}", target.addr.port())
}

type Sender = http1::SendRequest<Full<Bytes>>;

async fn worker(shared: Arc<Shared>) -> Tally {
    let mut tally = Tally {
        latency: Some(new_histogram()),
        ..Tally::default()
    };
    let mut kept: Option<Sender> = None;
    loop {
        if let Some(count) = shared.count
            && shared.issued.fetch_add(1, Ordering::Relaxed) >= count
        {
            break;
        }
        let started = Instant::now();
        let one = one_request(&shared, &mut kept, &mut tally);
        match tokio::time::timeout_at(shared.deadline, one).await {
            // The deadline: whatever was in flight is not counted.
            Err(_) => break,
            Ok(Ok(status)) => {
                let micros = started.elapsed().as_micros().max(1) as u64;
                if let Some(h) = tally.latency.as_mut() {
                    h.saturating_record(micros);
                }
                *tally.statuses.entry(status).or_default() += 1;
            }
            Ok(Err(e)) => {
                kept = None;
                tally.fail(e);
                // A server that refuses connections must not turn this into a busy loop.
                if tokio::time::timeout_at(
                    shared.deadline,
                    tokio::time::sleep(Duration::from_millis(20)),
                )
                .await
                .is_err()
                {
                    break;
                }
            }
        }
        shared.progress.done.fetch_add(1, Ordering::Relaxed);
        if TokioInstant::now() >= shared.deadline {
            break;
        }
    }
    tally
}

/// Sends the request once (connecting first if needed); the status of the answer.
async fn one_request(
    shared: &Shared,
    kept: &mut Option<Sender>,
    tally: &mut Tally,
) -> Result<u16, String> {
    let mut sender = match kept.take() {
        Some(s) if !s.is_closed() => s,
        _ => connect(shared, tally).await?,
    };
    sender
        .ready()
        .await
        .map_err(|e| format!("connection: {e}"))?;
    let fresh = match &shared.request.fresh {
        Some(make) => make()?,
        None => FreshParts::default(),
    };
    let body = fresh.body.unwrap_or_else(|| shared.request.body.clone());
    let mut req = HttpRequest::builder()
        .method(shared.request.method.clone())
        .uri(shared.request.path.as_str())
        .body(Full::new(body))
        .map_err(|e| format!("request: {e}"))?;
    let headers = req.headers_mut();
    headers.insert(HOST, shared.host.clone());
    headers.extend(
        shared
            .request
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    headers.extend(fresh.headers);
    if shared.reuse != Reuse::KeepAlive {
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    let response = sender
        .send_request(req)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = response.status().as_u16();
    response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("response body: {e}"))?;
    if shared.reuse == Reuse::KeepAlive {
        *kept = Some(sender);
    }
    Ok(status)
}

async fn connect(shared: &Shared, tally: &mut Tally) -> Result<Sender, String> {
    let addr = shared.target.addr;
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    // Small records (requests, short answers) must not wait for delayed ACKs.
    tcp.set_nodelay(true)
        .map_err(|e| format!("TCP_NODELAY: {e}"))?;
    let tls: TlsStream<TcpStream> = shared
        .connector
        .connect(shared.target.server_name.clone(), tcp)
        .await
        .map_err(|e| format!("TLS handshake with {addr}: {e}"))?;
    match tls.get_ref().1.handshake_kind() {
        Some(rustls::HandshakeKind::Resumed) => tally.resumed += 1,
        _ => tally.full += 1,
    }
    let (sender, conn) = http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| format!("HTTP/1.1 over TLS: {e}"))?;
    tokio::spawn(async move {
        // Ends when the server closes or the sender is dropped; errors show up on the sender.
        let _ = conn.await;
    });
    Ok(sender)
}
