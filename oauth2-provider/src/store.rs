//! The in-memory model: what Keycloak keeps in its database, for the entities the playground
//! touches. Imported at start ([`crate::realm`]), changed by the admin REST API, gone at exit.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Map, Value};

use crate::error::AdminError;

pub mod permissions;

/// All realms (`master` first).
#[derive(Debug)]
pub struct Store {
    pub realms: Vec<Realm>,
}

impl Store {
    pub fn realm(&self, name: &str) -> Option<&Realm> {
        self.realms.iter().find(|r| r.name == name)
    }
    pub fn realm_mut(&mut self, name: &str) -> Option<&mut Realm> {
        self.realms.iter_mut().find(|r| r.name == name)
    }
}

#[derive(Debug, Clone)]
pub struct Realm {
    pub id: String,
    pub name: String,
    pub enabled: bool,
    /// Seconds (`accessTokenLifespan`; Keycloak's default 300, master 60).
    pub access_token_lifespan: i64,
    /// `ssoSessionIdleTimeout` (refresh token lifetime of the password grant).
    pub sso_session_idle_timeout: i64,
    /// `defaultSignatureAlgorithm`: what tokens are signed with unless the client asks
    /// for another (`access.token.signed.response.alg`, `id.token.signed.response.alg`).
    pub default_signature_algorithm: String,
    pub roles: Vec<Role>,
    pub default_role_id: String,
    pub clients: Vec<Client>,
    pub users: Vec<User>,
    pub client_scopes: Vec<ClientScope>,
    /// Scope names a new client gets (`defaultDefaultClientScopes`).
    pub default_default_scopes: Vec<String>,
    /// `defaultOptionalClientScopes`.
    pub default_optional_scopes: Vec<String>,
    /// `registrationAllowed`: discovery offers `prompt=create`.
    pub registration_allowed: bool,
    /// Fine-grained admin permissions v2 (`adminPermissionsEnabled`): the `admin-permissions`
    /// client's policies and permissions; `None` when the realm does not enable them.
    pub admin_permissions: Option<permissions::AdminPermissions>,
}

#[derive(Debug, Clone)]
pub struct Role {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub client_role: bool,
    /// Realm id for realm roles, client uuid for client roles.
    pub container_id: String,
    pub attributes: Map<String, Value>,
    /// Ids of the roles this composite role contains.
    pub composites: Vec<String>,
}

impl Role {
    pub fn new(name: &str, container_id: &str, client_role: bool) -> Role {
        Role {
            id: new_id(),
            name: name.to_owned(),
            description: None,
            client_role,
            container_id: container_id.to_owned(),
            attributes: Map::new(),
            composites: Vec::new(),
        }
    }
    pub fn composite(&self) -> bool {
        !self.composites.is_empty()
    }
}

#[derive(Debug, Clone)]
pub struct ProtocolMapper {
    pub id: String,
    pub name: String,
    pub protocol: String,
    pub mapper_type: String,
    pub config: BTreeMap<String, String>,
}

impl ProtocolMapper {
    pub fn flag(&self, key: &str) -> bool {
        self.config.get(key).is_some_and(|v| v == "true")
    }
    pub fn get(&self, key: &str) -> Option<&str> {
        self.config.get(key).map(String::as_str)
    }
}

#[derive(Debug, Clone)]
pub struct ClientScope {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub protocol: String,
    pub attributes: BTreeMap<String, String>,
    pub mappers: Vec<ProtocolMapper>,
}

impl ClientScope {
    /// `ClientScopeModel#isIncludeInTokenScope`: a missing attribute counts as true.
    pub fn include_in_token_scope(&self) -> bool {
        self.attributes
            .get("include.in.token.scope")
            .is_none_or(|v| v.eq_ignore_ascii_case("true"))
    }
    /// `include.in.openid.provider.metadata`, default true (`OIDCWellKnownProvider`).
    pub fn include_in_metadata(&self) -> bool {
        self.attributes
            .get("include.in.openid.provider.metadata")
            .is_none_or(|v| v.eq_ignore_ascii_case("true"))
    }
}

