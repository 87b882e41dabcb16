//! Step 3 of the [pipeline](super): is this a valid access token from our issuer?
//! [`Validator::validate`] reads the JWS header first ([RFC 7515 §4.1]: `alg` on the
//! asymmetric allow-list, never `none` or HMAC; no `crit`; `typ` an access-token type), takes
//! the key by `kid` from the JWKS ([`crate::jwks`]), then checks the signature,
//! `exp`/`nbf`/`iat` with leeway, `iss` exactly, that it is an access token and not an ID or
//! refresh token (header `typ: at+jwt` per [RFC 9068], or Keycloak's claim `typ: Bearer`),
//! `aud`/`azp` when configured, and that any `cnf` is one this server can check
//! ([`super::binding::check_confirmation`]).
//!
//! A validated token is cached (by the whole token) until it expires or its key is no longer
//! published, so repeated calls skip the signature check. The per-connection binding
//! ([`super::binding`]) is not part of this: it runs on every request, cached or not.
//!
//! [RFC 7515 §4.1]: https://www.rfc-editor.org/rfc/rfc7515#section-4.1
//! [RFC 9068]: https://www.rfc-editor.org/rfc/rfc9068#section-2.1

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation, get_current_timestamp};
use serde::{Deserialize, Serialize};

use super::binding::check_confirmation;
use super::claims::{Claims, optional_numeric_date};
use crate::config::Config;
use crate::error::ApiError;
use crate::jwks::{ALLOWED_ALGORITHMS, KeyStore, retry_after_secs};

/// A token that passed every check except the per-connection binding.
#[derive(Debug, Clone, Serialize)]
pub struct Validated {
    pub claims: Claims,
    pub alg: Algorithm,
    pub kid: Option<String>,
    /// `sha256:` + the first 12 hex digits of the token's SHA-256: safe to log.
    pub fingerprint: String,
}

pub(super) fn token_hash(token: &str) -> [u8; 32] {
    let mut hash = [0u8; 32];
    hash.copy_from_slice(digest::digest(&digest::SHA256, token.as_bytes()).as_ref());
    hash
}

