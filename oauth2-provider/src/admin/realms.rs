//! The realm of an admin path, `/admin/realms/{realm}/…`: `RealmAdminResource` (Keycloak's
//! `org.keycloak.services.resources.admin.RealmAdminResource`, reached through
//! `RealmsAdminResource#getRealmAdmin`) looks the realm up once and hands it to the resource
//! below it; an unknown realm is 404 `Realm not found.`. Also the `first`/`max` paging the
//! list resources under it share.

use serde::Deserialize;

use crate::Provider;
use crate::error::AdminError;
use crate::store::Realm;

pub(super) type Result<T> = std::result::Result<T, AdminError>;

pub(super) fn with_realm<T>(
    provider: &Provider,
    name: &str,
    f: impl FnOnce(&Realm) -> Result<T>,
) -> Result<T> {
    let store = provider.read();
    let realm = store
        .realm(name)
        .ok_or_else(AdminError::admin_realm_not_found)?;
    f(realm)
}

pub(super) fn with_realm_mut<T>(
    provider: &Provider,
    name: &str,
    f: impl FnOnce(&mut Realm) -> Result<T>,
) -> Result<T> {
    let mut store = provider.write();
    let realm = store
        .realm_mut(name)
        .ok_or_else(AdminError::admin_realm_not_found)?;
    f(realm)
}

/// `first`/`max` paging, read from the same query string as each handler's own parameters.
#[derive(Debug, Deserialize, Default, Clone, Copy)]
#[serde(default)]
pub struct Page {
    first: Option<usize>,
    max: Option<usize>,
}

impl Page {
    /// Skips `first`, keeps at most `max` (else `default_max`).
    pub(super) fn apply<T>(
        self,
        items: impl Iterator<Item = T>,
        default_max: usize,
    ) -> impl Iterator<Item = T> {
        items
            .skip(self.first.unwrap_or(0))
            .take(self.max.unwrap_or(default_max))
    }
}
