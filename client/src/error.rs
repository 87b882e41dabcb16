//! What can go wrong on the client side. The server's own error code (RFC 6749 §5.2 at the
//! token endpoint, RFC 6750 §3.1 at the resource server) is kept verbatim, so the person
//! reading the output sees exactly what the server said.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

/// An OAuth 2.0 error response from a token endpoint (RFC 6749 §5.2):
/// `{"error":"invalid_client","error_description":"…"}` with its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OAuthError {
    pub status: u16,
    /// The wire code, verbatim (`invalid_client`, `invalid_scope`, …).
    pub error: String,
    pub error_description: Option<String>,
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.error)?;
        if let Some(d) = &self.error_description {
            write!(f, ": {d}")?;
        }
        write!(f, " (HTTP {})", self.status)
    }
}

/// Why a request never got an HTTP answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportKind {
    /// Nothing listens there (yet): worth waiting for.
    Refused,
    /// The TLS handshake failed: a certificate was refused, by us or by the server.
    Tls,
    Timeout,
    Other,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Tls(#[from] playbook::TlsError),

    #[error(transparent)]
    Pki(#[from] playbook::pki::PkiError),

    #[error("{url}: {detail}")]
    Transport {
        url: Url,
        kind: TransportKind,
        detail: String,
    },

    #[error("{url}: no answer after waiting {}s ({detail}). Is it running? ./start.sh starts it; raise the wait with --wait", waited.as_secs())]
    GaveUp {
        url: Url,
        waited: Duration,
        detail: String,
    },

    #[error("token endpoint {url} answered {error}")]
    OAuth { url: Url, error: OAuthError },

    #[error("{what}: {method} {url} answered HTTP {status}: {body}")]
    Unexpected {
        what: &'static str,
        method: &'static str,
        url: Url,
        status: u16,
        body: String,
    },

    #[error("{url}: the answer is not the JSON expected for {what}: {detail}")]
    BadJson {
        url: Url,
        what: &'static str,
        detail: String,
    },

    #[error("discovery at {url}: {detail}")]
    Discovery { url: Url, detail: String },

    #[error("the access token is not a JWT this client can read: {0}")]
    Jwt(String),

    #[error("bad setting {name}={value:?}: {fix}")]
    Setting {
        name: &'static str,
        value: String,
        fix: String,
    },

    #[error("{}: {detail}", path.display())]
    File { path: PathBuf, detail: String },
}

impl ClientError {
    /// Classifies a reqwest error (the cause chain says whether it was a refused
    /// connection, a failed handshake, …) and keeps the most telling message.
    pub fn transport(url: &Url, err: reqwest::Error) -> Self {
        let (kind, detail) = classify(&err);
        ClientError::Transport {
            url: url.clone(),
            kind,
            detail,
        }
    }

    /// Whether waiting and retrying may help (the server is still starting).
    pub fn is_not_up_yet(&self) -> bool {
        matches!(
            self,
            ClientError::Transport {
                kind: TransportKind::Refused,
                ..
            }
        ) || matches!(
            self,
            ClientError::Unexpected {
                status: 502..=504,
                ..
            }
        )
    }
}

fn classify(err: &reqwest::Error) -> (TransportKind, String) {
    let mut kind = if err.is_timeout() {
        TransportKind::Timeout
    } else {
        TransportKind::Other
    };
    let mut detail = err.to_string();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return (TransportKind::Tls, format!("TLS: {tls}"));
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            // tokio-rustls wraps rustls errors (alerts from the peer included) in io::Error.
            if let Some(tls) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                return (TransportKind::Tls, format!("TLS: {tls}"));
            }
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    kind = TransportKind::Refused;
                    detail = format!("connection refused ({io})");
                }
                std::io::ErrorKind::TimedOut => kind = TransportKind::Timeout,
                _ => detail = format!("{detail} ({io})"),
            }
        }
        source = e.source();
    }
    (kind, detail)
}
