//! Step 3, the realm's client scopes (`RealmManager#importRealm`,
//! `DefaultClientScopes#createDefaultClientScopes`, `DefaultExportImportManager#importRealm`):
//! Keycloak's built-in scopes first when the file has no `clientScopes` array (or sets the
//! realm attribute `CreateDefaultClientScopes=true`), `offline_access` whenever the file
//! lacks it, then the file's scopes and the realm's default and optional scope lists.

use super::convert::scope_from_rep;
use super::error::FieldError;
use super::rep::{ClientScopeRep, RealmRep};
use crate::store::{ClientScope, Realm};

/// The client scopes Keycloak 26.7 creates in a realm before reading the file's
/// (`DefaultClientScopes#createDefaultClientScopes` for each login protocol, and
/// `createOfflineAccessClientScope`), as `GET /admin/realms/{realm}/client-scopes` lists them
/// for a realm imported from a file without `clientScopes` (ids left out: each import makes
/// new ones).
const BUILTIN_CLIENT_SCOPES: &str = include_str!("builtin-client-scopes.json");
/// The realm's default and optional client scopes after `createDefaultClientScopes`
/// (`GET .../default-default-client-scopes` and `.../default-optional-client-scopes`).
const BUILTIN_DEFAULT_SCOPES: &[&str] = &[
    "role_list",
    "saml_organization",
    "AuthnContextClassRef",
    "profile",
    "email",
    "roles",
    "web-origins",
    "acr",
    "basic",
];
const BUILTIN_OPTIONAL_SCOPES: &[&str] = &[
    "offline_access",
    "address",
    "phone",
    "microprofile-jwt",
    "organization",
];
/// The scope (and realm role) of offline tokens, which Keycloak makes in every realm.
pub(super) const OFFLINE_ACCESS: &str = "offline_access";

/// Keycloak's built-in client scopes, with new ids.
fn builtin_scopes() -> Vec<ClientScope> {
    let reps: Vec<ClientScopeRep> =
        serde_json::from_str(BUILTIN_CLIENT_SCOPES).expect("builtin-client-scopes.json parses");
    reps.into_iter()
        .map(|s| scope_from_rep(s, "(built-in client scope)").expect("built-in scopes are valid"))
        .collect()
}

/// Keycloak's built-in client scope `name`, with a new id (for the migrators).
pub(super) fn builtin_scope(name: &str) -> ClientScope {
    builtin_scopes()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("'{name}' is a built-in client scope"))
}

/// Whether the file has an `offline_access` client scope (then Keycloak makes none, and
/// `setupOfflineTokens` runs only when the file also lacks the role).
pub(super) fn file_has_offline_scope(rep: &RealmRep) -> bool {
    rep.client_scopes
        .iter()
        .flatten()
        .any(|s| s.name.as_deref() == Some(OFFLINE_ACCESS))
}

/// Step 3: Keycloak's scopes the file calls for (`file_has_offline_scope`: see
/// [`file_has_offline_scope`]), then the file's (`clientScopes`,
/// `defaultDefaultClientScopes`, `defaultOptionalClientScopes`, all taken from `rep`).
pub(super) fn import_client_scopes(
    realm: &mut Realm,
    rep: &mut RealmRep,
    file_has_offline_scope: bool,
) -> Result<(), FieldError> {
    let create_default_scopes = rep.client_scopes.is_none()
        || rep
            .attributes
            .as_ref()
            .and_then(|a| a.get("CreateDefaultClientScopes"))
            .is_some_and(|v| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true")));
    let builtins = builtin_scopes();
    if !file_has_offline_scope {
        // DefaultClientScopes#createOfflineAccessClientScope: an optional realm default.
        let offline = builtins.iter().find(|s| s.name == OFFLINE_ACCESS);
        realm.client_scopes.extend(offline.cloned());
        realm
            .default_optional_scopes
            .push(OFFLINE_ACCESS.to_owned());
    }
    if create_default_scopes {
        for s in builtins {
            if realm.scope_by_name(&s.name).is_none() {
                realm.client_scopes.push(s);
            }
        }
        realm.default_default_scopes = BUILTIN_DEFAULT_SCOPES.iter().map(|s| (*s).into()).collect();
        realm.default_optional_scopes = BUILTIN_OPTIONAL_SCOPES
            .iter()
            .map(|s| (*s).into())
            .collect();
    }
    let mut file_scopes: Vec<String> = Vec::new();
    for (i, s) in rep
        .client_scopes
        .take()
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let scope = scope_from_rep(s, &format!("clientScopes[{i}]"))?;
        realm.client_scopes.retain(|x| x.name != scope.name);
        file_scopes.push(scope.name.clone());
        realm.client_scopes.push(scope);
    }
    // DefaultExportImportManager#importRealm: the realm's default scopes name the file's
    // scopes; any other name is ignored with a warning.
    let file_scope =
        |list: Vec<String>, field: &str| existing_scopes(list, field, |s| file_scopes.contains(s));
    for s in file_scope(
        rep.default_default_client_scopes.take().unwrap_or_default(),
        "defaultDefaultClientScopes",
    ) {
        if !realm.default_default_scopes.contains(&s) {
            realm.default_default_scopes.push(s);
        }
    }
    for s in file_scope(
        rep.default_optional_client_scopes
            .take()
            .unwrap_or_default(),
        "defaultOptionalClientScopes",
    ) {
        if !realm.default_optional_scopes.contains(&s) {
            realm.default_optional_scopes.push(s);
        }
    }
    Ok(())
}

/// The scope names of `list` that `exists` knows; each other one is dropped with Keycloak's
/// warning, naming `field` (`DefaultExportImportManager#importRealm` for the realm's lists,
/// `RepresentationToModel#addClientScopeToClient` for a client's).
pub(super) fn existing_scopes(
    list: Vec<String>,
    field: &str,
    exists: impl Fn(&String) -> bool,
) -> Vec<String> {
    list.into_iter()
        .filter(|s| {
            let ok = exists(s);
            if !ok {
                tracing::warn!("{field}: Referenced client scope '{s}' doesn't exist. Ignoring");
            }
            ok
        })
        .collect()
}
