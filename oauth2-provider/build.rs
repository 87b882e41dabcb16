//! The pinned Keycloak version is written once, in `scripts/keycloak.env` (the shell scripts
//! source it); this reads its default into `PLAYBOOK_KEYCLOAK_VERSION` for
//! [`oauth2_provider::KEYCLOAK_VERSION`], so the Rust side cannot drift from the scripts.

use std::path::Path;

fn main() {
    let env_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/keycloak.env");
    println!("cargo::rerun-if-changed={}", env_file.display());
    let text = std::fs::read_to_string(&env_file)
        .unwrap_or_else(|e| panic!("reading {}: {e}", env_file.display()));
    // The line `KEYCLOAK_VERSION="${KEYCLOAK_VERSION:-26.7.5}"`.
    let version = text
        .lines()
        .find_map(|line| {
            line.trim()
                .strip_prefix("KEYCLOAK_VERSION=\"${KEYCLOAK_VERSION:-")?
                .strip_suffix("}\"")
                .map(str::to_owned)
        })
        .unwrap_or_else(|| {
            panic!(
                "{} has no line KEYCLOAK_VERSION=\"${{KEYCLOAK_VERSION:-X.Y.Z}}\"",
                env_file.display()
            )
        });
    assert!(
        version.split('.').count() == 3 && version.split('.').all(|p| p.parse::<u32>().is_ok()),
        "KEYCLOAK_VERSION in {} must be a full X.Y.Z release, not {version:?}",
        env_file.display()
    );
    println!("cargo::rustc-env=PLAYBOOK_KEYCLOAK_VERSION={version}");
}
