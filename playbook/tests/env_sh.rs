//! `scripts/env.sh` repeats some of `playbook::names` for the shell: they must agree.

use playbook::names;

/// Reads `NAME="${NAME:-default}"` lines: the defaults the scripts use.
fn defaults() -> std::collections::HashMap<String, String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/env.sh");
    let text = std::fs::read_to_string(&path).expect("scripts/env.sh exists");
    text.lines()
        .filter_map(|line| {
            let (name, rest) = line.split_once("=\"${")?;
            let default = rest.split_once(":-")?.1.strip_suffix("}\"")?;
            Some((name.to_owned(), default.to_owned()))
        })
        .collect()
}

#[test]
fn env_sh_defaults_match_the_rust_names() {
    let d = defaults();
    let expect = |name: &str, value: &str| {
        assert_eq!(
            d.get(name).map(String::as_str),
            Some(value),
            "{name} in scripts/env.sh"
        )
    };
    expect("REALM", names::REALM);
    expect("CLIENT_ID", names::MTLS_CLIENT_ID);
    expect("PROVIDER_PORT", &names::PROVIDER_PORT.to_string());
    expect("MANAGEMENT_PORT", &names::MANAGEMENT_PORT.to_string());
    expect(
        "RESOURCE_SERVER_PORT",
        &names::RESOURCE_SERVER_PORT.to_string(),
    );
    expect("PROVIDER_URL", "https://localhost:${PROVIDER_PORT}");
    expect("KC_BOOTSTRAP_ADMIN_USERNAME", names::DEFAULT_ADMIN_USERNAME);
    expect("KC_BOOTSTRAP_ADMIN_PASSWORD", names::DEFAULT_ADMIN_PASSWORD);
    expect("PROVISIONER_CLIENT_ID", names::PROVISIONER_CLIENT_ID);
    expect("JWT_CLIENT_CERT_ENV", names::JWT_CLIENT_CERT_ENV);
    expect("JWT_CERT_FILE", names::JWT_CERT_FILE);
}
