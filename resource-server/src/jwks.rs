//! The provider's signing keys ([RFC 7517] JWK Set), fetched through discovery, cached by
//! `kid`, and refetched when a token names a `kid` we have not seen: that is how a key
//! rotation at the provider reaches us without a restart.
//!
//! Two protections:
//! - **Rate limit**: at most one unknown-`kid` refetch per
//!   [`Config::min_refetch_interval`](crate::config::Config::min_refetch_interval). Anyone can
//!   put any `kid` in a token header; without the limit, each forged token would cost the
//!   provider two requests.
//! - **Only signature keys of asymmetric algorithms** are kept: entries with `use` other than
//!   `sig` (Keycloak publishes an `RSA-OAEP` encryption key next to its `RS256` one),
//!   symmetric (`oct`) keys and unknown algorithms are skipped.
//!
//! If the provider is unreachable at start, [`KeyStore::load_until_ready`] keeps trying with
//! exponential backoff ([`backon`]) while protected routes answer 503 with the last error.
//!
//! [RFC 7517]: https://www.rfc-editor.org/rfc/rfc7517

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable as _};
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use serde::Deserialize;

use crate::discovery::{self, FetchError};

/// The algorithms a token may be signed with: asymmetric only. `none` and the HMAC family
/// are absent on purpose (a resource server holds no shared secret, and accepting HS256
/// "signed" with the public key is the classic key-confusion forgery).
pub const ALLOWED_ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// One verification key from the JWKS.
#[derive(Debug)]
pub struct VerifyKey {
    pub kid: Option<String>,
    /// The JWK's `alg`, when it names one: tokens must then use exactly that algorithm.
    pub alg: Option<Algorithm>,
    pub family: AlgorithmFamily,
    pub key: DecodingKey,
}

impl VerifyKey {
    fn fits(&self, alg: Algorithm) -> bool {
        self.family == alg.family() && self.alg.is_none_or(|a| a == alg)
    }
}

/// The usable keys of one fetch.
#[derive(Debug)]
pub struct KeySet {
    pub jwks_uri: String,
    pub keys: Vec<Arc<VerifyKey>>,
}

#[derive(Debug, Deserialize)]
struct RawJwks {
    keys: Vec<serde_json::Value>,
}

impl KeySet {
    /// Keeps the signature keys we can verify with; says why each other entry was skipped.
    pub fn parse(jwks_uri: &str, body: serde_json::Value) -> Result<KeySet, FetchError> {
        let raw: RawJwks = serde_json::from_value(body).map_err(|e| FetchError::BadJson {
            url: jwks_uri.to_owned(),
            detail: e.to_string(),
        })?;
        let mut keys = Vec::new();
        let mut skipped = Vec::new();
        for entry in raw.keys {
            let kid = entry.get("kid").and_then(|k| k.as_str()).map(str::to_owned);
            match usable_key(entry) {
                Ok(key) => {
                    tracing::debug!(kid = ?key.kid, alg = ?key.alg, "JWKS: signature key loaded");
                    keys.push(Arc::new(key));
                }
                Err(reason) => {
                    tracing::debug!(?kid, "JWKS: key skipped: {reason}");
                    skipped.push(format!("kid {kid:?}: {reason}"));
                }
            }
        }
        if keys.is_empty() {
            return Err(FetchError::NoUsableKeys {
                url: jwks_uri.to_owned(),
                skipped: if skipped.is_empty() {
                    "the set is empty".to_owned()
                } else {
                    skipped.join("; ")
                },
            });
        }
        Ok(KeySet {
            jwks_uri: jwks_uri.to_owned(),
            keys,
        })
    }

