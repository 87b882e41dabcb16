//! From an issuer URL to the provider's metadata, for the client and the resource server
//! alike ([OpenID Connect Discovery 1.0 §4], [RFC 8414 §3], with the [RFC 8705 §5]
//! additions `mtls_endpoint_aliases` and `tls_client_certificate_bound_access_tokens`):
//! `GET {issuer}/.well-known/openid-configuration`, check that the document speaks for the
//! issuer asked about, and read the endpoints.
//!
//! Every fetch here ([`get_json`], also used for the key set) is capped at
//! [`MAX_DOCUMENT_BYTES`] and refuses any status but 200. Nothing here is Keycloak-specific.
//!
//! [OpenID Connect Discovery 1.0 §4]: https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig
//! [RFC 8414 §3]: https://www.rfc-editor.org/rfc/rfc8414#section-3
//! [RFC 8705 §5]: https://www.rfc-editor.org/rfc/rfc8705#section-5

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;

/// Discovery documents and key sets are small; anything bigger is refused.
pub const MAX_DOCUMENT_BYTES: usize = 512 * 1024;

/// Why the metadata (or a document found through it) could not be had. Each message names
/// the URL and the likely fix.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DiscoveryError {
    #[error(
        "GET {url} failed: {detail}. Is the provider running, and does its certificate chain to the CA we trust?"
    )]
    Unreachable {
        url: String,
        detail: String,
        /// The transport error itself, for callers that classify it (refused, TLS, …).
        source: Arc<reqwest::Error>,
    },
    #[error(
        "GET {url} answered HTTP {status}: {excerpt}; check the issuer (the realm name is part of it)"
    )]
    Status {
        url: String,
        status: u16,
        excerpt: String,
    },
    #[error("GET {url}: the response is not valid JSON of the expected shape: {detail}")]
    BadJson { url: String, detail: String },
    #[error("GET {url}: the response is larger than {MAX_DOCUMENT_BYTES} bytes")]
    TooLarge { url: String },
    #[error(
        "the discovery document at {url} is for issuer {found:?}, not {expected:?}; set the issuer to exactly the provider's (OpenID Discovery §4.3){}",
        if found.trim_end_matches('/') == expected.trim_end_matches('/') { " — they differ only in a trailing '/'" } else { "" }
    )]
    IssuerMismatch {
        url: String,
        expected: String,
        found: String,
    },
    #[error("the discovery document at {url}: {detail}")]
    BadField { url: String, detail: String },
    #[error("the discovery document's jwks_uri {jwks_uri:?} is not an https URL")]
    InsecureJwksUri { jwks_uri: String },
    #[error("the key set at {url} has no usable signature key ({skipped})")]
    NoUsableKeys { url: String, skipped: String },
}

/// The metadata fields the playground uses, plus the whole document for display.
#[derive(Debug, Clone)]
pub struct ProviderMetadata {
    pub issuer: String,
    pub token_endpoint: url::Url,
    /// RFC 8705 §5: where a client authenticating with its certificate must send its
    /// requests, when the provider serves mTLS on other URLs.
    pub mtls_token_endpoint: Option<url::Url>,
    pub jwks_uri: Option<url::Url>,
    pub token_endpoint_auth_methods_supported: Vec<String>,
    pub tls_client_certificate_bound_access_tokens: bool,
    pub raw: Value,
}

impl ProviderMetadata {
    /// The token endpoint for `tls_client_auth`: the mTLS alias when there is one.
    pub fn token_endpoint_for_mtls(&self) -> &url::Url {
        self.mtls_token_endpoint
            .as_ref()
            .unwrap_or(&self.token_endpoint)
    }

    /// Whether the provider says it supports `method` (an absent list means "not said").
    pub fn supports_auth_method(&self, method: &str) -> Option<bool> {
        (!self.token_endpoint_auth_methods_supported.is_empty()).then(|| {
            self.token_endpoint_auth_methods_supported
                .iter()
                .any(|m| m == method)
        })
    }

    /// The key set's URL, which a resource server needs: present and https.
    pub fn https_jwks_uri(&self) -> Result<&url::Url, DiscoveryError> {
        match &self.jwks_uri {
            Some(u) if u.scheme() == "https" => Ok(u),
            other => Err(DiscoveryError::InsecureJwksUri {
                jwks_uri: other.as_ref().map_or_else(String::new, |u| u.to_string()),
            }),
        }
    }

