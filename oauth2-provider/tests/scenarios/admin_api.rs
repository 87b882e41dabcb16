//! The Keycloak Admin REST API as the scenarios call it: a fresh admin token (the `password`
//! grant on `master` with `admin-cli`), the lookups they need, role assignment, and throwaway
//! clients that are deleted whatever the scenario's outcome.

use std::future::Future;

use playbook::names::{ADMIN_CLIENT_ID, ADMIN_REALM, REALM};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::Fixture;
use super::helpers::{Answer, CatchUnwind, http, post_form, send};

/// The admin API with a fresh admin token (master realm, admin-cli, password grant).
pub struct Admin {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
}

/// The admin token request: `password` grant on `master` with `admin-cli`.
pub async fn admin_password_grant(f: &Fixture, http: &reqwest::Client, password: &str) -> Answer {
    let url = format!(
        "{}/realms/{ADMIN_REALM}/protocol/openid-connect/token",
        f.base_url
    );
    let form = [
        ("grant_type", "password"),
        ("client_id", ADMIN_CLIENT_ID),
        ("username", f.admin_username.as_str()),
        ("password", password),
    ];
    post_form(http, &url, &form).await
}

impl Admin {
    pub async fn login(f: &Fixture) -> Admin {
        let http = http(f, None);
        let a = admin_password_grant(f, &http, &f.admin_password).await;
        assert_eq!(a.status, StatusCode::OK, "admin token: {}", a.body);
        Admin {
            http,
            base: format!("{}/admin/realms/{REALM}", f.base_url),
            token: a.str("access_token").to_owned(),
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        send(
            self.http
                .get(format!("{}{path}", self.base))
                .bearer_auth(&self.token),
        )
        .await
    }

    pub async fn send(&self, method: reqwest::Method, path: &str, body: &Value) -> Answer {
        send(
            self.http
                .request(method, format!("{}{path}", self.base))
                .bearer_auth(&self.token)
                .json(body),
        )
        .await
    }

    /// The UUID of a client, by clientId (`GET /clients?clientId=` is exact).
    pub async fn client_uuid(&self, client_id: &str) -> String {
        let a = self.get(&format!("/clients?clientId={client_id}")).await;
        assert_eq!(a.status, StatusCode::OK);
        let list = a.body.as_array().expect("array");
        assert_eq!(list.len(), 1, "exactly one client {client_id}: {}", a.body);
        list[0]["id"].as_str().expect("id").to_owned()
    }

    pub async fn service_account(&self, client_uuid: &str) -> Value {
        let a = self
            .get(&format!("/clients/{client_uuid}/service-account-user"))
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        a.body
    }

    pub async fn role(&self, name: &str) -> Value {
        let a = self.get(&format!("/roles/{name}")).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        a.body
    }

    pub async fn set_role(&self, user_id: &str, role: &Value, assigned: bool) {
        let method = if assigned {
            reqwest::Method::POST
        } else {
            reqwest::Method::DELETE
        };
        let body = json!([{"id": role["id"], "name": role["name"]}]);
        let a = self
            .send(
                method,
                &format!("/users/{user_id}/role-mappings/realm"),
                &body,
            )
            .await;
        assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.body);
    }

    /// Creates a throwaway client (unique clientId) and returns (uuid, clientId).
    pub async fn create_client(&self, prefix: &str, mut rep: Value) -> (String, String) {
        let client_id = format!(
            "scenario-{prefix}-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        rep["clientId"] = json!(client_id);
        let a = self.send(reqwest::Method::POST, "/clients", &rep).await;
        assert_eq!(a.status, StatusCode::CREATED, "create client: {}", a.body);
        let location = a.headers["location"].to_str().expect("Location");
        let uuid = location.rsplit('/').next().expect("id").to_owned();
        (uuid, client_id)
    }

    pub async fn delete_client(&self, uuid: &str) {
        let a = self
            .send(
                reqwest::Method::DELETE,
                &format!("/clients/{uuid}"),
                &Value::Null,
            )
            .await;
        assert_eq!(
            a.status,
            StatusCode::NO_CONTENT,
            "delete client: {}",
            a.body
        );
    }

    /// Creates a throwaway client from `rep` (unique clientId), runs `body` with it, and
    /// deletes it afterwards, also when `body` panics (the panic is then re-raised): a
    /// leaked client would stay in the shared Keycloak container. A body that deletes the
    /// client itself may do so (the 404 of the second delete is accepted).
    pub async fn with_throwaway_client<T, Fut>(
        &self,
        prefix: &str,
        rep: Value,
        body: impl FnOnce(Throwaway) -> Fut,
    ) -> T
    where
        Fut: Future<Output = T>,
    {
        let (uuid, client_id) = self.create_client(prefix, rep).await;
        let outcome = CatchUnwind(Box::pin(body(Throwaway {
            uuid: uuid.clone(),
            client_id: client_id.clone(),
        })))
        .await;
        let deleted = self
            .send(
                reqwest::Method::DELETE,
                &format!("/clients/{uuid}"),
                &Value::Null,
            )
            .await;
        match outcome {
            Ok(value) => {
                assert!(
                    matches!(deleted.status.as_u16(), 204 | 404),
                    "deleting throwaway client {client_id}: {} {}",
                    deleted.status,
                    deleted.body
                );
                value
            }
            Err(panic) => {
                if !matches!(deleted.status.as_u16(), 204 | 404) {
                    eprintln!(
                        "throwaway client {client_id} ({uuid}) could not be deleted: {} {}",
                        deleted.status, deleted.body
                    );
                }
                std::panic::resume_unwind(panic)
            }
        }
    }
}

/// A client made by [`Admin::with_throwaway_client`].
#[derive(Debug, Clone)]
pub struct Throwaway {
    pub uuid: String,
    pub client_id: String,
}
