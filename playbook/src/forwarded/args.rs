//! The proxy options both servers take (`#[command(flatten)]`): who the trusted proxy is,
//! the header shape it writes and Keycloak's options for it; [`ProxyArgs::build`] turns them
//! into a [`ForwardedCerts`], or names the missing half.

use std::net::IpAddr;

use axum::http::HeaderName;
use rustls_pki_types::CertificateDer;

use super::{ChainOptions, Format, ForwardedCerts};

/// The command-line options both servers share (`#[command(flatten)]`).
#[derive(Debug, Clone)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct ProxyArgs {
    /// Address of a reverse proxy allowed to forward client certificates (repeat, or
    /// comma-separate in the variable). Needs --client-cert-header.
    #[cfg_attr(
        feature = "cli",
        arg(
            long = "trusted-proxy",
            value_name = "IP",
            env = "TRUSTED_PROXIES",
            value_delimiter = ','
        )
    )]
    pub trusted_proxies: Vec<IpAddr>,

    /// Header in which the trusted proxy forwards the verified client certificate, e.g.
    /// ssl-client-cert (nginx) or x-forwarded-client-cert (Envoy). The same header from
    /// any other address is refused (400 invalid_request).
    #[cfg_attr(
        feature = "cli",
        arg(long, value_name = "NAME", env = "CLIENT_CERT_HEADER")
    )]
    pub client_cert_header: Option<String>,

    /// How the proxy encodes the certificate in that header: the shape of Keycloak's
    /// x509cert-lookup provider of the same name (`xfcc` is Keycloak's `envoy`).
    #[cfg_attr(
        feature = "cli",
        arg(long, value_enum, env = "CLIENT_CERT_FORMAT", default_value_t = Format::Nginx)
    )]
    pub client_cert_format: Format,

    /// The chain in indexed headers NAME_0, NAME_1, … (apache, haproxy; Keycloak's
    /// ssl-cert-chain-prefix).
    #[cfg_attr(
        feature = "cli",
        arg(long, value_name = "NAME", env = "CLIENT_CERT_CHAIN_PREFIX")
    )]
    pub client_cert_chain_prefix: Option<String>,

    /// The chain in one header (haproxy: base64 of the concatenated DER; rfc9440:
    /// Client-Cert-Chain by default; Keycloak's ssl-cert-chain).
    #[cfg_attr(
        feature = "cli",
        arg(long, value_name = "NAME", env = "CLIENT_CERT_CHAIN_HEADER")
    )]
    pub client_cert_chain_header: Option<String>,

    /// How many chain certificates are read besides the leaf (Keycloak's
    /// certificate-chain-length).
    #[cfg_attr(
        feature = "cli",
        arg(
            long,
            value_name = "N",
            env = "CERTIFICATE_CHAIN_LENGTH",
            default_value_t = 1
        )
    )]
    pub certificate_chain_length: usize,

    /// nginx: the header is URL-encoded (Keycloak's cert-is-url-encoded).
    #[cfg_attr(
        feature = "cli",
        arg(long, value_name = "BOOL", env = "CERT_IS_URL_ENCODED", default_value_t = true, action = clap::ArgAction::Set)
    )]
    pub cert_is_url_encoded: bool,
}

impl Default for ProxyArgs {
    fn default() -> Self {
        let chain = ChainOptions::default();
        ProxyArgs {
            trusted_proxies: Vec::new(),
            client_cert_header: None,
            client_cert_format: Format::default(),
            client_cert_chain_prefix: None,
            client_cert_chain_header: None,
            certificate_chain_length: chain.length,
            cert_is_url_encoded: chain.url_encoded,
        }
    }
}

impl ProxyArgs {
    /// Whether any proxy option was given (then the CA is needed to [`ProxyArgs::build`]).
    pub fn is_set(&self) -> bool {
        self.client_cert_header.is_some() || !self.trusted_proxies.is_empty()
    }

    /// `None` when no proxy is configured (certificates come only from the TLS handshake).
    pub fn build(
        &self,
        roots: &[CertificateDer<'static>],
    ) -> Result<Option<ForwardedCerts>, ConfigError> {
        let header = self.client_cert_header.as_deref().or(self
            .client_cert_format
            .default_header()
            .filter(|_| !self.trusted_proxies.is_empty()));
        match (header, self.trusted_proxies.is_empty()) {
            (None, true) => Ok(None),
            (None, false) => Err(ConfigError::Incomplete(
                "--trusted-proxy needs --client-cert-header (the header the proxy sets, e.g. ssl-client-cert)",
            )),
            (Some(_), true) => Err(ConfigError::Incomplete(
                "--client-cert-header needs --trusted-proxy (the proxy's address, e.g. 127.0.0.1): a header trusted from anyone is a certificate anyone can claim",
            )),
            (Some(header), false) => {
                let chain_header = self
                    .client_cert_chain_header
                    .as_deref()
                    .or(self.client_cert_format.default_chain_header())
                    .map(|h| {
                        HeaderName::try_from(h.trim())
                            .map_err(|_| ConfigError::HeaderName(h.to_owned()))
                    })
                    .transpose()?;
                let chain = ChainOptions {
                    prefix: self.client_cert_chain_prefix.clone(),
                    header: chain_header,
                    length: self.certificate_chain_length,
                    url_encoded: self.cert_is_url_encoded,
                };
                ForwardedCerts::new(
                    header,
                    self.client_cert_format,
                    self.trusted_proxies.clone(),
                    roots,
                )
                .map(|f| Some(f.with_chain(chain)))
            }
        }
    }
}

/// A proxy configuration that cannot work, named with its fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Incomplete(&'static str),
    #[error("--client-cert-header {0:?} is not a valid HTTP header name")]
    HeaderName(String),
    #[error("client certificate verifier for forwarded certificates: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    #[error("CA certificate for forwarded certificates: {0}")]
    Roots(#[from] rustls::Error),
}
