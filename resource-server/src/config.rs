//! Configuration: the command line ([`Args`], clap derive) and what the library needs
//! ([`Config`]), kept apart so tests build a [`Config`] in memory without any file.
//!
//! ```text
//! resource-server --issuer https://localhost:9443/realms/oauth2-playbook \
//!     --ca certs/ca.pem --cert certs/resource-server.pem --key certs/resource-server.key.pem
//! ```

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use playbook::forwarded::ForwardedCerts;
use playbook::pem::{Identity, load_ca_certs};
use playbook::server::ClientAuth;
use playbook::server::revocation::CrlVerifier;
use playbook::x509::Purpose;
use playbook::{TlsError, names};
use rustls::ServerConfig;
use rustls::server::danger::ClientCertVerifier;
use rustls_pki_types::CertificateDer;

/// The protected API of the mTLS client-credentials playground: checks the client
/// certificate, the bearer token (signature via the provider's JWKS, issuer, lifetime,
/// type), the RFC 8705 certificate binding, and the realm role each route needs.
#[derive(Debug, Clone, Parser)]
#[command(name = "resource-server", version)]
pub struct Args {
    /// The token issuer. Its `/.well-known/openid-configuration` names the JWKS.
    #[arg(long, env = "ISSUER", default_value = names::ISSUER)]
    pub issuer: String,

    /// CA certificate(s) (PEM): verify client certificates AND the provider's server
    /// certificate when fetching its keys.
    #[arg(long, default_value = "certs/ca.pem")]
    pub ca: PathBuf,

    /// This server's certificate chain (PEM). Read once at start, like --key and --ca: to
    /// serve a replaced file, restart the server.
    #[arg(long, default_value = "certs/resource-server.pem")]
    pub cert: PathBuf,

    /// This server's private key (PEM).
    #[arg(long, default_value = "certs/resource-server.key.pem")]
    pub key: PathBuf,

    /// Port to listen on.
    #[arg(long, env = "RESOURCE_SERVER_PORT", default_value_t = names::RESOURCE_SERVER_PORT)]
    pub port: u16,

    /// Address to bind. Loopback by default: this is a development server.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub bind: IpAddr,

    /// `required`: no handshake without a client certificate. `request`: a connection
    /// without one reaches the API and every protected route answers 401 saying why.
    #[arg(long, value_enum, default_value_t = ClientAuth::Required)]
    pub client_auth: ClientAuth,

    /// Refuse tokens that are not sender-constrained: bound neither to a certificate
    /// (`cnf.x5t#S256`, RFC 8705) nor to a DPoP key (`cnf.jkt`, RFC 9449).
    #[arg(long)]
    pub require_binding: bool,

    /// This API's URL as its clients call it (scheme, host, port, and any path prefix a
    /// proxy adds): what a DPoP proof's `htu` must name (RFC 9449 §4.3). Behind a proxy, set
    /// it to the proxy's URL: this server would otherwise see only its back-end address.
    /// Default: `https://localhost:<--port>`.
    #[arg(long, env = "RESOURCE_SERVER_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
    #[arg(long, default_value_t = 30)]
    pub leeway: u64,

    /// Require this value in the token's `aud` claim. Unset: `aud` is not checked.
    #[arg(long)]
    pub audience: Option<String>,

    /// Require the token's `azp` (the client it was issued to) to be this client id.
    #[arg(long)]
    pub authorized_party: Option<String>,

    /// Certificate revocation lists (PEM), one per issuing CA (`client certs revoke NAME`,
    /// `client certs crl --signed-by CA` write them): a client certificate on one is refused
    /// in the handshake (alert certificate_revoked), a forwarded one with 401. Reread when a
    /// file changes, without a restart. rustls checks every certificate of the chain below
    /// the root, and refuses one whose CA has no CRL here.
    #[arg(long, num_args = 1.., value_name = "FILE")]
    pub crl: Vec<PathBuf>,

    #[command(flatten)]
    pub limits: playbook::server::Limits,
    /// Behind a TLS-terminating proxy: who may forward client certificates, and how.
    #[command(flatten)]
    pub proxy: playbook::forwarded::ProxyArgs,
}

impl Args {
    pub fn listen_addr(&self) -> SocketAddr {
        SocketAddr::new(self.bind, self.port)
    }

