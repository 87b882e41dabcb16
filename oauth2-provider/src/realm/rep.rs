//! Keycloak's representation classes as a realm file holds them (`RealmRepresentation`,
//! `ClientRepresentation`, `RoleRepresentation`, `UserRepresentation`,
//! `ClientScopeRepresentation`, `ProtocolMapperRepresentation`,
//! `ComponentExportRepresentation`), the subset this provider reads. Every field is optional,
//! as in Keycloak; unknown fields are ignored, as the classes are a superset.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

/// The subset of Keycloak's `RealmRepresentation` we read. Unknown fields are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RealmRep {
    pub id: Option<String>,
    pub realm: Option<String>,
    /// The version that wrote the file: Keycloak's migrators newer than it run on import.
    pub keycloak_version: Option<String>,
    pub enabled: Option<bool>,
    /// User self-registration: discovery's `prompt_values_supported` gains `create`.
    pub registration_allowed: Option<bool>,
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
    /// The realm's client policies' profiles (`{"profiles": [...]}`): only their names are read,
    /// as Keycloak refuses a name of its global profiles.
    pub client_profiles: Option<Value>,
    /// The realm's client policies (`{"policies": [...]}`): not applied (warned about).
    pub client_policies: Option<Value>,
    /// Not supported (warned about when a user is in one).
    pub groups: Option<Vec<Value>>,
    /// Fine-grained admin permissions v2: the `admin-permissions` client's
    /// `authorizationSettings` hold them.
    pub admin_permissions_enabled: Option<bool>,
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
    /// Read for the client `admin-permissions` only (fine-grained admin permissions v2).
    pub authorization_settings: Option<AuthorizationSettingsRep>,
}

/// `ResourceServerRepresentation`, the part fine-grained admin permissions v2 use: the
/// policies (client and user policies, scope permissions). Its `resources` and `scopes`
/// are not needed: Keycloak makes them from the permissions on import, as the import reads.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AuthorizationSettingsRep {
    pub policies: Option<Vec<PolicyRep>>,
}

/// `PolicyRepresentation` as an export writes it: its settings in `config`, each a string
/// (lists as JSON text, e.g. `"[\"view\",\"map-roles\"]"`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PolicyRep {
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub logic: Option<String>,
    pub decision_strategy: Option<String>,
    pub config: Option<Map<String, Value>>,
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
