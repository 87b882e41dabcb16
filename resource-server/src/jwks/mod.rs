//! The provider's signing keys ([RFC 7517] JWK Set), fetched through discovery, cached by
//! `kid`, and refetched when a token names a `kid` we have not seen: that is how a key
//! rotation at the provider reaches us without a restart.
//!
//! Two protections:
//! - **Rate limit**: after a refetch that did not find the `kid` it was made for, no other
//!   for [`Config::min_refetch_interval`](crate::config::Config::min_refetch_interval).
//!   Anyone can put any `kid` in a token header; without the limit, each forged token would
//!   cost the provider two requests. A refetch that finds its `kid` (a real key rotation)
//!   does not take the slot, so two rotations in a row both work at once. While the slot is
//!   held (by someone's made-up `kid`s, say), a token with an unknown `kid` issued after our
//!   last fetch gets **503** with `Retry-After` until the slot is free, not 401: it may be
//!   signed with a key the provider published since, and a real rotation must never be
//!   told "invalid". Only a token issued before our last fetch (by its unverified `iat`,
//!   with the leeway for clocks) is known to name a key the provider does not have: 401.
//! - **Only signature keys of asymmetric algorithms** are kept ([`key_set`]: which JWKs are
//!   usable, and which key a token gets); this file is the fetching and refetching.
//!
//! When the provider cannot be reached, what we answer depends on the token:
//! - A token whose `kid` is cached still validates: a signature that verifies with a key
//!   the provider published proves the provider issued the token, so tokens keep working
//!   while it restarts.
//! - A token with an unknown `kid` gets **503** `temporarily_unavailable`, not 401: without
//!   the provider's current key set we cannot tell a forged `kid` from a key the provider
//!   created since (the embedded provider makes new keys at every start). Saying "invalid"
//!   would be a guess.
//! - A **failed** refetch does not hold the rate-limit slot: the next attempt is allowed
//!   after a short backoff
//!   ([`Config::failed_refetch_min_delay`](crate::config::Config::failed_refetch_min_delay),
//!   doubling up to
//!   [`Config::failed_refetch_max_delay`](crate::config::Config::failed_refetch_max_delay)),
//!   so a token with the restarted provider's new `kid` is accepted within seconds of its
//!   return.
//!
//! If the provider is unreachable at start, [`KeyStore::load_until_ready`] keeps trying with
//! exponential backoff ([`backon`]) while protected routes answer 503 with the last error.
//!
//! [RFC 7517]: https://www.rfc-editor.org/rfc/rfc7517

pub mod key_set;

pub use key_set::{ALLOWED_ALGORITHMS, KeySet, VerifyKey};

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use backon::{ExponentialBuilder, Retryable as _};
use jsonwebtoken::Algorithm;

use crate::discovery::{self, DiscoveryError};

/// Why no key could be found for a token.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KeyError {
    /// Keys were never loaded: the server answers 503.
    #[error("the provider's signing keys are not loaded yet ({0}); retrying in the background")]
    Unavailable(String),
    /// The token names a key we do not have and the provider cannot be asked right now:
    /// the server answers 503, because the token may well be valid.
    #[error(
        "{what}. The provider's current keys cannot be fetched to check it ({error}), so \
         whether the token is valid cannot be told until the provider answers again; next \
         attempt in {}s",
        retry_after_secs(*retry_after)
    )]
    ProviderUnreachable {
        what: String,
        error: DiscoveryError,
        retry_after: Duration,
    },
    /// The token names a key we do not have, and the refetch that could find it is held
    /// back by the rate limit: the server answers 503, because the key may be one the
    /// provider published after our last fetch (a rotation).
    #[error(
        "{what}. The token may be signed with a key the provider published since the keys \
         were last fetched ({ago:.0?} ago, for an unknown kid); at most one such refetch \
         is made per {interval:?}, so the token cannot be checked yet; next refetch in {}s",
        retry_after_secs(*retry_after)
    )]
    NotRefetchedYet {
        what: String,
        ago: Duration,
        interval: Duration,
        retry_after: Duration,
    },
    /// The token names a key the provider does not publish (even after a refetch).
    #[error("{0}")]
    Unknown(String),
}

