//! Client certificates forwarded by a TLS-terminating reverse proxy.
//!
//! In production the client's TLS connection usually ends at a proxy (nginx, Envoy, a
//! load balancer). The proxy verifies the client certificate and passes it on in a
//! request header; the back end then treats that certificate exactly as one presented in
//! its own handshake: the provider's `tls_client_auth` (RFC 8705 §2) matches its subject
//! DN, the resource server compares its thumbprint with the token's `cnf.x5t#S256`
//! (RFC 8705 §3).
//!
//! A header is only as trustworthy as whoever set it, so [`ForwardedCerts`]:
//!
//! - accepts the header only on connections from the configured proxy addresses; the
//!   same header from anywhere else is refused with 400 `invalid_request` and logged
//!   (a client talking to the back end directly could otherwise claim any certificate),
//!   or, for the provider, dropped and logged as Keycloak does
//!   ([`ForwardedCerts::as_keycloak`]: the client then gets 401 `invalid_client`);
//! - on a connection from a trusted proxy, uses the forwarded certificate *instead of*
//!   the connection's own (a request without the header is anonymous: the proxy saw no
//!   client certificate);
//! - verifies the forwarded chain against the same CA set as the TLS layer would, so a
//!   misconfigured proxy that forwards whatever it is given gains nothing.
//! - takes the client's address from the trusted proxy's `X-Forwarded-For` (the last
//!   entry), so logs and the provider's `clientAddress` name the client, not the proxy;
//!   [`Connection::forwarded_by`] keeps the proxy's.
//!
//! ```text
//! resource-server --client-auth request --trusted-proxy 127.0.0.1 --client-cert-header ssl-client-cert
//! ```
//!
//! Six header shapes ([`Format`], one per Keycloak x509cert-lookup: nginx, HAProxy, Apache,
//! Traefik, Envoy's XFCC, RFC 9440), read in [`shapes`]; the chain headers and Keycloak's
//! options for them in [`ChainOptions`]. The provider reads them as Keycloak does
//! ([`ForwardedCerts::as_keycloak`]), the resource server more strictly ([`Reading::Strict`]).
//!
//! The rewrite happens once, in [`layer`], before any handler or extractor runs: what
//! they read from the [`Connection`] extension is already the forwarded certificate.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::header::{CACHE_CONTROL, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, UnixTime};

use crate::server::Connection;

mod args;
pub mod shapes;

pub use args::{ConfigError, ProxyArgs};
pub use shapes::{ChainOptions, Format, Reading};

/// Why a request's forwarded certificate was refused. Every variant is answered with
/// `invalid_request` (RFC 6749 §5.2 and RFC 6750 §3.1 agree on that code) and logged: 400,
/// but 401 for a revoked certificate (the request is well formed; its credential is not
/// valid any more).
#[derive(Debug, thiserror::Error)]
pub enum ForwardedError {
    #[error(
        "header {header} is only accepted from a trusted proxy, and this connection comes from {peer}: send the request through the proxy, or present the client certificate in the TLS handshake"
    )]
    Untrusted { header: HeaderName, peer: IpAddr },
    #[error("header {header} from proxy {peer}: {reason}")]
    Malformed {
        header: HeaderName,
        peer: IpAddr,
        reason: String,
    },
    #[error(
        "header {header} from proxy {peer}: the forwarded certificate does not verify against the CA: {reason}"
    )]
    NotVerified {
        header: HeaderName,
        peer: IpAddr,
        reason: String,
    },
    #[error(
        "header {header} from proxy {peer}: the forwarded client certificate is revoked (it is on the CRL of its CA, --crl)"
    )]
    Revoked { header: HeaderName, peer: IpAddr },
}

