//! What the resource server checks before a handler runs, as axum extractors: a handler's
//! signature states what the route needs.
//!
//! ```text
//! async fn list_users(Role(auth, _): Role<Readonly>) -> ...   // a realm role
//! async fn scoped(Scope(auth, _): Scope<UsersRead>) -> ...    // a scope
//! async fn whoami(auth: Authenticated) -> ...                  // any valid token
//! ```
//!
//! The pipeline, in order (each step's refusal is logged with its reason; the token itself
//! only as a short SHA-256 fingerprint):
//!
//! 1. **The `Authorization` header** ([RFC 6750 §2.1]): exactly one, scheme `Bearer`, a
//!    `b64token`. Missing → 401 without error code; malformed → 400 `invalid_request`. A token
//!    in the URL (`?access_token=`, RFC 6750 §2.3) is refused: URLs end up in logs.
//! 2. **A client certificate on this connection**: in `--client-auth request` mode a
//!    connection may have none; protected routes then answer 401 saying so.
//! 3. **The token** ([`Validator`]): JWS header (`alg` on the asymmetric allow-list, never
//!    `none` or HMAC; no `crit`), key by `kid` from the JWKS ([`crate::jwks`]), signature,
//!    `exp`/`nbf`/`iat` with leeway, `iss` exact, an access token and not an ID or refresh
//!    token (header `typ: at+jwt` per [RFC 9068], or Keycloak's claim `typ: Bearer`),
//!    `aud`/`azp` when configured. A validated token is cached by its SHA-256 until it
//!    expires or its key is no longer published, so repeated calls skip the signature check.
//! 4. **The certificate binding** ([RFC 8705 §3]): `cnf.x5t#S256` must equal the SHA-256
//!    thumbprint of *this* connection's client certificate. It runs on every request,
//!    cached token or not. `--require-binding` also refuses
//!    unbound tokens. A `cnf` with any other confirmation method (`jkt` of RFC 9449 DPoP,
//!    `jwk`, …) is refused: the issuer wanted a binding this server cannot check.
//! 5. **The route's role or scope** ([`Role`], [`Scope`]): 403 `insufficient_scope`. Roles
//!    come from `realm_access.roles` (Keycloak) or `roles` (RFC 9068 §7.2.1.1); scopes from
//!    the space-separated `scope` claim, matched exactly, never by substring.
//!
//! [RFC 6750 §2.1]: https://www.rfc-editor.org/rfc/rfc6750#section-2.1
//! [RFC 9068]: https://www.rfc-editor.org/rfc/rfc9068#section-2.1
//! [RFC 8705 §3]: https://www.rfc-editor.org/rfc/rfc8705#section-3

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use aws_lc_rs::digest;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation, get_current_timestamp};
use playbook::names;
use playbook::rfc8705;
use playbook::server::Connection;
use serde::{Deserialize, Deserializer, Serialize};

use crate::AppState;
use crate::config::Config;
use crate::error::{ApiError, RealmError};
use crate::jwks::{ALLOWED_ALGORITHMS, KeyStore, retry_after_secs};

// ---------------------------------------------------------------------------------------
// Claims

/// The claims this server reads. Unknown claims are ignored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    // `iss` and `exp` default when absent so that the check that requires them (in
    // `jsonwebtoken::decode`) reports the missing claim by name.
    #[serde(default)]
    pub iss: String,
    #[serde(default)]
    pub sub: Option<String>,
    /// `aud` may be a string or an array (RFC 7519 §4.1.3); always a list here.
    #[serde(default, deserialize_with = "string_or_list")]
    pub aud: Vec<String>,
    #[serde(default, deserialize_with = "numeric_date")]
    pub exp: u64,
    #[serde(default, deserialize_with = "optional_numeric_date")]
    pub nbf: Option<u64>,
    #[serde(default, deserialize_with = "optional_numeric_date")]
    pub iat: Option<u64>,
    #[serde(default)]
    pub jti: Option<String>,
    /// Keycloak: `Bearer` for access tokens, `ID` for ID tokens, `Refresh` for refresh tokens.
    #[serde(default)]
    pub typ: Option<String>,
    /// The client the token was issued to (OIDC; Keycloak sets it).
    #[serde(default)]
    pub azp: Option<String>,
    /// The client the token was issued to (RFC 9068 §2.2).
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub realm_access: Option<RealmAccess>,
    /// RFC 9068 §7.2.1.1 (SCIM-style) roles, for providers that are not Keycloak.
    #[serde(default)]
    pub roles: Option<Vec<String>>,
    /// RFC 8705 §3.1 confirmation: the certificate the token is bound to.
    #[serde(default)]
    pub cnf: Option<Confirmation>,
    #[serde(default)]
    pub preferred_username: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RealmAccess {
    #[serde(default)]
    pub roles: Vec<String>,
}

