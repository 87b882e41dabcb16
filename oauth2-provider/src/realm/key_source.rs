//! The realm file's key material, taken out of the representation for [`crate::keys`]:
//! the legacy realm keys (`privateKey`/`certificate`) and the `KeyProvider` components, each
//! with its JSON path. The import only hands them over; `keys` makes keys of them.

use super::rep::RealmRep;
use crate::keys::{KeyComponent, KeySource};

/// The component type of key providers in `RealmRepresentation#components`.
const KEY_PROVIDER_TYPE: &str = "org.keycloak.keys.KeyProvider";

/// Takes the key fields out of `rep` (they are used by `keys` only).
pub(crate) fn take_key_source(rep: &mut RealmRep) -> KeySource {
    let providers = rep
        .components
        .as_mut()
        .and_then(|c| c.remove(KEY_PROVIDER_TYPE))
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let component = KeyComponent {
                name: c.name,
                provider_id: c.provider_id,
                config: c.config,
            };
            (format!("components.{KEY_PROVIDER_TYPE}[{i}]"), component)
        })
        .collect();
    rep.public_key = None;
    KeySource {
        legacy_private_key: rep.private_key.take().filter(|k| !k.trim().is_empty()),
        legacy_certificate: rep.certificate.take().filter(|c| !c.trim().is_empty()),
        providers,
    }
}
