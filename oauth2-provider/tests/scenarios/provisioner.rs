//! The provisioning client (issue 24): `oauth2-playbook-provisioner` authenticates with its
//! own certificate (`client-x509`) and calls the admin API as its service account. Its only
//! `realm-management` role is `view-clients` (to read a client's configuration); what it may
//! do to users comes from fine-grained admin permissions v2 in the realm file (the
//! `admin-permissions` client's policies): view the mTLS client's service account and map
//! roles to it, and map `oauth2-playbook-readonly`, nothing else. What it may do, and what
//! it may not (what `manage-users` alone allowed, among it).

use playbook::names::{
    MTLS_CLIENT_ID, PROVISIONER_CLIENT_ID, PROVISIONER_ROLES, READONLY_ROLE, REALM,
    REALM_MANAGEMENT_CLIENT_ID, SECRET_CLIENT_ID, WRITE_ROLE,
};
use playbook::pki::Issued;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::admin_api::Admin;
use super::helpers::{Answer, claims, client_credentials, http, send};
use super::{Fixture, shared_service_account};

/// The admin API as the provisioner: its token from the token endpoint over mTLS
/// (`provisioner.pem`), then its calls over `over` (a certificate, or none).
pub struct Provisioner {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
}

impl Provisioner {
    pub async fn login(f: &Fixture) -> Provisioner {
        Self::login_calling_over(f, Some(&f.pki.provisioner)).await
    }

    /// The token over mTLS; the admin calls over `over`.
    pub async fn login_calling_over(f: &Fixture, over: Option<&Issued>) -> Provisioner {
        let a = client_credentials(f, PROVISIONER_CLIENT_ID, None, Some(&f.pki.provisioner)).await;
        assert_eq!(a.status, StatusCode::OK, "provisioner token: {}", a.body);
        Provisioner {
            http: http(f, over),
            base: format!("{}/admin/realms", f.base_url),
            token: a.str("access_token").to_owned(),
        }
    }

    /// `path` below `/admin/realms` (e.g. `/oauth2-playbook/users`).
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Answer {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            r = r.json(b);
        }
        send(r).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(reqwest::Method::GET, path, None).await
    }
}

/// The ids the scenarios need, read by the bootstrap admin (the provisioner may not read
/// roles by name).
struct Ids {
    mtls_sa: String,
    secret_sa: String,
    provisioner_sa: String,
    mtls_client: String,
    realm_management: String,
    readonly: Value,
    write: Value,
    rm_roles: Value,
}

async fn ids(admin: &Admin) -> Ids {
    let sa = |client: String| async move {
        let uuid = admin.client_uuid(&client).await;
        admin.service_account(&uuid).await["id"]
            .as_str()
            .expect("id")
            .to_owned()
    };
    let provisioner_sa = sa(PROVISIONER_CLIENT_ID.to_owned()).await;
    // realm-management's UUID from the provisioner's mappings (its client representation is
    // not what these scenarios are about).
    let all = admin
        .get(&format!("/users/{provisioner_sa}/role-mappings"))
        .await;
    let realm_management = all.body["clientMappings"][REALM_MANAGEMENT_CLIENT_ID]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("the provisioner has realm-management roles: {}", all.body))
        .to_owned();
    let rm_roles = admin
        .get(&format!("/clients/{realm_management}/roles"))
        .await
        .body;
    let brief = |r: Value| json!({"id": r["id"], "name": r["name"]});
    Ids {
        mtls_sa: sa(MTLS_CLIENT_ID.to_owned()).await,
        secret_sa: sa(SECRET_CLIENT_ID.to_owned()).await,
        provisioner_sa,
        mtls_client: admin.client_uuid(MTLS_CLIENT_ID).await,
        realm_management,
        readonly: brief(admin.role(READONLY_ROLE).await),
        write: brief(admin.role(WRITE_ROLE).await),
        rm_roles,
    }
}

impl Ids {
    /// `[{"id","name"}]` of one `realm-management` role.
    fn rm_role(&self, name: &str) -> Value {
        let role = self
            .rm_roles
            .as_array()
            .and_then(|a| a.iter().find(|r| r["name"] == name))
            .unwrap_or_else(|| panic!("no realm-management role {name}: {}", self.rm_roles));
        json!([{"id": role["id"], "name": role["name"]}])
    }
}

