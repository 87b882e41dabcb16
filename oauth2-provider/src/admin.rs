//! The admin REST calls of the walkthrough, under `/admin/realms/{realm}` (Bearer token of
//! the `master` realm's admin), with Keycloak's representations and error bodies
//! (`ClientsResource`, `ClientResource`, `RoleContainerResource`, `UsersResource`,
//! `UserResource`, `RoleMapperResource`, `KeycloakErrorHandler`). Paths are accepted with or without a
//! trailing slash, as the official admin clients send both.

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::Provider;
use crate::error::AdminError;
use crate::realm::ClientRep;
use crate::store::{Client, Realm, Role, User, new_id};

type Result<T> = std::result::Result<T, AdminError>;

fn both(router: Router<Provider>, path: &str, method: MethodRouter<Provider>) -> Router<Provider> {
    router
        .route(path, method.clone())
        .route(&format!("{path}/"), method)
}

/// The admin routes (state: [`Provider`]).
pub fn router() -> Router<Provider> {
    let r = Router::new();
    let r = both(
        r,
        "/admin/realms/{realm}/clients",
        get(list_clients).post(create_client),
    );
    let r = both(
        r,
        "/admin/realms/{realm}/clients/{id}",
        get(get_client).put(update_client).delete(delete_client),
    );
    let r = both(
        r,
        "/admin/realms/{realm}/clients/{id}/service-account-user",
        get(service_account_user),
    );
    let r = both(r, "/admin/realms/{realm}/roles", get(list_roles));
    let r = both(r, "/admin/realms/{realm}/roles/{name}", get(get_role));
    let r = both(r, "/admin/realms/{realm}/users", get(list_users));
    let r = both(
        r,
        "/admin/realms/{realm}/users/{id}",
        get(get_user).put(update_user).delete(delete_user),
    );
    let r = both(
        r,
        "/admin/realms/{realm}/users/{id}/role-mappings",
        get(all_role_mappings),
    );
    both(
        r,
        "/admin/realms/{realm}/users/{id}/role-mappings/realm",
        get(realm_role_mappings)
            .post(add_realm_role_mappings)
            .delete(delete_realm_role_mappings),
    )
    .layer(axum::middleware::from_fn(keycloak_headers))
}

/// The headers Keycloak 26.7.5's admin resources add (observed; `CacheControlUtil#noCache`
/// and RESTEasy's JSON writer): a successful JSON `GET` is
/// `application/json;charset=UTF-8` with `Cache-Control: no-cache`, a deleted client or
/// user answers 204 with `Cache-Control: no-cache`; errors carry plain `application/json`,
/// role-mapping changes and user updates no extra header.
async fn keycloak_headers(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().trim_end_matches('/').to_owned();
    let mut res = next.run(req).await;
    let no_cache = || HeaderValue::from_static("no-cache");
    let status = res.status();
    if method == Method::GET && status == StatusCode::OK {
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json;charset=UTF-8"),
        );
        h.insert(header::CACHE_CONTROL, no_cache());
    } else if method == Method::DELETE
        && status == StatusCode::NO_CONTENT
        && !path.contains("/role-mappings")
    {
        res.headers_mut().insert(header::CACHE_CONTROL, no_cache());
    }
    res
}

/// A verified admin: the bearer token of a `master` user with the `admin` role
/// (`AdminRoot#authenticateRealmAdminRequest`).
#[derive(Debug, Clone)]
pub struct AdminAuth {
    pub username: String,
}

