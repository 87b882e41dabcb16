//! Reading a Keycloak realm export (`RealmRepresentation` JSON) and importing it into the
//! in-memory [`store`](crate::store), with Keycloak's defaults for missing fields.
//!
//! Only the fields the playground uses are read; every other field of a real export is
//! ignored, as the representation classes are a superset. Import follows
//! `RealmManager#importRealm`, `DefaultExportImportManager` and `RepresentationToModel`
//! (Keycloak 26.7.5): the default role; the built-in clients (`realm-management`, `account`,
//! `account-console`, `broker`, `security-admin-console`, `admin-cli`) and their roles when
//! the file lacks them; `offline_access` / `uma_authorization`; Keycloak's built-in client
//! scopes when the file has no `clientScopes` array; the deprecated `defaultRoles`; roles a
//! user names but nobody declared; users get only the roles listed for them. A file is one
//! realm or an array of realms ([`parse_realms`]); a directory is read as `--import-realm`
//! reads `data/import` ([`read_path`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::clock::now_millis;
use crate::store::{Client, ClientScope, ProtocolMapper, Realm, Role, User, new_id};

/// A realm file that cannot be used; always names the file and the field.
#[derive(Debug, thiserror::Error)]
pub enum RealmFileError {
    /// The cause is part of the message (and not a `source`), so it is printed once.
    #[error("cannot read realm file {}: {cause}", path.display())]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("realm file {}: field `{field}`: {message}", path.display())]
    Invalid {
        path: PathBuf,
        field: String,
        message: String,
    },
}

/// The subset of Keycloak's `RealmRepresentation` we read. Unknown fields are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RealmRep {
    pub id: Option<String>,
    pub realm: Option<String>,
    pub enabled: Option<bool>,
    pub access_token_lifespan: Option<i64>,
    pub sso_session_idle_timeout: Option<i64>,
    pub roles: Option<RolesRep>,
    pub default_role: Option<RoleRep>,
    pub clients: Option<Vec<ClientRep>>,
    pub users: Option<Vec<UserRep>>,
    pub client_scopes: Option<Vec<ClientScopeRep>>,
    pub default_default_client_scopes: Option<Vec<String>>,
    pub default_optional_client_scopes: Option<Vec<String>>,
    /// Deprecated before Keycloak 13: role names, converted into `default-roles-<realm>`.
    pub default_roles: Option<Vec<String>>,
    /// The realm's signature algorithm for tokens (`RS256` when absent).
    pub default_signature_algorithm: Option<String>,
    /// Legacy realm keys (exports before the `KeyProvider` components).
    pub private_key: Option<String>,
    pub public_key: Option<String>,
    pub certificate: Option<String>,
    /// `MultivaluedHashMap<providerType, ComponentExportRepresentation>`.
    pub components: Option<BTreeMap<String, Vec<ComponentRep>>>,
    /// Realm attributes (`CreateDefaultClientScopes` is read by `RealmManager`).
    pub attributes: Option<Map<String, Value>>,
    /// Not supported (warned about): role scope mappings of clients and client scopes.
    pub scope_mappings: Option<Vec<Value>>,
    pub client_scope_mappings: Option<Map<String, Value>>,
    /// Not supported (warned about when a user is in one).
    pub groups: Option<Vec<Value>>,
}

/// `ComponentExportRepresentation` (a key provider, for instance).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ComponentRep {
    pub id: Option<String>,
    pub name: Option<String>,
    pub provider_id: Option<String>,
    pub sub_type: Option<String>,
    /// `MultivaluedHashMap<String,String>`: each value a list of strings.
    #[serde(deserialize_with = "string_list_map")]
    pub config: BTreeMap<String, Vec<String>>,
}

/// The component type of key providers in `RealmRepresentation#components`.
pub const KEY_PROVIDER_TYPE: &str = "org.keycloak.keys.KeyProvider";

/// The key material of a realm file, for [`crate::keys`]: the legacy realm keys and the
/// `KeyProvider` components, each with its JSON path. Never printed (it holds private keys).
#[derive(Default)]
pub struct KeySource {
    pub(crate) legacy_private_key: Option<String>,
    pub(crate) legacy_certificate: Option<String>,
    pub(crate) providers: Vec<(String, ComponentRep)>,
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySource")
            .field("legacy_private_key", &self.legacy_private_key.is_some())
            .field("providers", &self.providers.len())
            .finish()
    }
}