/// The provisioner's token: `client_credentials` over mTLS with `provisioner.pem`, bound to
/// it (`cnf.x5t#S256`), carrying its `realm-management` roles (`view-clients` and the
/// `query-clients` it contains); another certificate is 401.
pub async fn provisioner_token_over_mtls(f: &Fixture) {
    let a = client_credentials(f, PROVISIONER_CLIENT_ID, None, Some(&f.pki.provisioner)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let c = claims(a.str("access_token"));
    assert_eq!(c["azp"], PROVISIONER_CLIENT_ID);
    assert_eq!(c["cnf"]["x5t#S256"], f.pki.provisioner.x5t_s256());
    let mut roles: Vec<&str> = c["resource_access"][REALM_MANAGEMENT_CLIENT_ID]["roles"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    roles.sort_unstable();
    // The token lists effective roles: view-clients is a composite of query-clients.
    let mut want = PROVISIONER_ROLES.to_vec();
    want.push("query-clients");
    want.sort_unstable();
    assert_eq!(roles, want, "{c}");
    let a = client_credentials(f, PROVISIONER_CLIENT_ID, None, Some(&f.pki.other_client)).await;
    a.assert_error(
        401,
        "invalid_client",
        "Invalid client or Invalid client credentials",
    );
    let a = client_credentials(f, PROVISIONER_CLIENT_ID, None, None).await;
    a.assert_error(
        401,
        "invalid_client",
        "Invalid client or Invalid client credentials",
    );
}

/// The provisioner's task: the mTLS client by `clientId` and its configuration
/// (`view-clients`), its service-account user, the roles it may map to that user (only
/// `oauth2-playbook-readonly`), the assignment, reading the mappings, the removal. What it
/// cannot read: users by search (no `query-users`), another user, roles by name
/// (`view-realm`).
pub async fn provisioner_assigns_readonly(f: &Fixture) {
    let _lock = shared_service_account().await;
    let admin = Admin::login(f).await;
    let ids = ids(&admin).await;
    let p = Provisioner::login(f).await;
    let a = p
        .get(&format!("/{REALM}/clients?clientId={MTLS_CLIENT_ID}"))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body[0]["id"], json!(ids.mtls_client));
    let client = format!("/{REALM}/clients/{}", ids.mtls_client);
    let a = p.get(&client).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["clientAuthenticatorType"], "client-x509");
    let a = p.get(&format!("{client}/service-account-user")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["id"], json!(ids.mtls_sa));
    let sa = &ids.mtls_sa;
    let a = p.get(&format!("/{REALM}/users/{sa}")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let a = p
        .get(&format!(
            "/{REALM}/users/{sa}/role-mappings/realm/available"
        ))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.names(), vec![READONLY_ROLE], "{}", a.body);
    let mappings = format!("/{REALM}/users/{sa}/role-mappings/realm");
    let body = json!([ids.readonly]);
    let a = p.call(reqwest::Method::POST, &mappings, Some(&body)).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.body);
    let a = p.get(&mappings).await;
    assert!(a.names().contains(&READONLY_ROLE), "{}", a.body);
    let a = p.get(&format!("/{REALM}/users/{sa}/role-mappings")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let a = p
        .call(reqwest::Method::DELETE, &mappings, Some(&body))
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.body);
    let a = p.get(&mappings).await;
    assert!(!a.names().contains(&READONLY_ROLE), "{}", a.body);
    // Not readable.
    let forbidden = [
        format!("/{REALM}/users?username=service-account-{MTLS_CLIENT_ID}&exact=true"),
        format!("/{REALM}/users"),
        format!("/{REALM}/users/{}", ids.secret_sa),
        format!("/{REALM}/users/{}/role-mappings/realm", ids.secret_sa),
        format!("/{REALM}/roles/{READONLY_ROLE}"),
        format!("/{REALM}/roles"),
    ];
    for path in forbidden {
        let a = p.get(&path).await;
        assert_eq!(
            (a.status.as_u16(), a.body),
            (403, json!({"error": "HTTP 403 Forbidden"})),
            "GET {path}"
        );
    }
}

/// Keycloak's admin API does not check a certificate-bound token's binding
/// (`BearerTokenAuthenticator` checks DPoP, not `cnf.x5t#S256`): the provisioner's token,
/// bound to `provisioner.pem`, works over another client's certificate and over none.
pub async fn provisioner_bound_token_ignored_by_admin_api(f: &Fixture) {
    let admin = Admin::login(f).await;
    let ids = ids(&admin).await;
    let path = format!("/{REALM}/users/{}/role-mappings/realm", ids.mtls_sa);
    for over in [Some(&f.pki.other_client), None] {
        let p = Provisioner::login_calling_over(f, over).await;
        let a = p.get(&path).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    }
}

