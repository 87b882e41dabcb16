//! From representation to model, one entity at a time, with Keycloak's defaults for missing
//! fields (`RepresentationToModel#createClient`, `#createProtocolMapper`, `#createRole`,
//! `#createClientScope`). Relations between entities (roles of a client, composites, scopes
//! of a client) are made by the import steps; an error names the JSON path given as `field`.

use serde_json::{Map, Value};

use super::error::{FieldError, Problem};
use super::rep::{ClientRep, ClientScopeRep, MapperRep, RoleRep};
use crate::store::{Client, ClientScope, ProtocolMapper, Role, new_id};

/// `<field>.<name>` is absent (or empty, where Keycloak requires a value).
fn missing(field: &str, name: &str) -> FieldError {
    Problem::Missing.at(format!("{field}.{name}"))
}

/// Jackson's scalar-to-String coercion for `Map<String,String>` fields.
fn string_map(
    map: Option<Map<String, Value>>,
    field: &str,
) -> Result<Vec<(String, String)>, FieldError> {
    let mut out = Vec::new();
    for (k, v) in map.unwrap_or_default() {
        let s = match v {
            Value::String(s) => s,
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            Value::Null => continue,
            _ => return Err(Problem::NotAString.at(format!("{field}.{k}"))),
        };
        out.push((k, s));
    }
    Ok(out)
}

/// `RepresentationToModel#createProtocolMapper`.
pub(super) fn mapper_from_rep(m: MapperRep, field: &str) -> Result<ProtocolMapper, FieldError> {
    Ok(ProtocolMapper {
        id: m.id.unwrap_or_else(new_id),
        name: m.name.ok_or_else(|| missing(field, "name"))?,
        protocol: m.protocol.unwrap_or_else(|| "openid-connect".into()),
        mapper_type: m
            .protocol_mapper
            .ok_or_else(|| missing(field, "protocolMapper"))?,
        config: string_map(m.config, &format!("{field}.config"))?
            .into_iter()
            .collect(),
    })
}

/// Builds a client from its representation with Keycloak's defaults
/// (`RepresentationToModel#createClient` / `updateClientProperties`). Roles and the
/// service account are not handled here.
pub(crate) fn client_from_rep(c: ClientRep, field: &str) -> Result<Client, FieldError> {
    let client_id = c
        .client_id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| missing(field, "clientId"))?;
    // An attribute with an empty value is no attribute: Keycloak 26.7.5 imports none for it
    // (observed with `${UNSET:}`, `tests/golden/corpus/placeholders.json`).
    let attributes: Vec<(String, String)> =
        string_map(c.attributes, &format!("{field}.attributes"))?
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .collect();
    let mut mappers = Vec::new();
    for (i, m) in c
        .protocol_mappers
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        mappers.push(mapper_from_rep(
            m,
            &format!("{field}.protocolMappers[{i}]"),
        )?);
    }
    let consent_required = c.consent_required.unwrap_or(false);
    // KeycloakModelUtils.getDefaultClientAuthenticatorType() = "client-secret".
    let client_authenticator_type = c
        .client_authenticator_type
        .unwrap_or_else(|| "client-secret".into());
    let public_client = c.public_client.unwrap_or(false);
    let (authenticator, warnings) =
        crate::client_auth::configure(&client_id, &client_authenticator_type, |key| {
            attributes
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        });
    // A public client's type is ignored (it only names itself), so is its configuration.
    if !public_client {
        for w in warnings {
            tracing::warn!("{w}");
        }
    }
    Ok(Client {
        id: c.id.unwrap_or_else(new_id),
        client_id,
        name: c.name,
        description: c.description,
        // ClientModel default: enabled unless the representation says otherwise.
        enabled: c.enabled.unwrap_or(true),
        client_authenticator_type,
        authenticator,
        secret: c.secret,
        // RepresentationToModel#createClient: without `webOrigins`, the origins of the
        // http(s) redirect URIs.
        web_origins: c.web_origins.unwrap_or_else(|| {
            let mut origins: Vec<String> = Vec::new();
            for o in c
                .redirect_uris
                .iter()
                .flatten()
                .filter(|u| u.starts_with("http"))
            {
                if let Some(o) = crate::mappers::origin_of(o).filter(|o| !origins.contains(o)) {
                    origins.push(o);
                }
            }
            origins
        }),
        redirect_uris: c.redirect_uris.unwrap_or_default(),
        not_before: c.not_before.unwrap_or(0),
        bearer_only: c.bearer_only.unwrap_or(false),
        consent_required,
        // RepresentationToModel: standard flow defaults to on.
        standard_flow_enabled: c.standard_flow_enabled.unwrap_or(true),
        implicit_flow_enabled: c.implicit_flow_enabled.unwrap_or(false),
        direct_access_grants_enabled: c.direct_access_grants_enabled.unwrap_or(false),
        // A client with Authorization Services is a service-account client in Keycloak
        // (its resource server authenticates as itself), whatever serviceAccountsEnabled says.
        service_accounts_enabled: c.service_accounts_enabled.unwrap_or(false)
            || c.authorization_services_enabled == Some(true),
        authorization_services_enabled: c.authorization_services_enabled == Some(true),
        public_client,
        frontchannel_logout: c.frontchannel_logout.unwrap_or(false),
        protocol: c.protocol.unwrap_or_else(|| "openid-connect".into()),
        attributes,
        // RepresentationToModel: full scope unless consent is required.
        full_scope_allowed: c.full_scope_allowed.unwrap_or(!consent_required),
        node_re_registration_timeout: c.node_re_registration_timeout.unwrap_or(-1),
        default_scopes: c.default_client_scopes.unwrap_or_default(),
        optional_scopes: c.optional_client_scopes.unwrap_or_default(),
        roles: Vec::new(),
        mappers,
    })
}

/// A realm role (`container` = the realm's id) or a client role (the client's id).
pub(super) fn role_from_rep(
    r: &RoleRep,
    container: &str,
    client_role: bool,
    field: &str,
) -> Result<Role, FieldError> {
    let name = r
        .name
        .clone()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| missing(field, "name"))?;
    let mut role = Role::new(&name, container, client_role);
    if let Some(id) = &r.id {
        role.id = id.clone();
    }
    role.description = r.description.clone();
    role.attributes = r.attributes.clone().unwrap_or_default();
    Ok(role)
}

/// `RepresentationToModel#createClientScope`.
pub(super) fn scope_from_rep(s: ClientScopeRep, field: &str) -> Result<ClientScope, FieldError> {
    let scope_name = s
        .name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| missing(field, "name"))?;
    let mut mappers = Vec::new();
    for (j, m) in s
        .protocol_mappers
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        mappers.push(mapper_from_rep(
            m,
            &format!("{field}.protocolMappers[{j}]"),
        )?);
    }
    Ok(ClientScope {
        id: s.id.unwrap_or_else(new_id),
        name: scope_name,
        description: s.description,
        protocol: s.protocol.unwrap_or_else(|| "openid-connect".into()),
        attributes: string_map(s.attributes, &format!("{field}.attributes"))?
            .into_iter()
            .collect(),
        mappers,
    })
}
