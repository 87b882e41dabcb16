//! The real Keycloak, in a container: the scenario suite of `tests/scenarios/` run
//! against Keycloak in a container, started as `oauth2-provider/keycloak-container.sh` starts it
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

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use playbook::pki::DevPki;
use scenarios::{Fixture, conformance};
use support::keycloak::{self, Keycloak, conf_value, keycloak_conf};

/// Every scenario of the shared suite (`scenarios::ALL`, the list the embedded provider's tests
/// run), in order, against ONE Keycloak container, each recorded and held to the committed
/// golden answers, as the native run is (`conformance::check_against_golden`). A failing
/// scenario does not stop the others; the test fails at the end naming every failure and
/// drift, with the tail of Keycloak's log.
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
    let fixture = Arc::new(Fixture::keycloak(
        &keycloak.base_url,
        &keycloak.management_url,
        pki,
    ));

    let live_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("conformance/keycloak-container");
    let what = format!("Keycloak in a container ({})", keycloak::image());
    if let Some(failure) = conformance::check_against_golden(&fixture, &what, &live_dir).await {
        let log = keycloak.logs().await;
        let tail: Vec<&str> = log.lines().rev().take(150).collect();
        panic!(
            "{failure}\n--- last lines of Keycloak's log ---\n{}",
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

/// The shell scripts (`scripts/keycloak.env`) pin the same official image as the Rust side.
#[test]
fn keycloak_env_pins_the_image_the_tests_use() {
    let (path, text) = repo_file("scripts/keycloak.env");
    assert_eq!(
        shell_default(&text, "KEYCLOAK_VERSION").as_deref(),
        Some(oauth2_provider::KEYCLOAK_VERSION),
        "KEYCLOAK_VERSION in {}",
        path.display()
    );
    assert_eq!(
        shell_default(&text, "KEYCLOAK_OFFICIAL_IMAGE").as_deref(),
        Some(format!("{}:${{KEYCLOAK_VERSION}}", oauth2_provider::KEYCLOAK_IMAGE).as_str()),
        "KEYCLOAK_OFFICIAL_IMAGE in {} must be the image at the pinned KEYCLOAK_VERSION",
        path.display()
    );
}

/// compose.yaml runs the same image, mounts the PKI where keycloak.conf expects it, and pins
/// the issuer to the same URL as keycloak-container.sh.
#[test]
fn compose_matches_keycloak_conf_and_the_pinned_image() {
    let (path, compose) = repo_file("oauth2-provider/compose.yaml");
    let conf = keycloak_conf();
    let image_line = format!("image: ${{KEYCLOAK_IMAGE:-{}}}", keycloak::official_image());
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

// ---------------------------------------------------------------------------------------
// oauth2-provider/keycloak-container.sh, with no engine and with a fake one (no engine needed)

/// A stand-in for `docker`: answers `info`, knows no container or image, records every call
/// in `calls.log`, keeps the tar stream `cp -` receives, and fails `pull` when FAKE_PULL=fail.
/// Its containers never run, so the script sees Keycloak exit during startup.
const FAKE_ENGINE: &str = r#"#!/usr/bin/env bash
set -euo pipefail
dir="$(dirname "$0")"
printf '%s\n' "$*" >>"${dir}/calls.log"
case "$1" in
info | create | start | rm) ;;
container | image) exit 1 ;;
pull) if [[ "${FAKE_PULL:-ok}" != ok ]]; then echo "fake: pull access denied" >&2; exit 1; fi ;;
cp) cat >"${dir}/copied.tar" ;;
logs) echo "fake Keycloak log line" ;;
*) exit 2 ;;
esac
"#;

struct ScriptRun {
    status: std::process::ExitStatus,
    stderr: String,
    calls: String,
    dir: tempfile::TempDir,
}

/// A free port on 127.0.0.1 (bound, then released): nothing listens there afterwards.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Runs `oauth2-provider/keycloak-container.sh start` (the official image, which it pulls)
/// with the fake engine (or `engine` if given), a fresh dev
/// PKI in a temporary certs/ and free ports.
fn run_start_sh(engine: Option<&str>, env: &[(&str, &str)]) -> ScriptRun {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = dir.path().join("docker");
    std::fs::write(&fake, FAKE_ENGINE).expect("write the fake engine");
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755))
        .expect("chmod the fake engine");
    let certs = dir.path().join("certs");
    let pki = DevPki::generate(2, 1).expect("dev PKI");
    playbook::pki::write_files(&certs, &pki.files().expect("PKI files"), false)
        .expect("write the dev PKI");

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("keycloak-container.sh");
    let mut cmd = std::process::Command::new(&script);
    cmd.arg("start")
        .env(
            "CONTAINER_ENGINE",
            engine.map_or_else(|| fake.display().to_string(), str::to_owned),
        )
        .env("CERTS_DIR", &certs)
        .env("PROVIDER_PORT", free_port().to_string())
        .env("MANAGEMENT_PORT", free_port().to_string())
        .env("KEYCLOAK_START_TIMEOUT", "20")
        .env_remove("KEYCLOAK_CONTAINER")
        .env("KEYCLOAK_IMAGE", keycloak::official_image())
        .env_remove("KEYCLOAK_NETWORK")
        .env_remove("KEYCLOAK_INSTANCE")
        .env_remove("REALM_FILE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run keycloak-container.sh");
    let calls = std::fs::read_to_string(dir.path().join("calls.log")).unwrap_or_default();
    ScriptRun {
        status: out.status,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        calls,
        dir,
    }
}