impl KeySource {
    /// Takes the key fields out of `rep` (they are used here only).
    pub(crate) fn from_rep(rep: &mut RealmRep) -> KeySource {
        let providers = rep
            .components
            .as_mut()
            .and_then(|c| c.remove(KEY_PROVIDER_TYPE))
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, c)| (format!("components.{KEY_PROVIDER_TYPE}[{i}]"), c))
            .collect();
        rep.public_key = None;
        KeySource {
            legacy_private_key: rep.private_key.take().filter(|k| !k.trim().is_empty()),
            legacy_certificate: rep.certificate.take().filter(|c| !c.trim().is_empty()),
            providers,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RolesRep {
    pub realm: Option<Vec<RoleRep>>,
    pub client: Option<BTreeMap<String, Vec<RoleRep>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RoleRep {
    pub id: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub composite: Option<bool>,
    pub composites: Option<CompositesRep>,
    pub attributes: Option<Map<String, Value>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CompositesRep {
    pub realm: Option<Vec<String>>,
    pub client: Option<BTreeMap<String, Vec<String>>>,
}

/// Keycloak's `ClientRepresentation` subset (also the body of `POST /admin/.../clients`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClientRep {
    pub id: Option<String>,
    pub client_id: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub client_authenticator_type: Option<String>,
    pub secret: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub web_origins: Option<Vec<String>>,
    pub not_before: Option<i64>,
    pub bearer_only: Option<bool>,
    pub consent_required: Option<bool>,
    pub standard_flow_enabled: Option<bool>,
    pub implicit_flow_enabled: Option<bool>,
    pub direct_access_grants_enabled: Option<bool>,
    pub service_accounts_enabled: Option<bool>,
    pub public_client: Option<bool>,
    pub frontchannel_logout: Option<bool>,
    pub protocol: Option<String>,
    /// `Map<String,String>` in Keycloak; Jackson coerces JSON scalars to strings, so do we.
    pub attributes: Option<Map<String, Value>>,
    pub full_scope_allowed: Option<bool>,
    pub node_re_registration_timeout: Option<i64>,
    pub default_client_scopes: Option<Vec<String>>,
    pub optional_client_scopes: Option<Vec<String>>,
    pub protocol_mappers: Option<Vec<MapperRep>>,
    /// Deprecated before Keycloak 13: client role names added to the realm's default role.
    pub default_roles: Option<Vec<String>>,
    /// Not supported (warned about): Authorization Services (UMA, policies, permissions).
    pub authorization_services_enabled: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UserRep {
    pub id: Option<String>,
    pub username: Option<String>,
    pub enabled: Option<bool>,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub created_timestamp: Option<i64>,
    /// `StringListMapDeserializer`: a scalar value is read as a one-element list.
    #[serde(deserialize_with = "string_list_map")]
    pub attributes: BTreeMap<String, Vec<String>>,
    pub realm_roles: Option<Vec<String>>,
    pub client_roles: Option<BTreeMap<String, Vec<String>>>,
    pub service_account_client_id: Option<String>,
    /// Not supported: group memberships (warned about; their roles are not granted).
    pub groups: Option<Vec<String>>,
    /// Not supported: passwords and other credentials (warned about, per realm).
    pub credentials: Option<Vec<Value>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClientScopeRep {
    pub id: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub protocol: Option<String>,
    pub attributes: Option<Map<String, Value>>,
    pub protocol_mappers: Option<Vec<MapperRep>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MapperRep {
    pub id: Option<String>,
    pub name: Option<String>,
    pub protocol: Option<String>,
    pub protocol_mapper: Option<String>,
    pub config: Option<Map<String, Value>>,
}

/// Keycloak's `StringListMapDeserializer` (user attributes, component config): each value
/// is an array of values or one value; each value is read as text (`JsonNode#asText`:
/// numbers and booleans as written, an object or array as ""), and a JSON `null` is
/// dropped (Keycloak keeps a `null` entry, which no mapper emits).
fn string_list_map<'de, D>(de: D) -> Result<BTreeMap<String, Vec<String>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    fn text(v: Value) -> Option<String> {
        match v {
            Value::Null => None,
            Value::String(s) => Some(s),
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) => Some(n.to_string()),
            Value::Array(_) | Value::Object(_) => Some(String::new()),
        }
    }
    let map = Option::<Map<String, Value>>::deserialize(de)?.unwrap_or_default();
    Ok(map
        .into_iter()
        .map(|(k, v)| {
            let values = match v {
                Value::Array(items) => items.into_iter().filter_map(text).collect(),
                other => text(other).into_iter().collect(),
            };
            (k, values)
        })
        .collect())
}

/// Parses a realm file the way `ImportUtils#getRealmsFromStream` reads it: one realm (a JSON
/// object) or an array of realms (what `kc.sh export --file` writes for several realms).
/// Anything else is refused, naming the JSON path (`[2]` for the third element).
pub fn parse_realms(json: &str, source: &Path) -> Result<Vec<RealmRep>, RealmFileError> {
    // Jackson reads a UTF-8 byte-order mark as such; serde_json does not.
    let json = json.strip_prefix('\u{feff}').unwrap_or(json);
    let invalid = |field: &str, message: String| RealmFileError::Invalid {
        path: source.to_owned(),
        field: field.to_owned(),
        message,
    };
    match json
        .trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n'])
        .chars()
        .next()
    {
        Some('{') => Ok(vec![parse(json, source)?]),
        Some('[') => {
            let items: Vec<Value> =
                serde_json::from_str(json).map_err(|e| invalid("(document)", e.to_string()))?;
            let mut realms = Vec::new();
            for (i, item) in items.into_iter().enumerate() {
                if !item.is_object() {
                    return Err(invalid(
                        &format!("[{i}]"),
                        format!(
                            "expected a realm (a JSON object), found {}; a realm file is one realm or an array of realms",
                            json_kind(&item)
                        ),
                    ));
                }
                let rep = serde_path_to_error::deserialize(item).map_err(|e| {
                    let inner = e.path().to_string();
                    invalid(&format!("[{i}].{inner}"), e.into_inner().to_string())
                })?;
                realms.push(rep);
            }
            Ok(realms)
        }
        _ => {
            // Not JSON at all, or a scalar: let the parser say which.
            let value: Value =
                serde_json::from_str(json).map_err(|e| invalid("(document)", e.to_string()))?;
            Err(invalid(
                "(document)",
                format!(
                    "expected a realm (a JSON object) or an array of realms, found {}",
                    json_kind(&value)
                ),
            ))
        }
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Parses realm JSON; a type error names the JSON path of the offending field.
pub fn parse(json: &str, source: &Path) -> Result<RealmRep, RealmFileError> {
    let de = &mut serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        RealmFileError::Invalid {
            path: source.to_owned(),
            field: if field == "." {
                "(document)".into()
            } else {
                field
            },
            message: e.into_inner().to_string(),
        }
    })
}

/// Jackson's scalar-to-String coercion for `Map<String,String>` fields.
fn string_map(
    map: Option<Map<String, Value>>,
    field: &str,
) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (k, v) in map.unwrap_or_default() {
        let s = match v {
            Value::String(s) => s,
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            Value::Null => continue,
            _ => return Err(format!("{field}.{k}: expected a string value")),
        };
        out.push((k, s));
    }
    Ok(out)
}

pub(crate) fn mapper_from_rep(m: MapperRep, field: &str) -> Result<ProtocolMapper, String> {
    Ok(ProtocolMapper {
        id: m.id.unwrap_or_else(new_id),
        name: m.name.ok_or_else(|| format!("{field}.name: missing"))?,
        protocol: m.protocol.unwrap_or_else(|| "openid-connect".into()),
        mapper_type: m
            .protocol_mapper
            .ok_or_else(|| format!("{field}.protocolMapper: missing"))?,
        config: string_map(m.config, &format!("{field}.config"))?
            .into_iter()
            .collect(),
    })
}

/// Builds a client from its representation with Keycloak's defaults
/// (`RepresentationToModel#createClient` / `updateClientProperties`). Roles and the
/// service account are not handled here.
pub(crate) fn client_from_rep(c: ClientRep, field: &str) -> Result<Client, String> {
    let client_id = c
        .client_id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("{field}.clientId: missing"))?;
    let attributes = string_map(c.attributes, &format!("{field}.attributes"))?;
    let mut mappers = Vec::new();
    for (i, m) in c
        .protocol_mappers
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        mappers.push(mapper_from_rep(
            m,
            &format!("{field}.protocolMappers[{i}]"),
        )?);
    }
    let consent_required = c.consent_required.unwrap_or(false);
    // KeycloakModelUtils.getDefaultClientAuthenticatorType() = "client-secret".
    let client_authenticator_type = c
        .client_authenticator_type
        .unwrap_or_else(|| "client-secret".into());
    let public_client = c.public_client.unwrap_or(false);
    let (authenticator, warnings) =
        crate::client_auth::configure(&client_id, &client_authenticator_type, |key| {
            attributes
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        });
    // A public client's type is ignored (it only names itself), so is its configuration.
    if !public_client {
        for w in warnings {
            tracing::warn!("{w}");
        }
    }
    Ok(Client {
        id: c.id.unwrap_or_else(new_id),
        client_id,
        name: c.name,
        description: c.description,
        // ClientModel default: enabled unless the representation says otherwise.
        enabled: c.enabled.unwrap_or(true),
        client_authenticator_type,
        authenticator,
        secret: c.secret,
        redirect_uris: c.redirect_uris.unwrap_or_default(),
        web_origins: c.web_origins.unwrap_or_default(),
        not_before: c.not_before.unwrap_or(0),
        bearer_only: c.bearer_only.unwrap_or(false),
        consent_required,
        // RepresentationToModel: standard flow defaults to on.
        standard_flow_enabled: c.standard_flow_enabled.unwrap_or(true),
        implicit_flow_enabled: c.implicit_flow_enabled.unwrap_or(false),
        direct_access_grants_enabled: c.direct_access_grants_enabled.unwrap_or(false),
        service_accounts_enabled: c.service_accounts_enabled.unwrap_or(false),
        public_client,
        frontchannel_logout: c.frontchannel_logout.unwrap_or(false),
        protocol: c.protocol.unwrap_or_else(|| "openid-connect".into()),
        attributes,
        // RepresentationToModel: full scope unless consent is required.
        full_scope_allowed: c.full_scope_allowed.unwrap_or(!consent_required),
        node_re_registration_timeout: c.node_re_registration_timeout.unwrap_or(-1),
        default_scopes: c.default_client_scopes.unwrap_or_default(),
        optional_scopes: c.optional_client_scopes.unwrap_or_default(),
        roles: Vec::new(),
        mappers,
    })
}