/// Which proxies may forward a certificate, in which header and format, and the roots
/// the forwarded chain must lead to.
#[derive(Debug, Clone)]
pub struct ForwardedCerts {
    header: HeaderName,
    format: Format,
    /// The chain headers and Keycloak's options for them.
    chain: ChainOptions,
    /// Keycloak's reading (the provider) or the stricter one (the resource server).
    reading: Reading,
    trusted: Vec<IpAddr>,
    verifier: Arc<dyn ClientCertVerifier>,
    /// `Some(realm)`: refusals carry `WWW-Authenticate: Bearer` (a resource server).
    bearer_realm: Option<String>,
    /// The header from an address that is not a trusted proxy: refused (400), or ignored
    /// and logged, as Keycloak does.
    ignore_untrusted: bool,
}

impl ForwardedCerts {
    pub fn new(
        header: &str,
        format: Format,
        trusted: Vec<IpAddr>,
        roots: &[CertificateDer<'static>],
    ) -> Result<Self, ConfigError> {
        let header = HeaderName::try_from(header.trim())
            .map_err(|_| ConfigError::HeaderName(header.to_owned()))?;
        let mut store = rustls::RootCertStore::empty();
        for ca in roots {
            store.add(ca.clone())?;
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(store), provider).build()?;
        Ok(ForwardedCerts {
            header,
            format,
            chain: ChainOptions::default(),
            reading: Reading::Strict,
            trusted,
            verifier,
            bearer_realm: None,
            ignore_untrusted: false,
        })
    }

    /// Forwarded chains are checked by `verifier` (e.g. a
    /// [`crate::server::revocation::CrlVerifier`], so a revoked certificate is refused)
    /// instead of the plain verifier of the roots.
    pub fn with_verifier(mut self, verifier: Arc<dyn ClientCertVerifier>) -> Self {
        self.verifier = verifier;
        self
    }

    /// Refusals also carry `WWW-Authenticate: Bearer realm=…, error="invalid_request"`
    /// (RFC 6750 §3), as a resource server answers.
    pub fn with_bearer_challenge(mut self, realm: &str) -> Self {
        self.bearer_realm = Some(realm.to_owned());
        self
    }

    /// The start-up line both servers log.
    pub fn log_accepting(&self) {
        tracing::info!(
            trusted_proxies = ?self.trusted,
            header = %self.header,
            format = self.format.as_str(),
            "client certificates forwarded by these proxies are accepted; the header from anyone else is refused"
        );
    }

    /// Answers as Keycloak 26.7.5 does: the header from an address that is not a trusted
    /// proxy is dropped and logged, and the request goes on with the connection's own
    /// certificate (if any), instead of 400 (observed: Keycloak logs `HTTP header
    /// "ssl-client-cert" is not trusted` and the client gets 401 `invalid_client`); and the
    /// header is read as Keycloak's lookup reads it ([`Reading::Keycloak`]), a header it cannot
    /// read or a certificate that does not verify leaving the request anonymous, as Keycloak's
    /// authenticator then answers 401 `invalid_client` (`tests/golden/proxy/`).
    pub fn as_keycloak(mut self) -> Self {
        self.ignore_untrusted = true;
        self.reading = Reading::Keycloak;
        self
    }

    /// The chain headers and options (Keycloak's ssl-cert-chain-prefix, ssl-cert-chain,
    /// certificate-chain-length, cert-is-url-encoded).
    pub fn with_chain(mut self, chain: ChainOptions) -> Self {
        self.chain = chain;
        self
    }

    /// Every header this shape reads: the certificate's and the chain's.
    fn names_in<'h>(&'h self, headers: &'h HeaderMap) -> impl Iterator<Item = HeaderName> + 'h {
        headers.keys().filter(move |k| self.is_ours(k)).cloned()
    }

    fn is_ours(&self, name: &HeaderName) -> bool {
        *name == self.header
            || self.chain.header.as_ref() == Some(name)
            || self.chain.prefix.as_deref().is_some_and(|p| {
                name.as_str()
                    .strip_prefix(&p.to_ascii_lowercase())
                    .and_then(|rest| rest.strip_prefix('_'))
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            })
    }

    pub fn header(&self) -> &HeaderName {
        &self.header
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn trusted(&self) -> &[IpAddr] {
        &self.trusted
    }

    /// Whether `ip` is a configured proxy. An IPv4-mapped IPv6 address counts as its IPv4.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.trusted.iter().any(|t| t.to_canonical() == ip)
    }

    /// The connection as the application should see it: unchanged when it is not from a
    /// trusted proxy and carries no forwarded certificate; with the forwarded certificate
    /// (or none) in place of the TLS one when it comes from a trusted proxy.
    pub fn resolve(
        &self,
        conn: &Connection,
        headers: &HeaderMap,
    ) -> Result<Connection, ForwardedError> {
        let peer = conn.remote_addr.ip();
        if !self.is_trusted(peer) {
            return match self.names_in(headers).next() {
                None => Ok(conn.clone()),
                Some(header) => Err(ForwardedError::Untrusted { header, peer }),
            };
        }
        // The client's own address, as the proxy saw it (Keycloak's proxy-headers=xforwarded:
        // `clientAddress` is the client, not the proxy). nginx sets one value; with a chain of
        // proxies the nearest one's entry is the last. The port is not forwarded: 0.
        let client_addr = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|ip| ip.trim().parse::<IpAddr>().ok())
            .map_or(conn.remote_addr, |ip| std::net::SocketAddr::new(ip, 0));
        // A new connection value: never the proxy connection's own certificate or thumbprint.
        let resolved = Connection::forwarded(client_addr, None, conn.remote_addr);
        let malformed = |reason: String| ForwardedError::Malformed {
            header: self.header.clone(),
            peer,
            reason,
        };
        let chain = shapes::read(
            self.format,
            &self.header,
            &self.chain,
            headers,
            self.reading,
        )
        .map_err(malformed)?;
        let Some(chain) = chain else {
            return Ok(resolved);
        };
        let (leaf, intermediates) = chain
            .split_first()
            .ok_or_else(|| malformed("no certificate in it".into()))?;
        self.verifier
            .verify_client_cert(leaf, intermediates, UnixTime::now())
            .map_err(|e| match e {
                rustls::Error::InvalidCertificate(rustls::CertificateError::Revoked) => {
                    ForwardedError::Revoked {
                        header: self.header.clone(),
                        peer,
                    }
                }
                e => ForwardedError::NotVerified {
                    header: self.header.clone(),
                    peer,
                    reason: e.to_string(),
                },
            })?;
        Ok(Connection::forwarded(
            client_addr,
            Some(chain.into()),
            conn.remote_addr,
        ))
    }

