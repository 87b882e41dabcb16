//! The scenario suite shared by the embedded provider and a real Keycloak: every scenario is
//! an `async fn(&Fixture)` that talks HTTPS to `fixture.base_url`, and asserts what Keycloak
//! 26.7 answers. One list, two providers:
//!
//! ```ignore
//! #[macro_use]
//! mod scenarios;
//! scenario_tests!(my_fixture);                      // one #[tokio::test] per scenario
//! scenario_tests!(my_fixture, #[ignore = "needs a container engine"]);
//! ```
//!
//! Rules every scenario keeps, because against Keycloak one container serves them all:
//! - it is independent of the others and leaves the provider as it found it (throwaway
//!   clients get unique ids and are deleted; a role it assigns is removed);
//! - scenarios that assign roles to the shared mTLS service account, or assert on its
//!   role-dependent claims, hold [`shared_service_account`] so they never interleave;
//! - nothing depends on JSON key order or on the order of roles in a list.
//!
//! # Layout
//!
//! `scenario_names!` below is the one list of scenarios; each is written in the file of its
//! topic: `discovery.rs` (discovery, JWKS, health), `token.rs` (tokens granted),
//! `token_errors.rs` (the token endpoint's refusals: the error table, `REFUSALS`, and the
//! refusals that need more than one request), `admin.rs` (the admin API),
//! `introspection.rs`, `dpop.rs` (DPoP at the token endpoint), `client_jwt.rs` (`private_key_jwt`), `fixture_realms.rs` (the realms of `tests/realm_import.rs`),
//! `imported_realms.rs` (one corpus realm per class of issue 21). What
//! they share: `helpers.rs` (HTTPS client, requests, answers, JWT parts), `token_request.rs`
//! (a token request as data, for the error table), `admin_api.rs`
//! (the admin API client, throwaway clients), `conformance.rs` (recording and comparing
//! every answer with Keycloak's).

#![allow(dead_code)]

pub mod admin;
pub mod admin_api;
pub mod client_jwt;
pub mod conformance;
pub mod discovery;
pub mod doctor;
pub mod dpop;
pub mod fixture_realms;
pub mod helpers;
pub mod imported_realms;
pub mod introspection;
pub mod provisioner;
pub mod token;
pub mod token_errors;
pub mod token_request;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use playbook::pki::DevPki;

pub use admin::*;
pub use admin_api::*;
pub use client_jwt::*;
pub use discovery::*;
pub use doctor::*;
pub use dpop::*;
pub use fixture_realms::*;
pub use imported_realms::*;
pub use introspection::*;
pub use provisioner::*;
pub use token::*;
pub use token_errors::*;

/// Where the provider under test runs and how to reach it.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// `https://localhost:PORT` (the issuer is `{base_url}/realms/oauth2-playbook`).
    pub base_url: String,
    /// `https://localhost:PORT` of the management interface (health).
    pub management_url: String,
    /// The PKI whose CA the provider trusts and whose DNs the realm file names.
    pub pki: Arc<DevPki>,
    pub admin_username: String,
    pub admin_password: String,
}

impl Fixture {
    /// A real Keycloak (native or in a container) at `base_url`, with the bootstrap admin the
    /// runners give it (`KC_BOOTSTRAP_ADMIN_*`, the playground's defaults).
    pub fn keycloak(base_url: &str, management_url: &str, pki: Arc<DevPki>) -> Fixture {
        Fixture {
            base_url: base_url.to_owned(),
            management_url: management_url.to_owned(),
            pki,
            admin_username: playbook::names::DEFAULT_ADMIN_USERNAME.to_owned(),
            admin_password: playbook::names::DEFAULT_ADMIN_PASSWORD.to_owned(),
        }
    }
}