    /// Checks the issuer, loads the CA file and builds the library configuration.
    pub fn config(&self) -> Result<Config, ConfigError> {
        check_issuer(&self.issuer)?;
        let ca = load_ca_certs(&self.ca)?;
        let mut config = Config::new(&self.issuer, ca);
        config.require_binding = self.require_binding;
        config.public_url = Some(match &self.public_url {
            Some(url) => check_public_url(url)?,
            None => format!("https://localhost:{}", self.port),
        });
        config.leeway = Duration::from_secs(self.leeway);
        config.audience = self.audience.clone();
        config.authorized_party = self.authorized_party.clone();
        config.client_auth = self.client_auth;
        config.limits = self.limits;
        if !self.crl.is_empty() {
            config.crls = Some(Arc::new(CrlVerifier::new(
                &config.ca,
                config.client_auth,
                self.crl.clone(),
            )?));
        }
        config.forwarded = self.proxy.build(&config.ca)?.map(|f| {
            let f = f.with_bearer_challenge(&config.realm);
            Arc::new(match &config.crls {
                Some(crls) => f.with_verifier(Arc::clone(crls) as Arc<dyn ClientCertVerifier>),
                None => f,
            })
        });
        Ok(config)
    }

    /// Loads this server's certificate and key and builds the TLS configuration that
    /// verifies client certificates against `config.ca`.
    pub fn tls(&self, config: &Config) -> Result<Arc<ServerConfig>, TlsError> {
        let identity = Identity::load(&self.cert, &self.key, Some(Purpose::Server))?;
        config.server_tls(&identity)
    }
}

