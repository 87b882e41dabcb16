//! The one way of starting our own servers in-process: the embedded provider and a resource
//! server, each from a spec that holds what it serves with (TLS material loaded, ports,
//! proxy trust). `./start.sh` (through [`crate::up`]) builds the specs from the files in
//! `certs/`; the client's tests build them from an in-memory dev PKI. Both then call
//! [`start_provider`] and [`start_resource_server`], which return once the server is ready.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use playbook::forwarded::ProxyArgs;
use playbook::pki::DevPki;
use playbook::server::{BackgroundError, ClientAuth};
use playbook::x509::Purpose;
use playbook::{Identity, TlsError};
use rustls::ServerConfig;
use tokio::net::TcpListener;

/// Why a server did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("binding {addr} for {what} (is another server on this port? set {fix})")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        fix: &'static str,
        source: std::io::Error,
    },
    #[error("loading the TLS files (create them with `client certs`)")]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Realm(#[from] oauth2_provider::RealmFileError),
    #[error(transparent)]
    Proxy(#[from] playbook::forwarded::ConfigError),
    #[error(transparent)]
    Config(#[from] resource_server::config::ConfigError),
    #[error(transparent)]
    Background(#[from] BackgroundError),
    #[error("the resource server on {url} is not ready: {source}")]
    NotReady {
        url: String,
        source: resource_server::NotReady,
    },
}

/// What the embedded provider serves with. Port 0 picks a free one.
#[derive(Debug)]
pub struct ProviderSpec {
    pub tls: Arc<ServerConfig>,
    pub realms: Vec<PathBuf>,
    pub options: oauth2_provider::Options,
    pub port: u16,
    pub management_port: u16,
}

impl ProviderSpec {
    /// The tests' provider: `pki`'s certificate, the playground's realm, free ports.
    pub fn dev(pki: &DevPki) -> Result<Self, StartError> {
        let mut options = oauth2_provider::Options::default();
        oauth2_provider::jwt_client_cert_from_pki(&mut options.environment, pki);
        Ok(ProviderSpec {
            tls: oauth2_provider::tls_config_from_pki(pki)?,
            realms: vec![oauth2_provider::realm_file()],
            options,
            port: 0,
            management_port: 0,
        })
    }

    /// `./start.sh`'s provider: the files in `certs` (and the `truststore` additions, as
    /// Keycloak's `--truststore-paths`), certificates forwarded by the `proxy` if one is
    /// named (from anyone else the header is dropped, as Keycloak does).
    pub fn from_dir(
        certs: &Path,
        truststore: &[PathBuf],
        realms: Vec<PathBuf>,
        proxy: &ProxyArgs,
    ) -> Result<Self, StartError> {
        let mut options = oauth2_provider::Options::default();
        // The realm file's ${PLAYBOOK_JWT_CLIENT_CERT:} from certs/, as for Keycloak.
        oauth2_provider::jwt_client_cert_from_dir(&mut options.environment, certs);
        if proxy.is_set() {
            let roots = playbook::pem::load_ca_certs(&certs.join("ca.pem"))?;
            options.forwarded = proxy.build(&roots)?.map(|f| Arc::new(f.as_keycloak()));
        }
        Ok(ProviderSpec {
            tls: oauth2_provider::tls_config_from_dir(certs, truststore)?,
            realms,
            options,
            port: 0,
            management_port: 0,
        })
    }
}

/// Starts the embedded provider on loopback; it answers as soon as this returns.
pub async fn start_provider(spec: ProviderSpec) -> Result<oauth2_provider::Running, StartError> {
    if let Some(f) = &spec.options.forwarded {
        f.log_accepting();
    }
    let provider = oauth2_provider::Provider::from_realm_paths(&spec.realms, spec.options)?;
    let listener = bind("the provider", spec.port, "PROVIDER_PORT").await?;
    let management = bind(
        "the provider's management port",
        spec.management_port,
        "MANAGEMENT_PORT",
    )
    .await?;
    let running = oauth2_provider::spawn(listener, Some(management), spec.tls, provider)?;
    tracing::info!(
        "oauth2-provider (Keycloak {} compatible) on {}, health on {}/health/ready",
        oauth2_provider::KEYCLOAK_VERSION,
        running.url,
        running.management_url.as_deref().unwrap_or("-")
    );
    Ok(running)
}

/// What a resource server serves with. Port 0 picks a free one.
#[derive(Debug)]
pub struct ResourceServerSpec {
    pub config: resource_server::Config,
    pub identity: Identity,
    pub port: u16,
}

impl ResourceServerSpec {
    /// The tests' resource server: `pki`'s certificate, trusting `pki`'s CA and `issuer`.
    pub fn dev(pki: &DevPki, issuer: &str) -> Result<Self, StartError> {
        let config = resource_server::Config::new(issuer, vec![pki.ca.cert.cert_der.clone()]);
        let identity = Identity::from_parts(
            Path::new("resource-server.pem"),
            Path::new("resource-server.key.pem"),
            vec![pki.resource_server.cert_der.clone()],
            pki.resource_server.key_der(),
            None,
        )?;
        Ok(ResourceServerSpec {
            config,
            identity,
            port: 0,
        })
    }

    /// `./start.sh`'s resource server: the files in `certs`; behind a `proxy`, the client
    /// certificate comes in its header, and the handshake only requests one (the proxy
    /// connects without a certificate of its own). `public_url` is its URL as clients call
    /// it (`--public-url`: the proxy's, behind one), which a DPoP proof's `htu` must name:
    /// behind a proxy the server itself sees only its back-end address.
    pub fn from_dir(
        certs: &Path,
        issuer: &str,
        public_url: &str,
        proxy: &ProxyArgs,
    ) -> Result<Self, StartError> {
        resource_server::config::check_issuer(issuer)?;
        let ca = playbook::pem::load_ca_certs(&certs.join("ca.pem"))?;
        let mut config = resource_server::Config::new(issuer, ca);
        config.public_url = Some(resource_server::config::check_public_url(public_url)?);
        if let Some(forwarded) = proxy.build(&config.ca)? {
            config.forwarded = Some(Arc::new(forwarded.with_bearer_challenge(&config.realm)));
            config.client_auth = ClientAuth::Request;
        }
        let identity = Identity::load(
            &certs.join("resource-server.pem"),
            &certs.join("resource-server.key.pem"),
            Some(Purpose::Server),
        )?;
        Ok(ResourceServerSpec {
            config,
            identity,
            port: 0,
        })
    }
}

/// Starts a resource server on loopback and returns once it holds the provider's keys (at
/// most `ready_within`).
pub async fn start_resource_server(
    spec: ResourceServerSpec,
    ready_within: Duration,
) -> Result<resource_server::Running, StartError> {
    if let Some(f) = &spec.config.forwarded {
        f.log_accepting();
    }
    let tls = spec.config.server_tls(&spec.identity)?;
    let listener = bind("the resource server", spec.port, "RESOURCE_SERVER_PORT").await?;
    let running = resource_server::spawn(listener, tls, spec.config)?;
    tracing::info!(url = %running.url, "resource server listening");
    match running.wait_ready(ready_within).await {
        Ok(()) => Ok(running),
        Err(source) => {
            let url = running.url.clone();
            let _ = running.stop().await;
            Err(StartError::NotReady { url, source })
        }
    }
}

async fn bind(what: &'static str, port: u16, fix: &'static str) -> Result<TcpListener, StartError> {
    let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind {
            what,
            addr,
            fix,
            source,
        })
}
