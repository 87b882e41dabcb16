//! Step 5, the file's clients and then their roles (`RepresentationToModel#createClient`,
//! `#updateClientScopes`, `#importRoles` for `roles.client.<clientId>`), with what
//! Keycloak 26.7.5 adds to an imported client (a secret, `post.logout.redirect.uris`).

use std::collections::BTreeMap;

use super::client_scopes::existing_scopes;
use super::convert::{client_from_rep, role_from_rep};
use super::error::{FieldError, Problem};
use super::rep::{ClientRep, RoleRep};
use crate::store::{Client, Realm};

/// The deprecated `defaultRoles` of each client (before Keycloak 13): the client's id and
/// its role names, for step 8.
pub(super) type DeprecatedDefaults = Vec<(String, Vec<String>)>;

/// Step 5: every client of `file_clients`, then the roles `client_roles` declares for them.
pub(super) fn import_clients(
    realm: &mut Realm,
    file_clients: Vec<ClientRep>,
    client_roles: &BTreeMap<String, Vec<RoleRep>>,
) -> Result<DeprecatedDefaults, FieldError> {
    let mut deprecated_client_defaults = DeprecatedDefaults::new();
    for (i, mut c) in file_clients.into_iter().enumerate() {
        let field = format!("clients[{i}]");
        let defaults_given =
            c.default_client_scopes.is_some() || c.optional_client_scopes.is_some();
        let old_defaults = c.default_roles.take();
        let mut client = client_from_rep(c, &field)?;
        import_defaults(&mut client);
        if realm.client_by_client_id(&client.client_id).is_some() {
            return Err(Problem::DuplicateClient(client.client_id).at(format!("{field}.clientId")));
        }
        if defaults_given {
            // RepresentationToModel#updateClientScopes: the lists are authoritative.
            let known = |list: Vec<String>| {
                existing_scopes(list, &field, |s| realm.scope_by_name(s).is_some())
            };
            client.default_scopes = known(std::mem::take(&mut client.default_scopes));
            client.optional_scopes = known(std::mem::take(&mut client.optional_scopes));
        } else {
            // AbstractLoginProtocolFactory#addDefaultClientScopes: the realm's defaults
            // of the client's protocol.
            (client.default_scopes, client.optional_scopes) =
                realm.default_scopes_for(&client.protocol);
        }
        if let Some(names) = old_defaults {
            deprecated_client_defaults.push((client.id.clone(), names));
        }
        realm.clients.push(client);
    }
    import_client_roles(realm, client_roles)?;
    Ok(deprecated_client_defaults)
}

/// `RepresentationToModel#importRoles` for `roles.client`: each list names a client the
/// realm has by now (the file's or a built-in one).
fn import_client_roles(
    realm: &mut Realm,
    client_roles: &BTreeMap<String, Vec<RoleRep>>,
) -> Result<(), FieldError> {
    for (client_id, list) in client_roles {
        let Some(idx) = realm.clients.iter().position(|c| &c.client_id == client_id) else {
            return Err(Problem::UnknownRolesClient(client_id.clone())
                .at(format!("roles.client.{client_id}")));
        };
        let uuid = realm.clients[idx].id.clone();
        for (i, r) in list.iter().enumerate() {
            let role = role_from_rep(r, &uuid, true, &format!("roles.client.{client_id}[{i}]"))?;
            let roles = &mut realm.clients[idx].roles;
            match roles.iter_mut().find(|x| x.name == role.name) {
                // A built-in client's role listed in the file (every full export lists
                // them): the file's description and attributes, Keycloak's role.
                Some(existing) => {
                    existing.description = role.description.or(existing.description.take());
                    existing.attributes = role.attributes;
                }
                None => roles.push(role),
            }
        }
    }
    Ok(())
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
        client.secret = Some(crate::store::secure_id().replace('-', ""));
        client.attributes.push((
            "client.secret.creation.time".to_owned(),
            crate::clock::now().to_string(),
        ));
    }
    if client.attribute("post.logout.redirect.uris").is_none() {
        client
            .attributes
            .push(("post.logout.redirect.uris".to_owned(), "+".to_owned()));
    }
}
