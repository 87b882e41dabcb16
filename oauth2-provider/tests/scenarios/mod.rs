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

#![allow(dead_code)]

pub mod conformance;

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use playbook::Identity;
use playbook::names::{
    ADMIN_CLIENT_ID, ADMIN_REALM, CA_SUBJECT_DN, CLIENT_SUBJECT_DN, MTLS_CLIENT_ID, READONLY_ROLE,
    REALM, SECRET_CLIENT_ID, SECRET_CLIENT_SECRET, USERS_READ_SCOPE, WRITE_ROLE,
};
use playbook::pki::{DevPki, Issued};
use reqwest::StatusCode;
use serde_json::{Value, json};

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

// ---------------------------------------------------------------------------------------
// Helpers

fn identity(issued: &Issued) -> Identity {
    Identity::unchecked(
        Path::new("scenario-client.pem"),
        vec![issued.cert_der.clone()],
        issued.key_der(),
    )
}

/// An HTTPS client trusting only the fixture's CA, presenting `cert` when given.
pub fn http(f: &Fixture, cert: Option<&Issued>) -> reqwest::Client {
    playbook::install_crypto_provider();
    let id = cert.map(identity);
    playbook::https::https_client(std::slice::from_ref(&f.pki.ca.cert.cert_der), id.as_ref())
        .expect("https client")
}

pub fn issuer(f: &Fixture) -> String {
    format!("{}/realms/{REALM}", f.base_url)
}

pub fn token_url(f: &Fixture) -> String {
    format!("{}/protocol/openid-connect/token", issuer(f))
}

/// Status, headers, JSON body (Null when the body is not JSON).
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

/// Sends a request and reads its answer, recorded for the conformance check
/// ([`conformance::record`]) when a recording is in progress.
pub async fn send(request: reqwest::RequestBuilder) -> Answer {
    let (client, request) = request.build_split();
    let request = request.expect("a well-formed request");
    let (method, url) = (request.method().clone(), request.url().clone());
    let r = client
        .execute(request)
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    Answer::read(&method, r).await
}

impl Answer {
    async fn read(method: &reqwest::Method, r: reqwest::Response) -> Answer {
        let status = r.status();
        let headers = r.headers().clone();
        let url = r.url().clone();
        let text = r.text().await.expect("body");
        conformance::record(method, &url, status.as_u16(), &headers, &text);
        Answer {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    /// Asserts an RFC 6749 §5.2 error answer exactly.
    #[track_caller]
    pub fn assert_error(&self, status: u16, error: &str, description: &str) {
        assert_eq!(
            (self.status.as_u16(), &self.body),
            (
                status,
                &json!({"error": error, "error_description": description})
            ),
            "expected {status} {error} '{description}'"
        );
    }

    /// Token-endpoint answers are never cached (`TokenEndpoint`: set before any check).
    #[track_caller]
    pub fn assert_no_store(&self) {
        assert_eq!(
            self.headers
                .get("cache-control")
                .and_then(|v| v.to_str().ok()),
            Some("no-store")
        );
        assert_eq!(
            self.headers.get("pragma").and_then(|v| v.to_str().ok()),
            Some("no-cache")
        );
    }

    pub fn str(&self, key: &str) -> &str {
        self.body[key]
            .as_str()
            .unwrap_or_else(|| panic!("no string '{key}' in {}", self.body))
    }
}

pub async fn post_form(client: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> Answer {
    send(client.post(url).form(form)).await
}

/// A token request of the mTLS client with its certificate.
pub async fn mtls_token(f: &Fixture, extra: &[(&str, &str)]) -> Answer {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_id", MTLS_CLIENT_ID),
    ];
    form.extend_from_slice(extra);
    post_form(&http(f, Some(&f.pki.client)), &token_url(f), &form).await
}

/// The decoded payload of a JWT (no verification: tests that verify use jsonwebtoken).
pub fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT has a payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

pub fn header(jwt: &str) -> Value {
    let h = jwt.split('.').next().expect("header");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).expect("base64url")).expect("JSON")
}

/// Space-separated scope string as a sorted set.
pub fn scope_set(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s
        .split(' ')
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

pub fn realm_roles(claims: &Value) -> Vec<String> {
    claims["realm_access"]["roles"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

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

/// Polls a future, turning a panic inside it into `Err` (what `futures::FutureExt::catch_unwind`
/// does), so cleanup can run before the panic continues.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let inner = self.0.as_mut();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Ok(std::task::Poll::Ready(v)) => std::task::Poll::Ready(Ok(v)),
            Err(panic) => std::task::Poll::Ready(Err(panic)),
        }
    }
}

/// A `client_credentials` request of `client_id`, with `secret` in the form and `cert` on
/// the connection when given.
pub async fn client_credentials(
    f: &Fixture,
    client_id: &str,
    secret: Option<&str>,
    cert: Option<&Issued>,
) -> Answer {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
    ];
    if let Some(s) = secret {
        form.push(("client_secret", s));
    }
    post_form(&http(f, cert), &token_url(f), &form).await
}

// ---------------------------------------------------------------------------------------
// Discovery, JWKS, health

