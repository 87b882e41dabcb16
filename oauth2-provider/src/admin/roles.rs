//! The realm's roles: `RoleContainerResource` (`GET /roles`, `GET /roles/{name}`), Keycloak's
//! `org.keycloak.services.resources.admin.RoleContainerResource`, with the
//! `RoleRepresentation` of `ModelToRepresentation` (brief or full).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::auth::AdminAuth;
use super::realms::{Page, Result, with_realm};
use crate::Provider;
use crate::error::AdminError;
use crate::store::Role;

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
pub(super) async fn get_role(
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
