//! Keycloak's Admin REST API, the few calls the walkthrough needs to give the client's
//! service-account user the realm role `oauth2-playbook-readonly` (and to take it back).
//!
//! Who calls ([`AdminAs`]):
//! - the provisioner (the default): `client_credentials` on the realm's token endpoint over
//!   mTLS with `provisioner.pem` (client `oauth2-playbook-provisioner`, `client-x509`); its
//!   service account holds `realm-management`'s `view-clients`, and the realm's fine-grained
//!   admin permissions let it view the mTLS client's service account and map
//!   `oauth2-playbook-readonly` to it (`PROVISIONER.md`), so it reads the client and its
//!   service account as the bootstrap admin does (1., 2. below), and the role among the
//!   roles it may map (it may not read roles by name):
//!   3. `GET /users/{id}/role-mappings/realm`, else `…/realm/available` → the role's id;
//! - the bootstrap admin: the password grant on realm `master` with client `admin-cli`
//!   (`KC_BOOTSTRAP_ADMIN_USERNAME` / `KC_BOOTSTRAP_ADMIN_PASSWORD`), then
//!   1. `GET /admin/realms/{realm}/clients?clientId=…` (exact match) → the client's UUID;
//!   2. `GET /admin/realms/{realm}/clients/{uuid}/service-account-user` → the user;
//!   3. `GET /admin/realms/{realm}/roles/{name}` → the role's id.
//!
//! Then `POST` / `DELETE /admin/realms/{realm}/users/{id}/role-mappings/realm` with
//! `[{"id":…,"name":…}]` (Keycloak wants both and checks they agree).
//!
//! Keycloak's admin API does not check a certificate-bound token's binding (recorded in
//! `oauth2-provider/tests/golden/keycloak/provisioner_bound_token_ignored_by_admin_api.json`):
//! the provisioner's token is bound to `provisioner.pem`, but would work from anywhere.
//!
//! Assigning is idempotent in Keycloak already; we read the mappings first anyway so the
//! output can say whether anything changed.
//!
//! The session prints nothing: it keeps every request and answer as an [`Exchange`], and the
//! caller takes them ([`AdminApi::take_exchanges`]) to narrate them (`Output::exchanges`),
//! or leaves them (the lab checkers work quietly).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::error::ClientError;
use crate::http::Exchange;
pub use crate::settings::AdminAs;
use crate::token::{AccessToken, ClientSecret};

mod provisioner;

pub use provisioner::{RESOLVE_NOTE_PROVISIONER, identity_note};

/// `ClientRepresentation`, the fields we use.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ClientRepresentation {
    pub id: String,
    #[serde(rename = "clientId")]
    pub client_id: String,
    #[serde(rename = "serviceAccountsEnabled", default)]
    pub service_accounts_enabled: bool,
}

/// `UserRepresentation`, the fields we use.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct UserRepresentation {
    pub id: String,
    pub username: String,
}

/// `RoleRepresentation`; serialised as `{"id","name"}`, what role-mapping calls need.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct RoleRepresentation {
    pub id: String,
    pub name: String,
}

/// An authenticated Admin REST session on one realm.
#[derive(Debug)]
pub struct AdminApi {
    http: crate::http::Http,
    /// The server root (`https://localhost:9443/`).
    base: Url,
    realm: String,
    token: AccessToken,
    /// Who this session is.
    who: AdminAs,
    /// The requests sent and their answers, not yet taken by the caller.
    exchanges: std::sync::Mutex<Vec<Exchange>>,
}

/// What an assign/remove did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Added,
    AlreadyAssigned,
    Removed,
    WasNotAssigned,
}

/// What [`AdminApi::resolve`] asks the API, in words, for a caller that narrates it.
pub const RESOLVE_NOTE: &str = "the client's UUID (what the API uses), its service-account user (the \"user\" client-credentials tokens are issued for) and the realm role's id and name (Keycloak wants both)";
/// The user and role a mapping call is about.
#[derive(Debug, Clone, Serialize)]
pub struct RoleTarget {
    /// The client (the provisioner reads it with `view-clients`).
    pub client: ClientRepresentation,
    pub user: UserRepresentation,
    pub role: RoleRepresentation,
}