impl FromRequestParts<Provider> for AdminAuth {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, provider: &Provider) -> Result<Self> {
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

fn realm_not_found() -> AdminError {
    AdminError::not_found("Realm not found.")
}

fn with_realm<T>(
    provider: &Provider,
    name: &str,
    f: impl FnOnce(&Realm) -> Result<T>,
) -> Result<T> {
    let store = provider.read();
    let realm = store.realm(name).ok_or_else(realm_not_found)?;
    f(realm)
}

fn with_realm_mut<T>(
    provider: &Provider,
    name: &str,
    f: impl FnOnce(&mut Realm) -> Result<T>,
) -> Result<T> {
    let mut store = provider.write();
    let realm = store.realm_mut(name).ok_or_else(realm_not_found)?;
    f(realm)
}

/// `ModelToRepresentation#toRepresentation(ClientModel)`, fields in Keycloak's order.
pub fn client_rep(c: &Client) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(c.id));
    m.insert("clientId".into(), json!(c.client_id));
    if let Some(n) = &c.name {
        m.insert("name".into(), json!(n));
    }
    if let Some(d) = &c.description {
        m.insert("description".into(), json!(d));
    }
    m.insert("surrogateAuthRequired".into(), json!(false));
    m.insert("enabled".into(), json!(c.enabled));
    m.insert("alwaysDisplayInConsole".into(), json!(false));
    m.insert(
        "clientAuthenticatorType".into(),
        json!(c.client_authenticator_type),
    );
    if let Some(s) = c
        .secret
        .as_ref()
        .filter(|_| !(c.bearer_only || c.public_client))
    {
        m.insert("secret".into(), json!(s));
    }
    m.insert("redirectUris".into(), json!(c.redirect_uris));
    m.insert("webOrigins".into(), json!(c.web_origins));
    m.insert("notBefore".into(), json!(c.not_before));
    m.insert("bearerOnly".into(), json!(c.bearer_only));
    m.insert("consentRequired".into(), json!(c.consent_required));
    m.insert("standardFlowEnabled".into(), json!(c.standard_flow_enabled));
    m.insert("implicitFlowEnabled".into(), json!(c.implicit_flow_enabled));
    m.insert(
        "directAccessGrantsEnabled".into(),
        json!(c.direct_access_grants_enabled),
    );
    m.insert(
        "serviceAccountsEnabled".into(),
        json!(c.service_accounts_enabled),
    );
    m.insert("publicClient".into(), json!(c.public_client));
    m.insert("frontchannelLogout".into(), json!(c.frontchannel_logout));
    m.insert("protocol".into(), json!(c.protocol));
    let mut attrs = Map::new();
    // Constants.REALM_CLIENT, always added.
    attrs.insert("realm_client".into(), json!("false"));
    for (k, v) in &c.attributes {
        attrs.insert(k.clone(), json!(v));
    }
    m.insert("attributes".into(), Value::Object(attrs));
    m.insert("authenticationFlowBindingOverrides".into(), json!({}));
    m.insert("fullScopeAllowed".into(), json!(c.full_scope_allowed));
    m.insert(
        "nodeReRegistrationTimeout".into(),
        json!(c.node_re_registration_timeout),
    );
    if !c.mappers.is_empty() {
        let mappers: Vec<Value> = c
            .mappers
            .iter()
            .map(|p| {
                json!({"id": p.id, "name": p.name, "protocol": p.protocol,
                       "protocolMapper": p.mapper_type, "consentRequired": false, "config": p.config})
            })
            .collect();
        m.insert("protocolMappers".into(), json!(mappers));
    }
    m.insert("defaultClientScopes".into(), json!(c.default_scopes));
    m.insert("optionalClientScopes".into(), json!(c.optional_scopes));
    m.insert(
        "access".into(),
        json!({"view": true, "configure": true, "manage": true}),
    );
    Value::Object(m)
}

