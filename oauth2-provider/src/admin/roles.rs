//! The realm's roles: `RoleContainerResource` (`GET /roles`, `GET /roles/{name}`), Keycloak's
//! `org.keycloak.services.resources.admin.RoleContainerResource`, with the
//! `RoleRepresentation` of `ModelToRepresentation` (brief or full).

use std::collections::BTreeMap;

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
use crate::store::{Realm, Role};

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

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct RolesQuery {
    brief_representation: Option<bool>,
    search: Option<String>,
}

/// `GET /roles` (brief by default), sorted by name.
pub(super) async fn list_roles(
    auth: AdminAuth,
    State(p): State<Provider>,
    Path(realm): Path<String>,
    Query(q): Query<RolesQuery>,
    Query(page): Query<Page>,
) -> Result<Json<Value>> {
    with_realm(&p, &realm, |r| {
        auth.require(&realm, Need::ViewRealm)?;
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

/// `GET /clients/{id}/roles`: the client's roles (brief by default), sorted by name; the
/// caller must be allowed to view the client.
pub(super) async fn list_client_roles(
    auth: AdminAuth,
    State(p): State<Provider>,
    Path((realm, id)): Path<(String, String)>,
    Query(q): Query<RolesQuery>,
) -> Result<Json<Value>> {
    with_realm(&p, &realm, |r| {
        auth.require(&realm, Need::ViewClients)?;
        let c = r.client_or_404(&id)?;
        let mut roles: Vec<&Role> = c.roles.iter().collect();
        roles.sort_by(|a, b| a.name.cmp(&b.name));
        let full = q.brief_representation == Some(false);
        Ok(Json(Value::Array(
            roles.into_iter().map(|x| role_rep(x, full)).collect(),
        )))
    })
}

/// `GET /roles/{name}`: full representation; 404 `Could not find role`.
pub(super) async fn get_role(
    auth: AdminAuth,
    State(p): State<Provider>,
    Path((realm, name)): Path<(String, String)>,
) -> Result<Response> {
    with_realm(&p, &realm, |r| {
        auth.require(&realm, Need::ViewRealm)?;
        let role = r
            .role_by_name(&name)
            .ok_or_else(|| AdminError::not_found("Could not find role"))?;
        Ok(axum::Json(role_rep(role, true)).into_response())
    })
}

/// The part of a `RoleRepresentation` `POST /roles` reads.
#[derive(Debug, Deserialize)]
struct NewRole {
    name: Option<String>,
    description: Option<String>,
    composites: Option<Composites>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct Composites {
    realm: Vec<String>,
    client: BTreeMap<String, Vec<String>>,
}

/// The ids of the roles `c` names (realm roles by name, client roles by clientId and name);
/// 404 `Could not find role` for an unknown one.
fn composite_ids(r: &Realm, c: &Composites) -> Result<Vec<String>> {
    let missing = || AdminError::not_found("Could not find role");
    let mut ids = Vec::new();
    for n in &c.realm {
        ids.push(r.role_by_name(n).ok_or_else(missing)?.id.clone());
    }
    for (cid, names) in &c.client {
        let client = r.client_by_client_id(cid).ok_or_else(missing)?;
        for n in names {
            let role = client
                .roles
                .iter()
                .find(|x| x.name == *n)
                .ok_or_else(missing)?;
            ids.push(role.id.clone());
        }
    }
    Ok(ids)
}

/// `POST /roles`: a new realm role (`RoleContainerResource#createRole`): `manage-realm`
/// first (403), then its composites, each of which the caller must be allowed to map; 201
/// with `Location: …/roles/{name}`; 409 when the name is taken.
pub(super) async fn create_role(
    auth: AdminAuth,
    State(p): State<Provider>,
    Path(realm): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response> {
    let rep: NewRole = serde_json::from_slice(&body).map_err(|e| {
        tracing::info!("POST role: bad JSON: {e}");
        AdminError::bad_json()
    })?;
    let base = crate::discovery::base_url(&p, &headers);
    with_realm_mut(&p, &realm, |r| {
        auth.require(&realm, Need::ManageRealm)?;
        let name = rep
            .name
            .clone()
            .ok_or_else(|| AdminError::bad_request("HTTP 400 Bad Request"))?;
        if r.role_by_name(&name).is_some() {
            return Err(AdminError::error_message(
                StatusCode::CONFLICT,
                &format!("Role with name {name} already exists"),
            ));
        }
        let composites = composite_ids(r, &rep.composites.unwrap_or_default())?;
        for id in &composites {
            if let Some((role, _)) = r.role_by_id(id)
                && !auth.may_map(r, role)
            {
                return Err(AdminError::forbidden());
            }
        }
        let mut role = Role::new(&name, &r.id, false);
        role.description = rep.description;
        role.composites = composites;
        r.roles.push(role);
        tracing::info!(realm = %realm, "admin '{}' created realm role '{name}'", auth.username);
        let path = uri.path().trim_end_matches('/');
        Ok((
            StatusCode::CREATED,
            [(header::LOCATION, format!("{base}{path}/{name}"))],
        )
            .into_response())
    })
}
