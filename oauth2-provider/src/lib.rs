//! An embedded, Keycloak-compatible authorization server: it imports the *same* realm file
//! Keycloak imports (`import/oauth2-playbook-realm.json`) and answers the requests the
//! playground makes (discovery, JWKS, the token endpoint with RFC 8705 `tls_client_auth`,
//! introspection, the admin REST calls of the walkthrough, health) as Keycloak
//! [`KEYCLOAK_VERSION`] does. A difference from Keycloak is a bug.
//!
//! State is in memory and imported at start; nothing is written to disk.
//!
//! # Using it from a test
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use oauth2_provider::Options;
//! let pki = playbook::pki::DevPki::generate(2, 1)?;
//! let realms = [oauth2_provider::realm_file()];
//! let running = oauth2_provider::spawn_dev(&pki, &realms, Options::default()).await?;
//! // running.url == "https://localhost:<port>", running.management_url likewise (health).
//! running.stop().await?;
//! # Ok(()) }
//! ```
//!
//! [`spawn_dev`] is the dev PKI's shortcut for [`Provider::from_realm_paths`],
//! [`tls_config_from_pki`] and [`spawn`] on two loopback listeners; [`spawn`] takes listeners
//! you bound (a fixed port, say), exactly as `resource_server::spawn` does. Or, piece by
//! piece: [`app`] (the main router), [`management_app`] (health, Keycloak's port 9000),
//! [`run`] (serve both over TLS until a shutdown future completes).
//!
//! # Layout (one module per protocol step)
//!
//! - [`realm`]: the realm-export representation and its import (Keycloak's `RealmManager`).
//! - [`provider`]: [`Provider`], the state every handler shares (the store, the realms' keys,
//!   the [`Options`], the sessions), and the realm import that builds it.
//! - [`store`]: the in-memory model: realms, clients (with their configured authenticator),
//!   users, roles, client scopes.
//! - [`keys`]: the realm keys (imported or generated), `kid`, signing by algorithm, JWKS.
//! - A token request, in the order it flows, each module using only the ones before it:
//!   [`request`] (the form, Basic credentials, the TLS connection) → [`client_auth`]
//!   (RFC 8705 §2 `tls_client_auth` in `client_auth/x509.rs`, `client_secret_*`) →
//!   [`grant`] (RFC 6749 §4.4 `client_credentials`, the admin `password` grant) → [`mint`]
//!   (every grant's tokens: claims, `cnf`, signature). [`token`] is the endpoint that wires
//!   them; [`scope`] reads the `scope` parameter; [`mappers`] turn client scopes into claims.
//! - [`discovery`], [`introspect`], [`admin`], [`health`].
//! - [`error`]: the wire errors (RFC 6749 §5.2 bodies, Keycloak's admin error bodies);
//!   [`clock`]: the time every stamp is taken from.

pub mod admin;
pub mod client_auth;
pub mod clock;
pub mod discovery;
pub mod dpop;
pub mod error;
pub mod grant;
pub mod health;
pub mod introspect;
pub mod keys;
pub mod mappers;
pub mod mint;
pub mod provider;
pub mod realm;
pub mod request;
pub mod scope;
pub mod store;
pub mod token;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use rustls::ServerConfig;
use tokio::net::TcpListener;

pub use provider::{Options, Provider};
pub use realm::RealmFileError;

/// The Keycloak image this provider mirrors. Keycloak's container scripts and tests use
/// `format!("{KEYCLOAK_IMAGE}:{KEYCLOAK_VERSION}")`.
pub const KEYCLOAK_IMAGE: &str = "quay.io/keycloak/keycloak";
/// The pinned Keycloak release, for the container image and the native distribution alike
/// (26.7: `x509.casubjectdn` exists). Written once, in `scripts/keycloak.env`; read by
/// `build.rs`.
pub const KEYCLOAK_VERSION: &str = env!("PLAYBOOK_KEYCLOAK_VERSION");

/// The realm file shipped with this crate (`oauth2-provider/import/oauth2-playbook-realm.json`).
pub fn realm_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("import/oauth2-playbook-realm.json")
}