pub use playbook::rfc8705::Confirmation;

impl Claims {
    /// The client the token was issued to: `azp`, else `client_id`.
    pub fn client(&self) -> Option<&str> {
        self.azp.as_deref().or(self.client_id.as_deref())
    }

    /// Realm roles: Keycloak's `realm_access.roles` plus RFC 9068 `roles`.
    pub fn roles(&self) -> Vec<&str> {
        let realm = self.realm_access.iter().flat_map(|r| r.roles.iter());
        let plain = self.roles.iter().flatten();
        realm.chain(plain).map(String::as_str).collect()
    }

    /// The granted scopes: the `scope` claim split on spaces (RFC 6749 §3.3).
    pub fn scopes(&self) -> Vec<&str> {
        scopes_of(self.scope.as_deref())
    }

    pub fn has_role(&self, role: &str) -> bool {
        let realm = self.realm_access.iter().flat_map(|r| r.roles.iter());
        realm.chain(self.roles.iter().flatten()).any(|r| r == role)
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        has_scope(self.scope.as_deref(), scope)
    }

    pub fn bound_thumbprint(&self) -> Option<&str> {
        self.cnf.as_ref().and_then(|c| c.x5t_s256.as_deref())
    }
}

/// RFC 6749 §3.3: `scope = scope-token *( SP scope-token )`.
pub fn scopes_of(scope: Option<&str>) -> Vec<&str> {
    scope
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect()
}

/// Exact match of one scope token: `users:read` is not granted by `users:readonly` nor by
/// `admin users:read:all`.
pub fn has_scope(scope: Option<&str>, wanted: &str) -> bool {
    scopes_of(scope).contains(&wanted)
}

/// NumericDate (RFC 7519 §2): seconds, possibly fractional.
fn numeric_date<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    n.as_u64()
        .or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| f as u64)
        })
        .ok_or_else(|| serde::de::Error::custom("a NumericDate must be a non-negative number"))
}

fn optional_numeric_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    numeric_date(d).map(Some)
}

fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

// ---------------------------------------------------------------------------------------
// Token validation

/// A token that passed every check except the per-connection binding.
#[derive(Debug, Clone, Serialize)]
pub struct Validated {
    pub claims: Claims,
    pub alg: Algorithm,
    pub kid: Option<String>,
    /// `sha256:` + the first 12 hex digits of the token's SHA-256: safe to log.
    pub fingerprint: String,
}

fn token_hash(token: &str) -> [u8; 32] {
    let mut hash = [0u8; 32];
    hash.copy_from_slice(digest::digest(&digest::SHA256, token.as_bytes()).as_ref());
    hash
}