    /// The key for a token's `kid` and `alg`. A token without `kid` is accepted only when
    /// exactly one key fits its algorithm (single-key providers may omit `kid`).
    fn find(&self, kid: Option<&str>, alg: Algorithm) -> Option<Arc<VerifyKey>> {
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid))
                .cloned(),
            None => {
                let mut fitting = self.keys.iter().filter(|k| k.fits(alg));
                match (fitting.next(), fitting.next()) {
                    (Some(only), None) => Some(only.clone()),
                    _ => None,
                }
            }
        }
    }

    pub fn kids(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| k.kid.clone().unwrap_or_else(|| "(no kid)".to_owned()))
            .collect()
    }
}

/// Turns one JWK into a verification key, or says why it cannot be one.
fn usable_key(entry: serde_json::Value) -> Result<VerifyKey, String> {
    if let Some(usage) = entry.get("use").and_then(|u| u.as_str())
        && usage != "sig"
    {
        return Err(format!("use is {usage:?}, not \"sig\""));
    }
    if let Some(ops) = entry.get("key_ops").and_then(|o| o.as_array())
        && !ops.iter().any(|op| op.as_str() == Some("verify"))
    {
        return Err("key_ops does not include \"verify\"".to_owned());
    }
    if entry.get("kty").and_then(|k| k.as_str()) == Some("oct") {
        return Err("symmetric (oct) keys are never accepted".to_owned());
    }
    let alg = match entry.get("alg").and_then(|a| a.as_str()) {
        None => None,
        Some(name) => {
            let alg: Algorithm = name
                .parse()
                .map_err(|_| format!("alg {name:?} is not a signature algorithm we accept"))?;
            if !ALLOWED_ALGORITHMS.contains(&alg) {
                return Err(format!(
                    "alg {name:?} is not an asymmetric signature algorithm"
                ));
            }
            Some(alg)
        }
    };
    let jwk: Jwk = serde_json::from_value(entry).map_err(|e| format!("not a valid JWK: {e}"))?;
    let family = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => AlgorithmFamily::Rsa,
        AlgorithmParameters::EllipticCurve(_) => AlgorithmFamily::Ec,
        AlgorithmParameters::OctetKeyPair(_) => AlgorithmFamily::Ed,
        _ => {
            return Err("unsupported key type".to_owned());
        }
    };
    if let Some(alg) = alg
        && alg.family() != family
    {
        return Err(format!("alg {alg:?} does not match the key type"));
    }
    let key = DecodingKey::from_jwk(&jwk).map_err(|e| format!("unusable key material: {e}"))?;
    Ok(VerifyKey {
        kid: jwk.common.key_id.clone(),
        alg,
        family,
        key,
    })
}

/// Why no key could be found for a token.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KeyError {
    /// Keys were never loaded: the server answers 503.
    #[error("the provider's signing keys are not loaded yet ({0}); retrying in the background")]
    Unavailable(String),
    /// The token names a key the provider does not publish (even after a refetch).
    #[error("{0}")]
    Unknown(String),
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
    Failed(FetchError),
}

