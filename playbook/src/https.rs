//! HTTPS clients: our dev CA as the *only* root, and optionally a client identity; and an
//! instrumented one ([`InstrumentedClient`]) that records what each TLS connection carried
//! (`record`: [`ConnectionRecord`], kept in a [`Recorder`]).
//!
//! No system roots, no "accept invalid certificates" switch: the playground verifies
//! every server against `ca.pem`, as curl does with `--cacert certs/ca.pem`.

use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::CertificateDer;

use crate::error::TlsError;
use crate::pem::Identity;

mod record;

pub use record::{
    Alert, BODY_LIMIT, CertificateRequest, ConnectionRecord, Recorder, RequestId, RequestRecord,
    alert_in,
};
use record::{CapturingResolver, Counted, body_text, header_list};

/// A rustls client config trusting only `roots`, presenting `identity` when asked.
pub fn client_config(
    roots: &[CertificateDer<'static>],
    identity: Option<&Identity>,
) -> Result<rustls::ClientConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut store = rustls::RootCertStore::empty();
    for ca in roots {
        store.add(ca.clone())?;
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(store);
    let mut config = match identity {
        Some(id) => builder.with_client_auth_cert(id.chain.clone(), id.key.clone_key())?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    if cfg!(debug_assertions) {
        config.key_log = Arc::new(rustls::KeyLogFile::new());
    }
    Ok(config)
}

/// A reqwest client over [`client_config`]. Redirects are not followed: a token or API
/// response that redirects is an error to show, not a hop to take with our certificate.
pub fn https_client(
    roots: &[CertificateDer<'static>],
    identity: Option<&Identity>,
) -> Result<reqwest::Client, TlsError> {
    Ok(reqwest::Client::builder()
        .use_preconfigured_tls(client_config(roots, identity)?)
        .https_only(true)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("oauth2-playbook/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// Why an instrumented request got no answer. Its cause chain ends in the `io::Error`
/// (holding the `rustls::Error`, a received alert included) or hyper's error, so callers
/// can classify it as they classify reqwest's.
#[derive(Debug, thiserror::Error)]
pub enum InstrumentedError {
    #[error("{url}: not an https URL with a host")]
    BadUrl { url: String },
    #[error("{url}: the request body is a stream (only in-memory bodies are sent)")]
    StreamingBody { url: String },
    #[error("error sending request for url ({url}): connect")]
    Connect {
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error("error sending request for url ({url})")]
    Http {
        url: String,
        #[source]
        source: hyper::Error,
    },
    #[error("error sending request for url ({url}): timed out after {after:?}")]
    Timeout { url: String, after: Duration },
}

impl InstrumentedError {
    pub fn is_timeout(&self) -> bool {
        matches!(self, InstrumentedError::Timeout { .. })
    }
}

type Sender = hyper::client::conn::http1::SendRequest<reqwest::Body>;

/// An HTTPS client that records, per TLS connection, what the handshake carried and how
/// long each part took ([`ConnectionRecord`]), into a [`Recorder`]. It trusts only
/// `roots` and presents `identity` when asked, as [`https_client`] does; requests are
/// built with reqwest's builders and sent with [`InstrumentedClient::send`]. HTTP/1.1,
/// one request at a time per connection, idle connections kept for reuse per `host:port`.
#[derive(Debug)]
pub struct InstrumentedClient {
    config: rustls::ClientConfig,
    identity: Option<String>,
    recorder: Recorder,
    idle: std::sync::Mutex<Vec<(String, u64, Sender)>>,
    connect_timeout: Duration,
    timeout: Duration,
}

impl InstrumentedClient {
    /// A client trusting only `roots`, presenting `identity` when asked, recording into
    /// `recorder`.
    pub fn new(
        roots: &[CertificateDer<'static>],
        identity: Option<&Identity>,
        recorder: Recorder,
    ) -> Result<Self, TlsError> {
        Ok(InstrumentedClient {
            config: client_config(roots, identity)?,
            identity: identity.map(|i| {
                i.cert_path
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_else(|| i.cert_path.display().to_string())
            }),
            recorder,
            idle: std::sync::Mutex::new(Vec::new()),
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
        })
    }

    /// Where this client records.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// Sends `request` (built with any reqwest client's builders: only its method, URL,
    /// headers and in-memory body are used) over a recorded connection, reusing an idle
    /// one to the same server. The answer's body is read by the caller, as with reqwest.
    pub async fn send(
        &self,
        request: reqwest::Request,
    ) -> Result<reqwest::Response, InstrumentedError> {
        let url = request.url().clone();
        let bad = || InstrumentedError::BadUrl {
            url: url.to_string(),
        };
        let host = url.host_str().ok_or_else(bad)?.to_owned();
        let port = url.port_or_known_default().ok_or_else(bad)?;
        if url.scheme() != "https" {
            return Err(bad());
        }
        if request.body().is_some_and(|b| b.as_bytes().is_none()) {
            return Err(InstrumentedError::StreamingBody {
                url: url.to_string(),
            });
        }
        let server = format!("{host}:{port}");
        let (id, mut sender) = match self.take_idle(&server).await {
            Some(idle) => idle,
            None => self.connect(&url, &host, port, server.clone()).await?,
        };

        let mut http: hyper::Request<reqwest::Body> = request.try_into().map_err(|_| bad())?;
        let origin_form = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        *http.uri_mut() = origin_form.parse().map_err(|_| bad())?;
        let headers = http.headers_mut();
        let authority = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.clone(),
        };
        headers.insert(hyper::header::HOST, authority.parse().map_err(|_| bad())?);
        headers.entry(hyper::header::USER_AGENT).or_insert(
            hyper::header::HeaderValue::from_static(concat!(
                "oauth2-playbook/",
                env!("CARGO_PKG_VERSION")
            )),
        );
        headers
            .entry(hyper::header::ACCEPT)
            .or_insert(hyper::header::HeaderValue::from_static("*/*"));

        let method = http.method().to_string();
        let request_headers = header_list(http.headers());
        let request_body = http
            .body()
            .as_bytes()
            .filter(|b| !b.is_empty())
            .map(body_text);
        let started = self.recorder.elapsed();
        let answer = tokio::time::timeout(self.timeout, sender.send_request(http)).await;
        let until_head = self.recorder.elapsed() - started;
        let mut record = RequestRecord {
            method,
            url: url.to_string(),
            status: None,
            started,
            until_head,
            until_body: None,
            error: None,
            request_headers,
            request_body,
            response_headers: Vec::new(),
            response_body: None,
        };
        let response = match answer {
            Err(_) => {
                let err = InstrumentedError::Timeout {
                    url: url.to_string(),
                    after: self.timeout,
                };
                record.error = Some(err.to_string());
                self.recorder.update(id, |r| r.requests.push(record));
                return Err(err);
            }
            Ok(Err(source)) => {
                let err = InstrumentedError::Http {
                    url: url.to_string(),
                    source,
                };
                record.error = Some(crate::report::error_chain(&err));
                self.recorder.update(id, |r| r.requests.push(record));
                self.recorder.fail(id, &err);
                return Err(err);
            }
            Ok(Ok(response)) => response,
        };
        record.status = Some(response.status().as_u16());
        record.response_headers = header_list(response.headers());
        let index = {
            let mut n = 0;
            self.recorder.update(id, |r| {
                r.requests.push(record);
                n = r.requests.len() - 1;
            });
            n
        };
        if !sender.is_closed() {
            self.idle
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push((server, id, sender));
        }
        let (mut parts, body) = response.into_parts();
        parts.extensions.insert(RequestId {
            connection: id,
            index,
        });
        let body = RecordedBody {
            inner: body,
            recorder: self.recorder.clone(),
            id,
            index,
            started,
            done: false,
            seen: Vec::new(),
        };
        Ok(reqwest::Response::from(hyper::Response::from_parts(
            parts,
            reqwest::Body::wrap(body),
        )))
    }

    /// An idle connection to `server` that is still open, once its last answer is read.
    async fn take_idle(&self, server: &str) -> Option<(u64, Sender)> {
        loop {
            let found = {
                let mut idle = self
                    .idle
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let at = idle.iter().position(|(s, _, _)| s == server)?;
                idle.remove(at)
            };
            let (_, id, mut sender) = found;
            let ready = tokio::time::timeout(self.connect_timeout, sender.ready()).await;
            if matches!(ready, Ok(Ok(()))) {
                return Some((id, sender));
            }
        }
    }

    async fn connect(
        &self,
        url: &url::Url,
        host: &str,
        port: u16,
        server: String,
    ) -> Result<(u64, Sender), InstrumentedError> {
        let (id, counters) = self.recorder.open(server, self.identity.clone());
        // A failure of the connect or the handshake: recorded on the connection, returned.
        let failed = |source: std::io::Error| {
            let err = InstrumentedError::Connect {
                url: url.to_string(),
                source,
            };
            self.recorder.fail(id, &err);
            err
        };
        let limit = self.connect_timeout;

        let t0 = std::time::Instant::now();
        let tcp = within(limit, tokio::net::TcpStream::connect((host, port)))
            .await
            .map_err(failed)?;
        let tcp_connect = t0.elapsed();
        let _ = tcp.set_nodelay(true);
        self.recorder
            .update(id, |r| r.tcp_connect = Some(tcp_connect));

        let mut config = self.config.clone();
        config.client_auth_cert_resolver = Arc::new(CapturingResolver {
            inner: self.config.client_auth_cert_resolver.clone(),
            recorder: self.recorder.clone(),
            id,
        });
        let name = rustls_pki_types::ServerName::try_from(host.to_owned())
            .map_err(|e| failed(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)))?;
        let t1 = std::time::Instant::now();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let socket = Counted {
            inner: tcp,
            counters,
        };
        let tls = within(limit, connector.connect(name, socket))
            .await
            .map_err(failed)?;
        let handshake = t1.elapsed();
        let (_, session) = tls.get_ref();
        let protocol = session.protocol_version().map(|v| format!("{v:?}"));
        let suite = session
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()));
        let kind = session.handshake_kind().map(|k| format!("{k:?}"));
        self.recorder.update(id, |r| {
            r.handshake = Some(handshake);
            r.protocol = protocol;
            r.cipher_suite = suite;
            r.handshake_kind = kind;
        });

        let (sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
                .await
                .map_err(|source| InstrumentedError::Http {
                    url: url.to_string(),
                    source,
                })?;
        let recorder = self.recorder.clone();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                recorder.fail(id, &e);
            }
        });
        Ok((id, sender))
    }
}

/// `io` within `limit`, or a `TimedOut` error.
async fn within<T>(
    limit: Duration,
    io: impl std::future::Future<Output = std::io::Result<T>>,
) -> std::io::Result<T> {
    tokio::time::timeout(limit, io).await.unwrap_or_else(|_| {
        Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no connection within {limit:?}"),
        ))
    })
}