fn fingerprint(hash: &[u8; 32]) -> String {
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
        }
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
            Some(typ) if typ.eq_ignore_ascii_case("Bearer") => {}
            Some(typ) => {
                return Err(ApiError::InvalidToken(format!(
                    "the token's typ claim is {typ:?}: it is not an access token (Keycloak \
                     access tokens say \"Bearer\"; \"ID\" is an ID token, \"Refresh\" a refresh token)"
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

// ---------------------------------------------------------------------------------------
// The Authorization header

/// A byte RFC 6750 §2.1 allows in a `b64token` before its trailing `=`. Written with `|`,
/// not `||`, and ranges as wrapping subtractions, so that the check of a whole ~1 KB token
/// compiles to vector code: it runs on every request.
fn is_b64token_byte(c: u8) -> bool {
    let letter = (c | 0x20).wrapping_sub(b'a') < 26;
    let digit = c.wrapping_sub(b'0') < 10;
    letter
        | digit
        | (c == b'-')
        | (c == b'.')
        | (c == b'_')
        | (c == b'~')
        | (c == b'+')
        | (c == b'/')
}

/// RFC 6750 §2.1 `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    // Whole 64-byte chunks without an early exit inside: vector code; a bad chunk still
    // stops the scan.
    !body.is_empty()
        && body
            .as_bytes()
            .chunks(64)
            .all(|chunk| chunk.iter().fold(true, |ok, &b| ok & is_b64token_byte(b)))
}

/// The bearer token of a request, or the refusal for a missing or malformed one.
pub fn bearer_token<'a>(headers: &'a HeaderMap, query: Option<&str>) -> Result<&'a str, ApiError> {
    let in_query = query.is_some_and(|q| {
        q.split('&')
            .any(|pair| pair.split('=').next() == Some("access_token"))
    });
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let value = match (values.next(), values.next()) {
        (None, _) if in_query => {
            return Err(ApiError::InvalidRequest(
                "access_token in the URL is not accepted (URLs end up in logs, RFC 6750 §2.3); \
                 send it as Authorization: Bearer <token>"
                    .into(),
            ));
        }
        (None, _) => {
            return Err(ApiError::NoToken(
                "this API needs an access token: send Authorization: Bearer <token>".into(),
            ));
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::InvalidRequest(
                "more than one Authorization header".into(),
            ));
        }
        (Some(value), None) => value,
    };
    if in_query {
        return Err(ApiError::InvalidRequest(
            "the token is sent both in the Authorization header and in the URL; use only the header"
                .into(),
        ));
    }
    let value = value.to_str().map_err(|_| {
        ApiError::InvalidRequest("the Authorization header is not printable ASCII".into())
    })?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    // RFC 7235 §2.1: the scheme is case-insensitive.
    if !scheme.eq_ignore_ascii_case("Bearer") {
        return Err(ApiError::NoToken(format!(
            "this API accepts only Bearer tokens, not the {scheme:?} scheme"
        )));
    }
    let token = rest.trim_start_matches(' ');
    if token.is_empty() {
        return Err(ApiError::InvalidRequest(
            "Authorization: Bearer is followed by no token".into(),
        ));
    }
    if !is_b64token(token) {
        return Err(ApiError::InvalidRequest(
            "the bearer token contains characters a token cannot have (RFC 6750 §2.1 b64token: \
             letters, digits and -._~+/ with trailing =)"
                .into(),
        ));
    }
    Ok(token)
}

// ---------------------------------------------------------------------------------------
// The certificate binding

/// A `cnf` this server cannot fully verify means the issuer wanted the token bound to
/// something this server does not check: the token is refused, never downgraded to a
/// plain bearer token. Only `x5t#S256` (RFC 8705) is understood.
pub fn check_confirmation(cnf: Option<&Confirmation>) -> Result<(), ApiError> {
    match cnf.and_then(Confirmation::refusal) {
        Some(why) => Err(ApiError::InvalidToken(why)),
        None => Ok(()),
    }
}

/// The RFC 8705 check, as `/api/whoami` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Binding {
    /// `cnf.x5t#S256` of the token, if it is bound.
    pub token_x5t_s256: Option<String>,
    /// SHA-256 thumbprint of the client certificate on this connection.
    pub connection_x5t_s256: Option<String>,
    /// `matches`, or `unbound` (accepted because `--require-binding` is off).
    pub result: &'static str,
    /// Where the client's TLS ended: `this server`, or `proxy <addr>` when a trusted
    /// proxy terminated it and forwarded the certificate (checked the same way).
    pub tls_terminated_at: String,
}

