//! The realm's roles (`RepresentationToModel#importRoles`, `RealmManager#importRealm`): the
//! default role (step 1), the file's realm roles and `offline_access` (step 2), the
//! composites once every role exists (step 7), and the deprecated `defaultRoles` (step 8);
//! with the lookups the other steps share (`DefaultExportImportManager#getOrAddRealmRole`,
//! `#getOrAddClientRole`).

use std::collections::BTreeMap;

use super::client_scopes::OFFLINE_ACCESS;
use super::convert::role_from_rep;
use super::error::{FieldError, Problem};
use super::rep::RoleRep;
use crate::store::{Realm, Role};

/// Step 1, `RealmManager#importRealm`: the default role first, the file's `defaultRole` or
/// `default-roles-<realm>`. Returns its name.
pub(super) fn add_default_role(
    realm: &mut Realm,
    rep: Option<&RoleRep>,
) -> Result<String, FieldError> {
    let default_name = match rep {
        Some(r) => r
            .name
            .clone()
            .ok_or_else(|| Problem::Missing.at("defaultRole.name"))?,
        None => format!("default-roles-{}", realm.name.to_lowercase()),
    };
    let mut default_role = Role::new(&default_name, &realm.id, false);
    default_role.description = Some("${role_default-roles}".into());
    if let Some(id) = rep.and_then(|r| r.id.as_ref()) {
        default_role.id = id.clone();
    }
    realm.default_role_id = default_role.id.clone();
    realm.roles.push(default_role);
    Ok(default_name)
}

/// Step 2, the file's realm roles (`RepresentationToModel#importRoles` skips the default
/// role, whose description it takes). With `setup_offline_tokens`
/// (`RealmManager#setupOfflineTokens`) the file's `offline_access` role is dropped and
/// Keycloak's made, inside the default role (`KeycloakModelUtils#setupOfflineRole`).
pub(super) fn import_realm_roles(
    realm: &mut Realm,
    realm_roles: &[RoleRep],
    default_name: &str,
    setup_offline_tokens: bool,
) -> Result<(), FieldError> {
    let realm_id = realm.id.clone();
    for (i, r) in realm_roles.iter().enumerate() {
        let field = format!("roles.realm[{i}]");
        let role = role_from_rep(r, &realm_id, false, &field)?;
        if role.name == default_name {
            if let Some(d) = realm.roles.iter_mut().find(|x| x.name == default_name) {
                d.description = role.description.or(d.description.take());
            }
            continue;
        }
        if setup_offline_tokens && role.name == OFFLINE_ACCESS {
            continue;
        }
        if realm.role_by_name(&role.name).is_some() {
            return Err(Problem::DuplicateRealmRole(role.name).at(format!("{field}.name")));
        }
        realm.roles.push(role);
    }
    if setup_offline_tokens {
        let mut role = Role::new(OFFLINE_ACCESS, &realm_id, false);
        role.description = Some("${role_offline-access}".into());
        let id = role.id.clone();
        realm.roles.push(role);
        add_composite(realm, default_name, &id);
    }
    Ok(())
}