impl KeyError {
    /// How long a client should wait before trying again (`Retry-After`), for the 503s.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            KeyError::Unavailable(_) => Some(Duration::from_secs(5)),
            KeyError::ProviderUnreachable { retry_after, .. }
            | KeyError::NotRefetchedYet { retry_after, .. } => Some(*retry_after),
            KeyError::Unknown(_) => None,
        }
    }
}

/// Whole seconds, rounded up, at least 1: the unit of `Retry-After` (RFC 9110 §10.2.3).
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

enum Loaded {
    Pending { last_error: Option<String> },
    Ready(Arc<KeySet>),
}

/// What a refetch attempt did, for the refusal message and the log.
#[derive(Debug)]
enum Refetch {
    Done,
    RateLimited(Duration),
    /// This attempt failed, or one did a moment ago and its backoff has not run out.
    Failed {
        error: DiscoveryError,
        retry_after: Duration,
    },
}

/// The unknown-`kid` refetch bookkeeping, behind an async mutex: concurrent misses wait for
/// one fetch instead of each starting their own.
#[derive(Debug, Default)]
struct RefetchState {
    /// When the last successful refetch that still lacked its `kid` started: it holds the
    /// rate-limit slot.
    slot_taken: Option<Instant>,
    /// Set while the provider cannot be reached; cleared by the next success.
    failing: Option<Failing>,
}

#[derive(Debug)]
struct Failing {
    error: DiscoveryError,
    /// Failures in a row: the backoff doubles with each.
    count: u32,
    /// No new attempt before this instant.
    next_attempt: Instant,
}

/// The cached key set and the machinery to (re)fetch it.
pub struct KeyStore {
    http: reqwest::Client,
    issuer: String,
    leeway: Duration,
    min_refetch_interval: Duration,
    retry_min_delay: Duration,
    retry_max_delay: Duration,
    failed_refetch_min_delay: Duration,
    failed_refetch_max_delay: Duration,
    state: RwLock<Loaded>,
    /// `true` once keys are installed: [`KeyStore::wait_ready`] waits on it.
    ready: tokio::sync::watch::Sender<bool>,
    refetch: tokio::sync::Mutex<RefetchState>,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore")
            .field("issuer", &self.issuer)
            .field("ready", &self.status().is_ok())
            .finish()
    }
}

impl KeyStore {
    pub fn new(http: reqwest::Client, config: &crate::config::Config) -> Self {
        KeyStore {
            http,
            issuer: config.issuer.clone(),
            leeway: config.leeway,
            min_refetch_interval: config.min_refetch_interval,
            retry_min_delay: config.retry_min_delay,
            retry_max_delay: config.retry_max_delay,
            failed_refetch_min_delay: config.failed_refetch_min_delay,
            failed_refetch_max_delay: config.failed_refetch_max_delay,
            state: RwLock::new(Loaded::Pending { last_error: None }),
            ready: tokio::sync::watch::Sender::new(false),
            refetch: tokio::sync::Mutex::new(RefetchState::default()),
        }
    }

