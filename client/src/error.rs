//! What can go wrong on the client side. The server's own error code (RFC 6749 §5.2 at the
//! token endpoint, RFC 6750 §3.1 at the resource server) is kept as the enums of
//! [`playbook::oauth`], which print it verbatim (an unknown code too), so the person reading
//! the output sees exactly what the server said and the code decides on codes, never on
//! English.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use playbook::oauth::ErrorCode;
use url::Url;

/// An OAuth 2.0 error response from a token endpoint (RFC 6749 §5.2):
/// `{"error":"invalid_client","error_description":"…"}` with its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OAuthError {
    pub status: u16,
    /// The wire code (`invalid_client`, `invalid_scope`, …; an unknown one kept verbatim).
    pub error: ErrorCode,
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

/// Where the reason for a refused client is: the provider's log, never its answer.
pub const PROVIDER_LOG_HINT: &str = "target/start-logs/oauth2-provider.log (embedded provider under ./start.sh), `docker logs oauth2-playbook-keycloak` (Keycloak container) or ~/.cache/oauth2-playbook/keycloak/instances/playground/keycloak.log (native Keycloak)";

impl OAuthError {
    /// What the person reading the error should know that the server does not say.
    pub fn hint(&self) -> Option<String> {
        // Keycloak's answer for a client-jwt client without a certificate: the shipped
        // realm's, imported while PLAYBOOK_JWT_CLIENT_CERT was unset.
        if self.error == ErrorCode::InvalidClient
            && self.error_description.as_deref() == Some("Unable to load public key")
        {
            return Some(format!(
                "The provider holds no key for this client, or none with the assertion's kid. For the shipped realm's {}: run `client certs` (it makes {} and {}), then restart the provider, whose start hands the certificate to the realm file as {} (./start.sh and oauth2-provider/keycloak.sh do; with compose, export it)",
                playbook::names::JWT_CLIENT_ID,
                playbook::names::JWT_CERT_FILE,
                playbook::names::JWT_KEY_FILE,
                playbook::names::JWT_CLIENT_CERT_ENV
            ));
        }
        (self.error == ErrorCode::InvalidClient).then(|| {
            format!(
                "The provider does not tell the client why (on purpose: RFC 6749 §5.2 gives one code for every authentication failure, so an attacker learns nothing). The reason is in its log: {PROVIDER_LOG_HINT}"
            )
        })
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
    /// The connection, once open, was reset or closed by the server before it answered (in
    /// TLS 1.3 a server that refuses the client's certificate may close the connection
    /// before its alert is read).
    Reset,
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
        /// The TLS alert the server sent when that is what ended the handshake: servers
        /// name the same refusal differently (rustls `UnknownCA`, Java's
        /// `CertificateUnknown`), and the walkthrough explains which one it got.
        alert: Option<rustls::AlertDescription>,
    },

    #[error("{url}: no answer after waiting {}s ({detail}). Is it running? ./start.sh starts it; raise the wait with --wait", waited.as_secs())]
    GaveUp {
        url: Url,
        waited: Duration,
        detail: String,
    },

    #[error("token endpoint {url} answered {error}{}", error.hint().map(|h| format!("\n  {h}")).unwrap_or_default())]
    OAuth { url: Url, error: OAuthError },

    #[error("{what}: {method} {url} answered HTTP {status}: {body}")]
    Unexpected {
        what: &'static str,
        method: reqwest::Method,
        url: Url,
        status: u16,
        body: String,
    },

