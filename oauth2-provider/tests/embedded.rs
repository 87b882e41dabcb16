//! The scenario suite (`tests/scenarios`) against the embedded provider, over real TLS on
//! loopback. `tests/keycloak.rs` runs the same scenarios against a real Keycloak.
//!
//! One provider serves every scenario (as one Keycloak container does): it runs on its own
//! runtime in a background thread, started by the first test that asks for it.

#[macro_use]
mod scenarios;
mod support {
    pub mod embedded;
}

use std::sync::Arc;

use scenarios::Fixture;

/// The shared embedded provider: the shipped realm file, an in-memory dev PKI.
/// Awaited, not blocked on: a test's runtime thread stays free while the provider starts.
async fn embedded_fixture() -> &'static Fixture {
    static FIXTURE: tokio::sync::OnceCell<Fixture> = tokio::sync::OnceCell::const_new();
    FIXTURE.get_or_init(support::embedded::start).await
}

scenario_tests!(embedded_fixture);

/// Every scenario written in `tests/scenarios/` (a `pub async fn name(f: &Fixture)` in one of
/// its files, or the scenario of a row of the error table, `REFUSALS`) is in the list
/// (`scenario_names!`): an unlisted one would compile (the module allows dead code) and
/// silently never run, here or against Keycloak.
#[test]
fn every_scenario_is_listed() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut sources = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("tests/scenarios") {
        sources.push(std::fs::read_to_string(entry.expect("entry").path()).expect("a source"));
    }
    let mut written: Vec<&str> = sources
        .iter()
        .flat_map(|source| source.lines())
        .filter_map(|l| l.strip_prefix("pub async fn "))
        .filter(|rest| rest.contains("(f: &Fixture)"))
        .filter_map(|rest| rest.split('(').next())
        .chain(scenarios::token_errors::REFUSALS.iter().map(|r| r.scenario))
        .collect();
    let mut listed: Vec<&str> = scenarios::ALL.iter().map(|(n, _)| *n).collect();
    written.sort_unstable();
    written.dedup();
    listed.sort_unstable();
    assert!(!written.is_empty(), "no scenario found in the source");
    assert_eq!(written, listed, "scenario functions vs scenario_names!");
}

/// `with_throwaway_client` deletes its client even when the scenario body panics (a leaked
/// client would stay in the shared Keycloak container), and the panic still fails the test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throwaway_client_is_deleted_when_the_body_panics() {
    let f = embedded_fixture().await;
    let seen = Arc::new(std::sync::Mutex::new(None::<String>));
    let seen_in_body = seen.clone();
    let outcome = tokio::spawn(async move {
        let admin = scenarios::Admin::login(f).await;
        let rep = serde_json::json!({"protocol": "openid-connect", "publicClient": true});
        admin
            .with_throwaway_client("panics", rep, |c| async move {
                *seen_in_body.lock().unwrap() = Some(c.uuid.clone());
                if !c.uuid.is_empty() {
                    panic!("a scenario assertion failed (on purpose)");
                }
            })
            .await
    })
    .await;
    assert!(outcome.expect_err("the panic propagates").is_panic());
    let uuid = seen.lock().unwrap().clone().expect("the body ran");
    let admin = scenarios::Admin::login(f).await;
    let a = admin.get(&format!("/clients/{uuid}")).await;
    assert_eq!(a.status.as_u16(), 404, "client {uuid} leaked: {}", a.body);
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
    let running = oauth2_provider::spawn_dev(&pki, &[oauth2_provider::realm_file()], options)
        .await
        .expect("serve");
    let client = playbook::https::https_client(std::slice::from_ref(&pki.ca.cert.cert_der), None)
        .expect("client");
    let doc: serde_json::Value = client
        .get(format!(
            "{}/realms/oauth2-playbook/.well-known/openid-configuration",
            running.url
        ))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("JSON");
    running.stop().await.expect("stop");
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

// ---------------------------------------------------------------------------------------
// The binary's command line

fn provider_bin() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_oauth2-provider"));
    for var in [
        "KC_BOOTSTRAP_ADMIN_USERNAME",
        "KC_BOOTSTRAP_ADMIN_PASSWORD",
        "PROVIDER_PORT",
        "MANAGEMENT_PORT",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("RUST_BACKTRACE", "0");
    cmd
}

/// Runs `cmd` to completion (at most 30 s; a server that started instead is killed and
/// reported), returning whether it succeeded and its stdout + stderr.
fn run_bounded(cmd: std::process::Command) -> (bool, String) {
    let (status, out) = run_bounded_status(cmd);
    (status.success(), out)
}

