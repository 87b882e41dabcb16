//! What the resource server checks before a handler runs, as axum extractors: a handler's
//! signature states what the route needs.
//!
//! ```text
//! async fn list_users(Role(auth, _): Role<Readonly>) -> ...   // a realm role
//! async fn scoped(Scope(auth, _): Scope<UsersRead>) -> ...    // a scope
//! async fn whoami(auth: Authenticated) -> ...                  // any valid token
//! ```
//!
//! The pipeline, in order, one file per step (each step's refusal is logged with its reason;
//! the token itself only as a short SHA-256 fingerprint):
//!
//! 1. **The `Authorization` header** ([`bearer`], [RFC 6750 §2.1]): exactly one, scheme
//!    `Bearer` or `DPoP` ([RFC 9449 §7.1]), a `b64token`. Missing → 401 without error code; malformed → 400
//!    `invalid_request`. A token in the URL (`?access_token=`, RFC 6750 §2.3) is refused:
//!    URLs end up in logs.
//! 2. **A client certificate on this connection** ([`authenticated`]): in
//!    `--client-auth request` mode a connection may have none; protected routes then answer
//!    401 saying so, unless the token comes with the `DPoP` scheme (its binding is the proof).
//! 3. **The token** ([`validate`], [`Validator`]): JWS header (`alg` on the asymmetric
//!    allow-list, never `none` or HMAC; no `crit`), key by `kid` from the JWKS
//!    ([`crate::jwks`]), signature, `exp`/`nbf`/`iat` with leeway, `iss` exact, an access
//!    token and not an ID or refresh token (header `typ: at+jwt` per [RFC 9068], or
//!    Keycloak's claim `typ: Bearer`), `aud`/`azp` when configured. A validated token is
//!    cached until it expires or its key is no longer published, so repeated calls skip the
//!    signature check.
//! 4. **The sender constraint**: the DPoP proof ([`dpop`], [RFC 9449 §7.1]) when the token
//!    is DPoP-bound (`cnf.jkt`; the proof's `htm`, `htu`, `iat`, `ath`, key and `jti` never
//!    seen before; 401 `invalid_dpop_proof`, challenge `DPoP`), then the certificate binding
//!    ([`binding`], [RFC 8705 §3]): `cnf.x5t#S256` must equal the SHA-256 thumbprint of
//!    *this* connection's client certificate. A token bound both ways needs both. Both run on
//!    every request, cached token or not. A DPoP-bound token sent as a bearer token is
//!    refused. `--require-binding` also refuses tokens bound neither way. A `cnf` with any
//!    other confirmation method (`jwk`, …) is refused: the issuer wanted a binding this server
//!    cannot check.
//! 5. **The route's role or scope** ([`roles`]: [`Role`], [`Scope`]): 403
//!    `insufficient_scope`. Roles come from `realm_access.roles` (Keycloak) or `roles`
//!    (RFC 9068 §7.2.1.1); scopes from the space-separated `scope` claim, matched exactly,
//!    never by substring.
//!
//! [`Authenticated`] ([`authenticated`]) runs steps 1 to 4 in order; [`Role`] and [`Scope`]
//! add step 5. The claims the steps read are [`Claims`] ([`claims`]).
//!
//! [RFC 6750 §2.1]: https://www.rfc-editor.org/rfc/rfc6750#section-2.1
//! [RFC 9068]: https://www.rfc-editor.org/rfc/rfc9068#section-2.1
//! [RFC 8705 §3]: https://www.rfc-editor.org/rfc/rfc8705#section-3
//! [RFC 9449 §7.1]: https://www.rfc-editor.org/rfc/rfc9449#section-7.1

pub mod authenticated;
pub mod bearer;
pub mod binding;
pub mod claims;
pub mod dpop;
pub mod roles;
pub mod validate;

pub use authenticated::Authenticated;
pub use bearer::{access_token, bearer_token};
pub use binding::{Binding, check_binding, check_confirmation, check_sender};
pub use claims::{Claims, Confirmation, RealmAccess, has_scope, scopes_of};
pub use dpop::check_dpop;
pub use roles::{Readonly, RequiredRole, RequiredScope, Role, Scope, UsersRead, Write};
pub use validate::{Validated, Validator};