    /// A step failed, and putting the role mapping back as it was found failed too.
    #[error(
        "{first}\n  and the role mapping could not be put back as it was found ({restore}): run `client admin {fix}`"
    )]
    NotRestored {
        first: Box<ClientError>,
        restore: Box<ClientError>,
        /// `assign-role` or `remove-role`.
        fix: &'static str,
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
        Self::transport_ref(url, &err)
    }

    /// [`ClientError::transport`] for an error held elsewhere (the shared discovery client
    /// keeps it in an `Arc`).
    pub fn transport_ref(url: &Url, err: &reqwest::Error) -> Self {
        Self::transport_of(url, err, err.is_timeout())
    }

    /// [`ClientError::transport`] for an instrumented request
    /// (`playbook::https::InstrumentedClient`): the same classification of its cause chain.
    pub fn transport_instrumented(url: &Url, err: &playbook::https::InstrumentedError) -> Self {
        Self::transport_of(url, err, err.is_timeout())
    }

    fn transport_of(url: &Url, err: &(dyn std::error::Error + 'static), timeout: bool) -> Self {
        let start = if timeout {
            TransportKind::Timeout
        } else {
            TransportKind::Other
        };
        let Cause {
            kind,
            detail,
            alert,
        } = classify(err, start);
        ClientError::Transport {
            url: url.clone(),
            kind,
            detail,
            alert,
        }
    }

    /// The TLS alert the server refused the handshake with, if that is what this is.
    pub fn tls_alert(&self) -> Option<rustls::AlertDescription> {
        match self {
            ClientError::Transport { alert, .. } => *alert,
            _ => None,
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

/// What a failed request's cause chain says.
struct Cause {
    kind: TransportKind,
    /// The most telling message.
    detail: String,
    alert: Option<rustls::AlertDescription>,
}

impl Cause {
    fn tls(err: &rustls::Error) -> Self {
        Cause {
            kind: TransportKind::Tls,
            detail: describe_tls(err),
            alert: match err {
                rustls::Error::AlertReceived(alert) => Some(*alert),
                _ => None,
            },
        }
    }
}

/// Walks the cause chain of `err` (reqwest → hyper → io::Error → rustls::Error) for what
/// ended the request; `kind` is what to say when nothing more specific is found.
fn classify(err: &(dyn std::error::Error + 'static), mut kind: TransportKind) -> Cause {
    let mut detail = err.to_string();
    let mut source = Some(err);
    while let Some(e) = source {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Cause::tls(tls);
        }
        // hyper's "connection was not ready" (a connection that closed before the request
        // could go out) and "connection closed before message completed".
        if let Some(h) = e.downcast_ref::<hyper::Error>()
            && (h.is_canceled() || h.is_incomplete_message())
        {
            kind = TransportKind::Reset;
            detail = format!("{detail} (the server closed the connection: {h})");
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            // tokio-rustls wraps rustls errors (alerts from the peer included) in io::Error.
            if let Some(tls) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                return Cause::tls(tls);
            }
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    kind = TransportKind::Refused;
                    detail = format!("connection refused ({io})");
                }
                std::io::ErrorKind::TimedOut => kind = TransportKind::Timeout,
                std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::BrokenPipe => {
                    kind = TransportKind::Reset;
                    detail = format!("{detail} ({io})");
                }
                _ => detail = format!("{detail} ({io})"),
            }
        }
        source = e.source();
    }
    Cause {
        kind,
        detail,
        alert: None,
    }
}

/// `TLS: received fatal alert: UnknownCA (what it means)`: the alert names are terse, and
/// which side refused what is the lesson.
fn describe_tls(err: &rustls::Error) -> String {
    match explain_tls(err) {
        Some(meaning) => format!("TLS: {err}: {meaning}"),
        None => format!("TLS: {err}"),
    }
}

