//! What an instrumented HTTPS client records: per TLS connection, what its handshake
//! carried (the server's CertificateRequest, the certificate sent, protocol, cipher suite,
//! the alert), the time of TCP connect and handshake, the bytes both ways, and its
//! requests with their timings, headers and bodies. [`Recorder`] holds it; the capturing
//! certificate resolver and the counting socket write into it during the handshake.

use std::sync::Arc;
use std::time::Duration;

/// The server's CertificateRequest, as rustls hands it to the client's certificate
/// resolver (`ResolvesClientCert::resolve(root_hint_subjects, sigschemes)`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CertificateRequest {
    /// The CA names the server listed (`certificate_authorities`), RFC 2253 as Keycloak
    /// renders DNs; empty when it listed none (a Java server may list none).
    pub ca_names: Vec<String>,
    /// The signature schemes it accepts for the client's CertificateVerify.
    pub signature_schemes: Vec<String>,
}

/// A TLS alert, and which side sent it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Alert {
    /// `server` (received by us) or `client` (the refusal was ours).
    pub from: &'static str,
    /// rustls' name of the alert: `UnknownCA`, `CertificateRequired`, `BadCertificate`, ….
    pub description: String,
}

/// One HTTP request sent over a recorded connection.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RequestRecord {
    pub method: String,
    pub url: String,
    /// The answer's status; `None` when no answer came.
    pub status: Option<u16>,
    /// When it was sent, from the recorder's start.
    #[serde(serialize_with = "millis")]
    pub started: Duration,
    /// Until the answer's head arrived (or the request failed).
    #[serde(serialize_with = "millis")]
    pub until_head: Duration,
    /// Until the answer's body was read to its end; `None` while it is being read, or if
    /// it never was.
    #[serde(serialize_with = "millis_opt")]
    pub until_body: Option<Duration>,
    /// Why no answer came.
    pub error: Option<String>,
    /// The request's headers as sent (credentials included: whoever shows a record
    /// shortens them, as the terminal output does).
    pub request_headers: Vec<(String, String)>,
    /// The request's body, as text (lossy), up to [`BODY_LIMIT`] bytes.
    pub request_body: Option<String>,
    /// The answer's headers.
    pub response_headers: Vec<(String, String)>,
    /// The answer's body as far as the caller read it, up to [`BODY_LIMIT`] bytes.
    pub response_body: Option<String>,
}

/// How much of each body a record keeps.
pub const BODY_LIMIT: usize = 64 * 1024;

pub(super) fn header_list(headers: &hyper::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

pub(super) fn body_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(BODY_LIMIT)]).into_owned()
}

/// What one TLS connection carried, as far as the client can observe it honestly.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConnectionRecord {
    /// 1, 2, … in the order the recorder saw them.
    pub id: u64,
    /// `host:port`.
    pub server: String,
    /// What the client would present if asked (the identity's file), or `None`.
    pub identity: Option<String>,
    /// When the TCP connect started, from the recorder's start.
    #[serde(serialize_with = "millis")]
    pub started: Duration,
    /// TCP connect (name lookup included); `None` if it did not connect.
    #[serde(serialize_with = "millis_opt")]
    pub tcp_connect: Option<Duration>,
    /// ClientHello to the end of the client's side of the handshake.
    #[serde(serialize_with = "millis_opt")]
    pub handshake: Option<Duration>,
    /// `None`: the server did not ask for a client certificate.
    pub certificate_request: Option<CertificateRequest>,
    /// The certificate the client sent when asked (`None`: asked but sent none, or not
    /// asked).
    pub sent_certificate: Option<crate::x509::CertInfo>,
    /// `TLSv1_3`, `TLSv1_2`.
    pub protocol: Option<String>,
    /// `TLS13_AES_256_GCM_SHA384`, ….
    pub cipher_suite: Option<String>,
    /// `Full`, `FullWithHelloRetryRequest`, `Resumed`.
    pub handshake_kind: Option<String>,
    /// The alert that ended it, if one did (in TLS 1.3 a refused client certificate shows
    /// up as the server's alert on the first read, after the client's handshake is done).
    pub alert: Option<Alert>,
    /// The connection's failure (connect, handshake or a later read), if any.
    pub error: Option<String>,
    /// TLS bytes on the wire, both ways, handshake included.
    pub bytes_written: u64,
    pub bytes_read: u64,
    pub requests: Vec<RequestRecord>,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

fn millis_opt<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => millis(d, s),
        None => s.serialize_none(),
    }
}

/// Byte counters of one connection, shared with its socket.
#[derive(Debug, Default)]
pub(super) struct Counters {
    read: std::sync::atomic::AtomicU64,
    written: std::sync::atomic::AtomicU64,
}

#[derive(Debug)]
struct RecorderInner {
    origin: std::time::Instant,
    connections: Vec<(ConnectionRecord, Arc<Counters>)>,
}