fn role_from_rep(
    r: &RoleRep,
    container: &str,
    client_role: bool,
    field: &str,
) -> Result<Role, String> {
    let name = r
        .name
        .clone()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("{field}.name: missing"))?;
    let mut role = Role::new(&name, container, client_role);
    if let Some(id) = &r.id {
        role.id = id.clone();
    }
    role.description = r.description.clone();
    role.attributes = r.attributes.clone().unwrap_or_default();
    Ok(role)
}

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

fn at(path: &Path) -> impl Fn(ImportError) -> RealmFileError + '_ {
    move |(field, message)| RealmFileError::Invalid {
        path: path.to_owned(),
        field,
        message,
    }
}

/// Imports one realm with the users of its `<realm>-users-N.json` files (a directory
/// export), as `DirImportProvider` does: the realm file's users, then each users file's.
pub fn import_realm(input: RealmInput) -> Result<(Realm, KeySource), RealmFileError> {
    let (mut realm, keys) = import_inner(input.rep).map_err(at(&input.file))?;
    for (file, users) in input.user_files {
        for (i, u) in users.into_iter().enumerate() {
            import_user(&mut realm, u, &format!("users[{i}]")).map_err(at(&file))?;
        }
    }
    setup_service_accounts(&mut realm);
    Ok((realm, keys))
}

/// One realm to import: its representation, the file it came from and, for a directory
/// export, the users files that belong to it.
#[derive(Debug)]
pub struct RealmInput {
    pub rep: RealmRep,
    pub file: PathBuf,
    pub user_files: Vec<(PathBuf, Vec<UserRep>)>,
}

/// A `<realm>-users-N.json` file of `kc.sh export --dir` (`ImportUtils#importUsersFromStream`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct UsersFileRep {
    realm: Option<String>,
    users: Option<Vec<UserRep>>,
    federated_users: Option<Vec<Value>>,
}

fn read_text(path: &Path) -> Result<String, RealmFileError> {
    std::fs::read_to_string(path).map_err(|cause| RealmFileError::Read {
        path: path.to_owned(),
        cause,
    })
}

/// `<realm>-users-<N>.json` or `<realm>-federated-users-<N>.json`: `(realm, N, federated)`.
fn users_file_name(name: &str) -> Option<(&str, u64, bool)> {
    let stem = name.strip_suffix(".json")?;
    let (rest, n) = stem.rsplit_once('-')?;
    let n: u64 = n
        .parse()
        .ok()
        .filter(|_| n.bytes().all(|b| b.is_ascii_digit()))?;
    if let Some(realm) = rest.strip_suffix("-federated-users") {
        return Some((realm, n, true));
    }
    rest.strip_suffix("-users").map(|realm| (realm, n, false))
}

/// Reads what `--realm PATH` names: a realm file (one realm or an array of realms), or a
/// directory read as Keycloak's `--import-realm` reads `data/import`: each regular `*.json`
/// file directly in it (subdirectories are not read), where `<realm>-realm.json` comes with
/// its `<realm>-users-N.json` files (`DirImportProvider`), and any other file is a realm
/// file (`SingleFileImportProvider`).
pub fn read_path(path: &Path) -> Result<Vec<RealmInput>, RealmFileError> {
    if !path.is_dir() {
        let text = read_text(path)?;
        return Ok(parse_realms(&text, path)?
            .into_iter()
            .map(|rep| RealmInput {
                rep,
                file: path.to_owned(),
                user_files: Vec::new(),
            })
            .collect());
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|cause| RealmFileError::Read {
            path: path.to_owned(),
            cause,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let name_of = |p: &Path| {
        p.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_owned()
    };
    let realm_names: Vec<String> = files
        .iter()
        .filter_map(|p| name_of(p).strip_suffix("-realm.json").map(str::to_owned))
        .collect();
    let mut inputs = Vec::new();
    let mut users: Vec<(String, u64, PathBuf)> = Vec::new();
    for file in &files {
        let name = name_of(file);
        if let Some((realm, n, federated)) = users_file_name(&name)
            && realm_names.iter().any(|r| r == realm)
        {
            if federated {
                tracing::warn!(
                    "{}: federated users (user storage providers) are not supported by this provider; file skipped",
                    file.display()
                );
            } else {
                users.push((realm.to_owned(), n, file.clone()));
            }
            continue;
        }
        let text = read_text(file)?;
        let reps = parse_realms(&text, file)?;
        if let Some(expected) = name.strip_suffix("-realm.json") {
            // DirImportProvider#importRealm.
            if let [rep] = reps.as_slice()
                && rep.realm.as_deref() != Some(expected)
            {
                return Err(RealmFileError::Invalid {
                    path: file.clone(),
                    field: "realm".into(),
                    message: format!(
                        "File name / realm name mismatch. {name}, contains realm {}. File name should be {}-realm.json",
                        rep.realm.as_deref().unwrap_or(""),
                        rep.realm.as_deref().unwrap_or("")
                    ),
                });
            }
        }
        inputs.extend(reps.into_iter().map(|rep| RealmInput {
            rep,
            file: file.clone(),
            user_files: Vec::new(),
        }));
    }
    if inputs.is_empty() {
        tracing::warn!(
            "{}: no realm files (*.json) directly in this directory; nothing imported from it",
            path.display()
        );
    }
    users.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    for (realm, _, file) in users {
        let text = read_text(&file)?;
        let de = &mut serde_json::Deserializer::from_str(&text);
        let rep: UsersFileRep =
            serde_path_to_error::deserialize(de).map_err(|e| RealmFileError::Invalid {
                path: file.clone(),
                field: e.path().to_string(),
                message: e.into_inner().to_string(),
            })?;
        // ImportUtils#importUsersFromStream.
        if let Some(other) = rep.realm.as_deref().filter(|r| *r != realm) {
            return Err(RealmFileError::Invalid {
                path: file.clone(),
                field: "realm".into(),
                message: format!(
                    "Trying to import users into invalid realm. Realm name: {realm}, Expected realm name: {other}"
                ),
            });
        }
        if rep.federated_users.is_some_and(|f| !f.is_empty()) {
            tracing::warn!(
                "{}: federatedUsers are not supported by this provider; skipped",
                file.display()
            );
        }
        let target = inputs
            .iter_mut()
            .find(|i| i.rep.realm.as_deref() == Some(realm.as_str()))
            .expect("a users file is only taken for a <realm>-realm.json of the directory");
        target
            .user_files
            .push((file, rep.users.unwrap_or_default()));
    }
    Ok(inputs)
}

type ImportError = (String, String);

fn split(msg: String) -> ImportError {
    // "<field>: <message>"
    match msg.split_once(": ") {
        Some((f, m)) => (f.to_owned(), m.to_owned()),
        None => ("(realm)".to_owned(), msg),
    }
}

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
const OFFLINE_ACCESS: &str = "offline_access";
fn scope_from_rep(s: ClientScopeRep, field: &str) -> Result<ClientScope, ImportError> {
    let scope_name = s
        .name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| (format!("{field}.name"), "missing".to_owned()))?;
    let mut mappers = Vec::new();
    for (j, m) in s
        .protocol_mappers
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        mappers.push(mapper_from_rep(m, &format!("{field}.protocolMappers[{j}]")).map_err(split)?);
    }
    Ok(ClientScope {
        id: s.id.unwrap_or_else(new_id),
        name: scope_name,
        description: s.description,
        protocol: s.protocol.unwrap_or_else(|| "openid-connect".into()),
        attributes: string_map(s.attributes, &format!("{field}.attributes"))
            .map_err(split)?
            .into_iter()
            .collect(),
        mappers,
    })
}