/// The discovery document names the realm's endpoints, the mTLS aliases, and the methods.
pub async fn discovery_document(f: &Fixture) {
    let url = format!("{}/.well-known/openid-configuration", issuer(f));
    let a = send(http(f, None).get(url)).await;
    assert_eq!(a.status, StatusCode::OK);
    let d = a.body;
    let iss = issuer(f);
    let p = format!("{iss}/protocol/openid-connect");
    assert_eq!(d["issuer"], json!(iss));
    assert_eq!(d["token_endpoint"], json!(format!("{p}/token")));
    assert_eq!(d["jwks_uri"], json!(format!("{p}/certs")));
    assert_eq!(
        d["introspection_endpoint"],
        json!(format!("{p}/token/introspect"))
    );
    assert_eq!(d["tls_client_certificate_bound_access_tokens"], json!(true));
    assert_eq!(
        d["mtls_endpoint_aliases"]["token_endpoint"],
        d["token_endpoint"]
    );
    assert_eq!(
        d["mtls_endpoint_aliases"]["introspection_endpoint"],
        d["introspection_endpoint"]
    );
    let has = |field: &str, v: &str| {
        assert!(
            d[field].as_array().is_some_and(|a| a.contains(&json!(v))),
            "{field} contains {v}: {}",
            d[field]
        )
    };
    for m in [
        "tls_client_auth",
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    ] {
        has("token_endpoint_auth_methods_supported", m);
        has("introspection_endpoint_auth_methods_supported", m);
    }
    assert!(
        !d["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("self_signed_tls_client_auth")),
        "Keycloak has no self_signed_tls_client_auth"
    );
    has("grant_types_supported", "client_credentials");
    has("grant_types_supported", "password");
    has("scopes_supported", "openid");
    has("scopes_supported", USERS_READ_SCOPE);
    has("id_token_signing_alg_values_supported", "RS256");
    assert!(
        d.get("token_introspection_endpoint").is_none(),
        "26.x has only introspection_endpoint"
    );
    // Unknown realm: 404.
    let a = send(http(f, None).get(format!(
        "{}/realms/no-such-realm/.well-known/openid-configuration",
        f.base_url
    )))
    .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

/// The JWKS has the RS256 signing key; kid = base64url(SHA-256(SPKI)); x5c/x5t#S256 agree.
pub async fn jwks_keys(f: &Fixture) {
    let url = format!("{}/protocol/openid-connect/certs", issuer(f));
    let a = send(http(f, None).get(&url)).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(
        a.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let jwks = a.body;
    let keys = jwks["keys"].as_array().expect("keys");
    let sig: Vec<&Value> = keys
        .iter()
        .filter(|k| k["use"] == "sig" && k["alg"] == "RS256")
        .collect();
    assert_eq!(sig.len(), 1, "one RS256 signing key: {jwks}");
    let k = sig[0];
    assert_eq!(k["kty"], "RSA");
    assert_eq!(k["e"], "AQAB");
    let kid = k["kid"].as_str().expect("kid");
    assert_eq!(kid.len(), 43, "base64url SHA-256");
    let der = STANDARD
        .decode(k["x5c"][0].as_str().expect("x5c"))
        .expect("x5c is standard base64 DER");
    assert_eq!(k["x5t#S256"], json!(playbook::rfc8705::thumbprint(&der)));
    // KeyUtils#createKeyId: SHA-256 over the certificate's SubjectPublicKeyInfo.
    let (_, cert) = x509_parser::parse_x509_certificate(&der).expect("x5c parses");
    let spki = cert.tbs_certificate.subject_pki.raw;
    let expected_kid =
        URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, spki));
    assert_eq!(kid, expected_kid);
    // The modulus in `n` is the certificate's key.
    let n = URL_SAFE_NO_PAD.decode(k["n"].as_str().unwrap()).expect("n");
    assert_eq!(n.len(), 256, "RSA-2048");
    // Accept: application/jwk-set+json switches the content type.
    let a = send(
        http(f, None)
            .get(&url)
            .header("accept", "application/jwk-set+json"),
    )
    .await;
    let content_type = a.headers["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("application/jwk-set+json"),
        "{content_type}"
    );
}

/// Health answers on the management interface.
pub async fn health_endpoints(f: &Fixture) {
    for path in [
        "/health/ready",
        "/health/live",
        "/health/started",
        "/health",
    ] {
        let a = send(http(f, None).get(format!("{}{path}", f.management_url))).await;
        assert_eq!(a.status, StatusCode::OK, "{path}");
        let v = a.body;
        assert_eq!(v["status"], "UP", "{path}: {v}");
    }
}

// ---------------------------------------------------------------------------------------
// Tokens

/// The token response of `client_credentials` with `tls_client_auth`: fields and headers.
pub async fn mtls_token_response(f: &Fixture) {
    let a = mtls_token(f, &[]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    a.assert_no_store();
    let b = &a.body;
    let expires = b["expires_in"].as_i64().expect("expires_in");
    assert!((299..=300).contains(&expires), "expires_in {expires}");
    assert_eq!(b["refresh_expires_in"], json!(0));
    assert_eq!(b["token_type"], "Bearer");
    assert_eq!(b["not-before-policy"], json!(0));
    assert_eq!(scope_set(a.str("scope")), vec!["email", "profile"]);
    for absent in ["refresh_token", "id_token", "session_state"] {
        assert!(b.get(absent).is_none(), "{absent} must be absent: {b}");
    }
}

/// The access token's header and claims: issuer, subject = service-account user,
/// `cnf.x5t#S256` = thumbprint of the client certificate used.
pub async fn mtls_token_claims(f: &Fixture) {
    let admin = Admin::login(f).await;
    let uuid = admin.client_uuid(MTLS_CLIENT_ID).await;
    let sa = admin.service_account(&uuid).await;
    let a = mtls_token(f, &[]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let jwt = a.str("access_token");
    let h = header(jwt);
    assert_eq!(h["alg"], "RS256");
    assert_eq!(h["typ"], "JWT");
    assert!(h["kid"].is_string());
    let c = claims(jwt);
    assert_eq!(c["iss"], json!(issuer(f)));
    assert_eq!(c["sub"], sa["id"]);
    assert_eq!(c["azp"], MTLS_CLIENT_ID);
    assert_eq!(c["client_id"], MTLS_CLIENT_ID);
    assert_eq!(c["typ"], "Bearer");
    assert_eq!(
        c["preferred_username"],
        json!(format!("service-account-{MTLS_CLIENT_ID}"))
    );
    assert_eq!(c["email_verified"], json!(false));
    assert_eq!(c["acr"], "1");
    assert_eq!(
        c["aud"], "account",
        "audience from the account client roles"
    );
    assert!(
        c["jti"].as_str().unwrap().starts_with("trrtcc:"),
        "{}",
        c["jti"]
    );
    // iat and exp are taken at two instants (TokenManager#initToken): a second may tick between.
    let lifetime = c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap();
    assert!((300..=301).contains(&lifetime), "exp - iat = {lifetime}");
    assert!(c.get("sid").is_none(), "transient session: no sid");
    assert_eq!(
        scope_set(c["scope"].as_str().unwrap()),
        vec!["email", "profile"]
    );
    // RFC 8705 §3.1: the token is bound to the certificate used on this connection.
    assert_eq!(c["cnf"]["x5t#S256"], json!(f.pki.client.x5t_s256()));
    let roles = realm_roles(&c);
    for r in [
        "default-roles-oauth2-playbook",
        "offline_access",
        "uma_authorization",
    ] {
        assert!(roles.contains(&r.to_owned()), "{r} in {roles:?}");
    }
    assert!(!roles.contains(&WRITE_ROLE.to_owned()));
    assert!(c["clientAddress"].is_string() && c["clientHost"].is_string());
}

/// A token verifies with jsonwebtoken (an independent JWT library) against the JWKS; a
/// tampered token does not.
pub async fn token_verifies_with_independent_library(f: &Fixture) {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header, jwk::JwkSet};
    let a = mtls_token(f, &[]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let jwt = a.str("access_token").to_owned();
    let a = send(http(f, None).get(format!("{}/protocol/openid-connect/certs", issuer(f)))).await;
    let jwks: JwkSet = serde_json::from_value(a.body).expect("JWK set parses with jsonwebtoken");
    let kid = decode_header(&jwt).expect("header").kid.expect("kid");
    let jwk = jwks.find(&kid).expect("the token's kid is in the JWKS");
    let key = DecodingKey::from_jwk(jwk).expect("RSA JWK");
    let mut v = Validation::new(Algorithm::RS256);
    v.set_issuer(&[issuer(f)]);
    v.set_audience(&["account"]);
    let data = decode::<Value>(&jwt, &key, &v).expect("signature, exp, iss and aud verify");
    assert_eq!(data.claims["azp"], MTLS_CLIENT_ID);
    // Flip one character of the payload: the signature no longer verifies.
    let mut parts: Vec<String> = jwt.split('.').map(str::to_owned).collect();
    let mut payload = claims(&jwt);
    payload["azp"] = json!("someone-else");
    parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap());
    assert!(decode::<Value>(&parts.join("."), &key, &v).is_err());
}

/// `realm_access.roles` is taken from the current role mappings: absent before the
/// walkthrough assigns the role, present after, gone again after removal.
pub async fn token_claims_follow_role_mappings(f: &Fixture) {
    let _lock = shared_service_account().await;
    let admin = Admin::login(f).await;
    let uuid = admin.client_uuid(MTLS_CLIENT_ID).await;
    let sa = admin.service_account(&uuid).await;
    let sa_id = sa["id"].as_str().unwrap();
    let role = admin.role(READONLY_ROLE).await;
    admin.set_role(sa_id, &role, false).await;
    let roles = |a: &Answer| realm_roles(&claims(a.str("access_token")));
    let before = mtls_token(f, &[]).await;
    assert!(!roles(&before).contains(&READONLY_ROLE.to_owned()));
    admin.set_role(sa_id, &role, true).await;
    let after = mtls_token(f, &[]).await;
    let result = roles(&after);
    admin.set_role(sa_id, &role, false).await;
    assert!(result.contains(&READONLY_ROLE.to_owned()), "{result:?}");
    assert!(!result.contains(&WRITE_ROLE.to_owned()));
    let removed = mtls_token(f, &[]).await;
    assert!(!roles(&removed).contains(&READONLY_ROLE.to_owned()));
}

// ---------------------------------------------------------------------------------------
// Admin API

/// The walkthrough's admin sequence, with Keycloak's answers at each step.
pub async fn admin_walkthrough(f: &Fixture) {
    let _lock = shared_service_account().await;
    let admin = Admin::login(f).await;
    // Find the client: exact match; a prefix finds nothing.
    let uuid = admin.client_uuid(MTLS_CLIENT_ID).await;
    let a = admin
        .get(&format!("/clients?clientId={MTLS_CLIENT_ID}"))
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body[0]["id"], json!(uuid));
    let c = &a.body[0];
    assert_eq!(c["clientAuthenticatorType"], "client-x509");
    assert_eq!(c["serviceAccountsEnabled"], json!(true));
    assert_eq!(c["standardFlowEnabled"], json!(false));
    assert_eq!(c["attributes"]["x509.subjectdn"], CLIENT_SUBJECT_DN);
    assert_eq!(c["attributes"]["x509.casubjectdn"], CA_SUBJECT_DN);
    assert_eq!(
        c["attributes"]["tls.client.certificate.bound.access.tokens"],
        "true"
    );
    let a = admin.get("/clients?clientId=oauth2-playbook-client").await;
    assert_eq!(a.body, json!([]), "clientId is an exact match");
    let a = admin.get(&format!("/clients/{uuid}")).await;
    assert_eq!(a.body["clientId"], MTLS_CLIENT_ID);
    // The service-account user.
    let sa = admin.service_account(&uuid).await;
    let sa_id = sa["id"].as_str().unwrap().to_owned();
    let sa_name = format!("service-account-{MTLS_CLIENT_ID}");
    assert_eq!(sa["username"], json!(sa_name));
    assert_eq!(sa["enabled"], json!(true));
    let a = admin
        .get(&format!("/users?username={sa_name}&exact=true"))
        .await;
    assert_eq!(a.body.as_array().map(Vec::len), Some(1), "{}", a.body);
    assert_eq!(a.body[0]["id"], json!(sa_id));
    let a = admin.get(&format!("/users/{sa_id}")).await;
    assert_eq!(a.body["username"], json!(sa_name));
    // The role by name.
    let role = admin.role(READONLY_ROLE).await;
    assert_eq!(role["name"], READONLY_ROLE);
    assert_eq!(role["composite"], json!(false));
    assert_eq!(role["clientRole"], json!(false));
    assert!(role["id"].is_string() && role["containerId"].is_string());
    let a = admin.get("/roles").await;
    let names: Vec<&str> = a
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(
        names.contains(&READONLY_ROLE) && names.contains(&WRITE_ROLE),
        "{names:?}"
    );
    // Assign, list, re-assign (idempotent), remove.
    let mappings = format!("/users/{sa_id}/role-mappings/realm");
    let names_of = |a: &Answer| -> Vec<String> {
        a.body
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["name"].as_str().map(str::to_owned))
            .collect()
    };
    admin.set_role(&sa_id, &role, false).await;
    admin.set_role(&sa_id, &role, true).await;
    let listed = admin.get(&mappings).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(
        names_of(&listed)
            .iter()
            .filter(|n| *n == READONLY_ROLE)
            .count(),
        1
    );
    admin.set_role(&sa_id, &role, true).await;
    let listed = admin.get(&mappings).await;
    assert_eq!(
        names_of(&listed)
            .iter()
            .filter(|n| *n == READONLY_ROLE)
            .count(),
        1,
        "idempotent"
    );
    admin.set_role(&sa_id, &role, false).await;
    let listed = admin.get(&mappings).await;
    assert!(!names_of(&listed).contains(&READONLY_ROLE.to_owned()));
    assert!(names_of(&listed).contains(&"default-roles-oauth2-playbook".to_owned()));
    admin.set_role(&sa_id, &role, false).await; // removing again: still 204
    // id and name must agree.
    let write = admin.role(WRITE_ROLE).await;
    let a = admin
        .send(
            reqwest::Method::POST,
            &mappings,
            &json!([{"id": write["id"], "name": READONLY_ROLE}]),
        )
        .await;
    assert_eq!(
        (a.status.as_u16(), a.body),
        (404, json!({"error": "Role not found"}))
    );
    let a = admin
        .send(
            reqwest::Method::POST,
            &mappings,
            &json!([{"id": "x", "name": "no-such-role"}]),
        )
        .await;
    assert_eq!(
        (a.status.as_u16(), a.body),
        (404, json!({"error": "Role not found"}))
    );
    let listed = admin.get(&mappings).await;
    assert!(
        !names_of(&listed).contains(&READONLY_ROLE.to_owned()),
        "a refused mapping changes nothing"
    );
    // Not found.
    let a = admin.get("/roles/no-such-role").await;
    assert_eq!(
        (a.status.as_u16(), a.body),
        (404, json!({"error": "Could not find role"}))
    );
    let missing = uuid::Uuid::new_v4();
    let a = admin.get(&format!("/clients/{missing}")).await;
    assert_eq!(
        (a.status.as_u16(), a.body),
        (404, json!({"error": "Could not find client"}))
    );
    let a = admin.get(&format!("/users/{missing}")).await;
    assert_eq!(
        (a.status.as_u16(), a.body),
        (404, json!({"error": "User not found"}))
    );
}