pub(super) fn fingerprint(hash: &[u8; 32]) -> String {
    let hex: String = hash[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The parts of the JWS header we act on, read before any key is looked up.
#[derive(Debug)]
struct JoseHeader {
    alg: Algorithm,
    kid: Option<String>,
    typ: Option<String>,
}

/// Header `typ` values of an access token: generic `JWT` (Keycloak) or RFC 9068 `at+jwt`.
fn is_access_token_media_type(typ: &str) -> bool {
    ["JWT", "at+jwt", "application/at+jwt"]
        .iter()
        .any(|t| t.eq_ignore_ascii_case(typ))
}

fn is_rfc9068(typ: Option<&str>) -> bool {
    typ.is_some_and(|t| {
        t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
    })
}

fn malformed(detail: impl std::fmt::Display) -> ApiError {
    ApiError::InvalidToken(format!(
        "the token is not a well-formed JWT ({detail}); was it truncated or altered?"
    ))
}

/// Reads the JWS header and refuses dangerous or unsupported ones before touching keys.
fn read_header(token: &str) -> Result<JoseHeader, ApiError> {
    let parts: Vec<&str> = token.split('.').collect();
    match parts.len() {
        3 => {}
        5 => {
            return Err(ApiError::InvalidToken(
                "the token is encrypted (JWE, 5 parts); this server accepts signed JWTs (JWS) only"
                    .into(),
            ));
        }
        n => return Err(malformed(format!("{n} dot-separated parts instead of 3"))),
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(parts[0])
        .map_err(|e| malformed(format!("header is not base64url: {e}")))?;
    let header: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&bytes)
        .map_err(|e| malformed(format!("header is not a JSON object: {e}")))?;
    let text = |name: &str| header.get(name).and_then(|v| v.as_str()).map(str::to_owned);

    let alg_name = text("alg").ok_or_else(|| malformed("header has no alg"))?;
    if alg_name.eq_ignore_ascii_case("none") {
        return Err(ApiError::InvalidToken(
            "alg is \"none\": unsigned tokens are never accepted".into(),
        ));
    }
    let alg: Algorithm = alg_name.parse().map_err(|_| {
        ApiError::InvalidToken(format!(
            "alg {alg_name:?} is not a supported signature algorithm"
        ))
    })?;
    if alg.family() == jsonwebtoken::AlgorithmFamily::Hmac {
        return Err(ApiError::InvalidToken(format!(
            "alg is {alg_name}: HMAC tokens are refused. A resource server has only the \
             provider's public keys; accepting {alg_name} would let anyone sign with the public \
             key (key confusion)"
        )));
    }
    if !ALLOWED_ALGORITHMS.contains(&alg) {
        return Err(ApiError::InvalidToken(format!(
            "alg {alg_name} is not on the allow-list {ALLOWED_ALGORITHMS:?}"
        )));
    }
    // RFC 7515 §4.1.11: extensions listed in `crit` must be understood or the JWS rejected.
    if header.contains_key("crit") {
        return Err(ApiError::InvalidToken(
            "the header lists critical extensions (crit) this server does not implement".into(),
        ));
    }
    let typ = text("typ");
    if let Some(typ) = &typ
        && !is_access_token_media_type(typ)
    {
        return Err(ApiError::InvalidToken(format!(
            "header typ {typ:?} is not an access token type (expected JWT or at+jwt)"
        )));
    }
    Ok(JoseHeader {
        alg,
        kid: text("kid"),
        typ,
    })
}

/// The token's `iat` before its signature is checked: only for telling a `kid` that is
/// missing for good from one that may be newer than our keys ([`KeyStore::key_for`]).
fn unverified_iat(token: &str) -> Option<u64> {
    #[derive(Deserialize)]
    struct IssuedAt {
        #[serde(default, deserialize_with = "optional_numeric_date")]
        iat: Option<u64>,
    }
    let payload = URL_SAFE_NO_PAD.decode(token.split('.').nth(1)?).ok()?;
    serde_json::from_slice::<IssuedAt>(&payload).ok()?.iat
}

/// Checks tokens and remembers the good ones.
#[derive(Debug)]
pub struct Validator {
    issuer: String,
    leeway: u64,
    audience: Option<String>,
    authorized_party: Option<String>,
    keys: Arc<KeyStore>,
    cache: TokenCache,
    /// The DPoP proofs already accepted (RFC 9449 §11.1), this instance's only.
    dpop_replay: playbook::rfc9449::ReplayCache,
}

impl Validator {
    pub fn new(config: &Config, keys: Arc<KeyStore>) -> Self {
        Validator {
            issuer: config.issuer.clone(),
            leeway: config.leeway.as_secs(),
            audience: config.audience.clone(),
            authorized_party: config.authorized_party.clone(),
            keys,
            cache: TokenCache::new(config.token_cache_size),
            dpop_replay: playbook::rfc9449::ReplayCache::new(
                config.dpop_replay_capacity,
                config.dpop_window,
            ),
        }
    }

    /// The DPoP proofs this instance has accepted ([`super::dpop`]).
    pub fn dpop_replay(&self) -> &playbook::rfc9449::ReplayCache {
        &self.dpop_replay
    }

    pub fn keys(&self) -> &Arc<KeyStore> {
        &self.keys
    }

    /// Validates `token`, from the cache when it was seen before. The bool is `true` for a
    /// cache hit.
    pub async fn validate(&self, token: &str) -> Result<(Arc<Validated>, bool), ApiError> {
        let now = get_current_timestamp();
        if let Some(hit) = self.cache.get(token, now, self.leeway) {
            // A token is only as good as its key: once the provider stops publishing the
            // key (a rotation, a restart with new keys), the cached answer no longer holds
            // and the token is checked again, to be refused with the reason.
            if self.keys.publishes(hit.kid.as_deref(), hit.alg) {
                return Ok((hit, true));
            }
            self.cache.remove(token);
        }
        // Hashed and logged only when the token is new: a cache hit formats nothing.
        let hash = token_hash(token);
        tracing::debug!(token = %fingerprint(&hash), "validating bearer token");
        let validated = Arc::new(self.validate_uncached(token, &hash, now).await?);
        self.cache
            .insert(token, validated.clone(), now, self.leeway);
        Ok((validated, false))
    }

    async fn validate_uncached(
        &self,
        token: &str,
        hash: &[u8; 32],
        now: u64,
    ) -> Result<Validated, ApiError> {
        let header = read_header(token)?;
        let key = self
            .keys
            .key_for(header.kid.as_deref(), header.alg, unverified_iat(token))
            .await
            .map_err(|e| match e.retry_after() {
                // We cannot check the token now: not its fault, so not a 401.
                Some(wait) => ApiError::KeysUnavailable {
                    description: e.to_string(),
                    retry_after_secs: retry_after_secs(wait),
                },
                None => ApiError::InvalidToken(e.to_string()),
            })?;
        if key.family != header.alg.family() || key.alg.is_some_and(|a| a != header.alg) {
            return Err(ApiError::InvalidToken(format!(
                "the token says alg {:?} but key {:?} is a {:?} key{}",
                header.alg,
                key.kid,
                key.family,
                key.alg.map(|a| format!(" for {a:?}")).unwrap_or_default()
            )));
        }

        let mut validation = Validation::new(header.alg);
        validation.leeway = self.leeway;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        let mut required = vec!["exp", "iss"];
        match &self.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            // Without a configured audience `aud` is informational: Keycloak puts `account`
            // there by default, which says nothing about this API.
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);

        let claims = jsonwebtoken::decode::<Claims>(token, &key.key, &validation)
            .map_err(|e| self.explain(e, token, key.kid.as_deref(), now))?
            .claims;

        if let Some(iat) = claims.iat
            && iat > now + self.leeway
        {
            return Err(ApiError::InvalidToken(format!(
                "the token claims to be issued {} s in the future (iat {iat}); check the clocks",
                iat - now
            )));
        }
        // An ID token or a refresh token is signed by the same key and has the same issuer:
        // only its type tells it apart.
        match claims.typ.as_deref() {
            // Keycloak writes `DPoP` into a DPoP-bound access token (`DPoPUtil`'s mapper).
            Some(typ)
                if typ.eq_ignore_ascii_case("Bearer")
                    || typ.eq_ignore_ascii_case(playbook::rfc9449::SCHEME) => {}
            Some(typ) => {
                return Err(ApiError::InvalidToken(format!(
                    "the token's typ claim is {typ:?}: it is not an access token (Keycloak \
                     access tokens say \"Bearer\", or \"DPoP\" when DPoP-bound; \"ID\" is an \
                     ID token, \"Refresh\" a refresh token)"
                )));
            }
            None if is_rfc9068(header.typ.as_deref()) => {}
            None => {
                return Err(ApiError::InvalidToken(
                    "the token does not say it is an access token: neither header typ at+jwt \
                     (RFC 9068) nor claim typ Bearer (Keycloak)"
                        .into(),
                ));
            }
        }
        check_confirmation(claims.cnf.as_ref())?;
        if let Some(expected) = &self.authorized_party
            && claims.client() != Some(expected.as_str())
        {
            return Err(ApiError::InvalidToken(format!(
                "the token was issued to client {:?}, this server accepts only {expected:?} (azp)",
                claims.client()
            )));
        }
        Ok(Validated {
            claims,
            alg: header.alg,
            kid: header.kid,
            fingerprint: fingerprint(hash),
        })
    }

    /// A refusal message that teaches. The signature was verified before any claim check
    /// failed, so reading the claims for the message is safe.
    fn explain(
        &self,
        error: jsonwebtoken::errors::Error,
        token: &str,
        kid: Option<&str>,
        now: u64,
    ) -> ApiError {
        let claim = |name: &str| {
            jsonwebtoken::dangerous::insecure_decode_claims::<serde_json::Value>(token)
                .ok()
                .and_then(|c| c.get(name).cloned())
                .unwrap_or(serde_json::Value::Null)
        };
        let leeway = self.leeway;
        let text = match error.kind() {
            ErrorKind::ExpiredSignature => {
                let exp = claim("exp").as_u64().unwrap_or_default();
                format!(
                    "the token expired at {exp}, {} s ago (leeway {leeway} s); get a new token",
                    now.saturating_sub(exp)
                )
            }
            ErrorKind::ImmatureSignature => {
                let nbf = claim("nbf").as_u64().unwrap_or_default();
                format!(
                    "the token is not valid before {nbf}, {} s from now (leeway {leeway} s)",
                    nbf.saturating_sub(now)
                )
            }
            ErrorKind::InvalidSignature => format!(
                "the signature does not verify with the provider's key {}: the token was \
                 altered or signed by someone else",
                kid.map(|k| format!("{k:?}"))
                    .unwrap_or_else(|| "(no kid)".to_owned())
            ),
            ErrorKind::InvalidIssuer => format!(
                "the token was issued by {}, this server trusts only {:?}. Start the resource \
                 server with --issuer equal to the token's iss, or get the token from that \
                 issuer (localhost and 127.0.0.1 are different issuers: the host must match \
                 exactly)",
                claim("iss"),
                self.issuer
            ),
            ErrorKind::InvalidAudience => format!(
                "the token's audience {} does not include {:?}",
                claim("aud"),
                self.audience.as_deref().unwrap_or_default()
            ),
            ErrorKind::MissingRequiredClaim(name) => format!("the token has no {name} claim"),
            ErrorKind::InvalidClaimFormat(name) => {
                format!("the token's {name} claim is not a NumericDate")
            }
            ErrorKind::InvalidAlgorithm => {
                "the token's algorithm does not match the provider's key".to_owned()
            }
            ErrorKind::Json(e) => {
                return ApiError::InvalidToken(format!(
                    "the token's payload is not the JSON claims an access token has: {e}"
                ));
            }
            ErrorKind::Base64(_) | ErrorKind::Utf8(_) | ErrorKind::InvalidToken => {
                return malformed(error);
            }
            _ => format!("the token cannot be verified: {error}"),
        };
        ApiError::InvalidToken(text)
    }
}

/// Validated tokens, keyed by the token itself, until they expire. A hit is an exact
/// comparison of the whole token, found through a fast seeded hash (foldhash): no
/// cryptographic hash on the path every kept-alive request takes. Only tokens whose
/// signature verified get in. Bounded: when full, expired entries go first; if it is still
/// full, it starts over (a flood of distinct valid tokens costs RSA verifications again,
/// never unbounded memory).
#[derive(Debug)]
struct TokenCache {
    max_entries: usize,
    entries: Mutex<HashMap<Box<str>, Arc<Validated>, foldhash::fast::RandomState>>,
}

impl TokenCache {
    fn new(max_entries: usize) -> Self {
        TokenCache {
            max_entries,
            entries: Mutex::new(HashMap::default()),
        }
    }

    fn get(&self, token: &str, now: u64, leeway: u64) -> Option<Arc<Validated>> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let hit = entries.get(token)?;
        if hit.claims.exp + leeway < now {
            entries.remove(token);
            return None;
        }
        Some(hit.clone())
    }

    fn remove(&self, token: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.remove(token);
    }

    fn insert(&self, token: &str, validated: Arc<Validated>, now: u64, leeway: u64) {
        if self.max_entries == 0 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.max_entries {
            entries.retain(|_, v| v.claims.exp + leeway >= now);
            if entries.len() >= self.max_entries {
                entries.clear();
            }
        }
        entries.insert(token.into(), validated);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_that_are_refused_before_any_key_lookup() {
        let b64 = |json: &str| URL_SAFE_NO_PAD.encode(json);
        let token = |header: &str| format!("{}.{}.sig", b64(header), b64("{}"));
        let reason = |t: &str| read_header(t).unwrap_err().to_string();
        assert!(reason(&token(r#"{"alg":"none"}"#)).contains("unsigned"));
        assert!(reason(&token(r#"{"alg":"HS256"}"#)).contains("key confusion"));
        assert!(reason(&token(r#"{"alg":"RS256","crit":["b64"]}"#)).contains("crit"));
        assert!(reason(&token(r#"{"alg":"RS256","typ":"dpop+jwt"}"#)).contains("typ"));
        assert!(reason(&token(r#"{"alg":"XX1"}"#)).contains("supported"));
        assert!(reason("a.b.c.d.e").contains("JWE"));
        assert!(reason("abc").contains("well-formed"));
        let ok = read_header(&token(r#"{"alg":"RS256","typ" : "JWT","kid" : "k1"}"#)).unwrap();
        assert_eq!((ok.alg, ok.kid.as_deref()), (Algorithm::RS256, Some("k1")));
        assert!(read_header(&token(r#"{"alg":"ES256","typ":"at+jwt"}"#)).is_ok());
    }
}