/// [`run_bounded`], with the exit status.
fn run_bounded_status(mut cmd: std::process::Command) -> (std::process::ExitStatus, String) {
    use std::io::Read as _;
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run oauth2-provider");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("oauth2-provider was still running after 30 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("stdout");
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut out)
        .expect("stderr");
    (status, out)
}

/// `--help` names KC_BOOTSTRAP_ADMIN_PASSWORD but never prints its value.
#[test]
fn help_does_not_print_the_admin_password() {
    let secret = "Sup3r-Secret-From-Env";
    for flag in ["--help", "-h"] {
        let mut cmd = provider_bin();
        cmd.arg(flag).env("KC_BOOTSTRAP_ADMIN_PASSWORD", secret);
        let (ok, out) = run_bounded(cmd);
        assert!(ok, "{out}");
        assert!(out.contains("KC_BOOTSTRAP_ADMIN_PASSWORD"), "{out}");
        assert!(!out.contains(secret), "{flag} printed the password:\n{out}");
    }
}

/// `--hostname` takes an https base URL; anything else is refused naming the flag.
#[test]
fn hostname_must_be_an_https_url() {
    for bad in [
        "ftp://x",
        "http://localhost:9443",
        "https://h/realms?a=b",
        "not a url",
    ] {
        let mut cmd = provider_bin();
        cmd.args(["--hostname", bad]);
        let (ok, out) = run_bounded(cmd);
        assert!(!ok, "{bad} accepted: {out}");
        assert!(out.contains("--hostname"), "{bad}: {out}");
        assert!(out.contains("https://localhost:9443"), "{bad}: {out}");
    }
}

/// Run from another directory, the default (relative) realm file is missing: one error
/// naming the path and the two ways out.
#[test]
fn missing_default_realm_file_says_what_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = provider_bin();
    cmd.current_dir(dir.path());
    let (ok, out) = run_bounded(cmd);
    assert!(!ok, "{out}");
    assert!(
        out.contains("oauth2-provider/import/oauth2-playbook-realm.json"),
        "{out}"
    );
    assert!(out.contains("--realm"), "{out}");
    assert!(out.contains("repository root"), "{out}");
    assert_eq!(
        out.matches("No such file").count(),
        0,
        "no raw OS error repeated: {out}"
    );
}

/// `PROVIDER_PORT` and `MANAGEMENT_PORT` (scripts/env.sh) set the two ports: with the port
/// taken by this test, the binary fails to bind exactly that port.
#[test]
fn ports_come_from_the_environment() {
    playbook::install_crypto_provider();
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = playbook::pki::DevPki::generate(2, 1).expect("dev PKI");
    playbook::pki::write_files(dir.path(), &pki.files().expect("files"), false)
        .expect("write certs");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let base = |cmd: &mut std::process::Command| {
        cmd.arg("--realm")
            .arg(oauth2_provider::realm_file())
            .arg("--certs")
            .arg(dir.path());
    };
    let mut cmd = provider_bin();
    base(&mut cmd);
    cmd.env("PROVIDER_PORT", &port).env("MANAGEMENT_PORT", "0");
    let (ok, out) = run_bounded(cmd);
    assert!(!ok, "{out}");
    assert!(out.contains(&format!("binding 127.0.0.1:{port} ")), "{out}");
    let mut cmd = provider_bin();
    base(&mut cmd);
    cmd.env("PROVIDER_PORT", "0").env("MANAGEMENT_PORT", &port);
    let (ok, out) = run_bounded(cmd);
    assert!(!ok, "{out}");
    assert!(
        out.contains(&format!("binding the management port 127.0.0.1:{port}")),
        "{out}"
    );
    drop(taken);
}

/// A realm file Keycloak refuses (duplicate internal ids, an array of non-realms) stops the
/// binary with one line naming the file, the JSON path and the problem, exit code 1, and no
/// backtrace even with RUST_BACKTRACE=1.
#[test]
fn refused_realm_files_give_one_line_and_exit_1() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/realms/refused");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 4, "{files:?}");
    for file in files {
        let mut cmd = provider_bin();
        cmd.arg("--realm")
            .arg(&file)
            .args(["--port", "0", "--management-port", "0"])
            .env("RUST_BACKTRACE", "1");
        let (status, out) = run_bounded_status(cmd);
        let name = file.file_name().unwrap().to_str().unwrap();
        assert_eq!(status.code(), Some(1), "{name}: {out}");
        let lines: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{name}: {out}");
        assert!(lines[0].contains(name), "{out}");
        assert!(lines[0].contains("field `"), "{out}");
        assert!(
            !out.contains("backtrace") && !out.contains("panicked"),
            "{out}"
        );
    }
}