fn builtin_scopes() -> Vec<ClientScope> {
    let reps: Vec<ClientScopeRep> =
        serde_json::from_str(BUILTIN_CLIENT_SCOPES).expect("builtin-client-scopes.json parses");
    reps.into_iter()
        .map(|s| scope_from_rep(s, "(built-in client scope)").expect("built-in scopes are valid"))
        .collect()
}

/// Two entities of one kind with the same internal `id` never load in Keycloak (the
/// primary key is violated when the import is flushed, and the whole import is rolled
/// back). Checked before anything is built, so the message names both JSON paths.
fn check_unique_ids(rep: &RealmRep) -> Result<(), ImportError> {
    fn check<'a>(
        kind: &str,
        items: impl Iterator<Item = (String, Option<&'a String>)>,
    ) -> Result<(), ImportError> {
        let mut seen: BTreeMap<&str, String> = BTreeMap::new();
        for (field, id) in items {
            let Some(id) = id else { continue };
            if let Some(first) = seen.get(id.as_str()) {
                return Err((
                    format!("{field}.id"),
                    format!(
                        "duplicate {kind} id '{id}' (also {first}.id): Keycloak refuses the import, as two {kind}s cannot share an internal id"
                    ),
                ));
            }
            seen.insert(id, field);
        }
        Ok(())
    }
    let clients = rep.clients.as_deref().unwrap_or_default();
    check(
        "client",
        clients
            .iter()
            .enumerate()
            .map(|(i, c)| (format!("clients[{i}]"), c.id.as_ref())),
    )?;
    let roles = rep.roles.as_ref();
    let realm_roles = roles
        .and_then(|r| r.realm.as_deref())
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, r)| (format!("roles.realm[{i}]"), r.id.as_ref()));
    let client_roles = roles
        .and_then(|r| r.client.as_ref())
        .into_iter()
        .flatten()
        .flat_map(|(cid, list)| {
            list.iter()
                .enumerate()
                .map(move |(i, r)| (format!("roles.client.{cid}[{i}]"), r.id.as_ref()))
        });
    let default_role = rep
        .default_role
        .iter()
        .map(|r| ("defaultRole".to_owned(), r.id.as_ref()));
    // The default role is also listed under roles.realm with its id: same role, not a clash.
    let default_id = rep.default_role.as_ref().and_then(|r| r.id.as_ref());
    check(
        "role",
        default_role.chain(
            realm_roles
                .filter(|(_, id)| id.is_none() || *id != default_id)
                .chain(client_roles),
        ),
    )?;
    check(
        "user",
        rep.users
            .as_deref()
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(i, u)| (format!("users[{i}]"), u.id.as_ref())),
    )
}

/// Warns, naming the realm, the client and the field, about what the file uses that this
/// provider does not support (README: "Not supported"); the realm is imported all the same.
fn warn_unsupported(rep: &RealmRep, realm: &str) {
    let name_of = |v: &Value| {
        ["client", "clientScope", "clientTemplate"]
            .iter()
            .find_map(|k| v.get(*k).and_then(Value::as_str))
            .unwrap_or("?")
            .to_owned()
    };
    // The mappings every export carries (DefaultClientScopes: offline_access's role;
    // RealmManager#setupAccountManagement: account-console's account roles) change nothing
    // here: offline_access is never in a client_credentials token, account-console issues none.
    let builtin = |v: &Value| {
        v.get("clientScope").and_then(Value::as_str) == Some(OFFLINE_ACCESS)
            || v.get("client").and_then(Value::as_str) == Some("account-console")
    };
    for (i, m) in rep.scope_mappings.iter().flatten().enumerate() {
        if builtin(m) {
            continue;
        }
        tracing::warn!(
            "realm '{realm}': scopeMappings[{i}] (client or client scope '{}'): role scope mappings are not supported; a client with fullScopeAllowed=false gets only its own roles in tokens",
            name_of(m)
        );
    }
    for (i, c) in rep.clients.iter().flatten().enumerate() {
        if c.authorization_services_enabled == Some(true) {
            tracing::warn!(
                "realm '{realm}': clients[{i}].authorizationServicesEnabled (client '{}'): Authorization Services are not supported; its settings are ignored",
                c.client_id.as_deref().unwrap_or("?")
            );
        }
    }
    let with_credentials = rep
        .users
        .iter()
        .flatten()
        .filter(|u| u.credentials.as_ref().is_some_and(|c| !c.is_empty()))
        .count();
    if with_credentials > 0 {
        tracing::warn!(
            "realm '{realm}': users[].credentials ({with_credentials} users): user passwords are not supported; only the master realm's bootstrap admin can use the password grant"
        );
    }
    for (owner, list) in rep.client_scope_mappings.iter().flatten() {
        for m in list
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| !builtin(m))
        {
            tracing::warn!(
                "realm '{realm}': clientScopeMappings.{owner} (client or client scope '{}'): role scope mappings are not supported",
                name_of(m)
            );
        }
    }
}

/// The clients `RealmManager#importRealm` creates when the file lacks them
/// (`setupRealmAdminManagement`, `setupAccountManagement`, `setupBrokerService`,
/// `setupAdminConsole`, `setupAdminCli`, `setupImpersonationService`), with their roles, as
/// `GET /admin/realms/{realm}/clients` shows them in Keycloak 26.7.5 after an import;
/// `<realm>` stands for the realm name.
const BUILTIN_CLIENTS: &str = include_str!("builtin-clients.json");

/// One entry of `builtin-clients.json`: the client, its roles (`${role_<name>}`), the
/// composites among them and the ones in the realm's default role.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BuiltinClient {
    #[serde(flatten)]
    client: ClientRep,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    composites: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    default_roles: Vec<String>,
}

/// Adds the built-in clients the file lacks. `realm-management` is not made in `master`
/// (it has `<realm>-realm` clients instead), and `account-console` only with `account`.
fn add_builtin_clients(
    realm: &mut Realm,
    file_client_ids: &[String],
    default_role: &str,
) -> Result<(), ImportError> {
    let has = |cid: &str| file_client_ids.iter().any(|c| c == cid);
    let builtins = builtin_clients(&realm.name);
    let (defaults, optional) = realm.default_scopes_for("openid-connect");
    for b in builtins {
        let cid = b.client.client_id.clone().unwrap_or_default();
        let skip = has(&cid)
            || (cid == "realm-management" && realm.name == "master")
            || (cid == "account-console" && has("account"));
        if skip {
            continue;
        }
        let mut client = client_from_rep(b.client, &cid).map_err(split)?;
        client.default_scopes = defaults.clone();
        client.optional_scopes = optional.clone();
        for r in &b.roles {
            let mut role = Role::new(r, &client.id, true);
            role.description = Some(format!("${{role_{r}}}"));
            client.roles.push(role);
        }
        realm.clients.push(client);
        for (parent, children) in &b.composites {
            for child in children {
                add_client_composite(realm, &cid, parent, child);
            }
        }
        // ClientModel#addDefaultRole (AccountRoles.DEFAULT).
        for r in &b.default_roles {
            if let Some(id) = client_role_id(realm, &cid, r) {
                add_composite(realm, default_role, &id);
            }
        }
    }
    Ok(())
}

