//! RFC 6749 §2.3.1 client passwords at the provider: Keycloak's
//! `ClientIdAndSecretAuthenticator` (`clientAuthenticatorType` `client-secret`), for
//! `client_secret_basic` and `client_secret_post`, and public clients, which only name
//! themselves.

use playbook::oauth::ErrorCode;

use axum::http::StatusCode;

use super::{Authenticated, Method, authenticated, disabled};
use crate::error::{OAuthError, Refusal};
use crate::request::ClientRequest;
use crate::store::Client;

/// `ClientIdAndSecretAuthenticator#authenticateClient`.
pub(super) fn authenticate(client: &Client, req: &ClientRequest) -> Result<Authenticated, Refusal> {
    let id = &client.client_id;
    if !client.enabled {
        return Err(disabled(client));
    }
    if client.public_client {
        return Ok(authenticated(client, Method::None));
    }
    // Form values override the Basic ones, with no mismatch check.
    let (secret, method) = match (req.auth_form.first("client_secret"), &req.basic) {
        (Some(s), _) => (Some(s), Method::ClientSecretPost),
        (None, Some((_, p))) => (Some(p.as_str()), Method::ClientSecretBasic),
        (None, None) => (None, Method::ClientSecretPost),
    };
    let Some(secret) = secret else {
        return Err(Refusal::new(
            OAuthError::bad_client_secret(),
            format!("client '{id}' sent no client secret"),
        ));
    };
    // `client.secret.authentication.allowed.method`: one method only, checked before the
    // secret (Keycloak 26.7.5, observed: the message below, 401 unauthorized_client).
    if let Some(allowed) = client
        .attribute("client.secret.authentication.allowed.method")
        .filter(|m| !m.is_empty() && *m != method.as_str())
    {
        return Err(Refusal::new(
            OAuthError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::UnauthorizedClient,
                format!(
                    "Invalid method used to get client secret. Client requires method '{allowed}' to obtain client secret from the request"
                ),
            ),
            format!(
                "client '{id}' used {} but allows only {allowed}",
                method.as_str()
            ),
        ));
    }
    let matches = client.secret.as_deref().is_some_and(|expected| {
        aws_lc_rs::constant_time::verify_slices_are_equal(expected.as_bytes(), secret.as_bytes())
            .is_ok()
    });
    if !matches {
        return Err(Refusal::new(
            OAuthError::bad_client_secret(),
            format!("client '{id}': wrong client secret ({})", method.as_str()),
        ));
    }
    Ok(authenticated(client, method))
}