/// A configuration value that cannot work, named with its fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "--issuer {value:?}: {reason}; expected the realm's issuer, e.g. {example}",
        example = names::ISSUER
    )]
    Issuer { value: String, reason: String },
    #[error(
        "--public-url {value:?}: {reason}; expected this API's https URL as clients call it, \
         e.g. https://localhost:{port}",
        port = names::RESOURCE_SERVER_PORT
    )]
    PublicUrl { value: String, reason: String },
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Proxy(#[from] playbook::forwarded::ConfigError),
    #[error(transparent)]
    Crl(#[from] playbook::server::revocation::CrlError),
}

/// The issuer must be an absolute https URL without query or fragment (RFC 8414 §2).
pub fn check_issuer(issuer: &str) -> Result<(), ConfigError> {
    let bad = |reason: &str| ConfigError::Issuer {
        value: issuer.to_owned(),
        reason: reason.to_owned(),
    };
    let url = url::Url::parse(issuer).map_err(|e| bad(&format!("not a URL ({e})")))?;
    if url.scheme() != "https" {
        return Err(bad("the issuer must be an https URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("an issuer has no query or fragment"));
    }
    Ok(())
}

/// The public URL must be an absolute https URL without query or fragment; returned without
/// a trailing `/`, so that a request's path can follow it.
pub fn check_public_url(url: &str) -> Result<String, ConfigError> {
    let bad = |reason: &str| ConfigError::PublicUrl {
        value: url.to_owned(),
        reason: reason.to_owned(),
    };
    let parsed = url::Url::parse(url).map_err(|e| bad(&format!("not a URL ({e})")))?;
    if parsed.scheme() != "https" {
        return Err(bad("the API is served over https"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("a base URL has no query or fragment"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// What the resource server needs to run, independent of files and flags.
#[derive(Debug, Clone)]
pub struct Config {
    /// Exact expected `iss`; discovery is fetched from `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    /// Roots for client certificates and for the provider's TLS certificate.
    pub ca: Vec<CertificateDer<'static>>,
    pub client_auth: ClientAuth,
    pub require_binding: bool,
    pub leeway: Duration,
    pub audience: Option<String>,
    pub authorized_party: Option<String>,
    /// The `realm` named in `WWW-Authenticate` challenges.
    pub realm: String,
    /// After an unknown-`kid` refetch that did not find the `kid`, no other for this long,
    /// so a flood of tokens with made-up `kid`s cannot turn this server into a load
    /// generator. Refetches that find their `kid` (real rotations) and failed ones do not
    /// count. Meanwhile a token with an unknown `kid` issued after the last fetch gets 503
    /// with `Retry-After` (its key may be new), one issued before it 401.
    pub min_refetch_interval: Duration,
    /// First and longest pause between attempts to load the keys while the provider is down.
    pub retry_min_delay: Duration,
    pub retry_max_delay: Duration,
    /// After a failed unknown-`kid` refetch (provider unreachable), the first pause before
    /// the next attempt; it doubles with each failure in a row, up to
    /// [`Config::failed_refetch_max_delay`]. Meanwhile such tokens get 503, and a failure
    /// does not hold the [`Config::min_refetch_interval`] slot, so recovery is quick.
    pub failed_refetch_min_delay: Duration,
    pub failed_refetch_max_delay: Duration,
    /// How many validated tokens to remember (keyed by their SHA-256) until they expire.
    pub token_cache_size: usize,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Bounds on slow and greedy clients (`--request-timeout`, `--max-connections-per-peer`).
    pub limits: playbook::server::Limits,
    /// Client certificates forwarded by trusted proxies (`None`: only from the handshake).
    pub forwarded: Option<Arc<ForwardedCerts>>,
    /// Revocation lists checked in the handshake and for forwarded certificates (`--crl`).
    pub crls: Option<Arc<CrlVerifier>>,
    /// This API's URL as clients call it, without a trailing `/`: a DPoP proof's `htu` must
    /// be it followed by the request's path. `None`: `https://` and the request's `Host`
    /// ([`crate::spawn`] and the binary always set it).
    pub public_url: Option<String>,
    /// How long a DPoP proof stays acceptable around its `iat` (Keycloak's `DPoPUtil`
    /// defaults: 10 s lifetime, 15 s clock skew).
    pub dpop_window: playbook::rfc9449::Window,
    /// How many DPoP proofs (`jti`, `htu`) to remember against replay, each for the window's
    /// retention; when full of live ones, new proofs get 503 until some expire.
    pub dpop_replay_capacity: usize,
}

impl Config {
    /// Defaults for everything but the issuer and the CA.
    pub fn new(issuer: &str, ca: Vec<CertificateDer<'static>>) -> Self {
        Config {
            issuer: issuer.to_owned(),
            ca,
            client_auth: ClientAuth::Required,
            require_binding: false,
            leeway: Duration::from_secs(30),
            audience: None,
            authorized_party: None,
            realm: names::REALM.to_owned(),
            min_refetch_interval: Duration::from_secs(10),
            retry_min_delay: Duration::from_millis(500),
            retry_max_delay: Duration::from_secs(30),
            failed_refetch_min_delay: Duration::from_secs(1),
            failed_refetch_max_delay: Duration::from_secs(5),
            token_cache_size: 10_000,
            max_body_bytes: 64 * 1024,
            limits: playbook::server::Limits::default(),
            forwarded: None,
            crls: None,
            public_url: None,
            dpop_window: playbook::rfc9449::Window::KEYCLOAK,
            dpop_replay_capacity: 100_000,
        }
    }

    /// The TLS configuration for `identity`, verifying client certificates against
    /// [`Config::ca`] as [`Config::client_auth`] says.
    pub fn server_tls(&self, identity: &Identity) -> Result<Arc<ServerConfig>, TlsError> {
        playbook::server::server_config_verified_by(
            identity,
            &self.ca,
            self.client_auth,
            self.crls.clone().map(|c| c as Arc<dyn ClientCertVerifier>),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_url_must_be_plain_https() {
        assert_eq!(
            check_public_url("https://api.example:8443/").unwrap(),
            "https://api.example:8443"
        );
        for bad in ["http://h", "https://h/?a", "h:1"] {
            let err = check_public_url(bad).unwrap_err().to_string();
            assert!(err.contains("--public-url"), "{err}");
        }
    }

    #[test]
    fn issuer_must_be_plain_https() {
        assert!(check_issuer(names::ISSUER).is_ok());
        for bad in [
            "localhost:9443/realms/x",
            "http://localhost:9443/realms/x",
            "https://h/realms/x?a=b",
            "https://h/realms/x#f",
            "",
        ] {
            let err = check_issuer(bad).unwrap_err().to_string();
            assert!(err.contains("--issuer"), "{err}");
        }
    }
}
