//! Fine-grained admin permissions v2 from the realm file: `adminPermissionsEnabled` and the
//! `authorizationSettings.policies` of the client `admin-permissions`, read after the users
//! (a policy names clients by `clientId` and users by username; Keycloak resolves them to
//! ids on import, and a permission's `resources` are the objects' ids already). Recorded
//! from Keycloak 26.7.5: an import carrying only these policies makes the permissions work
//! (`provisioner_*` golden answers; `PROVISIONER.md` says how it was found).
//!
//! What Keycloak would refuse or do otherwise and is not recorded here (a policy naming an
//! unknown client, a permission naming an unknown policy or resource type, `CONSENSUS`) is
//! warned about and left out: a permission left out grants nothing.

use std::collections::BTreeSet;

use serde_json::Value;

use super::rep::{AuthorizationSettingsRep, PolicyRep};
use crate::store::Realm;
use crate::store::permissions::{
    AdminPermissions, AdminPolicy, PolicySubject, ResourceType, ScopePermission,
};

/// The client holding a realm's admin permissions (`AdminPermissionsSchema`).
pub(super) const ADMIN_PERMISSIONS_CLIENT_ID: &str = "admin-permissions";

/// Sets `realm.admin_permissions` when the realm enables them, from `settings` (the
/// `admin-permissions` client's, when the file has them).
pub(super) fn import_admin_permissions(
    realm: &mut Realm,
    enabled: bool,
    settings: Option<AuthorizationSettingsRep>,
) {
    if !enabled {
        if settings.is_some() {
            tracing::warn!(
                "realm '{}': the client '{ADMIN_PERMISSIONS_CLIENT_ID}' has authorization settings but adminPermissionsEnabled is not true: they are not applied",
                realm.name
            );
        }
        return;
    }
    let mut perms = AdminPermissions::default();
    for p in settings.and_then(|s| s.policies).unwrap_or_default() {
        let name = p.name.clone().unwrap_or_default();
        match p.kind.as_deref() {
            Some("scope") => match scope_permission(&p, name) {
                Ok(permission) => perms.permissions.push(permission),
                Err(why) => warn(realm, &p, &why),
            },
            kind => {
                let subject = subject(realm, kind.unwrap_or_default(), &p);
                if let PolicySubject::Other(kind) = &subject {
                    warn(
                        realm,
                        &p,
                        &format!("a policy of type '{kind}' never grants here"),
                    );
                }
                perms.policies.push(AdminPolicy {
                    name,
                    subject,
                    negative: p.logic.as_deref() == Some("NEGATIVE"),
                });
            }
        }
    }
    for permission in &perms.permissions {
        for policy in &permission.policies {
            if !perms.policies.iter().any(|p| &p.name == policy) {
                tracing::warn!(
                    "realm '{}': admin permission '{}' names the policy '{policy}', which the file does not declare: it never grants",
                    realm.name,
                    permission.name
                );
            }
        }
    }
    realm.admin_permissions = Some(perms);
}

fn warn(realm: &Realm, p: &PolicyRep, why: &str) {
    tracing::warn!(
        "realm '{}': admin permissions: policy '{}' left out: {why}",
        realm.name,
        p.name.as_deref().unwrap_or_default()
    );
}

/// A `client` or `user` policy's subjects, resolved to ids.
fn subject(realm: &Realm, kind: &str, p: &PolicyRep) -> PolicySubject {
    match kind {
        "client" => PolicySubject::Clients(
            list(p, "clients")
                .into_iter()
                .filter_map(|c| {
                    realm
                        .client_by_client_id(&c)
                        .or_else(|| realm.client_by_id(&c))
                        .map(|c| c.id.clone())
                })
                .collect(),
        ),
        "user" => PolicySubject::Users(
            list(p, "users")
                .into_iter()
                .filter_map(|u| {
                    realm
                        .user_by_username(&u)
                        .or_else(|| realm.user_by_id(&u))
                        .map(|u| u.id.clone())
                })
                .collect(),
        ),
        other => PolicySubject::Other(other.to_owned()),
    }
}

fn scope_permission(p: &PolicyRep, name: String) -> Result<ScopePermission, String> {
    let kind = p
        .config
        .as_ref()
        .and_then(|c| c.get("defaultResourceType"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let resource_type =
        ResourceType::parse(kind).ok_or_else(|| format!("resource type '{kind}' not modelled"))?;
    let affirmative = match p.decision_strategy.as_deref() {
        None | Some("UNANIMOUS") => false,
        Some("AFFIRMATIVE") => true,
        Some(other) => return Err(format!("decision strategy '{other}' not modelled")),
    };
    Ok(ScopePermission {
        name,
        resource_type,
        resources: list(p, "resources").into_iter().collect::<BTreeSet<_>>(),
        scopes: list(p, "scopes").into_iter().collect(),
        policies: list(p, "applyPolicies"),
        affirmative,
    })
}

/// A `config` list: JSON text of an array of strings (as exports write it), or an array.
fn list(p: &PolicyRep, key: &str) -> Vec<String> {
    match p.config.as_ref().and_then(|c| c.get(key)) {
        Some(Value::String(text)) => serde_json::from_str(text).unwrap_or_default(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}
