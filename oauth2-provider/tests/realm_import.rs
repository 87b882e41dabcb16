//! Realm files import as Keycloak 26.7.5 imports them (`RealmManager#importRealm`,
//! `DefaultExportImportManager`, `RepresentationToModel`): one test per kind of file, each
//! with a small fixture of ours under `tests/fixtures/realms/`. The expectations were read
//! off a real Keycloak 26.7.5 that imported the same fixtures (`kc.sh start --import-realm`
//! with `tests/fixtures/realms/*.json` and `dir-export/*.json` in `data/import`).
//!
//! ```text
//! cargo test -p oauth2-provider --test realm_import
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth2_provider::store::Realm;
use oauth2_provider::{Options, Provider, realm};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/realms")
        .join(name)
}

/// The one realm a fixture file holds, imported into the model.
fn import(name: &str) -> Realm {
    let mut inputs =
        realm::read_path(&fixture(name), &realm::Environment::default()).expect("fixture reads");
    assert_eq!(inputs.len(), 1, "{name} holds one realm");
    realm::import_realm(inputs.remove(0))
        .expect("fixture imports")
        .0
}

fn names<'a>(items: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    items.into_iter().map(str::to_owned).collect()
}

fn client_roles(realm: &Realm, client_id: &str) -> BTreeSet<String> {
    let client = realm
        .client_by_client_id(client_id)
        .unwrap_or_else(|| panic!("client {client_id}"));
    names(client.roles.iter().map(|r| r.name.as_str()))
}

/// A provider serving `paths` over TLS on loopback, and a client trusting its CA.
struct Served {
    running: oauth2_provider::Running,
    http: reqwest::Client,
}

async fn serve(paths: &[PathBuf]) -> Served {
    playbook::install_crypto_provider();
    let pki = Arc::new(playbook::pki::DevPki::generate(2, 1).expect("dev PKI"));
    let running = oauth2_provider::spawn_dev(&pki, paths, Options::default())
        .await
        .expect("serve");
    let http = playbook::https::https_client(std::slice::from_ref(&pki.ca.cert.cert_der), None)
        .expect("client");
    Served { running, http }
}

impl Served {
    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.running.url))
            .send()
            .await
            .expect("GET");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A client-credentials token response for a client-secret client of the fixtures
    /// (their secret is `<clientId>-secret`).
    async fn token(&self, realm: &str, client_id: &str, scope: Option<&str>) -> Value {
        let secret = format!("{client_id}-secret");
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret.as_str()),
        ];
        form.extend(scope.map(|s| ("scope", s)));
        let r = self
            .http
            .post(format!(
                "{}/realms/{realm}/protocol/openid-connect/token",
                self.running.url
            ))
            .form(&form)
            .send()
            .await
            .expect("token request");
        assert_eq!(r.status().as_u16(), 200, "token for {client_id} in {realm}");
        r.json().await.expect("token JSON")
    }

    async fn jwks(&self, realm: &str) -> Vec<Value> {
        let (status, doc) = self
            .get(&format!("/realms/{realm}/protocol/openid-connect/certs"))
            .await;
        assert_eq!(status, 200);
        doc["keys"].as_array().expect("keys").clone()
    }
}

/// Header and payload of a JWS, unverified.
fn parts(jwt: &str) -> (Value, Value) {
    let mut it = jwt.split('.');
    let mut next = || -> Value {
        serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(it.next().expect("part"))
                .expect("b64"),
        )
        .expect("JSON")
    };
    let header = next();
    (header, next())
}

fn set(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_str().expect("string").to_owned())
        .collect()
}

/// The token response and access-token claims of `svc` in `builtins-realm.json`, from a
/// provider serving that file.
async fn builtins_svc_token() -> (Value, Value) {
    let served = serve(&[fixture("builtins-realm.json")]).await;
    let body = served.token("builtins", "svc", None).await;
    served.running.stop().await.expect("stop");
    let (_, claims) = parts(body["access_token"].as_str().unwrap());
    (body, claims)
}

