//! The scenario suite (`tests/scenarios`) against the embedded provider, over real TLS on
//! loopback. `tests/keycloak.rs` runs the same scenarios against a real Keycloak.
//!
//! One provider serves every scenario (as one Keycloak container does): it runs on its own
//! runtime in a background thread, started by the first test that asks for it.

#[macro_use]
mod scenarios;

use std::sync::{Arc, OnceLock};

use scenarios::Fixture;

/// The shared embedded provider: the shipped realm file, an in-memory dev PKI.
async fn embedded_fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("provider runtime");
            rt.block_on(async move {
                let _ = tracing_subscriber::fmt()
                    .with_env_filter(
                        tracing_subscriber::EnvFilter::try_from_default_env()
                            .unwrap_or_else(|_| "warn".into()),
                    )
                    .with_test_writer()
                    .try_init();
                playbook::install_crypto_provider();
                let pki = Arc::new(playbook::pki::DevPki::generate(2, 1).expect("dev PKI"));
                let provider = oauth2_provider::Provider::from_realm_file(
                    &oauth2_provider::realm_file(),
                    oauth2_provider::Options::default(),
                )
                .expect("the shipped realm file imports");
                let tls = oauth2_provider::tls_config_from_pki(&pki).expect("TLS config");
                let running = oauth2_provider::spawn(provider, tls).await.expect("serve");
                let defaults = oauth2_provider::Options::default();
                tx.send(Fixture {
                    base_url: running.base_url.clone(),
                    management_url: running.management_url.clone(),
                    pki,
                    admin_username: defaults.admin_username,
                    admin_password: defaults.admin_password,
                })
                .expect("send fixture");
                // Serve until the test process exits.
                std::future::pending::<()>().await;
            });
        });
        rx.recv_timeout(std::time::Duration::from_secs(60))
            .expect("the embedded provider starts within 60 s")
    })
}

scenario_tests!(embedded_fixture);

/// The scenario list and the generated tests cannot drift apart: every name is unique.
#[test]
fn scenario_names_are_unique() {
    let mut names: Vec<&str> = scenarios::ALL.iter().map(|(n, _)| *n).collect();
    let before = names.len();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), before);
    assert!(before >= 30);
}

/// `--hostname` fixes the issuer and every endpoint, whatever Host the client used
/// (Keycloak's hostname v2 with a full URL); without it they follow the Host header.
#[tokio::test]
async fn hostname_option_fixes_the_issuer() {
    playbook::install_crypto_provider();
    let pki = playbook::pki::DevPki::generate(2, 1).expect("dev PKI");
    let options = oauth2_provider::Options {
        hostname: Some("https://auth.example.test:8443".parse().expect("URL")),
        ..Default::default()
    };
    let provider =
        oauth2_provider::Provider::from_realm_file(&oauth2_provider::realm_file(), options)
            .expect("import");
    let tls = oauth2_provider::tls_config_from_pki(&pki).expect("TLS");
    let running = oauth2_provider::spawn(provider, tls).await.expect("serve");
    let client = playbook::client::https_client(std::slice::from_ref(&pki.ca.cert.cert_der), None)
        .expect("client");
    let doc: serde_json::Value = client
        .get(format!(
            "{}/realms/oauth2-playbook/.well-known/openid-configuration",
            running.base_url
        ))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("JSON");
    running.stop().await;
    assert_eq!(
        doc["issuer"],
        "https://auth.example.test:8443/realms/oauth2-playbook"
    );
    assert_eq!(
        doc["token_endpoint"],
        "https://auth.example.test:8443/realms/oauth2-playbook/protocol/openid-connect/token"
    );
}

/// A realm file with a wrong type names the file and the JSON path of the field.
#[test]
fn bad_realm_file_names_file_and_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("broken-realm.json");
    std::fs::write(
        &path,
        r#"{"realm":"r","enabled":true,"clients":[{"clientId":"c","attributes":{"x509.subjectdn":["CN=a"]}}]}"#,
    )
    .expect("write");
    let err = oauth2_provider::Provider::from_realm_file(&path, Default::default())
        .expect_err("must be refused")
        .to_string();
    assert!(err.contains("broken-realm.json"), "{err}");
    assert!(
        err.contains("clients[0].attributes.x509.subjectdn"),
        "{err}"
    );
    let missing = oauth2_provider::Provider::from_realm_file(
        &dir.path().join("nope.json"),
        Default::default(),
    )
    .expect_err("missing file")
    .to_string();
    assert!(missing.contains("nope.json"), "{missing}");
}