/// The admin API answers 401 `HTTP 401 Unauthorized` without a (valid) bearer token.
pub async fn admin_requires_bearer_token(f: &Fixture) {
    let url = format!("{}/admin/realms/{REALM}/clients", f.base_url);
    let a = send(http(f, None).get(&url)).await;
    assert_eq!(
        (a.status.as_u16(), a.body),
        (401, json!({"error": "HTTP 401 Unauthorized"}))
    );
    let a = send(http(f, None).get(&url).bearer_auth("not.a.token")).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
}

/// The admin token: `password` grant on `master` with `admin-cli`; wrong password refused.
pub async fn admin_token_response(f: &Fixture) {
    let client = http(f, None);
    let a = admin_password_grant(f, &client, &f.admin_password).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    a.assert_no_store();
    let expires = a.body["expires_in"].as_i64().unwrap();
    assert!(
        (59..=60).contains(&expires),
        "master tokens last 60 s: {expires}"
    );
    assert!(a.body["refresh_expires_in"].as_i64().unwrap() > 0);
    assert_eq!(a.body["token_type"], "Bearer");
    assert!(a.body["refresh_token"].is_string() && a.body["session_state"].is_string());
    let a = admin_password_grant(f, &client, "wrong-password").await;
    a.assert_error(400, "invalid_grant", "Invalid user credentials");
}

/// `POST /clients` with service accounts creates `service-account-<clientId>` with the
/// default roles; a duplicate is 409; `DELETE` removes it.
pub async fn created_client_gets_service_account(f: &Fixture) {
    let admin = Admin::login(f).await;
    let rep = json!({"protocol": "openid-connect", "publicClient": false,
                     "serviceAccountsEnabled": true, "standardFlowEnabled": false,
                     "clientAuthenticatorType": "client-secret", "secret": "scenario-secret"});
    let admin = &admin;
    admin
        .with_throwaway_client("sa", rep.clone(), |c| async move {
            let (uuid, client_id) = (c.uuid, c.client_id);
            let sa = admin.service_account(&uuid).await;
            assert_eq!(
                sa["username"],
                json!(format!("service-account-{client_id}"))
            );
            let roles = admin
                .get(&format!(
                    "/users/{}/role-mappings/realm",
                    sa["id"].as_str().unwrap()
                ))
                .await;
            let names: Vec<&str> = roles
                .body
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|r| r["name"].as_str())
                .collect();
            assert!(
                names.contains(&"default-roles-oauth2-playbook"),
                "{names:?}"
            );
            let mut dup = rep;
            dup["clientId"] = json!(client_id);
            let a = admin.send(reqwest::Method::POST, "/clients", &dup).await;
            assert_eq!(
                (a.status.as_u16(), a.body),
                (
                    409,
                    json!({"errorMessage": format!("Client {client_id} already exists")})
                )
            );
            // The new client can get a token at once.
            let t = client_credentials(f, &client_id, Some("scenario-secret"), None).await;
            assert_eq!(t.status, StatusCode::OK, "{}", t.body);
            admin.delete_client(&uuid).await;
            let a = admin.get(&format!("/clients/{uuid}")).await;
            assert_eq!(a.status, StatusCode::NOT_FOUND);
        })
        .await;
}

