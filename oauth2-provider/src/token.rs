//! The token endpoint, `POST /realms/{realm}/protocol/openid-connect/token`:
//! RFC 6749 §4.4 `client_credentials` (with RFC 8705 certificate-bound tokens) and §4.3
//! `password` (how admin tools get a `master` realm token for the admin API).
//!
//! The order of checks and every error are Keycloak's (`TokenEndpoint#processGrantRequest`,
//! `ClientCredentialsGrantType#process`, `ResourceOwnerPasswordCredentialsGrantType`).

use playbook::oauth::ErrorCode;
use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use playbook::server::Connection;
use serde_json::{Map, Value, json};

use crate::Provider;
use crate::client_auth::{self, ClientRequest, Form};
use crate::error::OAuthError;
use crate::mappers::{self, Claims, Context, Target};
use crate::store::{Client, ClientScope, Realm};

/// Grant types Keycloak 26.7 has factories for (`OAuth2GrantType` providers).
const KNOWN_GRANTS: &[&str] = &[
    "authorization_code",
    "client_credentials",
    "password",
    "refresh_token",
    "urn:ietf:params:oauth:grant-type:token-exchange",
    "urn:ietf:params:oauth:grant-type:uma-ticket",
    "urn:openid:params:grant-type:ciba",
    "urn:ietf:params:oauth:grant-type:device_code",
];

pub(crate) fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// `SecretGenerator#generateSecureID`: a UUID-formatted string of 128 random bits.
pub(crate) fn secure_id() -> String {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).expect("system randomness");
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Java's `String#split(" ")`: trailing empty strings dropped; no separator → the input.
pub(crate) fn java_split(s: &str) -> Vec<&str> {
    let mut parts: Vec<&str> = s.split(' ').collect();
    if parts.len() == 1 {
        return parts;
    }
    while parts.last() == Some(&"") {
        parts.pop();
    }
    parts
}

fn is_oidc_request(scope: Option<&str>) -> bool {
    scope.is_some_and(|s| java_split(s).contains(&"openid"))
}

/// `TokenManager#isValidScope` then the scopes in effect: the client's default scopes plus
/// the optional ones requested. `Err` = `invalid_scope`.
pub(crate) fn scopes_in_effect<'a>(
    realm: &'a Realm,
    client: &Client,
    scope_param: Option<&str>,
) -> Result<Vec<&'a ClientScope>, ()> {
    let requested: Vec<&str> = match scope_param {
        None => Vec::new(),
        Some(s) => {
            // parseScopeParameter: distinct names; `openid` is not a client scope.
            let mut v: Vec<&str> = Vec::new();
            for x in java_split(s) {
                if x != "openid" && !v.contains(&x) {
                    v.push(x);
                }
            }
            v
        }
    };
    let lookup = |names: &[String]| -> Vec<&'a ClientScope> {
        names
            .iter()
            .filter_map(|n| realm.scope_by_name(n))
            .filter(|s| s.protocol == client.protocol)
            .collect()
    };
    let defaults = lookup(&client.default_scopes);
    let optional = lookup(&client.optional_scopes);
    for r in &requested {
        let ok = defaults.iter().chain(optional.iter()).any(|s| s.name == *r);
        if !ok {
            return Err(());
        }
    }
    let mut out = defaults;
    out.extend(
        optional
            .into_iter()
            .filter(|s| requested.contains(&s.name.as_str())),
    );
    Ok(out)
}

/// `DefaultClientSessionContext#getScopeString` (+ `TokenUtil.attachOIDCScope`).
pub(crate) fn scope_string(scopes: &[&ClientScope], oidc: bool) -> String {
    let mut names: Vec<&str> = scopes
        .iter()
        .filter(|s| s.include_in_token_scope())
        .map(|s| s.name.as_str())
        .collect();
    if oidc {
        names.insert(0, "openid");
    }
    names.join(" ")
}

fn no_store(mut response: Response) -> Response {
    crate::error::set_no_store(response.headers_mut());
    response
}

/// `POST /realms/{realm}/protocol/openid-connect/token`.
pub async fn token_endpoint(
    State(provider): State<Provider>,
    Path(realm_name): Path<String>,
    req: ClientRequest,
) -> Response {
    match process(&provider, &realm_name, &req) {
        Ok(body) => no_store((StatusCode::OK, axum::Json(body)).into_response()),
        Err(Failure::OAuth(e, reason)) => {
            tracing::info!(
                realm = %realm_name,
                remote = %req.conn.remote_addr,
                "token request refused ({} {}: {}): {reason}",
                e.status.as_u16(),
                e.error,
                e.description
            );
            e.no_store().into_response()
        }
        // RealmsResource throws NotFound before TokenEndpoint runs: no no-store headers.
        Err(Failure::NoRealm) => OAuthError::realm_not_found().into_response(),
        Err(Failure::Internal(message)) => no_store(internal(&message)),
    }
}

