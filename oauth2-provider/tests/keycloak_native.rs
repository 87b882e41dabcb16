//! The real Keycloak, run natively (`oauth2-provider/keycloak-native.sh`: Keycloak's own
//! distribution from Maven Central, on Java): the shared scenario suite, and the differential
//! conformance check that holds the embedded provider to what Keycloak answers.
//!
//! ```sh
//! cargo test -p oauth2-provider --test keycloak_native -- --ignored            # needs Java 17+
//! RECORD_GOLDEN=1 cargo test -p oauth2-provider --test keycloak_native -- --ignored
//! ```
//!
//! `scripts/test.sh` (what CI runs) runs it on every run where Java exists, and always under
//! `CI=true`: there a Keycloak that cannot be fetched or started fails the run with the
//! reason. It is `#[ignore]`d only so that a bare `cargo test` on a machine without Java stays
//! green; `scripts/test.sh` then says plainly that it did not run.
//!
//! The other tests in this file need no Java: they check the script's refusals.

#[allow(unused_imports, unused_macros)]
mod scenarios;
mod support {
    pub mod native;
}

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::Arc;

use playbook::pki::DevPki;
use scenarios::{Fixture, conformance};
use support::native::NativeKeycloak;

/// Every scenario against one native Keycloak, each recorded; then the recordings against
/// the committed golden files (or rewritten, with `RECORD_GOLDEN=1`). Fails naming every
/// failed scenario and every drift, with the tail of Keycloak's log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Java 17+ (and Maven the first time); scripts/test.sh runs it: cargo test -p oauth2-provider --test keycloak_native -- --ignored"]
async fn native_keycloak_passes_every_scenario_and_matches_the_golden_answers() {
    playbook::install_crypto_provider();
    let pki = Arc::new(DevPki::generate(2, 1).expect("dev PKI"));
    let start_pki = Arc::clone(&pki);
    // The fixture realms beside the playground's, as the embedded provider imports them.
    let extra_realms = scenarios::fixture_realm_paths()
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    let keycloak = tokio::task::spawn_blocking(move || {
        NativeKeycloak::start_with(
            &start_pki,
            support::native::INSTANCE,
            &[("KEYCLOAK_EXTRA_REALMS", extra_realms)],
        )
    })
    .await
    .expect("start task")
    .unwrap_or_else(|e| panic!("the native Keycloak did not start: {e}"));
    println!(
        "Keycloak {} (native) answers at {} (issuer {})",
        oauth2_provider::KEYCLOAK_VERSION,
        keycloak.base_url,
        keycloak.issuer()
    );
    let fixture = Arc::new(Fixture::keycloak(
        &keycloak.base_url,
        &keycloak.management_url,
        pki,
    ));

    let live_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("conformance/keycloak");
    let what = format!("Keycloak {} (native)", oauth2_provider::KEYCLOAK_VERSION);
    if let Some(failure) = conformance::check_against_golden(&fixture, &what, &live_dir).await {
        panic!(
            "{failure}\n--- last lines of Keycloak's log ---\n{}",
            keycloak.log_tail(60)
        );
    }
}

// ---------------------------------------------------------------------------------------
// keycloak-native.sh refusals (no Java needed)