/// An answer's body that records what was read, and when it was read to its end.
struct RecordedBody {
    inner: hyper::body::Incoming,
    recorder: Recorder,
    id: u64,
    index: usize,
    started: Duration,
    done: bool,
    seen: Vec<u8>,
}

impl RecordedBody {
    fn finish(&mut self) {
        if !self.done {
            self.done = true;
            let until = self.recorder.elapsed() - self.started;
            let index = self.index;
            let body = (!self.seen.is_empty()).then(|| body_text(&self.seen));
            self.recorder.update(self.id, |r| {
                if let Some(req) = r.requests.get_mut(index) {
                    req.until_body = Some(until);
                    req.response_body = body;
                }
            });
        }
    }
}

impl Drop for RecordedBody {
    fn drop(&mut self) {
        // An empty body may never be polled: it ended with the head.
        if hyper::body::Body::is_end_stream(&self.inner) {
            self.finish();
        }
    }
}

impl hyper::body::Body for RecordedBody {
    type Data = hyper::body::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let poll = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        match &poll {
            std::task::Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let room = BODY_LIMIT.saturating_sub(self.seen.len());
                    let take = data.len().min(room);
                    self.seen.extend_from_slice(&data[..take]);
                }
                if self.inner.is_end_stream() {
                    self.finish();
                }
            }
            std::task::Poll::Ready(None) => self.finish(),
            std::task::Poll::Ready(Some(Err(e))) => {
                let (recorder, id) = (self.recorder.clone(), self.id);
                recorder.fail(id, e);
            }
            _ => {}
        }
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}
