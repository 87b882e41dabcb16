//! Client authentication at the token and introspection endpoints: which authenticator
//! decides, and what it answers. Keycloak's `ClientAuthenticationFlow`, with its two
//! authenticators in their own files:
//!
//! - `x509.rs`: `client-x509` = RFC 8705 §2.1 `tls_client_auth`, the TLS client certificate's
//!   subject DN against the client's `x509.subjectdn` (`X509ClientAuthenticator`);
//! - `secret.rs`: `client-secret` = RFC 6749 §2.3.1 `client_secret_basic` /
//!   `client_secret_post` (`ClientIdAndSecretAuthenticator`);
//! - `jwt.rs`: `client-jwt` = RFC 7523 §2.2 `private_key_jwt`, a signed assertion checked
//!   with the client's registered key (`JWTClientAuthenticator`).
//!
//! Each client's authenticator is configured at import, and again when the admin API changes
//! its attributes ([`configure`]); the store keeps the result
//! ([`crate::store::Authenticator`]). The request side reads a [`ClientRequest`].
//!
//! Refusals are logged with their reason; the wire answer stays Keycloak's terse one.

mod jwt;
mod secret;
mod x509;

use playbook::oauth::ErrorCode;

use crate::error::{OAuthError, Refusal};
use crate::request::ClientRequest;
use crate::store::{Authenticator, Client, Realm};

/// How a client proved who it is (the RFC 8705 / OIDC method names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    TlsClientAuth,
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
    /// A public client: `client_id` only.
    None,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::TlsClientAuth => "tls_client_auth",
            Method::ClientSecretBasic => "client_secret_basic",
            Method::ClientSecretPost => "client_secret_post",
            Method::PrivateKeyJwt => playbook::rfc7523::METHOD,
            Method::None => "none (public client)",
        }
    }
}

/// A successfully authenticated client.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub client_uuid: String,
    pub client_id: String,
    pub method: Method,
}

/// Configures the authenticator of client `client_id` from its `clientAuthenticatorType`
/// and attributes; the second value lists what is wrong or deprecated in its configuration,
/// each naming the client and the attribute (the importer logs them as warnings).
pub fn configure<'a>(
    client_id: &str,
    authenticator_type: &str,
    attribute: impl Fn(&str) -> Option<&'a str>,
) -> (Authenticator, Vec<String>) {
    let mut warnings = Vec::new();
    let auth = match authenticator_type {
        "client-secret" => Authenticator::Secret,
        "client-x509" => Authenticator::X509(x509::configure(client_id, attribute, &mut warnings)),
        "client-jwt" => Authenticator::Jwt(jwt::configure(client_id, attribute, &mut warnings)),
        other => {
            warnings.push(format!(
                "client '{client_id}': clientAuthenticatorType '{other}' is not one this provider implements (client-secret, client-x509, client-jwt); its token requests will be refused"
            ));
            Authenticator::Unsupported(other.to_owned())
        }
    };
    (auth, warnings)
}

/// Authenticates the client of a token or introspection request and logs the outcome.
///
/// Mirrors `ClientAuthenticationFlow` running its authenticators in order; only the
/// one named by the client's `clientAuthenticatorType` decides:
/// 1. `ClientIdAndSecretAuthenticator` names the client by the form `client_id`, else the
///    HTTP Basic user name (never the query);
/// 2. `JWTClientAuthenticator` by the assertion's `sub` (`jwt.rs`; `jti`s remembered in
///    `seen`);
/// 3. `X509ClientAuthenticator` names it by the form `client_id`, else `?client_id=`
///    (never Basic). When Basic or an assertion named a `client-x509` client and nothing
///    else did, its 400 "Missing client_id parameter" challenge is the answer.
pub fn authenticate(
    endpoint: &str,
    realm: &Realm,
    req: &ClientRequest,
    seen: &playbook::rfc7523::JtiCache,
) -> Result<Authenticated, Refusal> {
    let result = resolve_and_verify(realm, req, seen);
    match &result {
        Ok(a) => tracing::info!(
            realm = %realm.name,
            remote = %req.conn.remote_addr,
            "{endpoint}: client '{}' authenticated by {}",
            a.client_id,
            a.method.as_str()
        ),
        Err(r) => tracing::info!(
            realm = %realm.name,
            remote = %req.conn.remote_addr,
            "{endpoint}: client authentication refused ({} {}): {}",
            r.error.status.as_u16(),
            r.error.error,
            r.reason
        ),
    }
    result
}

