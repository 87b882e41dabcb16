//! From the issuer URL to the provider's endpoints, through the shared discovery client
//! ([`playbook::discovery`], also the resource server's): OpenID Connect Discovery 1.0 §4
//! with the RFC 8705 §5 additions. This module only says what a discovery failure means
//! in the client's terms (a refused connection is worth waiting for, a 404 names the realm).
//!
//! Nothing about Keycloak is assumed, so `client token` works against any RFC 8705
//! provider that publishes its metadata.

use url::Url;

use crate::error::ClientError;
use playbook::discovery::DiscoveryError;
pub use playbook::discovery::ProviderMetadata;

/// `{issuer}/.well-known/openid-configuration`.
pub fn discovery_url(issuer: &Url) -> Result<Url, ClientError> {
    Url::parse(&playbook::discovery::discovery_url(issuer.as_str())).map_err(|e| {
        ClientError::Setting {
            name: "ISSUER",
            value: issuer.to_string(),
            fix: e.to_string(),
        }
    })
}

/// Fetches and checks the provider's metadata (one attempt; wrap in [`crate::retry`]).
pub async fn discover(
    http: &crate::http::Http,
    issuer: &Url,
) -> Result<ProviderMetadata, ClientError> {
    let url = discovery_url(issuer)?;
    if !http.is_instrumented() {
        return playbook::discovery::discover(http, issuer.as_str())
            .await
            .map_err(|e| client_error(&url, e));
    }
    // A traced run: the same GET, sent by the instrumented client, then the same checks.
    let reply = crate::http::send_json(http, http.get(url.clone()), &url).await?;
    if reply.status != reqwest::StatusCode::OK {
        return Err(client_error(
            &url,
            DiscoveryError::Status {
                url: url.to_string(),
                status: reply.status.as_u16(),
                excerpt: reply.excerpt(200),
            },
        ));
    }
    ProviderMetadata::from_json(url.as_str(), issuer.as_str(), reply.json)
        .map_err(|e| client_error(&url, e))
}

fn client_error(url: &Url, e: DiscoveryError) -> ClientError {
    match e {
        DiscoveryError::Unreachable { source, .. } => ClientError::transport_ref(url, &source),
        DiscoveryError::Status {
            status: 404,
            excerpt,
            ..
        } => ClientError::Discovery {
            url: url.clone(),
            detail: format!(
                "HTTP 404 {excerpt}: no provider configuration here; check ISSUER/--issuer (the realm name is part of it)"
            ),
        },
        DiscoveryError::Status {
            status, excerpt, ..
        } => ClientError::Unexpected {
            what: "discovery",
            method: reqwest::Method::GET,
            url: url.clone(),
            status,
            body: excerpt,
        },
        DiscoveryError::BadJson { detail, .. } => ClientError::BadJson {
            url: url.clone(),
            what: "an OpenID provider configuration",
            detail,
        },
        other => ClientError::Discovery {
            url: url.clone(),
            detail: other.to_string(),
        },
    }
}

/// [`discover`], waiting up to `wait` for a provider that is still starting.
pub async fn discover_waiting(
    http: &crate::http::Http,
    issuer: &Url,
    wait: std::time::Duration,
) -> Result<ProviderMetadata, ClientError> {
    let url = discovery_url(issuer)?;
    crate::retry::until_up("the provider", &url, wait, || discover(http, issuer)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_for_another_issuer_names_the_setting() {
        let issuer = Url::parse("https://localhost:9443/realms/oauth2-playbook").unwrap();
        let url = discovery_url(&issuer).unwrap();
        assert_eq!(
            url.as_str(),
            "https://localhost:9443/realms/oauth2-playbook/.well-known/openid-configuration"
        );
        let doc = serde_json::json!({"issuer": "https://evil.example/realms/oauth2-playbook",
                                     "token_endpoint": "https://evil.example/token"});
        let e = ProviderMetadata::from_json(url.as_str(), issuer.as_str(), doc).unwrap_err();
        let err = client_error(&url, e);
        assert!(err.to_string().contains("set the issuer"), "{err}");
    }
}
