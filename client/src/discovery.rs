//! From the issuer URL to the provider's endpoints: OpenID Connect Discovery 1.0 §4
//! (`{issuer}/.well-known/openid-configuration`, the path Keycloak serves) with the RFC 8705
//! §5 additions (`mtls_endpoint_aliases`, `tls_client_certificate_bound_access_tokens`).
//!
//! Nothing about Keycloak is assumed here, so `client token` works against any RFC 8705
//! provider that publishes its metadata.

use serde_json::Value;
use url::Url;

use crate::error::ClientError;

/// The metadata fields the client uses, plus the whole document for display.
#[derive(Debug, Clone)]
pub struct ProviderMetadata {
    pub issuer: String,
    pub token_endpoint: Url,
    /// RFC 8705 §5: where a client authenticating with its certificate must send its
    /// requests, when the provider serves mTLS on other URLs.
    pub mtls_token_endpoint: Option<Url>,
    pub jwks_uri: Option<Url>,
    pub token_endpoint_auth_methods_supported: Vec<String>,
    pub tls_client_certificate_bound_access_tokens: bool,
    pub raw: Value,
}

impl ProviderMetadata {
    /// The token endpoint for `tls_client_auth`: the mTLS alias when there is one.
    pub fn token_endpoint_for_mtls(&self) -> &Url {
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

    /// Parses a discovery document and checks that it is the one for `issuer`.
    pub fn from_json(url: &Url, issuer: &Url, raw: Value) -> Result<Self, ClientError> {
        let err = |detail: String| ClientError::Discovery {
            url: url.clone(),
            detail,
        };
        let string = |name: &str| raw.get(name).and_then(Value::as_str);
        let endpoint = |value: Option<&str>, name: &str| -> Result<Option<Url>, ClientError> {
            value
                .map(|v| Url::parse(v).map_err(|e| err(format!("{name} {v:?} is not a URL: {e}"))))
                .transpose()
        };
        let published = string("issuer").ok_or_else(|| err("no \"issuer\" field".into()))?;
        // OpenID Connect Discovery §4.3 / RFC 8414 §3.3: the issuer in the document must be
        // the one we asked about, or tokens will not validate at the resource server either.
        if published.trim_end_matches('/') != issuer.as_str().trim_end_matches('/') {
            return Err(err(format!(
                "the document is for issuer {published:?}, not {:?}; set ISSUER/--issuer to the provider's issuer",
                issuer.as_str()
            )));
        }
        let token_endpoint = endpoint(string("token_endpoint"), "token_endpoint")?
            .ok_or_else(|| err("no \"token_endpoint\" field".into()))?;
        let mtls_token_endpoint = endpoint(
            raw.get("mtls_endpoint_aliases")
                .and_then(|a| a.get("token_endpoint"))
                .and_then(Value::as_str),
            "mtls_endpoint_aliases.token_endpoint",
        )?;
        Ok(ProviderMetadata {
            issuer: published.to_owned(),
            token_endpoint,
            mtls_token_endpoint,
            jwks_uri: endpoint(string("jwks_uri"), "jwks_uri")?,
            token_endpoint_auth_methods_supported: raw
                .get("token_endpoint_auth_methods_supported")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            tls_client_certificate_bound_access_tokens: raw
                .get("tls_client_certificate_bound_access_tokens")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            raw,
        })
    }
}

/// `{issuer}/.well-known/openid-configuration`.
pub fn discovery_url(issuer: &Url) -> Result<Url, ClientError> {
    let base = issuer.as_str().trim_end_matches('/');
    Url::parse(&format!("{base}/.well-known/openid-configuration")).map_err(|e| {
        ClientError::Setting {
            name: "ISSUER",
            value: issuer.to_string(),
            fix: e.to_string(),
        }
    })
}

/// Fetches and checks the provider's metadata (one attempt; wrap in [`crate::retry`]).
pub async fn discover(
    http: &reqwest::Client,
    issuer: &Url,
) -> Result<ProviderMetadata, ClientError> {
    let url = discovery_url(issuer)?;
    let reply = crate::http::send_json(http.get(url.clone()), &url).await?;
    let (status, text) = (reply.status, reply.text);
    if status == reqwest::StatusCode::NOT_FOUND {
        return Err(ClientError::Discovery {
            url,
            detail: format!(
                "HTTP 404 {}: no provider configuration here; check ISSUER/--issuer (the realm name is part of it)",
                text.chars().take(200).collect::<String>()
            ),
        });
    }
    if !status.is_success() {
        return Err(ClientError::Unexpected {
            what: "discovery",
            method: reqwest::Method::GET,
            url,
            status: status.as_u16(),
            body: text.chars().take(300).collect(),
        });
    }
    let raw: Value = serde_json::from_str(&text).map_err(|e| ClientError::BadJson {
        url: url.clone(),
        what: "an OpenID provider configuration",
        detail: e.to_string(),
    })?;
    ProviderMetadata::from_json(&url, issuer, raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> Url {
        Url::parse("https://localhost:9443/realms/oauth2-playbook").unwrap()
    }

    #[test]
    fn prefers_the_mtls_alias_for_certificate_clients() {
        let doc = serde_json::json!({
            "issuer": "https://localhost:9443/realms/oauth2-playbook",
            "token_endpoint": "https://localhost:9443/realms/oauth2-playbook/protocol/openid-connect/token",
            "jwks_uri": "https://localhost:9443/realms/oauth2-playbook/protocol/openid-connect/certs",
            "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic", "tls_client_auth"],
            "tls_client_certificate_bound_access_tokens": true,
            "mtls_endpoint_aliases": {"token_endpoint": "https://mtls.localhost:9443/token"}
        });
        let url = discovery_url(&issuer()).unwrap();
        assert_eq!(
            url.as_str(),
            "https://localhost:9443/realms/oauth2-playbook/.well-known/openid-configuration"
        );
        let m = ProviderMetadata::from_json(&url, &issuer(), doc).unwrap();
        assert_eq!(
            m.token_endpoint_for_mtls().as_str(),
            "https://mtls.localhost:9443/token"
        );
        assert_eq!(m.supports_auth_method("tls_client_auth"), Some(true));
        assert_eq!(m.supports_auth_method("none"), Some(false));
        assert!(m.tls_client_certificate_bound_access_tokens);
    }

    #[test]
    fn refuses_a_document_for_another_issuer() {
        let doc = serde_json::json!({
            "issuer": "https://evil.example/realms/oauth2-playbook",
            "token_endpoint": "https://evil.example/token"
        });
        let url = discovery_url(&issuer()).unwrap();
        let err = ProviderMetadata::from_json(&url, &issuer(), doc).unwrap_err();
        assert!(err.to_string().contains("--issuer"), "{err}");
    }
}
