//! The workshop labs: for every lab, `client lab check N` fails right after
//! `client lab reset N` and passes after `client lab solve N`, against the embedded
//! provider and the resource server over real TLS on loopback. The solutions shell out to
//! openssl, as the attendees do.

mod common;

use std::path::PathBuf;
use std::process::Output;

use common::{Servers, client, start, text};
use resource_server::{AppState, auth};

// Lab 5's reference route, compiled here as `solve 5` puts it into the resource server.
#[path = "../../labs/05-protected-route/solution/reports.rs"]
mod reports;

/// The repository root: the labs' folders and the realm file are read from there.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// `client lab ARGS…` with the lab work directory inside the servers' temporary folder.
async fn lab(servers: &Servers, args: &[&str]) -> Output {
    lab_with(servers, &[], args).await
}

/// [`lab`] with more environment variables (later ones win).
async fn lab_with(servers: &Servers, extra: &[(&str, String)], args: &[&str]) -> Output {
    let work = servers.dir.path().join("labs-work");
    let mut all = vec!["lab"];
    all.extend_from_slice(args);
    let mut env = vec![
        ("LAB_WORK_DIR", work.display().to_string()),
        ("PLAYBOOK_ROOT", root().display().to_string()),
    ];
    env.extend(extra.iter().cloned());
    client(servers, &env, &all).await
}

/// reset N → check N fails (exit 1, one ✘ line per failed check, each with a hint);
/// solve N → check N passes (exit 0).
async fn reset_fails_solve_passes(servers: &Servers, n: &str) {
    reset_fails_solve_passes_with(servers, &[], n).await;
}

/// [`reset_fails_solve_passes`] with more environment variables.
async fn reset_fails_solve_passes_with(servers: &Servers, env: &[(&str, String)], n: &str) {
    let lab = async |servers: &Servers, args: &[&str]| lab_with(servers, env, args).await;
    let reset = lab(servers, &["reset", n]).await;
    assert!(reset.status.success(), "reset {n}: {}", text(&reset));
    let before = lab(servers, &["check", n]).await;
    assert_eq!(
        before.status.code(),
        Some(1),
        "check {n} after reset: {}",
        text(&before)
    );
    let stdout = String::from_utf8_lossy(&before.stdout);
    let failed: Vec<&str> = stdout.lines().filter(|l| l.contains('✘')).collect();
    assert!(
        !failed.is_empty(),
        "check {n}: no failed line: {}",
        text(&before)
    );
    for line in &failed {
        assert!(
            line.contains("expected") && line.contains("found"),
            "check {n}: a failed line says what was expected and found: {line}"
        );
    }
    let solve = lab(servers, &["solve", n]).await;
    assert!(solve.status.success(), "solve {n}: {}", text(&solve));
    let after = lab(servers, &["check", n]).await;
    assert!(
        after.status.success(),
        "check {n} after solve: {}",
        text(&after)
    );
}

/// Lab 1: a certificate made with openssl, signed by the dev CA, gets a bound token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab1_client_certificate() {
    let servers = start().await;
    reset_fails_solve_passes(&servers, "1").await;
    // `lab list` shows every lab with its time, and that lab 1 passes now.
    let list = lab(&servers, &["list"]).await;
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(list.status.success(), "{}", text(&list));
    assert_eq!(
        listed.lines().filter(|l| l.contains(" min ")).count(),
        8,
        "{listed}"
    );
    assert!(
        listed.lines().next().unwrap().ends_with("passes"),
        "{listed}"
    );
    let o = lab(&servers, &["check", "9"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("1 to 8"),
        "{}",
        text(&o)
    );
    // reset keeps the key it did not make without --yes, and deletes it with it.
    let key = servers.dir.path().join("labs-work/lab1/client.key.pem");
    let o = lab(&servers, &["reset", "1"]).await;
    assert!(o.status.success() && key.exists(), "{}", text(&o));
    let o = lab(&servers, &["reset", "1", "--yes"]).await;
    assert!(o.status.success() && !key.exists(), "{}", text(&o));
    servers.stop().await;
}

/// Lab 3: the admin API with curl only; the checker runs the attendee's scripts and reads
/// the role mapping after each, and leaves the mapping as it found it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab3_admin_api_with_curl() {
    let servers = start().await;
    reset_fails_solve_passes(&servers, "3").await;
    // The checker put the mapping back as it found it (not assigned).
    let status = client(&servers, &[], &["admin", "status", "--json"]).await;
    let doc: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(doc["assigned"], false, "{}", text(&status));
    servers.stop().await;
}