    /// Waits until keys are loaded; after `timeout`, the reason they are not.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), String> {
        let mut ready = self.ready.subscribe();
        match tokio::time::timeout(timeout, ready.wait_for(|ready| *ready)).await {
            Ok(Ok(_)) => Ok(()),
            // The sender lives in `self`, so `wait_for` cannot see it dropped.
            Ok(Err(_)) | Err(_) => self.status().map(|_| ()),
        }
    }

    /// Discovery, then the JWKS: one full fetch.
    pub async fn fetch(&self) -> Result<KeySet, DiscoveryError> {
        let started = SystemTime::now();
        let metadata = discovery::discover(&self.http, &self.issuer).await?;
        let body: serde_json::Value = discovery::get_json(&self.http, &metadata.jwks_uri).await?;
        let mut set = KeySet::parse(&metadata.jwks_uri, body)?;
        set.fetched_at = started;
        Ok(set)
    }

    /// Installs a key set: one [`KeyStore::fetch`] got, or one a test or a fuzz target
    /// made (an offline validator).
    pub fn install(&self, set: KeySet) {
        tracing::info!(jwks_uri = %set.jwks_uri, kids = ?set.kids(), "provider signing keys loaded");
        *self.state.write().unwrap_or_else(|e| e.into_inner()) = Loaded::Ready(Arc::new(set));
        self.ready.send_replace(true);
    }

    fn current(&self) -> Result<Arc<KeySet>, KeyError> {
        match &*self.state.read().unwrap_or_else(|e| e.into_inner()) {
            Loaded::Ready(set) => Ok(set.clone()),
            Loaded::Pending { last_error } => {
                Err(KeyError::Unavailable(last_error.clone().unwrap_or_else(
                    || "the first fetch is still running".to_owned(),
                )))
            }
        }
    }

    /// `Ok(kids)` once keys are loaded, else the reason they are not (for `/health/ready`).
    pub fn status(&self) -> Result<Vec<String>, String> {
        self.current().map(|s| s.kids()).map_err(|e| e.to_string())
    }

    /// Fetches until the first success, backing off exponentially; each failure is logged
    /// and kept as the reason protected routes give for their 503.
    pub async fn load_until_ready(self: Arc<Self>) {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.retry_min_delay)
            .with_max_delay(self.retry_max_delay)
            .with_jitter()
            .without_max_times();
        let store = self.clone();
        let result = (|| async { self.fetch().await })
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .notify(|error: &DiscoveryError, pause: Duration| {
                tracing::warn!(
                    "cannot load the provider's keys yet, retrying in {pause:.1?}: {error}"
                );
                let mut state = store.state.write().unwrap_or_else(|e| e.into_inner());
                if let Loaded::Pending { last_error } = &mut *state {
                    *last_error = Some(error.to_string());
                }
            })
            .await;
        match result {
            Ok(set) => self.install(set),
            // `without_max_times` retries forever; this arm is only here for completeness.
            Err(error) => tracing::error!("giving up loading the provider's keys: {error}"),
        }
    }

    /// Whether the keys we hold still include the one for `kid` and `alg` (no fetch).
    pub fn publishes(&self, kid: Option<&str>, alg: Algorithm) -> bool {
        self.current().is_ok_and(|set| set.find(kid, alg).is_some())
    }

    /// The key for a token, refetching the JWKS once (rate limited) on an unknown `kid`.
    /// `issued_at` is the token's `iat`, not yet verified: it only decides whether a `kid`
    /// missing while refetches are held back is missing for good (401) or maybe just newer
    /// than our keys (503). A forger can only choose the 503.
    pub async fn key_for(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
        issued_at: Option<u64>,
    ) -> Result<Arc<VerifyKey>, KeyError> {
        if let Some(key) = self.current()?.find(kid, alg) {
            return Ok(key);
        }
        let refetch = self.refetch(kid, alg).await;
        let set = self.current()?;
        if let Some(key) = set.find(kid, alg) {
            return Ok(key);
        }
        let what = match kid {
            Some(kid) => format!("no key with kid {kid:?} in the provider's JWKS"),
            None => {
                format!("the token has no kid and the JWKS does not have exactly one {alg:?} key")
            }
        };
        let after = match refetch {
            Refetch::Done => "even after refetching it: the provider does not publish this \
                key (its keys were rotated, or it restarted with new ones); get a new token"
                .to_owned(),
            Refetch::RateLimited(ago) => {
                let fetched = set
                    .fetched_at
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                // Keys fetched after the token was issued include the key it was signed with,
                // if the provider ever published it (the leeway covers clock differences).
                if issued_at.is_none_or(|iat| fetched <= iat.saturating_add(self.leeway.as_secs()))
                {
                    return Err(KeyError::NotRefetchedYet {
                        what,
                        ago,
                        interval: self.min_refetch_interval,
                        retry_after: self.min_refetch_interval.saturating_sub(ago),
                    });
                }
                format!(
                    "in the keys fetched {ago:.0?} ago, after the token was issued (iat); \
                     at most one refetch per {:?}",
                    self.min_refetch_interval
                )
            }
            Refetch::Failed { error, retry_after } => {
                return Err(KeyError::ProviderUnreachable {
                    what: format!("{what}; cached kids: {:?}", set.kids()),
                    error,
                    retry_after,
                });
            }
        };
        Err(KeyError::Unknown(format!(
            "{what} {after}; known kids: {:?}",
            set.kids()
        )))
    }

    async fn refetch(&self, kid: Option<&str>, alg: Algorithm) -> Refetch {
        let mut state = self.refetch.lock().await;
        let now = Instant::now();
        match &state.failing {
            // The provider failed a moment ago: answer from that failure until the backoff
            // runs out, without asking again.
            Some(failing) if now < failing.next_attempt => {
                return Refetch::Failed {
                    error: failing.error.clone(),
                    retry_after: failing.next_attempt - now,
                };
            }
            // After a failure the rate-limit slot does not apply: the provider may have
            // come back with new keys, and the tokens it now issues should work at once.
            Some(_) => {}
            None => {
                if let Some(at) = state.slot_taken
                    && at.elapsed() < self.min_refetch_interval
                {
                    return Refetch::RateLimited(at.elapsed());
                }
            }
        }
        tracing::info!("unknown kid: refetching the provider's keys");
        match self.fetch().await {
            Ok(set) => {
                if state.failing.take().is_some() {
                    tracing::info!("the provider answers again");
                }
                // Only a fetch that did not help takes the slot: that is what a flood of
                // made-up kids causes, and a real rotation never does.
                state.slot_taken = set.find(kid, alg).is_none().then_some(now);
                self.install(set);
                Refetch::Done
            }
            Err(error) => {
                // Keep the keys we have: a provider hiccup must not break valid tokens.
                let count = state.failing.as_ref().map_or(0, |f| f.count) + 1;
                let retry_after = self.failed_refetch_delay(count);
                tracing::warn!(
                    "refetching the provider's keys failed ({count} in a row; next attempt \
                     in {retry_after:?} at the earliest): {error}"
                );
                state.failing = Some(Failing {
                    error: error.clone(),
                    count,
                    next_attempt: Instant::now() + retry_after,
                });
                Refetch::Failed { error, retry_after }
            }
        }
    }

    /// The pause after the `count`-th failed refetch in a row: doubling from the minimum,
    /// capped at the maximum.
    fn failed_refetch_delay(&self, count: u32) -> Duration {
        let factor = 1u32 << count.saturating_sub(1).min(16);
        self.failed_refetch_min_delay
            .saturating_mul(factor)
            .min(self.failed_refetch_max_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_refetches_back_off_from_the_minimum_to_the_maximum() {
        let mut config = crate::Config::new("https://p/realms/r", Vec::new());
        config.failed_refetch_min_delay = Duration::from_secs(1);
        config.failed_refetch_max_delay = Duration::from_secs(5);
        let store = KeyStore::new(reqwest::Client::new(), &config);
        let delays: Vec<u64> = (1..=5)
            .map(|n| store.failed_refetch_delay(n).as_secs())
            .collect();
        assert_eq!(delays, [1, 2, 4, 5, 5]);
        assert_eq!(store.failed_refetch_delay(u32::MAX), Duration::from_secs(5));
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(300)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::from_millis(2001)), 3);
    }
}