// ---------------------------------------------------------------------------------------
// The client-secret client, scopes, introspection

/// The client-secret client authenticates with HTTP Basic and with form post.
pub async fn secret_client_basic_and_post(f: &Fixture) {
    let client = http(f, None);
    let a = send(
        client
            .post(token_url(f))
            .basic_auth(SECRET_CLIENT_ID, Some(SECRET_CLIENT_SECRET))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "Basic: {}", a.body);
    let c = claims(a.str("access_token"));
    assert_eq!(c["azp"], SECRET_CLIENT_ID);
    assert!(c.get("cnf").is_none(), "not certificate-bound");
    let a = post_form(
        &client,
        &token_url(f),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", SECRET_CLIENT_ID),
            ("client_secret", SECRET_CLIENT_SECRET),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "post: {}", a.body);
    assert_eq!(claims(a.str("access_token"))["azp"], SECRET_CLIENT_ID);
}

/// `scope=users:read` (an optional client scope) is granted; `scope=openid` adds an ID token.
pub async fn optional_scope_and_openid(f: &Fixture) {
    let a = mtls_token(f, &[("scope", USERS_READ_SCOPE)]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(
        scope_set(a.str("scope")),
        vec!["email", "profile", USERS_READ_SCOPE]
    );
    assert_eq!(
        scope_set(claims(a.str("access_token"))["scope"].as_str().unwrap()),
        vec!["email", "profile", USERS_READ_SCOPE]
    );
    let a = mtls_token(f, &[("scope", "openid users:read")]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(
        scope_set(a.str("scope")),
        vec!["email", "openid", "profile", USERS_READ_SCOPE]
    );
    let id = claims(a.str("id_token"));
    assert_eq!(id["typ"], "ID");
    assert_eq!(id["aud"], MTLS_CLIENT_ID);
    // A default scope may be named explicitly.
    let a = mtls_token(f, &[("scope", "profile")]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
}

/// Introspection. Since Keycloak 26.6.2 the introspecting client must be in the token's
/// `aud`: the mTLS client introspecting its own token (aud `account`) gets `{"active":false}`;
/// a client with `allow.token.introspection.without.audience.check` sees the claims.
/// Unauthenticated callers and missing tokens are refused.
pub async fn introspection(f: &Fixture) {
    let url = format!("{}/protocol/openid-connect/token/introspect", issuer(f));
    let a = mtls_token(f, &[]).await;
    let token = a.str("access_token").to_owned();
    let mtls = http(f, Some(&f.pki.client));
    let i = post_form(
        &mtls,
        &url,
        &[("client_id", MTLS_CLIENT_ID), ("token", &token)],
    )
    .await;
    assert_eq!(
        (i.status.as_u16(), i.body),
        (200, json!({"active": false})),
        "not in aud"
    );
    let admin = Admin::login(f).await;
    let rep = json!({"protocol": "openid-connect", "publicClient": false, "serviceAccountsEnabled": false, "standardFlowEnabled": false,
                     "clientAuthenticatorType": "client-secret", "secret": "scenario-secret",
                     "attributes": {"allow.token.introspection.without.audience.check": "true"}});
    let (url_ref, token_ref) = (&url, &token);
    let (active, garbage) = admin
        .with_throwaway_client("introspector", rep, |c| async move {
            let introspector = http(f, None);
            let mut answers = Vec::new();
            for t in [token_ref.as_str(), "not-a-token"] {
                let form = [
                    ("client_id", c.client_id.as_str()),
                    ("client_secret", "scenario-secret"),
                    ("token", t),
                ];
                answers.push(post_form(&introspector, url_ref, &form).await);
            }
            let garbage = answers.pop().expect("two answers");
            (answers.pop().expect("two answers"), garbage)
        })
        .await;
    assert_eq!(active.status, StatusCode::OK, "{}", active.body);
    let b = &active.body;
    assert_eq!(b["active"], json!(true), "{b}");
    assert_eq!(b["client_id"], MTLS_CLIENT_ID);
    assert_eq!(b["token_type"], "Bearer");
    assert_eq!(
        b["username"],
        json!(format!("service-account-{MTLS_CLIENT_ID}"))
    );
    assert_eq!(b["cnf"]["x5t#S256"], json!(f.pki.client.x5t_s256()));
    assert_eq!(b["jti"], claims(&token)["jti"]);
    assert_eq!(
        (garbage.status.as_u16(), garbage.body),
        (200, json!({"active": false}))
    );
    let i = post_form(&mtls, &url, &[("client_id", MTLS_CLIENT_ID)]).await;
    i.assert_error(400, "invalid_request", "Token not provided.");
    let i = post_form(
        &http(f, None),
        &url,
        &[("client_id", MTLS_CLIENT_ID), ("token", &token)],
    )
    .await;
    i.assert_error(
        401,
        "invalid_client",
        "Invalid client or Invalid client credentials",
    );
}

/// Without `x509.allow.regex.pattern.comparison` Keycloak matches `x509.subjectdn` as a
/// regex against Java's legacy DN form, `CN=..., O=...` (comma *and space*).
pub async fn regex_mode_matches_java_legacy_dn(f: &Fixture) {
    let admin = Admin::login(f).await;
    let legacy = "CN=oauth2-playbook-client-credentials-mtls, O=OAuth2 Playbook";
    for (dn, expected) in [(legacy, 200u16), (CLIENT_SUBJECT_DN, 401)] {
        let rep = json!({"protocol": "openid-connect", "publicClient": false, "serviceAccountsEnabled": true,
                         "standardFlowEnabled": false, "clientAuthenticatorType": "client-x509",
                         "attributes": {"x509.subjectdn": dn, "x509.casubjectdn": CA_SUBJECT_DN}});
        let a = admin
            .with_throwaway_client("regex", rep, |c| async move {
                client_credentials(f, &c.client_id, None, Some(&f.pki.client)).await
            })
            .await;
        assert_eq!(a.status.as_u16(), expected, "regex '{dn}': {}", a.body);
    }
}

/// `PUT /clients/{id}` with the representation from `GET` and a changed `x509.subjectdn`:
/// 204, and the very next token request is authenticated against the new DN (workshop
/// lab 2 relies on it; on Keycloak it is how a realm is changed without a re-import).
pub async fn admin_update_client_attributes(f: &Fixture) {
    let admin = Admin::login(f).await;
    let rep = json!({"protocol": "openid-connect", "publicClient": false, "serviceAccountsEnabled": true,
                     "standardFlowEnabled": false, "clientAuthenticatorType": "client-x509",
                     "attributes": {"x509.subjectdn": playbook::names::OTHER_CLIENT_SUBJECT_DN,
                                    "x509.allow.regex.pattern.comparison": "false",
                                    "x509.casubjectdn": CA_SUBJECT_DN}});
    let admin = &admin;
    admin
        .with_throwaway_client("put", rep, |c| async move {
            let a = client_credentials(f, &c.client_id, None, Some(&f.pki.client)).await;
            assert_eq!(a.status.as_u16(), 401, "before: {}", a.body);
            let mut rep = admin.get(&format!("/clients/{}", c.uuid)).await.body;
            rep["attributes"]["x509.subjectdn"] = json!(CLIENT_SUBJECT_DN);
            let put = admin
                .send(reqwest::Method::PUT, &format!("/clients/{}", c.uuid), &rep)
                .await;
            assert_eq!(put.status, StatusCode::NO_CONTENT, "PUT: {}", put.body);
            let after = admin.get(&format!("/clients/{}", c.uuid)).await.body;
            assert_eq!(after["attributes"]["x509.subjectdn"], CLIENT_SUBJECT_DN);
            let a = client_credentials(f, &c.client_id, None, Some(&f.pki.client)).await;
            assert_eq!(a.status.as_u16(), 200, "after: {}", a.body);
        })
        .await;
}

// ---------------------------------------------------------------------------------------
// The token endpoint's error table (Keycloak 26.7, TokenEndpoint + authenticators + grant)

/// No `grant_type`: 400 `invalid_request`, no-store headers even on errors.
pub async fn error_missing_grant_type(f: &Fixture) {
    let a = post_form(
        &http(f, Some(&f.pki.client)),
        &token_url(f),
        &[("client_id", MTLS_CLIENT_ID)],
    )
    .await;
    a.assert_error(400, "invalid_request", "Missing form parameter: grant_type");
    a.assert_no_store();
}

/// An unknown grant type: 400 `unsupported_grant_type` (checked before client authentication).
pub async fn error_unsupported_grant_type(f: &Fixture) {
    let a = post_form(&http(f, None), &token_url(f), &[("grant_type", "magic")]).await;
    a.assert_error(400, "unsupported_grant_type", "Unsupported grant_type");
    let a = post_form(&http(f, None), &token_url(f), &[("grant_type", "")]).await;
    a.assert_error(400, "unsupported_grant_type", "Unsupported grant_type");
}

/// A parameter twice: 400 `duplicated parameter` — checked *after* client authentication.
pub async fn error_duplicated_parameter(f: &Fixture) {
    let a = mtls_token(f, &[("scope", "profile"), ("scope", "email")]).await;
    a.assert_error(400, "invalid_request", "duplicated parameter");
    // Bad credentials and a duplicate: the 401 wins.
    let a = post_form(
        &http(f, None),
        &token_url(f),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", MTLS_CLIENT_ID),
            ("scope", "a"),
            ("scope", "b"),
        ],
    )
    .await;
    a.assert_error(
        401,
        "invalid_client",
        "Invalid client or Invalid client credentials",
    );
}

/// An unknown `client_id`: 401 `invalid_client`.
pub async fn error_unknown_client(f: &Fixture) {
    let a = post_form(
        &http(f, Some(&f.pki.client)),
        &token_url(f),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "no-such-client"),
        ],
    )
    .await;
    a.assert_error(
        401,
        "invalid_client",
        "Invalid client or Invalid client credentials",
    );
}