/// The cached key set and the machinery to (re)fetch it.
pub struct KeyStore {
    http: reqwest::Client,
    issuer: String,
    min_refetch_interval: Duration,
    retry_min_delay: Duration,
    retry_max_delay: Duration,
    state: RwLock<Loaded>,
    /// When the last unknown-`kid` refetch started; the mutex also makes concurrent
    /// misses wait for one fetch instead of each starting their own.
    last_refetch: tokio::sync::Mutex<Option<Instant>>,
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
            min_refetch_interval: config.min_refetch_interval,
            retry_min_delay: config.retry_min_delay,
            retry_max_delay: config.retry_max_delay,
            state: RwLock::new(Loaded::Pending { last_error: None }),
            last_refetch: tokio::sync::Mutex::new(None),
        }
    }

    /// Discovery, then the JWKS: one full fetch.
    pub async fn fetch(&self) -> Result<KeySet, FetchError> {
        let metadata = discovery::discover(&self.http, &self.issuer).await?;
        let body: serde_json::Value = discovery::get_json(&self.http, &metadata.jwks_uri).await?;
        KeySet::parse(&metadata.jwks_uri, body)
    }

    fn install(&self, set: KeySet) {
        tracing::info!(jwks_uri = %set.jwks_uri, kids = ?set.kids(), "provider signing keys loaded");
        *self.state.write().unwrap_or_else(|e| e.into_inner()) = Loaded::Ready(Arc::new(set));
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
            .notify(|error: &FetchError, pause: Duration| {
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

    /// The key for a token, refetching the JWKS once (rate limited) on an unknown `kid`.
    pub async fn key_for(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Arc<VerifyKey>, KeyError> {
        if let Some(key) = self.current()?.find(kid, alg) {
            return Ok(key);
        }
        let refetch = self.refetch().await;
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
            Refetch::Done => "even after refetching it".to_owned(),
            Refetch::RateLimited(ago) => format!(
                "(keys were refetched {ago:.0?} ago; at most one refetch per {:?})",
                self.min_refetch_interval
            ),
            Refetch::Failed(e) => format!("(refetching the keys failed: {e})"),
        };
        Err(KeyError::Unknown(format!(
            "{what} {after}; known kids: {:?}",
            set.kids()
        )))
    }

    async fn refetch(&self) -> Refetch {
        let mut last = self.last_refetch.lock().await;
        if let Some(at) = *last
            && at.elapsed() < self.min_refetch_interval
        {
            return Refetch::RateLimited(at.elapsed());
        }
        *last = Some(Instant::now());
        tracing::info!("unknown kid: refetching the provider's keys");
        match self.fetch().await {
            Ok(set) => {
                self.install(set);
                Refetch::Done
            }
            Err(e) => {
                // Keep the keys we have: a provider hiccup must not break valid tokens.
                tracing::warn!("refetching the provider's keys failed: {e}");
                Refetch::Failed(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // A real 2048-bit modulus is not needed to test the filtering: `from_jwk` only
    // base64-decodes n and e.
    fn rsa(kid: &str, extra: serde_json::Value) -> serde_json::Value {
        let mut key = json!({"kid": kid, "kty": "RSA", "n": "sXch", "e": "AQAB"});
        key.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        key
    }

    #[test]
    fn keeps_signature_keys_and_skips_the_rest() {
        let jwks = json!({"keys": [
            rsa("sig", json!({"alg": "RS256", "use": "sig"})),
            rsa("enc", json!({"alg": "RSA-OAEP", "use": "enc"})),
            {"kid": "hmac", "kty": "oct", "k": "c2VjcmV0", "alg": "HS256"},
            rsa("hs-labelled", json!({"alg": "HS256"})),
            rsa("no-alg", json!({})),
            {"kid": "weird", "kty": "XYZ"},
        ]});
        let set = KeySet::parse("https://p/certs", jwks).unwrap();
        assert_eq!(set.kids(), ["sig", "no-alg"]);
    }

    #[test]
    fn a_set_without_usable_keys_is_an_error_that_says_why() {
        let jwks = json!({"keys": [rsa("enc", json!({"use": "enc"}))]});
        let err = KeySet::parse("https://p/certs", jwks).unwrap_err();
        assert!(err.to_string().contains("use is \"enc\""), "{err}");
    }

    #[test]
    fn a_token_without_kid_needs_exactly_one_fitting_key() {
        let one = KeySet::parse("u", json!({"keys": [rsa("a", json!({"alg": "RS256"}))]})).unwrap();
        assert!(one.find(None, Algorithm::RS256).is_some());
        assert!(
            one.find(None, Algorithm::PS256).is_none(),
            "alg pinned by the JWK"
        );
        let two = KeySet::parse(
            "u",
            json!({"keys": [rsa("a", json!({})), rsa("b", json!({}))]}),
        )
        .unwrap();
        assert!(two.find(None, Algorithm::RS256).is_none());
        assert!(two.find(Some("b"), Algorithm::RS256).is_some());
    }
}