/// Compares the token's `cnf.x5t#S256` with the certificate of this connection.
pub fn check_binding(
    claims: &Claims,
    connection: &Connection,
    require_binding: bool,
) -> Result<Binding, ApiError> {
    // Hashed once per connection, not per request.
    let presented = connection.client_x5t_s256();
    let binding = rfc8705::compare(claims.bound_thumbprint(), presented);
    let result = match &binding {
        rfc8705::Binding::Matches { .. } => "matches",
        rfc8705::Binding::Differs { token, presented } => {
            return Err(ApiError::InvalidToken(format!(
                "the token is bound to certificate x5t#S256={token} but this connection \
                 presented x5t#S256={presented} (RFC 8705 §3): use the certificate the \
                 token was issued to"
            )));
        }
        rfc8705::Binding::NoCertificate { .. } => {
            return Err(ApiError::InvalidToken(
                "the token is certificate-bound but this connection has no client certificate"
                    .into(),
            ));
        }
        rfc8705::Binding::Unbound if require_binding => {
            return Err(ApiError::InvalidToken(
                "the token is not bound to a certificate (no cnf.x5t#S256) and this server \
                 requires binding (RFC 8705 §3). Get the token with the client certificate \
                 (tls_client_auth) from a client whose tokens are certificate-bound (Keycloak client \
                 attribute tls.client.certificate.bound.access.tokens=true); a token \
                 obtained with a client secret is never bound"
                    .into(),
            ));
        }
        rfc8705::Binding::Unbound => "unbound",
    };
    let tls_terminated_at = match connection.forwarded_by {
        Some(proxy) => format!("proxy {proxy}"),
        None => "this server".to_owned(),
    };
    Ok(Binding {
        token_x5t_s256: binding.token().map(str::to_owned),
        connection_x5t_s256: presented.map(str::to_owned),
        result,
        tls_terminated_at,
    })
}

// ---------------------------------------------------------------------------------------
// Extractors

/// A request that carries a valid token, bound to this connection's certificate.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub token: Arc<Validated>,
    pub binding: Binding,
    /// Whether the signature check was skipped because the token was cached.
    pub from_cache: bool,
}

impl Authenticated {
    pub fn claims(&self) -> &Claims {
        &self.token.claims
    }
}

async fn authenticate(state: &AppState, parts: &Parts) -> Result<Authenticated, ApiError> {
    // Absent only when the router runs without `playbook::server::serve` (no TLS at all).
    let connection = parts
        .extensions
        .get::<Connection>()
        .filter(|c| c.client_leaf().is_some());
    let token = match bearer_token(&parts.headers, parts.uri.query()) {
        Err(ApiError::NoToken(_)) if connection.is_none() => {
            return Err(ApiError::NoToken(
                "this API needs mutual TLS and an access token: present the client certificate \
                 and send Authorization: Bearer <token>"
                    .into(),
            ));
        }
        other => other?,
    };
    let Some(connection) = connection else {
        return Err(ApiError::InvalidToken(
            "this connection presented no client certificate: the API requires mutual TLS \
             (RFC 8705). Present the client certificate the token was issued to"
                .into(),
        ));
    };
    let (validated, from_cache) = state.validator.validate(token).await?;
    let binding = check_binding(&validated.claims, connection, state.config.require_binding)?;
    Ok(Authenticated {
        token: validated,
        binding,
        from_cache,
    })
}

/// Logs a refusal with its reason and turns it into the RFC 6750 response.
fn refuse(state: &AppState, parts: &Parts, error: ApiError) -> RealmError {
    let peer = parts
        .extensions
        .get::<Connection>()
        .map(|c| c.remote_addr.to_string())
        .unwrap_or_default();
    let token = bearer_token(&parts.headers, None)
        .ok()
        .map(|t| fingerprint(&token_hash(t)));
    match &error {
        ApiError::KeysUnavailable { .. } => {
            tracing::warn!(method = %parts.method, path = %parts.uri.path(), %peer, ?token, "refused (503): {error}")
        }
        _ => {
            tracing::info!(method = %parts.method, path = %parts.uri.path(), %peer, ?token, "refused ({}): {error}", error.status().as_u16())
        }
    }
    error.with_realm(&state.config.realm)
}

impl<S> FromRequestParts<S> for Authenticated
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = RealmError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        match authenticate(&state, parts).await {
            Ok(auth) => {
                let claims = auth.claims();
                // A token is announced at info when it is first validated; later requests
                // with it (cache hits, the bulk of a kept-alive client's traffic) only at
                // trace, so that the default log formats nothing per request.
                if auth.from_cache {
                    tracing::trace!(
                        path = %parts.uri.path(),
                        jti = ?claims.jti,
                        binding = auth.binding.result,
                        "token accepted (cached)"
                    );
                } else {
                    tracing::info!(
                        path = %parts.uri.path(),
                        sub = ?claims.sub,
                        client = ?claims.client(),
                        jti = ?claims.jti,
                        binding = auth.binding.result,
                        cached = auth.from_cache,
                        "token accepted"
                    );
                }
                Ok(auth)
            }
            Err(error) => Err(refuse(&state, parts, error)),
        }
    }
}

