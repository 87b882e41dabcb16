//! Fine-grained admin permissions v2 (Keycloak 26.2+, a realm's `adminPermissionsEnabled`):
//! the policies and scope permissions of the realm's `admin-permissions` client, as data,
//! and the one question the admin API asks of them: does this permission set grant `scope`
//! on this object to this caller?
//!
//! What is modelled is what the realm file (`authorizationSettings.policies` of the client
//! `admin-permissions`) can say and the playground's realm uses, recorded from Keycloak
//! 26.7.5 (`provisioner_*` golden answers):
//! - **policies** of type `client` (the caller's token was issued to one of these clients)
//!   and `user` (the caller is one of these users), `logic` `POSITIVE` or `NEGATIVE`; a
//!   policy of another type (role, group, time, …) never grants here;
//! - **scope permissions** on one resource type (`Users`, `Clients`, `Roles`, `Groups`),
//!   either on named objects (`resources`: the objects' ids) or on every object of the type
//!   (no `resources`), for some scopes (`view`, `map-roles`, `map-role`, `manage`, …), with
//!   their policies combined `UNANIMOUS` (every one grants; Keycloak's default) or
//!   `AFFIRMATIVE` (one does).
//!
//! A permission grants its scopes when it applies to the object and its policies decide so.
//! The scopes one implies (`manage` implies `view` and `map-roles` of a user) are the
//! callers' business ([`crate::admin::auth`]).

use std::collections::BTreeSet;

/// The kinds of objects a permission is about (`AdminPermissionsSchema`'s resource types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceType {
    Users,
    Clients,
    Roles,
    Groups,
}

impl ResourceType {
    /// The name the realm file uses (`defaultResourceType`).
    pub fn parse(name: &str) -> Option<ResourceType> {
        match name {
            "Users" => Some(ResourceType::Users),
            "Clients" => Some(ResourceType::Clients),
            "Roles" => Some(ResourceType::Roles),
            "Groups" => Some(ResourceType::Groups),
            _ => None,
        }
    }
}

/// Who a policy is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySubject {
    /// `type: client`: the internal ids (UUIDs) of the clients (the file names them by
    /// `clientId`; the import resolves them, as Keycloak's does).
    Clients(BTreeSet<String>),
    /// `type: user`: the users' ids.
    Users(BTreeSet<String>),
    /// Any other type: never grants here.
    Other(String),
}

#[derive(Debug, Clone)]
pub struct AdminPolicy {
    pub name: String,
    pub subject: PolicySubject,
    /// `logic: NEGATIVE` turns the decision round.
    pub negative: bool,
}

#[derive(Debug, Clone)]
pub struct ScopePermission {
    pub name: String,
    pub resource_type: ResourceType,
    /// The objects' ids; empty: every object of the type.
    pub resources: BTreeSet<String>,
    pub scopes: BTreeSet<String>,
    /// Policy names (`applyPolicies`).
    pub policies: Vec<String>,
    /// `decisionStrategy: AFFIRMATIVE` (one policy is enough), else `UNANIMOUS`.
    pub affirmative: bool,
}

/// The caller, as the policies see it: its user and the client its token was issued to.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub user_id: &'a str,
    pub client_uuid: Option<&'a str>,
}

/// A realm's fine-grained admin permissions (present when `adminPermissionsEnabled`).
#[derive(Debug, Clone, Default)]
pub struct AdminPermissions {
    pub policies: Vec<AdminPolicy>,
    pub permissions: Vec<ScopePermission>,
}

impl AdminPermissions {
    /// Whether a permission on `object` (an id of `kind`) grants `scope` to `who`.
    pub fn grants(&self, who: Subject<'_>, kind: ResourceType, object: &str, scope: &str) -> bool {
        self.permissions.iter().any(|p| {
            p.resource_type == kind
                && (p.resources.is_empty() || p.resources.contains(object))
                && p.scopes.contains(scope)
                && self.decide(p, who)
        })
    }

    /// Whether a permission grants `scope` on *every* object of `kind` (no `resources`).
    pub fn grants_all(&self, who: Subject<'_>, kind: ResourceType, scope: &str) -> bool {
        self.permissions.iter().any(|p| {
            p.resource_type == kind
                && p.resources.is_empty()
                && p.scopes.contains(scope)
                && self.decide(p, who)
        })
    }

    fn decide(&self, p: &ScopePermission, who: Subject<'_>) -> bool {
        let mut each = p.policies.iter().map(|name| {
            self.policies
                .iter()
                .find(|x| &x.name == name)
                .is_some_and(|x| x.applies_to(who))
        });
        if p.policies.is_empty() {
            return false;
        }
        if p.affirmative {
            each.any(|b| b)
        } else {
            each.all(|b| b)
        }
    }
}

impl AdminPolicy {
    fn applies_to(&self, who: Subject<'_>) -> bool {
        let matches = match &self.subject {
            PolicySubject::Clients(ids) => who.client_uuid.is_some_and(|c| ids.contains(c)),
            PolicySubject::Users(ids) => ids.contains(who.user_id),
            PolicySubject::Other(_) => return false,
        };
        matches != self.negative
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn realm() -> AdminPermissions {
        AdminPermissions {
            policies: vec![
                AdminPolicy {
                    name: "p".into(),
                    subject: PolicySubject::Clients(set(&["c1"])),
                    negative: false,
                },
                AdminPolicy {
                    name: "not-u9".into(),
                    subject: PolicySubject::Users(set(&["u9"])),
                    negative: true,
                },
            ],
            permissions: vec![
                ScopePermission {
                    name: "one user".into(),
                    resource_type: ResourceType::Users,
                    resources: set(&["u1"]),
                    scopes: set(&["view", "map-roles"]),
                    policies: vec!["p".into(), "not-u9".into()],
                    affirmative: false,
                },
                ScopePermission {
                    name: "every role".into(),
                    resource_type: ResourceType::Roles,
                    resources: BTreeSet::new(),
                    scopes: set(&["map-role"]),
                    policies: vec!["p".into()],
                    affirmative: false,
                },
            ],
        }
    }

    #[test]
    fn a_permission_grants_its_scopes_on_its_objects_to_its_policies_subjects() {
        let perms = realm();
        let caller = Subject {
            user_id: "u0",
            client_uuid: Some("c1"),
        };
        assert!(perms.grants(caller, ResourceType::Users, "u1", "map-roles"));
        assert!(!perms.grants(caller, ResourceType::Users, "u2", "map-roles"));
        assert!(!perms.grants(caller, ResourceType::Users, "u1", "manage"));
        assert!(!perms.grants(caller, ResourceType::Clients, "u1", "view"));
        assert!(perms.grants(caller, ResourceType::Roles, "any", "map-role"));
        assert!(perms.grants_all(caller, ResourceType::Roles, "map-role"));
        assert!(!perms.grants_all(caller, ResourceType::Users, "view"));
        let other_client = Subject {
            user_id: "u0",
            client_uuid: Some("c2"),
        };
        assert!(!perms.grants(other_client, ResourceType::Users, "u1", "view"));
        // UNANIMOUS: the negative user policy refuses u9 although the client policy grants.
        let u9 = Subject {
            user_id: "u9",
            client_uuid: Some("c1"),
        };
        assert!(!perms.grants(u9, ResourceType::Users, "u1", "view"));
        assert!(perms.grants(u9, ResourceType::Roles, "r", "map-role"));
    }
}