    /// The connection for a forwarded certificate Keycloak's reading cannot use: anonymous.
    fn anonymous(&self, conn: &Connection, headers: &HeaderMap) -> Connection {
        let mut stripped = headers.clone();
        for name in self.names_in(headers).collect::<Vec<_>>() {
            stripped.remove(name);
        }
        self.resolve(conn, &stripped)
            .unwrap_or_else(|_| conn.clone())
    }

    /// Removes the shape's headers before the application sees the request.
    fn strip(&self, headers: &mut HeaderMap) {
        for name in self.names_in(headers).collect::<Vec<_>>() {
            headers.remove(name);
        }
    }

    fn refusal(&self, error: &ForwardedError) -> Response {
        let description = error.to_string();
        let code = crate::oauth::BearerError::InvalidRequest;
        let body = axum::Json(serde_json::json!({
            "error": code,
            "error_description": description,
        }));
        let status = match error {
            ForwardedError::Revoked { .. } => StatusCode::UNAUTHORIZED,
            _ => StatusCode::BAD_REQUEST,
        };
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(realm) = &self.bearer_realm {
            let challenge =
                crate::oauth::bearer_challenge(realm, Some((&code, &description)), None);
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                headers.insert(WWW_AUTHENTICATE, value);
            }
        }
        response
    }
}

