//! `client discover`: the provider's metadata from its issuer (OpenID Connect Discovery 1.0,
//! RFC 8414): the token endpoint and its RFC 8705 §5 mTLS alias, the client authentication
//! methods (`tls_client_auth` among them) and whether tokens are certificate-bound.

use url::Url;

use super::https;
use crate::cli::DiscoverArgs;
use crate::discovery;
use crate::error::ClientError;
use crate::output::{Output, pretty};
use crate::retry;
use crate::settings::Settings;

/// `client discover`: the fields the walkthrough relies on, or the whole document.
pub(super) async fn run(
    s: &Settings,
    args: &DiscoverArgs,
    out: &Output,
) -> Result<bool, ClientError> {
    let http = https(s, None)?;
    let url = discovery::discovery_url(&s.issuer)?;
    out.send(&format!("GET {url}"));
    out.curl(&format!(
        "curl -sS --cacert {} {}",
        crate::output::shell_quote(&s.ca.display().to_string()),
        crate::output::shell_quote(url.as_str())
    ));
    let m = retry::until_up("the provider", &url, s.wait, || {
        discovery::discover(&http, &s.issuer)
    })
    .await?;
    if args.full {
        out.recv(&format!("200 OK\n{}", pretty(&m.raw)));
    } else {
        let methods = &m.token_endpoint_auth_methods_supported;
        out.recv(&format!(
            "200 OK ({} fields; --full shows them all)",
            m.raw.as_object().map_or(0, |o| o.len())
        ));
        out.plain(&format!(
            "issuer:                  {}\n\
             token_endpoint:          {}\n\
             mtls_endpoint_aliases.token_endpoint: {}\n\
             jwks_uri:                {}\n\
             token_endpoint_auth_methods_supported: {}\n\
             \x20 tls_client_auth (RFC 8705 §2.1) among them: {}\n\
             tls_client_certificate_bound_access_tokens (RFC 8705 §3): {}",
            m.issuer,
            m.token_endpoint,
            m.mtls_token_endpoint.as_ref().map_or(
                "(none: the token endpoint itself)".to_owned(),
                Url::to_string
            ),
            m.jwks_uri
                .as_ref()
                .map_or("(none)".to_owned(), Url::to_string),
            if methods.is_empty() {
                "(not said)".to_owned()
            } else {
                methods.join(", ")
            },
            match m.supports_auth_method("tls_client_auth") {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "not said",
            },
            m.tls_client_certificate_bound_access_tokens
        ));
    }
    out.plain(&format!(
        "\ntoken endpoint for tls_client_auth: {}",
        m.token_endpoint_for_mtls()
    ));
    out.json(&m.raw);
    Ok(true)
}
