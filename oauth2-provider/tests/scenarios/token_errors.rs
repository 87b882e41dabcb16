//! The token endpoint's refusals (Keycloak 26.7: `TokenEndpoint`, the client authenticators,
//! `ClientCredentialsGrantType`): RFC 6749 §5.2 error answers.
//!
//! A refusal that is one request and its error answer is a row of [`REFUSALS`]; a scenario
//! made of rows (listed in `refusal_scenarios!`) sends its rows in the table's order, each
//! answer recorded as any other (its golden file is named by the scenario), and asserts the
//! status, the `{"error","error_description"}` body and, where the row says so, the no-store
//! headers. The refusals that need more than that (a user disabled and enabled again, a TLS
//! handshake refused, a 404 before the endpoint, …) are written as code below the table.

use playbook::names::{
    CA_SUBJECT_DN, CLIENT_SUBJECT_DN, MTLS_CLIENT_ID, SECRET_CLIENT_ID, SECRET_CLIENT_SECRET,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::Fixture;
use super::admin_api::Admin;
use super::helpers::{claims, client_credentials, http, post_form, send, token_url};
use super::token_request::{Body, Cert, TokenRequest, form, mtls_form, new_client_form};

/// One row of the error table: a request and the error answer it gets.
#[derive(Debug, Clone, Copy)]
pub struct Refusal {
    /// The scenario the row belongs to.
    pub scenario: &'static str,
    /// What the row tries (it leads the failure message).
    pub case: &'static str,
    pub request: TokenRequest,
    pub status: u16,
    /// The RFC 6749 §5.2 `error`.
    pub error: &'static str,
    pub description: &'static str,
    /// `Cache-Control: no-store` and `Pragma: no-cache` are asserted too.
    pub no_store: bool,
}

/// `invalid_client`'s and `unauthorized_client`'s description when authentication fails.
const BAD_CREDENTIALS: &str = "Invalid client or Invalid client credentials";

/// The error table: every row, grouped by scenario, in the order each scenario sends them.
pub const REFUSALS: &[Refusal] = &[
    Refusal {
        scenario: "error_missing_grant_type",
        case: "no grant_type",
        request: form(&[("client_id", MTLS_CLIENT_ID)]).cert(Cert::Client),
        status: 400,
        error: "invalid_request",
        description: "Missing form parameter: grant_type",
        no_store: true,
    },
    Refusal {
        scenario: "error_unsupported_grant_type",
        case: "grant_type=magic",
        request: form(&[("grant_type", "magic")]),
        status: 400,
        error: "unsupported_grant_type",
        description: "Unsupported grant_type",
        no_store: false,
    },
    Refusal {
        scenario: "error_unsupported_grant_type",
        case: "grant_type= (empty)",
        request: form(&[("grant_type", "")]),
        status: 400,
        error: "unsupported_grant_type",
        description: "Unsupported grant_type",
        no_store: false,
    },
    Refusal {
        scenario: "error_duplicated_parameter",
        case: "scope twice",
        request: mtls_form!(("scope", "profile"), ("scope", "email")),
        status: 400,
        error: "invalid_request",
        description: "duplicated parameter",
        no_store: false,
    },
    Refusal {
        scenario: "error_duplicated_parameter",
        case: "bad credentials and a duplicate: the 401 wins",
        request: form(&[
            ("grant_type", "client_credentials"),
            ("client_id", MTLS_CLIENT_ID),
            ("scope", "a"),
            ("scope", "b"),
        ]),
        status: 401,
        error: "invalid_client",
        description: BAD_CREDENTIALS,
        no_store: false,
    },
    Refusal {
        scenario: "error_unknown_client",
        case: "client_id=no-such-client",
        request: form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "no-such-client"),
        ])
        .cert(Cert::Client),
        status: 401,
        error: "invalid_client",
        description: BAD_CREDENTIALS,
        no_store: false,
    },
    Refusal {
        scenario: "error_missing_client_id",
        case: "no client_id, certificate presented",
        request: form(&[("grant_type", "client_credentials")]).cert(Cert::Client),
        status: 401,
        error: "invalid_client",
        description: BAD_CREDENTIALS,
        no_store: false,
    },
    Refusal {
        scenario: "error_mtls_without_certificate",
        case: "the mTLS client without a certificate",
        request: form(&[
            ("grant_type", "client_credentials"),
            ("client_id", MTLS_CLIENT_ID),
        ]),
        status: 401,
        error: "invalid_client",
        description: BAD_CREDENTIALS,
        no_store: true,
    },
    Refusal {
        scenario: "error_mtls_wrong_subject_dn",
        case: "other-client.pem",
        request: form(&[
            ("grant_type", "client_credentials"),
            ("client_id", MTLS_CLIENT_ID),
        ])
        .cert(Cert::OtherClient),
        status: 401,
        error: "invalid_client",
        description: BAD_CREDENTIALS,
        no_store: false,
    },
    Refusal {
        scenario: "error_mtls_wrong_ca_subject_dn",
        case: "x509.casubjectdn names another CA",
        request: new_client_form!().cert(Cert::Client).new_client("ca-dn", || {
            json!({"protocol": "openid-connect", "publicClient": false, "serviceAccountsEnabled": true, "standardFlowEnabled": false,
                   "clientAuthenticatorType": "client-x509",
                   "attributes": {"x509.subjectdn": CLIENT_SUBJECT_DN,
                                  "x509.allow.regex.pattern.comparison": "false",
                                  "x509.casubjectdn": "CN=Some Other CA,O=OAuth2 Playbook"}})
        }),
        status: 401,
        error: "invalid_client",
        description: BAD_CREDENTIALS,
        no_store: false,
    },
    Refusal {
        scenario: "error_client_disabled",
        case: "a disabled client with the right certificate",
        request: new_client_form!().cert(Cert::Client).new_client("disabled", || {
            json!({"protocol": "openid-connect", "publicClient": false, "enabled": false, "serviceAccountsEnabled": true,
                   "standardFlowEnabled": false, "clientAuthenticatorType": "client-x509",
                   "attributes": {"x509.subjectdn": CLIENT_SUBJECT_DN,
                                  "x509.allow.regex.pattern.comparison": "false",
                                  "x509.casubjectdn": CA_SUBJECT_DN}})
        }),
        status: 401,
        error: "invalid_client",
        description: BAD_CREDENTIALS,
        no_store: false,
    },
    Refusal {
        scenario: "error_wrong_client_secret",
        case: "wrong secret, Basic",
        request: form(&[("grant_type", "client_credentials")]).basic(SECRET_CLIENT_ID, "wrong"),
        status: 401,
        error: "unauthorized_client",
        description: BAD_CREDENTIALS,
        no_store: false,
    },
    Refusal {
        scenario: "error_wrong_client_secret",
        case: "wrong secret, form",
        request: form(&[
            ("grant_type", "client_credentials"),
            ("client_id", SECRET_CLIENT_ID),
            ("client_secret", "wrong"),
        ]),
        status: 401,
        error: "unauthorized_client",
        description: BAD_CREDENTIALS,
        no_store: false,
    },
    Refusal {
        scenario: "error_wrong_client_secret",
        case: "no secret",
        request: form(&[
            ("grant_type", "client_credentials"),
            ("client_id", SECRET_CLIENT_ID),
        ]),
        status: 401,
        error: "unauthorized_client",
        description: BAD_CREDENTIALS,
        no_store: false,
    },
    Refusal {
        scenario: "error_public_client",
        case: "a public client",
        request: new_client_form!().new_client("public", || {
            json!({"protocol": "openid-connect", "publicClient": true, "standardFlowEnabled": false})
        }),
        status: 401,
        error: "unauthorized_client",
        description: "Public client not allowed to retrieve service account",
        no_store: false,
    },
    Refusal {
        scenario: "error_bearer_only_client",
        case: "a bearer-only client with its secret",
        request: new_client_form!("scenario-secret").new_client("bearer-only", || {
            json!({"protocol": "openid-connect", "bearerOnly": true, "standardFlowEnabled": false,
                   "clientAuthenticatorType": "client-secret", "secret": "scenario-secret"})
        }),
        status: 400,
        error: "invalid_client",
        description: "Bearer-only not allowed",
        no_store: false,
    },
    Refusal {
        scenario: "error_invalid_scope",
        case: "scope=users:write",
        request: mtls_form!(("scope", "users:write")),
        status: 400,
        error: "invalid_scope",
        description: "Invalid scopes: users:write",
        no_store: true,
    },
    Refusal {
        scenario: "error_invalid_scope",
        case: "scope=openid users:write",
        request: mtls_form!(("scope", "openid users:write")),
        status: 400,
        error: "invalid_scope",
        description: "Invalid scopes: openid users:write",
        no_store: false,
    },
    Refusal {
        scenario: "error_invalid_scope",
        case: "scope= (empty)",
        request: mtls_form!(("scope", "")),
        status: 400,
        error: "invalid_scope",
        description: "Invalid scopes: ",
        no_store: false,
    },
    Refusal {
        scenario: "error_wrong_content_type",
        case: "a JSON body",
        request: TokenRequest {
            body: Body::Json(&[
                ("grant_type", "client_credentials"),
                ("client_id", MTLS_CLIENT_ID),
            ]),
            ..form(&[]).cert(Cert::Client)
        },
        status: 400,
        error: "invalid_request",
        description: "Missing form parameter: grant_type",
        no_store: false,
    },
    Refusal {
        scenario: "error_mtls_client_named_only_by_basic",
        case: "client-x509 client named by the Basic user name",
        request: form(&[("grant_type", "client_credentials")])
            .cert(Cert::Client)
            .basic(MTLS_CLIENT_ID, "unused"),
        status: 400,
        error: "invalid_client",
        description: "Missing client_id parameter",
        no_store: true,
    },
    Refusal {
        scenario: "error_secret_client_named_only_in_query",
        case: "client-secret client named by ?client_id=",
        request: form(&[
            ("grant_type", "client_credentials"),
            ("client_secret", SECRET_CLIENT_SECRET),
        ])
        .query(&[("client_id", SECRET_CLIENT_ID)]),
        status: 401,
        error: "invalid_client",
        description: BAD_CREDENTIALS,
        no_store: true,
    },
];