/// Class 1: a file without `realm-management`, `account`, `account-console`, `broker`,
/// `security-admin-console` and `admin-cli` gets them with their roles, so a user's
/// `clientRoles.realm-management` resolves (and expands `view-users` as Keycloak does).
#[tokio::test]
async fn builtin_clients_are_created_with_their_roles() {
    let realm = import("builtins-realm.json");
    for cid in [
        "account",
        "account-console",
        "admin-cli",
        "broker",
        "realm-management",
        "security-admin-console",
        "svc",
    ] {
        assert!(realm.client_by_client_id(cid).is_some(), "{cid}");
    }
    assert_eq!(realm.clients.len(), 7);
    let rm = client_roles(&realm, "realm-management");
    assert_eq!(rm.len(), 22, "{rm:?}");
    for r in [
        "realm-admin",
        "impersonation",
        "view-users",
        "manage-organizations",
    ] {
        assert!(rm.contains(r), "{r} in {rm:?}");
    }
    assert_eq!(
        client_roles(&realm, "account"),
        names([
            "delete-account",
            "manage-account",
            "manage-account-links",
            "manage-consent",
            "view-applications",
            "view-consent",
            "view-groups",
            "view-profile",
        ])
    );
    assert_eq!(client_roles(&realm, "broker"), names(["read-token"]));
    let rm_client = realm.client_by_client_id("realm-management").unwrap();
    assert!(rm_client.bearer_only && !rm_client.full_scope_allowed);
    // ModelToRepresentation: the two realm clients say so.
    assert_eq!(rm_client.attribute("realm_client"), Some("true"));
    let broker = realm.client_by_client_id("broker").unwrap();
    assert!(broker.bearer_only && broker.attribute_true("realm_client"));
    let admin_cli = realm.client_by_client_id("admin-cli").unwrap();
    assert!(admin_cli.public_client && admin_cli.direct_access_grants_enabled);
    assert!(!admin_cli.standard_flow_enabled);

    let (_, claims) = builtins_svc_token().await;
    assert_eq!(
        set(&claims["resource_access"]["realm-management"]["roles"]),
        names(["view-users", "query-users", "query-groups"])
    );
    assert_eq!(
        set(&claims["resource_access"]["broker"]["roles"]),
        names(["read-token"])
    );
    assert_eq!(
        set(&claims["aud"]),
        names(["realm-management", "broker", "account"])
    );
}

/// Class 1, in `master`: a `<realm>-realm` client for `master` itself and for each realm,
/// holding that realm's admin roles, each inside master's `admin` role.
#[test]
fn master_has_an_admin_client_per_realm() {
    let mut master = realm::master_realm("admin", "admin");
    realm::add_master_admin_client(&mut master, "builtins");
    for cid in ["master-realm", "builtins-realm"] {
        let client = master.client_by_client_id(cid).expect(cid);
        assert!(client.bearer_only && !client.full_scope_allowed);
        assert!(client.attribute_true("realm_client"));
        assert_eq!(
            client.roles.len(),
            21,
            "{cid}: ALL_REALM_ROLES + impersonation"
        );
    }
    let later = master.client_by_client_id("builtins-realm").unwrap();
    assert!(later.default_scopes.is_empty());
    let admin = master.role_by_name("admin").expect("admin role");
    let inside: BTreeSet<String> = admin
        .composites
        .iter()
        .map(|id| {
            let (role, client) = master.role_by_id(id).expect("composite");
            format!(
                "{}/{}",
                client.map(|c| c.client_id.as_str()).unwrap_or("realm"),
                role.name
            )
        })
        .collect();
    assert_eq!(
        inside.len(),
        43,
        "as Keycloak 26.7.5: create-realm and 2 x 21"
    );
    for r in [
        "realm/create-realm",
        "master-realm/manage-users",
        "builtins-realm/impersonation",
    ] {
        assert!(inside.contains(r), "{r} in {inside:?}");
    }
}

