//! HTTPS serving with client certificates: a rustls `ServerConfig` that requests or
//! requires a client certificate verified against our CA set, and an accept loop that
//! hands every request the certificate of *its* connection.
//!
//! `axum::serve` has no TLS, so this is the shape of axum's `low-level-rustls` example:
//! accept TCP, handshake with tokio-rustls, then serve the connection with hyper, with a
//! [`Connection`] extension inserted into every request.
//!
//! [`Background`] ([`background`]) runs such a server on a task until it is stopped: what
//! both servers' `spawn` return.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use hyper::body::{Body, Frame, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::CertificateDer;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use crate::error::TlsError;
use crate::pem::Identity;

pub mod background;
pub mod revocation;

pub use background::{Background, BackgroundError, StopSignal, localhost_url};

/// How a server treats client certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum ClientAuth {
    /// A verified client certificate is required: the handshake fails without one.
    #[default]
    Required,
    /// Asked for, not required (Keycloak's `https-client-auth=request`): a connection
    /// without a certificate reaches the application as anonymous. A certificate that is
    /// presented must still verify, or the handshake fails.
    Request,
    /// Not asked for.
    None,
}

/// Builds a server config: our certificate, and client certificates checked against
/// `client_roots` according to `client_auth`. HTTP/1.1 only.
pub fn server_config(
    identity: &Identity,
    client_roots: &[CertificateDer<'static>],
    client_auth: ClientAuth,
) -> Result<Arc<ServerConfig>, TlsError> {
    server_config_verified_by(identity, client_roots, client_auth, None)
}

/// The same, with client certificates checked by `verifier` when given (the CRLs of
/// [`revocation::CrlVerifier`]) instead of a plain `WebPkiClientVerifier` of `client_roots`.
pub fn server_config_verified_by(
    identity: &Identity,
    client_roots: &[CertificateDer<'static>],
    client_auth: ClientAuth,
    verifier: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match (client_auth, verifier) {
        (ClientAuth::None, _) => builder.with_no_client_auth(),
        (_, Some(verifier)) => builder.with_client_cert_verifier(verifier),
        (ClientAuth::Required | ClientAuth::Request, None) => {
            let mut roots = rustls::RootCertStore::empty();
            for ca in client_roots {
                roots.add(ca.clone())?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if client_auth == ClientAuth::Request {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            builder.with_client_cert_verifier(verifier.build()?)
        }
    };
    let mut config = builder.with_single_cert(identity.chain.clone(), identity.key.clone_key())?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // Wireshark can decrypt the handshake when SSLKEYLOGFILE is set (debug builds only).
    if cfg!(debug_assertions) {
        config.key_log = Arc::new(rustls::KeyLogFile::new());
    }
    Ok(Arc::new(config))
}

/// What the TLS layer knows about the connection a request came in on. Cheap to clone:
/// every request on the connection carries a copy.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The peer; behind a trusted proxy, the client's address from `X-Forwarded-For` (port 0).
    pub remote_addr: SocketAddr,
    /// The verified client certificate chain, leaf first; `None` for an anonymous client.
    /// Behind a trusted proxy: the chain the proxy forwarded (see [`crate::forwarded`]).
    pub client_certs: Option<Arc<[CertificateDer<'static>]>>,
    /// The trusted proxy that terminated the client's TLS and forwarded its certificate;
    /// `None` when the client connected directly.
    pub forwarded_by: Option<SocketAddr>,
    /// The leaf's `x5t#S256`, computed by the first request that asks and shared by the
    /// connection's later requests: a kept-alive connection hashes its certificate once.
    thumbprint: Arc<OnceLock<Option<String>>>,
}

impl Connection {
    /// The facts of one accepted connection; its thumbprint is computed on first use.
    pub fn new(
        remote_addr: SocketAddr,
        client_certs: Option<Arc<[CertificateDer<'static>]>>,
    ) -> Self {
        Connection {
            remote_addr,
            client_certs,
            forwarded_by: None,
            thumbprint: Arc::default(),
        }
    }

    /// A request whose client certificate a trusted proxy at `proxy` forwarded: a thumbprint
    /// of its own (never the proxy connection's).
    pub fn forwarded(
        remote_addr: SocketAddr,
        client_certs: Option<Arc<[CertificateDer<'static>]>>,
        proxy: SocketAddr,
    ) -> Self {
        Connection {
            forwarded_by: Some(proxy),
            ..Connection::new(remote_addr, client_certs)
        }
    }

    /// No connection at all: a router called without [`serve`] (e.g. `oneshot` in a unit
    /// test), so there is no certificate.
    pub fn none() -> Connection {
        Connection {
            remote_addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            client_certs: None,
            forwarded_by: None,
            thumbprint: Arc::default(),
        }
    }

    /// The client's leaf certificate, if it presented one.
    pub fn client_leaf(&self) -> Option<&CertificateDer<'static>> {
        self.client_certs.as_deref().and_then(<[_]>::first)
    }

    /// RFC 8705 §3.1 `x5t#S256` of the client's leaf certificate, if it presented one.
    pub fn client_x5t_s256(&self) -> Option<&str> {
        self.thumbprint
            .get_or_init(|| {
                self.client_leaf()
                    .map(|leaf| crate::rfc8705::thumbprint(leaf))
            })
            .as_deref()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Connection {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Connection>()
            .cloned()
            .unwrap_or_else(Connection::none))
    }
}

/// How long a TLS handshake may take before the connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long in-flight requests get to finish after shutdown is signalled.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// Request-head limit: a few KiB is plenty for a bearer token.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// What one client may cost a server: the bounds against slow and greedy clients that
/// every server of the playground applies (`--request-timeout`,
/// `--max-connections-per-peer`). The defaults are far beyond what a workshop needs.
///
/// Without them, a client that sends its request body one byte per second holds a
/// connection and a task forever, before any client authentication has happened; and one
/// address could open connections until the server runs out of file descriptors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct Limits {
    /// Seconds a client has to send a request: its head (request line and headers) must
    /// arrive within this time, and then its body within this time again, so a whole
    /// request takes at most twice this. A late head closes the connection; a late body gets
    /// `408 Request Timeout`, then the connection is closed. This is also how long a
    /// kept-alive connection may stay idle between requests.
    #[cfg_attr(
        feature = "cli",
        arg(
            long = "request-timeout",
            env = "REQUEST_TIMEOUT_SECS",
            value_name = "SECS",
            default_value = "30",
            value_parser = positive_seconds
        )
    )]
    pub request_timeout: Duration,

    /// Connections one client IP address may hold open at once; more are closed before
    /// the TLS handshake. Every client on this machine shares 127.0.0.1.
    #[cfg_attr(
        feature = "cli",
        arg(
            long,
            env = "MAX_CONNECTIONS_PER_PEER",
            value_name = "N",
            default_value_t = Limits::DEFAULT.max_connections_per_peer,
            value_parser = clap::value_parser!(u32).range(1..)
        )
    )]
    pub max_connections_per_peer: u32,
}

