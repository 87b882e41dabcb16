//! Calling the resource server with the access token (RFC 6750 §2.1 `Authorization: Bearer`)
//! over a connection that presents the client certificate: with a certificate-bound token
//! (RFC 8705 §3) the resource server compares `cnf.x5t#S256` with the certificate of *this*
//! connection, so the token is useless to anyone without the private key.
//!
//! [`TokenCache`] keeps the token until shortly before it expires, and [`call_cached`]
//! fetches a new one once if the resource server answers `invalid_token`.

use std::time::{Duration, Instant};

use playbook::oauth::BearerError;
use serde_json::Value;
use url::Url;

use crate::error::ClientError;
use crate::token::{AccessToken, TokenResponse};

/// What the resource server answered.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ApiResponse {
    pub status: u16,
    /// RFC 6750 §3: `Bearer error="invalid_token", …` on 401/403.
    pub www_authenticate: Option<String>,
    /// JSON when it is JSON, else the text.
    pub body: Value,
}

impl ApiResponse {
    /// The RFC 6750 §3.1 code: from `WWW-Authenticate` (`error="…"`), else the JSON body.
    pub fn error_code(&self) -> Option<BearerError> {
        self.error_field("error")
            .map(|code| BearerError::parse(&code))
    }

    /// 401 `invalid_token` (RFC 6750 §3.1): the token itself was refused (expired, revoked,
    /// badly signed, or bound to another certificate), so a new one may help.
    pub fn is_invalid_token(&self) -> bool {
        self.status == 401 && self.error_code() == Some(BearerError::InvalidToken)
    }

    /// The RFC 6750 §3 `error_description`: from `WWW-Authenticate`, else the JSON body.
    pub fn error_description(&self) -> Option<String> {
        self.error_field("error_description")
    }

    /// `name="…"` from `WWW-Authenticate`, else `name` in the JSON body.
    fn error_field(&self, name: &str) -> Option<String> {
        let from_header = self
            .www_authenticate
            .as_deref()
            .and_then(|h| playbook::oauth::challenge_param(h, name));
        from_header.or_else(|| {
            self.body
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
    }

    /// One line for people: `403 Forbidden insufficient_scope {…}`.
    pub fn summary(&self) -> String {
        let reason = reqwest::StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        let mut s = format!("{} {reason}", self.status);
        if let Some(h) = &self.www_authenticate {
            s.push_str(&format!("\nWWW-Authenticate: {h}"));
        }
        // An error body that only repeats WWW-Authenticate's error and description is not
        // printed twice.
        let repeats_header = self.www_authenticate.is_some()
            && self
                .body
                .as_object()
                .is_some_and(|o| o.keys().all(|k| k == "error" || k == "error_description"));
        if !self.body.is_null() && !repeats_header {
            // Short bodies on one line; long ones (whoami's claims) pretty-printed.
            let line = self.body.to_string();
            let body = if line.chars().count() > 100 {
                serde_json::to_string_pretty(&self.body).unwrap_or(line)
            } else {
                line
            };
            let body: String = body.chars().take(4000).collect();
            s.push_str(&format!("\n{body}"));
        }
        s
    }
}

/// `method` `{base}{path}` with the bearer token, over `http` (which carries the identity).
pub async fn call(
    http: &crate::http::Http,
    base: &Url,
    method: reqwest::Method,
    path: &str,
    token: &AccessToken,
    body: Option<&Value>,
) -> Result<ApiResponse, ClientError> {
    call_with(http, base, method, path, token, body, None).await
}

/// [`call`]; with `dpop`, the token goes as `Authorization: DPoP` with a fresh proof of
/// that key for this request (RFC 9449 §7.1: `htm`, `htu`, `ath`).
pub async fn call_with(
    http: &crate::http::Http,
    base: &Url,
    method: reqwest::Method,
    path: &str,
    token: &AccessToken,
    body: Option<&Value>,
    dpop: Option<&playbook::rfc9449::DpopKey>,
) -> Result<ApiResponse, ClientError> {
    let proof = match dpop {
        None => None,
        Some(key) => Some(key.proof(
            method.as_str(),
            api_url(base, path)?.as_str(),
            Some(token.secret()),
            crate::token::unix_now(),
        )),
    };
    call_with_proof(http, base, method, path, token, body, proof.as_deref()).await
}

/// [`call`] with a DPoP proof made beforehand (`Some`: the token goes as
/// `Authorization: DPoP`, the proof in the `DPoP` header), exactly as given: `client
/// compare` sends a captured proof a second time, from another connection.
pub async fn call_with_proof(
    http: &crate::http::Http,
    base: &Url,
    method: reqwest::Method,
    path: &str,
    token: &AccessToken,
    body: Option<&Value>,
    proof: Option<&str>,
) -> Result<ApiResponse, ClientError> {
    let url = api_url(base, path)?;
    let mut request = http.request(method, url.clone());
    request = match proof {
        None => request.bearer_auth(token.secret()),
        Some(proof) => request
            .header(
                reqwest::header::AUTHORIZATION,
                format!("{} {}", playbook::rfc9449::SCHEME, token.secret()),
            )
            .header(playbook::rfc9449::HEADER, proof),
    };
    if let Some(b) = body {
        request = request.json(b);
    }
    let reply = crate::http::send_json(http, request, &url).await?;
    Ok(ApiResponse {
        status: reply.status.as_u16(),
        www_authenticate: reply.header(reqwest::header::WWW_AUTHENTICATE),
        body: reply.json,
    })
}

/// `{base}{path}`; `path` must start with `/`.
pub fn api_url(base: &Url, path: &str) -> Result<Url, ClientError> {
    if !path.starts_with('/') {
        return Err(ClientError::Setting {
            name: "PATH",
            value: path.to_owned(),
            fix: "give the API path starting with '/', e.g. /api/users".into(),
        });
    }
    base.join(path).map_err(|e| ClientError::Setting {
        name: "PATH",
        value: path.to_owned(),
        fix: e.to_string(),
    })
}

/// An access token kept until shortly before it expires, with the DPoP key it is bound to
/// when it is (its calls then carry proofs of that key).
#[derive(Debug)]
pub struct TokenCache {
    cached: Option<(AccessToken, Instant)>,
    /// Refetch this long before `expires_in` runs out, so a token never expires in flight.
    margin: Duration,
    dpop: Option<std::sync::Arc<playbook::rfc9449::DpopKey>>,
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache::new(Duration::from_secs(30))
    }
}

/// Where the token of a call came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenSource {
    /// From the cache.
    Cached,
    /// Fetched because there was none, or it was about to expire.
    Fetched,
    /// Fetched again after the resource server said `invalid_token`.
    Refetched,
}

