//! Who may call the admin API: `AdminRoot#authenticateRealmAdminRequest` (Keycloak's
//! `org.keycloak.services.resources.admin.AdminRoot`), as an extractor. The bearer token is
//! verified against the realm its issuer names; only a `master` user with the `admin` role
//! is let through (401 without a valid token, 403 without the role).

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use serde_json::Value;

use crate::Provider;
use crate::error::AdminError;

/// A verified admin: the bearer token of a `master` user with the `admin` role
/// (`AdminRoot#authenticateRealmAdminRequest`).
#[derive(Debug, Clone)]
pub struct AdminAuth {
    pub username: String,
}

impl FromRequestParts<Provider> for AdminAuth {
    type Rejection = AdminError;

    async fn from_request_parts(
        parts: &mut Parts,
        provider: &Provider,
    ) -> Result<Self, AdminError> {
        let refuse = |why: &str| {
            tracing::info!(
                "admin request {} {} refused: {why}",
                parts.method,
                parts.uri.path()
            );
            AdminError::unauthorized()
        };
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(refuse("no Authorization header"));
        };
        let value = value.to_str().unwrap_or("");
        let Some(token) = value
            .split_once(' ')
            .filter(|(s, _)| s.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
        else {
            return Err(refuse("Authorization is not Bearer"));
        };
        // AppAuthManager.BearerTokenAuthenticator: the token is checked against the realm
        // named in its issuer, with this request's base URL.
        let base = crate::discovery::base_url(provider, &parts.headers);
        let Some(token_realm) = unverified_issuer_realm(token) else {
            return Err(refuse("not a JWT with an issuer"));
        };
        let Some(keys) = provider.keys(&token_realm) else {
            return Err(refuse("token issued by an unknown realm"));
        };
        let claims = keys
            .verify_access_token(token, &crate::discovery::issuer(&base, &token_realm))
            .map_err(|why| refuse(&format!("token {why}")))?;
        if claims.get("typ").and_then(Value::as_str) != Some("Bearer") {
            return Err(refuse("not an access token"));
        }
        let store = provider.read();
        let Some(realm) = store.realm(&token_realm).filter(|r| r.enabled) else {
            return Err(refuse("token realm disabled"));
        };
        // `sub`, or (a lightweight token has none) the user of its session `sid`.
        let sub = match claims.get("sub").and_then(Value::as_str) {
            Some(sub) => sub.to_owned(),
            None => claims
                .get("sid")
                .and_then(Value::as_str)
                .and_then(|sid| provider.inner.session_user(sid))
                .unwrap_or_default(),
        };
        let Some(user) = realm.user_by_id(&sub).filter(|u| u.enabled) else {
            return Err(refuse("token user unknown or disabled"));
        };
        // RealmsAdminResource / AdminPermissions: only the master realm's `admin` role is
        // modelled here; a token of any other realm (e.g. a service account without
        // realm-management roles) authenticates but is not allowed: 403.
        let is_admin = token_realm == playbook::names::ADMIN_REALM
            && realm
                .effective_roles(user)
                .iter()
                .any(|(r, c)| c.is_none() && r.name == "admin");
        if !is_admin {
            tracing::info!(
                "admin request {} {} refused: user '{}' of realm '{token_realm}' has no admin rights",
                parts.method,
                parts.uri.path(),
                user.username
            );
            return Err(AdminError::forbidden());
        }
        Ok(AdminAuth {
            username: user.username.clone(),
        })
    }
}

/// The realm name in a JWT's `iss` (`…/realms/<name>`), read before verification to pick the key.
fn unverified_issuer_realm(token: &str) -> Option<String> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    let iss = claims.get("iss")?.as_str()?;
    iss.rsplit_once("/realms/").map(|(_, r)| r.to_owned())
}
