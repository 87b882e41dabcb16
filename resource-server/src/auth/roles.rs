//! Step 5 of the [pipeline](super): the realm role or scope a route needs, as
//! extractors wrapping [`Authenticated`]: `Role<Readonly>`, `Scope<UsersRead>`. A valid
//! token without it gets 403 `insufficient_scope` ([RFC 6750 §3.1]). Roles come from
//! `realm_access.roles` (Keycloak) or `roles` ([RFC 9068 §7.2.1.1]); scopes from the
//! space-separated `scope` claim, matched exactly, never by substring
//! ([`super::claims::has_scope`]). A new route's requirement is a new marker type here.
//!
//! [RFC 6750 §3.1]: https://www.rfc-editor.org/rfc/rfc6750#section-3.1
//! [RFC 9068 §7.2.1.1]: https://www.rfc-editor.org/rfc/rfc9068#section-7.2.1.1

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use playbook::names;

use super::Validator;
use super::authenticated::{Authenticated, Pipeline, refuse};
use crate::config::Config;
use crate::error::{ApiError, Refusal};

/// A realm role a route requires.
pub trait RequiredRole: Send + Sync {
    const ROLE: &'static str;
}

/// A scope a route requires.
pub trait RequiredScope: Send + Sync {
    const SCOPE: &'static str;
}

/// `GET /api/users`: [`names::READONLY_ROLE`].
#[derive(Debug)]
pub struct Readonly;
impl RequiredRole for Readonly {
    const ROLE: &'static str = names::READONLY_ROLE;
}

/// `POST /api/users`: [`names::WRITE_ROLE`], which the walkthrough never grants.
#[derive(Debug)]
pub struct Write;
impl RequiredRole for Write {
    const ROLE: &'static str = names::WRITE_ROLE;
}

/// The optional client scope [`names::USERS_READ_SCOPE`].
#[derive(Debug)]
pub struct UsersRead;
impl RequiredScope for UsersRead {
    const SCOPE: &'static str = names::USERS_READ_SCOPE;
}

/// An authenticated request whose token has realm role `R`.
#[derive(Debug)]
pub struct Role<R>(pub Authenticated, pub PhantomData<R>);

impl<S, R> FromRequestParts<S> for Role<R>
where
    Arc<Validator>: FromRef<S>,
    Arc<Config>: FromRef<S>,
    S: Send + Sync,
    R: RequiredRole,
{
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = Authenticated::from_request_parts(parts, state).await?;
        if auth.claims().has_role(R::ROLE) {
            return Ok(Role(auth, PhantomData));
        }
        let error = ApiError::InsufficientScope {
            description: format!(
                "this route needs the realm role {}; the token's realm roles are {:?}. Assign \
                 the role to the client's service account and get a new token",
                R::ROLE,
                auth.claims().roles()
            ),
            scope: None,
        };
        Err(refuse(&Pipeline::of(state), parts, error))
    }
}

/// An authenticated request whose token was granted scope `S`.
#[derive(Debug)]
pub struct Scope<R>(pub Authenticated, pub PhantomData<R>);

impl<S, R> FromRequestParts<S> for Scope<R>
where
    Arc<Validator>: FromRef<S>,
    Arc<Config>: FromRef<S>,
    S: Send + Sync,
    R: RequiredScope,
{
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = Authenticated::from_request_parts(parts, state).await?;
        if auth.claims().has_scope(R::SCOPE) {
            return Ok(Scope(auth, PhantomData));
        }
        let error = ApiError::InsufficientScope {
            description: format!(
                "this route needs the scope {}; the token grants {:?}. Request it with scope={}",
                R::SCOPE,
                auth.claims().scopes(),
                R::SCOPE
            ),
            scope: Some(R::SCOPE.to_owned()),
        };
        Err(refuse(&Pipeline::of(state), parts, error))
    }
}