#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub client_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub enabled: bool,
    pub client_authenticator_type: String,
    /// How the client authenticates, configured from the type and the `x509.*` attributes
    /// at import, and again when `PUT /clients/{id}` changes the attributes.
    pub authenticator: Authenticator,
    pub secret: Option<String>,
    pub redirect_uris: Vec<String>,
    pub web_origins: Vec<String>,
    pub not_before: i64,
    pub bearer_only: bool,
    pub consent_required: bool,
    pub standard_flow_enabled: bool,
    pub implicit_flow_enabled: bool,
    pub direct_access_grants_enabled: bool,
    pub service_accounts_enabled: bool,
    /// Authorization Services (`authorizationServicesEnabled`): its settings are not applied;
    /// the client is a service-account client with the `uma_protection` role.
    pub authorization_services_enabled: bool,
    pub public_client: bool,
    pub frontchannel_logout: bool,
    pub protocol: String,
    /// String attributes in the order they were given.
    pub attributes: Vec<(String, String)>,
    pub full_scope_allowed: bool,
    pub node_re_registration_timeout: i64,
    pub default_scopes: Vec<String>,
    pub optional_scopes: Vec<String>,
    pub roles: Vec<Role>,
    pub mappers: Vec<ProtocolMapper>,
}

impl Client {
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    pub fn attribute_true(&self, key: &str) -> bool {
        self.attribute(key)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

/// A client's authenticator, configured once (at import or `POST /clients`, by
/// [`crate::client_auth::configure`]) from `clientAuthenticatorType` and the `x509.*`
/// attributes; [`crate::client_auth`] reads it at each request.
#[derive(Debug, Clone)]
pub enum Authenticator {
    /// `client-secret` (Keycloak's default type).
    Secret,
    /// `client-x509`.
    X509(X509Config),
    /// `client-jwt` (RFC 7523 `private_key_jwt`).
    Jwt(JwtConfig),
    /// Any other type (Keycloak's `client-secret-jwt`, or a typo): refused.
    Unsupported(String),
}

/// What `JWTClientAuthenticator` verifies an assertion with, read once from the client's
/// `jwt.credential.certificate` or `jwks.string`.
#[derive(Debug, Clone)]
pub struct JwtConfig {
    /// The registered public keys (none: every assertion is refused).
    pub keys: Vec<JwtKey>,
    /// `token.endpoint.auth.signing.alg`: the only `alg` accepted, when set.
    pub signing_alg: Option<String>,
    /// A `jwt.credential.certificate` that is not even base64 (a realm file's placeholder
    /// kept because its variable was unset, `${NAME}`): Keycloak's words for it at the token
    /// request (its PEM parser's exception), instead of "Unable to load public key".
    pub unreadable: Option<&'static str>,
}

/// One registered public key: its `kid` (a certificate's is the SHA-256 of its
/// SubjectPublicKeyInfo, as Keycloak computes it) and the algorithm it verifies with.
#[derive(Debug, Clone)]
pub struct JwtKey {
    pub kid: Option<String>,
    pub alg: String,
    pub key: JwtPublicKey,
}

#[derive(Debug, Clone)]
pub enum JwtPublicKey {
    /// Modulus and exponent, big-endian, no leading zeros.
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// Uncompressed points.
    P256(Vec<u8>),
    P384(Vec<u8>),
    Ed25519(Vec<u8>),
}

/// What `X509ClientAuthenticator` compares, prepared once.
#[derive(Debug, Clone)]
pub struct X509Config {
    pub subject: SubjectMatch,
    /// `x509.casubjectdn` in RFC 2253 form; `None` when blank (deprecated but accepted).
    pub ca_dn: Option<String>,
}

#[derive(Debug, Clone)]
pub enum SubjectMatch {
    /// `x509.allow.regex.pattern.comparison=false`: `CertificateValidator#checkSubjectDNExact`
    /// compares RFC 2253 renderings; this is the configured DN, normalized.
    Exact(String),
    /// The deprecated default: `x509.subjectdn` as a regex that must match the whole of
    /// Java's legacy DN string (`Pattern#matcher(..).matches()`).
    Regex(regex::Regex),
    /// A configuration that can never match (blank, malformed DN, invalid regex). Keycloak
    /// refuses every request of such a client; so do we, and the reason was logged at import.
    Unusable(String),
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub username: String,
    pub enabled: bool,
    pub email: Option<String>,
    pub email_verified: bool,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub created_timestamp: i64,
    pub attributes: BTreeMap<String, Vec<String>>,
    /// Client *uuid* this user is the service account of.
    pub service_account_client: Option<String>,
    /// Directly mapped role ids (realm and client roles).
    pub role_ids: Vec<String>,
    /// Only the master bootstrap admin has one (compared in constant time).
    pub password: Option<String>,
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `SecretGenerator#generateSecureID`: a UUID-formatted string of 128 random bits (token
/// ids, generated client secrets); the same as an assertion's `jti`.
pub fn secure_id() -> String {
    playbook::rfc7523::random_id()
}

impl Realm {
    pub fn client_by_client_id(&self, client_id: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.client_id == client_id)
    }
    pub fn client_by_id(&self, id: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.id == id)
    }
    pub fn user_by_id(&self, id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }
    /// The admin API's lookup by id: 404 `User not found` (`UsersResource#user`).
    pub fn user_or_404(&self, id: &str) -> Result<&User, AdminError> {
        self.user_by_id(id)
            .ok_or_else(|| AdminError::not_found("User not found"))
    }
    pub fn user_mut_or_404(&mut self, id: &str) -> Result<&mut User, AdminError> {
        self.users
            .iter_mut()
            .find(|u| u.id == id)
            .ok_or_else(|| AdminError::not_found("User not found"))
    }
    /// The admin API's lookup by uuid: 404 `Could not find client` (`ClientsResource#getClient`).
    pub fn client_or_404(&self, id: &str) -> Result<&Client, AdminError> {
        self.client_by_id(id)
            .ok_or_else(|| AdminError::not_found("Could not find client"))
    }
    pub fn user_by_username(&self, username: &str) -> Option<&User> {
        // Keycloak stores usernames lower-cased.
        self.users
            .iter()
            .find(|u| u.username.eq_ignore_ascii_case(username))
    }
    pub fn service_account_of(&self, client_uuid: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.service_account_client.as_deref() == Some(client_uuid))
    }
    pub fn role_by_name(&self, name: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.name == name)
    }
    pub fn scope_by_name(&self, name: &str) -> Option<&ClientScope> {
        self.client_scopes.iter().find(|s| s.name == name)
    }
    /// The realm's default and optional client scopes of one protocol: what a new client
    /// of that protocol gets (`AbstractLoginProtocolFactory#addDefaultClientScopes`).
    pub fn default_scopes_for(&self, protocol: &str) -> (Vec<String>, Vec<String>) {
        let of = |names: &[String]| -> Vec<String> {
            names
                .iter()
                .filter(|n| {
                    self.scope_by_name(n)
                        .is_some_and(|s| s.protocol == protocol)
                })
                .cloned()
                .collect()
        };
        (
            of(&self.default_default_scopes),
            of(&self.default_optional_scopes),
        )
    }
    /// Any role (realm or client) by id, with the client that owns it.
    pub fn role_by_id(&self, id: &str) -> Option<(&Role, Option<&Client>)> {
        if let Some(r) = self.roles.iter().find(|r| r.id == id) {
            return Some((r, None));
        }
        self.clients
            .iter()
            .find_map(|c| c.roles.iter().find(|r| r.id == id).map(|r| (r, Some(c))))
    }