/// `ModelToRepresentation#toRepresentation(session, realm, user)` (full) or `toBriefRepresentation`.
pub fn user_rep(u: &User, brief: bool) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(u.id));
    m.insert("username".into(), json!(u.username));
    if let Some(v) = &u.first_name {
        m.insert("firstName".into(), json!(v));
    }
    if let Some(v) = &u.last_name {
        m.insert("lastName".into(), json!(v));
    }
    if let Some(v) = &u.email {
        m.insert("email".into(), json!(v));
    }
    m.insert("emailVerified".into(), json!(u.email_verified));
    m.insert("createdTimestamp".into(), json!(u.created_timestamp));
    m.insert("enabled".into(), json!(u.enabled));
    if !brief {
        m.insert("totp".into(), json!(false));
        m.insert("disableableCredentialTypes".into(), json!([]));
        m.insert("requiredActions".into(), json!([]));
        m.insert("notBefore".into(), json!(0));
        if !u.attributes.is_empty() {
            m.insert("attributes".into(), json!(u.attributes));
        }
    }
    Value::Object(m)
}

/// `toBriefRepresentation(RoleModel)` or the full one (adds `attributes`).
pub fn role_rep(r: &Role, full: bool) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(r.id));
    m.insert("name".into(), json!(r.name));
    if let Some(d) = &r.description {
        m.insert("description".into(), json!(d));
    }
    m.insert("composite".into(), json!(r.composite()));
    m.insert("clientRole".into(), json!(r.client_role));
    m.insert("containerId".into(), json!(r.container_id));
    if full {
        m.insert("attributes".into(), Value::Object(r.attributes.clone()));
    }
    Value::Object(m)
}

/// `first`/`max` paging, read from the same query string as each handler's own parameters.
#[derive(Debug, Deserialize, Default, Clone, Copy)]
#[serde(default)]
pub struct Page {
    first: Option<usize>,
    max: Option<usize>,
}

