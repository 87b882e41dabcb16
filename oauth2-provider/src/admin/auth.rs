//! Who may call the admin API: `AdminRoot#authenticateRealmAdminRequest` (Keycloak's
//! `org.keycloak.services.resources.admin.AdminRoot`), as an extractor, and what the caller
//! may do (`AdminPermissions`): the `realm-management` roles, and in a realm with
//! fine-grained admin permissions v2 (`adminPermissionsEnabled`) what its permissions grant
//! the caller on one user, client or role ([`crate::store::permissions`]).
//! The bearer token is verified against the realm its issuer names (401 without a valid
//! token); a certificate-bound token is *not* checked against the connection's certificate,
//! as Keycloak's `BearerTokenAuthenticator` does not (recorded: `provisioner_*` golden
//! answers). Then:
//! - a `master` user with the `admin` role may do everything, in every realm;
//! - a user of the path's own realm (e.g. a service account) may do what its effective
//!   `realm-management` roles allow ([`Need`]), and, on one object, what the realm's admin
//!   permissions grant it (`may_view_user`, `may_map_roles_of`, `may_map`, …); a token of
//!   another realm is 403.

use std::collections::BTreeSet;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use serde_json::Value;

use crate::Provider;
use crate::error::AdminError;
use crate::store::permissions::{ResourceType, Subject};
use crate::store::{Realm, Role};

/// A verified caller of the admin API (`AdminRoot#authenticateRealmAdminRequest`): who, and
/// what it may do.
#[derive(Debug, Clone)]
pub struct AdminAuth {
    pub username: String,
    caller: Caller,
}

#[derive(Debug, Clone)]
enum Caller {
    /// A `master` user with the `admin` role.
    MasterAdmin,
    /// A user of `realm`, with the names of its effective `realm-management` roles, its id
    /// and the client its token was issued to (`azp`), whom admin permissions' policies name.
    RealmUser {
        realm: String,
        roles: BTreeSet<String>,
        user_id: String,
        client_uuid: Option<String>,
    },
}

/// What an admin endpoint requires (`UserPermissions`, `ClientPermissions`,
/// `RealmPermissions`, `RolePermissions` of Keycloak's v1 admin permissions: roles only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// `GET /clients` (`canList`); each client listed is then filtered by [`Need::ViewClients`].
    ListClients,
    ViewClients,
    ManageClients,
    /// `POST /clients`: `manage-clients` or `create-client`.
    CreateClient,
    /// The realm's roles (`RolePermissions#requireView(realm)`: `view-realm` or `manage-realm`).
    ViewRealm,
    ManageRealm,
    /// `GET /users` (`canQuery`); each user listed is then filtered by [`Need::ViewUsers`].
    QueryUsers,
    ViewUsers,
    /// Users and their role mappings (`canManage`, `requireMapRoles`).
    ManageUsers,
}

impl Need {
    /// The `realm-management` roles any one of which grants it (`realm-admin` is a
    /// composite of all of them).
    fn granted_by(self) -> &'static [&'static str] {
        match self {
            Need::ListClients => &["query-clients", "view-clients", "manage-clients"],
            Need::ViewClients => &["view-clients", "manage-clients"],
            Need::ManageClients => &["manage-clients"],
            Need::CreateClient => &["manage-clients", "create-client"],
            Need::ViewRealm => &["view-realm", "manage-realm"],
            Need::ManageRealm => &["manage-realm"],
            Need::QueryUsers => &["query-users", "view-users", "manage-users"],
            Need::ViewUsers => &["view-users", "manage-users"],
            Need::ManageUsers => &["manage-users"],
        }
    }
}

impl AdminAuth {
    /// Whether the caller may do `need` in `realm`.
    pub fn allows(&self, realm: &str, need: Need) -> bool {
        match &self.caller {
            Caller::MasterAdmin => true,
            Caller::RealmUser {
                realm: own, roles, ..
            } => own == realm && need.granted_by().iter().any(|r| roles.contains(*r)),
        }
    }

    /// Whether `realm`'s admin permissions (v2) grant one of `scopes` on `object` (an id of
    /// `kind`) to this caller, a user of that realm.
    fn permitted(&self, realm: &Realm, kind: ResourceType, object: &str, scopes: &[&str]) -> bool {
        let Caller::RealmUser {
            realm: own,
            user_id,
            client_uuid,
            ..
        } = &self.caller
        else {
            return false;
        };
        let who = Subject {
            user_id,
            client_uuid: client_uuid.as_deref(),
        };
        own == &realm.name
            && realm.admin_permissions.as_ref().is_some_and(|p| {
                scopes
                    .iter()
                    .any(|scope| p.grants(who, kind, object, scope))
            })
    }

    /// `UserPermissions#canView(user)`: `view-users`/`manage-users`, or a permission's
    /// `view` or `manage` on the user.
    pub fn may_view_user(&self, realm: &Realm, user_id: &str) -> bool {
        self.allows(&realm.name, Need::ViewUsers)
            || self.permitted(realm, ResourceType::Users, user_id, &["view", "manage"])
    }