    /// Every role the user has, composites expanded (Keycloak's `RoleUtils.expandCompositeRoles`),
    /// as `(role, owning client)`, in first-seen order.
    pub fn effective_roles(&self, user: &User) -> Vec<(&Role, Option<&Client>)> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut stack: Vec<&str> = user.role_ids.iter().rev().map(String::as_str).collect();
        while let Some(id) = stack.pop() {
            if !seen.insert(id.to_owned()) {
                continue;
            }
            if let Some((role, client)) = self.role_by_id(id) {
                out.push((role, client));
                for c in role.composites.iter().rev() {
                    stack.push(c);
                }
            }
        }
        out
    }

    /// Creates a user with the realm's default role, as `UserProvider#addUser(realm, username)` does.
    pub fn add_user_with_default_roles(&mut self, username: &str) -> &mut User {
        let user = User {
            id: new_id(),
            username: username.to_lowercase(),
            enabled: true,
            email: None,
            email_verified: false,
            first_name: None,
            last_name: None,
            created_timestamp: crate::clock::now_millis(),
            attributes: BTreeMap::new(),
            service_account_client: None,
            role_ids: vec![self.default_role_id.clone()],
            password: None,
        };
        self.users.push(user);
        self.users.last_mut().expect("just pushed")
    }

    /// `ClientManager#enableServiceAccount`: the `service-account-<clientId>` user with the
    /// default roles, and (26.1+) the `service_account` client scope as a default scope.
    pub fn enable_service_account(&mut self, client_uuid: &str) {
        let Some(client) = self.clients.iter_mut().find(|c| c.id == client_uuid) else {
            return;
        };
        client.service_accounts_enabled = true;
        if !client.default_scopes.iter().any(|s| s == "service_account")
            && self
                .client_scopes
                .iter()
                .any(|s| s.name == "service_account")
        {
            client.default_scopes.push("service_account".to_owned());
        }
        let username = format!("service-account-{}", client.client_id);
        if self.service_account_of(client_uuid).is_none() {
            let user = self.add_user_with_default_roles(&username);
            user.service_account_client = Some(client_uuid.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_ids_look_like_uuids() {
        let id = secure_id();
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
        assert_ne!(id, secure_id());
    }
}
