//! Finding the provider's keys from its issuer URL alone: the shared discovery client
//! ([`playbook::discovery`], also the client's) fetches and checks
//! `{issuer}/.well-known/openid-configuration`; the resource server needs only its
//! `jwks_uri`, which must be https. The key set itself is fetched by `jwks` with the same
//! size-capped [`get_json`].

pub use playbook::discovery::{DiscoveryError, discovery_url, get_json};

/// The two discovery fields a resource server needs.
#[derive(Debug, Clone)]
pub struct ProviderMetadata {
    pub issuer: String,
    pub jwks_uri: String,
}

/// Fetches and checks the discovery document of `issuer` (exact issuer, https `jwks_uri`).
pub async fn discover(
    http: &reqwest::Client,
    issuer: &str,
) -> Result<ProviderMetadata, DiscoveryError> {
    let metadata = playbook::discovery::discover(http, issuer).await?;
    let jwks_uri = metadata.https_jwks_uri()?.to_string();
    Ok(ProviderMetadata {
        issuer: metadata.issuer,
        jwks_uri,
    })
}