impl AdminApi {
    /// Gets an admin token (password grant, realm `master`, client `admin-cli`).
    pub async fn login(
        http: crate::http::Http,
        base: Url,
        realm: &str,
        username: &str,
        password: &ClientSecret,
    ) -> Result<Self, ClientError> {
        let url = join(
            &base,
            &format!(
                "realms/{}/protocol/openid-connect/token",
                playbook::names::ADMIN_REALM
            ),
        )?;
        let sent = format!(
            "grant_type=password&client_id={}&username={username}&password=[redacted]",
            playbook::names::ADMIN_CLIENT_ID
        );
        let form = [
            ("grant_type", "password"),
            ("client_id", playbook::names::ADMIN_CLIENT_ID),
            ("username", username),
            ("password", password.secret()),
        ];
        Self::session(
            http,
            base,
            realm,
            AdminAs::Bootstrap,
            url,
            &form,
            sent,
            &format!("admin user {username:?}: check KC_BOOTSTRAP_ADMIN_USERNAME/_PASSWORD"),
        )
        .await
    }

    /// A session from the token `form` gets at `url` (`sent`: the form as the narration shows
    /// it; `hint`: added to the server's `error_description` on a refusal). The bootstrap
    /// admin's login and the provisioner's both end here.
    #[allow(clippy::too_many_arguments)] // the parts of one session, each named at both calls
    pub(crate) async fn session(
        http: crate::http::Http,
        base: Url,
        realm: &str,
        who: AdminAs,
        url: Url,
        form: &[(&str, &str)],
        sent: String,
        hint: &str,
    ) -> Result<Self, ClientError> {
        let reply = crate::http::send_json(&http, http.post(url.clone()).form(form), &url).await?;
        let (status, body) = (reply.status, reply.json);
        if !status.is_success() {
            return Err(match body.get("error").and_then(Value::as_str) {
                Some(code) => ClientError::OAuth {
                    url,
                    error: crate::error::OAuthError {
                        status: status.as_u16(),
                        error: playbook::oauth::ErrorCode::parse(code),
                        error_description: body
                            .get("error_description")
                            .and_then(Value::as_str)
                            .map(|d| format!("{d} ({hint})")),
                    },
                },
                None => ClientError::Unexpected {
                    what: match who {
                        AdminAs::Bootstrap => "admin token",
                        AdminAs::Provisioner => "provisioner token",
                    },
                    method: reqwest::Method::POST,
                    url,
                    status: status.as_u16(),
                    body: body.to_string(),
                },
            });
        }
        let token = body
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| ClientError::BadJson {
                url: url.clone(),
                what: "an admin token response",
                detail: "no access_token".into(),
            })?;
        let exchange = Exchange {
            method: reqwest::Method::POST,
            url: url.clone(),
            sent: Some(sent),
            status,
            answer: body.clone(),
        };
        Ok(AdminApi {
            http,
            base,
            realm: realm.to_owned(),
            token: AccessToken::new(token),
            who,
            exchanges: std::sync::Mutex::new(vec![exchange]),
        })
    }

    /// Who this session is.
    pub fn who(&self) -> AdminAs {
        self.who
    }

    /// The requests sent and their answers since the last call (the login's first), for the
    /// caller to narrate; a failed call's are among them.
    pub fn take_exchanges(&self) -> Vec<Exchange> {
        std::mem::take(&mut *self.exchanges.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn url(&self, path: &str) -> Result<Url, ClientError> {
        join(&self.base, &format!("admin/realms/{}/{path}", self.realm))
    }

    async fn send(
        &self,
        what: &'static str,
        method: reqwest::Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .bearer_auth(self.token.secret());
        if let Some(b) = body {
            request = request.json(b);
        }
        let reply = crate::http::send_json(&self.http, request, &url).await?;
        let status = reply.status;
        self.exchanges
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Exchange {
                method: method.clone(),
                url: url.clone(),
                sent: body.map(Value::to_string),
                status,
                answer: reply.json.clone(),
            });
        if !status.is_success() {
            return Err(ClientError::Unexpected {
                what,
                method,
                url,
                status: status.as_u16(),
                body: reply.excerpt(300),
            });
        }
        Ok(reply.json)
    }

    /// `GET {path}` (relative to the realm's admin URL), read as `T` (`expected` names it
    /// in the error when the answer does not fit).
    async fn get<T: for<'de> Deserialize<'de>>(
        &self,
        what: &'static str,
        url: Url,
        expected: &'static str,
    ) -> Result<T, ClientError> {
        let json = self
            .send(what, reqwest::Method::GET, url.clone(), None)
            .await?;
        serde_json::from_value(json).map_err(|e| ClientError::BadJson {
            url,
            what: expected,
            detail: e.to_string(),
        })
    }

    /// `GET /clients?clientId=…`: Keycloak matches `clientId` exactly (no `search=true`).
    pub async fn find_client(&self, client_id: &str) -> Result<ClientRepresentation, ClientError> {
        let mut url = self.url("clients")?;
        url.query_pairs_mut().append_pair("clientId", client_id);
        let clients: Vec<ClientRepresentation> =
            self.get("find client", url, "a list of clients").await?;
        clients
            .into_iter()
            .find(|c| c.client_id == client_id)
            .ok_or_else(|| ClientError::Setting {
                name: "CLIENT_ID",
                value: client_id.to_owned(),
                fix: format!(
                    "realm {:?} has no such client; was the realm imported?",
                    self.realm
                ),
            })
    }

    /// The client's attributes (`GET /clients?clientId=…`, the `attributes` object).
    pub async fn client_attributes(
        &self,
        client_id: &str,
    ) -> Result<serde_json::Map<String, Value>, ClientError> {
        let rep = self.client_representation(client_id).await?;
        Ok(rep
            .get("attributes")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default())
    }

    /// The whole ClientRepresentation of `client_id`.
    pub(crate) async fn client_representation(
        &self,
        client_id: &str,
    ) -> Result<Value, ClientError> {
        let mut url = self.url("clients")?;
        url.query_pairs_mut().append_pair("clientId", client_id);
        let list = self
            .send("find client", reqwest::Method::GET, url, None)
            .await?;
        list.as_array()
            .and_then(|a| a.iter().find(|c| c["clientId"] == client_id))
            .cloned()
            .ok_or_else(|| ClientError::Setting {
                name: "CLIENT_ID",
                value: client_id.to_owned(),
                fix: format!("realm {:?} has no such client", self.realm),
            })
    }

    /// Creates the client `rep` describes (`POST /clients`, 201) unless its `clientId`
    /// exists; returns whether it created it.
    pub async fn ensure_client(&self, rep: &Value) -> Result<bool, ClientError> {
        let client_id = rep["clientId"].as_str().unwrap_or_default();
        if self.client_representation(client_id).await.is_ok() {
            return Ok(false);
        }
        let url = self.url("clients")?;
        self.send("create client", reqwest::Method::POST, url, Some(rep))
            .await
            .map(|_| true)
    }

    /// Sets client attributes the way the admin console does: `GET` the representation,
    /// change `attributes`, `PUT /clients/{uuid}` it back (204).
    pub async fn set_client_attributes(
        &self,
        client_id: &str,
        attributes: &[(&str, &str)],
    ) -> Result<(), ClientError> {
        let mut rep = self.client_representation(client_id).await?;
        let id = rep["id"].as_str().unwrap_or_default().to_owned();
        if let Some(attrs) = rep.get_mut("attributes").and_then(Value::as_object_mut) {
            for (k, v) in attributes {
                attrs.insert((*k).to_owned(), Value::String((*v).to_owned()));
            }
        }
        let url = self.url(&format!("clients/{id}"))?;
        self.send("update client", reqwest::Method::PUT, url, Some(&rep))
            .await
            .map(drop)
    }

    /// `GET /clients/{uuid}/service-account-user`.
    pub async fn service_account_user(
        &self,
        client: &ClientRepresentation,
    ) -> Result<UserRepresentation, ClientError> {
        let url = self.url(&format!("clients/{}/service-account-user", client.id))?;
        self.get("service-account user", url, "a user").await
    }

    /// `GET /roles/{name}`.
    pub async fn realm_role(&self, name: &str) -> Result<RoleRepresentation, ClientError> {
        let url = self.url(&format!("roles/{}", encode_segment(name)))?;
        self.get("realm role", url, "a role").await
    }

    /// `GET /users/{id}/role-mappings/realm`: the realm roles mapped directly to the user.
    pub async fn realm_role_mappings(
        &self,
        user: &UserRepresentation,
    ) -> Result<Vec<RoleRepresentation>, ClientError> {
        let url = self.url(&format!("users/{}/role-mappings/realm", user.id))?;
        self.get("list role mappings", url, "a list of roles").await
    }

    /// `POST /users/{id}/role-mappings/realm` with `[{"id","name"}]`.
    pub async fn add_realm_roles(
        &self,
        user: &UserRepresentation,
        roles: &[RoleRepresentation],
    ) -> Result<(), ClientError> {
        self.change_realm_roles(reqwest::Method::POST, user, roles)
            .await
    }

    /// `DELETE /users/{id}/role-mappings/realm` with `[{"id","name"}]`.
    pub async fn remove_realm_roles(
        &self,
        user: &UserRepresentation,
        roles: &[RoleRepresentation],
    ) -> Result<(), ClientError> {
        self.change_realm_roles(reqwest::Method::DELETE, user, roles)
            .await
    }

    /// `POST` (add) or `DELETE` (remove) on the user's realm role mappings.
    async fn change_realm_roles(
        &self,
        method: reqwest::Method,
        user: &UserRepresentation,
        roles: &[RoleRepresentation],
    ) -> Result<(), ClientError> {
        let what = if method == reqwest::Method::DELETE {
            "remove role"
        } else {
            "assign role"
        };
        let url = self.url(&format!("users/{}/role-mappings/realm", user.id))?;
        let body = serde_json::to_value(roles).unwrap_or(Value::Null);
        self.send(what, method, url, Some(&body)).await.map(drop)
    }

    /// The client, its service-account user and the role ([`RESOLVE_NOTE`] says so in
    /// words, for the narration); as the provisioner, the role among those mapped or
    /// mappable ([`RESOLVE_NOTE_PROVISIONER`]: it may not read roles by name).
    pub async fn resolve(&self, client_id: &str, role: &str) -> Result<RoleTarget, ClientError> {
        let client = self.find_client(client_id).await?;
        let user = self.service_account_user(&client).await?;
        let role = match self.who {
            AdminAs::Provisioner => self.mappable_realm_role(&user, role).await?,
            AdminAs::Bootstrap => self.realm_role(role).await?,
        };
        Ok(RoleTarget { client, user, role })
    }

    /// Whether the role is currently mapped to the user.
    pub async fn is_assigned(&self, target: &RoleTarget) -> Result<bool, ClientError> {
        let mapped = self.realm_role_mappings(&target.user).await?;
        Ok(mapped.iter().any(|r| r.id == target.role.id))
    }

    /// Maps the role to the user unless it already is.
    pub async fn assign(&self, target: &RoleTarget) -> Result<Change, ClientError> {
        self.ensure(target, true).await
    }

    /// Removes the mapping if it exists.
    pub async fn remove(&self, target: &RoleTarget) -> Result<Change, ClientError> {
        self.ensure(target, false).await
    }

    /// Makes the mapping `assigned` (or not), saying when there was nothing to do.
    async fn ensure(&self, target: &RoleTarget, assigned: bool) -> Result<Change, ClientError> {
        let roles = std::slice::from_ref(&target.role);
        if self.is_assigned(target).await? == assigned {
            return Ok(if assigned {
                Change::AlreadyAssigned
            } else {
                Change::WasNotAssigned
            });
        }
        if assigned {
            self.add_realm_roles(&target.user, roles).await?;
            Ok(Change::Added)
        } else {
            self.remove_realm_roles(&target.user, roles).await?;
            Ok(Change::Removed)
        }
    }
}

fn join(base: &Url, path: &str) -> Result<Url, ClientError> {
    base.join(path).map_err(|e| ClientError::Setting {
        name: "ISSUER",
        value: base.to_string(),
        fix: format!("cannot build the admin URL {path:?}: {e}"),
    })
}

/// A role name as one URL path segment.
fn encode_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_mapping_body_is_an_array_of_id_and_name() {
        let role = RoleRepresentation {
            id: "5f1c".into(),
            name: "oauth2-playbook-readonly".into(),
        };
        assert_eq!(
            serde_json::to_string(&[role]).unwrap(),
            r#"[{"id":"5f1c","name":"oauth2-playbook-readonly"}]"#
        );
    }

    #[test]
    fn reads_keycloak_representations_ignoring_other_fields() {
        let c: ClientRepresentation = serde_json::from_value(serde_json::json!({
            "id": "uuid-1", "clientId": "oauth2-playbook-client-credentials-mtls",
            "serviceAccountsEnabled": true, "attributes": {"x509.subjectdn": "CN=x"}
        }))
        .unwrap();
        assert_eq!(c.id, "uuid-1");
        assert!(c.service_accounts_enabled);
        assert_eq!(encode_segment("a role/x"), "a%20role%2Fx");
    }
}
