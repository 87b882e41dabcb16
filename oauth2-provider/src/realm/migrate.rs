//! Step 10, the model migrators of an older export (`MigrationModelManager#migrateImport`,
//! Keycloak 26.7.5): every migrator whose version is newer than the file's `keycloakVersion`
//! runs on the imported realm; a file that names no version is not migrated (observed: a
//! file without it and with its own `clientScopes` gets no `acr`, `basic` or
//! `service_account` scope). [`MIGRATORS`] lists
//! those since Keycloak 12 with what each does: applied here when its effect shows in what
//! the playground serves (client scopes, token claims, discovery, keys), otherwise named with
//! the reason it changes nothing served.

use super::client_scopes::builtin_scope;
use crate::store::Realm;

/// A Keycloak version as `ModelVersion` compares them: major, minor, micro.
pub(super) type Version = (u32, u32, u32);

/// What one migrator does to an imported realm.
enum Effect {
    /// Applied here.
    Applied(fn(&mut Realm)),
    /// Not applied: nothing the playground serves changes (the reason).
    NotServed(&'static str),
}

/// Keycloak 26.7.5's migrators since 12.0.0, in order (`MigrationModelManager#migrations`).
const MIGRATORS: &[(Version, Effect)] = &[
    (
        (12, 0, 0),
        Effect::NotServed("deletes the realm's default roles' old client mappings"),
    ),
    (
        (14, 0, 0),
        Effect::NotServed("adds the delete-account role and required action"),
    ),
    ((18, 0, 0), Effect::Applied(add_acr_scope)),
    (
        (20, 0, 0),
        Effect::NotServed("adds admin roles of realm management"),
    ),
    (
        (21, 0, 0),
        Effect::NotServed("updates themes and user storage settings"),
    ),
    (
        (22, 0, 0),
        Effect::NotServed("removes the http challenge flow, resets RH-SSO themes"),
    ),
    (
        (23, 0, 0),
        Effect::NotServed("user profile and registration flow"),
    ),
    (
        (24, 0, 0),
        Effect::NotServed("user profile and LDAP settings"),
    ),
    (
        (24, 0, 3),
        Effect::NotServed("organization and user profile settings"),
    ),
    ((25, 0, 0), Effect::Applied(add_basic_scope)),
    ((25, 0, 13), Effect::NotServed("authentication flows")),
    ((26, 0, 0), Effect::Applied(lightweight_admin_clients)),
    ((26, 1, 0), Effect::Applied(add_service_account_scope)),
    (
        (26, 2, 0),
        Effect::NotServed("removes the X-XSS-Protection browser header"),
    ),
    (
        (26, 3, 0),
        Effect::NotServed("adds the idp-link required action"),
    ),
    ((26, 4, 0), Effect::NotServed("user sessions only")),
    ((26, 4, 3), Effect::NotServed("authentication flows")),
    ((26, 5, 0), Effect::NotServed("required actions")),
    ((26, 6, 0), Effect::NotServed("user sessions only")),
    ((26, 6, 1), Effect::NotServed("authentication flows")),
    ((26, 6, 2), Effect::NotServed("authentication flows")),
    (
        (26, 7, 0),
        Effect::NotServed("required action priorities; organization admin roles (already here)"),
    ),
];

/// `ModelVersion`'s reading of `keycloakVersion`: `major.minor.micro`, anything after the
/// third number (a qualifier) ignored; `None` when it is not such a version.
pub(super) fn parse_version(text: &str) -> Option<Version> {
    let mut parts = text.split(['.', '-']);
    let mut next = || parts.next().and_then(|p| p.parse::<u32>().ok());
    Some((next()?, next().unwrap_or(0), next().unwrap_or(0)))
}

/// Runs every migrator newer than `file_version` on `realm` (`None`: none).
pub(super) fn migrate_import(realm: &mut Realm, file_version: Option<Version>) {
    let Some(file_version) = file_version else {
        return;
    };
    for (version, effect) in MIGRATORS {
        if file_version >= *version {
            continue;
        }
        match effect {
            Effect::Applied(apply) => apply(realm),
            Effect::NotServed(reason) => tracing::debug!(
                "realm '{}': Keycloak's migrator {}.{}.{} is not applied ({reason}; nothing served changes)",
                realm.name,
                version.0,
                version.1,
                version.2
            ),
        }
    }
}

/// `addOIDCAcrClientScope` / `addOIDCBasicClientScope` then `addClientScopeToAllClients`:
/// when the realm lacks the scope, Keycloak's built-in one, a realm default scope and a
/// default scope of every OpenID Connect client. A realm that has it is left alone.
fn add_default_scope_everywhere(realm: &mut Realm, name: &str) {
    if realm.scope_by_name(name).is_some() {
        tracing::debug!(
            "realm '{}': client scope '{name}' already exists; Keycloak's migrator leaves it as it is",
            realm.name
        );
        return;
    }
    realm.client_scopes.push(builtin_scope(name));
    realm.default_default_scopes.push(name.to_owned());
    for c in realm
        .clients
        .iter_mut()
        .filter(|c| c.protocol == "openid-connect")
    {
        if !c.default_scopes.iter().any(|s| s == name) {
            c.default_scopes.push(name.to_owned());
        }
    }
}

/// `MigrateTo18_0_0`: the `acr` scope.
fn add_acr_scope(realm: &mut Realm) {
    add_default_scope_everywhere(realm, "acr");
}

/// `MigrateTo25_0_0`: the `basic` scope (`sub`, `auth_time`).
fn add_basic_scope(realm: &mut Realm) {
    add_default_scope_everywhere(realm, "basic");
}

/// `MigrateTo26_0_0`: `admin-cli` and `security-admin-console` get full scope and
/// lightweight access tokens.
fn lightweight_admin_clients(realm: &mut Realm) {
    for c in realm
        .clients
        .iter_mut()
        .filter(|c| c.client_id == "admin-cli" || c.client_id == "security-admin-console")
    {
        c.full_scope_allowed = true;
        let key = "client.use.lightweight.access.token.enabled";
        c.attributes.retain(|(k, _)| k != key);
        c.attributes.push((key.to_owned(), "true".to_owned()));
    }
}

/// `MigrateTo26_1_0` (`addServiceAccountClientScope`): the `service_account` scope in the
/// realm; the file's clients keep their scopes (observed: their tokens have no
/// `client_id`/`clientHost`/`clientAddress`), a service account made later gets it.
fn add_service_account_scope(realm: &mut Realm) {
    const NAME: &str = "service_account";
    if realm.scope_by_name(NAME).is_none() {
        realm.client_scopes.push(builtin_scope(NAME));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_read_as_keycloak_compares_them() {
        assert_eq!(parse_version("26.0.7"), Some((26, 0, 7)));
        assert_eq!(parse_version("11.0.3"), Some((11, 0, 3)));
        assert_eq!(parse_version("999.0.0-SNAPSHOT"), Some((999, 0, 0)));
        assert_eq!(parse_version("25"), Some((25, 0, 0)));
        assert_eq!(parse_version("unknown"), None);
    }

    #[test]
    fn migrators_are_in_order() {
        assert!(MIGRATORS.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