/// No `client_id` at all, certificate presented: 401 `invalid_client` (RFC 8705 needs it).
pub async fn error_missing_client_id(f: &Fixture) {
    let a = post_form(
        &http(f, Some(&f.pki.client)),
        &token_url(f),
        &[("grant_type", "client_credentials")],
    )
    .await;
    a.assert_error(
        401,
        "invalid_client",
        "Invalid client or Invalid client credentials",
    );
}

/// The mTLS client without a certificate (allowed by `https-client-auth=request`): 401.
pub async fn error_mtls_without_certificate(f: &Fixture) {
    let a = post_form(
        &http(f, None),
        &token_url(f),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", MTLS_CLIENT_ID),
        ],
    )
    .await;
    a.assert_error(
        401,
        "invalid_client",
        "Invalid client or Invalid client credentials",
    );
    a.assert_no_store();
}

/// A certificate from the right CA with another subject DN: 401.
pub async fn error_mtls_wrong_subject_dn(f: &Fixture) {
    let a = post_form(
        &http(f, Some(&f.pki.other_client)),
        &token_url(f),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", MTLS_CLIENT_ID),
        ],
    )
    .await;
    a.assert_error(
        401,
        "invalid_client",
        "Invalid client or Invalid client credentials",
    );
}

/// A certificate with the right DN from an untrusted CA never gets past the TLS handshake.
pub async fn error_mtls_untrusted_ca_refused_in_handshake(f: &Fixture) {
    let r = http(f, Some(&f.pki.rogue_client))
        .post(token_url(f))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", MTLS_CLIENT_ID),
        ])
        .send()
        .await;
    assert!(
        r.is_err(),
        "expected a TLS failure, got {:?}",
        r.map(|r| r.status())
    );
}

/// The right certificate, but the client's `x509.casubjectdn` names another CA: 401.
pub async fn error_mtls_wrong_ca_subject_dn(f: &Fixture) {
    let admin = Admin::login(f).await;
    let rep = json!({"protocol": "openid-connect", "publicClient": false, "serviceAccountsEnabled": true, "standardFlowEnabled": false,
                     "clientAuthenticatorType": "client-x509",
                     "attributes": {"x509.subjectdn": CLIENT_SUBJECT_DN,
                                    "x509.allow.regex.pattern.comparison": "false",
                                    "x509.casubjectdn": "CN=Some Other CA,O=OAuth2 Playbook"}});
    let a = admin
        .with_throwaway_client("ca-dn", rep, |c| async move {
            client_credentials(f, &c.client_id, None, Some(&f.pki.client)).await
        })
        .await;
    a.assert_error(
        401,
        "invalid_client",
        "Invalid client or Invalid client credentials",
    );
}

/// A disabled client: 401 `invalid_client`, even with the right certificate.
pub async fn error_client_disabled(f: &Fixture) {
    let admin = Admin::login(f).await;
    let rep = json!({"protocol": "openid-connect", "publicClient": false, "enabled": false, "serviceAccountsEnabled": true,
                     "standardFlowEnabled": false, "clientAuthenticatorType": "client-x509",
                     "attributes": {"x509.subjectdn": CLIENT_SUBJECT_DN,
                                    "x509.allow.regex.pattern.comparison": "false",
                                    "x509.casubjectdn": CA_SUBJECT_DN}});
    let a = admin
        .with_throwaway_client("disabled", rep, |c| async move {
            client_credentials(f, &c.client_id, None, Some(&f.pki.client)).await
        })
        .await;
    a.assert_error(
        401,
        "invalid_client",
        "Invalid client or Invalid client credentials",
    );
}

