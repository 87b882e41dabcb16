//! The fixture realms of `tests/realm_import.rs`, imported beside the playground's realm by
//! every provider under test (embedded, native Keycloak, container): the differential check
//! compares their discovery, their JWKS and a token of each of their clients.

use std::path::Path;

use reqwest::StatusCode;

use super::Fixture;
use super::helpers::{http, post_form, send};

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
    .chain(super::imported_realms::class_realm_paths())
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