/// Class 2: client roles a user names but `roles.client` does not declare are created
/// (`RepresentationToModel#createClientRoleMappings`), and end up in the token.
#[tokio::test]
async fn undeclared_client_roles_are_created() {
    let realm = import("builtins-realm.json");
    assert_eq!(client_roles(&realm, "svc"), names(["reader", "writer"]));
    let alice = realm.user_by_username("alice").unwrap();
    let (role, client) = realm.role_by_id(&alice.role_ids[0]).unwrap();
    assert_eq!(
        (role.name.as_str(), client.map(|c| c.client_id.as_str())),
        ("writer", Some("svc"))
    );

    let (_, claims) = builtins_svc_token().await;
    assert_eq!(
        set(&claims["resource_access"]["svc"]["roles"]),
        names(["reader"])
    );
}

/// Class 3: user attribute values written as a string, number or boolean are read as
/// one-element lists (`StringListMapDeserializer`), as Keycloak exports them back.
#[tokio::test]
async fn scalar_user_attributes_are_one_element_lists() {
    let realm = import("builtins-realm.json");
    let sa = realm.user_by_username("service-account-svc").unwrap();
    let attr = |k: &str| sa.attributes.get(k).cloned().unwrap_or_default();
    assert_eq!(attr("team"), ["blue"]);
    assert_eq!(attr("level"), ["3"]);
    assert_eq!(attr("active"), ["true"]);
    assert_eq!(attr("tags"), ["a", "b"]);

    // The client's attribute mappers see them as Keycloak's do.
    let (_, claims) = builtins_svc_token().await;
    assert_eq!(claims["level"], 3);
    assert_eq!(claims["tags"], serde_json::json!(["a", "b"]));
}

/// Class 4: the deprecated `defaultRoles` (exports before Keycloak 13) become composites of
/// `default-roles-<realm>`, next to what Keycloak always puts there.
#[test]
fn deprecated_default_roles_become_default_role_composites() {
    let realm = import("builtins-realm.json");
    let default = realm
        .role_by_id(&realm.default_role_id)
        .expect("default role")
        .0;
    assert_eq!(default.name, "default-roles-builtins");
    let composites: BTreeSet<String> = default
        .composites
        .iter()
        .map(|id| realm.role_by_id(id).expect("composite").0.name.clone())
        .collect();
    assert_eq!(
        composites,
        names([
            "legacy-default",
            "manage-account",
            "offline_access",
            "uma_authorization",
            "view-profile",
        ])
    );
}

/// Class 5: without a `clientScopes` array Keycloak creates its built-in scopes (and the
/// realm's default lists); with one, only `offline_access` is added when missing.
#[tokio::test]
async fn builtin_client_scopes_exist_after_import() {
    let realm = import("builtins-realm.json");
    assert_eq!(
        names(realm.client_scopes.iter().map(|s| s.name.as_str())),
        names([
            "AuthnContextClassRef",
            "acr",
            "address",
            "basic",
            "email",
            "microprofile-jwt",
            "offline_access",
            "organization",
            "phone",
            "profile",
            "role_list",
            "roles",
            "saml_organization",
            "service_account",
            "web-origins",
        ])
    );
    assert_eq!(
        names(realm.default_optional_scopes.iter().map(String::as_str)),
        names([
            "offline_access",
            "address",
            "phone",
            "microprofile-jwt",
            "organization"
        ])
    );
    assert_eq!(realm.default_default_scopes.len(), 9);
    // A client without its own lists gets the realm's openid-connect defaults.
    let svc = realm.client_by_client_id("svc").unwrap();
    assert_eq!(
        names(svc.default_scopes.iter().map(String::as_str)),
        names(["web-origins", "acr", "roles", "profile", "basic", "email"])
    );

    let with_array = import("scopes-array-realm.json");
    assert_eq!(
        names(with_array.client_scopes.iter().map(|s| s.name.as_str())),
        names(["custom", "offline_access"])
    );
    assert!(with_array.default_default_scopes.is_empty());
    assert_eq!(with_array.default_optional_scopes, ["offline_access"]);
    assert!(
        with_array
            .client_by_client_id("account")
            .unwrap()
            .default_scopes
            .is_empty()
    );

    let (body, claims) = builtins_svc_token().await;
    assert_eq!(body["scope"], "profile email");
    assert_eq!(claims["preferred_username"], "service-account-svc");
    assert_eq!(claims["acr"], "1");
}

