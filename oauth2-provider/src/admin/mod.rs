//! The Keycloak Admin REST API subset of the walkthrough, under `/admin/realms/{realm}`
//! (Bearer token of the `master` realm's admin), with Keycloak's representations and error
//! bodies (`KeycloakErrorHandler`): the routes and the headers Keycloak's admin resources
//! add. Paths are accepted with or without a trailing slash, as the official admin clients
//! send both.
//!
//! One module per Keycloak resource class (`org.keycloak.services.resources.admin`):
//! `auth` (`AdminRoot`: who may call), `realms` (`RealmAdminResource`: the realm of the
//! path), `clients` (`ClientsResource`, `ClientResource`), `users` (`UsersResource`,
//! `UserResource`, the service-account user), `roles` (`RoleContainerResource`),
//! `role_mappings` (`RoleMapperResource`).

mod auth;
mod clients;
mod realms;
mod role_mappings;
mod roles;
mod users;

use axum::Router;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use axum::routing::{MethodRouter, get};

use crate::Provider;

pub use auth::AdminAuth;
pub use clients::{ClientsQuery, client_rep};
pub use realms::Page;
pub use roles::{RolesQuery, role_rep};
pub use users::{UserUpdate, UsersQuery, user_rep};

fn both(router: Router<Provider>, path: &str, method: MethodRouter<Provider>) -> Router<Provider> {
    router
        .route(path, method.clone())
        .route(&format!("{path}/"), method)
}

/// The admin routes (state: [`Provider`]).
pub fn router() -> Router<Provider> {
    let r = Router::new();
    let r = both(
        r,
        "/admin/realms/{realm}/clients",
        get(clients::list_clients).post(clients::create_client),
    );
    let r = both(
        r,
        "/admin/realms/{realm}/clients/{id}",
        get(clients::get_client)
            .put(clients::update_client)
            .delete(clients::delete_client),
    );
    let r = both(
        r,
        "/admin/realms/{realm}/clients/{id}/roles",
        get(roles::list_client_roles),
    );
    let r = both(
        r,
        "/admin/realms/{realm}/clients/{id}/service-account-user",
        get(users::service_account_user),
    );
    let r = both(
        r,
        "/admin/realms/{realm}/roles",
        get(roles::list_roles).post(roles::create_role),
    );
    let r = both(
        r,
        "/admin/realms/{realm}/roles/{name}",
        get(roles::get_role),
    );
    let r = both(r, "/admin/realms/{realm}/users", get(users::list_users));
    let r = both(
        r,
        "/admin/realms/{realm}/users/{id}",
        get(users::get_user)
            .put(users::update_user)
            .delete(users::delete_user),
    );
    let r = both(
        r,
        "/admin/realms/{realm}/users/{id}/role-mappings",
        get(role_mappings::all_role_mappings),
    );
    let r = both(
        r,
        "/admin/realms/{realm}/users/{id}/role-mappings/realm/available",
        get(role_mappings::available_realm_roles),
    );
    let r = both(
        r,
        "/admin/realms/{realm}/users/{id}/role-mappings/clients/{client}",
        get(role_mappings::client_role_mappings)
            .post(role_mappings::change_client_role_mappings)
            .delete(role_mappings::change_client_role_mappings),
    );
    both(
        r,
        "/admin/realms/{realm}/users/{id}/role-mappings/realm",
        get(role_mappings::realm_role_mappings)
            .post(role_mappings::add_realm_role_mappings)
            .delete(role_mappings::delete_realm_role_mappings),
    )
    .layer(axum::middleware::from_fn(keycloak_headers))
}

/// The headers Keycloak 26.7.5's admin resources add (observed; `CacheControlUtil#noCache`
/// and RESTEasy's JSON writer): a successful JSON `GET` is
/// `application/json;charset=UTF-8` with `Cache-Control: no-cache`, a deleted client or
/// user answers 204 with `Cache-Control: no-cache`; errors carry plain `application/json`,
/// role-mapping changes and user updates no extra header.
async fn keycloak_headers(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().trim_end_matches('/').to_owned();
    let mut res = next.run(req).await;
    let no_cache = || HeaderValue::from_static("no-cache");
    let status = res.status();
    if method == Method::GET && status == StatusCode::OK {
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json;charset=UTF-8"),
        );
        h.insert(header::CACHE_CONTROL, no_cache());
    } else if method == Method::DELETE
        && status == StatusCode::NO_CONTENT
        && !path.contains("/role-mappings")
    {
        res.headers_mut().insert(header::CACHE_CONTROL, no_cache());
    }
    res
}