/// One line on what a TLS failure means, for the ones a learner meets here.
pub fn explain_tls(err: &rustls::Error) -> Option<&'static str> {
    use rustls::{AlertDescription as A, CertificateError as C, Error as E};
    Some(match err {
        E::AlertReceived(A::UnknownCA) => {
            "the server does not trust the issuer of the client certificate we presented: it accepts only certificates that chain to its CA (certs/ca.pem)"
        }
        E::AlertReceived(A::BadCertificate) => {
            "the server refused the client certificate we presented (not one it can verify or use for client authentication)"
        }
        E::AlertReceived(A::CertificateExpired) => {
            "the server says our client certificate has expired: regenerate with `client certs --force`, then restart the servers"
        }
        E::AlertReceived(A::CertificateRevoked) => {
            "the server says our client certificate is revoked: its serial number is on the CRL of its CA (client certs revoke); a new certificate is needed (client certs issue, or client certs --force), the revoked one stays refused"
        }
        E::AlertReceived(A::CertificateRequired) => {
            "the server requires a client certificate and we presented none (--cert/--key)"
        }
        E::AlertReceived(A::CertificateUnknown) => {
            "the server refused our client certificate without naming the reason; Java's TLS stack (Keycloak) sends this for one that does not chain to its truststore, where rustls sends UnknownCA, and, with the JVM's revocation checking on (-Dcom.sun.net.ssl.checkRevocation=true), for one that is revoked or whose CRL it cannot fetch (lab 10)"
        }
        E::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => {
            "the server's certificate was not issued by the CA we trust (--ca, certs/ca.pem); certificates regenerated? restart the servers so they load the new ones"
        }
        E::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
            "the server's certificate has expired: regenerate with `client certs --force`, then restart the servers"
        }
        E::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
            "the server's certificate does not name this host (the dev certificates cover localhost, 127.0.0.1, ::1 and keycloak)"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_alerts_are_explained() {
        let unknown_ca = rustls::Error::AlertReceived(rustls::AlertDescription::UnknownCA);
        let text = describe_tls(&unknown_ca);
        assert!(text.contains("UnknownCA"), "{text}");
        assert!(text.contains("does not trust the issuer"), "{text}");
        let expired = rustls::Error::AlertReceived(rustls::AlertDescription::CertificateExpired);
        assert!(describe_tls(&expired).contains("client certs --force"));
        let revoked = rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRevoked);
        assert!(describe_tls(&revoked).contains("is revoked"));
        assert!(describe_tls(&revoked).contains("CRL"));
    }

    /// The alert survives the way tokio-rustls reports it (a rustls::Error inside an
    /// io::Error inside the HTTP stack's error), so the walkthrough can tell Java's
    /// certificate_unknown from rustls's unknown_ca without reading English.
    #[test]
    fn the_peers_alert_is_kept_from_the_cause_chain() {
        #[derive(Debug, thiserror::Error)]
        #[error("client error (Connect)")]
        struct Outer(#[source] std::io::Error);

        for alert in [
            rustls::AlertDescription::CertificateUnknown,
            rustls::AlertDescription::UnknownCA,
        ] {
            let io = std::io::Error::other(rustls::Error::AlertReceived(alert));
            let cause = classify(&Outer(io), TransportKind::Other);
            assert_eq!(cause.kind, TransportKind::Tls);
            assert_eq!(cause.alert, Some(alert));
        }
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let cause = classify(&Outer(refused), TransportKind::Other);
        assert_eq!(cause.kind, TransportKind::Refused);
        assert_eq!(cause.alert, None);
        let not_an_alert = std::io::Error::other(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        ));
        assert_eq!(
            classify(&Outer(not_an_alert), TransportKind::Other).alert,
            None
        );
    }

    #[test]
    fn certificate_unknown_is_explained_as_javas_unknown_ca() {
        let text = describe_tls(&rustls::Error::AlertReceived(
            rustls::AlertDescription::CertificateUnknown,
        ));
        assert!(
            text.contains("CertificateUnknown")
                && text.contains("Java")
                && text.contains("UnknownCA"),
            "{text}"
        );
    }

    /// Keycloak's answer for a `client-jwt` client without a certificate names the fix.
    #[test]
    fn unable_to_load_public_key_names_client_certs_and_the_variable() {
        let e = OAuthError {
            status: 400,
            error: ErrorCode::InvalidClient,
            error_description: Some("Unable to load public key".into()),
        };
        let hint = e.hint().unwrap();
        assert!(
            hint.contains("client certs") && hint.contains("PLAYBOOK_JWT_CLIENT_CERT"),
            "{hint}"
        );
    }

    #[test]
    fn invalid_client_says_where_the_reason_is() {
        let e = ClientError::OAuth {
            url: Url::parse("https://localhost:9443/t").unwrap(),
            error: OAuthError {
                status: 401,
                error: ErrorCode::InvalidClient,
                error_description: Some("Invalid client or Invalid client credentials".into()),
            },
        };
        let text = e.to_string();
        assert!(text.contains("does not tell the client why"), "{text}");
        assert!(text.contains("oauth2-provider.log"), "{text}");
    }
}