fn builtin_clients(realm_name: &str) -> Vec<BuiltinClient> {
    serde_json::from_str(&BUILTIN_CLIENTS.replace("<realm>", realm_name))
        .expect("builtin-clients.json parses")
}

/// `RealmManager#checkRealmAdminManagementRoles`, `#addQueryCompositeRoles` and
/// `ImpersonationConstants`: whatever `realm-management` the realm ends up with (Keycloak's
/// or the file's) has every admin role (`AdminRoles.ALL_REALM_ROLES`), all inside
/// `realm-admin`.
fn complete_realm_management(realm: &mut Realm) {
    let Some(idx) = realm
        .clients
        .iter()
        .position(|c| c.client_id == "realm-management")
    else {
        return;
    };
    let Some(template) = builtin_clients(&realm.name)
        .into_iter()
        .find(|b| b.client.client_id.as_deref() == Some("realm-management"))
    else {
        return;
    };
    let uuid = realm.clients[idx].id.clone();
    let client = &mut realm.clients[idx];
    for r in &template.roles {
        if !client.roles.iter().any(|x| &x.name == r) {
            let mut role = Role::new(r, &uuid, true);
            role.description = Some(format!("${{role_{r}}}"));
            client.roles.push(role);
        }
    }
    for r in template.roles.iter().filter(|r| *r != "realm-admin") {
        add_client_composite(realm, "realm-management", "realm-admin", r);
    }
    for (parent, children) in &template.composites {
        for child in children {
            add_client_composite(realm, "realm-management", parent, child);
        }
    }
}

/// `RealmManager#createMasterAdminManagement` and `ImpersonationConstants`: for each realm
/// (`master` included) the `master` realm has a bearer-only `<realm>-realm` client holding
/// every admin role of that realm, each inside master's `admin` role.
pub fn add_master_admin_client(master: &mut Realm, realm_name: &str) {
    let cid = format!("{realm_name}-realm");
    if master.client_by_client_id(&cid).is_some() {
        return;
    }
    let Some(template) = builtin_clients(realm_name)
        .into_iter()
        .find(|b| b.client.client_id.as_deref() == Some("realm-management"))
    else {
        return;
    };
    let rep = ClientRep {
        client_id: Some(cid.clone()),
        // "No localized name for now".
        name: Some(format!("{realm_name} Realm")),
        bearer_only: Some(true),
        full_scope_allowed: Some(false),
        attributes: Some(
            [("realm_client".to_owned(), Value::from("true"))]
                .into_iter()
                .collect(),
        ),
        ..Default::default()
    };
    let Ok(mut client) = client_from_rep(rep, &cid) else {
        return;
    };
    // master-realm exists when master's scopes are made (and gets them); the clients of
    // later realms are made after, with none (as GET /admin/realms/master/clients shows).
    if realm_name == master.name {
        (client.default_scopes, client.optional_scopes) =
            master.default_scopes_for("openid-connect");
    } else {
        (client.default_scopes, client.optional_scopes) = (Vec::new(), Vec::new());
    }
    for r in template.roles.iter().filter(|r| *r != "realm-admin") {
        let mut role = Role::new(r, &client.id, true);
        role.description = Some(format!("${{role_{r}}}"));
        client.roles.push(role);
    }
    let ids: Vec<String> = client.roles.iter().map(|r| r.id.clone()).collect();
    master.clients.push(client);
    for (parent, children) in &template.composites {
        for child in children {
            add_client_composite(master, &cid, parent, child);
        }
    }
    for id in ids {
        add_composite(master, "admin", &id);
    }
}

fn client_role_id(realm: &Realm, client_id: &str, role: &str) -> Option<String> {
    realm
        .client_by_client_id(client_id)?
        .roles
        .iter()
        .find(|r| r.name == role)
        .map(|r| r.id.clone())
}

fn add_client_composite(realm: &mut Realm, client_id: &str, parent: &str, child: &str) {
    let Some(child_id) = client_role_id(realm, client_id, child) else {
        return;
    };
    if let Some(role) = realm
        .clients
        .iter_mut()
        .find(|c| c.client_id == client_id)
        .and_then(|c| c.roles.iter_mut().find(|r| r.name == parent))
        && !role.composites.contains(&child_id)
    {
        role.composites.push(child_id);
    }
}

/// `RepresentationToModel#createClientRoleMappings` / `DefaultExportImportManager
/// #getOrAddClientRole`: a client role named but not declared is created.
fn get_or_add_client_role(realm: &mut Realm, client_uuid: &str, name: &str) -> String {
    let client = realm
        .clients
        .iter_mut()
        .find(|c| c.id == client_uuid)
        .expect("the caller found the client");
    if let Some(r) = client.roles.iter().find(|r| r.name == name) {
        return r.id.clone();
    }
    let role = Role::new(name, client_uuid, true);
    let id = role.id.clone();
    client.roles.push(role);
    id
}

/// `DefaultExportImportManager#getOrAddRealmRole`.
fn get_or_add_realm_role(realm: &mut Realm, name: &str) -> String {
    if let Some(r) = realm.role_by_name(name) {
        return r.id.clone();
    }
    let role = Role::new(name, &realm.id, false);
    let id = role.id.clone();
    realm.roles.push(role);
    id
}

