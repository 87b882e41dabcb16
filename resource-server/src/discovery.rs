//! Finding the provider's keys from its issuer URL alone
//! ([OpenID Connect Discovery 1.0 §4], [RFC 8414 §3]): `GET
//! {issuer}/.well-known/openid-configuration`, check that the document speaks for the
//! issuer we expect, read `jwks_uri`, then `GET` the key set ([RFC 7517 §5]).
//!
//! Both requests go over TLS trusting only our CA (`playbook::client::https_client`), so a
//! man in the middle cannot hand us keys of its own. Nothing here is Keycloak-specific.
//!
//! [OpenID Connect Discovery 1.0 §4]: https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig
//! [RFC 8414 §3]: https://www.rfc-editor.org/rfc/rfc8414#section-3
//! [RFC 7517 §5]: https://www.rfc-editor.org/rfc/rfc7517#section-5

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Discovery documents and key sets are small; anything bigger is refused.
const MAX_DOCUMENT_BYTES: usize = 512 * 1024;

/// Why the keys could not be fetched. Each message names the URL and the likely fix.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    #[error(
        "GET {url} failed: {detail}. Is the provider running, and does its certificate chain to the --ca file?"
    )]
    Unreachable { url: String, detail: String },
    #[error("GET {url} answered HTTP {status}; check that --issuer names the right realm")]
    Status { url: String, status: u16 },
    #[error("GET {url}: the response is not valid JSON of the expected shape: {detail}")]
    BadJson { url: String, detail: String },
    #[error("GET {url}: the response is larger than {MAX_DOCUMENT_BYTES} bytes")]
    TooLarge { url: String },
    #[error(
        "the discovery document at {url} is for issuer {found:?}, not {expected:?}; pass the exact issuer as --issuer (OpenID Discovery §4.3)"
    )]
    IssuerMismatch {
        url: String,
        expected: String,
        found: String,
    },
    #[error("the discovery document's jwks_uri {jwks_uri:?} is not an https URL")]
    InsecureJwksUri { jwks_uri: String },
    #[error("the key set at {url} has no usable signature key ({skipped})")]
    NoUsableKeys { url: String, skipped: String },
}

/// The two discovery fields a resource server needs.
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderMetadata {
    pub issuer: String,
    pub jwks_uri: String,
}

/// `{issuer}/.well-known/openid-configuration`, as OpenID Discovery §4 builds it (any
/// trailing `/` of the issuer removed first).
pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// Fetches and checks the discovery document of `issuer`.
pub async fn discover(
    http: &reqwest::Client,
    issuer: &str,
) -> Result<ProviderMetadata, FetchError> {
    let url = discovery_url(issuer);
    let metadata: ProviderMetadata = get_json(http, &url).await?;
    // Discovery §4.3: the issuer in the document MUST be identical to the one we asked;
    // otherwise the keys could belong to a different issuer than the tokens claim.
    if metadata.issuer != issuer {
        return Err(FetchError::IssuerMismatch {
            url,
            expected: issuer.to_owned(),
            found: metadata.issuer,
        });
    }
    if !metadata.jwks_uri.starts_with("https://") {
        return Err(FetchError::InsecureJwksUri {
            jwks_uri: metadata.jwks_uri,
        });
    }
    Ok(metadata)
}

/// GET `url` and parse the JSON body as `T`, refusing non-200 answers and huge bodies.
pub async fn get_json<T: DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
) -> Result<T, FetchError> {
    let unreachable = |e: reqwest::Error| FetchError::Unreachable {
        url: url.to_owned(),
        // The URL is already in our message; keep the causes (refused, TLS alert, ...).
        detail: error_chain(&e.without_url()),
    };
    let response = http
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(unreachable)?;
    if response.status() != reqwest::StatusCode::OK {
        return Err(FetchError::Status {
            url: url.to_owned(),
            status: response.status().as_u16(),
        });
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
    {
        return Err(FetchError::TooLarge {
            url: url.to_owned(),
        });
    }
    let body = response.bytes().await.map_err(unreachable)?;
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(FetchError::TooLarge {
            url: url.to_owned(),
        });
    }
    serde_json::from_slice(&body).map_err(|e| FetchError::BadJson {
        url: url.to_owned(),
        detail: e.to_string(),
    })
}

/// reqwest's top-level message ("error sending request") hides the useful part (the TLS
/// alert, the refused connection): print the whole chain.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