/// A realm role a route requires.
pub trait RequiredRole: Send + Sync {
    const ROLE: &'static str;
}

/// A scope a route requires.
pub trait RequiredScope: Send + Sync {
    const SCOPE: &'static str;
}

/// `GET /api/users`: [`names::READONLY_ROLE`].
#[derive(Debug)]
pub struct Readonly;
impl RequiredRole for Readonly {
    const ROLE: &'static str = names::READONLY_ROLE;
}

/// `POST /api/users`: [`names::WRITE_ROLE`], which the walkthrough never grants.
#[derive(Debug)]
pub struct Write;
impl RequiredRole for Write {
    const ROLE: &'static str = names::WRITE_ROLE;
}

/// The optional client scope [`names::USERS_READ_SCOPE`].
#[derive(Debug)]
pub struct UsersRead;
impl RequiredScope for UsersRead {
    const SCOPE: &'static str = names::USERS_READ_SCOPE;
}

/// An authenticated request whose token has realm role `R`.
#[derive(Debug)]
pub struct Role<R>(pub Authenticated, pub PhantomData<R>);

impl<S, R> FromRequestParts<S> for Role<R>
where
    AppState: FromRef<S>,
    S: Send + Sync,
    R: RequiredRole,
{
    type Rejection = RealmError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = Authenticated::from_request_parts(parts, state).await?;
        if auth.claims().has_role(R::ROLE) {
            return Ok(Role(auth, PhantomData));
        }
        let error = ApiError::InsufficientScope {
            description: format!(
                "this route needs the realm role {}; the token's realm roles are {:?}. Assign \
                 the role to the client's service account and get a new token",
                R::ROLE,
                auth.claims().roles()
            ),
            scope: None,
        };
        Err(refuse(&AppState::from_ref(state), parts, error))
    }
}

/// An authenticated request whose token was granted scope `S`.
#[derive(Debug)]
pub struct Scope<R>(pub Authenticated, pub PhantomData<R>);