impl Page {
    /// Skips `first`, keeps at most `max` (else `default_max`).
    fn apply<T>(
        self,
        items: impl Iterator<Item = T>,
        default_max: usize,
    ) -> impl Iterator<Item = T> {
        items
            .skip(self.first.unwrap_or(0))
            .take(self.max.unwrap_or(default_max))
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ClientsQuery {
    client_id: Option<String>,
    search: Option<bool>,
}

/// `GET /clients[?clientId=x]`: exact match unless `search=true`.
async fn list_clients(
    _: AdminAuth,
    State(p): State<Provider>,
    Path(realm): Path<String>,
    Query(q): Query<ClientsQuery>,
    Query(page): Query<Page>,
) -> Result<Json<Value>> {
    with_realm(&p, &realm, |r| {
        let mut clients: Vec<&Client> = r.clients.iter().collect();
        clients.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        let list: Vec<Value> = match (&q.client_id, q.search.unwrap_or(false)) {
            (Some(cid), false) => clients
                .into_iter()
                .filter(|c| c.client_id == *cid)
                .map(client_rep)
                .collect(),
            (cid, _) => {
                let needle = cid.as_deref().unwrap_or("").to_lowercase();
                page.apply(
                    clients
                        .into_iter()
                        .filter(|c| c.client_id.to_lowercase().contains(&needle)),
                    usize::MAX,
                )
                .map(client_rep)
                .collect()
            }
        };
        Ok(Json(Value::Array(list)))
    })
}

/// `POST /clients`: 201 + `Location`; 409 on a duplicate clientId; a service-account client
/// gets its `service-account-<clientId>` user at once (`ClientManager#enableServiceAccount`).
async fn create_client(
    auth: AdminAuth,
    State(p): State<Provider>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response> {
    let mut rep: ClientRep = serde_json::from_slice(&body).map_err(|e| {
        tracing::info!("POST client: bad JSON: {e}");
        AdminError::bad_json()
    })?;
    // Over REST a client the representation leaves open is public, with the direct access
    // grant on (Keycloak 26.7.5, observed: a `POST /clients` without these fields answers a
    // client_credentials request with "Public client not allowed to retrieve service
    // account"); a realm import or partialImport of the same representation gives a
    // confidential client without it, as `realm::client_from_rep` does.
    rep.public_client.get_or_insert(true);
    rep.direct_access_grants_enabled.get_or_insert(true);
    let base = crate::discovery::base_url(&p, &headers);
    with_realm_mut(&p, &realm, |r| {
        let defaults_given =
            rep.default_client_scopes.is_some() || rep.optional_client_scopes.is_some();
        let mut client = crate::realm::client_from_rep(rep, "client")
            .map_err(|e| AdminError::bad_request(&e))?;
        if r.client_by_client_id(&client.client_id).is_some() {
            return Err(AdminError::error_message(
                StatusCode::CONFLICT,
                &format!("Client {} already exists", client.client_id),
            ));
        }
        if r.clients.iter().any(|c| c.id == client.id) {
            client.id = new_id();
        }
        if defaults_given {
            let keep = |names: Vec<String>| -> Vec<String> {
                names
                    .into_iter()
                    .filter(|n| r.scope_by_name(n).is_some())
                    .collect()
            };
            client.default_scopes = keep(std::mem::take(&mut client.default_scopes));
            client.optional_scopes = keep(std::mem::take(&mut client.optional_scopes));
        } else {
            // The realm's defaults of the client's protocol (a realm with Keycloak's
            // built-in scopes also has SAML ones).
            (client.default_scopes, client.optional_scopes) =
                r.default_scopes_for(&client.protocol);
        }
        // Confidential clients created over REST get a generated secret, with its creation
        // time; every OIDC client the backchannel-logout defaults (Keycloak 26.7.5, observed
        // on `GET /clients/{id}` after `POST /clients`).
        if !client.public_client && !client.bearer_only && client.secret.is_none() {
            client.secret = Some(crate::store::secure_id().replace('-', "")[..32].to_owned());
            client.attributes.push((
                "client.secret.creation.time".to_owned(),
                crate::clock::now().to_string(),
            ));
        }
        if client.protocol == "openid-connect" {
            for (key, value) in [
                ("backchannel.logout.session.required", "true"),
                ("backchannel.logout.revoke.offline.tokens", "false"),
            ] {
                if client.attribute(key).is_none() {
                    client.attributes.push((key.to_owned(), value.to_owned()));
                }
            }
        }
        let id = client.id.clone();
        let sa = client.service_accounts_enabled;
        let client_id = client.client_id.clone();
        r.clients.push(client);
        if sa {
            r.enable_service_account(&id);
        }
        tracing::info!(realm = %r.name, "admin '{}' created client '{client_id}' ({id})", auth.username);
        let path = uri.path().trim_end_matches('/');
        Ok((
            StatusCode::CREATED,
            [(header::LOCATION, format!("{base}{path}/{id}"))],
        )
            .into_response())
    })
}

async fn get_client(
    _: AdminAuth,
    State(p): State<Provider>,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Json<Value>> {
    with_realm(&p, &realm, |r| {
        Ok(axum::Json(client_rep(r.client_or_404(&id)?)))
    })
}

/// `PUT /clients/{id}` with a (partial) ClientRepresentation: 204. As
/// `RepresentationToModel#updateClient`, only the fields given change; an attribute given
/// with an empty value is removed. This provider updates `enabled` and `attributes` (the
/// `x509.*` ones reconfigure the client's authenticator at once) and ignores other fields.
async fn update_client(
    auth: AdminAuth,
    State(p): State<Provider>,
    Path((realm, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response> {
    let rep: Value = serde_json::from_slice(&body).map_err(|e| {
        tracing::info!("PUT client: bad JSON: {e}");
        AdminError::bad_json()
    })?;
    let rep = rep.as_object().ok_or_else(AdminError::bad_json)?;
    with_realm_mut(&p, &realm, |r| {
        r.client_or_404(&id)?;
        let client = r
            .clients
            .iter_mut()
            .find(|c| c.id == id)
            .expect("client_or_404 found it");
        if let Some(enabled) = rep.get("enabled").and_then(Value::as_bool) {
            client.enabled = enabled;
        }
        if let Some(attributes) = rep.get("attributes").and_then(Value::as_object) {
            for (key, value) in attributes {
                let value = value.as_str().unwrap_or("").trim();
                client.attributes.retain(|(k, _)| k != key);
                if !value.is_empty() {
                    client.attributes.push((key.clone(), value.to_owned()));
                }
            }
            let (authenticator, warnings) = crate::client_auth::configure(
                &client.client_id,
                &client.client_authenticator_type,
                |key| {
                    client
                        .attributes
                        .iter()
                        .find(|(k, _)| k == key)
                        .map(|(_, v)| v.as_str())
                },
            );
            for w in warnings {
                tracing::warn!("{w}");
            }
            client.authenticator = authenticator;
        }
        tracing::info!(realm = %r.name, "admin '{}' updated client '{}'", auth.username, id);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

/// `DELETE /clients/{id}`: removes the client, its roles and its service-account user
/// (`ClientManager#removeClient`).
async fn delete_client(
    auth: AdminAuth,
    State(p): State<Provider>,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response> {
    with_realm_mut(&p, &realm, |r| {
        r.client_or_404(&id)?;
        let client = r.clients.remove(
            r.clients
                .iter()
                .position(|c| c.id == id)
                .expect("client_or_404 found it"),
        );
        let role_ids: Vec<String> = client.roles.iter().map(|x| x.id.clone()).collect();
        r.users
            .retain(|u| u.service_account_client.as_deref() != Some(client.id.as_str()));
        for u in &mut r.users {
            u.role_ids.retain(|x| !role_ids.contains(x));
        }
        for role in &mut r.roles {
            role.composites.retain(|x| !role_ids.contains(x));
        }
        tracing::info!(realm = %r.name, "admin '{}' deleted client '{}'", auth.username, client.client_id);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

/// `GET /clients/{id}/service-account-user` (no `access` block here).
async fn service_account_user(
    _: AdminAuth,
    State(p): State<Provider>,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response> {
    with_realm_mut(&p, &realm, |r| {
        let c = r.client_or_404(&id)?;
        if !c.service_accounts_enabled {
            return Err(AdminError::bad_request(&format!(
                "Service account not enabled for the client '{}'",
                c.client_id
            )));
        }
        // Enabled but missing: created on the fly.
        if r.service_account_of(&id).is_none() {
            r.enable_service_account(&id);
        }
        let u = r.service_account_of(&id).expect("just ensured");
        Ok(axum::Json(user_rep(u, false)).into_response())
    })
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct RolesQuery {
    brief_representation: Option<bool>,
    search: Option<String>,
}

/// `GET /roles` (brief by default), sorted by name.
async fn list_roles(
    _: AdminAuth,
    State(p): State<Provider>,
    Path(realm): Path<String>,
    Query(q): Query<RolesQuery>,
    Query(page): Query<Page>,
) -> Result<Json<Value>> {
    with_realm(&p, &realm, |r| {
        let mut roles: Vec<&Role> = r.roles.iter().collect();
        roles.sort_by(|a, b| a.name.cmp(&b.name));
        let needle = q.search.unwrap_or_default().to_lowercase();
        let full = q.brief_representation == Some(false);
        let matching = roles
            .into_iter()
            .filter(|x| x.name.to_lowercase().contains(&needle));
        let list: Vec<Value> = page
            .apply(matching, usize::MAX)
            .map(|x| role_rep(x, full))
            .collect();
        Ok(Json(Value::Array(list)))
    })
}

/// `GET /roles/{name}`: full representation; 404 `Could not find role`.
async fn get_role(
    _: AdminAuth,
    State(p): State<Provider>,
    Path((realm, name)): Path<(String, String)>,
) -> Result<Response> {
    with_realm(&p, &realm, |r| {
        let role = r
            .role_by_name(&name)
            .ok_or_else(|| AdminError::not_found("Could not find role"))?;
        Ok(axum::Json(role_rep(role, true)).into_response())
    })
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct UsersQuery {
    username: Option<String>,
    exact: Option<bool>,
    search: Option<String>,
    brief_representation: Option<bool>,
}

/// `GET /users?username=x[&exact=true]`: substring match unless `exact` (service accounts
/// included for attribute searches, excluded otherwise).
async fn list_users(
    _: AdminAuth,
    State(p): State<Provider>,
    Path(realm): Path<String>,
    Query(q): Query<UsersQuery>,
    Query(page): Query<Page>,
) -> Result<Json<Value>> {
    with_realm(&p, &realm, |r| {
        let brief = q.brief_representation.unwrap_or(false);
        let mut users: Vec<&User> = match (&q.username, &q.search) {
            (Some(name), _) => {
                let name = name.to_lowercase();
                r.users
                    .iter()
                    .filter(|u| {
                        if q.exact.unwrap_or(false) {
                            u.username == name
                        } else {
                            u.username.contains(&name)
                        }
                    })
                    .collect()
            }
            (None, Some(s)) => {
                let s = s.to_lowercase();
                r.users
                    .iter()
                    .filter(|u| u.service_account_client.is_none() && u.username.contains(&s))
                    .collect()
            }
            (None, None) => r
                .users
                .iter()
                .filter(|u| u.service_account_client.is_none())
                .collect(),
        };
        users.sort_by(|a, b| a.username.cmp(&b.username));
        let list: Vec<Value> = page
            .apply(users.into_iter(), 100)
            .map(|u| {
                let mut rep = user_rep(u, brief);
                // UsersResource#getUsers: each entry carries the caller's access.
                rep["access"] = json!({"manage": true});
                rep
            })
            .collect();
        Ok(Json(Value::Array(list)))
    })
}

async fn get_user(
    _: AdminAuth,
    State(p): State<Provider>,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response> {
    with_realm(&p, &realm, |r| {
        let u = r.user_or_404(&id)?;
        // UserResource#getUser adds the caller's access (a realm admin may do everything).
        let mut rep = user_rep(u, false);
        rep["access"] = json!({"manageGroupMembership": true, "resetPassword": true, "view": true,
                               "mapRoles": true, "impersonate": true, "manage": true});
        Ok(axum::Json(rep).into_response())
    })
}

/// The fields of a `UserRepresentation` that `PUT /users/{id}` applies here; any other field
/// is ignored, as for `POST /clients` (Jackson's `null` = absent, so `Option` is enough).
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct UserUpdate {
    username: Option<String>,
    enabled: Option<bool>,
    email_verified: Option<bool>,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    attributes: Option<Map<String, Value>>,
}

/// `PUT /users/{id}`: a partial update, 204 (`UserResource#updateUser`, 26.x):
///
/// - `enabled` and `emailVerified` are applied only when present
///   (`UserResource#updateUserFromRep`: `if (rep.isEnabled() != null) user.setEnabled(..)`).
/// - `firstName`, `lastName`, `email` go through the user profile (`DefaultUserProfile#update`):
///   without an `attributes` map, the ones absent are first filled from the user
///   (`attributes.putIfAbsent`), so they are kept; *with* an `attributes` map, an absent one is
///   normalized to empty (`DefaultAttributes#normalizeAttributes`) and so cleared. E-mails are
///   lower-cased (`DefaultAttributes#normalizeAttributeValues`). Custom attributes are
///   "unmanaged" in the default user profile (policy off), so they are neither set nor removed.
/// - `username`: the realm's `editUsernameAllowed` is false (Keycloak's default; the realm file
///   does not set it), so the profile keeps the current one when absent
///   (`DefaultAttributes#normalizeAttributes`, read-only username) and
///   `UsernameMutationValidator` refuses another one: 400 with the single validation error
///   (`UserResource#validateUserProfile`, `ErrorResponse#errors` shrinks one error to itself:
///   an `ErrorRepresentation` with `field`, `errorMessage` = `Messages.READ_ONLY_USERNAME` and
///   `params` = `ValidationException.Error#getMessageParameters`, i.e. the input hint first).
///   A new name that another user has is not modelled (Keycloak: 409 from the duplicate check).
///
/// Not modelled (no such state here): `requiredActions`, `credentials`, `federationLink`, the
/// e-mail format and duplicate-e-mail validators. A body that is not a JSON object gives
/// Keycloak's JSON error; `null` makes `rep.isEnabled()` throw inside the `try`, whose
/// catch-all answers 400 `Could not update user!` (the empty-body case is UNVERIFIED: it
/// depends on Quarkus REST handing `null` to the method).
async fn update_user(
    auth: AdminAuth,
    State(p): State<Provider>,
    Path((realm, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response> {
    let update: Option<UserUpdate> = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            tracing::info!("PUT user: bad JSON: {e}");
            AdminError::bad_json()
        })?
    };
    with_realm_mut(&p, &realm, |r| {
        // UsersResource#user runs first: an unknown id is 404 whatever the body.
        let user = r.user_mut_or_404(&id)?;
        let Some(u) = update else {
            return Err(AdminError::error_message(
                StatusCode::BAD_REQUEST,
                "Could not update user!",
            ));
        };
        if let Some(name) = u.username.as_deref().filter(|n| !n.trim().is_empty())
            && name.to_lowercase() != user.username
        {
            return Err(AdminError {
                status: StatusCode::BAD_REQUEST,
                body: json!({"field": "username", "errorMessage": "readOnlyUsernameMessage",
                             "params": ["username"]}),
            });
        }
        let replace_absent = u.attributes.is_some();
        let apply = |field: &mut Option<String>, value: Option<String>| match value {
            Some(v) => *field = Some(v),
            None if replace_absent => *field = None,
            None => {}
        };
        apply(&mut user.first_name, u.first_name);
        apply(&mut user.last_name, u.last_name);
        apply(
            &mut user.email,
            u.email
                .map(|e| e.to_lowercase())
                .filter(|e| !e.trim().is_empty()),
        );
        if let Some(v) = u.enabled {
            user.enabled = v;
        }
        if let Some(v) = u.email_verified {
            user.email_verified = v;
        }
        tracing::info!(realm = %realm, "admin '{}' updated user '{}' (enabled={})", auth.username, user.username, user.enabled);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

/// `DELETE /users/{id}`: 204 (`UserResource#deleteUser` → `UserManager#removeUser` →
/// `JpaUserProvider#removeUser`, which also drops the user's role mappings). Nothing there
/// spares a service-account user: deleting one leaves its client without a service account
/// (`ClientCredentialsGrantType`: "The associated service account for the client does not
/// exist") until `GET /clients/{id}/service-account-user` creates a new one; deleting the client
/// afterwards still works (`ClientManager#removeClient` skips a missing service account).
/// Unknown id: 404 `User not found` (`UsersResource#user`).
async fn delete_user(
    auth: AdminAuth,
    State(p): State<Provider>,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response> {
    with_realm_mut(&p, &realm, |r| {
        r.user_or_404(&id)?;
        let pos = r
            .users
            .iter()
            .position(|u| u.id == id)
            .expect("user_or_404 found it");
        let user = r.users.remove(pos);
        tracing::info!(realm = %realm, "admin '{}' deleted user '{}'{}", auth.username, user.username,
            if user.service_account_client.is_some() { " (a service account)" } else { "" });
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

/// `GET /users/{id}/role-mappings/realm`: the direct realm roles, brief.
async fn realm_role_mappings(
    _: AdminAuth,
    State(p): State<Provider>,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Json<Value>> {
    with_realm(&p, &realm, |r| {
        Ok(Json(Value::Array(realm_roles_of(r, r.user_or_404(&id)?))))
    })
}

/// `GET /users/{id}/role-mappings`: `{realmMappings, clientMappings}`, empty keys omitted.
async fn all_role_mappings(
    _: AdminAuth,
    State(p): State<Provider>,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Json<Value>> {
    with_realm(&p, &realm, |r| {
        let u = r.user_or_404(&id)?;
        let realm_roles = realm_roles_of(r, u);
        let mut clients = Map::new();
        for c in &r.clients {
            let mappings: Vec<Value> = c
                .roles
                .iter()
                .filter(|role| u.role_ids.contains(&role.id))
                .map(|role| role_rep(role, false))
                .collect();
            if !mappings.is_empty() {
                clients.insert(
                    c.client_id.clone(),
                    json!({"id": c.id, "client": c.client_id, "mappings": mappings}),
                );
            }
        }
        let mut out = Map::new();
        if !realm_roles.is_empty() {
            out.insert("realmMappings".into(), json!(realm_roles));
        }
        if !clients.is_empty() {
            out.insert("clientMappings".into(), Value::Object(clients));
        }
        Ok(Json(Value::Object(out)))
    })
}

/// The realm roles mapped directly to `u`, brief (`RoleMapperResource#getRealmRoleMappings`).
fn realm_roles_of(r: &Realm, u: &User) -> Vec<Value> {
    r.roles
        .iter()
        .filter(|role| u.role_ids.contains(&role.id))
        .map(|role| role_rep(role, false))
        .collect()
}

#[derive(Debug, Deserialize)]
struct RoleRef {
    id: Option<String>,
    name: Option<String>,
}

fn parse_role_refs(body: &Bytes) -> Result<Option<Vec<RoleRef>>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice::<Option<Vec<RoleRef>>>(body).map_err(|e| {
        tracing::info!("role mappings: bad JSON: {e}");
        AdminError::bad_json()
    })
}

/// `RoleMapperResource`: each role is looked up by *name*; its id must equal the given id,
/// else 404 `Role not found`.
fn resolve_roles(r: &Realm, refs: &[RoleRef]) -> Result<Vec<String>> {
    refs.iter()
        .map(|x| {
            let role = x.name.as_deref().and_then(|n| r.role_by_name(n));
            match role {
                Some(role) if x.id.as_deref() == Some(role.id.as_str()) => Ok(role.id.clone()),
                _ => Err(AdminError::not_found("Role not found")),
            }
        })
        .collect()
}

/// `POST /users/{id}/role-mappings/realm`: 204, idempotent (`UserAdapter#grantRole`).
async fn add_realm_role_mappings(
    auth: AdminAuth,
    State(p): State<Provider>,
    Path((realm, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response> {
    let refs = parse_role_refs(&body)?.unwrap_or_default();
    with_realm_mut(&p, &realm, |r| {
        r.user_or_404(&id)?;
        let ids = resolve_roles(r, &refs)?;
        let user = r.user_mut_or_404(&id)?;
        for rid in ids {
            if !user.role_ids.contains(&rid) {
                user.role_ids.push(rid);
            }
        }
        let names: Vec<&str> = refs.iter().filter_map(|x| x.name.as_deref()).collect();
        tracing::info!(realm = %realm, "admin '{}' granted {names:?} to user '{}'", auth.username, user.username);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

/// `DELETE /users/{id}/role-mappings/realm`: 204; a role not mapped is a no-op; no body
/// removes every realm role mapping.
async fn delete_realm_role_mappings(
    auth: AdminAuth,
    State(p): State<Provider>,
    Path((realm, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response> {
    let refs = parse_role_refs(&body)?;
    with_realm_mut(&p, &realm, |r| {
        r.user_or_404(&id)?;
        let ids: Vec<String> = match &refs {
            Some(refs) => resolve_roles(r, refs)?,
            None => r.roles.iter().map(|x| x.id.clone()).collect(),
        };
        let user = r.user_mut_or_404(&id)?;
        user.role_ids.retain(|x| !ids.contains(x));
        tracing::info!(realm = %realm, "admin '{}' removed realm roles from user '{}'", auth.username, user.username);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}
