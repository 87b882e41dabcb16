//! Reading a Keycloak realm export (`RealmRepresentation` JSON) and importing it into the
//! in-memory [`store`](crate::store), with Keycloak's defaults for missing fields.
//!
//! Only the fields the playground uses are read; every other field of a real export is
//! ignored, as the representation classes are a superset. Import follows
//! `RealmManager#importRealm` and `RepresentationToModel` (Keycloak 26.7): default role,
//! `offline_access` / `uma_authorization` roles and the `account` client are created when the
//! file lacks them, client scopes come from the file's `clientScopes` (none are built in when
//! that array is present), users get only the roles listed for them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::client_auth::Authenticator;
use crate::store::{Client, ClientScope, ProtocolMapper, Realm, Role, User, new_id, now_millis};

/// A realm file that cannot be used; always names the file and the field.
#[derive(Debug, thiserror::Error)]
pub enum RealmFileError {
    /// The cause is part of the message (and not a `source`), so it is printed once.
    #[error("cannot read realm file {}: {cause}", path.display())]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("realm file {}: field `{field}`: {message}", path.display())]
    Invalid {
        path: PathBuf,
        field: String,
        message: String,
    },
}

/// The subset of Keycloak's `RealmRepresentation` we read. Unknown fields are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RealmRep {
    pub id: Option<String>,
    pub realm: Option<String>,
    pub enabled: Option<bool>,
    pub access_token_lifespan: Option<i64>,
    pub sso_session_idle_timeout: Option<i64>,
    pub roles: Option<RolesRep>,
    pub default_role: Option<RoleRep>,
    pub clients: Option<Vec<ClientRep>>,
    pub users: Option<Vec<UserRep>>,
    pub client_scopes: Option<Vec<ClientScopeRep>>,
    pub default_default_client_scopes: Option<Vec<String>>,
    pub default_optional_client_scopes: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RolesRep {
    pub realm: Option<Vec<RoleRep>>,
    pub client: Option<BTreeMap<String, Vec<RoleRep>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RoleRep {
    pub id: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub composite: Option<bool>,
    pub composites: Option<CompositesRep>,
    pub attributes: Option<Map<String, Value>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CompositesRep {
    pub realm: Option<Vec<String>>,
    pub client: Option<BTreeMap<String, Vec<String>>>,
}

/// Keycloak's `ClientRepresentation` subset (also the body of `POST /admin/.../clients`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClientRep {
    pub id: Option<String>,
    pub client_id: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub client_authenticator_type: Option<String>,
    pub secret: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub web_origins: Option<Vec<String>>,
    pub not_before: Option<i64>,
    pub bearer_only: Option<bool>,
    pub consent_required: Option<bool>,
    pub standard_flow_enabled: Option<bool>,
    pub implicit_flow_enabled: Option<bool>,
    pub direct_access_grants_enabled: Option<bool>,
    pub service_accounts_enabled: Option<bool>,
    pub public_client: Option<bool>,
    pub frontchannel_logout: Option<bool>,
    pub protocol: Option<String>,
    /// `Map<String,String>` in Keycloak; Jackson coerces JSON scalars to strings, so do we.
    pub attributes: Option<Map<String, Value>>,
    pub full_scope_allowed: Option<bool>,
    pub node_re_registration_timeout: Option<i64>,
    pub default_client_scopes: Option<Vec<String>>,
    pub optional_client_scopes: Option<Vec<String>>,
    pub protocol_mappers: Option<Vec<MapperRep>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UserRep {
    pub id: Option<String>,
    pub username: Option<String>,
    pub enabled: Option<bool>,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub created_timestamp: Option<i64>,
    pub attributes: Option<BTreeMap<String, Vec<String>>>,
    pub realm_roles: Option<Vec<String>>,
    pub client_roles: Option<BTreeMap<String, Vec<String>>>,
    pub service_account_client_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClientScopeRep {
    pub id: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub protocol: Option<String>,
    pub attributes: Option<Map<String, Value>>,
    pub protocol_mappers: Option<Vec<MapperRep>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MapperRep {
    pub id: Option<String>,
    pub name: Option<String>,
    pub protocol: Option<String>,
    pub protocol_mapper: Option<String>,
    pub config: Option<Map<String, Value>>,
}

/// Parses realm JSON; a type error names the JSON path of the offending field.
pub fn parse(json: &str, source: &Path) -> Result<RealmRep, RealmFileError> {
    let de = &mut serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        RealmFileError::Invalid {
            path: source.to_owned(),
            field: if field == "." {
                "(document)".into()
            } else {
                field
            },
            message: e.into_inner().to_string(),
        }
    })
}

/// Jackson's scalar-to-String coercion for `Map<String,String>` fields.
fn string_map(
    map: Option<Map<String, Value>>,
    field: &str,
) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (k, v) in map.unwrap_or_default() {
        let s = match v {
            Value::String(s) => s,
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            Value::Null => continue,
            _ => return Err(format!("{field}.{k}: expected a string value")),
        };
        out.push((k, s));
    }
    Ok(out)
}

pub(crate) fn mapper_from_rep(m: MapperRep, field: &str) -> Result<ProtocolMapper, String> {
    Ok(ProtocolMapper {
        id: m.id.unwrap_or_else(new_id),
        name: m.name.ok_or_else(|| format!("{field}.name: missing"))?,
        protocol: m.protocol.unwrap_or_else(|| "openid-connect".into()),
        mapper_type: m
            .protocol_mapper
            .ok_or_else(|| format!("{field}.protocolMapper: missing"))?,
        config: string_map(m.config, &format!("{field}.config"))?
            .into_iter()
            .collect(),
    })
}

/// Builds a client from its representation with Keycloak's defaults
/// (`RepresentationToModel#createClient` / `updateClientProperties`). Roles and the
/// service account are not handled here.
pub(crate) fn client_from_rep(c: ClientRep, field: &str) -> Result<Client, String> {
    let client_id = c
        .client_id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("{field}.clientId: missing"))?;
    let attributes = string_map(c.attributes, &format!("{field}.attributes"))?;
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
        Authenticator::configure(&client_id, &client_authenticator_type, |key| {
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
        redirect_uris: c.redirect_uris.unwrap_or_default(),
        web_origins: c.web_origins.unwrap_or_default(),
        not_before: c.not_before.unwrap_or(0),
        bearer_only: c.bearer_only.unwrap_or(false),
        consent_required,
        // RepresentationToModel: standard flow defaults to on.
        standard_flow_enabled: c.standard_flow_enabled.unwrap_or(true),
        implicit_flow_enabled: c.implicit_flow_enabled.unwrap_or(false),
        direct_access_grants_enabled: c.direct_access_grants_enabled.unwrap_or(false),
        service_accounts_enabled: c.service_accounts_enabled.unwrap_or(false),
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

fn role_from_rep(
    r: &RoleRep,
    container: &str,
    client_role: bool,
    field: &str,
) -> Result<Role, String> {
    let name = r
        .name
        .clone()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("{field}.name: missing"))?;
    let mut role = Role::new(&name, container, client_role);
    if let Some(id) = &r.id {
        role.id = id.clone();
    }
    role.description = r.description.clone();
    role.attributes = r.attributes.clone().unwrap_or_default();
    Ok(role)
}

/// Imports a parsed realm export as `RealmManager#importRealm` does.
pub fn import(rep: RealmRep, source: &Path) -> Result<Realm, RealmFileError> {
    import_inner(rep).map_err(|(field, message)| RealmFileError::Invalid {
        path: source.to_owned(),
        field,
        message,
    })
}

type ImportError = (String, String);

fn split(msg: String) -> ImportError {
    // "<field>: <message>"
    match msg.split_once(": ") {
        Some((f, m)) => (f.to_owned(), m.to_owned()),
        None => ("(realm)".to_owned(), msg),
    }
}

fn import_inner(rep: RealmRep) -> Result<Realm, ImportError> {
    let name = rep
        .realm
        .clone()
        .filter(|s| !s.trim().is_empty())
        // RealmManager: ModelException("Realm name cannot be empty").
        .ok_or_else(|| ("realm".to_owned(), "Realm name cannot be empty".to_owned()))?;
    let realm_id = rep.id.clone().unwrap_or_else(new_id);
    let mut realm = Realm {
        id: realm_id.clone(),
        name: name.clone(),
        // RepresentationToModel: `enabled` is only set when present; a new realm is disabled.
        enabled: rep.enabled.unwrap_or(false),
        access_token_lifespan: rep.access_token_lifespan.unwrap_or(300),
        sso_session_idle_timeout: rep.sso_session_idle_timeout.unwrap_or(1800),
        roles: Vec::new(),
        default_role_id: String::new(),
        clients: Vec::new(),
        users: Vec::new(),
        client_scopes: Vec::new(),
        default_default_scopes: Vec::new(),
        default_optional_scopes: Vec::new(),
    };

    // 1. Default role first (RealmManager#importRealm: `defaultRole` or "default-roles-<realm>").
    let default_name = match &rep.default_role {
        Some(r) => r
            .name
            .clone()
            .ok_or_else(|| ("defaultRole.name".to_owned(), "missing".to_owned()))?,
        None => format!("default-roles-{}", name.to_lowercase()),
    };
    let mut default_role = Role::new(&default_name, &realm_id, false);
    default_role.description = Some("${role_default-roles}".into());
    if let Some(id) = rep.default_role.as_ref().and_then(|r| r.id.as_ref()) {
        default_role.id = id.clone();
    }
    realm.default_role_id = default_role.id.clone();
    realm.roles.push(default_role);

    // 2. Realm roles (RepresentationToModel#importRoles skips the default role).
    let roles = rep.roles.unwrap_or_default();
    let realm_roles = roles.realm.unwrap_or_default();
    for (i, r) in realm_roles.iter().enumerate() {
        let field = format!("roles.realm[{i}]");
        let role = role_from_rep(r, &realm_id, false, &field).map_err(split)?;
        if role.name == default_name {
            if let Some(d) = realm.roles.iter_mut().find(|x| x.name == default_name) {
                d.description = role.description.or(d.description.take());
            }
            continue;
        }
        if realm.role_by_name(&role.name).is_some() {
            return Err((
                format!("{field}.name"),
                format!("duplicate realm role '{}'", role.name),
            ));
        }
        realm.roles.push(role);
    }

    // 3. Client scopes. Keycloak creates its built-in scopes only when `clientScopes` is
    //    absent (RealmManager#importRealm); this importer has no built-ins to create, so a
    //    file without the array gets none and says so.
    match rep.client_scopes {
        None => tracing::warn!(
            "realm '{name}' has no clientScopes array: Keycloak would create its built-in scopes \
             (profile, email, roles, ...); this provider has none, so tokens carry no mapped claims"
        ),
        Some(scopes) => {
            for (i, s) in scopes.into_iter().enumerate() {
                let field = format!("clientScopes[{i}]");
                let scope_name = s
                    .name
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| (format!("{field}.name"), "missing".to_owned()))?;
                let mut mappers = Vec::new();
                for (j, m) in s
                    .protocol_mappers
                    .unwrap_or_default()
                    .into_iter()
                    .enumerate()
                {
                    mappers.push(
                        mapper_from_rep(m, &format!("{field}.protocolMappers[{j}]"))
                            .map_err(split)?,
                    );
                }
                realm.client_scopes.push(ClientScope {
                    id: s.id.unwrap_or_else(new_id),
                    name: scope_name,
                    description: s.description,
                    protocol: s.protocol.unwrap_or_else(|| "openid-connect".into()),
                    attributes: string_map(s.attributes, &format!("{field}.attributes"))
                        .map_err(split)?
                        .into_iter()
                        .collect(),
                    mappers,
                });
            }
        }
    }
    let known_scope = |realm: &Realm, list: Vec<String>, field: &str| -> Vec<String> {
        list.into_iter()
            .filter(|s| {
                let ok = realm.scope_by_name(s).is_some();
                if !ok {
                    // DefaultExportImportManager / RepresentationToModel#addClientScopeToClient.
                    tracing::warn!(
                        "{field}: Referenced client scope '{s}' doesn't exist. Ignoring"
                    );
                }
                ok
            })
            .collect()
    };
    realm.default_default_scopes = known_scope(
        &realm,
        rep.default_default_client_scopes.unwrap_or_default(),
        "defaultDefaultClientScopes",
    );
    realm.default_optional_scopes = known_scope(
        &realm,
        rep.default_optional_client_scopes.unwrap_or_default(),
        "defaultOptionalClientScopes",
    );

    // 4. Clients, then their roles (roles.client.<clientId>).
    for (i, c) in rep.clients.unwrap_or_default().into_iter().enumerate() {
        let field = format!("clients[{i}]");
        let defaults_given =
            c.default_client_scopes.is_some() || c.optional_client_scopes.is_some();
        let mut client = client_from_rep(c, &field).map_err(split)?;
        import_defaults(&mut client);
        if realm.client_by_client_id(&client.client_id).is_some() {
            return Err((
                format!("{field}.clientId"),
                format!("duplicate client '{}'", client.client_id),
            ));
        }
        if defaults_given {
            // RepresentationToModel#updateClientScopes: the lists are authoritative.
            client.default_scopes =
                known_scope(&realm, std::mem::take(&mut client.default_scopes), &field);
            client.optional_scopes =
                known_scope(&realm, std::mem::take(&mut client.optional_scopes), &field);
        } else {
            // AbstractLoginProtocolFactory#addDefaultClientScopes: the realm's defaults.
            client.default_scopes = realm.default_default_scopes.clone();
            client.optional_scopes = realm.default_optional_scopes.clone();
        }
        realm.clients.push(client);
    }
    for (client_id, list) in roles.client.unwrap_or_default() {
        let Some(idx) = realm.clients.iter().position(|c| c.client_id == client_id) else {
            return Err((
                format!("roles.client.{client_id}"),
                format!("no client '{client_id}' in `clients`"),
            ));
        };
        let uuid = realm.clients[idx].id.clone();
        for (i, r) in list.iter().enumerate() {
            let role = role_from_rep(r, &uuid, true, &format!("roles.client.{client_id}[{i}]"))
                .map_err(split)?;
            realm.clients[idx].roles.push(role);
        }
    }

    // 5. What RealmManager#importRealm adds when the file lacks it: offline_access
    //    (setupOfflineTokens), uma_authorization (setupAuthorizationServices), the `account`
    //    client and its roles (setupAccountManagement), all in the default role.
    for builtin in ["offline_access", "uma_authorization"] {
        if realm.role_by_name(builtin).is_none() {
            let mut role = Role::new(builtin, &realm_id, false);
            role.description = Some(format!("${{role_{}}}", builtin.replace('_', "-")));
            if builtin == "uma_authorization" {
                role.description = Some("${role_uma_authorization}".into());
            }
            let id = role.id.clone();
            realm.roles.push(role);
            add_composite(&mut realm, &default_name, &id);
        }
    }
    if realm.client_by_client_id("account").is_none() {
        let mut account = client_from_rep(
            ClientRep {
                client_id: Some("account".into()),
                name: Some("${client_account}".into()),
                public_client: Some(true),
                ..Default::default()
            },
            "account",
        )
        .map_err(split)?;
        account.default_scopes = realm.default_default_scopes.clone();
        account.optional_scopes = realm.default_optional_scopes.clone();
        let uuid = account.id.clone();
        let links = Role::new("manage-account-links", &uuid, true);
        let mut manage = Role::new("manage-account", &uuid, true);
        manage.composites.push(links.id.clone());
        let view = Role::new("view-profile", &uuid, true);
        let (view_id, manage_id) = (view.id.clone(), manage.id.clone());
        account.roles = vec![view, manage, links];
        realm.clients.push(account);
        add_composite(&mut realm, &default_name, &view_id);
        add_composite(&mut realm, &default_name, &manage_id);
    }

    // 6. Composites (RepresentationToModel#importRoles, second pass).
    for (i, r) in realm_roles.iter().enumerate() {
        let Some(comp) = &r.composites else { continue };
        let role_name = r.name.clone().unwrap_or_default();
        for c in comp.realm.clone().unwrap_or_default() {
            let id = realm
                .role_by_name(&c)
                .map(|x| x.id.clone())
                .ok_or_else(|| {
                    (
                        format!("roles.realm[{i}].composites.realm"),
                        format!("Unable to find composite realm role: {c}"),
                    )
                })?;
            add_composite(&mut realm, &role_name, &id);
        }
        for (client_id, names) in comp.client.clone().unwrap_or_default() {
            for n in names {
                let id = realm
                    .client_by_client_id(&client_id)
                    .and_then(|c| c.roles.iter().find(|x| x.name == n))
                    .map(|x| x.id.clone())
                    .ok_or_else(|| {
                        (
                            format!("roles.realm[{i}].composites.client.{client_id}"),
                            format!("Unable to find client role {client_id}/{n}"),
                        )
                    })?;
                add_composite(&mut realm, &role_name, &id);
            }
        }
    }

    // 7. Users: only the roles listed (addUser(..., addDefaultRoles=false)); an unknown realm
    //    role is created on the fly (RepresentationToModel#createRoleMappings).
    for (i, u) in rep.users.unwrap_or_default().into_iter().enumerate() {
        let field = format!("users[{i}]");
        let username = u
            .username
            .filter(|s| !s.is_empty())
            .ok_or_else(|| (format!("{field}.username"), "missing".to_owned()))?
            .to_lowercase();
        if realm.user_by_username(&username).is_some() {
            return Err((
                format!("{field}.username"),
                format!("duplicate user '{username}'"),
            ));
        }
        let mut role_ids = Vec::new();
        for r in u.realm_roles.unwrap_or_default() {
            let r = r.trim().to_owned();
            let id = match realm.role_by_name(&r) {
                Some(role) => role.id.clone(),
                None => {
                    tracing::warn!(
                        "{field}.realmRoles: role '{r}' does not exist; created (as Keycloak does)"
                    );
                    let role = Role::new(&r, &realm_id, false);
                    let id = role.id.clone();
                    realm.roles.push(role);
                    id
                }
            };
            role_ids.push(id);
        }
        for (client_id, names) in u.client_roles.unwrap_or_default() {
            let client = realm.client_by_client_id(&client_id).ok_or_else(|| {
                (
                    format!("{field}.clientRoles.{client_id}"),
                    format!("Unable to find client role mappings for client: {client_id}"),
                )
            })?;
            for n in names {
                let id = client
                    .roles
                    .iter()
                    .find(|x| x.name == n)
                    .map(|x| x.id.clone())
                    .ok_or_else(|| {
                        (
                            format!("{field}.clientRoles.{client_id}"),
                            format!("client '{client_id}' has no role '{n}'"),
                        )
                    })?;
                role_ids.push(id);
            }
        }
        let service_account_client = match u.service_account_client_id {
            Some(cid) => Some(
                realm
                    .client_by_client_id(&cid)
                    .map(|c| c.id.clone())
                    .ok_or_else(|| {
                        (
                            format!("{field}.serviceAccountClientId"),
                            format!("Unable to find client specified for service account link. Client: {cid}"),
                        )
                    })?,
            ),
            None => None,
        };
        realm.users.push(User {
            id: u.id.unwrap_or_else(new_id),
            username,
            // RepresentationToModel#createUser: enabled only when the file says so.
            enabled: u.enabled.unwrap_or(false),
            email: u.email,
            email_verified: u.email_verified.unwrap_or(false),
            first_name: u.first_name,
            last_name: u.last_name,
            created_timestamp: u.created_timestamp.unwrap_or_else(now_millis),
            attributes: u.attributes.unwrap_or_default(),
            service_account_client,
            role_ids,
            password: None,
        });
    }

    // 8. RealmManager#setupClientServiceAccountsAndAuthorizationOnImport: a service-account
    //    client without its user gets one (with the default roles).
    let sa_clients: Vec<String> = realm
        .clients
        .iter()
        .filter(|c| c.service_accounts_enabled)
        .map(|c| c.id.clone())
        .collect();
    for id in sa_clients {
        if realm.service_account_of(&id).is_none() {
            realm.enable_service_account(&id);
        }
    }
    Ok(realm)
}

/// What Keycloak 26.7.5 adds to an imported OIDC client (observed in its admin API): a
/// confidential client without a secret gets a generated one, with its
/// `client.secret.creation.time`; `post.logout.redirect.uris` defaults to `+` (the redirect
/// URIs).
fn import_defaults(client: &mut Client) {
    if client.protocol != "openid-connect" {
        return;
    }
    if !client.public_client && !client.bearer_only && client.secret.is_none() {
        client.secret = Some(crate::token::secure_id().replace('-', ""));
        client.attributes.push((
            "client.secret.creation.time".to_owned(),
            crate::token::now().to_string(),
        ));
    }
    if client.attribute("post.logout.redirect.uris").is_none() {
        client
            .attributes
            .push(("post.logout.redirect.uris".to_owned(), "+".to_owned()));
    }
}

fn add_composite(realm: &mut Realm, role_name: &str, child_id: &str) {
    if let Some(role) = realm
        .roles
        .iter_mut()
        .find(|r| r.name == role_name && !r.composites.iter().any(|c| c == child_id))
    {
        role.composites.push(child_id.to_owned());
    }
}

/// The `master` realm as Keycloak bootstraps it (`ApplianceBootstrap`): the public
/// `admin-cli` client with direct grants, the bootstrap admin with the `admin` role,
/// 60-second access tokens.
pub fn master_realm(admin_username: &str, admin_password: &str) -> Realm {
    let mut scope_mappers = Vec::new();
    let sub = ProtocolMapper {
        id: new_id(),
        name: "sub".into(),
        protocol: "openid-connect".into(),
        mapper_type: "oidc-sub-mapper".into(),
        config: [
            ("access.token.claim", "true"),
            ("introspection.token.claim", "true"),
            // Keycloak 26.7.5 (observed): admin-cli's lightweight access token has no `sub`.
            ("lightweight.claim", "false"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
    };
    scope_mappers.push(sub);
    let rep = RealmRep {
        realm: Some("master".into()),
        enabled: Some(true),
        access_token_lifespan: Some(60),
        roles: Some(RolesRep {
            realm: Some(vec![
                RoleRep {
                    name: Some("admin".into()),
                    description: Some("${role_admin}".into()),
                    ..Default::default()
                },
                RoleRep {
                    name: Some("create-realm".into()),
                    description: Some("${role_create-realm}".into()),
                    ..Default::default()
                },
            ]),
            client: None,
        }),
        clients: Some(vec![ClientRep {
            client_id: Some("admin-cli".into()),
            name: Some("${client_admin-cli}".into()),
            public_client: Some(true),
            standard_flow_enabled: Some(false),
            direct_access_grants_enabled: Some(true),
            attributes: Some(
                [(
                    "client.use.lightweight.access.token.enabled".to_owned(),
                    Value::from("true"),
                )]
                .into_iter()
                .collect(),
            ),
            // Keycloak 26.7.5's admin-cli (observed: the refresh token's `scope`).
            default_client_scopes: Some(
                ["acr", "basic", "email", "profile", "roles", "web-origins"]
                    .map(String::from)
                    .to_vec(),
            ),
            optional_client_scopes: Some(vec![]),
            ..Default::default()
        }]),
        users: Some(vec![UserRep {
            username: Some(admin_username.into()),
            enabled: Some(true),
            realm_roles: Some(vec!["admin".into(), "default-roles-master".into()]),
            ..Default::default()
        }]),
        client_scopes: Some(
            ["acr", "basic", "email", "profile", "roles", "web-origins"]
                .iter()
                .map(|n| ClientScopeRep {
                    name: Some((*n).into()),
                    protocol: Some("openid-connect".into()),
                    attributes: Some(
                        [(
                            "include.in.token.scope".to_owned(),
                            Value::from(if matches!(*n, "profile" | "email") {
                                "true"
                            } else {
                                "false"
                            }),
                        )]
                        .into_iter()
                        .collect(),
                    ),
                    ..Default::default()
                })
                .collect(),
        ),
        ..Default::default()
    };
    let mut realm = import_inner(rep).expect("the synthesized master realm is valid");
    if let Some(basic) = realm.client_scopes.iter_mut().find(|s| s.name == "basic") {
        basic.mappers = scope_mappers;
    }
    if let Some(admin) = realm
        .users
        .iter_mut()
        .find(|u| u.username == admin_username.to_lowercase())
    {
        admin.password = Some(admin_password.to_owned());
    }
    realm
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(json: &str) -> String {
        let path = Path::new("bad-realm.json");
        match parse(json, path).and_then(|r| import(r, path)) {
            Ok(_) => panic!("expected an error for {json}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn the_shipped_realm_imports() {
        let path = crate::realm_file();
        let text = std::fs::read_to_string(&path).unwrap();
        let realm = import(parse(&text, &path).unwrap(), &path).unwrap();
        let mtls = realm
            .client_by_client_id(playbook::names::MTLS_CLIENT_ID)
            .unwrap();
        assert_eq!(mtls.client_authenticator_type, "client-x509");
        assert_eq!(
            mtls.attribute("x509.subjectdn"),
            Some(playbook::names::CLIENT_SUBJECT_DN)
        );
        assert_eq!(
            mtls.attribute("x509.casubjectdn"),
            Some(playbook::names::CA_SUBJECT_DN)
        );
        let secret = realm
            .client_by_client_id(playbook::names::SECRET_CLIENT_ID)
            .unwrap();
        assert_eq!(
            secret.secret.as_deref(),
            Some(playbook::names::SECRET_CLIENT_SECRET)
        );
        assert!(realm.role_by_name(playbook::names::READONLY_ROLE).is_some());
        assert!(realm.role_by_name(playbook::names::WRITE_ROLE).is_some());
        assert!(realm.service_account_of(&mtls.id).is_some());
        assert!(
            mtls.optional_scopes
                .iter()
                .any(|s| s == playbook::names::USERS_READ_SCOPE)
        );
        // The default role holds what Keycloak adds on import.
        let sa = realm.service_account_of(&mtls.id).unwrap();
        let names: Vec<_> = realm
            .effective_roles(sa)
            .iter()
            .map(|(r, _)| r.name.clone())
            .collect();
        for n in [
            "default-roles-oauth2-playbook",
            "offline_access",
            "uma_authorization",
            "view-profile",
            "manage-account",
            "manage-account-links",
        ] {
            assert!(names.contains(&n.to_owned()), "{n} in {names:?}");
        }
        assert!(!names.contains(&playbook::names::READONLY_ROLE.to_owned()));
    }

    #[test]
    fn type_errors_name_the_file_and_the_field() {
        let e = err(r#"{"realm":"r","clients":[{"clientId":"c","enabled":"yes"}]}"#);
        assert!(e.contains("bad-realm.json"), "{e}");
        assert!(e.contains("clients[0].enabled"), "{e}");
    }

    #[test]
    fn semantic_errors_name_the_field() {
        let e = err(r#"{"enabled":true}"#);
        assert!(
            e.contains("`realm`") && e.contains("Realm name cannot be empty"),
            "{e}"
        );
        let e = err(r#"{"realm":"r","clients":[{"enabled":true}]}"#);
        assert!(e.contains("clients[0].clientId"), "{e}");
        let e = err(r#"{"realm":"r","users":[{"username":"u","serviceAccountClientId":"nope"}]}"#);
        assert!(e.contains("users[0].serviceAccountClientId"), "{e}");
        let e = err(r#"{"realm":"r","clients":[{"clientId":"c","attributes":{"a":[1]}}]}"#);
        assert!(e.contains("clients[0].attributes.a"), "{e}");
    }

    #[test]
    fn unknown_fields_are_ignored_and_defaults_apply() {
        let path = Path::new("r.json");
        let rep = parse(
            r#"{"realm":"r","enabled":true,"someFutureField":{"x":1},
                "clients":[{"clientId":"c","serviceAccountsEnabled":true,"attributes":{"flag":true,"n":3}}]}"#,
            path,
        )
        .unwrap();
        let realm = import(rep, path).unwrap();
        let c = realm.client_by_client_id("c").unwrap();
        assert_eq!(c.client_authenticator_type, "client-secret");
        assert!(c.enabled && c.standard_flow_enabled && c.full_scope_allowed);
        assert_eq!(c.attribute("flag"), Some("true"));
        assert_eq!(c.attribute("n"), Some("3"));
        // A service-account client without its user gets one, with the default roles.
        let sa = realm.service_account_of(&c.id).unwrap();
        assert_eq!(sa.username, "service-account-c");
        assert_eq!(sa.role_ids, vec![realm.default_role_id.clone()]);
    }
}
