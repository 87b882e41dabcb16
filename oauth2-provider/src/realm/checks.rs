//! Before anything is built: what refuses the whole file (two entities of one kind with the
//! same internal `id`), and what the file uses that this provider does not support (warned
//! about, naming the realm, the client or user and the field; README: "Not supported").

use std::collections::BTreeMap;

use serde_json::Value;

use super::client_scopes::OFFLINE_ACCESS;
use super::error::{FieldError, Problem};
use super::rep::RealmRep;

/// Two entities of one kind with the same internal `id` never load in Keycloak (the
/// primary key is violated when the import is flushed, and the whole import is rolled
/// back). Checked before anything is built, so the message names both JSON paths.
pub(super) fn check_unique_ids(rep: &RealmRep) -> Result<(), FieldError> {
    fn check<'a>(
        kind: &'static str,
        items: impl Iterator<Item = (String, Option<&'a String>)>,
    ) -> Result<(), FieldError> {
        let mut seen: BTreeMap<&str, String> = BTreeMap::new();
        for (field, id) in items {
            let Some(id) = id else { continue };
            if let Some(first) = seen.get(id.as_str()) {
                let problem = Problem::DuplicateId {
                    kind,
                    id: id.clone(),
                    first: first.clone(),
                };
                return Err(problem.at(format!("{field}.id")));
            }
            seen.insert(id, field);
        }
        Ok(())
    }
    let clients = rep.clients.as_deref().unwrap_or_default();
    check(
        "client",
        clients
            .iter()
            .enumerate()
            .map(|(i, c)| (format!("clients[{i}]"), c.id.as_ref())),
    )?;
    let roles = rep.roles.as_ref();
    let realm_roles = roles
        .and_then(|r| r.realm.as_deref())
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, r)| (format!("roles.realm[{i}]"), r.id.as_ref()));
    let client_roles = roles
        .and_then(|r| r.client.as_ref())
        .into_iter()
        .flatten()
        .flat_map(|(cid, list)| {
            list.iter()
                .enumerate()
                .map(move |(i, r)| (format!("roles.client.{cid}[{i}]"), r.id.as_ref()))
        });
    let default_role = rep
        .default_role
        .iter()
        .map(|r| ("defaultRole".to_owned(), r.id.as_ref()));
    // The default role is also listed under roles.realm with its id: same role, not a clash.
    let default_id = rep.default_role.as_ref().and_then(|r| r.id.as_ref());
    check(
        "role",
        default_role.chain(
            realm_roles
                .filter(|(_, id)| id.is_none() || *id != default_id)
                .chain(client_roles),
        ),
    )?;
    check(
        "user",
        rep.users
            .as_deref()
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(i, u)| (format!("users[{i}]"), u.id.as_ref())),
    )
}

/// Keycloak 26.7.5's global client profiles (`keycloak-default-client-profiles.json`): a realm
/// may not propose a profile of the same name.
const GLOBAL_CLIENT_PROFILES: &[&str] = &[
    "fapi-1-baseline",
    "fapi-1-advanced",
    "fapi-ciba",
    "fapi-2-security-profile",
    "fapi-2-message-signing",
    "oauth-2-1-for-confidential-client",
    "oauth-2-1-for-public-client",
    "fapi-2-dpop-security-profile",
    "fapi-2-dpop-message-signing",
    "saml-security-profile",
];

/// `ClientPolicyManager#updateRealmModelFromRepresentation`: a realm profile named as a
/// global one fails the import.
pub(super) fn check_client_profiles(rep: &RealmRep) -> Result<(), FieldError> {
    let profiles = rep
        .client_profiles
        .as_ref()
        .and_then(|p| p.get("profiles"))
        .and_then(Value::as_array);
    for (i, p) in profiles.into_iter().flatten().enumerate() {
        if let Some(name) = p
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| GLOBAL_CLIENT_PROFILES.contains(n))
        {
            return Err(Problem::GlobalProfileName(name.to_owned())
                .at(format!("clientProfiles.profiles[{i}].name")));
        }
    }
    Ok(())
}