/// kid of a PEM fixture key: base64url(SHA-256(SPKI)), as Keycloak's `KeyUtils#createKeyId`.
fn kid_of_cert(x5c: &str) -> String {
    let der = base64::engine::general_purpose::STANDARD
        .decode(x5c)
        .expect("x5c");
    let (_, cert) = x509_parser::parse_x509_certificate(&der).expect("certificate");
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        cert.public_key().raw,
    ))
}

/// Class 6: the file's `KeyProvider` components are the realm's keys: the JWKS serves the
/// enabled ones (passive included, disabled and HMAC not) by priority; each client's token
/// is signed with the active key for its `access.token.signed.response.alg`; a token signed
/// with the imported ES256 key verifies against the served JWKS; an algorithm without an
/// enabled key gets a `fallback-<alg>` key on first use.
#[tokio::test]
async fn imported_keys_sign_tokens_and_are_served() {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
    let served = serve(&[fixture("keys-realm.json")]).await;
    let before = served.jwks("keys").await;
    let shape: Vec<(String, String, String)> = before
        .iter()
        .map(|k| {
            (
                k["kty"].as_str().unwrap().to_owned(),
                k["alg"].as_str().unwrap().to_owned(),
                k["use"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expect = |kty: &str, alg: &str, use_: &str| (kty.into(), alg.into(), use_.into());
    assert_eq!(
        shape,
        vec![
            expect("RSA", "RS256", "sig"), // rsa-passive, priority 150
            expect("RSA", "RS256", "sig"), // rsa-generated, 100
            expect("EC", "ES256", "sig"),  // ecdsa-generated, 100
            expect("OKP", "EdDSA", "sig"), // eddsa-generated, 100
            expect("RSA", "RSA-OAEP", "enc"),
        ]
    );
    let ec = &before[2];
    assert_eq!(ec["crv"], "P-256");
    assert!(ec.get("x5c").is_none(), "no certificate in the component");
    let (passive_kid, active_kid) = (
        before[0]["kid"].as_str().unwrap(),
        before[1]["kid"].as_str().unwrap(),
    );
    assert_eq!(
        kid_of_cert(before[1]["x5c"][0].as_str().unwrap()),
        active_kid
    );

    // ES256: header, kid, and a signature that verifies with the served EC key.
    let body = served.token("keys", "es-client", Some("openid")).await;
    let jwt = body["access_token"].as_str().unwrap();
    let (header, _) = parts(jwt);
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["kid"], ec["kid"]);
    let key = DecodingKey::from_ec_components(ec["x"].as_str().unwrap(), ec["y"].as_str().unwrap())
        .expect("EC JWK");
    let mut validation = Validation::new(Algorithm::ES256);
    validation.validate_aud = false;
    validation.set_issuer(&[format!("{}/realms/keys", served.running.url)]);
    let claims = decode::<Value>(jwt, &key, &validation).expect("ES256 signature verifies");
    assert_eq!(claims.claims["azp"], "es-client");
    let (id_header, _) = parts(body["id_token"].as_str().unwrap());
    assert_eq!(id_header["alg"], "ES256", "id.token.signed.response.alg");

    // RS256 (no attribute): the active key of highest priority, not the passive one.
    let body = served.token("keys", "rs-client", None).await;
    let (header, _) = parts(body["access_token"].as_str().unwrap());
    assert_eq!(
        (header["alg"].as_str(), header["kid"].as_str()),
        (Some("RS256"), Some(active_kid))
    );
    assert_ne!(active_kid, passive_kid);

    // EdDSA: the imported Ed25519 key (ed.pem of the fixture; kid from its SPKI).
    let body = served.token("keys", "ed-client", None).await;
    let jwt = body["access_token"].as_str().unwrap();
    let (header, _) = parts(jwt);
    assert_eq!(header["alg"], "EdDSA");
    let okp = served
        .jwks("keys")
        .await
        .into_iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the EdDSA key is published");
    assert_eq!(okp["kid"], "BeBQAxY88FaYrQzcHOTEo9LD5LCdLLVH5O4No6HyeIk");
    assert_eq!(okp["crv"], "Ed25519");
    let key = DecodingKey::from_ed_components(okp["x"].as_str().unwrap()).expect("OKP JWK");
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.validate_aud = false;
    decode::<Value>(jwt, &key, &validation).expect("EdDSA signature verifies");

    // PS256: the only PS256 key is disabled, so a fallback key is made and published.
    let body = served.token("keys", "ps-client", None).await;
    let (header, _) = parts(body["access_token"].as_str().unwrap());
    assert_eq!(header["alg"], "PS256");
    let after = served.jwks("keys").await;
    served.running.stop().await.expect("stop");
    assert_eq!(after.len(), before.len() + 1, "the fallback PS256 key");
    let fallback = after.last().unwrap();
    assert_eq!(fallback["alg"], "PS256");
    assert_eq!(fallback["kid"], header["kid"]);
    let disabled = "dsjJoVsf7RL8ycJmMqDloKmpE9HHZwtVPGjDjH4_fC4"; // legacy.pem, enabled=false
    assert!(after.iter().all(|k| k["kid"] != disabled));
}

/// Class 6 (legacy): a realm `privateKey`/`certificate` (exports before key providers)
/// becomes the `rsa` signing and `rsa-enc` encryption key, with the file's certificate.
#[tokio::test]
async fn legacy_realm_private_key_is_the_realm_key() {
    let text = std::fs::read_to_string(fixture("legacy-keys-realm.json")).unwrap();
    let file: Value = serde_json::from_str(&text).unwrap();
    let served = serve(&[fixture("legacy-keys-realm.json")]).await;
    let jwks = served.jwks("legacy-keys").await;
    let body = served.token("legacy-keys", "svc", None).await;
    served.running.stop().await.expect("stop");
    assert_eq!(jwks.len(), 2);
    assert_eq!(
        (jwks[0]["alg"].as_str(), jwks[1]["alg"].as_str()),
        (Some("RS256"), Some("RSA-OAEP"))
    );
    for k in &jwks {
        assert_eq!(k["x5c"][0], file["certificate"]);
        assert_eq!(k["kid"], "dsjJoVsf7RL8ycJmMqDloKmpE9HHZwtVPGjDjH4_fC4");
    }
    let (header, _) = parts(body["access_token"].as_str().unwrap());
    assert_eq!(header["kid"], jwks[0]["kid"]);
}

fn refused(name: &str) -> String {
    Provider::from_realm_file(&fixture(name), Options::default())
        .expect_err("Keycloak refuses this file")
        .to_string()
}

/// Class 7: what Keycloak refuses is refused, naming the file and the JSON paths.
#[test]
fn duplicate_ids_and_arrays_of_non_realms_are_refused() {
    for (file, needles) in [
        (
            "duplicate-client-ids-realm.json",
            ["`clients[1].id`", "clients[0].id"],
        ),
        (
            "duplicate-role-ids-realm.json",
            ["`roles.client.svc[0].id`", "roles.realm[0].id"],
        ),
        (
            "duplicate-user-ids-realm.json",
            ["`users[1].id`", "users[0].id"],
        ),
        ("array-of-non-realms.json", ["`[1]`", "found a string"]),
    ] {
        let e = refused(&format!("refused/{file}"));
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(e.contains(file), "{e}");
        for n in needles {
            assert!(e.contains(n), "{n} in {e}");
        }
    }
}

/// Issue 21, class 6: what Keycloak 26.7.5 refuses since it ships the name as a global client
/// profile, and client scope mappings of a client the file lacks, with Keycloak's reason and
/// the JSON path.
#[test]
fn global_profile_names_and_unknown_scope_mapping_clients_are_refused() {
    for (file, path, reason) in [
        (
            "global-profile-name-realm.json",
            "`clientProfiles.profiles[1].name`",
            "Proposed profile name 'fapi-2-dpop-security-profile' is duplicated as a global profile",
        ),
        (
            "scope-mappings-unknown-client-realm.json",
            "`clientScopeMappings.missing-app`",
            "Unable to find client role mappings for client: missing-app",
        ),
    ] {
        let e = refused(&format!("../corpus-refused/{file}"));
        assert!(e.contains(file), "{e}");
        assert!(e.contains(path), "{path} in {e}");
        assert!(e.ends_with(reason), "{reason} in {e}");
    }
}

/// Class 7: a JSON array of realms (`kc.sh export --file` of several) imports every realm.
#[tokio::test]
async fn an_array_of_realms_imports_each() {
    let served = serve(&[fixture("two-realms.json")]).await;
    let first = served.token("first", "one", None).await;
    let second = served.token("second", "two", None).await;
    served.running.stop().await.expect("stop");
    assert_eq!(
        parts(first["access_token"].as_str().unwrap()).1["azp"],
        "one"
    );
    assert_eq!(
        parts(second["access_token"].as_str().unwrap()).1["azp"],
        "two"
    );
}

/// Class 8: a `kc.sh export --dir` directory imports with its `<realm>-users-N.json`
/// files (the service account comes from a users file, not made anew), and `--realm` may
/// name several sources: every realm is served, `master` too, an unknown one is 404.
#[tokio::test]
async fn directory_exports_and_several_sources_import() {
    let realm = import("dir-export");
    assert_eq!(realm.name, "dirx");
    let carol = realm
        .user_by_username("carol")
        .expect("carol from dirx-users-0.json");
    assert_eq!(carol.attributes["site"], ["lab"]);
    let client = realm.client_by_client_id("dirx-client").unwrap();
    let sa = realm
        .service_account_of(&client.id)
        .expect("service account");
    let sa_roles: BTreeSet<String> = sa
        .role_ids
        .iter()
        .map(|id| realm.role_by_id(id).unwrap().0.name.clone())
        .collect();
    assert_eq!(sa_roles, names(["exporter", "default-roles-dirx"]));

    let served = serve(&[fixture("dir-export"), fixture("two-realms.json")]).await;
    let body = served.token("dirx", "dirx-client", None).await;
    let mut statuses = Vec::new();
    for r in ["master", "dirx", "first", "second", "nope"] {
        let (status, _) = served
            .get(&format!("/realms/{r}/.well-known/openid-configuration"))
            .await;
        statuses.push(status);
    }
    served.running.stop().await.expect("stop");
    let (_, claims) = parts(body["access_token"].as_str().unwrap());
    assert!(set(&claims["realm_access"]["roles"]).contains("exporter"));
    assert_eq!(statuses, [200, 200, 200, 200, 404]);
}

/// A realm using what the provider does not support (README: "Not supported": groups,
/// role scope mappings) still imports and serves tokens (without the roles those would
/// have granted).
#[tokio::test]
async fn unsupported_features_warn_and_never_refuse_the_realm() {
    let served = serve(&[fixture("unsupported")]).await;
    let body = served.token("unsupported", "svc", None).await;
    served.running.stop().await.expect("stop");
    let (_, claims) = parts(body["access_token"].as_str().unwrap());
    assert_eq!(claims["azp"], "svc");
    assert!(claims.get("realm_access").is_none(), "{claims}");
}
