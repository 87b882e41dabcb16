//! Users of a realm: `UsersResource` (`GET /users`) and `UserResource`
//! (`GET`/`PUT`/`DELETE /users/{id}`), Keycloak's
//! `org.keycloak.services.resources.admin.UsersResource` and `UserResource`, with the
//! `UserRepresentation` of `ModelToRepresentation`; and the service-account user of a client
//! (`ClientResource#getServiceAccountUser`, `GET /clients/{id}/service-account-user`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::auth::{AdminAuth, Need};
use super::realms::{Page, Result, with_realm, with_realm_mut};
use crate::Provider;
use crate::error::AdminError;
use crate::store::User;

/// `ModelToRepresentation#toRepresentation(session, realm, user)` (full) or `toBriefRepresentation`.
pub fn user_rep(u: &User, brief: bool) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(u.id));
    m.insert("username".into(), json!(u.username));
    if let Some(v) = &u.first_name {
        m.insert("firstName".into(), json!(v));
    }
    if let Some(v) = &u.last_name {
        m.insert("lastName".into(), json!(v));
    }
    if let Some(v) = &u.email {
        m.insert("email".into(), json!(v));
    }
    m.insert("emailVerified".into(), json!(u.email_verified));
    m.insert("createdTimestamp".into(), json!(u.created_timestamp));
    m.insert("enabled".into(), json!(u.enabled));
    if !brief {
        m.insert("totp".into(), json!(false));
        m.insert("disableableCredentialTypes".into(), json!([]));
        m.insert("requiredActions".into(), json!([]));
        m.insert("notBefore".into(), json!(0));
        if !u.attributes.is_empty() {
            m.insert("attributes".into(), json!(u.attributes));
        }
    }
    Value::Object(m)
}