/// A wrong or missing secret: the secret authenticator's own 401 `unauthorized_client`.
pub async fn error_wrong_client_secret(f: &Fixture) {
    let client = http(f, None);
    let basic = send(
        client
            .post(token_url(f))
            .basic_auth(SECRET_CLIENT_ID, Some("wrong"))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    let answers = [
        ("wrong secret, Basic", basic),
        (
            "wrong secret, form",
            client_credentials(f, SECRET_CLIENT_ID, Some("wrong"), None).await,
        ),
        (
            "no secret",
            client_credentials(f, SECRET_CLIENT_ID, None, None).await,
        ),
    ];
    for (case, a) in answers {
        assert_eq!(
            (a.status.as_u16(), &a.body),
            (
                401,
                &json!({"error": "unauthorized_client",
                        "error_description": "Invalid client or Invalid client credentials"})
            ),
            "{case}"
        );
    }
}

/// A client with service accounts off: 401 `unauthorized_client`.
pub async fn error_service_accounts_disabled(f: &Fixture) {
    let admin = Admin::login(f).await;
    let rep = json!({"protocol": "openid-connect", "publicClient": false, "serviceAccountsEnabled": false, "standardFlowEnabled": false,
                     "clientAuthenticatorType": "client-secret", "secret": "scenario-secret"});
    let admin = &admin;
    let (a, sa, client_id) = admin
        .with_throwaway_client("no-sa", rep, |c| async move {
            let a = client_credentials(f, &c.client_id, Some("scenario-secret"), None).await;
            let sa = admin
                .get(&format!("/clients/{}/service-account-user", c.uuid))
                .await;
            (a, sa, c.client_id)
        })
        .await;
    a.assert_error(
        401,
        "unauthorized_client",
        "Client not enabled to retrieve service account",
    );
    assert_eq!(
        (sa.status.as_u16(), sa.body),
        (
            400,
            json!({"error": format!("Service account not enabled for the client '{client_id}'")})
        )
    );
}

/// The client's service-account user disabled with `PUT /users/{id}` `{"enabled": false}` (a
/// partial update, `UserResource#updateUser`): 401 `invalid_request` quoting the username
/// (`ClientCredentialsGrantType#process`); enabled again, the same request gets a token.
pub async fn error_service_account_user_disabled(f: &Fixture) {
    let admin = Admin::login(f).await;
    let rep = json!({"protocol": "openid-connect", "publicClient": false, "serviceAccountsEnabled": true, "standardFlowEnabled": false,
                     "clientAuthenticatorType": "client-secret", "secret": "scenario-secret"});
    let admin = &admin;
    admin
        .with_throwaway_client("sa-disabled", rep, |c| async move {
            let secret = Some("scenario-secret");
            let sa = admin.service_account(&c.uuid).await;
            let username = sa["username"].as_str().expect("username").to_owned();
            assert_eq!(username, format!("service-account-{}", c.client_id));
            let user_path = format!("/users/{}", sa["id"].as_str().expect("id"));
            let before = client_credentials(f, &c.client_id, secret, None).await;
            assert_eq!(before.status, StatusCode::OK, "enabled: {}", before.body);

            let put = admin
                .send(reqwest::Method::PUT, &user_path, &json!({"enabled": false}))
                .await;
            assert_eq!(put.status, StatusCode::NO_CONTENT, "PUT user: {}", put.body);
            // Partial: only `enabled` changed, the username stayed.
            let user = admin.get(&user_path).await;
            assert_eq!(
                (&user.body["enabled"], &user.body["username"]),
                (&json!(false), &json!(username)),
                "{}",
                user.body
            );
            let a = client_credentials(f, &c.client_id, secret, None).await;
            a.assert_error(
                401,
                "invalid_request",
                &format!("User '{username}' disabled"),
            );
            a.assert_no_store();

            let put = admin
                .send(reqwest::Method::PUT, &user_path, &json!({"enabled": true}))
                .await;
            assert_eq!(put.status, StatusCode::NO_CONTENT, "PUT user: {}", put.body);
            let after = client_credentials(f, &c.client_id, secret, None).await;
            assert_eq!(
                after.status,
                StatusCode::OK,
                "enabled again: {}",
                after.body
            );

            // An unknown id: 404 from UsersResource#user, before the body is looked at.
            let unknown = format!("/users/{}", uuid::Uuid::new_v4());
            let a = admin
                .send(reqwest::Method::PUT, &unknown, &json!({"enabled": false}))
                .await;
            assert_eq!(
                (a.status.as_u16(), a.body),
                (404, json!({"error": "User not found"}))
            );
        })
        .await;
}

/// The client's service-account user deleted with `DELETE /users/{id}`: 401 `invalid_request`
/// "The associated service account for the client does not exist"
/// (`ClientCredentialsGrantType#process`). The client itself can still be deleted
/// (`ClientManager#removeClient` skips a missing service account).
pub async fn error_service_account_user_missing(f: &Fixture) {
    let admin = Admin::login(f).await;
    let rep = json!({"protocol": "openid-connect", "publicClient": false, "serviceAccountsEnabled": true, "standardFlowEnabled": false,
                     "clientAuthenticatorType": "client-secret", "secret": "scenario-secret"});
    let admin = &admin;
    admin
        .with_throwaway_client("sa-missing", rep, |c| async move {
            let sa = admin.service_account(&c.uuid).await;
            let user_path = format!("/users/{}", sa["id"].as_str().expect("id"));
            let deleted = admin
                .send(reqwest::Method::DELETE, &user_path, &Value::Null)
                .await;
            assert_eq!(
                deleted.status,
                StatusCode::NO_CONTENT,
                "DELETE user: {}",
                deleted.body
            );
            let not_found = json!({"error": "User not found"});
            let gone = admin.get(&user_path).await;
            assert_eq!((gone.status.as_u16(), &gone.body), (404, &not_found));
            let again = admin
                .send(reqwest::Method::DELETE, &user_path, &Value::Null)
                .await;
            assert_eq!((again.status.as_u16(), &again.body), (404, &not_found));

            let a = client_credentials(f, &c.client_id, Some("scenario-secret"), None).await;
            a.assert_error(
                401,
                "invalid_request",
                "The associated service account for the client does not exist",
            );
            a.assert_no_store();
            // Deleting the client now must be a plain 204 (the cleanup would also accept 404).
            admin.delete_client(&c.uuid).await;
        })
        .await;
}

/// A public client asking for client credentials: 401 `unauthorized_client`.
pub async fn error_public_client(f: &Fixture) {
    let admin = Admin::login(f).await;
    let rep =
        json!({"protocol": "openid-connect", "publicClient": true, "standardFlowEnabled": false});
    let a = admin
        .with_throwaway_client("public", rep, |c| async move {
            client_credentials(f, &c.client_id, None, None).await
        })
        .await;
    a.assert_error(
        401,
        "unauthorized_client",
        "Public client not allowed to retrieve service account",
    );
}

/// A bearer-only client: `TokenEndpoint#checkClient` answers 400 `invalid_client`.
pub async fn error_bearer_only_client(f: &Fixture) {
    let admin = Admin::login(f).await;
    let rep = json!({"protocol": "openid-connect", "bearerOnly": true, "standardFlowEnabled": false,
                     "clientAuthenticatorType": "client-secret", "secret": "scenario-secret"});
    let a = admin
        .with_throwaway_client("bearer-only", rep, |c| async move {
            client_credentials(f, &c.client_id, Some("scenario-secret"), None).await
        })
        .await;
    a.assert_error(400, "invalid_client", "Bearer-only not allowed");
}

/// A scope the client does not have: 400 `invalid_scope` quoting the raw parameter;
/// an empty `scope=` is invalid too.
pub async fn error_invalid_scope(f: &Fixture) {
    let a = mtls_token(f, &[("scope", "users:write")]).await;
    a.assert_error(400, "invalid_scope", "Invalid scopes: users:write");
    a.assert_no_store();
    let a = mtls_token(f, &[("scope", "openid users:write")]).await;
    a.assert_error(400, "invalid_scope", "Invalid scopes: openid users:write");
    let a = mtls_token(f, &[("scope", "")]).await;
    a.assert_error(400, "invalid_scope", "Invalid scopes: ");
}

/// Certificate-bound tokens on, no certificate (a secret client): 400 `invalid_request`.
pub async fn error_hok_binding_without_certificate(f: &Fixture) {
    let admin = Admin::login(f).await;
    let rep = json!({"protocol": "openid-connect", "publicClient": false, "serviceAccountsEnabled": true, "standardFlowEnabled": false,
                     "clientAuthenticatorType": "client-secret", "secret": "scenario-secret",
                     "attributes": {"tls.client.certificate.bound.access.tokens": "true"}});
    let (without, with) = admin
        .with_throwaway_client("hok", rep, |c| async move {
            let secret = Some("scenario-secret");
            let without = client_credentials(f, &c.client_id, secret, None).await;
            // With any trusted certificate the token is bound to it.
            let with = client_credentials(f, &c.client_id, secret, Some(&f.pki.other_client)).await;
            (without, with)
        })
        .await;
    without.assert_error(
        400,
        "invalid_request",
        "Client Certification missing for MTLS HoK Token Binding",
    );
    assert_eq!(with.status, StatusCode::OK, "{}", with.body);
    assert_eq!(
        claims(with.str("access_token"))["cnf"]["x5t#S256"],
        json!(f.pki.other_client.x5t_s256())
    );
}

/// A JSON body instead of a form: 400, the form it reads is empty.
pub async fn error_wrong_content_type(f: &Fixture) {
    let a = send(
        http(f, Some(&f.pki.client))
            .post(token_url(f))
            .json(&json!({"grant_type": "client_credentials", "client_id": MTLS_CLIENT_ID})),
    )
    .await;
    // No 415: Keycloak reads no form from a JSON body (see token_endpoint_content_types).
    a.assert_error(400, "invalid_request", "Missing form parameter: grant_type");
}

/// The mTLS (`client-x509`) client named only by the HTTP Basic user name: the secret
/// authenticator resolves it, but `X509ClientAuthenticator` reads `client_id` from the form
/// or the query only, and its challenge is the answer: 400 "Missing client_id parameter".
pub async fn error_mtls_client_named_only_by_basic(f: &Fixture) {
    let a = send(
        http(f, Some(&f.pki.client))
            .post(token_url(f))
            .basic_auth(MTLS_CLIENT_ID, Some("unused"))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    a.assert_error(400, "invalid_client", "Missing client_id parameter");
    a.assert_no_store();
    // X509ClientAuthenticator does read `?client_id=`: named there, the client gets a token.
    let a = send(
        http(f, Some(&f.pki.client))
            .post(token_url(f))
            .query(&[("client_id", MTLS_CLIENT_ID)])
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "query client_id: {}", a.body);
    assert_eq!(claims(a.str("access_token"))["azp"], MTLS_CLIENT_ID);
}

/// The `client-secret` client named only by `?client_id=`: `ClientIdAndSecretAuthenticator`
/// ignores the query, so no authenticator of its type finds it: 401 `invalid_client`.
pub async fn error_secret_client_named_only_in_query(f: &Fixture) {
    let a = send(
        http(f, None)
            .post(token_url(f))
            .query(&[("client_id", SECRET_CLIENT_ID)])
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_secret", SECRET_CLIENT_SECRET),
            ]),
    )
    .await;
    a.assert_error(
        401,
        "invalid_client",
        "Invalid client or Invalid client credentials",
    );
    a.assert_no_store();
}

