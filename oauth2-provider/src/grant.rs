//! The grants (RFC 6749 §4): what each one checks about the authenticated client and its
//! request before a token is minted, in Keycloak's order and with Keycloak's errors.
//!
//! - [`client_credentials`]: RFC 6749 §4.4 with RFC 8705 §3 certificate-bound tokens
//!   (`ClientCredentialsGrantType#process`, `OAuth2GrantTypeBase#checkAndBindMtlsHoKToken`);
//! - [`password`]: RFC 6749 §4.3, how admin tools get a `master` realm token for the admin
//!   API (`ResourceOwnerPasswordCredentialsGrantType`).
//!
//! Each returns the [`Issue`] that [`crate::mint::mint`] turns into tokens.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use playbook::oauth::ErrorCode;

use crate::error::{OAuthError, Refusal};
use crate::request::ClientRequest;
use crate::scope::scopes_in_effect;
use crate::store::{Client, ClientScope, Realm, User};

/// The grant a token is minted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// RFC 6749 §4.4 (`ClientCredentialsGrantType`).
    ClientCredentials,
    /// RFC 6749 §4.3 (`ResourceOwnerPasswordCredentialsGrantType`).
    Password,
}

impl Grant {
    /// The grant's shortcut in a token id (`OAuth2GrantType#getShortcut`).
    pub(crate) fn shortcut(self) -> &'static str {
        match self {
            Grant::ClientCredentials => "cc",
            Grant::Password => "ro",
        }
    }
}

/// What a grant decided, for [`crate::mint::mint`]: whose token, for which client, with
/// which scopes.
#[derive(Debug)]
pub struct Issue<'a> {
    pub grant: Grant,
    pub realm: &'a Realm,
    pub client: &'a Client,
    /// The token's user: the client's service account, or the resource owner.
    pub user: &'a User,
    /// The client scopes in effect (`scope::scopes_in_effect`).
    pub scopes: Vec<&'a ClientScope>,
    /// The raw `scope` parameter (`openid` in it asks for an OIDC answer).
    pub scope_param: Option<&'a str>,
    /// User-session notes the grant sets (read by the mappers).
    pub notes: BTreeMap<String, String>,
    /// RFC 8705 §3: the client certificate's `x5t#S256`, for a certificate-bound token.
    pub bound_to: Option<String>,
    /// RFC 9449 §6: the DPoP proof's key thumbprint, for a DPoP-bound token (set by the
    /// token endpoint, [`crate::dpop`], not by the grant).
    pub dpop_jkt: Option<String>,
}

/// The user-session notes both grants set: where the request came from.
fn client_host_notes(req: &ClientRequest) -> BTreeMap<String, String> {
    let remote_ip = req.conn.remote_addr.ip().to_string();
    [("clientHost", &remote_ip), ("clientAddress", &remote_ip)]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.clone()))
        .collect()
}

/// `ClientCredentialsGrantType#process`: the client's service account gets the token.
pub fn client_credentials<'a>(
    realm: &'a Realm,
    client: &'a Client,
    req: &'a ClientRequest,
) -> Result<Issue<'a>, Refusal> {
    let cid = &client.client_id;
    let unauthorized =
        |d: &str| OAuthError::new(StatusCode::UNAUTHORIZED, ErrorCode::UnauthorizedClient, d);
    if client.public_client {
        return Err(Refusal::new(
            unauthorized("Public client not allowed to retrieve service account"),
            format!("client '{cid}' is public"),
        ));
    }
    if !client.service_accounts_enabled {
        return Err(Refusal::new(
            unauthorized("Client not enabled to retrieve service account"),
            format!("client '{cid}' has service accounts disabled"),
        ));
    }
    // ClientCredentialsGrantType#process (26.x): the service-account user is looked up
    // (`UserProvider#getServiceAccount`) and checked before the scope; both refusals are 401
    // `invalid_request`, the second quoting the (lower-case) username.
    let Some(user) = realm.service_account_of(&client.id) else {
        return Err(Refusal::new(
            OAuthError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidRequest,
                "The associated service account for the client does not exist",
            ),
            format!("client '{cid}' has no service-account user"),
        ));
    };
    if !user.enabled {
        return Err(Refusal::new(
            OAuthError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidRequest,
                format!("User '{}' disabled", user.username),
            ),
            format!("service-account user '{}' is disabled", user.username),
        ));
    }
    let scope_param = req.form.first("scope");
    let scopes = scopes_in_effect(realm, client, scope_param).map_err(|()| {
        Refusal::new(
            OAuthError::invalid_scope(scope_param),
            format!(
                "client '{cid}' may not request scope '{}'",
                scope_param.unwrap_or("")
            ),
        )
    })?;
    // OAuth2GrantTypeBase#checkAndBindMtlsHoKToken / MtlsHoKTokenUtil: SHA-256 of certs[0].
    let bound_to = if client.attribute_true("tls.client.certificate.bound.access.tokens") {
        match req.conn.client_leaf() {
            Some(leaf) => Some(playbook::rfc8705::thumbprint(leaf)),
            None => {
                return Err(Refusal::new(
                    OAuthError::invalid_request(
                        "Client Certification missing for MTLS HoK Token Binding",
                    ),
                    format!(
                        "client '{cid}' has certificate-bound tokens on but sent no certificate"
                    ),
                ));
            }
        }
    } else {
        None
    };
    // The user-session notes the service_account scope reads.
    let mut notes = client_host_notes(req);
    notes.insert("client_id".to_owned(), cid.clone());
    notes.insert("clientId".to_owned(), cid.clone());
    Ok(Issue {
        grant: Grant::ClientCredentials,
        realm,
        client,
        user,
        scopes,
        scope_param,
        notes,
        bound_to,
        dpop_jkt: None,
    })
}

/// `ResourceOwnerPasswordCredentialsGrantType`: used for the admin token (`master`,
/// `admin-cli`, lightweight access token since Keycloak 26).
pub fn password<'a>(
    realm: &'a Realm,
    client: &'a Client,
    req: &'a ClientRequest,
) -> Result<Issue<'a>, Refusal> {
    let form = &req.form;
    let cid = &client.client_id;
    if !client.direct_access_grants_enabled {
        return Err(Refusal::new(
            OAuthError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::UnauthorizedClient,
                "Client not allowed for direct access grants",
            ),
            format!("client '{cid}' has direct access grants off"),
        ));
    }
    // 400, not 401 (Keycloak 26.7.5, observed), for a wrong password and an unknown user alike.
    let invalid = || {
        OAuthError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidGrant,
            "Invalid user credentials",
        )
    };
    let username = form.first("username").unwrap_or("");
    let password = form.first("password").unwrap_or("");
    let Some(user) = realm.user_by_username(username) else {
        return Err(Refusal::new(
            invalid(),
            format!("unknown user '{username}'"),
        ));
    };
    let ok = user.password.as_deref().is_some_and(|p| {
        aws_lc_rs::constant_time::verify_slices_are_equal(p.as_bytes(), password.as_bytes()).is_ok()
    });
    if !ok || !user.enabled {
        return Err(Refusal::new(
            invalid(),
            format!("wrong password for user '{username}' (or disabled)"),
        ));
    }
    let scope_param = form.first("scope");
    let scopes = scopes_in_effect(realm, client, scope_param)
        .map_err(|()| Refusal::new(OAuthError::invalid_scope(scope_param), "invalid scope"))?;
    Ok(Issue {
        grant: Grant::Password,
        realm,
        client,
        user,
        scopes,
        scope_param,
        notes: client_host_notes(req),
        bound_to: None,
        dpop_jkt: None,
    })
}
