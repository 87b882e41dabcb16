//! In-process servers for the client's integration tests: the embedded provider and the
//! resource server on loopback ports, with an in-memory dev PKI written to a temporary
//! directory (the client reads files, as a user's would). The servers start the one way
//! `./start.sh`'s supervisor starts them (`supervisor::servers`).

#![allow(dead_code)] // each test file uses a different part

pub mod browser;
pub mod compare;
pub mod doctor;
pub mod labs;
pub mod pages;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use client::Settings;
use playbook::names;
use playbook::pki::{DevPki, KeyType, write_files};
use supervisor::servers::{
    ProviderSpec, ResourceServerSpec, start_provider, start_resource_server,
};

pub struct Servers {
    pub provider: oauth2_provider::Running,
    pub resource_server: resource_server::Running,
    pub dir: tempfile::TempDir,
    pub settings: Settings,
}

pub async fn start() -> Servers {
    start_with(KeyType::default()).await
}

/// The same with every certificate's key of `key_type` (`client certs --key-type`).
pub async fn start_with(key_type: KeyType) -> Servers {
    playbook::install_crypto_provider();
    let pki = DevPki::generate_with(key_type, 2, 1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path(), &pki.files().unwrap(), false).unwrap();

    let provider = start_provider(ProviderSpec::dev(&pki).unwrap())
        .await
        .unwrap();

    let issuer = names::issuer_for(&provider.url, names::REALM);
    let resource_server = spawn_resource_server(&pki, &issuer).await;
    let settings = settings_for(dir.path(), &provider.url, &resource_server.url);
    Servers {
        provider,
        resource_server,
        dir,
        settings,
    }
}

/// The resource server with `pki`'s certificate on a loopback port, trusting `pki`'s CA and
/// the tokens of `issuer`; returned once it holds the issuer's keys.
pub async fn spawn_resource_server(pki: &DevPki, issuer: &str) -> resource_server::Running {
    let spec = ResourceServerSpec::dev(pki, issuer).unwrap();
    start_resource_server(spec, Duration::from_secs(20))
        .await
        .unwrap()
}

/// The client's settings for the certificates in `dir` and the servers at these URLs.
pub fn settings_for(dir: &Path, provider: &str, resource_server: &str) -> Settings {
    let mut settings = Settings::for_servers(dir, provider, resource_server);
    settings.wait = Duration::from_secs(10);
    settings
}

impl Servers {
    pub async fn stop(self) {
        self.resource_server.stop().await.unwrap();
        self.provider.stop().await.unwrap();
    }
}