impl Limits {
    pub const DEFAULT: Limits = Limits {
        request_timeout: Duration::from_secs(30),
        max_connections_per_peer: 256,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// `--request-timeout`: a positive number of seconds (fractions allowed).
#[cfg(feature = "cli")]
fn positive_seconds(value: &str) -> Result<Duration, String> {
    let secs: f64 = value
        .parse()
        .map_err(|_| format!("{value:?} is not a number of seconds, e.g. 30"))?;
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{value:?}: the timeout must be a positive number of seconds"))
}

/// Serves `app` over TLS on `listener` until `shutdown` completes, then drains, with the
/// default [`Limits`].
pub async fn serve(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    app: Router,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    serve_with(listener, tls, app, shutdown, Limits::default()).await
}

/// Serves `app` over TLS on `listener` until `shutdown` completes, then drains.
///
/// Each request carries a [`Connection`] extension with the peer address and the
/// client certificate of its own connection. Failed handshakes are logged with the
/// reason (an untrusted or expired client certificate is a lesson, not noise). `limits`
/// bounds how slow a request and how many connections per address may be.
pub async fn serve_with(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    app: Router,
    shutdown: impl Future<Output = ()> + Send,
    limits: Limits,
) -> std::io::Result<()> {
    let acceptor = TlsAcceptor::from(tls);
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    // hyper starts this timer when it begins to read a request head, including on a
    // kept-alive connection waiting for its next request; the body has its own deadline
    // (`Deadline` below).
    http.timer(TokioTimer::new())
        .max_buf_size(MAX_HEADER_BYTES)
        .header_read_timeout(limits.request_timeout);
    let http = Arc::new(http);
    let peers = PeerCounts::default();
    tokio::pin!(shutdown);
    loop {
        let (tcp, remote_addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // e.g. EMFILE: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Counted before the handshake: a handshake costs the server an asymmetric
        // signature, so a peer over its share gets nothing but a closed socket.
        let Some(slot) = peers.acquire(remote_addr.ip(), limits.max_connections_per_peer) else {
            tracing::warn!(
                %remote_addr,
                "connection refused: this address already holds {} connections \
                 (--max-connections-per-peer)",
                limits.max_connections_per_peer
            );
            drop(tcp);
            continue;
        };
        // Small TLS records (the handshake, short JSON answers) must not wait for Nagle's
        // algorithm to meet the peer's delayed ACK: that costs ~40 ms a time on loopback.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(%remote_addr, "TCP_NODELAY: {e}");
        }
        let acceptor = acceptor.clone();
        let app = app.clone();
        let http = http.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            // Held for as long as the connection lives.
            let _slot = slot;
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::info!(%remote_addr, "TLS handshake refused: {e}");
                    return;
                }
                Err(_) => {
                    tracing::info!(%remote_addr, "TLS handshake timed out");
                    return;
                }
            };
            let client_certs = tls.get_ref().1.peer_certificates().map(|certs| {
                certs
                    .iter()
                    .map(|c| c.clone().into_owned())
                    .collect::<Arc<[_]>>()
            });
            // Parsing the certificate only pays off when the line is logged.
            if tracing::enabled!(tracing::Level::DEBUG)
                && let Some(leaf) = client_certs.as_deref().and_then(<[_]>::first)
            {
                let subject = crate::x509::CertInfo::from_der(leaf)
                    .map(|i| i.subject)
                    .unwrap_or_default();
                tracing::debug!(%remote_addr, %subject, "TLS client certificate accepted");
            }
            let connection = Connection::new(remote_addr, client_certs);
            let service = hyper::service::service_fn(
                move |req: hyper::Request<hyper::body::Incoming>| {
                    let timed_out = Arc::new(AtomicBool::new(false));
                    let mut req = req
                        .map(|body| Deadline::new(body, limits.request_timeout, timed_out.clone()));
                    req.extensions_mut().insert(connection.clone());
                    let app = app.clone();
                    async move {
                        let response = app.oneshot(req).await;
                        // Whatever the handler made of the failed body read (axum says 400),
                        // the client was too slow: say so, and end the connection.
                        if timed_out.load(Ordering::Relaxed) {
                            tracing::info!(%remote_addr, "request body not received within {:?}; closing", limits.request_timeout);
                            return Ok(request_timeout(limits.request_timeout));
                        }
                        response
                    }
                },
            );
            let conn = http.serve_connection(TokioIo::new(tls), service);
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(%remote_addr, "connection ended: {e}");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN_TIMEOUT) => tracing::warn!("connections still open after {DRAIN_TIMEOUT:?}; closing"),
    }
    Ok(())
}