/// Sends the rows of `scenario`, in order, asserting each answer.
pub async fn refusals(f: &Fixture, scenario: &str) {
    let rows: Vec<&Refusal> = REFUSALS.iter().filter(|r| r.scenario == scenario).collect();
    assert!(!rows.is_empty(), "REFUSALS has no row for {scenario}");
    for row in rows {
        let a = row.request.send(f).await;
        let context = format!("{scenario}, {}: ", row.case);
        a.assert_error_in(&context, row.status, row.error, row.description);
        if row.no_store {
            a.assert_no_store();
        }
    }
}

/// One scenario per name, made of its rows of [`REFUSALS`].
macro_rules! refusal_scenarios {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        $(
            $(#[$doc])*
            pub async fn $name(f: &Fixture) {
                refusals(f, stringify!($name)).await;
            }
        )*
    };
}

refusal_scenarios! {
    /// No `grant_type`: 400 `invalid_request`, no-store headers even on errors.
    error_missing_grant_type,
    /// An unknown grant type: 400 `unsupported_grant_type` (checked before client authentication).
    error_unsupported_grant_type,
    /// A parameter twice: 400 `duplicated parameter` — checked *after* client authentication.
    error_duplicated_parameter,
    /// An unknown `client_id`: 401 `invalid_client`.
    error_unknown_client,
    /// No `client_id` at all, certificate presented: 401 `invalid_client` (RFC 8705 needs it).
    error_missing_client_id,
    /// The mTLS client without a certificate (allowed by `https-client-auth=request`): 401.
    error_mtls_without_certificate,
    /// A certificate from the right CA with another subject DN: 401.
    error_mtls_wrong_subject_dn,
    /// The right certificate, but the client's `x509.casubjectdn` names another CA: 401.
    error_mtls_wrong_ca_subject_dn,
    /// A disabled client: 401 `invalid_client`, even with the right certificate.
    error_client_disabled,
    /// A wrong or missing secret: the secret authenticator's own 401 `unauthorized_client`.
    error_wrong_client_secret,
    /// A public client asking for client credentials: 401 `unauthorized_client`.
    error_public_client,
    /// A bearer-only client: `TokenEndpoint#checkClient` answers 400 `invalid_client`.
    error_bearer_only_client,
    /// A scope the client does not have: 400 `invalid_scope` quoting the raw parameter;
    /// an empty `scope=` is invalid too.
    error_invalid_scope,
    /// A JSON body instead of a form: 400, the form it reads is empty (no 415: Keycloak reads
    /// no form from a JSON body; see `token_endpoint_content_types`).
    error_wrong_content_type,
    /// The `client-secret` client named only by `?client_id=`: `ClientIdAndSecretAuthenticator`
    /// ignores the query, so no authenticator of its type finds it: 401 `invalid_client`.
    error_secret_client_named_only_in_query,
}

// ---------------------------------------------------------------------------------------
// Refusals of more than one request and its error answer

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

/// The mTLS (`client-x509`) client named only by the HTTP Basic user name: the secret
/// authenticator resolves it, but `X509ClientAuthenticator` reads `client_id` from the form
/// or the query only, and its challenge is the answer: 400 "Missing client_id parameter".
pub async fn error_mtls_client_named_only_by_basic(f: &Fixture) {
    refusals(f, "error_mtls_client_named_only_by_basic").await;
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
