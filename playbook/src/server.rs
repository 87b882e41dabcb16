//! HTTPS serving with client certificates: a rustls `ServerConfig` that requests or
//! requires a client certificate verified against our CA set, and an accept loop that
//! hands every request the certificate of *its* connection.
//!
//! `axum::serve` has no TLS, so this is the shape of axum's `low-level-rustls` example:
//! accept TCP, handshake with tokio-rustls, then serve the connection with hyper, with a
//! [`Connection`] extension inserted into every request.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
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

/// How a server treats client certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
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
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        ClientAuth::Required | ClientAuth::Request => {
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

/// What the TLS layer knows about the connection a request came in on.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The peer; behind a trusted proxy, the client's address from `X-Forwarded-For` (port 0).
    pub remote_addr: SocketAddr,
    /// The verified client certificate chain, leaf first; `None` for an anonymous client.
    /// Behind a trusted proxy: the chain the proxy forwarded (see [`crate::forwarded`]).
    pub client_certs: Option<Arc<[CertificateDer<'static>]>>,
    /// The trusted proxy that terminated the client's TLS and forwarded its certificate
    /// (`remote_addr` is then the proxy too); `None` when the client connected directly.
    pub forwarded_by: Option<SocketAddr>,
}

impl Connection {
    /// No connection at all: a router called without [`serve`] (e.g. `oneshot` in a unit
    /// test), so there is no certificate.
    pub fn none() -> Connection {
        Connection {
            remote_addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            client_certs: None,
            forwarded_by: None,
        }
    }

    /// The client's leaf certificate, if it presented one.
    pub fn client_leaf(&self) -> Option<&CertificateDer<'static>> {
        self.client_certs.as_deref().and_then(<[_]>::first)
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

/// Serves `app` over TLS on `listener` until `shutdown` completes, then drains.
///
/// Each request carries a [`Connection`] extension with the peer address and the
/// client certificate of its own connection. Failed handshakes are logged with the
/// reason (an untrusted or expired client certificate is a lesson, not noise).
pub async fn serve(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    app: Router,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let acceptor = TlsAcceptor::from(tls);
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .max_buf_size(MAX_HEADER_BYTES)
        .header_read_timeout(Duration::from_secs(30));
    let http = Arc::new(http);
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
            let connection = Connection {
                remote_addr,
                client_certs,
                forwarded_by: None,
            };
            let service = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(connection.clone());
                    app.clone().oneshot(req)
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
