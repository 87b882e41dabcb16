//! A user's realm role mappings: `RoleMapperResource` (`GET /users/{id}/role-mappings`,
//! `GET`/`POST`/`DELETE /users/{id}/role-mappings/realm`), Keycloak's
//! `org.keycloak.services.resources.admin.RoleMapperResource`. Roles are named by id and
//! name, as the admin clients send them.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::auth::{AdminAuth, Need};
use super::realms::{Result, with_realm, with_realm_mut};
use super::roles::role_rep;
use crate::Provider;
use crate::error::AdminError;
use crate::store::{Realm, User};

/// `GET /users/{id}/role-mappings/realm`: the direct realm roles, brief.
pub(super) async fn realm_role_mappings(
    auth: AdminAuth,
    State(p): State<Provider>,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Json<Value>> {
    with_realm(&p, &realm, |r| {
        auth.require_on(r, &id, AdminAuth::may_view_user)?;
        Ok(Json(Value::Array(realm_roles_of(r, r.user_or_404(&id)?))))
    })
}

/// `GET /users/{id}/role-mappings`: `{realmMappings, clientMappings}`, empty keys omitted.
/// A caller who may view the user but not the realm's roles (`view-realm`) gets no
/// `realmMappings`, nor `clientMappings` without `view-clients` (Keycloak 26.7.5, observed:
/// `manage-users` alone reads `{}`; `…/role-mappings/realm` lists them).
pub(super) async fn all_role_mappings(
    auth: AdminAuth,
    State(p): State<Provider>,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Json<Value>> {
    with_realm(&p, &realm, |r| {
        auth.require_on(r, &id, AdminAuth::may_view_user)?;
        let u = r.user_or_404(&id)?;
        let realm_roles = if auth.allows(&realm, Need::ViewRealm) {
            realm_roles_of(r, u)
        } else {
            Vec::new()
        };
        let view_clients = auth.allows(&realm, Need::ViewClients);
        let mut clients = Map::new();
        for c in r.clients.iter().filter(|_| view_clients) {
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

/// `RolePermissions#requireMapRole` for each role (`AdminAuth::may_map`), else 403.
fn require_map(auth: &AdminAuth, r: &Realm, ids: &[String]) -> Result<()> {
    for id in ids {
        if let Some((role, _)) = r.role_by_id(id)
            && !auth.may_map(r, role)
        {
            tracing::info!("admin '{}' may not map role '{}'", auth.username, role.name);
            return Err(AdminError::forbidden());
        }
    }
    Ok(())
}

/// `GET /users/{id}/role-mappings/realm/available`: the realm roles not mapped to the user
/// directly (one it has only through a composite, e.g. `offline_access` through the default
/// role, is listed: Keycloak 26.7.5, observed) that the caller may map
/// (`RoleMapperResource#getAvailableRealmRoleMappings`), brief.
pub(super) async fn available_realm_roles(
    auth: AdminAuth,
    State(p): State<Provider>,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Json<Value>> {
    with_realm(&p, &realm, |r| {
        auth.require_on(r, &id, AdminAuth::may_view_user)?;
        let u = r.user_or_404(&id)?;
        let list = r
            .roles
            .iter()
            .filter(|x| !u.role_ids.contains(&x.id) && auth.may_map(r, x))
            .map(|x| role_rep(x, false))
            .collect();
        Ok(Json(Value::Array(list)))
    })
}

/// `GET /users/{id}/role-mappings/clients/{client}`: the client's roles mapped directly
/// (`ClientRoleMappingsResource#getClientRoleMappings`), brief.
pub(super) async fn client_role_mappings(
    auth: AdminAuth,
    State(p): State<Provider>,
    Path((realm, id, client)): Path<(String, String, String)>,
) -> Result<Json<Value>> {
    with_realm(&p, &realm, |r| {
        auth.require_on(r, &id, AdminAuth::may_view_user)?;
        let u = r.user_or_404(&id)?;
        let c = r.client_or_404(&client)?;
        let list = c
            .roles
            .iter()
            .filter(|x| u.role_ids.contains(&x.id))
            .map(|x| role_rep(x, false))
            .collect();
        Ok(Json(Value::Array(list)))
    })
}

/// `POST` (add) or `DELETE` (remove) `/users/{id}/role-mappings/clients/{client}` with
/// `[{"id","name"}]` (`ClientRoleMappingsResource`): `manage-users`, then each role looked up
/// by name among the client's roles (404 `Role not found` unless the id agrees), then
/// `requireMapRole` (403 for an admin role the caller does not hold); 204.
pub(super) async fn change_client_role_mappings(
    auth: AdminAuth,
    State(p): State<Provider>,
    Path((realm, id, client)): Path<(String, String, String)>,
    method: axum::http::Method,
    body: Bytes,
) -> Result<Response> {
    let refs = parse_role_refs(&body)?.unwrap_or_default();
    with_realm_mut(&p, &realm, |r| {
        auth.require_on(r, &id, AdminAuth::may_map_roles_of)?;
        r.user_or_404(&id)?;
        let c = r.client_or_404(&client)?;
        let ids: Vec<String> = refs
            .iter()
            .map(|x| {
                let role = x
                    .name
                    .as_deref()
                    .and_then(|n| c.roles.iter().find(|k| k.name == n));
                match role {
                    Some(role) if x.id.as_deref() == Some(role.id.as_str()) => Ok(role.id.clone()),
                    _ => Err(AdminError::not_found("Role not found")),
                }
            })
            .collect::<Result<_>>()?;
        require_map(&auth, r, &ids)?;
        let add = method == axum::http::Method::POST;
        let user = r.user_mut_or_404(&id)?;
        if add {
            for rid in ids {
                if !user.role_ids.contains(&rid) {
                    user.role_ids.push(rid);
                }
            }
        } else {
            user.role_ids.retain(|x| !ids.contains(x));
        }
        tracing::info!(realm = %realm, "admin '{}' {} client roles of user '{}'", auth.username,
            if add { "granted" } else { "removed" }, user.username);
        Ok(StatusCode::NO_CONTENT.into_response())
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
pub(super) async fn add_realm_role_mappings(
    auth: AdminAuth,
    State(p): State<Provider>,
    Path((realm, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response> {
    let refs = parse_role_refs(&body)?.unwrap_or_default();
    with_realm_mut(&p, &realm, |r| {
        auth.require_on(r, &id, AdminAuth::may_map_roles_of)?;
        r.user_or_404(&id)?;
        let ids = resolve_roles(r, &refs)?;
        require_map(&auth, r, &ids)?;
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
pub(super) async fn delete_realm_role_mappings(
    auth: AdminAuth,
    State(p): State<Provider>,
    Path((realm, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response> {
    let refs = parse_role_refs(&body)?;
    with_realm_mut(&p, &realm, |r| {
        auth.require_on(r, &id, AdminAuth::may_map_roles_of)?;
        r.user_or_404(&id)?;
        let ids: Vec<String> = match &refs {
            Some(refs) => resolve_roles(r, refs)?,
            None => r.roles.iter().map(|x| x.id.clone()).collect(),
        };
        require_map(&auth, r, &ids)?;
        let user = r.user_mut_or_404(&id)?;
        user.role_ids.retain(|x| !ids.contains(x));
        tracing::info!(realm = %realm, "admin '{}' removed realm roles from user '{}'", auth.username, user.username);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}
