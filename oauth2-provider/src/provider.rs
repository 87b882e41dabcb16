//! The provider's state: the imported realms (the store), their keys, the start-up
//! [`Options`] and the password grant's sessions. [`Provider`] is what every handler gets as
//! its axum state; cheap to clone. Built by importing realm files ([`Provider::from_realm_file`]
//! and friends), in Keycloak's order: the synthesized `master` realm first.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use axum::extract::FromRef;
use url::Url;

use crate::realm::RealmFileError;
use crate::request::Frontend;
use crate::{clock, keys, realm, store};

/// Start-up options (what Keycloak takes as `--hostname` and `KC_BOOTSTRAP_ADMIN_*`).
#[derive(Debug, Clone)]
pub struct Options {
    /// Fixed frontend URL (`--hostname https://host:port`). `None`: taken from each request's
    /// `Host` header, as Keycloak does with `hostname-strict=false`.
    pub hostname: Option<Url>,
    /// The master realm's bootstrap admin (`KC_BOOTSTRAP_ADMIN_USERNAME`).
    pub admin_username: String,
    /// `KC_BOOTSTRAP_ADMIN_PASSWORD`.
    pub admin_password: String,
    /// Bounds on slow and greedy clients (`--request-timeout`, `--max-connections-per-peer`).
    pub limits: playbook::server::Limits,
    /// Client certificates forwarded by a TLS-terminating proxy (Keycloak's
    /// `spi-x509cert-lookup--provider=nginx`); `None`: only from the handshake.
    pub forwarded: Option<Arc<playbook::forwarded::ForwardedCerts>>,
    /// Where the realm files' `${NAME}` placeholders take their values: the process
    /// environment (as Keycloak's `--import-realm`), plus what the starter sets.
    pub environment: realm::Environment,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            hostname: None,
            admin_username: playbook::names::DEFAULT_ADMIN_USERNAME.to_owned(),
            admin_password: playbook::names::DEFAULT_ADMIN_PASSWORD.to_owned(),
            limits: playbook::server::Limits::default(),
            forwarded: None,
            environment: realm::Environment::default(),
        }
    }
}

/// The provider: imported realms plus keys. Cheap to clone (shared state).
#[derive(Clone, Debug)]
pub struct Provider {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) store: RwLock<store::Store>,
    pub(crate) keys: Vec<(String, keys::RealmKeys)>,
    pub(crate) hostname: Option<Url>,
    pub(crate) limits: playbook::server::Limits,
    pub(crate) forwarded: Option<Arc<playbook::forwarded::ForwardedCerts>>,
    /// User sessions of the password grant: `sid` → (user id, expiry). A lightweight access
    /// token (admin-cli's) carries no `sub`; its user is found through its session, as
    /// Keycloak finds it.
    pub(crate) sessions: std::sync::Mutex<std::collections::HashMap<String, (String, i64)>>,
    /// The DPoP proofs the token endpoint has accepted (Keycloak's single-use store).
    pub(crate) dpop_replay: playbook::rfc9449::ReplayCache,
    /// The `jti`s of the client assertions accepted (`private_key_jwt`; Keycloak's
    /// single-use store), each until its `exp`.
    pub(crate) assertion_replay: playbook::rfc7523::JtiCache,
}

impl Inner {
    /// Records a session; expired ones are dropped on the way, so the map stays small.
    pub(crate) fn open_session(&self, sid: &str, user_id: &str, expires: i64) {
        let now = clock::now();
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.retain(|_, (_, exp)| *exp > now);
        sessions.insert(sid.to_owned(), (user_id.to_owned(), expires));
    }

    /// The user of a live session.
    pub(crate) fn session_user(&self, sid: &str) -> Option<String> {
        let sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions
            .get(sid)
            .filter(|(_, exp)| *exp > clock::now())
            .map(|(user, _)| user.clone())
    }
}

impl Provider {
    /// Imports a Keycloak realm export from `path` (plus the synthesized `master` realm):
    /// a realm file (one realm or an array of realms) or a directory ([`realm::read_path`]).
    pub fn from_realm_file(path: &Path, options: Options) -> Result<Provider, RealmFileError> {
        Self::from_realm_paths(std::slice::from_ref(&path.to_owned()), options)
    }