/// A request extension from [`layer`] (Keycloak's reading only): the certificate header was
/// one Keycloak's lookup throws on rather than answering "no certificate" (its `envoy`
/// lookup on a `Cert`/`Chain` it cannot decode). The provider's x509 client authentication
/// then answers as Keycloak does, 400 `unauthorized_client`; the request itself is anonymous.
#[derive(Debug, Clone)]
pub struct LookupFailed(pub String);

/// The middleware (`axum::middleware::from_fn_with_state(forwarded, layer)`): puts the
/// forwarded certificate into the request's [`Connection`] and removes the header, or
/// refuses the request with 400 `invalid_request` and logs why.
pub async fn layer(
    axum::extract::State(forwarded): axum::extract::State<Arc<ForwardedCerts>>,
    mut req: Request,
    next: Next,
) -> Response {
    // Absent only when the router runs without `serve` (tests calling it in memory).
    let conn = req
        .extensions()
        .get::<Connection>()
        .cloned()
        .unwrap_or_else(Connection::none);
    match forwarded.resolve(&conn, req.headers()) {
        Ok(resolved) => {
            if let Some(proxy) = resolved.forwarded_by {
                match resolved.client_leaf() {
                    Some(leaf) => {
                        let subject = crate::x509::CertInfo::from_der(leaf)
                            .map(|i| i.subject)
                            .unwrap_or_default();
                        tracing::debug!(%proxy, %subject, header = %forwarded.header, "client certificate forwarded by the proxy");
                    }
                    None => {
                        tracing::debug!(%proxy, "request through the proxy without a client certificate")
                    }
                }
            }
            forwarded.strip(req.headers_mut());
            req.extensions_mut().insert(resolved);
            next.run(req).await
        }
        Err(error @ ForwardedError::Untrusted { .. }) if forwarded.ignore_untrusted => {
            tracing::warn!(method = %req.method(), path = %req.uri().path(), peer = %conn.remote_addr, "ignored the header (as Keycloak does): {error}");
            forwarded.strip(req.headers_mut());
            req.extensions_mut().insert(conn);
            next.run(req).await
        }
        Err(error) if forwarded.ignore_untrusted => {
            // Keycloak's lookup throws, or its authenticator refuses the chain: no certificate.
            tracing::warn!(method = %req.method(), path = %req.uri().path(), peer = %conn.remote_addr, "no client certificate (as Keycloak answers): {error}");
            let anonymous = forwarded.anonymous(&conn, req.headers());
            forwarded.strip(req.headers_mut());
            if forwarded.format == Format::Xfcc && matches!(error, ForwardedError::Malformed { .. })
            {
                req.extensions_mut().insert(LookupFailed(error.to_string()));
            }
            req.extensions_mut().insert(anonymous);
            next.run(req).await
        }
        Err(error) => {
            tracing::warn!(method = %req.method(), path = %req.uri().path(), peer = %conn.remote_addr, "refused: {error}");
            forwarded.refusal(&error)
        }
    }
}

/// nginx: URL-decode, then every PEM `CERTIFICATE` block, leaf first.
fn pem_chain(value: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = url_decode(value)?;
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not a URL-encoded PEM certificate ({e})"))?;
    if certs.is_empty() {
        return Err(
            "no PEM certificate in it (expected URL-encoded -----BEGIN CERTIFICATE-----…, nginx's $ssl_client_escaped_cert)"
                .into(),
        );
    }
    Ok(certs)
}

fn url_decode(value: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(value.trim())
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| "not URL-encoded UTF-8".to_owned())
}