impl TokenCache {
    pub fn new(margin: Duration) -> Self {
        TokenCache {
            cached: None,
            margin,
            dpop: None,
        }
    }

    /// The tokens of this cache are bound to `key` (RFC 9449): calls send proofs of it.
    pub fn with_dpop(mut self, key: Option<std::sync::Arc<playbook::rfc9449::DpopKey>>) -> Self {
        self.dpop = key;
        self
    }

    /// The cached token if it has more than the margin left.
    pub fn valid(&self) -> Option<&AccessToken> {
        match &self.cached {
            Some((token, expires)) if Instant::now() + self.margin < *expires => Some(token),
            _ => None,
        }
    }

    /// Keeps `response`'s token until `expires_in` (no `expires_in`: one minute, a guess
    /// on the safe side; RFC 6749 §5.1 only RECOMMENDS the field).
    pub fn store(&mut self, response: &TokenResponse) {
        let lifetime = Duration::from_secs(response.expires_in.unwrap_or(60));
        self.cached = Some((response.access_token.clone(), Instant::now() + lifetime));
    }

    pub fn clear(&mut self) {
        self.cached = None;
    }
}

/// Calls `path` with a cached token (or one from `fetch`), and if the answer is
/// 401 `invalid_token`, fetches a new token and tries exactly once more.
pub async fn call_cached(
    http: &crate::http::Http,
    base: &Url,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
    cache: &mut TokenCache,
    mut fetch: impl AsyncFnMut() -> Result<TokenResponse, ClientError>,
) -> Result<(ApiResponse, TokenSource), ClientError> {
    let source = match cache.valid() {
        Some(_) => TokenSource::Cached,
        None => {
            let fresh = fetch().await?;
            cache.store(&fresh);
            TokenSource::Fetched
        }
    };
    let token = cache.valid().cloned().ok_or_else(|| {
        ClientError::Jwt("the provider issued a token that expires within the cache margin".into())
    })?;
    let dpop = cache.dpop.clone();
    let dpop = dpop.as_deref();
    let response = call_with(http, base, method.clone(), path, &token, body, dpop).await?;
    if response.is_invalid_token() {
        cache.clear();
        let fresh = fetch().await?;
        cache.store(&fresh);
        let retried = call_with(http, base, method, path, &fresh.access_token, body, dpop).await?;
        return Ok((retried, TokenSource::Refetched));
    }
    Ok((response, source))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(expires_in: u64) -> TokenResponse {
        TokenResponse {
            access_token: AccessToken::new("t"),
            token_type: "Bearer".into(),
            expires_in: Some(expires_in),
            scope: None,
            raw: Value::Null,
        }
    }

    #[test]
    fn cache_keeps_a_token_until_shortly_before_expiry() {
        let mut cache = TokenCache::new(Duration::from_secs(30));
        assert!(cache.valid().is_none());
        cache.store(&response(300));
        assert!(cache.valid().is_some());
        cache.store(&response(10));
        assert!(cache.valid().is_none(), "10s left is inside the 30s margin");
    }

    #[test]
    fn error_code_comes_from_www_authenticate_then_body() {
        let r = ApiResponse {
            status: 401,
            www_authenticate: Some(
                r#"Bearer realm="api", error="invalid_token", error_description="x""#.into(),
            ),
            body: serde_json::json!({"error": "other"}),
        };
        assert_eq!(r.error_code(), Some(BearerError::InvalidToken));
        let r = ApiResponse {
            status: 403,
            www_authenticate: None,
            body: serde_json::json!({"error": "insufficient_scope"}),
        };
        assert_eq!(r.error_code(), Some(BearerError::InsufficientScope));
    }

    #[test]
    fn paths_must_be_absolute() {
        let base = Url::parse("https://localhost:8443").unwrap();
        assert_eq!(
            api_url(&base, "/api/users").unwrap().as_str(),
            "https://localhost:8443/api/users"
        );
        assert!(
            api_url(&base, "api/users")
                .unwrap_err()
                .to_string()
                .contains("/api/users")
        );
    }
}