enum Failure {
    OAuth(OAuthError, String),
    NoRealm,
    Internal(String),
}

fn fail(e: OAuthError, reason: impl Into<String>) -> Failure {
    Failure::OAuth(e, reason.into())
}

fn process(provider: &Provider, realm_name: &str, req: &ClientRequest) -> Result<Value, Failure> {
    let form = &req.form;
    let store = provider.read();
    let Some(realm) = store.realm(realm_name) else {
        return Err(Failure::NoRealm);
    };
    // checkSsl: we only serve HTTPS. checkRealm:
    if !realm.enabled {
        return Err(fail(OAuthError::realm_disabled(), "realm disabled"));
    }
    // checkGrantType
    let Some(grant_type) = form.first("grant_type") else {
        return Err(fail(
            OAuthError::invalid_request("Missing form parameter: grant_type"),
            "no grant_type",
        ));
    };
    if !KNOWN_GRANTS.contains(&grant_type) {
        return Err(fail(
            OAuthError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::UnsupportedGrantType,
                "Unsupported grant_type",
            ),
            format!("grant_type '{grant_type}'"),
        ));
    }
    // checkClient: client authentication, then bearer-only.
    let auth =
        client_auth::authenticate("token", realm, req).map_err(|r| fail(r.error, r.reason))?;
    let client = realm
        .client_by_id(&auth.client_uuid)
        .expect("authenticated client exists");
    if client.bearer_only {
        return Err(fail(
            OAuthError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidClient,
                "Bearer-only not allowed",
            ),
            format!("client '{}' is bearer-only", client.client_id),
        ));
    }
    // checkParameterDuplicated: after client authentication.
    if form.has_duplicates() {
        return Err(fail(
            OAuthError::invalid_request("duplicated parameter"),
            "a form parameter was sent more than once",
        ));
    }
    let remote_ip = req.conn.remote_addr.ip().to_string();
    let base = req.base.as_str();
    match grant_type {
        "client_credentials" => {
            client_credentials(provider, realm, client, form, &req.conn, &remote_ip, base)
        }
        "password" => password(provider, realm, client, form, &remote_ip, base),
        other => Err(fail(
            OAuthError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::UnsupportedGrantType,
                "Unsupported grant_type",
            ),
            format!(
                "grant_type '{other}' exists in Keycloak but is not implemented by this provider"
            ),
        )),
    }
}

/// Access-token lifetime: client `access.token.lifespan`, else the realm's.
fn lifespan(realm: &Realm, client: &Client) -> i64 {
    client
        .attribute("access.token.lifespan")
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|v| *v > 0)
        .unwrap_or(realm.access_token_lifespan)
}