/// The shipped realm's `private_key_jwt` client takes its certificate from
/// `${PLAYBOOK_JWT_CLIENT_CERT:}` at import: as every driver does for Keycloak, sets that
/// variable to the base64 DER of `certs/client-jwt.pem` for the realm files, unless the
/// environment already has it. Without the file the client is imported without a
/// certificate (its token requests get 400 `invalid_client` "Unable to load public key"),
/// and the log says how to fix it.
pub fn jwt_client_cert_from_dir(env: &mut realm::Environment, certs: &Path) {
    let name = playbook::names::JWT_CLIENT_CERT_ENV;
    if env.get(name).is_some() {
        return;
    }
    let path = certs.join(playbook::names::JWT_CERT_FILE);
    match playbook::pem::load_certs(&path) {
        Ok(certs) if !certs.is_empty() => {
            use base64::Engine as _;
            env.set(
                name,
                base64::engine::general_purpose::STANDARD.encode(&certs[0]),
            );
        }
        Ok(_) | Err(_) => tracing::debug!(
            "{} cannot be read and {name} is not set: the realm's private_key_jwt client {} \
             has no certificate (its token requests get 400 invalid_client \"Unable to load \
             public key\"); run `client certs` to make it, then restart the provider",
            path.display(),
            playbook::names::JWT_CLIENT_ID
        ),
    }
}

/// The same from an in-memory dev PKI (the tests): its `private_key_jwt` certificate, set
/// whatever the process environment says.
pub fn jwt_client_cert_from_pki(env: &mut realm::Environment, pki: &playbook::pki::DevPki) {
    env.set(
        playbook::names::JWT_CLIENT_CERT_ENV,
        playbook::pki::DevPki::realm_certificate(&pki.jwt_client),
    );
}

/// The main router (Keycloak's port 8443, ours 9443). Paths as Keycloak's.
pub fn app(provider: Provider) -> Router {
    let forwarded = provider.inner.forwarded.clone();
    let routes = Router::new()
        .route(
            "/realms/{realm}/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        // RFC 8414 metadata: Keycloak serves the same document there (observed).
        .route(
            "/realms/{realm}/.well-known/oauth-authorization-server",
            get(discovery::openid_configuration),
        )
        .route(
            "/realms/{realm}/protocol/openid-connect/certs",
            get(discovery::jwks),
        )
        .route(
            "/realms/{realm}/protocol/openid-connect/token",
            post(token::token_endpoint).options(discovery::preflight),
        )
        .route(
            "/realms/{realm}/protocol/openid-connect/token/introspect",
            post(introspect::introspect).options(discovery::preflight),
        )
        .merge(admin::router())
        .method_not_allowed_fallback(error::method_not_allowed)
        .fallback(error::not_found)
        .with_state(provider);
    // Outside the routes: a route's method router adds `Allow` after its own layers run.
    let router = Router::new()
        .fallback_service(routes)
        .layer(axum::middleware::map_response(error::without_allow));
    // Outermost: client authentication sees the forwarded certificate as the connection's
    // own, as Keycloak's x509 lookup providers hand it to `client-x509`.
    match forwarded {
        Some(f) => router.layer(axum::middleware::from_fn_with_state(
            f,
            playbook::forwarded::layer,
        )),
        None => router,
    }
}

/// The management router (Keycloak's port 9000): health only.
pub fn management_app(provider: Provider) -> Router {
    health::router().with_state(provider)
}

/// The TLS config Keycloak runs with: our server certificate, client certificates
/// *requested* (Keycloak's `https-client-auth=request`) and verified against `roots`.
pub fn tls_config(
    identity: &playbook::Identity,
    roots: &[rustls_pki_types::CertificateDer<'static>],
) -> Result<Arc<ServerConfig>, playbook::TlsError> {
    playbook::server::server_config(identity, roots, playbook::ClientAuth::Request)
}

/// [`tls_config`] from `certs/oauth2-provider.pem`, `.key.pem` and `ca.pem` in `dir`, plus
/// every certificate in the PEM files `extra_trust` (Keycloak's `--truststore-paths`: a
/// self-signed client certificate is trusted by listing the certificate itself).
pub fn tls_config_from_dir(
    dir: &Path,
    extra_trust: &[PathBuf],
) -> Result<Arc<ServerConfig>, playbook::TlsError> {
    let identity = playbook::Identity::load(
        &dir.join("oauth2-provider.pem"),
        &dir.join("oauth2-provider.key.pem"),
        Some(playbook::x509::Purpose::Server),
    )?;
    let mut roots = playbook::pem::load_ca_certs(&dir.join("ca.pem"))?;
    for path in extra_trust {
        let certs = playbook::pem::load_certs(path)?;
        tracing::info!(
            "trusting {} certificate(s) from {} for client certificates",
            certs.len(),
            path.display()
        );
        roots.extend(certs);
    }
    tls_config(&identity, &roots)
}

/// [`tls_config`] from an in-memory dev PKI (tests).
pub fn tls_config_from_pki(
    pki: &playbook::pki::DevPki,
) -> Result<Arc<ServerConfig>, playbook::TlsError> {
    let identity = playbook::Identity::from_parts(
        Path::new("oauth2-provider.pem"),
        Path::new("oauth2-provider.key.pem"),
        vec![pki.provider.cert_der.clone(), pki.ca.cert.cert_der.clone()],
        pki.provider.key_der(),
        Some(playbook::x509::Purpose::Server),
    )?;
    tls_config(&identity, std::slice::from_ref(&pki.ca.cert.cert_der))
}

/// Serves [`app`] on `listener` and, when given, [`management_app`] on `management`
/// (HTTPS with the same certificate; Keycloak's `https-management-client-auth=none`
/// means a probe needs no client certificate, and with `request` mode it needs none
/// here either) until `shutdown` completes, both with the provider's
/// [`Options::limits`].
pub async fn run(
    listener: TcpListener,
    management: Option<TcpListener>,
    tls: Arc<ServerConfig>,
    provider: Provider,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|v| *v).await;
    };
    let limits = provider.inner.limits;
    let mgmt = management.map(|l| {
        tokio::spawn(playbook::server::serve_with(
            l,
            tls.clone(),
            management_app(provider.clone()),
            stopped(stop_rx.clone()),
            limits,
        ))
    });
    let main = playbook::server::serve_with(listener, tls, app(provider), stopped(stop_rx), limits);
    let result = main.await;
    if let Some(task) = mgmt {
        task.await.map_err(std::io::Error::other)??;
    }
    result
}

