//! [`AppState`]: what every handler and extractor of the resource server shares. The
//! pipeline's extractors ([`crate::auth`]) take its parts through `FromRef`, so `auth` does
//! not depend on this module.

use std::future::Future;
use std::sync::Arc;

use axum::extract::FromRef;

use crate::auth::Validator;
use crate::config::Config;
use crate::jwks::KeyStore;

/// What every handler and extractor shares. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub validator: Arc<Validator>,
}

impl AppState {
    /// Builds the state; the keys are not fetched yet (see [`AppState::load_keys`]).
    pub fn new(config: Config) -> Result<Self, playbook::TlsError> {
        // The provider is reached over TLS trusting only our CA; no client certificate is
        // needed to read public keys.
        let http = playbook::https::https_client(&config.ca, None)?;
        let keys = Arc::new(KeyStore::new(http, &config));
        let validator = Arc::new(Validator::new(&config, keys));
        Ok(AppState {
            config: Arc::new(config),
            validator,
        })
    }

    /// Loads the provider's keys, retrying with backoff until it succeeds. [`crate::run`] spawns this.
    pub fn load_keys(&self) -> impl Future<Output = ()> + Send + 'static {
        self.validator.keys().clone().load_until_ready()
    }

    /// Whether the keys are loaded (`/health/ready`).
    pub fn is_ready(&self) -> bool {
        self.validator.keys().status().is_ok()
    }
}

impl FromRef<AppState> for Arc<Validator> {
    fn from_ref(state: &AppState) -> Self {
        state.validator.clone()
    }
}

impl FromRef<AppState> for Arc<Config> {
    fn from_ref(state: &AppState) -> Self {
        state.config.clone()
    }
}