/// `ClientCredentialsGrantType#process` and `OAuth2GrantTypeBase#createTokenResponse`.
fn client_credentials(
    provider: &Provider,
    realm: &Realm,
    client: &Client,
    form: &Form,
    conn: &Connection,
    remote_ip: &str,
    base: &str,
) -> Result<Value, Failure> {
    let cid = &client.client_id;
    let unauthorized =
        |d: &str| OAuthError::new(StatusCode::UNAUTHORIZED, ErrorCode::UnauthorizedClient, d);
    if client.public_client {
        return Err(fail(
            unauthorized("Public client not allowed to retrieve service account"),
            format!("client '{cid}' is public"),
        ));
    }
    if !client.service_accounts_enabled {
        return Err(fail(
            unauthorized("Client not enabled to retrieve service account"),
            format!("client '{cid}' has service accounts disabled"),
        ));
    }
    // ClientCredentialsGrantType#process (26.x): the service-account user is looked up
    // (`UserProvider#getServiceAccount`) and checked before the scope; both refusals are 401
    // `invalid_request`, the second quoting the (lower-case) username.
    let Some(user) = realm.service_account_of(&client.id) else {
        return Err(fail(
            OAuthError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidRequest,
                "The associated service account for the client does not exist",
            ),
            format!("client '{cid}' has no service-account user"),
        ));
    };
    if !user.enabled {
        return Err(fail(
            OAuthError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidRequest,
                format!("User '{}' disabled", user.username),
            ),
            format!("service-account user '{}' is disabled", user.username),
        ));
    }
    let scope_param = form.first("scope");
    let scopes = scopes_in_effect(realm, client, scope_param).map_err(|()| {
        fail(
            OAuthError::invalid_scope(scope_param),
            format!(
                "client '{cid}' may not request scope '{}'",
                scope_param.unwrap_or("")
            ),
        )
    })?;
    // OAuth2GrantTypeBase#checkAndBindMtlsHoKToken / MtlsHoKTokenUtil: SHA-256 of certs[0].
    let cnf = if client.attribute_true("tls.client.certificate.bound.access.tokens") {
        match conn.client_leaf() {
            Some(leaf) => Some(playbook::rfc8705::thumbprint(leaf)),
            None => {
                return Err(fail(
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
    let oidc = is_oidc_request(scope_param);
    let scope = scope_string(&scopes, oidc);
    let now = now();
    let exp = now + lifespan(realm, client);
    // DefaultTokenContextEncoderProvider: transient session, regular token, grant "cc".
    let jti = format!("trrtcc:{}", secure_id());
    let typ = if client.attribute_true("token.response.type.bearer.lower-case") {
        "bearer"
    } else {
        "Bearer"
    };
    let issuer = crate::discovery::issuer(base, &realm.name);
    // ClientCredentialsGrantType: user-session notes read by the service_account scope.
    let notes: BTreeMap<String, String> = [
        ("client_id", cid.as_str()),
        ("clientId", cid.as_str()),
        ("clientHost", remote_ip),
        ("clientAddress", remote_ip),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let ctx = Context {
        realm,
        client,
        user,
        scopes: scopes.clone(),
        notes,
    };
    // TokenManager#initToken (transient session: sub set directly, no sid).
    let mut claims = Claims::default();
    claims.set("exp", json!(exp));
    claims.set("iat", json!(now));
    claims.set("jti", json!(jti));
    claims.set("iss", json!(issuer));
    claims.set("sub", json!(user.id));
    claims.set("typ", json!(typ));
    claims.set("azp", json!(cid));
    mappers::apply(&ctx, Target::AccessToken, &mut claims);
    if let Some(t) = &cnf {
        claims.set("cnf", playbook::rfc8705::confirmation(t));
    }
    claims.set("scope", json!(scope));
    let keys = provider.keys(&realm.name).expect("every realm has keys");
    let access_token = keys
        .sign(
            crate::keys::access_token_alg(realm, client),
            &claims.into_json(),
        )
        .map_err(|e| Failure::Internal(e.to_string()))?;
    let mut body = Map::new();
    body.insert("access_token".into(), json!(access_token));
    body.insert("expires_in".into(), json!(exp - now));
    body.insert("refresh_expires_in".into(), json!(0));
    body.insert("token_type".into(), json!(typ));
    if oidc {
        let id_token =
            id_token(&ctx, &issuer, now, exp, &access_token, keys).map_err(Failure::Internal)?;
        body.insert("id_token".into(), json!(id_token));
    }
    body.insert("not-before-policy".into(), json!(0));
    body.insert("scope".into(), json!(scope));
    tracing::info!(
        realm = %realm.name,
        "token issued to client '{cid}': jti={jti} sub={} scope='{scope}' bound={}",
        user.id,
        cnf.as_deref().map(|t| &t[..8.min(t.len())]).unwrap_or("no")
    );
    Ok(Value::Object(body))
}

fn internal(message: &str) -> Response {
    tracing::error!("internal error: {message}");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        axum::Json(json!({"error": ErrorCode::UnknownError, "error_description": "For more on this error consult the server log."})),
    )
        .into_response()
}

/// `TokenManager#generateIDToken` + `generateAccessTokenHash` (only with `scope=openid`).
fn id_token(
    ctx: &Context<'_>,
    issuer: &str,
    now: i64,
    exp: i64,
    access_token: &str,
    keys: &crate::keys::RealmKeys,
) -> Result<String, String> {
    let alg = crate::keys::id_token_alg(ctx.realm, ctx.client);
    let at_hash = crate::keys::oidc_hash(alg, access_token.as_bytes());
    let mut claims = Claims::default();
    claims.set("exp", json!(exp));
    claims.set("iat", json!(now));
    claims.set("jti", json!(format!("trrtcc:{}", secure_id())));
    claims.set("iss", json!(issuer));
    claims.aud.push(ctx.client.client_id.clone());
    claims.set("sub", json!(ctx.user.id));
    claims.set("typ", json!("ID"));
    claims.set("azp", json!(ctx.client.client_id));
    claims.set("at_hash", json!(at_hash));
    mappers::apply(ctx, Target::IdToken, &mut claims);
    keys.sign(alg, &claims.into_json())
        .map_err(|e| e.to_string())
}

/// `ResourceOwnerPasswordCredentialsGrantType`: used for the admin token (`master`,
/// `admin-cli`, lightweight access token since Keycloak 26).
fn password(
    provider: &Provider,
    realm: &Realm,
    client: &Client,
    form: &Form,
    remote_ip: &str,
    base: &str,
) -> Result<Value, Failure> {
    let cid = &client.client_id;
    if !client.direct_access_grants_enabled {
        return Err(fail(
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
        return Err(fail(invalid(), format!("unknown user '{username}'")));
    };
    let ok = user.password.as_deref().is_some_and(|p| {
        aws_lc_rs::constant_time::verify_slices_are_equal(p.as_bytes(), password.as_bytes()).is_ok()
    });
    if !ok || !user.enabled {
        return Err(fail(
            invalid(),
            format!("wrong password for user '{username}' (or disabled)"),
        ));
    }
    let scope_param = form.first("scope");
    let scopes = scopes_in_effect(realm, client, scope_param)
        .map_err(|()| fail(OAuthError::invalid_scope(scope_param), "invalid scope"))?;
    let oidc = is_oidc_request(scope_param);
    let scope = scope_string(&scopes, oidc);
    let now = now();
    let exp = now + lifespan(realm, client);
    let refresh_exp = now + realm.sso_session_idle_timeout;
    let sid = uuid::Uuid::new_v4().to_string();
    let lightweight = client.attribute_true("client.use.lightweight.access.token.enabled");
    let issuer = crate::discovery::issuer(base, &realm.name);
    let notes: BTreeMap<String, String> = [
        ("AUTH_TIME", now.to_string()),
        ("clientHost", remote_ip.to_owned()),
        ("clientAddress", remote_ip.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let ctx = Context {
        realm,
        client,
        user,
        scopes,
        notes,
    };
    let mut claims = Claims::default();
    claims.set("exp", json!(exp));
    claims.set("iat", json!(now));
    // Online session, lightweight or regular token, grant "ro".
    claims.set(
        "jti",
        json!(format!(
            "on{}ro:{}",
            if lightweight { "lt" } else { "rt" },
            secure_id()
        )),
    );
    claims.set("iss", json!(issuer));
    claims.set("typ", json!("Bearer"));
    claims.set("azp", json!(cid));
    claims.set("sid", json!(sid));
    mappers::apply(
        &ctx,
        if lightweight {
            Target::Lightweight
        } else {
            Target::AccessToken
        },
        &mut claims,
    );
    claims.set("scope", json!(scope));
    let keys = provider.keys(&realm.name).expect("every realm has keys");
    let access_token = keys
        .sign(
            crate::keys::access_token_alg(realm, client),
            &claims.into_json(),
        )
        .map_err(|e| Failure::Internal(e.to_string()))?;
    // Keycloak 26.7.5 (observed): HS512-signed, no `sub`, `prov: default`, and every scope
    // in effect in `scope`, also those not listed in the access token's.
    let mut all_scopes: Vec<&str> = ctx.scopes.iter().map(|s| s.name.as_str()).collect();
    if oidc {
        all_scopes.insert(0, "openid");
    }
    let refresh = json!({
        "exp": refresh_exp, "iat": now, "jti": format!("onrtro:{}", secure_id()),
        "iss": issuer, "aud": issuer, "typ": "Refresh", "azp": cid,
        "sid": sid, "scope": all_scopes.join(" "), "prov": "default",
    });
    let refresh_token = keys
        .sign(crate::keys::INTERNAL_SIGNATURE_ALG, &refresh)
        .map_err(|e| Failure::Internal(e.to_string()))?;
    provider.inner.open_session(&sid, &user.id, refresh_exp);
    tracing::info!(
        realm = %realm.name,
        "token issued to user '{}' via client '{cid}' (password grant), session {sid}",
        user.username
    );
    let mut body = Map::new();
    body.insert("access_token".into(), json!(access_token));
    body.insert("expires_in".into(), json!(exp - now));
    body.insert("refresh_expires_in".into(), json!(refresh_exp - now));
    body.insert("refresh_token".into(), json!(refresh_token));
    body.insert("token_type".into(), json!("Bearer"));
    body.insert("not-before-policy".into(), json!(0));
    body.insert("session_state".into(), json!(sid));
    body.insert("scope".into(), json!(scope));
    Ok(Value::Object(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_split_drops_trailing_empties_only() {
        assert_eq!(java_split(""), vec![""]);
        assert_eq!(java_split("a b"), vec!["a", "b"]);
        assert_eq!(java_split("a "), vec!["a"]);
        assert_eq!(java_split(" a"), vec!["", "a"]);
        assert_eq!(java_split("a  b"), vec!["a", "", "b"]);
        assert!(java_split(" ").is_empty());
    }

    #[test]
    fn secure_ids_look_like_uuids() {
        let id = secure_id();
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
        assert_ne!(id, secure_id());
    }
}
