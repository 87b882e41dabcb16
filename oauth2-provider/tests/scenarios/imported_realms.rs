//! Realm files people bring behave as in Keycloak (issue 21): a realm of the corpus
//! (`tests/fixtures/corpus/`) for each behaviour class, imported beside the playground's realm
//! by every provider under test. Each scenario's answers (tokens, JWKS, discovery) are
//! recorded and compared with Keycloak's golden answers; the assertions here are the
//! behaviour the class is about.

use std::path::{Path, PathBuf};

use reqwest::StatusCode;
use serde_json::Value;

use super::Fixture;
use super::admin_api::Admin;
use super::conformance;
use super::helpers::{claims, http, post_form, send};

/// The corpus realms the scenario suite imports too (one per class).
pub const CLASS_REALMS: &[&str] = &[
    "corpus-mapper-flags",
    "corpus-lightweight",
    "corpus-authz",
    "corpus-migrate-17-0-1",
    "corpus-keys-enc",
    "corpus-small-things",
];

pub fn class_realm_paths() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus");
    CLASS_REALMS
        .iter()
        .map(|r| dir.join(format!("{r}.json")))
        .collect()
}

/// A `client_credentials` token of `client` (secret `<client>-secret`) in `realm`: the
/// answer, and the access token's claims when granted.
async fn token(f: &Fixture, realm: &str, client: &str) -> (StatusCode, Value) {
    let secret = format!("{client}-secret");
    let url = format!(
        "{}/realms/{realm}/protocol/openid-connect/token",
        f.base_url
    );
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client),
        ("client_secret", secret.as_str()),
    ];
    let a = post_form(&http(f, None), &url, &form).await;
    let claims = a.body["access_token"]
        .as_str()
        .map(claims)
        .unwrap_or(Value::Null);
    (a.status, claims)
}

/// Class 1: mappers whose config lacks the include options, each by its type's rule; the
/// lightweight token by `lightweight.claim` alone.
pub async fn imported_mapper_include_rules(f: &Fixture) {
    let (status, claims) = token(f, "corpus-mapper-flags", "svc").await;
    assert_eq!(status, StatusCode::OK, "{claims}");
    // `roles` and `web-origins` as Keycloak 11 wrote them ("config": {}): still applied.
    assert!(claims["aud"].to_string().contains("backend"), "{claims}");
    assert_eq!(
        claims["allowed-origins"],
        serde_json::json!(["https://flags.example"])
    );
    let (_, claims) = token(f, "corpus-mapper-flags", "plain").await;
    assert!(claims.get("hard_noflag").is_none(), "{claims}");
    assert_eq!(claims["hard_flag"], "y");
    // The lightweight token: `lightweight.claim` decides, whatever `access.token.claim` says.
    let (status, light) = token(f, "corpus-lightweight", "light").await;
    assert_eq!(status, StatusCode::OK, "{light}");
    assert_eq!(
        (&light["light_on"], &light["light_only"]),
        (&"1".into(), &"1".into())
    );
    assert!(
        light.get("light_off").is_none() && light.get("realm_access").is_none(),
        "{light}"
    );
    let (_, heavy) = token(f, "corpus-lightweight", "heavy").await;
    assert!(heavy.get("realm_access").is_some(), "{heavy}");
}

/// Class 2: a client with Authorization Services is a service-account client.
pub async fn imported_authorization_services_client(f: &Fixture) {
    let (status, claims) = token(f, "corpus-authz", "resource-server").await;
    assert_eq!(status, StatusCode::OK, "{claims}");
    assert_eq!(claims["azp"], "resource-server");
    token(f, "corpus-authz", "authz-explicit-off").await;
}

/// Class 3: the migrators newer than the file's `keycloakVersion` (17.0.1): `acr` and `basic`
/// scopes, `service_account`, lightweight tokens for `admin-cli`.
pub async fn imported_export_is_migrated(f: &Fixture) {
    let (status, claims) = token(f, "corpus-migrate-17-0-1", "svc").await;
    assert_eq!(status, StatusCode::OK, "{claims}");
    assert_eq!(claims["acr"], "1", "{claims}");
    assert!(claims.get("sub").is_some(), "{claims}");
    let base = format!("{}/realms/corpus-migrate-17-0-1", f.base_url);
    let client = http(f, None);
    send(client.get(format!("{base}/.well-known/openid-configuration"))).await;
    let admin = Admin::login(f).await;
    let url = format!(
        "{}/admin/realms/corpus-migrate-17-0-1/clients?clientId=admin-cli",
        f.base_url
    );
    // Only the attribute counts here: the rest of a client's representation is another topic.
    let a = conformance::unrecorded(send(admin.http.get(url).bearer_auth(&admin.token))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(
        a.body[0]["attributes"]["client.use.lightweight.access.token.enabled"], "true",
        "{}",
        a.body
    );
}

/// Class 4: an `rsa-generated` key with `keyUse: enc` is published for encryption and never
/// signs, though its priority is the highest.
pub async fn imported_enc_key_component(f: &Fixture) {
    let base = format!("{}/realms/corpus-keys-enc", f.base_url);
    let a = send(http(f, None).get(format!("{base}/protocol/openid-connect/certs"))).await;
    let keys = a.body["keys"].as_array().cloned().unwrap_or_default();
    let enc: Vec<&Value> = keys.iter().filter(|k| k["use"] == "enc").collect();
    assert_eq!(enc.len(), 1, "{}", a.body);
    let (status, _) = token(f, "corpus-keys-enc", "svc").await;
    assert_eq!(status, StatusCode::OK);
}

/// Class 5: web origins from the redirect URIs, `acr.loa.map`, `prompt=create`.
pub async fn imported_small_settings(f: &Fixture) {
    let base = format!("{}/realms/corpus-small-things", f.base_url);
    let d = send(http(f, None).get(format!("{base}/.well-known/openid-configuration"))).await;
    assert!(
        d.body["prompt_values_supported"]
            .to_string()
            .contains("create"),
        "{}",
        d.body
    );
    token(f, "corpus-small-things", "derived-origins").await;
    token(f, "corpus-small-things", "loa").await;
}