/// A provider serving on a background task: what [`spawn`] and [`spawn_dev`] return. Dropped
/// without [`Running::stop`], the task is aborted.
#[derive(Debug)]
pub struct Running {
    /// The main listener's address.
    pub addr: std::net::SocketAddr,
    /// `https://localhost:<port>`: the base URL Keycloak would have.
    pub url: String,
    /// `https://localhost:<port>` of the management listener (health), when there is one.
    pub management_url: Option<String>,
    /// The provider's state, e.g. for inspecting it.
    pub provider: Provider,
    background: playbook::server::Background,
}

impl Running {
    /// Stops the servers and waits for them (bounded: the serve loop drains for at most 5 s).
    pub async fn stop(self) -> Result<(), playbook::server::BackgroundError> {
        self.background.stop().await
    }
}

/// Serves `provider` ([`run`]) on `listener` and, when given, the management port on
/// `management`, in a background task. Bind `127.0.0.1:0` in tests.
pub fn spawn(
    listener: TcpListener,
    management: Option<TcpListener>,
    tls: Arc<ServerConfig>,
    provider: Provider,
) -> Result<Running, playbook::server::BackgroundError> {
    let addr = listener.local_addr()?;
    let management_url = match &management {
        Some(l) => Some(playbook::server::localhost_url(l.local_addr()?)),
        None => None,
    };
    let state = provider.clone();
    let background = playbook::server::Background::spawn(|stopped| {
        run(listener, management, tls, state, stopped)
    });
    Ok(Running {
        addr,
        url: playbook::server::localhost_url(addr),
        management_url,
        provider,
        background,
    })
}

/// Why [`spawn_dev`] failed.
#[derive(Debug, thiserror::Error)]
pub enum DevStartError {
    #[error(transparent)]
    Realm(#[from] RealmFileError),
    #[error(transparent)]
    Start(#[from] playbook::server::BackgroundError),
}

/// The embedded provider as the tests, the benches and the client's tests start it: the
/// realms of `realms` (usually `&[realm_file()]`) with `options`, the TLS of
/// [`tls_config_from_pki`], served ([`spawn`]) on two loopback ports the OS picks, the main
/// one and the management one.
pub async fn spawn_dev(
    pki: &playbook::pki::DevPki,
    realms: &[PathBuf],
    mut options: Options,
) -> Result<Running, DevStartError> {
    jwt_client_cert_from_pki(&mut options.environment, pki);
    let provider = Provider::from_realm_paths(realms, options)?;
    let started = async {
        let tls = tls_config_from_pki(pki)?;
        let bind = || TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0));
        let (listener, management) = (bind().await?, bind().await?);
        spawn(listener, Some(management), tls, provider)
    };
    Ok(started.await?)
}
