//! The clients Keycloak makes in every realm, and their roles (`RealmManager#importRealm`):
//! the built-in clients the file lacks (step 4), the roles Keycloak adds when the file lacks
//! them (step 6: `uma_authorization`, every admin role of `realm-management`), and the
//! `<realm>-realm` client of `master` for each realm (`createMasterAdminManagement`).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::convert::client_from_rep;
use super::error::FieldError;
use super::rep::ClientRep;
use super::roles::{add_client_composite, add_composite, client_role_id};
use crate::store::{Realm, Role};

/// The clients `RealmManager#importRealm` creates when the file lacks them
/// (`setupRealmAdminManagement`, `setupAccountManagement`, `setupBrokerService`,
/// `setupAdminConsole`, `setupAdminCli`, `setupImpersonationService`), with their roles, as
/// `GET /admin/realms/{realm}/clients` shows them in Keycloak 26.7.5 after an import;
/// `<realm>` stands for the realm name.
const BUILTIN_CLIENTS: &str = include_str!("builtin-clients.json");

/// One entry of `builtin-clients.json`: the client, its roles (`${role_<name>}`), the
/// composites among them and the ones in the realm's default role.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BuiltinClient {
    #[serde(flatten)]
    client: ClientRep,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    composites: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    default_roles: Vec<String>,
}

/// A role of a built-in client (`client_uuid`), with its localized description key.
fn builtin_role(name: &str, client_uuid: &str) -> Role {
    let mut role = Role::new(name, client_uuid, true);
    role.description = Some(format!("${{role_{name}}}"));
    role
}

/// Step 4, the built-in clients the file lacks (RealmManager creates them before the
/// file's clients, `file_clients`). `realm-management` is not made in `master` (it has
/// `<realm>-realm` clients instead), and `account-console` only with `account`.
pub(super) fn add_builtin_clients(
    realm: &mut Realm,
    file_clients: &[ClientRep],
    default_role: &str,
) -> Result<(), FieldError> {
    let has = |cid: &str| {
        file_clients
            .iter()
            .any(|c| c.client_id.as_deref() == Some(cid))
    };
    let builtins = builtin_clients(&realm.name);
    let (defaults, optional) = realm.default_scopes_for("openid-connect");
    for b in builtins {
        let cid = b.client.client_id.clone().unwrap_or_default();
        let skip = has(&cid)
            || (cid == "realm-management" && realm.name == "master")
            || (cid == "account-console" && has("account"));
        if skip {
            continue;
        }
        let mut client = client_from_rep(b.client, &cid)?;
        client.default_scopes = defaults.clone();
        client.optional_scopes = optional.clone();
        for r in &b.roles {
            client.roles.push(builtin_role(r, &client.id));
        }
        realm.clients.push(client);
        for (parent, children) in &b.composites {
            for child in children {
                add_client_composite(realm, &cid, parent, child);
            }
        }
        // ClientModel#addDefaultRole (AccountRoles.DEFAULT).
        for r in &b.default_roles {
            if let Some(id) = client_role_id(realm, &cid, r) {
                add_composite(realm, default_role, &id);
            }
        }
    }
    Ok(())
}

fn builtin_clients(realm_name: &str) -> Vec<BuiltinClient> {
    serde_json::from_str(&BUILTIN_CLIENTS.replace("<realm>", realm_name))
        .expect("builtin-clients.json parses")
}

/// Step 6, what `RealmManager#importRealm` adds when the file lacks it:
/// `uma_authorization` (`setupAuthorizationServices`) in the default role, and every admin
/// role of `realm-management` ([`complete_realm_management`]; not in `master`).
pub(super) fn add_missing_builtin_roles(realm: &mut Realm, default_role: &str) {
    if realm.role_by_name("uma_authorization").is_none() {
        let mut role = Role::new("uma_authorization", &realm.id, false);
        role.description = Some("${role_uma_authorization}".into());
        let id = role.id.clone();
        realm.roles.push(role);
        add_composite(realm, default_role, &id);
    }
    if realm.name != "master" {
        complete_realm_management(realm);
    }
}

/// `RealmManager#checkRealmAdminManagementRoles`, `#addQueryCompositeRoles` and
/// `ImpersonationConstants`: whatever `realm-management` the realm ends up with (Keycloak's
/// or the file's) has every admin role (`AdminRoles.ALL_REALM_ROLES`), all inside
/// `realm-admin`.
fn complete_realm_management(realm: &mut Realm) {
    let Some(idx) = realm
        .clients
        .iter()
        .position(|c| c.client_id == "realm-management")
    else {
        return;
    };
    let Some(template) = builtin_clients(&realm.name)
        .into_iter()
        .find(|b| b.client.client_id.as_deref() == Some("realm-management"))
    else {
        return;
    };
    let uuid = realm.clients[idx].id.clone();
    let client = &mut realm.clients[idx];
    for r in &template.roles {
        if !client.roles.iter().any(|x| &x.name == r) {
            client.roles.push(builtin_role(r, &uuid));
        }
    }
    for r in template.roles.iter().filter(|r| *r != "realm-admin") {
        add_client_composite(realm, "realm-management", "realm-admin", r);
    }
    for (parent, children) in &template.composites {
        for child in children {
            add_client_composite(realm, "realm-management", parent, child);
        }
    }
}

/// `RealmManager#createMasterAdminManagement` and `ImpersonationConstants`: for each realm
/// (`master` included) the `master` realm has a bearer-only `<realm>-realm` client holding
/// every admin role of that realm, each inside master's `admin` role.
pub fn add_master_admin_client(master: &mut Realm, realm_name: &str) {
    let cid = format!("{realm_name}-realm");
    if master.client_by_client_id(&cid).is_some() {
        return;
    }
    let Some(template) = builtin_clients(realm_name)
        .into_iter()
        .find(|b| b.client.client_id.as_deref() == Some("realm-management"))
    else {
        return;
    };
    let rep = ClientRep {
        client_id: Some(cid.clone()),
        // "No localized name for now".
        name: Some(format!("{realm_name} Realm")),
        bearer_only: Some(true),
        full_scope_allowed: Some(false),
        attributes: Some(
            [("realm_client".to_owned(), Value::from("true"))]
                .into_iter()
                .collect(),
        ),
        ..Default::default()
    };
    let Ok(mut client) = client_from_rep(rep, &cid) else {
        return;
    };
    // master-realm exists when master's scopes are made (and gets them); the clients of
    // later realms are made after, with none (as GET /admin/realms/master/clients shows).
    if realm_name == master.name {
        (client.default_scopes, client.optional_scopes) =
            master.default_scopes_for("openid-connect");
    } else {
        (client.default_scopes, client.optional_scopes) = (Vec::new(), Vec::new());
    }
    for r in template.roles.iter().filter(|r| *r != "realm-admin") {
        client.roles.push(builtin_role(r, &client.id));
    }
    let ids: Vec<String> = client.roles.iter().map(|r| r.id.clone()).collect();
    master.clients.push(client);
    for (parent, children) in &template.composites {
        for child in children {
            add_client_composite(master, &cid, parent, child);
        }
    }
    for id in ids {
        add_composite(master, "admin", &id);
    }
}