/// Where instrumented clients write what their connections carried. Cheap to clone; many
/// clients (one per certificate presented) may share one, so that a run is one timeline.
#[derive(Debug, Clone)]
pub struct Recorder(Arc<std::sync::Mutex<RecorderInner>>);

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    /// A recorder whose clock starts now.
    pub fn new() -> Self {
        Recorder(Arc::new(std::sync::Mutex::new(RecorderInner {
            origin: std::time::Instant::now(),
            connections: Vec::new(),
        })))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RecorderInner> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Time since the recorder started.
    pub fn elapsed(&self) -> Duration {
        self.lock().origin.elapsed()
    }

    /// Every connection so far, with its byte counts as of now.
    pub fn connections(&self) -> Vec<ConnectionRecord> {
        self.lock()
            .connections
            .iter()
            .map(|(record, counters)| {
                let mut r = record.clone();
                r.bytes_read = counters.read.load(std::sync::atomic::Ordering::Relaxed);
                r.bytes_written = counters.written.load(std::sync::atomic::Ordering::Relaxed);
                r
            })
            .collect()
    }

    /// TLS handshakes completed (full or resumed).
    pub fn handshakes(&self) -> usize {
        self.lock()
            .connections
            .iter()
            .filter(|(r, _)| r.handshake.is_some())
            .count()
    }

    /// Bytes (read, written) over every connection so far.
    pub fn bytes(&self) -> (u64, u64) {
        self.connections()
            .iter()
            .fold((0, 0), |(r, w), c| (r + c.bytes_read, w + c.bytes_written))
    }

    pub(super) fn open(&self, server: String, identity: Option<String>) -> (u64, Arc<Counters>) {
        let mut inner = self.lock();
        let id = inner.connections.len() as u64 + 1;
        let started = inner.origin.elapsed();
        let counters = Arc::new(Counters::default());
        inner.connections.push((
            ConnectionRecord {
                id,
                server,
                identity,
                started,
                tcp_connect: None,
                handshake: None,
                certificate_request: None,
                sent_certificate: None,
                protocol: None,
                cipher_suite: None,
                handshake_kind: None,
                alert: None,
                error: None,
                bytes_written: 0,
                bytes_read: 0,
                requests: Vec::new(),
            },
            counters.clone(),
        ));
        (id, counters)
    }

    pub(super) fn update(&self, id: u64, f: impl FnOnce(&mut ConnectionRecord)) {
        let mut inner = self.lock();
        if let Some((record, _)) = inner.connections.iter_mut().find(|(r, _)| r.id == id) {
            f(record);
        }
    }

    /// Records a failure of connection `id`: the alert in its cause chain, if any.
    pub(super) fn fail(&self, id: u64, err: &(dyn std::error::Error + 'static)) {
        let alert = alert_in(err);
        let text = crate::report::error_chain(err);
        self.update(id, |r| {
            if r.alert.is_none() {
                r.alert = alert;
            }
            if r.error.is_none() {
                r.error = Some(text);
            }
        });
    }
}

/// The TLS alert in an error's cause chain (io::Error → rustls::Error), if there is one.
pub fn alert_in(err: &(dyn std::error::Error + 'static)) -> Option<Alert> {
    let mut source = Some(err);
    while let Some(e) = source {
        let tls = e.downcast_ref::<rustls::Error>().or_else(|| {
            e.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|i| i.downcast_ref::<rustls::Error>())
        });
        match tls {
            Some(rustls::Error::AlertReceived(a)) => {
                return Some(Alert {
                    from: "server",
                    description: format!("{a:?}"),
                });
            }
            Some(rustls::Error::InvalidCertificate(c)) => {
                return Some(Alert {
                    from: "client",
                    description: format!("{:?}", rustls::AlertDescription::from(c.clone())),
                });
            }
            _ => {}
        }
        source = e.source();
    }
    None
}

/// Wraps the client's certificate resolver: whatever it answers, the server's
/// CertificateRequest and the certificate chosen are written to the connection's record.
#[derive(Debug)]
pub(super) struct CapturingResolver {
    pub(super) inner: Arc<dyn rustls::client::ResolvesClientCert>,
    pub(super) recorder: Recorder,
    pub(super) id: u64,
}

impl rustls::client::ResolvesClientCert for CapturingResolver {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        let chosen = self.inner.resolve(root_hint_subjects, sigschemes);
        let request = CertificateRequest {
            ca_names: root_hint_subjects.iter().map(|der| ca_name(der)).collect(),
            signature_schemes: sigschemes.iter().map(|s| format!("{s:?}")).collect(),
        };
        let sent = chosen
            .as_ref()
            .and_then(|k| k.cert.first())
            .and_then(|leaf| crate::x509::CertInfo::from_der(leaf).ok());
        self.recorder.update(self.id, |r| {
            r.certificate_request = Some(request);
            r.sent_certificate = sent;
        });
        chosen
    }

    fn has_certs(&self) -> bool {
        self.inner.has_certs()
    }
}

/// A CA name from a CertificateRequest (a DER `Name`), rendered as Keycloak renders DNs.
fn ca_name(der: &[u8]) -> String {
    crate::dn::rfc2253_of_der_name(der).unwrap_or_else(|_| {
        format!(
            "(not a DER Name: {} bytes {})",
            der.len(),
            der.iter()
                .take(16)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        )
    })
}

/// A socket that counts what goes through it.
#[derive(Debug)]
pub(super) struct Counted<S> {
    pub(super) inner: S,
    pub(super) counters: Arc<Counters>,
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Counted<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = (buf.filled().len() - before) as u64;
        self.counters
            .read
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        poll
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let poll = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        if let std::task::Poll::Ready(Ok(n)) = &poll {
            self.counters
                .written
                .fetch_add(*n as u64, std::sync::atomic::Ordering::Relaxed);
        }
        poll
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Which record an answer belongs to: in the extensions of every response
/// [`InstrumentedClient::send`] returns (`response.extensions().get::<RequestId>()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestId {
    /// [`ConnectionRecord::id`].
    pub connection: u64,
    /// The index in its [`ConnectionRecord::requests`].
    pub index: usize,
}