impl<S, R> FromRequestParts<S> for Scope<R>
where
    AppState: FromRef<S>,
    S: Send + Sync,
    R: RequiredScope,
{
    type Rejection = RealmError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = Authenticated::from_request_parts(parts, state).await?;
        if auth.claims().has_scope(R::SCOPE) {
            return Ok(Scope(auth, PhantomData));
        }
        let error = ApiError::InsufficientScope {
            description: format!(
                "this route needs the scope {}; the token grants {:?}. Request it with scope={}",
                R::SCOPE,
                auth.claims().scopes(),
                R::SCOPE
            ),
            scope: Some(R::SCOPE.to_owned()),
        };
        Err(refuse(&AppState::from_ref(state), parts, error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use playbook::oauth::BearerError;

    #[test]
    fn scopes_match_exactly_never_by_substring() {
        assert!(has_scope(Some("profile users:read email"), "users:read"));
        assert!(has_scope(Some("users:read"), "users:read"));
        assert!(!has_scope(Some("users:readonly"), "users:read"));
        assert!(!has_scope(Some("admin:users:read"), "users:read"));
        assert!(!has_scope(Some("users:read:all profile"), "users:read"));
        assert!(!has_scope(Some("users"), "users:read"));
        assert!(!has_scope(Some(""), "users:read"));
        assert!(!has_scope(None, "users:read"));
        // Scope tokens are case-sensitive (RFC 6749 §3.3).
        assert!(!has_scope(Some("USERS:READ"), "users:read"));
        assert_eq!(scopes_of(Some("a  b ")), ["a", "b"]);
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    /// The vectorizable byte check says exactly what RFC 6750 §2.1's grammar says, for
    /// all 256 bytes.
    #[test]
    fn b64token_bytes_are_the_rfc_6750_set() {
        for b in 0..=255u8 {
            let rfc = b.is_ascii_alphanumeric() || b"-._~+/".contains(&b);
            assert_eq!(is_b64token_byte(b), rfc, "byte {b:#04x}");
        }
        let long = "a".repeat(200) + "/" + &"B".repeat(100);
        assert!(is_b64token(&long));
        assert!(!is_b64token(&(long.clone() + "!")));
        assert!(!is_b64token(&format!(
            "{}\u{e9}{}",
            &long[..70],
            &long[70..]
        )));
    }

    #[test]
    fn authorization_header_forms() {
        assert_eq!(
            bearer_token(&headers(&["Bearer abc.def-_"]), None).unwrap(),
            "abc.def-_"
        );
        assert_eq!(
            bearer_token(&headers(&["bearer abc"]), None).unwrap(),
            "abc"
        );
        assert_eq!(
            bearer_token(&headers(&["Bearer abc=="]), None).unwrap(),
            "abc=="
        );
        let code = |v: &[&str], q: Option<&str>| bearer_token(&headers(v), q).unwrap_err().code();
        assert_eq!(code(&[], None), None);
        assert_eq!(code(&["Basic dXNlcjpwYXNz"], None), None);
        assert_eq!(code(&["Bearer"], None), Some(BearerError::InvalidRequest));
        assert_eq!(code(&["Bearer "], None), Some(BearerError::InvalidRequest));
        assert_eq!(
            code(&["Bearer a b"], None),
            Some(BearerError::InvalidRequest)
        );
        assert_eq!(
            code(&["Bearer a\"b"], None),
            Some(BearerError::InvalidRequest)
        );
        assert_eq!(
            code(&["Bearer ==="], None),
            Some(BearerError::InvalidRequest)
        );
        assert_eq!(
            code(&["Bearer a", "Bearer b"], None),
            Some(BearerError::InvalidRequest)
        );
        assert_eq!(
            code(&[], Some("access_token=x")),
            Some(BearerError::InvalidRequest)
        );
        assert_eq!(
            code(&["Bearer a"], Some("x=1&access_token=x")),
            Some(BearerError::InvalidRequest)
        );
    }

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

    #[test]
    fn claims_read_keycloak_and_rfc9068_shapes() {
        let claims: Claims = serde_json::from_value(serde_json::json!({
            "iss": "i", "exp": 1.5e9, "aud": "account", "typ": "Bearer",
            "realm_access": {"roles": ["a"]}, "roles": ["b"],
            "cnf": {"x5t#S256": "t"}, "client_id": "c", "scope": "x y"
        }))
        .unwrap();
        assert_eq!(claims.exp, 1_500_000_000);
        assert_eq!(claims.aud, ["account"]);
        assert_eq!(claims.roles(), ["a", "b"]);
        assert_eq!(claims.client(), Some("c"));
        assert_eq!(claims.bound_thumbprint(), Some("t"));
        assert!(claims.has_scope("y") && !claims.has_scope("x y"));
    }

    #[test]
    fn binding_is_compared_with_this_connection() {
        let pki = playbook::pki::DevPki::generate(1, 1).unwrap();
        let claims = |cnf: Option<String>| -> Claims {
            serde_json::from_value(serde_json::json!({
                "iss": "i", "exp": 1, "cnf": cnf.map(|t| serde_json::json!({"x5t#S256": t}))
            }))
            .unwrap()
        };
        let conn = |cert: Option<&playbook::pki::Issued>| {
            Connection::new(
                ([127, 0, 0, 1], 1).into(),
                cert.map(|c| Arc::from(vec![c.cert_der.clone()])),
            )
        };
        let bound = claims(Some(pki.client.x5t_s256()));
        assert_eq!(
            check_binding(&bound, &conn(Some(&pki.client)), true)
                .unwrap()
                .result,
            "matches"
        );
        assert!(check_binding(&bound, &conn(Some(&pki.other_client)), false).is_err());
        assert!(check_binding(&bound, &conn(None), false).is_err());
        let unbound = claims(None);
        assert_eq!(
            check_binding(&unbound, &conn(Some(&pki.client)), false)
                .unwrap()
                .result,
            "unbound"
        );
        assert!(check_binding(&unbound, &conn(Some(&pki.client)), true).is_err());
    }
}