/// Step 7, `RepresentationToModel#importRoles`, second pass: the composites of the file's
/// realm roles, then of its client roles, once every role exists.
pub(super) fn import_composites(
    realm: &mut Realm,
    realm_roles: &[RoleRep],
    client_roles: &BTreeMap<String, Vec<RoleRep>>,
) -> Result<(), FieldError> {
    let composites = realm_roles
        .iter()
        .enumerate()
        .map(|(i, r)| (format!("roles.realm[{i}]"), None, r))
        .chain(client_roles.iter().flat_map(|(cid, list)| {
            list.iter()
                .enumerate()
                .map(move |(i, r)| (format!("roles.client.{cid}[{i}]"), Some(cid.as_str()), r))
        }))
        .collect::<Vec<_>>();
    for (field, owner, r) in composites {
        let Some(comp) = &r.composites else { continue };
        let role_name = r.name.clone().unwrap_or_default();
        let mut children = Vec::new();
        for c in comp.realm.clone().unwrap_or_default() {
            let id = realm
                .role_by_name(&c)
                .map(|x| x.id.clone())
                .ok_or_else(|| {
                    Problem::UnknownCompositeRealmRole(c.clone())
                        .at(format!("{field}.composites.realm"))
                })?;
            children.push(id);
        }
        for (client_id, names) in comp.client.clone().unwrap_or_default() {
            for n in names {
                let id = client_role_id(realm, &client_id, &n).ok_or_else(|| {
                    let problem = Problem::UnknownCompositeClientRole {
                        client: client_id.clone(),
                        role: n.clone(),
                    };
                    problem.at(format!("{field}.composites.client.{client_id}"))
                })?;
                children.push(id);
            }
        }
        for id in children {
            match owner {
                None => add_composite(realm, &role_name, &id),
                Some(cid) => {
                    if let Some(role) = realm
                        .clients
                        .iter_mut()
                        .find(|c| c.client_id == cid)
                        .and_then(|c| c.roles.iter_mut().find(|x| x.name == role_name))
                        && !role.composites.contains(&id)
                    {
                        role.composites.push(id);
                    }
                }
            }
        }
    }
    Ok(())
}

/// Step 8, `DefaultExportImportManager#convertDeprecatedDefaultRoles` (a file without
/// `defaultRole`): the old `defaultRoles` lists, of the realm and of each client (given as
/// the client's id and its role names), become the default role's composites, each role
/// created when missing.
pub(super) fn convert_deprecated_default_roles(
    realm: &mut Realm,
    default_name: &str,
    realm_defaults: Vec<String>,
    client_defaults: Vec<(String, Vec<String>)>,
) {
    for r in realm_defaults {
        let id = get_or_add_realm_role(realm, &r);
        add_composite(realm, default_name, &id);
    }
    for (uuid, names) in client_defaults {
        for n in names {
            let id = get_or_add_client_role(realm, &uuid, &n);
            add_composite(realm, default_name, &id);
        }
    }
}

/// Puts the role `child_id` into the realm role `role_name` (once).
pub(super) fn add_composite(realm: &mut Realm, role_name: &str, child_id: &str) {
    if let Some(role) = realm
        .roles
        .iter_mut()
        .find(|r| r.name == role_name && !r.composites.iter().any(|c| c == child_id))
    {
        role.composites.push(child_id.to_owned());
    }
}

/// The id of `client_id`'s role `role`.
pub(super) fn client_role_id(realm: &Realm, client_id: &str, role: &str) -> Option<String> {
    realm
        .client_by_client_id(client_id)?
        .roles
        .iter()
        .find(|r| r.name == role)
        .map(|r| r.id.clone())
}

/// Puts `client_id`'s role `child` into its role `parent` (once), both named.
pub(super) fn add_client_composite(realm: &mut Realm, client_id: &str, parent: &str, child: &str) {
    let Some(child_id) = client_role_id(realm, client_id, child) else {
        return;
    };
    if let Some(role) = realm
        .clients
        .iter_mut()
        .find(|c| c.client_id == client_id)
        .and_then(|c| c.roles.iter_mut().find(|r| r.name == parent))
        && !role.composites.contains(&child_id)
    {
        role.composites.push(child_id);
    }
}

/// `RepresentationToModel#createClientRoleMappings` / `DefaultExportImportManager
/// #getOrAddClientRole`: a client role named but not declared is created.
pub(super) fn get_or_add_client_role(realm: &mut Realm, client_uuid: &str, name: &str) -> String {
    let client = realm
        .clients
        .iter_mut()
        .find(|c| c.id == client_uuid)
        .expect("the caller found the client");
    if let Some(r) = client.roles.iter().find(|r| r.name == name) {
        return r.id.clone();
    }
    let role = Role::new(name, client_uuid, true);
    let id = role.id.clone();
    client.roles.push(role);
    id
}

/// `DefaultExportImportManager#getOrAddRealmRole`.
pub(super) fn get_or_add_realm_role(realm: &mut Realm, name: &str) -> String {
    if let Some(r) = realm.role_by_name(name) {
        return r.id.clone();
    }
    let role = Role::new(name, &realm.id, false);
    let id = role.id.clone();
    realm.roles.push(role);
    id
}