/// Lab 4: the thumbprint by hand and the replay refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab4_bound_tokens() {
    let servers = start().await;
    reset_fails_solve_passes(&servers, "4").await;
    servers.stop().await;
}

/// Lab 2: exact DN, then a regex; two devices accepted, two decoys refused. The admin
/// API's PUT reconfigures the embedded provider's client at once; reset puts the realm's own
/// DN back, so certs/client.pem gets a token again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab2_dn_matching() {
    let servers = start().await;
    reset_fails_solve_passes(&servers, "2").await;
    // The realm copy the embedded provider re-imports under ./start.sh --lab 2 holds the
    // solution too, and imports.
    let copy = servers.dir.path().join("labs-work/lab2/realm.json");
    let realm = std::fs::read_to_string(&copy).unwrap();
    assert!(realm.contains("device-[0-9]+"), "{realm}");
    oauth2_provider::Provider::from_realm_file(&copy, oauth2_provider::Options::default()).unwrap();
    let o = client(&servers, &[], &["token"]).await;
    assert_eq!(
        o.status.code(),
        Some(1),
        "regex mode: client.pem refused: {}",
        text(&o)
    );
    let o = lab(&servers, &["reset", "2"]).await;
    assert!(o.status.success(), "{}", text(&o));
    let o = client(&servers, &[], &["token"]).await;
    assert!(
        o.status.success(),
        "after reset client.pem works again: {}",
        text(&o)
    );
    servers.stop().await;
}

/// A resource server with lab 5's reference route merged in (what `solve 5` and a rebuild
/// give an attendee), on its own loopback port until it is stopped.
async fn resource_server_with_reports(servers: &Servers) -> (String, playbook::server::Background) {
    let dir = servers.dir.path();
    let ca = playbook::pem::load_ca_certs(&dir.join("ca.pem")).unwrap();
    let config = resource_server::Config::new(servers.settings.issuer.as_str(), ca);
    let identity = playbook::Identity::load(
        &dir.join("resource-server.pem"),
        &dir.join("resource-server.key.pem"),
        None,
    )
    .unwrap();
    let tls = config.server_tls(&identity).unwrap();
    let state = AppState::new(config).unwrap();
    let app =
        resource_server::app(state.clone()).merge(reports::router().with_state(state.clone()));
    tokio::spawn(state.load_keys());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "https://localhost:{}",
        listener.local_addr().unwrap().port()
    );
    let server = playbook::server::Background::spawn(|stopped| {
        playbook::server::serve(listener, tls, app, stopped)
    });
    state
        .validator
        .keys()
        .wait_ready(std::time::Duration::from_secs(20))
        .await
        .unwrap();
    (url, server)
}

/// Lab 5: after reset the resource server has no /api/reports (404: the checker fails);
/// solve puts the reference route into the source (here a copy of it) and, once built in,
/// the checker's four probes pass; reset takes it out again, byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab5_protected_route() {
    let servers = start().await;
    // A copy of the files solve 5 edits, so the test never touches the real source.
    let tree = tempfile::tempdir().unwrap();
    for file in [
        "labs/05-protected-route/solution/reports.rs",
        "resource-server/src/lib.rs",
        "resource-server/src/routes.rs",
    ] {
        let to = tree.path().join(file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(root().join(file), &to).unwrap();
    }
    let env = [("PLAYBOOK_ROOT", tree.path().display().to_string())];
    let lib = tree.path().join("resource-server/src/lib.rs");
    let original = std::fs::read_to_string(&lib).unwrap();

    let o = lab_with(&servers, &env, &["reset", "5"]).await;
    assert!(o.status.success(), "{}", text(&o));
    let before = lab_with(&servers, &env, &["check", "5"]).await;
    assert_eq!(before.status.code(), Some(1), "{}", text(&before));
    assert!(
        String::from_utf8_lossy(&before.stdout).contains("404"),
        "{}",
        text(&before)
    );

    let o = lab_with(&servers, &env, &["solve", "5"]).await;
    assert!(o.status.success(), "{}", text(&o));
    let patched = std::fs::read_to_string(&lib).unwrap();
    assert!(
        patched.contains("pub mod reports;") && patched.contains(".merge(reports::router())"),
        "{patched}"
    );
    assert!(tree.path().join("resource-server/src/reports.rs").exists());

    let (url, reports_server) = resource_server_with_reports(&servers).await;
    let mut with_route = env.to_vec();
    with_route.push(("RESOURCE_SERVER_URL", url));
    let after = lab_with(&servers, &with_route, &["check", "5"]).await;
    assert!(after.status.success(), "{}", text(&after));
    let _ = reports_server.stop().await;

    let o = lab_with(&servers, &env, &["reset", "5"]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(&lib).unwrap(), original);
    assert!(!tree.path().join("resource-server/src/reports.rs").exists());
    servers.stop().await;
}