/// Envoy's `x-forwarded-client-cert`: the last element's `Chain`, else its `Cert`.
fn xfcc_chain(value: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let elements = split_unquoted(value, ',');
    let last = elements
        .last()
        .filter(|e| !e.trim().is_empty())
        .ok_or("empty x-forwarded-client-cert")?;
    let mut hash = None;
    let mut cert = None;
    let mut chain = None;
    for pair in split_unquoted(last, ';') {
        let Some((key, raw)) = pair.split_once('=') else {
            return Err(format!("{pair:?} is not Key=value"));
        };
        let raw = raw.trim();
        let value = match raw.strip_prefix('"') {
            Some(rest) => rest
                .strip_suffix('"')
                .ok_or_else(|| format!("unterminated quote in {key}"))?
                .replace("\\\"", "\""),
            None => raw.to_owned(),
        };
        match key.trim().to_ascii_lowercase().as_str() {
            "hash" => hash = Some(value),
            "cert" => cert = Some(value),
            "chain" => chain = Some(value),
            _ => {}
        }
    }
    let certs = match (chain, cert) {
        (Some(c), _) | (None, Some(c)) => pem_chain(&c)?,
        (None, None) => {
            return Err("no Cert or Chain in the nearest proxy's element (configure Envoy's forward_client_cert_details with set_current_client_cert_details cert: true)".into());
        }
    };
    if let Some(hash) = hash {
        let actual = sha256_hex(&certs[0]);
        if !actual.eq_ignore_ascii_case(hash.trim()) {
            return Err(format!(
                "Hash={hash} is not the SHA-256 of the forwarded certificate ({actual})"
            ));
        }
    }
    Ok(certs)
}