/// `GET /clients/{id}/service-account-user` (no `access` block here).
pub(super) async fn service_account_user(
    auth: AdminAuth,
    State(p): State<Provider>,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response> {
    with_realm_mut(&p, &realm, |r| {
        auth.require_on(r, &id, AdminAuth::may_view_client)?;
        let c = r.client_or_404(&id)?;
        if !c.service_accounts_enabled {
            return Err(AdminError::bad_request(&format!(
                "Service account not enabled for the client '{}'",
                c.client_id
            )));
        }
        // Enabled but missing: created on the fly.
        if r.service_account_of(&id).is_none() {
            r.enable_service_account(&id);
        }
        let u = r.service_account_of(&id).expect("just ensured");
        Ok(axum::Json(user_rep(u, false)).into_response())
    })
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct UsersQuery {
    username: Option<String>,
    exact: Option<bool>,
    search: Option<String>,
    brief_representation: Option<bool>,
}

/// `GET /users?username=x[&exact=true]`: substring match unless `exact` (service accounts
/// included for attribute searches, excluded otherwise).
pub(super) async fn list_users(
    auth: AdminAuth,
    State(p): State<Provider>,
    Path(realm): Path<String>,
    Query(q): Query<UsersQuery>,
    Query(page): Query<Page>,
) -> Result<Json<Value>> {
    with_realm(&p, &realm, |r| {
        auth.require(&realm, Need::QueryUsers)?;
        let brief = q.brief_representation.unwrap_or(false);
        // Each user listed is one the caller may view (`query-users` alone lists none).
        let manage = auth.allows(&realm, Need::ManageUsers);
        let mut users: Vec<&User> = match (&q.username, &q.search) {
            (Some(name), _) => {
                let name = name.to_lowercase();
                r.users
                    .iter()
                    .filter(|u| {
                        if q.exact.unwrap_or(false) {
                            u.username == name
                        } else {
                            u.username.contains(&name)
                        }
                    })
                    .collect()
            }
            (None, Some(s)) => {
                let s = s.to_lowercase();
                r.users
                    .iter()
                    .filter(|u| u.service_account_client.is_none() && u.username.contains(&s))
                    .collect()
            }
            (None, None) => r
                .users
                .iter()
                .filter(|u| u.service_account_client.is_none())
                .collect(),
        };
        users.retain(|u| auth.may_view_user(r, &u.id));
        users.sort_by(|a, b| a.username.cmp(&b.username));
        let list: Vec<Value> = page
            .apply(users.into_iter(), 100)
            .map(|u| {
                let mut rep = user_rep(u, brief);
                // UsersResource#getUsers: each entry carries the caller's access.
                rep["access"] = json!({"manage": manage});
                rep
            })
            .collect();
        Ok(Json(Value::Array(list)))
    })
}

pub(super) async fn get_user(
    auth: AdminAuth,
    State(p): State<Provider>,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response> {
    with_realm(&p, &realm, |r| {
        auth.require_on(r, &id, AdminAuth::may_view_user)?;
        let u = r.user_or_404(&id)?;
        // UserResource#getUser adds the caller's access (a realm admin may do everything).
        let mut rep = user_rep(u, false);
        rep["access"] = auth.user_access(r, &id);
        Ok(axum::Json(rep).into_response())
    })
}

/// The fields of a `UserRepresentation` that `PUT /users/{id}` applies here; any other field
/// is ignored, as for `POST /clients` (Jackson's `null` = absent, so `Option` is enough).
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct UserUpdate {
    username: Option<String>,
    enabled: Option<bool>,
    email_verified: Option<bool>,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    attributes: Option<Map<String, Value>>,
}

/// `PUT /users/{id}`: a partial update, 204 (`UserResource#updateUser`, 26.x):
///
/// - `enabled` and `emailVerified` are applied only when present
///   (`UserResource#updateUserFromRep`: `if (rep.isEnabled() != null) user.setEnabled(..)`).
/// - `firstName`, `lastName`, `email` go through the user profile (`DefaultUserProfile#update`):
///   without an `attributes` map, the ones absent are first filled from the user
///   (`attributes.putIfAbsent`), so they are kept; *with* an `attributes` map, an absent one is
///   normalized to empty (`DefaultAttributes#normalizeAttributes`) and so cleared. E-mails are
///   lower-cased (`DefaultAttributes#normalizeAttributeValues`). Custom attributes are
///   "unmanaged" in the default user profile (policy off), so they are neither set nor removed.
/// - `username`: the realm's `editUsernameAllowed` is false (Keycloak's default; the realm file
///   does not set it), so the profile keeps the current one when absent
///   (`DefaultAttributes#normalizeAttributes`, read-only username) and
///   `UsernameMutationValidator` refuses another one: 400 with the single validation error
///   (`UserResource#validateUserProfile`, `ErrorResponse#errors` shrinks one error to itself:
///   an `ErrorRepresentation` with `field`, `errorMessage` = `Messages.READ_ONLY_USERNAME` and
///   `params` = `ValidationException.Error#getMessageParameters`, i.e. the input hint first).
///   A new name that another user has is not modelled (Keycloak: 409 from the duplicate check).
///
/// Not modelled (no such state here): `requiredActions`, `credentials`, `federationLink`, the
/// e-mail format and duplicate-e-mail validators. A body that is not a JSON object gives
/// Keycloak's JSON error; `null` makes `rep.isEnabled()` throw inside the `try`, whose
/// catch-all answers 400 `Could not update user!` (the empty-body case is UNVERIFIED: it
/// depends on Quarkus REST handing `null` to the method).
pub(super) async fn update_user(
    auth: AdminAuth,
    State(p): State<Provider>,
    Path((realm, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response> {
    let update: Option<UserUpdate> = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            tracing::info!("PUT user: bad JSON: {e}");
            AdminError::bad_json()
        })?
    };
    with_realm_mut(&p, &realm, |r| {
        auth.require_on(r, &id, AdminAuth::may_manage_user)?;
        // UsersResource#user runs first: an unknown id is 404 whatever the body.
        let user = r.user_mut_or_404(&id)?;
        let Some(u) = update else {
            return Err(AdminError::error_message(
                StatusCode::BAD_REQUEST,
                "Could not update user!",
            ));
        };
        if let Some(name) = u.username.as_deref().filter(|n| !n.trim().is_empty())
            && name.to_lowercase() != user.username
        {
            return Err(AdminError {
                status: StatusCode::BAD_REQUEST,
                body: json!({"field": "username", "errorMessage": "readOnlyUsernameMessage",
                             "params": ["username"]}),
            });
        }
        let replace_absent = u.attributes.is_some();
        let apply = |field: &mut Option<String>, value: Option<String>| match value {
            Some(v) => *field = Some(v),
            None if replace_absent => *field = None,
            None => {}
        };
        apply(&mut user.first_name, u.first_name);
        apply(&mut user.last_name, u.last_name);
        apply(
            &mut user.email,
            u.email
                .map(|e| e.to_lowercase())
                .filter(|e| !e.trim().is_empty()),
        );
        if let Some(v) = u.enabled {
            user.enabled = v;
        }
        if let Some(v) = u.email_verified {
            user.email_verified = v;
        }
        tracing::info!(realm = %realm, "admin '{}' updated user '{}' (enabled={})", auth.username, user.username, user.enabled);
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

/// `DELETE /users/{id}`: 204 (`UserResource#deleteUser` → `UserManager#removeUser` →
/// `JpaUserProvider#removeUser`, which also drops the user's role mappings). Nothing there
/// spares a service-account user: deleting one leaves its client without a service account
/// (`ClientCredentialsGrantType`: "The associated service account for the client does not
/// exist") until `GET /clients/{id}/service-account-user` creates a new one; deleting the client
/// afterwards still works (`ClientManager#removeClient` skips a missing service account).
/// Unknown id: 404 `User not found` (`UsersResource#user`).
pub(super) async fn delete_user(
    auth: AdminAuth,
    State(p): State<Provider>,
    Path((realm, id)): Path<(String, String)>,
) -> Result<Response> {
    with_realm_mut(&p, &realm, |r| {
        auth.require_on(r, &id, AdminAuth::may_manage_user)?;
        r.user_or_404(&id)?;
        let pos = r
            .users
            .iter()
            .position(|u| u.id == id)
            .expect("user_or_404 found it");
        let user = r.users.remove(pos);
        tracing::info!(realm = %realm, "admin '{}' deleted user '{}'{}", auth.username, user.username,
            if user.service_account_client.is_some() { " (a service account)" } else { "" });
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}
