//! Token introspection (RFC 7662), `POST /realms/{realm}/protocol/openid-connect/token/introspect`,
//! as Keycloak's `TokenIntrospectionEndpoint` and `AccessTokenIntrospectionProvider` answer it.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use playbook::oauth::ErrorCode;
use serde_json::{Value, json};

use crate::Provider;
use crate::client_auth;
use crate::error::{AdminError, OAuthError};
use crate::mappers::{self, Claims, Context, Target};
use crate::request::ClientRequest;
use crate::scope::scopes_in_effect;

/// `POST .../token/introspect`.
pub async fn introspect(
    State(provider): State<Provider>,
    Path(realm_name): Path<String>,
    req: ClientRequest,
) -> Response {
    match answer(&provider, &realm_name, &req) {
        Ok(v) => {
            let mut response = (StatusCode::OK, axum::Json(v)).into_response();
            // @NoCache; Keycloak 26.7.5 (observed) sets it on answers, not on refusals.
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        }
        Err(Refused::OAuth(e)) => e.into_response(),
        Err(Refused::NoRealm) => AdminError::realm_not_found().into_response(),
    }
}

enum Refused {
    OAuth(OAuthError),
    NoRealm,
}

impl From<OAuthError> for Refused {
    fn from(e: OAuthError) -> Self {
        Refused::OAuth(e)
    }
}

fn answer(provider: &Provider, realm_name: &str, req: &ClientRequest) -> Result<Value, Refused> {
    let form = &req.form;
    let store = provider.read();
    let Some(realm) = store.realm(realm_name) else {
        return Err(Refused::NoRealm);
    };
    if !realm.enabled {
        return Err(OAuthError::realm_disabled().into());
    }
    // AuthorizeClientUtil.authorizeClient: the authenticator's own refusal (Keycloak 26.7.5,
    // observed: the mTLS client without a certificate gets 401 invalid_client "Invalid client
    // or Invalid client credentials", as at the token endpoint).
    let auth =
        client_auth::authenticate("introspect", realm, req, &provider.inner.assertion_replay)
            .map_err(|r| r.error)?;
    let caller = realm
        .client_by_id(&auth.client_uuid)
        .expect("authenticated");
    if caller.public_client {
        return Err(OAuthError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::InvalidRequest,
            "Client not allowed.",
        )
        .into());
    }
    if form.has_duplicates() {
        return Err(OAuthError::invalid_request("duplicated parameter").into());
    }
    let Some(token) = form.first("token") else {
        return Err(OAuthError::invalid_request("Token not provided.").into());
    };
    let hint = form.first("token_type_hint").unwrap_or("access_token");
    if !matches!(
        hint,
        "access_token" | "refresh_token" | "requesting_party_token"
    ) {
        return Err(
            OAuthError::invalid_request(format!("Unsupported token type [{hint}].")).into(),
        );
    }
    let inactive = |why: &str| {
        tracing::info!(realm = %realm.name, "introspection by '{}': inactive token ({why})", caller.client_id);
        json!({"active": false})
    };
    let keys = provider.keys(&realm.name).expect("every realm has keys");
    let expected_iss = crate::discovery::issuer(&req.base, &realm.name);
    let claims = match keys.verify_access_token(token, &expected_iss) {
        Ok(c) => c,
        Err(why) => return Ok(inactive(why)),
    };
    let azp = claims
        .get("azp")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if !realm.client_by_client_id(&azp).is_some_and(|c| c.enabled) {
        return Ok(inactive("the token's client is gone or disabled"));
    }
    let sub = claims.get("sub").and_then(Value::as_str).unwrap_or("");
    let Some(user) = realm.user_by_id(sub).filter(|u| u.enabled) else {
        return Ok(inactive("the token's user is gone or disabled"));
    };
    let client = realm.client_by_client_id(&azp).expect("checked above");
    // AccessTokenIntrospectionProvider#transformAccessToken: the "basic" claims are copied
    // from the token; everything else comes from the mappers enabled for introspection, run
    // now against the current state (so roles are live, as in Keycloak).
    let mut basic = Claims::default();
    for key in [
        "jti", "typ", "sub", "iat", "exp", "azp", "iss", "nonce", "scope", "sid", "cnf",
    ] {
        if let Some(v) = claims.get(key) {
            basic.set(key, v.clone());
        }
    }
    match claims.get("aud") {
        Some(Value::String(a)) => basic.aud.push(a.clone()),
        Some(Value::Array(list)) => basic
            .aud
            .extend(list.iter().filter_map(|a| a.as_str().map(str::to_owned))),
        _ => {}
    }
    let scope_param = claims.get("scope").and_then(Value::as_str);
    let scopes = scopes_in_effect(realm, client, scope_param)
        .or_else(|()| scopes_in_effect(realm, client, None))
        .unwrap_or_default();
    // The session notes of the (transient) session the token came from, as carried by the
    // token; not clientHost/clientAddress, which Keycloak 26.7.5's answer lacks (observed).
    let mut notes = std::collections::BTreeMap::new();
    for (note, claim) in [("client_id", "client_id"), ("clientId", "client_id")] {
        if let Some(v) = claims.get(claim).and_then(Value::as_str) {
            notes.insert(note.to_owned(), v.to_owned());
        }
    }
    let ctx = Context {
        realm,
        client,
        user,
        scopes,
        notes,
    };
    let original_aud = !basic.aud.is_empty();
    let original = basic.aud.clone();
    mappers::apply(&ctx, Target::Introspection, &mut basic);
    // AccessTokenIntrospectionProvider#verifyAudience (Keycloak 26.6.2+): the introspecting
    // client must be in the token's `aud` (the original one, else the transformed one),
    // unless it has `allow.token.introspection.without.audience.check`.
    let audiences = if original_aud { &original } else { &basic.aud };
    if !audiences.contains(&caller.client_id) {
        if caller.attribute_true("allow.token.introspection.without.audience.check") {
            tracing::warn!(
                "Client '{}' introspecting token for '{azp}' without audience check (per-client setting on '{}')",
                caller.client_id,
                caller.client_id
            );
        } else {
            return Ok(inactive(&format!(
                "client '{}' is not in the token audience {audiences:?}",
                caller.client_id
            )));
        }
    }
    let Value::Object(mut out) = basic.into_json() else {
        return Ok(inactive("claims are not an object"));
    };
    if out.get("scope").and_then(Value::as_str) == Some("") {
        out.remove("scope");
    }
    let typ = out.get("typ").cloned().unwrap_or(json!("Bearer"));
    out.insert("client_id".into(), json!(azp));
    if !out.contains_key("username") {
        let username = out
            .get("preferred_username")
            .cloned()
            .unwrap_or_else(|| json!(user.username));
        out.insert("username".into(), username);
    }
    out.insert("token_type".into(), typ);
    out.insert("active".into(), json!(true));
    tracing::info!(
        realm = %realm.name,
        "introspection by '{}': active token jti={}",
        caller.client_id,
        out.get("jti").and_then(serde_json::Value::as_str).unwrap_or("?")
    );
    Ok(Value::Object(out))
}
