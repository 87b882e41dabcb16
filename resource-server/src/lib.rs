//! The protected API of the mTLS client-credentials playground: it accepts a request only
//! with a client certificate from our CA, a valid access token from the configured issuer
//! (checked against the provider's published keys), the RFC 8705 binding between the two,
//! and the realm role the route needs, and it says exactly why when it refuses.
//!
//! ```text
//! cargo run -p resource-server -- --issuer https://localhost:9443/realms/oauth2-playbook \
//!     --ca certs/ca.pem --cert certs/resource-server.pem --key certs/resource-server.key.pem
//! curl --cacert certs/ca.pem --cert certs/client.pem --key certs/client.key.pem \
//!     -H "Authorization: Bearer $TOKEN" https://localhost:8443/api/whoami
//! ```
//!
//! It works with any provider that publishes OpenID discovery and a JWKS: Keycloak, the
//! embedded `oauth2-provider`, or any RFC 9068 (`typ: at+jwt`) server.
//!
//! # Layout
//!
//! - [`config`]: command line ([`config::Args`]) and library configuration ([`Config`]).
//! - [`discovery`]: `{issuer}/.well-known/openid-configuration` → `jwks_uri`.
//! - [`jwks`]: the key cache: refetch on unknown `kid` (rate limited), retry with backoff;
//!   503, not 401, for an unknown `kid` while the provider cannot be reached or the rate
//!   limit holds the refetch back. [`jwks::key_set`]: which JWKs are usable, which key a
//!   token gets.
//! - [`auth`]: the validation pipeline as extractors, one file per step:
//!   [`auth::bearer`] (1, RFC 6750 §2.1), [`auth::authenticated`] (2, and steps 1 to 4 in
//!   order: [`auth::Authenticated`]), [`auth::validate`] (3: signature, `iss`, `exp`/`nbf`,
//!   the cache), [`auth::binding`] (4, RFC 8705), [`auth::roles`] (5: [`auth::Role`],
//!   [`auth::Scope`]); the claims they read in [`auth::claims`].
//! - [`error`]: RFC 6750 §3 refusals ([`error::ApiError`]), one `IntoResponse`
//!   ([`error::Refusal`]: the error plus the realm its challenge names).
//! - [`state`]: [`AppState`], what every handler and extractor shares (the configuration,
//!   the validator with its key cache).
//! - [`routes`]: the handlers.
//!
//! # In-process use (tests, the walkthrough)
//!
//! ```no_run
//! # async fn example(ca: Vec<rustls_pki_types::CertificateDer<'static>>, identity: playbook::Identity) -> Result<(), Box<dyn std::error::Error>> {
//! use resource_server::{Config, spawn};
//!
//! let config = Config::new("https://localhost:9443/realms/oauth2-playbook", ca);
//! let tls = config.server_tls(&identity)?;           // identity: the server's cert + key
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let server = spawn(listener, tls, config)?;        // starts loading keys, serves at once
//! println!("{}", server.url);                        // https://localhost:<port>
//! server.wait_ready(std::time::Duration::from_secs(10)).await?; // optional: keys loaded
//! server.stop().await?;
//! # Ok(()) }
//! ```
//!
//! [`spawn`] returns at once: if the provider is not up yet, protected routes answer 503
//! until the background loader gets the keys. [`app`] and [`run`] are the lower-level
//! pieces [`spawn`] is made of; the task, its stop and its abort on drop are
//! [`playbook::server::Background`]'s, as for `oauth2_provider::spawn`.

pub mod auth;
pub mod config;
pub mod discovery;
pub mod error;
pub mod jwks;
pub mod routes;
pub mod state;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use playbook::server::{Background, BackgroundError};
use rustls::ServerConfig;
use tokio::net::TcpListener;

pub use config::Config;
pub use state::AppState;

/// The routes, without TLS: usable with `tower::ServiceExt::oneshot` (no client
/// certificate then) or under [`run`].
pub fn app(state: AppState) -> Router {
    let body_limit = state.config.max_body_bytes;
    let forwarded = state.config.forwarded.clone();
    let router = Router::new()
        .route("/public", get(routes::public))
        .route(
            playbook::names::USERS_API_PATH,
            get(routes::list_users).post(routes::create_user),
        )
        .route("/api/whoami", get(routes::whoami))
        .route("/health/live", get(routes::live))
        .route("/health/ready", get(routes::ready))
        .fallback(routes::not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state);
    // Outermost: every extractor sees the forwarded certificate as the connection's own.
    match forwarded {
        Some(f) => router.layer(axum::middleware::from_fn_with_state(
            f,
            playbook::forwarded::layer,
        )),
        None => router,
    }
}

/// Serves [`app`] over `tls` on `listener` until `shutdown`, loading the provider's keys
/// in the background meanwhile.
pub async fn run(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    // Aborted when `run` returns or is dropped (e.g. an aborted task), never left behind.
    let _loader = AbortOnDrop(tokio::spawn(state.load_keys()));
    let limits = state.config.limits;
    playbook::server::serve_with(listener, tls, app(state), shutdown, limits).await
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The provider's keys were not loaded within the time [`Running::wait_ready`] waited.
#[derive(Debug, thiserror::Error)]
#[error("the provider's keys were not loaded within {waited:?}: {reason}")]
pub struct NotReady {
    pub waited: Duration,
    pub reason: String,
}

/// A resource server running on a background task: what [`spawn`] returns. Dropped without
/// [`Running::stop`], the task is aborted.
#[derive(Debug)]
pub struct Running {
    pub addr: SocketAddr,
    /// `https://localhost:<port>`: the name the dev certificates carry.
    pub url: String,
    pub state: AppState,
    background: Background,
}

/// Starts a resource server on `listener` (bind `127.0.0.1:0` in tests).
pub fn spawn(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    config: Config,
) -> Result<Running, BackgroundError> {
    let addr = listener.local_addr()?;
    let mut config = config;
    // DPoP proofs name the URL the client called: here, the name the dev certificates carry.
    if config.public_url.is_none() {
        config.public_url = Some(playbook::server::localhost_url(addr));
    }
    let state = AppState::new(config)?;
    let serving = state.clone();
    let background = Background::spawn(|stopped| run(listener, tls, serving, stopped));
    Ok(Running {
        addr,
        url: playbook::server::localhost_url(addr),
        state,
        background,
    })
}

impl Running {
    /// Waits until the provider's keys are loaded, or fails after `timeout` with the reason.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), NotReady> {
        self.state
            .validator
            .keys()
            .wait_ready(timeout)
            .await
            .map_err(|reason| NotReady {
                waited: timeout,
                reason,
            })
    }

    /// Stops accepting, drains open connections, and waits for the task.
    pub async fn stop(self) -> Result<(), BackgroundError> {
        self.background.stop().await
    }
}