fn resolve_and_verify(
    realm: &Realm,
    req: &ClientRequest,
    seen: &playbook::rfc7523::JtiCache,
) -> Result<Authenticated, Refusal> {
    let form_id = req.auth_form.first("client_id");
    let basic_user = req.basic.as_ref().map(|(u, _)| u.as_str());
    let by_secret_authenticator = form_id
        .or(basic_user)
        .and_then(|n| realm.client_by_client_id(n));
    if let Some(client) = by_secret_authenticator {
        // Public clients only identify themselves (their type is ignored: client-secret).
        if client.public_client || matches!(client.authenticator, Authenticator::Secret) {
            return secret::authenticate(client, req);
        }
    }
    let named = match jwt::attempt(realm, req, by_secret_authenticator, seen) {
        jwt::Outcome::Decided(result) => return result,
        jwt::Outcome::Named(client) => Some(client),
        jwt::Outcome::Pass => by_secret_authenticator,
    };
    let Some(name) = form_id.or(req.query_client_id.as_deref()) else {
        if let Some(client) = named.filter(|c| matches!(c.authenticator, Authenticator::X509(_))) {
            return Err(Refusal::new(
                OAuthError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    ErrorCode::InvalidClient,
                    "Missing client_id parameter",
                ),
                format!(
                    "client '{}' (tls_client_auth) was named only by the HTTP Basic user name or a client assertion; send client_id in the form",
                    client.client_id
                ),
            ));
        }
        return Err(Refusal::new(
            OAuthError::invalid_client(),
            match basic_user {
                Some(u) => format!("unknown client '{u}' (HTTP Basic)"),
                None => "no client_id in the form or the Basic header".into(),
            },
        ));
    };
    let Some(client) = realm.client_by_client_id(name) else {
        return Err(Refusal::new(
            OAuthError::invalid_client(),
            format!("unknown client '{name}'"),
        ));
    };
    match &client.authenticator {
        Authenticator::X509(config) if !client.public_client => {
            // Keycloak's x509 authenticator asks the lookup first; the envoy lookup throws on
            // a Cert/Chain it cannot decode (observed: 400, tests/golden/proxy/envoy.json).
            if let Some(reason) = &req.lookup_failed {
                return Err(Refusal::new(
                    OAuthError::unexpected_client_error(),
                    format!("the proxy's certificate header could not be read: {reason}"),
                ));
            }
            x509::authenticate(client, config, &req.conn)
                .map(|()| authenticated(client, Method::TlsClientAuth))
        }
        Authenticator::Unsupported(t) if !client.public_client => Err(Refusal::new(
            OAuthError::invalid_client(),
            format!(
                "client '{name}' uses clientAuthenticatorType '{t}', which this provider does not implement"
            ),
        )),
        Authenticator::Jwt(_) if !client.public_client => Err(Refusal::new(
            OAuthError::invalid_client(),
            format!(
                "client '{name}' (private_key_jwt) was named only by ?client_id=; send client_assertion_type and client_assertion"
            ),
        )),
        // A client-secret (or public) client named only by ?client_id=: the secret
        // authenticator never reads the query, so no authenticator of its type found it.
        _ => Err(Refusal::new(
            OAuthError::invalid_client(),
            format!(
                "client '{name}' was named only by ?client_id=, which client-secret authentication ignores; send client_id in the form or use HTTP Basic"
            ),
        )),
    }
}

fn authenticated(client: &Client, method: Method) -> Authenticated {
    Authenticated {
        client_uuid: client.id.clone(),
        client_id: client.client_id.clone(),
        method,
    }
}

fn disabled(client: &Client) -> Refusal {
    Refusal::new(
        OAuthError::invalid_client(),
        format!("client '{}' is disabled", client.client_id),
    )
}