struct Run {
    ok: bool,
    stderr: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Runs `keycloak-native.sh start` with a throwaway cache, a fresh PKI and free ports.
fn run_start(dir: &Path, env: &[(&str, String)]) -> Run {
    let certs = dir.join("certs");
    if !certs.exists() {
        let pki = DevPki::generate(2, 1).expect("dev PKI");
        playbook::pki::write_files(&certs, &pki.files().expect("PKI files"), false)
            .expect("write the dev PKI");
    }
    let mut cmd = std::process::Command::new(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("keycloak-native.sh"),
    );
    cmd.arg("start")
        .env("KEYCLOAK_CACHE_DIR", dir.join("cache"))
        .env("MAVEN_REPO_LOCAL", dir.join("m2"))
        .env("KEYCLOAK_INSTANCE", "refusal-test")
        .env("CERTS_DIR", &certs)
        .env("PROVIDER_PORT", free_port().to_string())
        .env("MANAGEMENT_PORT", free_port().to_string())
        .env_remove("JAVA")
        .env_remove("JAVA_HOME");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run keycloak-native.sh");
    Run {
        ok: out.status.success(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A stand-in `java` that reports `version` (and fails anything else).
fn fake_java(dir: &Path, version: &str) -> String {
    let path = dir.join("java");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nif [ \"$1\" = -version ]; then echo 'openjdk version \"{version}\" 2020-01-01' >&2; exit 0; fi\nexit 1\n"
        ),
    )
    .expect("write fake java");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path.display().to_string()
}

#[test]
fn without_java_it_says_how_to_get_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = run_start(dir.path(), &[("JAVA", "/nonexistent/java".to_owned())]);
    assert!(!run.ok);
    assert!(run.stderr.contains("no Java found"), "{}", run.stderr);
    assert!(run.stderr.contains("openjdk-17"), "{}", run.stderr);
}

#[test]
fn too_old_a_java_is_refused_with_the_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let java = fake_java(dir.path(), "11.0.2");
    let run = run_start(dir.path(), &[("JAVA", java)]);
    assert!(!run.ok);
    assert!(
        run.stderr.contains("is Java 11") && run.stderr.contains("17 or newer"),
        "{}",
        run.stderr
    );
}

#[test]
fn no_maven_and_no_cached_distribution_names_both_fixes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let java = fake_java(dir.path(), "17.0.15");
    // A PATH with the tools the script needs but no mvn.
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    for tool in [
        "bash",
        "curl",
        "setsid",
        "sed",
        "head",
        "cat",
        "dirname",
        "mkdir",
        "rm",
        "tail",
        "cut",
        "tr",
        "mktemp",
        "sha1sum",
        "env",
        "sha256sum",
        "sort",
    ] {
        if let Ok(found) = which(tool) {
            std::os::unix::fs::symlink(found, bin.join(tool)).expect("symlink");
        }
    }
    let run = run_start(
        dir.path(),
        &[("JAVA", java), ("PATH", bin.display().to_string())],
    );
    assert!(!run.ok);
    assert!(
        run.stderr.contains("is not cached") && run.stderr.contains("apt-get install maven"),
        "{}",
        run.stderr
    );
    assert!(
        !dir.path().join("cache/instances").exists(),
        "nothing half-made: {:?}",
        std::fs::read_dir(dir.path().join("cache")).map(|d| d.count())
    );
}

#[test]
fn a_port_in_use_is_named_before_anything_starts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let java = fake_java(dir.path(), "21.0.1");
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = busy.local_addr().expect("addr").port();
    let run = run_start(
        dir.path(),
        &[("JAVA", java), ("PROVIDER_PORT", port.to_string())],
    );
    assert!(!run.ok);
    assert!(
        run.stderr
            .contains(&format!("port {port} on 127.0.0.1 is in use")),
        "{}",
        run.stderr
    );
}

#[test]
fn a_damaged_cached_zip_is_refused_by_its_checksum() {
    let dir = tempfile::tempdir().expect("tempdir");
    let java = fake_java(dir.path(), "17.0.15");
    let v = oauth2_provider::KEYCLOAK_VERSION;
    let zip_dir = dir
        .path()
        .join(format!("m2/org/keycloak/keycloak-quarkus-dist/{v}"));
    std::fs::create_dir_all(&zip_dir).expect("m2 dir");
    let zip = zip_dir.join(format!("keycloak-quarkus-dist-{v}.zip"));
    std::fs::write(&zip, b"not the distribution").expect("zip");
    std::fs::write(
        zip_dir.join(format!("keycloak-quarkus-dist-{v}.zip.sha1")),
        "0123456789abcdef0123456789abcdef01234567",
    )
    .expect("sha1");
    let run = run_start(dir.path(), &[("JAVA", java)]);
    assert!(!run.ok);
    assert!(run.stderr.contains("checksum mismatch"), "{}", run.stderr);
    assert!(!dir.path().join(format!("cache/dist/keycloak-{v}")).exists());
}

#[test]
fn stop_and_status_without_a_running_keycloak() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("keycloak-native.sh");
    let run = |what: &str| {
        std::process::Command::new(&script)
            .arg(what)
            .env("KEYCLOAK_CACHE_DIR", dir.path())
            .env("KEYCLOAK_INSTANCE", "not-running")
            .output()
            .expect("run")
    };
    let stop = run("stop");
    assert!(stop.status.success());
    assert!(String::from_utf8_lossy(&stop.stdout).contains("not running: nothing to stop"));
    let status = run("status");
    assert_eq!(
        status.status.code(),
        Some(3),
        "status exits 3 when not running"
    );
}

fn which(tool: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
        .ok_or(())
}
