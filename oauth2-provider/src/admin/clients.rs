//! Clients of a realm: `ClientsResource` (`GET`/`POST /clients`) and `ClientResource`
//! (`GET`/`PUT`/`DELETE /clients/{id}`), Keycloak's
//! `org.keycloak.services.resources.admin.ClientsResource` and `ClientResource`, with the
//! `ClientRepresentation` of `ModelToRepresentation`. The service-account user of a client
//! is in [`users`](super::users).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::auth::{AdminAuth, Need};
use super::realms::{Page, Result, with_realm, with_realm_mut};
use crate::Provider;
use crate::error::AdminError;
use crate::realm::ClientRep;
use crate::store::{Client, new_id};

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

/// `ClientResource#getClient`'s `access`: what the caller may do with the client
/// (`ClientPermissions#getAccess`, roles only: configure and manage with `manage-clients`;
/// recorded: `view-clients` alone reads `{"view":true,"configure":false,"manage":false}`).
fn with_access(mut rep: Value, auth: &AdminAuth, realm: &str) -> Value {
    let manage = auth.allows(realm, Need::ManageClients);
    rep["access"] = json!({"view": true, "configure": manage, "manage": manage});
    rep
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ClientsQuery {
    client_id: Option<String>,
    search: Option<bool>,
}

/// `GET /clients[?clientId=x]`: exact match unless `search=true`.
pub(super) async fn list_clients(
    auth: AdminAuth,
    State(p): State<Provider>,
    Path(realm): Path<String>,
    Query(q): Query<ClientsQuery>,
    Query(page): Query<Page>,
) -> Result<Json<Value>> {
    with_realm(&p, &realm, |r| {
        auth.require(&realm, Need::ListClients)?;
        // Each client listed is one the caller may view (`query-clients` alone lists none).
        let mut clients: Vec<&Client> = if auth.allows(&realm, Need::ViewClients) {
            r.clients.iter().collect()
        } else {
            Vec::new()
        };
        clients.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        let list: Vec<Value> = match (&q.client_id, q.search.unwrap_or(false)) {
            (Some(cid), false) => clients
                .into_iter()
                .filter(|c| c.client_id == *cid)
                .map(|c| with_access(client_rep(c), &auth, &realm))
                .collect(),
            (cid, _) => {
                let needle = cid.as_deref().unwrap_or("").to_lowercase();
                page.apply(
                    clients
                        .into_iter()
                        .filter(|c| c.client_id.to_lowercase().contains(&needle)),
                    usize::MAX,
                )
                .map(|c| with_access(client_rep(c), &auth, &realm))
                .collect()
            }
        };
        Ok(Json(Value::Array(list)))
    })
}

/// `POST /clients`: 201 + `Location`; 409 on a duplicate clientId; a service-account client
/// gets its `service-account-<clientId>` user at once (`ClientManager#enableServiceAccount`).
pub(super) async fn create_client(
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
        auth.require(&realm, Need::CreateClient)?;
        let defaults_given =
            rep.default_client_scopes.is_some() || rep.optional_client_scopes.is_some();
        let mut client = crate::realm::client_from_rep(rep, "client")
            .map_err(|e| AdminError::bad_request(&e.to_string()))?;
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

pub(super) async fn get_client(
    auth: AdminAuth,
    State(p): State<Provider>,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Json<Value>> {
    with_realm(&p, &realm, |r| {
        auth.require(&realm, Need::ViewClients)?;
        Ok(axum::Json(with_access(
            client_rep(r.client_or_404(&id)?),
            &auth,
            &realm,
        )))
    })
}

/// `PUT /clients/{id}` with a (partial) ClientRepresentation: 204. As
/// `RepresentationToModel#updateClient`, only the fields given change; an attribute given
/// with an empty value is removed. This provider updates `enabled` and `attributes` (the
/// `x509.*` ones reconfigure the client's authenticator at once) and ignores other fields.
pub(super) async fn update_client(
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
        auth.require(&realm, Need::ManageClients)?;
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
pub(super) async fn delete_client(
    auth: AdminAuth,
    State(p): State<Provider>,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response> {
    with_realm_mut(&p, &realm, |r| {
        auth.require(&realm, Need::ManageClients)?;
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
