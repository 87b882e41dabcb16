//! Importing one parsed realm as `RealmManager#importRealm` does (Keycloak 26.7.5), in its
//! order: [`import_inner`] is the table of contents, one call per step, each step in the
//! module named after what it imports. An error names the JSON path of the field
//! ([`FieldError`]) and, here, the file it came from.

use std::path::Path;

use super::admin_permissions::{ADMIN_PERMISSIONS_CLIENT_ID, import_admin_permissions};
use super::builtin_clients::{add_builtin_clients, add_missing_builtin_roles};
use super::checks::{check_client_profiles, check_unique_ids, warn_unsupported};
use super::client_scopes::{OFFLINE_ACCESS, file_has_offline_scope, import_client_scopes};
use super::clients::import_clients;
use super::error::{FieldError, Problem, RealmFileError};
use super::file::RealmInput;
use super::key_source::take_key_source;
use super::migrate::{migrate_import, parse_version};
use super::rep::RealmRep;
use super::roles::{
    add_default_role, convert_deprecated_default_roles, import_composites, import_realm_roles,
};
use super::users::{import_user, setup_service_accounts};
use crate::keys::KeySource;
use crate::store::{Realm, new_id};

/// Imports a parsed realm export as `RealmManager#importRealm` does.
pub fn import(rep: RealmRep, source: &Path) -> Result<Realm, RealmFileError> {
    import_with_keys(rep, source).map(|(realm, _)| realm)
}

/// [`import`], also returning the key material the file carries (for [`crate::keys`]).
pub fn import_with_keys(
    rep: RealmRep,
    source: &Path,
) -> Result<(Realm, KeySource), RealmFileError> {
    import_realm(RealmInput {
        rep,
        file: source.to_owned(),
        user_files: Vec::new(),
    })
}

/// Imports one realm with the users of its `<realm>-users-N.json` files (a directory
/// export), as `DirImportProvider` does: the realm file's users, then each users file's.
pub fn import_realm(input: RealmInput) -> Result<(Realm, KeySource), RealmFileError> {
    // Every warning of the import names the file it reads.
    let _file = tracing::warn_span!("import", file = %input.file.display()).entered();
    let (mut realm, keys) =
        import_inner(input.rep).map_err(|e| RealmFileError::invalid(&input.file, e))?;
    for (file, users) in input.user_files {
        for (i, u) in users.into_iter().enumerate() {
            import_user(&mut realm, u, &format!("users[{i}]"))
                .map_err(|e| RealmFileError::invalid(&file, e))?;
        }
    }
    setup_service_accounts(&mut realm);
    Ok((realm, keys))
}

/// The import steps, in Keycloak's order.
pub(super) fn import_inner(mut rep: RealmRep) -> Result<(Realm, KeySource), FieldError> {
    let name = rep
        .realm
        .clone()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| Problem::EmptyRealmName.at("realm"))?;
    check_unique_ids(&rep)?;
    let file_version = rep.keycloak_version.as_deref().and_then(parse_version);
    warn_unsupported(&rep, &name);
    let keys = take_key_source(&mut rep);
    let mut realm = empty_realm(&rep, name);

    // 1. Default role first (`defaultRole` or "default-roles-<realm>").
    let default_role = add_default_role(&mut realm, rep.default_role.as_ref())?;

    // 2. Realm roles; setupOfflineTokens runs unless the file has both the offline_access
    //    role and scope.
    let roles = rep.roles.take().unwrap_or_default();
    let realm_roles = roles.realm.unwrap_or_default();
    let client_roles = roles.client.unwrap_or_default();
    let has_offline_scope = file_has_offline_scope(&rep);
    let has_offline_role = realm_roles
        .iter()
        .any(|r| r.name.as_deref() == Some(OFFLINE_ACCESS));
    let setup_offline_tokens = !has_offline_role || !has_offline_scope;
    import_realm_roles(
        &mut realm,
        &realm_roles,
        &default_role,
        setup_offline_tokens,
    )?;

    // 3. Client scopes: Keycloak's own first, then the file's.
    import_client_scopes(&mut realm, &mut rep, has_offline_scope)?;

    // 4. The built-in clients the file lacks (RealmManager creates them before the file's).
    let mut file_clients = rep.clients.take().unwrap_or_default();
    // Fine-grained admin permissions: read after the users (step 9b).
    let admin_permissions = file_clients
        .iter_mut()
        .find(|c| c.client_id.as_deref() == Some(ADMIN_PERMISSIONS_CLIENT_ID))
        .and_then(|c| c.authorization_settings.take());
    add_builtin_clients(&mut realm, &file_clients, &default_role)?;

    // 5. The file's clients, then their roles (roles.client.<clientId>).
    let deprecated_client_defaults = import_clients(&mut realm, file_clients, &client_roles)?;

    // DefaultExportImportManager#importRealm: clientScopeMappings name clients the realm has.
    if let Some(owner) = rep
        .client_scope_mappings
        .iter()
        .flat_map(|m| m.keys())
        .find(|owner| realm.client_by_client_id(owner).is_none())
    {
        return Err(Problem::UnknownMappingsClient(owner.clone())
            .at(format!("clientScopeMappings.{owner}")));
    }

    // 6. What RealmManager#importRealm adds when the file lacks it: uma_authorization in
    //    the default role; every admin role.
    add_missing_builtin_roles(&mut realm, &default_role);

    // 7. Composites (RepresentationToModel#importRoles, second pass).
    import_composites(&mut realm, &realm_roles, &client_roles)?;

    // 8. Without `defaultRole`, the deprecated `defaultRoles` become its composites.
    if rep.default_role.is_none() {
        let realm_defaults = rep.default_roles.take().unwrap_or_default();
        convert_deprecated_default_roles(
            &mut realm,
            &default_role,
            realm_defaults,
            deprecated_client_defaults,
        );
    }

    // 9. Users: only the roles listed; a role named but not declared is created.
    for (i, u) in rep.users.take().unwrap_or_default().into_iter().enumerate() {
        import_user(&mut realm, u, &format!("users[{i}]"))?;
    }

    // 9b. Fine-grained admin permissions v2 (the `admin-permissions` client's policies).
    import_admin_permissions(
        &mut realm,
        rep.admin_permissions_enabled == Some(true),
        admin_permissions,
    );

    // ClientPolicyManager: the realm's client profiles, after everything else.
    check_client_profiles(&rep)?;

    // 10. Keycloak's migrators newer than the file's keycloakVersion.
    migrate_import(&mut realm, file_version);

    Ok((realm, keys))
}

/// The realm itself, with Keycloak's defaults and nothing in it yet.
fn empty_realm(rep: &RealmRep, name: String) -> Realm {
    Realm {
        id: rep.id.clone().unwrap_or_else(new_id),
        name,
        // RepresentationToModel: `enabled` is only set when present; a new realm is disabled.
        enabled: rep.enabled.unwrap_or(false),
        access_token_lifespan: rep.access_token_lifespan.unwrap_or(300),
        sso_session_idle_timeout: rep.sso_session_idle_timeout.unwrap_or(1800),
        // DefaultExportImportManager#importRealm: RS256 unless the file names another.
        default_signature_algorithm: rep
            .default_signature_algorithm
            .clone()
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| "RS256".into()),
        roles: Vec::new(),
        default_role_id: String::new(),
        clients: Vec::new(),
        users: Vec::new(),
        client_scopes: Vec::new(),
        default_default_scopes: Vec::new(),
        default_optional_scopes: Vec::new(),
        registration_allowed: rep.registration_allowed.unwrap_or(false),
        admin_permissions: None,
    }
}