pub type ScenarioFn = for<'a> fn(&'a Fixture) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// The list of scenario names, written once. `$cb` is called with `$prefix` then the names.
macro_rules! scenario_names {
    ($($cb:ident)::+ ; $($prefix:tt)*) => {
        $($cb)::+ ! { $($prefix)*
            discovery_document,
            jwks_keys,
            health_endpoints,
            mtls_token_response,
            mtls_token_claims,
            token_verifies_with_independent_library,
            token_claims_follow_role_mappings,
            admin_walkthrough,
            admin_clients_trailing_slash,
            admin_requires_bearer_token,
            admin_token_response,
            created_client_gets_service_account,
            secret_client_basic_and_post,
            optional_scope_and_openid,
            introspection,
            regex_mode_matches_java_legacy_dn,
            admin_update_client_attributes,
            error_missing_grant_type,
            error_unsupported_grant_type,
            error_duplicated_parameter,
            error_unknown_client,
            error_missing_client_id,
            error_mtls_without_certificate,
            error_mtls_wrong_subject_dn,
            error_mtls_untrusted_ca_refused_in_handshake,
            error_mtls_wrong_ca_subject_dn,
            error_client_disabled,
            error_wrong_client_secret,
            error_service_accounts_disabled,
            error_service_account_user_disabled,
            error_service_account_user_missing,
            error_public_client,
            error_bearer_only_client,
            error_invalid_scope,
            error_hok_binding_without_certificate,
            error_wrong_content_type,
            error_mtls_client_named_only_by_basic,
            error_secret_client_named_only_in_query,
            error_unknown_realm,
            token_endpoint_methods,
            discovery_variants,
            token_endpoint_content_types,
            basic_and_form_credentials,
            secret_authentication_allowed_method,
            admin_error_bodies,
            introspection_of_tokens,
            fixture_realms,
            imported_mapper_include_rules,
            imported_authorization_services_client,
            imported_export_is_migrated,
            imported_enc_key_component,
            imported_small_settings,
            provisioner_token_over_mtls,
            provisioner_assigns_readonly,
            provisioner_bound_token_ignored_by_admin_api,
            provisioner_forbidden_calls,
            provisioner_overreach_refused,
            dpop_token_response,
            dpop_proof_refusals,
            dpop_proof_from_other_clients,
            provisioner_reads_client_configuration,
            client_jwt_token_response,
            client_jwt_assertion_refusals,
            client_jwt_replay,
            client_jwt_who_answers,
            client_jwt_keys,
        }
    };
}
pub(crate) use scenario_names;

macro_rules! define_all {
    ($($name:ident),* $(,)?) => {
        mod runners {
            use super::*;
            $(
                pub fn $name<'a>(f: &'a Fixture) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
                    Box::pin(super::$name(f))
                }
            )*
        }
        /// Every scenario, by name.
        pub const ALL: &[(&str, ScenarioFn)] = &[ $( (stringify!($name), runners::$name as ScenarioFn) ),* ];
    };
}
scenario_names!(define_all;);

/// One `#[tokio::test]` per scenario; `$fixture` is an async fn returning a `Fixture` (or a
/// `&'static Fixture`); extra attributes (e.g. `#[ignore]`) are put on every test.
macro_rules! scenario_tests {
    ($fixture:path $(, #[$attr:meta])* $(,)?) => {
        $crate::scenarios::scenario_names!($crate::scenarios::__scenario_tests_impl; ($fixture) ($(#[$attr])*));
    };
}
#[allow(unused_imports)]
pub(crate) use scenario_tests;

#[doc(hidden)]
macro_rules! __scenario_tests_impl {
    (($fixture:path) ($(#[$attr:meta])*) $name:ident $(, $rest:ident)* $(,)?) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        $(#[$attr])*
        async fn $name() {
            let fixture = $fixture().await;
            $crate::scenarios::run(stringify!($name), &fixture).await;
        }
        $crate::scenarios::__scenario_tests_impl! { ($fixture) ($(#[$attr])*) $($rest),* }
    };
    (($fixture:path) ($(#[$attr:meta])*) $(,)?) => {};
}
pub(crate) use __scenario_tests_impl;

/// Runs one scenario by name, bounded in time.
pub async fn run(name: &str, fixture: &Fixture) {
    let (_, f) = ALL
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no scenario named {name}"));
    tokio::time::timeout(std::time::Duration::from_secs(60), f(fixture))
        .await
        .unwrap_or_else(|_| panic!("scenario {name} took more than 60 s"));
}

/// Held by scenarios that change or read the role mappings of the shared mTLS service account.
pub async fn shared_service_account() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}