/// `408 Request Timeout` with `Connection: close` (RFC 9110 §15.5.9).
fn request_timeout(limit: Duration) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    (
        axum::http::StatusCode::REQUEST_TIMEOUT,
        [(axum::http::header::CONNECTION, "close")],
        format!(
            "request timeout: the request body was not received within {limit:?} of its \
             headers (the server's --request-timeout)\n"
        ),
    )
        .into_response()
}

/// Open connections per client address.
#[derive(Debug, Clone, Default)]
struct PeerCounts(Arc<Mutex<HashMap<IpAddr, u32>>>);

/// One counted connection; dropping it gives the place back.
#[derive(Debug)]
struct PeerSlot {
    counts: PeerCounts,
    ip: IpAddr,
}

impl PeerCounts {
    fn acquire(&self, ip: IpAddr, max: u32) -> Option<PeerSlot> {
        let mut counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let count = counts.entry(ip).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(PeerSlot {
            counts: self.clone(),
            ip,
        })
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = counts.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                // Forget idle addresses: the map stays as small as the set of live peers.
                counts.remove(&self.ip);
            }
        }
    }
}

/// The request body the application reads, with a deadline: a body that has not ended
/// `limit` after its head arrived fails with [`BodyTimeout`] and sets `timed_out`.
#[derive(Debug)]
struct Deadline<B> {
    inner: B,
    deadline: tokio::time::Instant,
    /// Made on the first read that has to wait: most bodies (empty, or already buffered)
    /// never need a timer.
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    timed_out: Arc<AtomicBool>,
    limit: Duration,
}

impl<B> Deadline<B> {
    fn new(inner: B, limit: Duration, timed_out: Arc<AtomicBool>) -> Self {
        Deadline {
            inner,
            deadline: tokio::time::Instant::now() + limit,
            sleep: None,
            timed_out,
            limit,
        }
    }
}

/// The request body did not arrive in time.
#[derive(Debug, thiserror::Error)]
#[error("the request body was not received within {0:?}")]
pub struct BodyTimeout(Duration);

impl<B> Body for Deadline<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        // Polling the timer registers the waker: a body that stalls is woken at the deadline.
        let deadline = self.deadline;
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.timed_out.store(true, Ordering::Relaxed);
                Poll::Ready(Some(Err(BodyTimeout(self.limit).into())))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Runs until Ctrl-C or SIGTERM: the shutdown future for the binaries.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