/// An unknown realm: 404 from `RealmsResource`, before the token endpoint (so without its
/// `Cache-Control: no-store` / `Pragma: no-cache`).
pub async fn error_unknown_realm(f: &Fixture) {
    let url = format!(
        "{}/realms/no-such-realm/protocol/openid-connect/token",
        f.base_url
    );
    let a = post_form(
        &http(f, Some(&f.pki.client)),
        &url,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", MTLS_CLIENT_ID),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
    assert!(
        a.headers.get("pragma").is_none(),
        "no Pragma: {:?}",
        a.headers
    );
    assert_ne!(
        a.headers.get("cache-control").and_then(|v| v.to_str().ok()),
        Some("no-store"),
        "the token endpoint's no-store is not reached"
    );
}

/// `GET /clients/?clientId=` (trailing slash), as some admin clients send it. The embedded
/// provider accepts it; on Keycloak (Quarkus REST) it is UNVERIFIED, so it is asserted here
/// alone, where a failure does not hide the rest of the admin walkthrough.
pub async fn admin_clients_trailing_slash(f: &Fixture) {
    let admin = Admin::login(f).await;
    let uuid = admin.client_uuid(MTLS_CLIENT_ID).await;
    let a = admin
        .get(&format!("/clients/?clientId={MTLS_CLIENT_ID}"))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body.as_array().map(Vec::len), Some(1), "{}", a.body);
    assert_eq!(a.body[0]["id"], json!(uuid));
}

// ---------------------------------------------------------------------------------------
// Probes for the differential check (`conformance.rs`): each records Keycloak's exact
// answers; the assertions here are the parts the product relies on.

/// GET, PUT and OPTIONS on the token endpoint (a CORS preflight with and without `Origin`).
pub async fn token_endpoint_methods(f: &Fixture) {
    let client = http(f, Some(&f.pki.client));
    let url = token_url(f);
    let get = send(client.get(&url)).await;
    assert!(get.status.is_client_error(), "GET: {}", get.status);
    let put = send(client.put(&url).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", MTLS_CLIENT_ID),
    ]))
    .await;
    assert!(put.status.is_client_error(), "PUT: {}", put.status);
    for origin in [None, Some("https://app.example.test")] {
        let mut r = client
            .request(reqwest::Method::OPTIONS, &url)
            .header("access-control-request-method", "POST");
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        let a = send(r).await;
        assert!(a.status.is_success(), "OPTIONS {origin:?}: {}", a.status);
    }
}

/// Discovery asked for with an `Origin` (a browser app), and the RFC 8414 document.
pub async fn discovery_variants(f: &Fixture) {
    let client = http(f, None);
    let a = send(
        client
            .get(format!("{}/.well-known/openid-configuration", issuer(f)))
            .header("origin", "https://app.example.test"),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    let a = send(client.get(format!(
        "{}/.well-known/oauth-authorization-server",
        issuer(f)
    )))
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["issuer"], json!(issuer(f)));
    assert_eq!(a.body["token_endpoint"], json!(token_url(f)));
}

/// What `Content-Type` a token request may carry: the form type (with `charset`), a type
/// that only starts like it, another type, none.
pub async fn token_endpoint_content_types(f: &Fixture) {
    let client = http(f, Some(&f.pki.client));
    let body = format!("grant_type=client_credentials&client_id={MTLS_CLIENT_ID}");
    let with_type = |ct: Option<&str>, query: bool| {
        let mut r = client.post(token_url(f)).body(body.clone());
        if query {
            r = r.query(&[("client_id", MTLS_CLIENT_ID)]);
        }
        match ct {
            Some(ct) => r.header("content-type", ct),
            None => r,
        }
    };
    let a = send(with_type(
        Some("application/x-www-form-urlencoded; charset=UTF-8"),
        false,
    ))
    .await;
    assert_eq!(a.status, StatusCode::OK, "charset: {}", a.body);
    for ct in [None, Some("application/json"), Some("text/plain")] {
        let a = send(with_type(ct, false)).await;
        a.assert_error(400, "invalid_request", "Missing form parameter: grant_type");
        a.assert_no_store();
    }
    // Only starts like a form: the endpoint reads grant_type, the authenticator no client_id.
    let evil = Some("application/x-www-form-urlencoded-evil");
    let a = send(with_type(evil, false)).await;
    a.assert_error(
        401,
        "invalid_client",
        "Invalid client or Invalid client credentials",
    );
    let a = send(with_type(evil, true)).await;
    assert_eq!(a.status, StatusCode::OK, "evil + ?client_id: {}", a.body);
}