    /// `UserPermissions#canMapRoles(user)`: `manage-users`, or a permission's `map-roles`
    /// on the user (recorded: `view` alone does not map, `map-roles` alone does not read).
    pub fn may_map_roles_of(&self, realm: &Realm, user_id: &str) -> bool {
        self.allows(&realm.name, Need::ManageUsers)
            || self.permitted(realm, ResourceType::Users, user_id, &["map-roles"])
    }

    /// `UserPermissions#canManage(user)`: `manage-users`, or a permission's `manage`.
    pub fn may_manage_user(&self, realm: &Realm, user_id: &str) -> bool {
        self.allows(&realm.name, Need::ManageUsers)
            || self.permitted(realm, ResourceType::Users, user_id, &["manage"])
    }

    /// `ClientPermissions#canView(client)`: `view-clients`/`manage-clients`, or a
    /// permission's `view` or `manage` on the client (recorded: `view` on the mTLS client
    /// reads it and its service-account user; `GET /clients?clientId=` still needs
    /// `query-clients`).
    pub fn may_view_client(&self, realm: &Realm, client_uuid: &str) -> bool {
        self.allows(&realm.name, Need::ViewClients)
            || self.permitted(
                realm,
                ResourceType::Clients,
                client_uuid,
                &["view", "manage"],
            )
    }

    /// The caller's `access` block on one user (`UserResource#getUser`): what it may do to
    /// that user. A realm admin may do everything.
    pub fn user_access(&self, realm: &Realm, user_id: &str) -> Value {
        let scope = |name: &str| {
            matches!(self.caller, Caller::MasterAdmin)
                || self.permitted(realm, ResourceType::Users, user_id, &[name])
        };
        let manage = self.may_manage_user(realm, user_id);
        serde_json::json!({
            "manageGroupMembership": manage || scope("manage-group-membership"),
            "resetPassword": manage || scope("reset-password"),
            "view": self.may_view_user(realm, user_id),
            "mapRoles": self.may_map_roles_of(realm, user_id),
            "impersonate": scope("impersonate"),
            "manage": manage,
        })
    }

    /// The caller's `access` block on one client (`ClientResource#getClient`,
    /// `ClientsResource#getClients`): recorded for the provisioner (`view-clients`): view
    /// only.
    pub fn client_access(&self, realm: &Realm, client_uuid: &str) -> Value {
        let manage = self.allows(&realm.name, Need::ManageClients)
            || self.permitted(realm, ResourceType::Clients, client_uuid, &["manage"]);
        serde_json::json!({
            "view": self.may_view_client(realm, client_uuid),
            "configure": manage
                || self.permitted(realm, ResourceType::Clients, client_uuid, &["configure"]),
            "manage": manage,
        })
    }

    /// [`AdminAuth::require`] for one object (a user, a client) by its id: `check` (e.g.
    /// [`AdminAuth::may_view_user`]), else 403.
    pub fn require_on(
        &self,
        realm: &Realm,
        id: &str,
        check: fn(&Self, &Realm, &str) -> bool,
    ) -> Result<(), AdminError> {
        if check(self, realm, id) {
            return Ok(());
        }
        tracing::info!(
            "admin request refused: '{}' may not do this to {id} in realm '{}' (neither its realm-management roles nor the realm's admin permissions allow it)",
            self.username,
            realm.name
        );
        Err(AdminError::forbidden())
    }

    /// [`AdminAuth::allows`], else 403 (logged with the reason).
    pub fn require(&self, realm: &str, need: Need) -> Result<(), AdminError> {
        if self.allows(realm, need) {
            return Ok(());
        }
        tracing::info!(
            "admin request refused: '{}' may not {need:?} in realm '{realm}' ({})",
            self.username,
            match &self.caller {
                Caller::RealmUser {
                    realm: own, roles, ..
                } if own == realm => format!("its realm-management roles: {roles:?}"),
                Caller::RealmUser { realm: own, .. } => format!("a user of realm '{own}'"),
                Caller::MasterAdmin => String::new(),
            }
        );
        Err(AdminError::forbidden())
    }

    /// `RolePermissions#canMapRole`. A caller without `manage-users` maps only the roles a
    /// permission's `map-role` names (recorded: the provisioner maps
    /// `oauth2-playbook-readonly`, and neither `oauth2-playbook-write` nor an admin role,
    /// not even the `view-clients` it holds). With `manage-users`, the roles decide, as
    /// without admin permissions ([`AdminAuth::may_map_by_roles`]; recorded in a realm
    /// without them).
    pub fn may_map(&self, realm: &Realm, role: &Role) -> bool {
        if self.allows(&realm.name, Need::ManageUsers) {
            return self.may_map_by_roles(realm, role);
        }
        self.permitted(realm, ResourceType::Roles, &role.id, &["map-role"])
    }