    /// Imports every realm that `paths` hold (what `--realm` names, once or several times).
    pub fn from_realm_paths(
        paths: &[PathBuf],
        options: Options,
    ) -> Result<Provider, RealmFileError> {
        let mut inputs = Vec::new();
        for path in paths {
            inputs.extend(realm::read_path(path, &options.environment)?);
        }
        Self::from_inputs(inputs, options)
    }

    /// Imports a realm export given as JSON text; `source` only labels errors.
    pub fn from_realm_json(
        json: &str,
        source: &Path,
        options: Options,
    ) -> Result<Provider, RealmFileError> {
        let inputs = realm::parse_realms(json, source)?
            .into_iter()
            .map(|rep| realm::RealmInput {
                rep,
                file: source.to_owned(),
                user_files: Vec::new(),
            })
            .collect();
        Self::from_inputs(inputs, options)
    }

    /// Imports an already parsed realm representation.
    pub fn from_realm(
        rep: realm::RealmRep,
        source: &Path,
        options: Options,
    ) -> Result<Provider, RealmFileError> {
        Self::from_inputs(
            vec![realm::RealmInput {
                rep,
                file: source.to_owned(),
                user_files: Vec::new(),
            }],
            options,
        )
    }

    /// The realms in the order given, after the synthesized `master` realm. As
    /// `ImportUtils#importRealm` with `IGNORE_EXISTING` (what `--import-realm` uses), a realm
    /// whose name was already imported is skipped with a message.
    fn from_inputs(
        inputs: Vec<realm::RealmInput>,
        options: Options,
    ) -> Result<Provider, RealmFileError> {
        let master = realm::master_realm(&options.admin_username, &options.admin_password);
        let key_error = |path: &Path, cause: keys::KeyError| RealmFileError::Keys {
            path: path.to_owned(),
            cause,
        };
        let master_keys = keys::RealmKeys::generate(&master.name)
            .map_err(|e| key_error(Path::new("master"), e))?;
        let mut keys = vec![(master.name.clone(), master_keys)];
        let mut realms = vec![master];
        for input in inputs {
            let name = input.rep.realm.clone().unwrap_or_default();
            if name == "master" {
                tracing::warn!(
                    "{}: the master realm is not imported: this provider makes it from KC_BOOTSTRAP_ADMIN_* (see README: \"Not supported\")",
                    input.file.display()
                );
                continue;
            }
            if realms.iter().any(|r| r.name == name) {
                tracing::info!(
                    "{}: Realm '{name}' already exists. Import skipped",
                    input.file.display()
                );
                continue;
            }
            let file = input.file.clone();
            let (realm, source) = realm::import_realm(input)?;
            keys::warn_unsupported_algs(&realm);
            let realm_keys =
                keys::RealmKeys::load(&realm.name, &source).map_err(|e| key_error(&file, e))?;
            tracing::info!(
                realm = %realm.name,
                clients = realm.clients.len(),
                users = realm.users.len(),
                "imported realm from {}",
                file.display()
            );
            realm::add_master_admin_client(&mut realms[0], &realm.name);
            keys.push((realm.name.clone(), realm_keys));
            realms.push(realm);
        }
        Ok(Provider {
            inner: Arc::new(Inner {
                store: RwLock::new(store::Store { realms }),
                keys,
                hostname: options.hostname,
                limits: options.limits,
                forwarded: options.forwarded,
                sessions: Default::default(),
                dpop_replay: playbook::rfc9449::ReplayCache::new(100_000, crate::dpop::WINDOW),
                assertion_replay: playbook::rfc7523::JtiCache::new(100_000),
            }),
        })
    }

    pub(crate) fn keys(&self, realm: &str) -> Option<&keys::RealmKeys> {
        self.inner
            .keys
            .iter()
            .find(|(name, _)| name == realm)
            .map(|(_, k)| k)
    }

    pub(crate) fn read(&self) -> std::sync::RwLockReadGuard<'_, store::Store> {
        self.inner.store.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn write(&self) -> std::sync::RwLockWriteGuard<'_, store::Store> {
        self.inner.store.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// The request extractor's view of the provider: its `--hostname`.
impl FromRef<Provider> for Frontend {
    fn from_ref(provider: &Provider) -> Frontend {
        Frontend {
            hostname: provider.inner.hostname.clone(),
        }
    }
}