/// Lab 8: a certificate that expires (here in 3 s instead of a minute): the observations
/// before and after match what the checker measures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab8_expiry() {
    let servers = start().await;
    reset_fails_solve_passes_with(&servers, &[("LAB8_CERT_SECONDS", "3".into())], "8").await;
    let seen = std::fs::read_to_string(servers.dir.path().join("labs-work/lab8/observations.txt"))
        .unwrap();
    for line in [
        "after.provider: tls-refused",
        "after.resource-server: tls-refused",
        "after.client: refused",
    ] {
        assert!(seen.contains(line), "{line} in {seen}");
    }
    servers.stop().await;
}

/// Lab 6: with no switch during the stream the checker fails; with `solve 6` (a new
/// certificate, same DN, renamed into place) run while it streams, it passes: zero failed
/// calls, every later call with the new certificate and a token bound to it. reset then
/// refuses to replace the new key without --yes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab6_certificate_rotation() {
    let servers = start().await;
    let short = [("LAB6_WINDOW_SECS", "2".to_owned())];
    let o = lab(&servers, &["reset", "6"]).await;
    assert!(o.status.success(), "{}", text(&o));
    let before = lab_with(&servers, &short, &["check", "6"]).await;
    assert_eq!(before.status.code(), Some(1), "{}", text(&before));
    assert!(
        String::from_utf8_lossy(&before.stdout).contains("the switch"),
        "{}",
        text(&before)
    );

    let long = [("LAB6_WINDOW_SECS", "60".to_owned())];
    let (check, solve) = tokio::join!(lab_with(&servers, &long, &["check", "6"]), async {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        lab(&servers, &["solve", "6"]).await
    });
    assert!(solve.status.success(), "{}", text(&solve));
    assert!(check.status.success(), "{}", text(&check));

    let o = lab(&servers, &["reset", "6"]).await;
    assert_eq!(
        o.status.code(),
        Some(1),
        "the new key is kept: {}",
        text(&o)
    );
    let o = lab(&servers, &["reset", "6", "--yes"]).await;
    assert!(o.status.success(), "{}", text(&o));
    servers.stop().await;
}

/// The embedded provider started as `./start.sh --lab 7` starts it: the lab's realm copy,
/// and the extra trust (`--truststore-paths`) when given. Returns it and its issuer.
async fn lab7_provider(servers: &Servers, trust: &[PathBuf]) -> (oauth2_provider::Running, String) {
    let dir = servers.dir.path();
    let realm = dir.join("labs-work/lab7/realm.json");
    let provider =
        oauth2_provider::Provider::from_realm_file(&realm, oauth2_provider::Options::default())
            .unwrap();
    let tls = oauth2_provider::tls_config_from_dir(dir, trust).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let management = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = oauth2_provider::spawn(listener, Some(management), tls, provider).unwrap();
    let issuer = playbook::names::issuer_for(&running.url, playbook::names::REALM);
    (running, issuer)
}

/// Lab 7: after reset no certificate (fail); solve step 1 makes the self-signed certificate
/// and trusts it: with the provider restarted on that trust, a token (recorded; the check
/// still fails, the refusal is missing); solve step 2 removes the trust: restarted without
/// it, the handshake is refused and the check passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab7_self_signed() {
    let servers = start().await;
    let o = lab(&servers, &["reset", "7"]).await;
    assert!(o.status.success(), "{}", text(&o));
    let o = lab(&servers, &["check", "7"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));

    let o = lab(&servers, &["solve", "7"]).await;
    assert!(o.status.success(), "{}", text(&o));
    let trust = servers.dir.path().join("labs-work/lab7/truststore.pem");
    let (trusted, issuer) = lab7_provider(&servers, std::slice::from_ref(&trust)).await;
    let o = lab_with(&servers, &[("ISSUER", issuer)], &["check", "7"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("✔ a token while it is trusted"),
        "{}",
        text(&o)
    );
    trusted.stop().await.unwrap();

    let o = lab(&servers, &["solve", "7"]).await;
    assert!(o.status.success() && !trust.exists(), "{}", text(&o));
    let (untrusted, issuer) = lab7_provider(&servers, &[]).await;
    let o = lab_with(&servers, &[("ISSUER", issuer)], &["check", "7"]).await;
    assert!(o.status.success(), "{}", text(&o));
    untrusted.stop().await.unwrap();
    servers.stop().await;
}