    /// `RolePermissions#canMapRole` with roles only: a caller who may manage users may map
    /// any role that is not an admin role; a `realm-management` role only if the caller
    /// holds what it grants (`checkAdminRoles`: `manage-users` passes on `query-users`,
    /// `view-users` and `manage-users`, but never `manage-realm` or `realm-admin`). Recorded
    /// from Keycloak for `manage-users` (passed on: 204) and `realm-admin`, `manage-realm`
    /// (403); the other rows follow `checkAdminRoles` as read.
    fn may_map_by_roles(&self, realm: &Realm, role: &Role) -> bool {
        let is_admin_role = realm
            .clients
            .iter()
            .any(|c| c.client_id == REALM_MANAGEMENT && c.id == role.container_id);
        if !is_admin_role {
            return true;
        }
        match &self.caller {
            Caller::MasterAdmin => true,
            Caller::RealmUser { roles, .. } => {
                let as_need = match role.name.as_str() {
                    "query-users" => Some(Need::QueryUsers),
                    "view-users" => Some(Need::ViewUsers),
                    "manage-users" => Some(Need::ManageUsers),
                    "query-clients" => Some(Need::ListClients),
                    "view-clients" => Some(Need::ViewClients),
                    "manage-clients" => Some(Need::ManageClients),
                    "create-client" => Some(Need::CreateClient),
                    "query-realms" => return true,
                    _ => None,
                };
                match as_need {
                    Some(n) => self.allows(&realm.name, n),
                    None => roles.contains(&role.name),
                }
            }
        }
    }
}

const REALM_MANAGEMENT: &str = playbook::names::REALM_MANAGEMENT_CLIENT_ID;

impl FromRequestParts<Provider> for AdminAuth {
    type Rejection = AdminError;

    async fn from_request_parts(
        parts: &mut Parts,
        provider: &Provider,
    ) -> Result<Self, AdminError> {
        let refuse = |why: &str| {
            tracing::info!(
                "admin request {} {} refused: {why}",
                parts.method,
                parts.uri.path()
            );
            AdminError::unauthorized()
        };
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(refuse("no Authorization header"));
        };
        let value = value.to_str().unwrap_or("");
        let Some(token) = value
            .split_once(' ')
            .filter(|(s, _)| s.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
        else {
            return Err(refuse("Authorization is not Bearer"));
        };
        // AppAuthManager.BearerTokenAuthenticator: the token is checked against the realm
        // named in its issuer, with this request's base URL.
        let base = crate::discovery::base_url(provider, &parts.headers);
        let Some(token_realm) = unverified_issuer_realm(token) else {
            return Err(refuse("not a JWT with an issuer"));
        };
        let Some(keys) = provider.keys(&token_realm) else {
            return Err(refuse("token issued by an unknown realm"));
        };
        let claims = keys
            .verify_access_token(token, &crate::discovery::issuer(&base, &token_realm))
            .map_err(|why| refuse(&format!("token {why}")))?;
        if claims.get("typ").and_then(Value::as_str) != Some("Bearer") {
            return Err(refuse("not an access token"));
        }
        let store = provider.read();
        let Some(realm) = store.realm(&token_realm).filter(|r| r.enabled) else {
            return Err(refuse("token realm disabled"));
        };
        // `sub`, or (a lightweight token has none) the user of its session `sid`.
        let sub = match claims.get("sub").and_then(Value::as_str) {
            Some(sub) => sub.to_owned(),
            None => claims
                .get("sid")
                .and_then(Value::as_str)
                .and_then(|sid| provider.inner.session_user(sid))
                .unwrap_or_default(),
        };
        let Some(user) = realm.user_by_id(&sub).filter(|u| u.enabled) else {
            return Err(refuse("token user unknown or disabled"));
        };
        // AdminPermissions: the master realm's `admin` role may do everything; any other
        // user, what its realm-management roles allow in its own realm (checked by each
        // endpoint with `require`).
        let caller = if token_realm == playbook::names::ADMIN_REALM
            && realm
                .effective_roles(user)
                .iter()
                .any(|(r, c)| c.is_none() && r.name == "admin")
        {
            Caller::MasterAdmin
        } else {
            let roles = realm
                .effective_roles(user)
                .iter()
                .filter(|(_, c)| c.is_some_and(|c| c.client_id == REALM_MANAGEMENT))
                .map(|(r, _)| r.name.clone())
                .collect();
            Caller::RealmUser {
                realm: token_realm.clone(),
                roles,
                user_id: user.id.clone(),
                client_uuid: claims
                    .get("azp")
                    .and_then(Value::as_str)
                    .and_then(|azp| realm.client_by_client_id(azp))
                    .map(|c| c.id.clone()),
            }
        };
        Ok(AdminAuth {
            username: user.username.clone(),
            caller,
        })
    }
}

/// The realm name in a JWT's `iss` (`…/realms/<name>`), read before verification to pick the key.
fn unverified_issuer_realm(token: &str) -> Option<String> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    let iss = claims.get("iss")?.as_str()?;
    iss.rsplit_once("/realms/").map(|(_, r)| r.to_owned())
}