fn import_inner(mut rep: RealmRep) -> Result<(Realm, KeySource), ImportError> {
    let name = rep
        .realm
        .clone()
        .filter(|s| !s.trim().is_empty())
        // RealmManager: ModelException("Realm name cannot be empty").
        .ok_or_else(|| ("realm".to_owned(), "Realm name cannot be empty".to_owned()))?;
    check_unique_ids(&rep)?;
    warn_unsupported(&rep, &name);
    let keys = KeySource::from_rep(&mut rep);
    let realm_id = rep.id.clone().unwrap_or_else(new_id);
    let mut realm = Realm {
        id: realm_id.clone(),
        name: name.clone(),
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
    };

    // 1. Default role first (RealmManager#importRealm: `defaultRole` or "default-roles-<realm>").
    let default_name = match &rep.default_role {
        Some(r) => r
            .name
            .clone()
            .ok_or_else(|| ("defaultRole.name".to_owned(), "missing".to_owned()))?,
        None => format!("default-roles-{}", name.to_lowercase()),
    };
    let mut default_role = Role::new(&default_name, &realm_id, false);
    default_role.description = Some("${role_default-roles}".into());
    if let Some(id) = rep.default_role.as_ref().and_then(|r| r.id.as_ref()) {
        default_role.id = id.clone();
    }
    realm.default_role_id = default_role.id.clone();
    realm.roles.push(default_role);

    // RealmManager#importRealm: the built-in scopes are created when the file has no
    // `clientScopes` (or sets the realm attribute CreateDefaultClientScopes=true), and
    // setupOfflineTokens runs unless the file has both the offline_access role and scope.
    let create_default_scopes = rep.client_scopes.is_none()
        || rep
            .attributes
            .as_ref()
            .and_then(|a| a.get("CreateDefaultClientScopes"))
            .is_some_and(|v| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true")));
    let file_has_offline_scope = rep
        .client_scopes
        .iter()
        .flatten()
        .any(|s| s.name.as_deref() == Some(OFFLINE_ACCESS));
    let roles = rep.roles.take().unwrap_or_default();
    let realm_roles = roles.realm.unwrap_or_default();
    let file_has_offline_role = realm_roles
        .iter()
        .any(|r| r.name.as_deref() == Some(OFFLINE_ACCESS));
    let setup_offline_tokens = !file_has_offline_role || !file_has_offline_scope;

    // 2. Realm roles (RepresentationToModel#importRoles skips the default role).
    for (i, r) in realm_roles.iter().enumerate() {
        let field = format!("roles.realm[{i}]");
        let role = role_from_rep(r, &realm_id, false, &field).map_err(split)?;
        if role.name == default_name {
            if let Some(d) = realm.roles.iter_mut().find(|x| x.name == default_name) {
                d.description = role.description.or(d.description.take());
            }
            continue;
        }
        // setupOfflineTokens drops the file's offline_access role and makes its own.
        if setup_offline_tokens && role.name == OFFLINE_ACCESS {
            continue;
        }
        if realm.role_by_name(&role.name).is_some() {
            return Err((
                format!("{field}.name"),
                format!("duplicate realm role '{}'", role.name),
            ));
        }
        realm.roles.push(role);
    }
    if setup_offline_tokens {
        // KeycloakModelUtils#setupOfflineRole: in the default role.
        let mut role = Role::new(OFFLINE_ACCESS, &realm_id, false);
        role.description = Some("${role_offline-access}".into());
        let id = role.id.clone();
        realm.roles.push(role);
        add_composite(&mut realm, &default_name, &id);
    }

    // 3. Client scopes: Keycloak's own first (see above), then the file's.
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
    let file_scope = |list: Vec<String>, field: &str| -> Vec<String> {
        list.into_iter()
            .filter(|s| {
                let ok = file_scopes.contains(s);
                if !ok {
                    tracing::warn!(
                        "{field}: Referenced client scope '{s}' doesn't exist. Ignoring"
                    );
                }
                ok
            })
            .collect()
    };
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
    let known_scope = |realm: &Realm, list: Vec<String>, field: &str| -> Vec<String> {
        list.into_iter()
            .filter(|s| {
                let ok = realm.scope_by_name(s).is_some();
                if !ok {
                    // RepresentationToModel#addClientScopeToClient.
                    tracing::warn!(
                        "{field}: Referenced client scope '{s}' doesn't exist. Ignoring"
                    );
                }
                ok
            })
            .collect()
    };

    // 4. The built-in clients the file lacks (RealmManager creates them before the file's).
    let file_clients = rep.clients.take().unwrap_or_default();
    let file_client_ids: Vec<String> = file_clients
        .iter()
        .filter_map(|c| c.client_id.clone())
        .collect();
    add_builtin_clients(&mut realm, &file_client_ids, &default_name)?;

    // 5. The file's clients, then their roles (roles.client.<clientId>).
    let mut deprecated_client_defaults: Vec<(String, Vec<String>)> = Vec::new();
    for (i, mut c) in file_clients.into_iter().enumerate() {
        let field = format!("clients[{i}]");
        let defaults_given =
            c.default_client_scopes.is_some() || c.optional_client_scopes.is_some();
        let old_defaults = c.default_roles.take();
        let mut client = client_from_rep(c, &field).map_err(split)?;
        import_defaults(&mut client);
        if realm.client_by_client_id(&client.client_id).is_some() {
            return Err((
                format!("{field}.clientId"),
                format!("duplicate client '{}'", client.client_id),
            ));
        }
        if defaults_given {
            // RepresentationToModel#updateClientScopes: the lists are authoritative.
            client.default_scopes =
                known_scope(&realm, std::mem::take(&mut client.default_scopes), &field);
            client.optional_scopes =
                known_scope(&realm, std::mem::take(&mut client.optional_scopes), &field);
        } else {
            // AbstractLoginProtocolFactory#addDefaultClientScopes: the realm's defaults
            // of the client's protocol.
            (client.default_scopes, client.optional_scopes) =
                realm.default_scopes_for(&client.protocol);
        }
        if let Some(names) = old_defaults {
            deprecated_client_defaults.push((client.id.clone(), names));
        }
        realm.clients.push(client);
    }
    let client_roles = roles.client.unwrap_or_default();
    for (client_id, list) in &client_roles {
        let Some(idx) = realm.clients.iter().position(|c| &c.client_id == client_id) else {
            // RepresentationToModel#importRoles.
            return Err((
                format!("roles.client.{client_id}"),
                format!("App doesn't exist in role definitions: {client_id}"),
            ));
        };
        let uuid = realm.clients[idx].id.clone();
        for (i, r) in list.iter().enumerate() {
            let role = role_from_rep(r, &uuid, true, &format!("roles.client.{client_id}[{i}]"))
                .map_err(split)?;
            let roles = &mut realm.clients[idx].roles;
            match roles.iter_mut().find(|x| x.name == role.name) {
                // A built-in client's role listed in the file (every full export lists
                // them): the file's description and attributes, Keycloak's role.
                Some(existing) => {
                    existing.description = role.description.or(existing.description.take());
                    existing.attributes = role.attributes;
                }
                None => roles.push(role),
            }
        }
    }

    // 6. What RealmManager#importRealm adds when the file lacks it: uma_authorization
    //    (setupAuthorizationServices) in the default role; every admin role.
    if realm.role_by_name("uma_authorization").is_none() {
        let mut role = Role::new("uma_authorization", &realm_id, false);
        role.description = Some("${role_uma_authorization}".into());
        let id = role.id.clone();
        realm.roles.push(role);
        add_composite(&mut realm, &default_name, &id);
    }
    if name != "master" {
        complete_realm_management(&mut realm);
    }

    // 7. Composites (RepresentationToModel#importRoles, second pass): realm roles, then
    //    client roles.
    let composites = realm_roles
        .iter()
        .enumerate()
        .map(|(i, r)| (format!("roles.realm[{i}]"), None, r))
        .chain(client_roles.iter().flat_map(|(cid, list)| {
            list.iter()
                .enumerate()
                .map(move |(i, r)| (format!("roles.client.{cid}[{i}]"), Some(cid.as_str()), r))
        }))
        .collect::<Vec<_>>();
    for (field, owner, r) in composites {
        let Some(comp) = &r.composites else { continue };
        let role_name = r.name.clone().unwrap_or_default();
        let mut children = Vec::new();
        for c in comp.realm.clone().unwrap_or_default() {
            let id = realm
                .role_by_name(&c)
                .map(|x| x.id.clone())
                .ok_or_else(|| {
                    (
                        format!("{field}.composites.realm"),
                        format!("Unable to find composite realm role: {c}"),
                    )
                })?;
            children.push(id);
        }
        for (client_id, names) in comp.client.clone().unwrap_or_default() {
            for n in names {
                let id = client_role_id(&realm, &client_id, &n).ok_or_else(|| {
                    (
                        format!("{field}.composites.client.{client_id}"),
                        format!("Unable to find client role {client_id}/{n}"),
                    )
                })?;
                children.push(id);
            }
        }
        for id in children {
            match owner {
                None => add_composite(&mut realm, &role_name, &id),
                Some(cid) => {
                    if let Some(role) = realm
                        .clients
                        .iter_mut()
                        .find(|c| c.client_id == cid)
                        .and_then(|c| c.roles.iter_mut().find(|x| x.name == role_name))
                        && !role.composites.contains(&id)
                    {
                        role.composites.push(id);
                    }
                }
            }
        }
    }

    // 8. DefaultExportImportManager#convertDeprecatedDefaultRoles: without `defaultRole`,
    //    the old `defaultRoles` lists (realm and client) become the default role's composites,
    //    each role created when missing.
    if rep.default_role.is_none() {
        for r in rep.default_roles.take().unwrap_or_default() {
            let id = get_or_add_realm_role(&mut realm, &r);
            add_composite(&mut realm, &default_name, &id);
        }
        for (uuid, names) in deprecated_client_defaults {
            for n in names {
                let id = get_or_add_client_role(&mut realm, &uuid, &n);
                add_composite(&mut realm, &default_name, &id);
            }
        }
    }

    // 9. Users: only the roles listed (addUser(..., addDefaultRoles=false)); a role named but
    //    not declared is created (RepresentationToModel#createRoleMappings and
    //    #createClientRoleMappings).
    for (i, u) in rep.users.take().unwrap_or_default().into_iter().enumerate() {
        import_user(&mut realm, u, &format!("users[{i}]"))?;
    }

    Ok((realm, keys))
}

/// `RealmManager#setupClientServiceAccountsAndAuthorizationOnImport` (after every user,
/// those of `<realm>-users-N.json` files included): a service-account client without its
/// user gets one, with the default roles.
fn setup_service_accounts(realm: &mut Realm) {
    let sa_clients: Vec<String> = realm
        .clients
        .iter()
        .filter(|c| c.service_accounts_enabled)
        .map(|c| c.id.clone())
        .collect();
    for id in sa_clients {
        if realm.service_account_of(&id).is_none() {
            realm.enable_service_account(&id);
        }
    }
}

/// `RepresentationToModel#createUser` for one user of `users` (or of a `<realm>-users-N.json`
/// file of a directory export).
pub(crate) fn import_user(realm: &mut Realm, u: UserRep, field: &str) -> Result<(), ImportError> {
    let username = u
        .username
        .filter(|s| !s.is_empty())
        .ok_or_else(|| (format!("{field}.username"), "missing".to_owned()))?
        .to_lowercase();
    if realm.user_by_username(&username).is_some() {
        return Err((
            format!("{field}.username"),
            format!("duplicate user '{username}'"),
        ));
    }
    if u.groups.as_ref().is_some_and(|g| !g.is_empty()) {
        tracing::warn!(
            "realm '{}': {field}.groups (user '{username}'): groups are not supported (README: \"Not supported\"); roles granted through groups are not in tokens",
            realm.name
        );
    }
    if let Some(id) = &u.id
        && realm.user_by_id(id).is_some()
    {
        return Err((
            format!("{field}.id"),
            format!(
                "duplicate user id '{id}': Keycloak refuses the import, as two users cannot share an internal id"
            ),
        ));
    }
    let mut role_ids = Vec::new();
    for r in u.realm_roles.unwrap_or_default() {
        let r = r.trim().to_owned();
        if realm.role_by_name(&r).is_none() {
            tracing::warn!(
                "{field}.realmRoles: role '{r}' does not exist; created (as Keycloak does)"
            );
        }
        role_ids.push(get_or_add_realm_role(realm, &r));
    }
    for (client_id, names) in u.client_roles.unwrap_or_default() {
        let uuid = realm
            .client_by_client_id(&client_id)
            .map(|c| c.id.clone())
            .ok_or_else(|| {
                (
                    format!("{field}.clientRoles.{client_id}"),
                    format!("Unable to find client role mappings for client: {client_id}"),
                )
            })?;
        for n in names {
            let n = n.trim();
            if client_role_id(realm, &client_id, n).is_none() {
                tracing::warn!(
                    "{field}.clientRoles.{client_id}: role '{n}' does not exist; created (as Keycloak does)"
                );
            }
            role_ids.push(get_or_add_client_role(realm, &uuid, n));
        }
    }
    let service_account_client = match u.service_account_client_id {
        Some(cid) => Some(
            realm
                .client_by_client_id(&cid)
                .map(|c| c.id.clone())
                .ok_or_else(|| {
                    (
                        format!("{field}.serviceAccountClientId"),
                        format!(
                            "Unable to find client specified for service account link. Client: {cid}"
                        ),
                    )
                })?,
        ),
        None => None,
    };
    realm.users.push(User {
        id: u.id.unwrap_or_else(new_id),
        username,
        // RepresentationToModel#createUser: enabled only when the file says so.
        enabled: u.enabled.unwrap_or(false),
        email: u.email,
        email_verified: u.email_verified.unwrap_or(false),
        first_name: u.first_name,
        last_name: u.last_name,
        created_timestamp: u.created_timestamp.unwrap_or_else(now_millis),
        attributes: u.attributes,
        service_account_client,
        role_ids,
        password: None,
    });
    Ok(())
}

/// What Keycloak 26.7.5 adds to an imported OIDC client (observed in its admin API): a
/// confidential client without a secret gets a generated one, with its
/// `client.secret.creation.time`; `post.logout.redirect.uris` defaults to `+` (the redirect
/// URIs).
fn import_defaults(client: &mut Client) {
    if client.protocol != "openid-connect" {
        return;
    }
    if !client.public_client && !client.bearer_only && client.secret.is_none() {
        client.secret = Some(crate::store::secure_id().replace('-', ""));
        client.attributes.push((
            "client.secret.creation.time".to_owned(),
            crate::clock::now().to_string(),
        ));
    }
    if client.attribute("post.logout.redirect.uris").is_none() {
        client
            .attributes
            .push(("post.logout.redirect.uris".to_owned(), "+".to_owned()));
    }
}

fn add_composite(realm: &mut Realm, role_name: &str, child_id: &str) {
    if let Some(role) = realm
        .roles
        .iter_mut()
        .find(|r| r.name == role_name && !r.composites.iter().any(|c| c == child_id))
    {
        role.composites.push(child_id.to_owned());
    }
}

/// The `master` realm as Keycloak bootstraps it (`ApplianceBootstrap`): the public
/// `admin-cli` client with direct grants, the bootstrap admin with the `admin` role,
/// 60-second access tokens.
pub fn master_realm(admin_username: &str, admin_password: &str) -> Realm {
    let mut scope_mappers = Vec::new();
    let sub = ProtocolMapper {
        id: new_id(),
        name: "sub".into(),
        protocol: "openid-connect".into(),
        mapper_type: "oidc-sub-mapper".into(),
        config: [
            ("access.token.claim", "true"),
            ("introspection.token.claim", "true"),
            // Keycloak 26.7.5 (observed): admin-cli's lightweight access token has no `sub`.
            ("lightweight.claim", "false"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
    };
    scope_mappers.push(sub);
    let rep = RealmRep {
        realm: Some("master".into()),
        enabled: Some(true),
        access_token_lifespan: Some(60),
        roles: Some(RolesRep {
            realm: Some(vec![
                RoleRep {
                    name: Some("admin".into()),
                    description: Some("${role_admin}".into()),
                    ..Default::default()
                },
                RoleRep {
                    name: Some("create-realm".into()),
                    description: Some("${role_create-realm}".into()),
                    ..Default::default()
                },
            ]),
            client: None,
        }),
        clients: Some(vec![ClientRep {
            client_id: Some("admin-cli".into()),
            name: Some("${client_admin-cli}".into()),
            public_client: Some(true),
            standard_flow_enabled: Some(false),
            direct_access_grants_enabled: Some(true),
            attributes: Some(
                [(
                    "client.use.lightweight.access.token.enabled".to_owned(),
                    Value::from("true"),
                )]
                .into_iter()
                .collect(),
            ),
            // Keycloak 26.7.5's admin-cli (observed: the refresh token's `scope`).
            default_client_scopes: Some(
                ["acr", "basic", "email", "profile", "roles", "web-origins"]
                    .map(String::from)
                    .to_vec(),
            ),
            optional_client_scopes: Some(vec![]),
            ..Default::default()
        }]),
        users: Some(vec![UserRep {
            username: Some(admin_username.into()),
            enabled: Some(true),
            realm_roles: Some(vec!["admin".into(), "default-roles-master".into()]),
            ..Default::default()
        }]),
        client_scopes: Some(
            ["acr", "basic", "email", "profile", "roles", "web-origins"]
                .iter()
                .map(|n| ClientScopeRep {
                    name: Some((*n).into()),
                    protocol: Some("openid-connect".into()),
                    attributes: Some(
                        [(
                            "include.in.token.scope".to_owned(),
                            Value::from(if matches!(*n, "profile" | "email") {
                                "true"
                            } else {
                                "false"
                            }),
                        )]
                        .into_iter()
                        .collect(),
                    ),
                    ..Default::default()
                })
                .collect(),
        ),
        ..Default::default()
    };
    let (mut realm, _) = import_inner(rep).expect("the synthesized master realm is valid");
    setup_service_accounts(&mut realm);
    // createMasterAdminManagement: admin contains create-realm.
    if let Some(id) = realm.role_by_name("create-realm").map(|r| r.id.clone()) {
        add_composite(&mut realm, "admin", &id);
    }
    add_master_admin_client(&mut realm, "master");
    if let Some(basic) = realm.client_scopes.iter_mut().find(|s| s.name == "basic") {
        basic.mappers = scope_mappers;
    }
    if let Some(admin) = realm
        .users
        .iter_mut()
        .find(|u| u.username == admin_username.to_lowercase())
    {
        admin.password = Some(admin_password.to_owned());
    }
    realm
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(json: &str) -> String {
        let path = Path::new("bad-realm.json");
        match parse(json, path).and_then(|r| import(r, path)) {
            Ok(_) => panic!("expected an error for {json}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn the_shipped_realm_imports() {
        let path = crate::realm_file();
        let text = std::fs::read_to_string(&path).unwrap();
        let realm = import(parse(&text, &path).unwrap(), &path).unwrap();
        let mtls = realm
            .client_by_client_id(playbook::names::MTLS_CLIENT_ID)
            .unwrap();
        assert_eq!(mtls.client_authenticator_type, "client-x509");
        assert_eq!(
            mtls.attribute("x509.subjectdn"),
            Some(playbook::names::CLIENT_SUBJECT_DN)
        );
        assert_eq!(
            mtls.attribute("x509.casubjectdn"),
            Some(playbook::names::CA_SUBJECT_DN)
        );
        let secret = realm
            .client_by_client_id(playbook::names::SECRET_CLIENT_ID)
            .unwrap();
        assert_eq!(
            secret.secret.as_deref(),
            Some(playbook::names::SECRET_CLIENT_SECRET)
        );
        assert!(realm.role_by_name(playbook::names::READONLY_ROLE).is_some());
        assert!(realm.role_by_name(playbook::names::WRITE_ROLE).is_some());
        assert!(realm.service_account_of(&mtls.id).is_some());
        assert!(
            mtls.optional_scopes
                .iter()
                .any(|s| s == playbook::names::USERS_READ_SCOPE)
        );
        // The default role holds what Keycloak adds on import.
        let sa = realm.service_account_of(&mtls.id).unwrap();
        let names: Vec<_> = realm
            .effective_roles(sa)
            .iter()
            .map(|(r, _)| r.name.clone())
            .collect();
        for n in [
            "default-roles-oauth2-playbook",
            "offline_access",
            "uma_authorization",
            "view-profile",
            "manage-account",
            "manage-account-links",
        ] {
            assert!(names.contains(&n.to_owned()), "{n} in {names:?}");
        }
        assert!(!names.contains(&playbook::names::READONLY_ROLE.to_owned()));
    }

    /// `ImportUtils#getRealmsFromStream`: an object or an array of objects; a byte-order
    /// mark is fine; anything else names what it found.
    #[test]
    fn a_realm_file_is_a_realm_or_an_array_of_realms() {
        let path = Path::new("r.json");
        let one = parse_realms("\u{feff} {\"realm\":\"r\"}", path).unwrap();
        assert_eq!(one[0].realm.as_deref(), Some("r"));
        let two = parse_realms(r#"[{"realm":"a"},{"realm":"b"}]"#, path).unwrap();
        assert_eq!(two.len(), 2);
        assert!(parse_realms("[]", path).unwrap().is_empty());
        let e = parse_realms("42", path).unwrap_err().to_string();
        assert!(
            e.contains("(document)") && e.contains("found a number"),
            "{e}"
        );
        let e = parse_realms(r#"[{"realm":"a","enabled":"yes"}]"#, path)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`[0].enabled`"), "{e}");
    }

    #[test]
    fn type_errors_name_the_file_and_the_field() {
        let e = err(r#"{"realm":"r","clients":[{"clientId":"c","enabled":"yes"}]}"#);
        assert!(e.contains("bad-realm.json"), "{e}");
        assert!(e.contains("clients[0].enabled"), "{e}");
    }

    #[test]
    fn semantic_errors_name_the_field() {
        let e = err(r#"{"enabled":true}"#);
        assert!(
            e.contains("`realm`") && e.contains("Realm name cannot be empty"),
            "{e}"
        );
        let e = err(r#"{"realm":"r","clients":[{"enabled":true}]}"#);
        assert!(e.contains("clients[0].clientId"), "{e}");
        let e = err(r#"{"realm":"r","users":[{"username":"u","serviceAccountClientId":"nope"}]}"#);
        assert!(e.contains("users[0].serviceAccountClientId"), "{e}");
        let e = err(r#"{"realm":"r","clients":[{"clientId":"c","attributes":{"a":[1]}}]}"#);
        assert!(e.contains("clients[0].attributes.a"), "{e}");
    }

    #[test]
    fn unknown_fields_are_ignored_and_defaults_apply() {
        let path = Path::new("r.json");
        let rep = parse(
            r#"{"realm":"r","enabled":true,"someFutureField":{"x":1},
                "clients":[{"clientId":"c","serviceAccountsEnabled":true,"attributes":{"flag":true,"n":3}}]}"#,
            path,
        )
        .unwrap();
        let realm = import(rep, path).unwrap();
        let c = realm.client_by_client_id("c").unwrap();
        assert_eq!(c.client_authenticator_type, "client-secret");
        assert!(c.enabled && c.standard_flow_enabled && c.full_scope_allowed);
        assert_eq!(c.attribute("flag"), Some("true"));
        assert_eq!(c.attribute("n"), Some("3"));
        // A service-account client without its user gets one, with the default roles.
        let sa = realm.service_account_of(&c.id).unwrap();
        assert_eq!(sa.username, "service-account-c");
        assert_eq!(sa.role_ids, vec![realm.default_role_id.clone()]);
    }
}
