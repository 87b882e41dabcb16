//! Step 9, the users (`RepresentationToModel#createUser`, `#createRoleMappings`,
//! `#createClientRoleMappings`): of the realm file, then of its `<realm>-users-N.json` files;
//! each gets only the roles listed for it (`addUser(..., addDefaultRoles=false)`), a role
//! named but not declared is created. Then every service-account client without its user
//! gets one (`RealmManager#setupClientServiceAccountsAndAuthorizationOnImport`).

use super::error::{FieldError, Problem};
use super::rep::UserRep;
use super::roles::{client_role_id, get_or_add_client_role, get_or_add_realm_role};
use crate::clock::now_millis;
use crate::store::{Realm, User, new_id};

/// `RealmManager#setupClientServiceAccountsAndAuthorizationOnImport` (after every user,
/// those of `<realm>-users-N.json` files included): a service-account client without its
/// user gets one, with the default roles.
pub(super) fn setup_service_accounts(realm: &mut Realm) {
    let sa_clients: Vec<(String, bool)> = realm
        .clients
        .iter()
        .filter(|c| c.service_accounts_enabled)
        .map(|c| (c.id.clone(), c.authorization_services_enabled))
        .collect();
    for (id, authz) in sa_clients {
        if realm.service_account_of(&id).is_some() {
            continue;
        }
        realm.enable_service_account(&id);
        if authz {
            grant_uma_protection(realm, &id);
        }
    }
}

/// `RepresentationToModel#createResourceServer`: the resource server's own `uma_protection`
/// role, granted to the service account made for it (one the file lists keeps its roles).
fn grant_uma_protection(realm: &mut Realm, client_uuid: &str) {
    const UMA_PROTECTION: &str = "uma_protection";
    let Some(client) = realm.clients.iter_mut().find(|c| c.id == client_uuid) else {
        return;
    };
    let role_id = match client.roles.iter().find(|r| r.name == UMA_PROTECTION) {
        Some(r) => r.id.clone(),
        None => {
            let role = crate::store::Role::new(UMA_PROTECTION, client_uuid, true);
            let id = role.id.clone();
            client.roles.push(role);
            id
        }
    };
    if let Some(user) = realm
        .users
        .iter_mut()
        .find(|u| u.service_account_client.as_deref() == Some(client_uuid))
    {
        user.role_ids.push(role_id);
    }
}

/// `RepresentationToModel#createUser` for one user of `users` (or of a `<realm>-users-N.json`
/// file of a directory export).
pub(super) fn import_user(realm: &mut Realm, u: UserRep, field: &str) -> Result<(), FieldError> {
    let username = u
        .username
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Problem::Missing.at(format!("{field}.username")))?
        .to_lowercase();
    if realm.user_by_username(&username).is_some() {
        return Err(Problem::DuplicateUser(username).at(format!("{field}.username")));
    }
    if u.groups.as_ref().is_some_and(|g| !g.is_empty()) {
        tracing::warn!(
            "realm '{}': {field}.groups (user '{username}'): groups are not supported (README: \"Not supported\"); roles granted through groups are not in tokens",
            realm.name
        );
    }
    if let Some(id) = &u.id
        && realm.user_by_id(id).is_some()
    {
        return Err(Problem::DuplicateUserId(id.clone()).at(format!("{field}.id")));
    }
    let mut role_ids = Vec::new();
    for r in u.realm_roles.unwrap_or_default() {
        let r = r.trim().to_owned();
        if realm.role_by_name(&r).is_none() {
            tracing::warn!(
                "{field}.realmRoles: role '{r}' does not exist; created (as Keycloak does)"
            );
        }
        role_ids.push(get_or_add_realm_role(realm, &r));
    }
    for (client_id, names) in u.client_roles.unwrap_or_default() {
        let uuid = realm
            .client_by_client_id(&client_id)
            .map(|c| c.id.clone())
            .ok_or_else(|| {
                Problem::UnknownMappingsClient(client_id.clone())
                    .at(format!("{field}.clientRoles.{client_id}"))
            })?;
        for n in names {
            let n = n.trim();
            if client_role_id(realm, &client_id, n).is_none() {
                tracing::warn!(
                    "{field}.clientRoles.{client_id}: role '{n}' does not exist; created (as Keycloak does)"
                );
            }
            role_ids.push(get_or_add_client_role(realm, &uuid, n));
        }
    }
    let service_account_client = match u.service_account_client_id {
        Some(cid) => Some(
            realm
                .client_by_client_id(&cid)
                .map(|c| c.id.clone())
                .ok_or_else(|| {
                    Problem::UnknownServiceAccountClient(cid.clone())
                        .at(format!("{field}.serviceAccountClientId"))
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
        attributes: u.attributes,
        service_account_client,
        role_ids,
        password: None,
    });
    Ok(())
}