/// Hex SHA-256 of a DER certificate: XFCC's `Hash`.
fn sha256_hex(der: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Splits on `sep` outside double quotes (a `\"` inside quotes does not end them).
fn split_unquoted(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// URL-encodes a PEM certificate as nginx's `$ssl_client_escaped_cert` does (tests and
/// the walkthrough's narration use it to show what the proxy sends).
pub fn nginx_escape(pem: &str) -> String {
    const COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(pem, COMPONENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::DevPki;

    fn setup() -> (DevPki, ForwardedCerts) {
        crate::install_crypto_provider();
        let pki = DevPki::generate(2, 1).expect("dev PKI");
        let fw = ForwardedCerts::new(
            "ssl-client-cert",
            Format::Nginx,
            vec!["127.0.0.1".parse().unwrap()],
            std::slice::from_ref(&pki.ca.cert.cert_der),
        )
        .expect("config");
        (pki, fw)
    }

    fn conn(ip: [u8; 4]) -> Connection {
        Connection::new((ip, 40000).into(), None)
    }

    fn headers(name: &str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.append(
            HeaderName::try_from(name).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
        h
    }

    /// The trusted proxy's URL-encoded PEM becomes the connection's certificate.
    #[test]
    fn nginx_header_from_the_trusted_proxy_is_the_client_certificate() {
        let (pki, fw) = setup();
        let value = nginx_escape(&pki.client.cert_pem);
        assert!(
            value.starts_with("-----BEGIN%20CERTIFICATE-----%0A"),
            "{value}"
        );
        let c = fw
            .resolve(&conn([127, 0, 0, 1]), &headers("ssl-client-cert", &value))
            .expect("accepted");
        assert_eq!(c.client_leaf(), Some(&pki.client.cert_der));
        assert_eq!(c.forwarded_by, Some(([127, 0, 0, 1], 40000).into()));
        // X-Forwarded-For from the proxy names the client; the proxy stays in forwarded_by.
        let mut h = headers("ssl-client-cert", &value);
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("10.0.0.1, 192.0.2.7"),
        );
        let c = fw.resolve(&conn([127, 0, 0, 1]), &h).expect("accepted");
        assert_eq!(c.remote_addr, ([192, 0, 2, 7], 0).into());
        assert_eq!(c.forwarded_by, Some(([127, 0, 0, 1], 40000).into()));
    }

    /// The same header from an address that is not a proxy: refused, naming the peer.
    #[test]
    fn header_from_an_untrusted_address_is_refused() {
        let (pki, fw) = setup();
        let value = nginx_escape(&pki.client.cert_pem);
        let err = fw
            .resolve(&conn([127, 0, 0, 2]), &headers("SSL-Client-Cert", &value))
            .unwrap_err();
        assert!(matches!(err, ForwardedError::Untrusted { .. }), "{err}");
        assert!(err.to_string().contains("127.0.0.2"), "{err}");
        // Without the header the direct client is left as it is.
        let direct = fw
            .resolve(&conn([127, 0, 0, 2]), &HeaderMap::new())
            .unwrap();
        assert!(direct.forwarded_by.is_none());
    }

    /// From the proxy without the header: anonymous, even if the proxy's own TLS
    /// connection carried a certificate.
    #[test]
    fn proxy_request_without_header_is_anonymous() {
        let (pki, fw) = setup();
        let c = Connection::new(
            ([127, 0, 0, 1], 40000).into(),
            Some(vec![pki.client.cert_der.clone()].into()),
        );
        let resolved = fw.resolve(&c, &HeaderMap::new()).unwrap();
        assert!(resolved.client_leaf().is_none());
        assert!(resolved.forwarded_by.is_some());
    }

    /// A certificate from another CA, garbage, or two headers: refused.
    #[test]
    fn bad_forwarded_values_are_refused() {
        let (pki, fw) = setup();
        let rogue = nginx_escape(&pki.rogue_client.cert_pem);
        let err = fw
            .resolve(&conn([127, 0, 0, 1]), &headers("ssl-client-cert", &rogue))
            .unwrap_err();
        assert!(matches!(err, ForwardedError::NotVerified { .. }), "{err}");
        let err = fw
            .resolve(&conn([127, 0, 0, 1]), &headers("ssl-client-cert", "hello"))
            .unwrap_err();
        assert!(matches!(err, ForwardedError::Malformed { .. }), "{err}");
        let value = nginx_escape(&pki.client.cert_pem);
        let mut two = headers("ssl-client-cert", &value);
        two.append("ssl-client-cert", HeaderValue::from_str(&value).unwrap());
        let err = fw.resolve(&conn([127, 0, 0, 1]), &two).unwrap_err();
        assert!(err.to_string().contains("2 times"), "{err}");
    }

    /// Envoy's XFCC: the nearest hop's Cert, its Hash checked.
    #[test]
    fn xfcc_cert_and_hash() {
        let (pki, _) = setup();
        let fw = ForwardedCerts::new(
            "x-forwarded-client-cert",
            Format::Xfcc,
            vec!["::1".parse().unwrap()],
            std::slice::from_ref(&pki.ca.cert.cert_der),
        )
        .unwrap();
        let hash: String =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &pki.client.cert_der)
                .as_ref()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
        let cert = nginx_escape(&pki.client.cert_pem);
        let other = nginx_escape(&pki.other_client.cert_pem);
        let peer = Connection::new("[::1]:4000".parse().unwrap(), None);
        let value = format!(
            "By=spiffe://a;Hash=00;Cert=\"{other}\",By=spiffe://b;Hash={hash};Cert=\"{cert}\";Subject=\"CN=x,O=y\""
        );
        let c = fw
            .resolve(&peer, &headers("x-forwarded-client-cert", &value))
            .expect("accepted");
        assert_eq!(c.client_leaf(), Some(&pki.client.cert_der));
        let wrong = format!("Hash=ab;Cert=\"{cert}\"");
        let err = fw
            .resolve(&peer, &headers("x-forwarded-client-cert", &wrong))
            .unwrap_err();
        assert!(err.to_string().contains("SHA-256"), "{err}");
    }

    /// Half a configuration is an error that names the missing flag.
    #[test]
    fn proxy_args_need_both_halves() {
        let header_only = ProxyArgs {
            client_cert_header: Some("ssl-client-cert".into()),
            ..Default::default()
        };
        let err = header_only.build(&[]).unwrap_err().to_string();
        assert!(err.contains("--trusted-proxy"), "{err}");
        let proxy_only = ProxyArgs {
            trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
            ..Default::default()
        };
        let err = proxy_only.build(&[]).unwrap_err().to_string();
        assert!(err.contains("--client-cert-header"), "{err}");
        assert!(ProxyArgs::default().build(&[]).unwrap().is_none());
    }
}
