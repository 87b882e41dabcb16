//! The real Keycloak, in a container: the scenario suite of `tests/scenarios/mod.rs` run
//! against `quay.io/keycloak/keycloak` started exactly as `oauth2-provider/start.sh` starts it
//! (`tests/support/keycloak.rs`).
//!
//! ```sh
//! cargo test -p oauth2-provider --test keycloak -- --ignored   # needs Docker or Podman
//! ```
//!
//! The container tests are `#[ignore]`d because most machines that build this have no
//! container engine. Run without one they fail at once with that message; they never pass
//! silently. The other tests here need no engine: they check that the script, compose.yaml
//! and these tests cannot drift apart (one image tag, one option file, the same paths).

// The suite is shared with the embedded provider's tests; its per-test macro is not used here.
#[allow(unused_imports, unused_macros)]
mod scenarios;
mod support {
    pub mod keycloak;
}

use std::path::{Path, PathBuf};
use std::sync::Arc;

use playbook::pki::DevPki;
use scenarios::Fixture;
use support::keycloak::{self, Keycloak, conf_value, keycloak_conf};

/// Every scenario of the shared suite (`scenarios::ALL`, the list the embedded provider's tests
/// run), in order, against ONE Keycloak container: startup takes half a minute, and the
/// scenarios leave the realm as they found it. Each is reported by name; a failing scenario
/// does not stop the others, and the test fails at the end naming every failure, with the
/// tail of Keycloak's log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a container engine (Docker or Podman): cargo test -p oauth2-provider --test keycloak -- --ignored"]
async fn keycloak_passes_every_scenario() {
    playbook::install_crypto_provider();
    let pki = Arc::new(DevPki::generate(2, 1).expect("dev PKI"));
    let keycloak = Keycloak::start(&pki).await;
    println!(
        "{} answers at {} (issuer {})",
        keycloak::image(),
        keycloak.base_url,
        keycloak.issuer()
    );
    let fixture = Arc::new(Fixture {
        base_url: keycloak.base_url.clone(),
        management_url: keycloak.management_url.clone(),
        pki,
        admin_username: playbook::names::DEFAULT_ADMIN_USERNAME.to_owned(),
        admin_password: playbook::names::DEFAULT_ADMIN_PASSWORD.to_owned(),
    });

    let mut failed = Vec::new();
    for &(name, _) in scenarios::ALL {
        let f = Arc::clone(&fixture);
        // A task per scenario: its panic (the assertion message is printed by the panic
        // hook) becomes a JoinError here instead of ending the run.
        let outcome = tokio::spawn(async move { scenarios::run(name, &f).await }).await;
        match outcome {
            Ok(()) => println!("scenario {name} ... ok"),
            Err(e) => {
                println!("scenario {name} ... FAILED ({e})");
                failed.push(name);
            }
        }
    }
    if !failed.is_empty() {
        let log = keycloak.logs().await;
        let tail: Vec<&str> = log.lines().rev().take(150).collect();
        panic!(
            "{} of {} scenarios failed against {}: {}\n--- last lines of Keycloak's log ---\n{}",
            failed.len(),
            scenarios::ALL.len(),
            keycloak::image(),
            failed.join(", "),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
}

fn repo_file(relative: &str) -> (PathBuf, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    (path, text)
}

/// The default of `NAME="${NAME:-default}"` in a sourced shell file.
fn shell_default(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(&format!("{name}=\"${{{name}:-"))?;
        Some(rest.strip_suffix("}\"")?.to_owned())
    })
}

/// The shell scripts (`scripts/keycloak.env`) pin the same image as the Rust side.
#[test]
fn keycloak_env_pins_the_image_the_tests_use() {
    let (path, text) = repo_file("scripts/keycloak.env");
    assert_eq!(
        shell_default(&text, "KEYCLOAK_IMAGE").as_deref(),
        Some(keycloak::image().as_str()),
        "KEYCLOAK_IMAGE in {} must equal oauth2_provider::KEYCLOAK_IMAGE:KEYCLOAK_IMAGE_TAG",
        path.display()
    );
}

/// compose.yaml runs the same image, mounts the PKI where keycloak.conf expects it, and pins
/// the issuer to the same URL as start.sh.
#[test]
fn compose_matches_keycloak_conf_and_the_pinned_image() {
    let (path, compose) = repo_file("oauth2-provider/compose.yaml");
    let conf = keycloak_conf();
    let image_line = format!("image: {}", keycloak::image());
    assert!(
        compose.lines().any(|l| l.trim() == image_line),
        "{} must contain `{image_line}`",
        path.display()
    );
    let mounts = [
        ("../certs/oauth2-provider.pem", "https-certificate-file"),
        (
            "../certs/oauth2-provider.key.pem",
            "https-certificate-key-file",
        ),
        ("../certs/ca.pem", "truststore-paths"),
    ];
    for (host, option) in mounts {
        let target = conf_value(&conf, option).expect(option);
        let mount = format!("- {host}:{target}:ro");
        assert!(
            compose.lines().any(|l| l.trim() == mount),
            "{} must mount `{mount}` (keycloak.conf's {option})",
            path.display()
        );
    }
    assert!(compose.contains("- ./keycloak.conf:/opt/keycloak/conf/keycloak.conf:ro"));
    assert!(compose.contains(&format!(
        "./import/{}-realm.json:/opt/keycloak/data/import/{}-realm.json:ro",
        playbook::names::REALM,
        playbook::names::REALM
    )));
    assert!(
        compose.contains(&format!("\"--hostname={}\"", playbook::names::PROVIDER_URL)),
        "compose must pin the issuer to {}",
        playbook::names::PROVIDER_URL
    );
}

/// keycloak.conf holds the options every runner shares, and none that must differ between
/// them: the hostname is set on each runner's command line.
#[test]
fn keycloak_conf_holds_the_shared_options() {
    let conf = keycloak_conf();
    for (option, value) in [
        ("https-client-auth", "request"),
        ("https-management-client-auth", "none"),
        ("health-enabled", "true"),
        ("db", "dev-file"),
    ] {
        assert_eq!(
            conf_value(&conf, option).as_deref(),
            Some(value),
            "{option} in keycloak.conf"
        );
    }
    for option in [
        "https-certificate-file",
        "https-certificate-key-file",
        "truststore-paths",
    ] {
        let path = conf_value(&conf, option).unwrap_or_else(|| panic!("{option} is set"));
        assert!(
            path.starts_with("/opt/keycloak/conf/"),
            "{option}={path}: the runners copy the dev PKI under /opt/keycloak/conf/"
        );
    }
    for option in ["hostname", "hostname-strict", "http-enabled"] {
        assert_eq!(
            conf_value(&conf, option),
            None,
            "{option} belongs on the runners' command lines, not in the shared keycloak.conf"
        );
    }
}