/// Warns, naming the realm, the client and the field, about what the file uses that this
/// provider does not support (README: "Not supported"); the realm is imported all the same.
pub(super) fn warn_unsupported(rep: &RealmRep, realm: &str) {
    let name_of = |v: &Value| {
        ["client", "clientScope", "clientTemplate"]
            .iter()
            .find_map(|k| v.get(*k).and_then(Value::as_str))
            .unwrap_or("?")
            .to_owned()
    };
    // The mappings every export carries (DefaultClientScopes: offline_access's role;
    // RealmManager#setupAccountManagement: account-console's account roles) change nothing
    // here: offline_access is never in a client_credentials token, account-console issues none.
    let builtin = |v: &Value| {
        v.get("clientScope").and_then(Value::as_str) == Some(OFFLINE_ACCESS)
            || v.get("client").and_then(Value::as_str) == Some("account-console")
    };
    for (i, m) in rep.scope_mappings.iter().flatten().enumerate() {
        if builtin(m) {
            continue;
        }
        tracing::warn!(
            "realm '{realm}': scopeMappings[{i}] (client or client scope '{}'): role scope mappings are not supported; a client with fullScopeAllowed=false gets only its own roles in tokens",
            name_of(m)
        );
    }
    for (i, c) in rep.clients.iter().flatten().enumerate() {
        if c.authorization_services_enabled == Some(true) {
            tracing::warn!(
                "realm '{realm}': clients[{i}].authorizationServicesEnabled (client '{}'): Authorization Services are not supported: its resources, policies and permissions are not applied (it is a service-account client, as in Keycloak)",
                c.client_id.as_deref().unwrap_or("?")
            );
        }
    }
    let mappers = rep
        .clients
        .iter()
        .flatten()
        .enumerate()
        .flat_map(|(i, c)| {
            let list = c.protocol_mappers.iter().flatten().enumerate();
            list.map(move |(j, m)| (format!("clients[{i}].protocolMappers[{j}]"), m))
        })
        .chain(
            rep.client_scopes
                .iter()
                .flatten()
                .enumerate()
                .flat_map(|(i, s)| {
                    let list = s.protocol_mappers.iter().flatten().enumerate();
                    list.map(move |(j, m)| (format!("clientScopes[{i}].protocolMappers[{j}]"), m))
                }),
        );
    for (path, m) in mappers {
        let kind = m.protocol_mapper.as_deref().unwrap_or("");
        let oidc = m.protocol.as_deref().is_none_or(|p| p == "openid-connect");
        if oidc && !crate::mappers::IMPLEMENTED.contains(&kind) {
            tracing::warn!(
                "realm '{realm}': {path}.protocolMapper (mapper '{}'): type '{kind}' is not implemented; its claims are missing from tokens",
                m.name.as_deref().unwrap_or("?")
            );
        }
    }
    let policies = rep
        .client_policies
        .as_ref()
        .and_then(|p| p.get("policies"))
        .and_then(Value::as_array);
    for (i, p) in policies.into_iter().flatten().enumerate() {
        let name = p.get("name").and_then(Value::as_str).unwrap_or("?");
        tracing::warn!(
            "realm '{realm}': clientPolicies.policies[{i}] (policy '{name}'): client policies are not applied; Keycloak's executors may refuse or change requests this provider grants"
        );
    }
    if let Some(map) = rep.attributes.as_ref().and_then(|a| a.get("acr.loa.map")) {
        tracing::warn!(
            "realm '{realm}': attributes.acr.loa.map ({map}): the realm's level-of-authentication names are not applied; only a client's acr.loa.map names the acr claim"
        );
    }
    let with_credentials = rep
        .users
        .iter()
        .flatten()
        .filter(|u| u.credentials.as_ref().is_some_and(|c| !c.is_empty()))
        .count();
    if with_credentials > 0 {
        tracing::warn!(
            "realm '{realm}': users[].credentials ({with_credentials} users): user passwords are not supported; only the master realm's bootstrap admin can use the password grant"
        );
    }
    for (owner, list) in rep.client_scope_mappings.iter().flatten() {
        for m in list
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| !builtin(m))
        {
            tracing::warn!(
                "realm '{realm}': clientScopeMappings.{owner} (client or client scope '{}'): role scope mappings are not supported",
                name_of(m)
            );
        }
    }
}