/// What the provisioner may not do: an admin role (`realm-admin`, `manage-realm`, and the
/// `view-clients` it holds) to itself or to the mTLS client's service account; a role
/// (composite or not) of its own making; a client, or a change to one; another realm.
pub async fn provisioner_forbidden_calls(f: &Fixture) {
    let admin = Admin::login(f).await;
    let ids = ids(&admin).await;
    let p = Provisioner::login(f).await;
    let post = reqwest::Method::POST;
    let rm = &ids.realm_management;
    let mut calls: Vec<(reqwest::Method, String, Option<Value>)> = Vec::new();
    for user in [&ids.provisioner_sa, &ids.mtls_sa] {
        for role in ["realm-admin", "manage-realm", "view-clients"] {
            calls.push((
                post.clone(),
                format!("/{REALM}/users/{user}/role-mappings/clients/{rm}"),
                Some(ids.rm_role(role)),
            ));
        }
    }
    calls.push((
        post.clone(),
        format!("/{REALM}/roles"),
        Some(
            json!({"name": "scenario-provisioner-composite", "composite": true,
                    "composites": {"client": {REALM_MANAGEMENT_CLIENT_ID: ["realm-admin"]}}}),
        ),
    ));
    calls.push((
        post.clone(),
        format!("/{REALM}/roles"),
        Some(json!({"name": "scenario-provisioner-role"})),
    ));
    calls.push((
        post.clone(),
        format!("/{REALM}/clients"),
        Some(json!({"clientId": "scenario-provisioner-client"})),
    ));
    calls.push((
        reqwest::Method::PUT,
        format!("/{REALM}/clients/{}", ids.mtls_client),
        Some(json!({"clientId": MTLS_CLIENT_ID, "description": "changed by the provisioner"})),
    ));
    calls.push((reqwest::Method::GET, "/master/users".to_owned(), None));
    calls.push((reqwest::Method::GET, "/master/clients".to_owned(), None));
    for (method, path, body) in calls {
        let a = p.call(method.clone(), &path, body.as_ref()).await;
        assert_eq!(
            (a.status.as_u16(), a.body),
            (403, json!({"error": "HTTP 403 Forbidden"})),
            "{method} {path}"
        );
    }
    // Nothing changed.
    let a = admin
        .get(&format!(
            "/users/{}/role-mappings/clients/{rm}",
            ids.provisioner_sa
        ))
        .await;
    let mut names = a.names();
    names.sort_unstable();
    assert_eq!(names, PROVISIONER_ROLES);
}

/// What `manage-users` alone allowed (the realm before fine-grained permissions) and the
/// shipped provisioner may not do: another realm role (`oauth2-playbook-write`) to the mTLS
/// client's service account, the readonly role to another user (the secret client's service
/// account, or itself), and `manage-users` passed on. Each is 403 and nothing changes.
pub async fn provisioner_overreach_refused(f: &Fixture) {
    let _lock = shared_service_account().await;
    let admin = Admin::login(f).await;
    let ids = ids(&admin).await;
    let p = Provisioner::login(f).await;
    let rm = &ids.realm_management;
    let realm_mappings = |user: &str| format!("/{REALM}/users/{user}/role-mappings/realm");
    let cases = [
        (realm_mappings(&ids.mtls_sa), json!([ids.write])),
        (realm_mappings(&ids.secret_sa), json!([ids.readonly])),
        (realm_mappings(&ids.provisioner_sa), json!([ids.readonly])),
        (
            format!("/{REALM}/users/{}/role-mappings/clients/{rm}", ids.mtls_sa),
            ids.rm_role("manage-users"),
        ),
    ];
    for (path, body) in &cases {
        for method in [reqwest::Method::POST, reqwest::Method::DELETE] {
            let a = p.call(method.clone(), path, Some(body)).await;
            assert_eq!(
                (a.status.as_u16(), a.body),
                (403, json!({"error": "HTTP 403 Forbidden"})),
                "{method} {path}"
            );
        }
    }
    for user in [&ids.mtls_sa, &ids.secret_sa, &ids.provisioner_sa] {
        let a = admin
            .get(&format!("/users/{user}/role-mappings/realm"))
            .await;
        let names = a.names();
        assert!(
            !names.contains(&WRITE_ROLE)
                && (user == &ids.mtls_sa || !names.contains(&READONLY_ROLE)),
            "{user}: {}",
            a.body
        );
    }
}