/// A finished command's exit code, stdout and stderr, for assertion messages.
pub fn text(o: &std::process::Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs the client with the servers' settings in its environment (as `.env` or
/// `scripts/env.sh` would give them), off the async runtime that serves the servers.
pub async fn client(servers: &Servers, extra_env: &[(&str, String)], args: &[&str]) -> Output {
    client_in(servers.dir.path(), &servers.settings, extra_env, args).await
}

/// [`client`] for the certificates in `dir` and the servers of `s`.
pub async fn client_in(
    dir: &Path,
    s: &Settings,
    extra_env: &[(&str, String)],
    args: &[&str],
) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_client"));
    cmd.args(args)
        .current_dir(dir)
        .env("ISSUER", s.issuer.as_str())
        .env("RESOURCE_SERVER_URL", s.resource_server.as_str())
        .env("CERTS_DIR", dir)
        .env("WAIT_SECS", "10")
        .env("NO_COLOR", "1")
        // The embedded provider's bootstrap admin (oauth2_provider::Options::default()).
        .env("KC_BOOTSTRAP_ADMIN_USERNAME", names::DEFAULT_ADMIN_USERNAME)
        .env("KC_BOOTSTRAP_ADMIN_PASSWORD", names::DEFAULT_ADMIN_PASSWORD);
    // Nothing from the developer's own shell may change what is tested.
    for var in [
        "REALM",
        "CLIENT_ID",
        "CLIENT_SCOPE",
        "CA_CERT",
        "CLIENT_CERT",
        "CLIENT_KEY",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    tokio::task::spawn_blocking(move || cmd.output().expect("run client"))
        .await
        .unwrap()
}

/// `client token --json` with `CERTS_DIR/NAME.pem` against `issuer` (a realm URL): `200 token`,
/// `401 <error code>`, or `refused in the handshake` (the native identity and revocation tests).
pub async fn token_answer(dir: &Path, issuer: &str, cert: &str) -> String {
    let s = settings_for(
        dir,
        issuer.trim_end_matches(&format!("/realms/{}", names::REALM)),
        "https://localhost:1",
    );
    let env = [
        (
            "CLIENT_CERT",
            dir.join(format!("{cert}.pem")).display().to_string(),
        ),
        (
            "CLIENT_KEY",
            dir.join(format!("{cert}.key.pem")).display().to_string(),
        ),
    ];
    let out = client_in(dir, &s, &env, &["token", "--json"]).await;
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    if out.status.success() && doc["access_token"].is_string() {
        return "200 token".to_owned();
    }
    let all = text(&out);
    for code in ["invalid_client", "unauthorized_client", "invalid_request"] {
        if all.contains(code) {
            return format!("401 {code}");
        }
    }
    if all.contains("TLS") || all.contains("handshake") || all.contains("alert") {
        return "refused in the handshake".to_owned();
    }
    format!("unexpected: {all}")
}

/// A `client-jwt` (`private_key_jwt`) client of its own, registered through the admin API
/// as the bootstrap admin with a certificate of a throw-away CA, its key written beside the
/// servers' certificates: the environment that makes `--auth private-key-jwt` use it
/// (`JWT_CLIENT_ID`, `JWT_KEY`). Whether the realm ships such a client or not.
pub async fn jwt_client(servers: &Servers, client_id: &str) -> [(&'static str, String); 2] {
    jwt_client_at(servers.dir.path(), &servers.provider.url, client_id).await
}

/// [`jwt_client`] at the provider at `provider_url` (the embedded one or Keycloak), the key
/// written into `dir` (the certificates' directory, whose `ca.pem` the provider's serves).
pub async fn jwt_client_at(
    dir: &Path,
    provider_url: &str,
    client_id: &str,
) -> [(&'static str, String); 2] {
    use base64::Engine as _;
    use playbook::pki::{CertificateAuthority, Validity};
    let ca = CertificateAuthority::new("CN=jwt test", Validity::days_from_now(1)).unwrap();
    let pair = ca
        .issue_client(&format!("CN={client_id}"), Validity::days_from_now(1))
        .unwrap();
    let key_file = dir.join(format!("{client_id}.key.pem"));
    std::fs::write(&key_file, &pair.key_pem).unwrap();
    let certificate = base64::engine::general_purpose::STANDARD.encode(&pair.cert_der);
    let roots =
        reqwest::Certificate::from_pem(&std::fs::read(dir.join("ca.pem")).unwrap()).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(roots)
        .build()
        .unwrap();
    let token: serde_json::Value = http
        .post(format!(
            "{provider_url}/realms/master/protocol/openid-connect/token"
        ))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "admin-cli"),
            ("username", names::DEFAULT_ADMIN_USERNAME),
            ("password", names::DEFAULT_ADMIN_PASSWORD),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let created = http
        .post(format!(
            "{provider_url}/admin/realms/{}/clients",
            names::REALM
        ))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .json(&serde_json::json!({
            "clientId": client_id,
            "enabled": true,
            "publicClient": false,
            "serviceAccountsEnabled": true,
            "standardFlowEnabled": false,
            "clientAuthenticatorType": "client-jwt",
            "attributes": {"jwt.credential.certificate": certificate, "use.jwks.url": "false"},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), reqwest::StatusCode::CREATED);
    [
        ("JWT_CLIENT_ID", client_id.to_owned()),
        ("JWT_KEY", key_file.display().to_string()),
    ]
}
