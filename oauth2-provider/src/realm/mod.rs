//! Reading a Keycloak realm export (`RealmRepresentation` JSON) and importing it into the
//! in-memory [`store`](crate::store), with Keycloak's defaults for missing fields.
//!
//! Only the fields the playground uses are read; every other field of a real export is
//! ignored, as the representation classes are a superset. Import follows
//! `RealmManager#importRealm`, `DefaultExportImportManager` and `RepresentationToModel`
//! (Keycloak 26.7.5). A file is one realm or an array of realms ([`parse_realms`]); a
//! directory is read as `--import-realm` reads `data/import` ([`read_path`]).
//!
//! # Layout
//!
//! - `rep`: the representation classes as the file holds them;
//! - `file`: reading files and directories into representations (`placeholders`: their
//!   `${NAME}` placeholders replaced from the environment first, as Keycloak does);
//! - `import`: the import of one realm, step by step, calling in this order:
//!   `checks` (refused ids, unsupported fields), `roles` (1. the default role, 2. realm
//!   roles and `offline_access`), `client_scopes` (3.), `builtin_clients` (4. the
//!   built-in clients the file lacks), `clients` (5. the file's clients and their roles),
//!   `builtin_clients` (6. `uma_authorization` and the admin roles), `roles` (7.
//!   composites, 8. the deprecated `defaultRoles`), `users` (9.), `admin_permissions` (9b.
//!   fine-grained admin permissions v2: `adminPermissionsEnabled` and the
//!   `admin-permissions` client's policies), `migrate` (10. Keycloak's migrators newer than
//!   the file's `keycloakVersion`);
//! - `convert`: one representation into one model entity, with Keycloak's defaults;
//! - `key_source`: the realm file's key material taken out for [`crate::keys`];
//! - `master`: the `master` realm, made rather than imported;
//! - `error`: what refuses a file, naming the file and the field.

mod admin_permissions;
mod builtin_clients;
mod checks;
mod client_scopes;
mod clients;
mod convert;
mod error;
mod file;
mod import;
mod key_source;
mod master;
mod migrate;
mod placeholders;
mod rep;
mod roles;
#[cfg(test)]
mod tests;
mod users;

pub use builtin_clients::add_master_admin_client;
pub(crate) use convert::client_from_rep;
pub use error::{FieldError, Problem, RealmFileError};
pub use file::{RealmInput, parse, parse_realms, read_path};
pub use import::{import, import_realm, import_with_keys};
pub use master::master_realm;
pub use placeholders::{Environment, PlaceholderError, replace as replace_placeholders};
pub use rep::{
    ClientRep, ClientScopeRep, ComponentRep, CompositesRep, MapperRep, RealmRep, RoleRep, RolesRep,
    UserRep,
};
