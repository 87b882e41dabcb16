//! Why a realm file is refused: [`RealmFileError`] names the file, and for a file that reads
//! but cannot be imported, a [`FieldError`]: the JSON path of the field and the [`Problem`]
//! there. The messages that come from Keycloak (`RealmManager`, `RepresentationToModel`,
//! `DefaultExportImportManager`, `DirImportProvider`, `ImportUtils`) are quoted as it words
//! them, so an error here reads as Keycloak's log does for the same file.

use std::path::PathBuf;

use crate::keys::KeyError;

/// A realm file that cannot be used; always names the file and the field.
#[derive(Debug, thiserror::Error)]
pub enum RealmFileError {
    /// The cause is part of the message (and not a `source`), so it is printed once.
    #[error("cannot read realm file {}: {cause}", path.display())]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("realm file {}: field `{}`: {}", path.display(), error.field, error.problem)]
    Invalid { path: PathBuf, error: FieldError },
    /// Its `${NAME}` placeholders could not be replaced (Keycloak's import fails too).
    #[error("realm file {}: {cause}", path.display())]
    Placeholder {
        path: PathBuf,
        cause: super::placeholders::PlaceholderError,
    },
    /// The key material the file carries (its `KeyProvider` components or legacy keys).
    #[error("realm file {}: field `(realm keys)`: {cause}", path.display())]
    Keys { path: PathBuf, cause: KeyError },
}

impl RealmFileError {
    pub(crate) fn invalid(path: impl Into<PathBuf>, error: FieldError) -> RealmFileError {
        RealmFileError::Invalid {
            path: path.into(),
            error,
        }
    }
}

/// What is wrong, and where: `field` is the JSON path as `serde_path_to_error` writes it
/// (`clients[0].attributes.flag`, `roles.client.app[2].name`), or `(document)` for the file
/// as a whole. Displays as `<field>: <problem>`, what the admin API answers for a bad client.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct FieldError {
    pub field: String,
    pub problem: Problem,
}

/// The problem at one field of a realm file.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    /// The JSON does not parse, or a value has the wrong type (serde's message).
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    #[error(
        "expected a realm (a JSON object), found {found}; a realm file is one realm or an array of realms"
    )]
    NotARealm { found: &'static str },
    #[error("expected a realm (a JSON object) or an array of realms, found {found}")]
    NotRealms { found: &'static str },
    #[error("missing")]
    Missing,
    /// Jackson coerces scalars to a `String` value, but not an array or an object.
    #[error("expected a string value")]
    NotAString,
    /// `RealmManager#importRealm`: `ModelException`.
    #[error("Realm name cannot be empty")]
    EmptyRealmName,
    /// Two clients, roles or users with one internal `id` (`first` is the other's path).
    #[error(
        "duplicate {kind} id '{id}' (also {first}.id): Keycloak refuses the import, as two {kind}s cannot share an internal id"
    )]
    DuplicateId {
        kind: &'static str,
        id: String,
        first: String,
    },
    /// A user whose `id` an earlier user (of this file or another users file) has.
    #[error(
        "duplicate user id '{0}': Keycloak refuses the import, as two users cannot share an internal id"
    )]
    DuplicateUserId(String),
    #[error("duplicate realm role '{0}'")]
    DuplicateRealmRole(String),
    #[error("duplicate client '{0}'")]
    DuplicateClient(String),
    #[error("duplicate user '{0}'")]
    DuplicateUser(String),
    /// `RepresentationToModel#importRoles`: `roles.client` names a client the realm lacks.
    #[error("App doesn't exist in role definitions: {0}")]
    UnknownRolesClient(String),
    #[error("Unable to find composite realm role: {0}")]
    UnknownCompositeRealmRole(String),
    #[error("Unable to find client role {client}/{role}")]
    UnknownCompositeClientRole { client: String, role: String },
    /// `RepresentationToModel#createClientRoleMappings` (a user's `clientRoles`) and
    /// `DefaultExportImportManager#importRealm` (`clientScopeMappings`).
    #[error("Unable to find client role mappings for client: {0}")]
    UnknownMappingsClient(String),
    /// `ClientPolicyManager`: a realm's client profile named as one of Keycloak's global ones
    /// (Keycloak logs the `ModelException` and its cause, the `ClientPolicyException`).
    #[error(
        "Failed to update client profiles: Proposed profile name '{0}' is duplicated as a global profile"
    )]
    GlobalProfileName(String),
    /// `RepresentationToModel#createUser`.
    #[error("Unable to find client specified for service account link. Client: {0}")]
    UnknownServiceAccountClient(String),
    /// `DirImportProvider#importRealm`: `<name>-realm.json` holds another realm.
    #[error(
        "File name / realm name mismatch. {file_name}, contains realm {realm}. File name should be {realm}-realm.json"
    )]
    FileNameMismatch { file_name: String, realm: String },
    /// `ImportUtils#importUsersFromStream`: a users file of `realm` names `file_realm`.
    #[error(
        "Trying to import users into invalid realm. Realm name: {realm}, Expected realm name: {file_realm}"
    )]
    UsersRealmMismatch { realm: String, file_realm: String },
}

impl Problem {
    /// This problem at `field`.
    pub fn at(self, field: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            problem: self,
        }
    }
}
