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

mod support {
    pub mod keycloak;
}

use std::path::{Path, PathBuf};

use support::keycloak::{self, conf_value, keycloak_conf};

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