    /// Parses a discovery document fetched from `url` and checks that it is the one for
    /// `issuer` (Discovery §4.3, RFC 8414 §3.3: identical, or tokens will not validate).
    pub fn from_json(url: &str, issuer: &str, raw: Value) -> Result<Self, DiscoveryError> {
        let bad = |detail: String| DiscoveryError::BadField {
            url: url.to_owned(),
            detail,
        };
        let string = |name: &str| raw.get(name).and_then(Value::as_str);
        let endpoint = |value: Option<&str>,
                        name: &str|
         -> Result<Option<url::Url>, DiscoveryError> {
            value
                .map(|v| {
                    url::Url::parse(v).map_err(|e| bad(format!("{name} {v:?} is not a URL: {e}")))
                })
                .transpose()
        };
        let published = string("issuer").ok_or_else(|| bad("no \"issuer\" field".into()))?;
        if published != issuer {
            return Err(DiscoveryError::IssuerMismatch {
                url: url.to_owned(),
                expected: issuer.to_owned(),
                found: published.to_owned(),
            });
        }
        let token_endpoint = endpoint(string("token_endpoint"), "token_endpoint")?
            .ok_or_else(|| bad("no \"token_endpoint\" field".into()))?;
        let mtls_token_endpoint = endpoint(
            raw.get("mtls_endpoint_aliases")
                .and_then(|a| a.get("token_endpoint"))
                .and_then(Value::as_str),
            "mtls_endpoint_aliases.token_endpoint",
        )?;
        let methods = raw
            .get("token_endpoint_auth_methods_supported")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Ok(ProviderMetadata {
            issuer: published.to_owned(),
            token_endpoint,
            mtls_token_endpoint,
            jwks_uri: endpoint(string("jwks_uri"), "jwks_uri")?,
            token_endpoint_auth_methods_supported: methods,
            tls_client_certificate_bound_access_tokens: raw
                .get("tls_client_certificate_bound_access_tokens")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            raw,
        })
    }
}

/// `{issuer}/.well-known/openid-configuration`, as OpenID Discovery §4 builds it (any
/// trailing `/` of the issuer removed first).
pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// Fetches and checks the metadata of `issuer` (one attempt: callers retry as they see fit).
pub async fn discover(
    http: &reqwest::Client,
    issuer: &str,
) -> Result<ProviderMetadata, DiscoveryError> {
    let url = discovery_url(issuer);
    let raw: Value = get_json(http, &url).await?;
    ProviderMetadata::from_json(&url, issuer, raw)
}

/// GET `url` and parse the JSON body as `T`, refusing non-200 answers and huge bodies.
pub async fn get_json<T: DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
) -> Result<T, DiscoveryError> {
    let unreachable = |e: reqwest::Error| {
        // The URL is already in our message; keep the causes (refused, TLS alert, ...).
        let e = e.without_url();
        DiscoveryError::Unreachable {
            url: url.to_owned(),
            detail: crate::report::error_chain(&e),
            source: Arc::new(e),
        }
    };
    let response = http
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(unreachable)?;
    let status = response.status();
    let too_large = || DiscoveryError::TooLarge {
        url: url.to_owned(),
    };
    if response
        .content_length()
        .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
    {
        return Err(too_large());
    }
    let body = response.bytes().await.map_err(unreachable)?;
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(too_large());
    }
    if status != reqwest::StatusCode::OK {
        return Err(DiscoveryError::Status {
            url: url.to_owned(),
            status: status.as_u16(),
            excerpt: String::from_utf8_lossy(&body).chars().take(200).collect(),
        });
    }
    serde_json::from_slice(&body).map_err(|e| DiscoveryError::BadJson {
        url: url.to_owned(),
        detail: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "https://localhost:9443/realms/oauth2-playbook";

    #[test]
    fn discovery_url_follows_the_spec() {
        assert_eq!(
            discovery_url("https://h:9443/realms/r"),
            "https://h:9443/realms/r/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url("https://h/"),
            "https://h/.well-known/openid-configuration"
        );
    }

    #[test]
    fn prefers_the_mtls_alias_for_certificate_clients() {
        let doc = serde_json::json!({
            "issuer": ISSUER,
            "token_endpoint": "https://localhost:9443/realms/oauth2-playbook/protocol/openid-connect/token",
            "jwks_uri": "https://localhost:9443/realms/oauth2-playbook/protocol/openid-connect/certs",
            "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic", "tls_client_auth"],
            "tls_client_certificate_bound_access_tokens": true,
            "mtls_endpoint_aliases": {"token_endpoint": "https://mtls.localhost:9443/token"}
        });
        let m = ProviderMetadata::from_json(&discovery_url(ISSUER), ISSUER, doc).unwrap();
        assert_eq!(
            m.token_endpoint_for_mtls().as_str(),
            "https://mtls.localhost:9443/token"
        );
        assert_eq!(m.supports_auth_method("tls_client_auth"), Some(true));
        assert_eq!(m.supports_auth_method("none"), Some(false));
        assert!(m.tls_client_certificate_bound_access_tokens);
        assert!(m.https_jwks_uri().is_ok());
    }

    #[test]
    fn refuses_a_document_for_another_issuer_even_by_a_slash() {
        let doc =
            |iss: &str| serde_json::json!({"issuer": iss, "token_endpoint": "https://h/token"});
        let url = discovery_url(ISSUER);
        let err = ProviderMetadata::from_json(&url, ISSUER, doc("https://evil.example/realms/x"))
            .unwrap_err();
        assert!(
            matches!(err, DiscoveryError::IssuerMismatch { .. }),
            "{err}"
        );
        let err =
            ProviderMetadata::from_json(&url, ISSUER, doc(&format!("{ISSUER}/"))).unwrap_err();
        assert!(err.to_string().contains("trailing '/'"), "{err}");
    }

    #[test]
    fn an_http_jwks_uri_is_refused() {
        let doc = serde_json::json!({"issuer": ISSUER, "token_endpoint": "https://h/token",
                                     "jwks_uri": "http://h/certs"});
        let m = ProviderMetadata::from_json(&discovery_url(ISSUER), ISSUER, doc).unwrap();
        assert!(matches!(
            m.https_jwks_uri(),
            Err(DiscoveryError::InsecureJwksUri { .. })
        ));
    }
}