/// HTTP Basic and form credentials in one request: right or wrong, same or other client.
pub async fn basic_and_form_credentials(f: &Fixture) {
    let client = http(f, None);
    let cases: [(&str, &str, &str, &str); 4] = [
        (
            SECRET_CLIENT_SECRET,
            SECRET_CLIENT_ID,
            SECRET_CLIENT_SECRET,
            "right, same client",
        ),
        (
            "wrong",
            SECRET_CLIENT_ID,
            SECRET_CLIENT_SECRET,
            "wrong Basic, right form",
        ),
        (
            SECRET_CLIENT_SECRET,
            SECRET_CLIENT_ID,
            "wrong",
            "right Basic, wrong form",
        ),
        (
            SECRET_CLIENT_SECRET,
            MTLS_CLIENT_ID,
            "anything",
            "form names another client",
        ),
    ];
    let mut statuses = Vec::new();
    for (basic_secret, form_client, form_secret, case) in cases {
        let a = send(
            client
                .post(token_url(f))
                .basic_auth(SECRET_CLIENT_ID, Some(basic_secret))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", form_client),
                    ("client_secret", form_secret),
                ]),
        )
        .await;
        a.assert_no_store();
        statuses.push((case, a.status.as_u16()));
    }
    assert_eq!(statuses[0], ("right, same client", 200), "{statuses:?}");
}

/// `client.secret.authentication.allowed.method`: a secret client limited to one method.
pub async fn secret_authentication_allowed_method(f: &Fixture) {
    let admin = Admin::login(f).await;
    let rep = json!({"protocol": "openid-connect", "publicClient": false, "serviceAccountsEnabled": true,
                     "standardFlowEnabled": false, "clientAuthenticatorType": "client-secret",
                     "secret": "scenario-secret",
                     "attributes": {"client.secret.authentication.allowed.method": "client_secret_post"}});
    let (post, basic) = admin
        .with_throwaway_client("allowed-method", rep, |c| async move {
            let client = http(f, None);
            let post = client_credentials(f, &c.client_id, Some("scenario-secret"), None).await;
            let basic = send(
                client
                    .post(token_url(f))
                    .basic_auth(&c.client_id, Some("scenario-secret"))
                    .form(&[("grant_type", "client_credentials")]),
            )
            .await;
            (post, basic)
        })
        .await;
    assert_eq!(
        post.status,
        StatusCode::OK,
        "client_secret_post: {}",
        post.body
    );
    assert!(basic.status.is_client_error() || basic.status.is_success());
}

/// The admin API's refusals: a token of the wrong realm or without admin roles (403), an
/// unknown client, user and role (404).
pub async fn admin_error_bodies(f: &Fixture) {
    let a = mtls_token(f, &[]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let token = a.str("access_token").to_owned();
    let url = format!("{}/admin/realms/{REALM}/clients", f.base_url);
    let a = send(http(f, None).get(&url).bearer_auth(&token)).await;
    assert!(
        matches!(a.status.as_u16(), 401 | 403),
        "a client token at the admin API: {} {}",
        a.status,
        a.body
    );
    let admin = Admin::login(f).await;
    let unknown = uuid::Uuid::new_v4();
    for path in [
        format!("/clients/{unknown}"),
        format!("/users/{unknown}"),
        "/roles/no-such-role".to_owned(),
    ] {
        let a = admin.get(&path).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}: {}", a.body);
    }
}

/// Introspection of a certificate-bound token, an unbound one, an expired one and another
/// realm's, by a confidential client allowed to introspect any token.
pub async fn introspection_of_tokens(f: &Fixture) {
    let bound = mtls_token(f, &[]).await.str("access_token").to_owned();
    let unbound = client_credentials(f, SECRET_CLIENT_ID, Some(SECRET_CLIENT_SECRET), None)
        .await
        .str("access_token")
        .to_owned();
    let other_realm = admin_password_grant(f, &http(f, None), &f.admin_password)
        .await
        .str("access_token")
        .to_owned();
    let admin = Admin::login(f).await;
    let short = json!({"protocol": "openid-connect", "publicClient": false, "serviceAccountsEnabled": true,
                       "standardFlowEnabled": false, "clientAuthenticatorType": "client-secret",
                       "secret": "scenario-secret", "attributes": {"access.token.lifespan": "1"}});
    let expired = admin
        .with_throwaway_client("short-lived", short, |c| async move {
            let a = client_credentials(f, &c.client_id, Some("scenario-secret"), None).await;
            assert_eq!(a.status, StatusCode::OK, "{}", a.body);
            a.str("access_token").to_owned()
        })
        .await;
    // Past exp (1 s lifetime), with a margin for clock granularity.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let rep = json!({"protocol": "openid-connect", "publicClient": false, "serviceAccountsEnabled": false,
                     "standardFlowEnabled": false, "clientAuthenticatorType": "client-secret",
                     "secret": "scenario-secret",
                     "attributes": {"allow.token.introspection.without.audience.check": "true"}});
    let url = format!("{}/protocol/openid-connect/token/introspect", issuer(f));
    let tokens = [&bound, &unbound, &expired, &other_realm];
    let answers = admin
        .with_throwaway_client("introspector", rep, |c| async move {
            let mut answers = Vec::new();
            for t in tokens {
                let form = [
                    ("client_id", c.client_id.as_str()),
                    ("client_secret", "scenario-secret"),
                    ("token", t.as_str()),
                ];
                answers.push(post_form(&http(f, None), &url, &form).await);
            }
            answers
        })
        .await;
    let active: Vec<bool> = answers
        .iter()
        .map(|a| a.body["active"].as_bool().unwrap_or(false))
        .collect();
    assert_eq!(
        active,
        [true, true, false, false],
        "bound, unbound, expired, other realm"
    );
    assert_eq!(
        answers[0].body["cnf"]["x5t#S256"],
        json!(f.pki.client.x5t_s256())
    );
    assert!(answers[1].body.get("cnf").is_none(), "{}", answers[1].body);
}

// ---------------------------------------------------------------------------------------
// The fixture realms of `tests/realm_import.rs`, imported beside the playground's realm by
// every provider under test (embedded, native Keycloak, container): the differential check
// compares their discovery, their JWKS and a token of each of their clients.

/// The fixture files and directories every provider under test imports too.
pub fn fixture_realm_paths() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/realms");
    [
        "builtins-realm.json",
        "keys-realm.json",
        "legacy-keys-realm.json",
        "scopes-array-realm.json",
        "two-realms.json",
        "dir-export",
    ]
    .iter()
    .map(|name| dir.join(name))
    .collect()
}

/// Each fixture realm and its client-secret clients (secret `<clientId>-secret`).
pub const FIXTURE_REALMS: &[(&str, &[&str])] = &[
    ("builtins", &["svc"]),
    (
        "keys",
        &["rs-client", "es-client", "ps-client", "ed-client"],
    ),
    ("legacy-keys", &["svc"]),
    ("scopes-array", &["svc"]),
    ("first", &["one"]),
    ("second", &["two"]),
    ("dirx", &[]),
];

/// Discovery, JWKS and a client-credentials token in each fixture realm.
pub async fn fixture_realms(f: &Fixture) {
    let client = http(f, None);
    for (realm, clients) in FIXTURE_REALMS {
        let base = format!("{}/realms/{realm}", f.base_url);
        let a = send(client.get(format!("{base}/.well-known/openid-configuration"))).await;
        assert_eq!(a.status, StatusCode::OK, "discovery of {realm}: {}", a.body);
        let a = send(client.get(format!("{base}/protocol/openid-connect/certs"))).await;
        assert_eq!(a.status, StatusCode::OK, "JWKS of {realm}: {}", a.body);
        for c in *clients {
            let secret = format!("{c}-secret");
            let a = post_form(
                &client,
                &format!("{base}/protocol/openid-connect/token"),
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", c),
                    ("client_secret", &secret),
                ],
            )
            .await;
            assert_eq!(
                a.status,
                StatusCode::OK,
                "token of {c} in {realm}: {}",
                a.body
            );
        }
    }
}