/// No engine answers: keycloak-container.sh exits non-zero, says so, and never calls any engine command.
#[test]
fn start_sh_without_an_engine_fails_with_the_message() {
    let run = run_start_sh(Some("/nonexistent/docker"), &[]);
    assert!(!run.status.success(), "exit status {}", run.status);
    assert!(
        run.stderr.contains("no container engine answered"),
        "stderr: {}",
        run.stderr
    );
    assert_eq!(run.calls, "", "no engine command may run");

    let check = std::process::Command::new(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("keycloak-container.sh"),
    )
    .arg("check")
    .env("CONTAINER_ENGINE", "/nonexistent/docker")
    .output()
    .expect("run keycloak-container.sh check");
    assert!(!check.status.success());
    assert!(
        check.stdout.is_empty(),
        "check prints an engine only when one answers"
    );
}

/// An image that cannot be pulled: a clear message, and no container was ever created.
#[test]
fn start_sh_reports_a_failed_pull_and_creates_nothing() {
    let run = run_start_sh(None, &[("FAKE_PULL", "fail")]);
    assert!(!run.status.success());
    assert!(
        run.stderr
            .contains(&format!("could not pull {}", keycloak::official_image())),
        "stderr: {}",
        run.stderr
    );
    assert!(
        !run.calls.lines().any(|l| l.starts_with("create")),
        "calls: {}",
        run.calls
    );
}

/// Keycloak exits during startup: its log is shown, and the container this run created is
/// removed (nothing left behind). The files went in as one tar stream of file entries only,
/// mode 0644, at the paths keycloak.conf names; the key on disk stays 0600.
#[test]
fn start_sh_removes_the_container_it_created_when_startup_fails() {
    let run = run_start_sh(None, &[]);
    assert!(!run.status.success());
    assert!(
        run.stderr.contains("Keycloak exited during startup"),
        "stderr: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("fake Keycloak log line"),
        "stderr: {}",
        run.stderr
    );
    let container = "oauth2-playbook-keycloak";
    let calls: Vec<&str> = run.calls.lines().collect();
    let create = calls
        .iter()
        .position(|c| c.starts_with("create"))
        .expect("created");
    let create_args: Vec<&str> = calls[create].split(' ').collect();
    assert!(create_args.contains(&"start") && create_args.contains(&"--import-realm"));
    assert!(
        create_args
            .iter()
            .any(|a| a.starts_with("--hostname=https://localhost:")),
        "{}",
        calls[create]
    );
    assert!(create_args.contains(&keycloak::official_image().as_str()));
    assert!(
        create_args.contains(&"--label"),
        "labelled for the sweep: {}",
        calls[create]
    );
    assert_eq!(
        calls.last().copied(),
        Some(format!("rm --force --volumes {container}").as_str()),
        "the last call removes the container: {calls:?}"
    );

    // The tar stream keycloak-container.sh piped into `cp - {container}:/`.
    let listing = std::process::Command::new("tar")
        .arg("-tvf")
        .arg(run.dir.path().join("copied.tar"))
        .output()
        .expect("tar -tvf");
    let listing = String::from_utf8_lossy(&listing.stdout).into_owned();
    let conf = keycloak_conf();
    let mut expected: Vec<String> = [
        "https-certificate-file",
        "https-certificate-key-file",
        "truststore-paths",
    ]
    .iter()
    .map(|o| {
        conf_value(&conf, o)
            .expect(o)
            .trim_start_matches('/')
            .to_owned()
    })
    .collect();
    expected.push("opt/keycloak/conf/keycloak.conf".to_owned());
    expected.push(format!(
        "opt/keycloak/data/import/{}-realm.json",
        playbook::names::REALM
    ));
    expected.sort();
    let mut entries: Vec<String> = listing
        .lines()
        .map(|l| {
            assert!(l.starts_with("-rw-r--r--"), "a 0644 regular file: {l}");
            l.split_whitespace().last().expect("name").to_owned()
        })
        .collect();
    entries.sort();
    assert_eq!(entries, expected);
    let key = run.dir.path().join("certs/oauth2-provider.key.pem");
    let mode = std::fs::metadata(&key)
        .expect("the key")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the key on disk keeps its mode");
}
