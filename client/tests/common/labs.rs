//! The workshop labs' tests, one function per lab, shared by the run against the embedded
//! provider (`tests/labs.rs`, a provider per lab) and the run against the native Keycloak
//! (`tests/labs_keycloak_native.rs`, one Keycloak for all labs). Each shows that
//! `client lab check N` fails right after `client lab reset N` and passes after
//! `client lab solve N`, plus what is particular to the lab; each leaves the provider's
//! shared state (the client's DN, its role mapping) as `lab reset N` puts it, so the next
//! lab starts from the realm as imported. The solutions shell out to openssl, as the
//! attendees do.
//!
//! [`TESTS`] gives each lab of `client::lab::LABS` its test; both runs iterate `LABS` and
//! fail on a lab without one ([`test_of`]).

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Output;

use client::Settings;
use client::lab::LABS;
use resource_server::{AppState, auth};

use super::{Servers, client_in, text};

// Lab 5's reference route, compiled here as `solve 5` puts it into the resource server.
#[path = "../../../labs/05-protected-route/solution/reports.rs"]
mod reports;

/// Where the labs run: the folder with the dev PKI (the certificates the client reads, the
/// dev CA's key the labs issue with; `labs-work/` below it is the labs' work directory) and
/// the client's settings for the servers.
#[derive(Debug, Clone)]
pub struct LabEnv {
    pub dir: PathBuf,
    pub settings: Settings,
}

impl Servers {
    pub fn lab_env(&self) -> LabEnv {
        LabEnv {
            dir: self.dir.path().to_owned(),
            settings: self.settings.clone(),
        }
    }
}

/// A future of the lab tests.
pub type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A lab's test against servers that stay up while it runs.
pub type Plain = for<'a> fn(&'a LabEnv) -> Boxed<'a, ()>;

/// Restarts the provider as `./start.sh --lab N` does (the lab's realm copy, and the given
/// certificate as an extra `--truststore-paths`) and returns its issuer.
pub type Restart<'a> = Box<dyn FnMut(Option<PathBuf>) -> Boxed<'a, String> + Send + 'a>;

/// A lab's test that restarts the provider on the way, with the run's [`Restart`].
pub type Restarting = for<'a> fn(&'a LabEnv, Restart<'a>) -> Boxed<'a, ()>;

/// How a lab's test runs.
#[derive(Clone, Copy)]
pub enum LabTest {
    /// Against the servers as they are, leaving the realm as the lab's reset puts it.
    Plain(Plain),
    /// With the provider restarted by the run (lab 7: trusting a certificate is a start
    /// option); against native Keycloak these run after every `Plain` lab.
    Restarting(Restarting),
}

/// Each lab's test, by lab number.
pub const TESTS: &[(u8, LabTest)] = &[
    (1, LabTest::Plain(|env| Box::pin(lab1(env)))),
    (2, LabTest::Plain(|env| Box::pin(lab2(env)))),
    (3, LabTest::Plain(|env| Box::pin(lab3(env)))),
    (4, LabTest::Plain(|env| Box::pin(lab4(env)))),
    (5, LabTest::Plain(|env| Box::pin(lab5(env)))),
    (6, LabTest::Plain(|env| Box::pin(lab6(env)))),
    (
        7,
        LabTest::Restarting(|env, restart| Box::pin(lab7(env, restart))),
    ),
    (8, LabTest::Plain(|env| Box::pin(lab8(env)))),
    (
        9,
        LabTest::Restarting(|env, restart| Box::pin(lab9(env, restart))),
    ),
    (10, LabTest::Plain(|env| Box::pin(lab10(env)))),
    (
        11,
        LabTest::Restarting(|env, restart| Box::pin(lab11(env, restart))),
    ),
    (12, LabTest::Plain(|env| Box::pin(lab12(env)))),
];

/// The test of lab `n`; panics, naming this file, for a lab of `LABS` without one.
pub fn test_of(n: u8) -> LabTest {
    TESTS
        .iter()
        .find(|(m, _)| *m == n)
        .map(|(_, t)| *t)
        .unwrap_or_else(|| panic!("lab {n} is in client::lab::LABS but has no row in TESTS (client/tests/common/labs.rs)"))
}

/// The text of a panic caught from a lab's task.
pub fn panic_text(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(p) => p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "a panic without a message".to_owned()),
        Err(e) => e.to_string(),
    }
}

/// The outcomes of the labs run so far, printed as each ends (a later lab's panic must not
/// hide an earlier failure).
#[derive(Debug, Default)]
pub struct Results(Vec<(u8, Result<(), String>)>);

impl Results {
    /// Prints lab `n`'s outcome (and, when it failed, why, at once), and keeps it.
    pub fn record(
        &mut self,
        n: u8,
        on: &str,
        started: std::time::Instant,
        outcome: Result<(), String>,
        note: &str,
    ) {
        println!(
            "lab {n} on {on} ... {} ({} s{note})",
            if outcome.is_ok() { "ok" } else { "FAILED" },
            started.elapsed().as_secs()
        );
        if let Err(e) = &outcome {
            eprintln!("lab {n} failed on {on}: {e}");
        }
        self.0.push((n, outcome));
    }

    /// Whether a lab failed so far.
    pub fn any_failed(&self) -> bool {
        self.0.iter().any(|(_, r)| r.is_err())
    }

    /// Every lab of `LABS` ran, once, and passed; else fails naming each lab that did not,
    /// with its reason, then `more` (e.g. the tail of the provider's log).
    pub fn assert_all_passed(&self, on: &str, more: &str) {
        let mut ran: Vec<u8> = self.0.iter().map(|(n, _)| *n).collect();
        ran.sort_unstable();
        let all: Vec<u8> = LABS.iter().map(|l| l.info.number).collect();
        assert_eq!(ran, all, "every lab of LABS runs once on {on}");
        let failed: Vec<String> = self
            .0
            .iter()
            .filter_map(|(n, r)| r.as_ref().err().map(|e| format!("lab {n}: {e}")))
            .collect();
        assert!(
            failed.is_empty(),
            "{} of {} labs failed on {on}:\n{}{more}",
            failed.len(),
            LABS.len(),
            failed.join("\n\n")
        );
    }
}

/// The repository root: the labs' folders and the realm file are read from there.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// The client with the servers' settings (see [`client_in`]).
pub async fn client(env: &LabEnv, extra: &[(&str, String)], args: &[&str]) -> Output {
    client_in(&env.dir, &env.settings, extra, args).await
}

/// `client lab ARGS…` with the lab work directory inside the servers' temporary folder.
pub async fn lab(env: &LabEnv, args: &[&str]) -> Output {
    lab_with(env, &[], args).await
}

/// [`lab`] with more environment variables (later ones win).
pub async fn lab_with(env: &LabEnv, extra: &[(&str, String)], args: &[&str]) -> Output {
    let work = env.dir.join("labs-work");
    let mut all = vec!["lab"];
    all.extend_from_slice(args);
    let mut vars = vec![
        ("LAB_WORK_DIR", work.display().to_string()),
        ("PLAYBOOK_ROOT", root().display().to_string()),
    ];
    vars.extend(extra.iter().cloned());
    client(env, &vars, &all).await
}

/// reset N → check N fails (exit 1, one ✘ line per failed check, each with a hint);
/// solve N → check N passes (exit 0).
pub async fn reset_fails_solve_passes(env: &LabEnv, n: &str) {
    reset_fails_solve_passes_with(env, &[], n).await;
}

/// [`reset_fails_solve_passes`] with more environment variables.
pub async fn reset_fails_solve_passes_with(env: &LabEnv, vars: &[(&str, String)], n: &str) {
    let lab = async |args: &[&str]| lab_with(env, vars, args).await;
    let reset = lab(&["reset", n]).await;
    assert!(reset.status.success(), "reset {n}: {}", text(&reset));
    let before = lab(&["check", n]).await;
    assert_failed_with_hints(&before, n);
    let solve = lab(&["solve", n]).await;
    assert!(solve.status.success(), "solve {n}: {}", text(&solve));
    let after = lab(&["check", n]).await;
    assert!(
        after.status.success(),
        "check {n} after solve: {}",
        text(&after)
    );
}

/// A failed check: exit 1, at least one ✘ line, each saying what was expected and found.
pub fn assert_failed_with_hints(o: &Output, n: &str) {
    assert_eq!(o.status.code(), Some(1), "check {n}: {}", text(o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let failed: Vec<&str> = stdout.lines().filter(|l| l.contains('✘')).collect();
    assert!(!failed.is_empty(), "check {n}: no failed line: {}", text(o));
    for line in &failed {
        assert!(
            line.contains("expected") && line.contains("found"),
            "check {n}: a failed line says what was expected and found: {line}"
        );
    }
}

/// `o`'s stdout contains `needle`.
pub fn assert_stdout_has(o: &Output, needle: &str) {
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(needle),
        "{needle:?} missing: {}",
        text(o)
    );
}

/// Lab 1: a certificate made with openssl, signed by the dev CA, gets a bound token; a
/// CSR with the wrong DN is named before anything is signed; `lab list` and `reset`.
pub async fn lab1(env: &LabEnv) {
    reset_fails_solve_passes(env, "1").await;
    // `lab list` shows every lab with its time, and that lab 1 passes now.
    let list = lab(env, &["list"]).await;
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(list.status.success(), "{}", text(&list));
    assert_eq!(
        listed.lines().filter(|l| l.contains(" min ")).count(),
        LABS.len(),
        "{listed}"
    );
    assert!(
        listed.lines().next().unwrap().ends_with("passes"),
        "{listed}"
    );
    let last = LABS.iter().map(|l| l.info.number).max().unwrap();
    let past = (last + 1).to_string();
    let o = lab(env, &["check", &past]).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let numbers: Vec<String> = LABS.iter().map(|l| l.info.number.to_string()).collect();
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(&numbers.join(", ")),
        "the valid numbers named: {}",
        text(&o)
    );
    // A CSR with the RDNs in the wrong order: the checker names the DN the realm expects
    // and the one it found, for the CSR as for the certificate.
    let dir = env.dir.join("labs-work/lab1");
    let csr = dir.join("client.csr.pem");
    let swapped = "/CN=oauth2-playbook-client-credentials-mtls/O=OAuth2 Playbook";
    openssl(
        &dir,
        &[
            "req",
            "-new",
            "-key",
            "client.key.pem",
            "-subj",
            swapped,
            "-out",
        ],
        &csr,
    );
    let o = lab(env, &["check", "1"]).await;
    assert_failed_with_hints(&o, "1");
    let stdout = String::from_utf8_lossy(&o.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains("✘ CSR subject DN"))
        .unwrap_or_else(|| panic!("no CSR subject line: {}", text(&o)));
    assert!(
        line.contains(&format!(
            "expected {:?}",
            playbook::names::CLIENT_SUBJECT_DN
        )) && line
            .contains("found \"O=OAuth2 Playbook,CN=oauth2-playbook-client-credentials-mtls\""),
        "{line}"
    );
    // Nothing listening where the client looks (servers on other ports): the hint names the
    // port and the settings that move it.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let elsewhere = [
        (
            "ISSUER",
            playbook::names::issuer_for(
                &format!("https://localhost:{closed}"),
                playbook::names::REALM,
            ),
        ),
        ("WAIT_SECS", "1".to_owned()),
    ];
    let o = lab_with(env, &elsewhere, &["check", "1"]).await;
    assert_failed_with_hints(&o, "1");
    assert_stdout_has(&o, &format!("nothing answered on port {closed}"));
    assert_stdout_has(&o, "PROVIDER_PORT");
    // reset keeps the key it did not make without --yes, and deletes it with it.
    let key = dir.join("client.key.pem");
    let o = lab(env, &["reset", "1"]).await;
    assert!(o.status.success() && key.exists(), "{}", text(&o));
    let o = lab(env, &["reset", "1", "--yes"]).await;
    assert!(o.status.success() && !key.exists(), "{}", text(&o));
}

/// `openssl ARGS… OUT` in `dir`, which must succeed.
fn openssl(dir: &Path, args: &[&str], out: &Path) {
    let o = std::process::Command::new("openssl")
        .args(args)
        .arg(out)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(o.status.success(), "openssl {args:?}: {}", text(&o));
}

/// Lab 2: exact DN, then a regex; two devices accepted, two decoys refused. The admin API
/// reconfigures the client at once; reset puts the realm's own DN back, so
/// certs/client.pem gets a token again.
pub async fn lab2(env: &LabEnv) {
    reset_fails_solve_passes(env, "2").await;
    // The realm copy the embedded provider re-imports under ./start.sh --lab 2 holds the
    // solution too, and imports.
    let copy = env.dir.join("labs-work/lab2/realm.json");
    let realm = std::fs::read_to_string(&copy).unwrap();
    assert!(realm.contains("device-[0-9]+"), "{realm}");
    oauth2_provider::Provider::from_realm_file(&copy, oauth2_provider::Options::default()).unwrap();
    let o = client(env, &[], &["token"]).await;
    assert_eq!(
        o.status.code(),
        Some(1),
        "regex mode: client.pem refused: {}",
        text(&o)
    );
    let o = lab(env, &["reset", "2"]).await;
    assert!(o.status.success(), "{}", text(&o));
    let o = client(env, &[], &["token"]).await;
    assert!(
        o.status.success(),
        "after reset client.pem works again: {}",
        text(&o)
    );
}

/// Lab 3: the admin API with curl; the checker runs the attendee's scripts and reads the
/// role mapping after each, and leaves the mapping as it found it.
pub async fn lab3(env: &LabEnv) {
    reset_fails_solve_passes(env, "3").await;
    // The checker put the mapping back as it found it (not assigned).
    let status = client(env, &[], &["admin", "status", "--json"]).await;
    let doc: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(doc["assigned"], false, "{}", text(&status));
}

/// Lab 4: the thumbprint by hand and the replay refused.
pub async fn lab4(env: &LabEnv) {
    reset_fails_solve_passes(env, "4").await;
}

/// A resource server on its own loopback port, trusting the issuer of `env`, until it is
/// stopped: with lab 5's reference route merged in (what `solve 5` and a rebuild give an
/// attendee) when `reports`, and checking the CRL files `crl` (`resource-server --crl`, lab
/// 10) when some are given.
async fn lab_resource_server(
    env: &LabEnv,
    reports: bool,
    crl: &[PathBuf],
) -> (String, playbook::server::Background) {
    let dir = &env.dir;
    let ca = playbook::pem::load_ca_certs(&dir.join("ca.pem")).unwrap();
    let mut config = resource_server::Config::new(env.settings.issuer.as_str(), ca);
    if !crl.is_empty() {
        let verifier = playbook::server::revocation::CrlVerifier::new(
            &config.ca,
            config.client_auth,
            crl.to_vec(),
        )
        .unwrap();
        config.crls = Some(std::sync::Arc::new(verifier));
    }
    let identity = playbook::Identity::load(
        &dir.join("resource-server.pem"),
        &dir.join("resource-server.key.pem"),
        None,
    )
    .unwrap();
    let tls = config.server_tls(&identity).unwrap();
    let state = AppState::new(config).unwrap();
    let mut app = resource_server::app(state.clone());
    if reports {
        app = app.merge(reports::router().with_state(state.clone()));
    }
    tokio::spawn(state.load_keys());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = playbook::server::localhost_url(listener.local_addr().unwrap());
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
pub async fn lab5(env: &LabEnv) {
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
    let vars = [("PLAYBOOK_ROOT", tree.path().display().to_string())];
    let lib = tree.path().join("resource-server/src/lib.rs");
    let original = std::fs::read_to_string(&lib).unwrap();

    let o = lab_with(env, &vars, &["reset", "5"]).await;
    assert!(o.status.success(), "{}", text(&o));
    let before = lab_with(env, &vars, &["check", "5"]).await;
    assert_failed_with_hints(&before, "5");
    assert_stdout_has(&before, "404");

    let o = lab_with(env, &vars, &["solve", "5"]).await;
    assert!(o.status.success(), "{}", text(&o));
    let patched = std::fs::read_to_string(&lib).unwrap();
    assert!(
        patched.contains("pub mod reports;") && patched.contains(".merge(reports::router())"),
        "{patched}"
    );
    assert!(tree.path().join("resource-server/src/reports.rs").exists());

    let (url, reports_server) = lab_resource_server(env, true, &[]).await;
    let mut with_route = vars.to_vec();
    with_route.push(("RESOURCE_SERVER_URL", url));
    let after = lab_with(env, &with_route, &["check", "5"]).await;
    let _ = reports_server.stop().await;
    assert!(after.status.success(), "{}", text(&after));

    let o = lab_with(env, &vars, &["reset", "5"]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(&lib).unwrap(), original);
    assert!(!tree.path().join("resource-server/src/reports.rs").exists());
}

/// Lab 6: with no switch during the stream the checker fails; with `solve 6` (a new
/// certificate, same DN, renamed into place) run while it streams, it passes: zero failed
/// calls, every later call with the new certificate and a token bound to it. reset then
/// refuses to replace the new key without --yes.
pub async fn lab6(env: &LabEnv) {
    let short = [("LAB6_WINDOW_SECS", "2".to_owned())];
    let o = lab(env, &["reset", "6"]).await;
    assert!(o.status.success(), "{}", text(&o));
    let before = lab_with(env, &short, &["check", "6"]).await;
    assert_failed_with_hints(&before, "6");
    assert_stdout_has(&before, "the switch");

    let long = [("LAB6_WINDOW_SECS", "60".to_owned())];
    let (check, solve) = tokio::join!(lab_with(env, &long, &["check", "6"]), async {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        lab(env, &["solve", "6"]).await
    });
    assert!(solve.status.success(), "{}", text(&solve));
    assert!(check.status.success(), "{}", text(&check));

    let o = lab(env, &["reset", "6"]).await;
    assert_eq!(
        o.status.code(),
        Some(1),
        "the new key is kept: {}",
        text(&o)
    );
    let o = lab(env, &["reset", "6", "--yes"]).await;
    assert!(o.status.success(), "{}", text(&o));
}

/// Lab 7: after reset no certificate (fail); solve step 1 makes the self-signed certificate
/// and trusts it: with the provider restarted on that trust, a token (recorded; the check
/// still fails, the refusal is missing); solve step 2 removes the trust: restarted without
/// it, the handshake is refused and the check passes.
///
/// `restart(trust)` restarts the provider as `./start.sh --lab 7` does (the lab's realm
/// copy, and `trust` as an extra `--truststore-paths` when given) and returns its issuer.
pub async fn lab7<F: Future<Output = String>>(
    env: &LabEnv,
    mut restart: impl FnMut(Option<PathBuf>) -> F,
) {
    let o = lab(env, &["reset", "7"]).await;
    assert!(o.status.success(), "{}", text(&o));
    let o = lab(env, &["check", "7"]).await;
    assert_failed_with_hints(&o, "7");

    let o = lab(env, &["solve", "7"]).await;
    assert!(o.status.success(), "{}", text(&o));
    let trust = env.dir.join("labs-work/lab7/truststore.pem");
    let issuer = restart(Some(trust.clone())).await;
    let o = lab_with(env, &[("ISSUER", issuer)], &["check", "7"]).await;
    assert_failed_with_hints(&o, "7");
    assert_stdout_has(&o, "✔ a token while it is trusted");

    let o = lab(env, &["solve", "7"]).await;
    assert!(o.status.success() && !trust.exists(), "{}", text(&o));
    let issuer = restart(None).await;
    let o = lab_with(env, &[("ISSUER", issuer)], &["check", "7"]).await;
    assert!(o.status.success(), "{}", text(&o));
}

/// Lab 8: a certificate that expires (here in 3 s instead of a minute): the observations
/// before and after match what the checker measures.
pub async fn lab8(env: &LabEnv) {
    reset_fails_solve_passes_with(env, &[("LAB8_CERT_SECONDS", "3".into())], "8").await;
    let seen = std::fs::read_to_string(env.dir.join("labs-work/lab8/observations.txt")).unwrap();
    for line in [
        "after.provider: tls-refused",
        "after.resource-server: tls-refused",
        "after.client: refused",
    ] {
        assert!(seen.contains(line), "{line} in {seen}");
    }
}

/// Lab 9: `prepare 9` (the matrix, the realm copy, the truststore with the same-DN CA), then
/// the provider restarted as `./start.sh --lab 9` starts it (that realm copy, that
/// truststore); after reset every cell lacks a prediction (fail); after solve (native
/// Keycloak's recorded answers as predictions) every cell of the live matrix agrees.
pub async fn lab9<F: Future<Output = String>>(
    env: &LabEnv,
    mut restart: impl FnMut(Option<PathBuf>) -> F,
) {
    let o = lab(env, &["prepare", "9"]).await;
    assert!(o.status.success(), "{}", text(&o));
    let trust = env.dir.join("labs-work/lab9/truststore.pem");
    assert!(trust.exists(), "prepare 9 writes the lab's truststore");
    let issuer = restart(Some(trust)).await;
    let on = [("ISSUER", issuer)];
    let o = lab_with(env, &on, &["reset", "9"]).await;
    assert!(o.status.success(), "{}", text(&o));
    let o = lab_with(env, &on, &["check", "9"]).await;
    assert_failed_with_hints(&o, "9");
    assert_stdout_has(&o, "no prediction");
    let o = lab_with(env, &on, &["solve", "9"]).await;
    assert!(o.status.success(), "{}", text(&o));
    let o = lab_with(env, &on, &["check", "9"]).await;
    assert!(o.status.success(), "check 9 after solve: {}", text(&o));
}

/// Lab 11: HAProxy, run by the checker with the attendee's copy of its template, in front
/// of a provider restarted to read the haproxy shape from 127.0.0.2. Reset: nothing is
/// forwarded and a client's own header reaches the provider; solved: every check passes;
/// then each break the README asks for fails the check that names it.
pub async fn lab11<F: Future<Output = String>>(
    env: &LabEnv,
    mut restart: impl FnMut(Option<PathBuf>) -> F,
) {
    let issuer = restart(None).await;
    let url = url::Url::parse(&issuer).unwrap();
    let backend = format!("127.0.0.1:{}", url.port().unwrap());
    let on = [("ISSUER", issuer), ("PROVIDER_BACKEND", backend)];
    let o = lab_with(env, &on, &["reset", "11"]).await;
    assert!(o.status.success(), "{}", text(&o));
    let o = lab_with(env, &on, &["check", "11"]).await;
    assert_failed_with_hints(&o, "11");
    assert_stdout_has(&o, "HAProxy runs your configuration");
    let o = lab_with(env, &on, &["solve", "11"]).await;
    assert!(o.status.success(), "{}", text(&o));
    let o = lab_with(env, &on, &["check", "11"]).await;
    assert!(o.status.success(), "check 11 after solve: {}", text(&o));
    let config = env.dir.join("labs-work/lab11/haproxy.cfg.in");
    let solved = std::fs::read_to_string(&config).unwrap();
    // Each break on purpose (in the provider's front end, the first occurrence), and the
    // checks it must fail: the encoding breaks both certificates, the others one each.
    let breaks = [
        (
            "set-header x-ssl-client-cert %[ssl_c_der,base64] if",
            "set-header x-ssl-client-cert %[ssl_c_der,hex] if",
            &[
                "the dev CA's client certificate",
                "a certificate from the intermediate CA",
            ][..],
        ),
        (
            "    http-request set-header x-ssl-client-chain %[ssl_c_chain_der,base64] if { ssl_c_used } { ssl_c_chain_der -m found }\n",
            "",
            &["a certificate from the intermediate CA"][..],
        ),
        (
            "    http-request del-header x-ssl-client-cert\n",
            "",
            &["a client's own x-ssl-client-cert"][..],
        ),
    ];
    for (from, to, failing) in breaks {
        assert!(solved.contains(from), "{from:?} in the template");
        std::fs::write(&config, solved.replacen(from, to, 1)).unwrap();
        let o = lab_with(env, &on, &["check", "11"]).await;
        assert_failed_with_hints(&o, "11");
        let stdout = String::from_utf8_lossy(&o.stdout);
        let failed: Vec<&str> = stdout.lines().filter(|l| l.contains('✘')).collect();
        assert_eq!(
            failed.len(),
            failing.len(),
            "breaking {from:?}: {}",
            text(&o)
        );
        for (line, what) in failed.iter().zip(failing) {
            assert!(
                line.contains(what),
                "breaking {from:?} fails {what:?}: {}",
                text(&o)
            );
        }
    }
    let o = lab_with(env, &on, &["reset", "11"]).await;
    assert!(o.status.success(), "{}", text(&o));
}

/// Lab 12: mTLS and DPoP mixed up on purpose; the checker reads the saved answers and
/// `why.txt`, and an explanation naming the wrong binding fails, naming the file.
pub async fn lab12(env: &LabEnv) {
    reset_fails_solve_passes(env, "12").await;
    let why = env.dir.join("labs-work/lab12/why.txt");
    std::fs::write(
        &why,
        "bearer.txt: bound to the certificate, x5t#S256\n\
         wrong-scheme.txt: the token is cnf.jkt-bound\n\
         no-proof.txt: cnf.jkt, and no proof of its key\n",
    )
    .unwrap();
    let swapped = lab(env, &["check", "12"]).await;
    assert_failed_with_hints(&swapped, "12");
    assert_stdout_has(&swapped, "why bearer.txt was refused");
    assert_stdout_has(&swapped, "why wrong-scheme.txt was refused");
    let reset = lab(env, &["reset", "12"]).await;
    assert!(reset.status.success(), "reset 12: {}", text(&reset));
}

/// Lab 10: a resource server with `--crl` started before the revocation and never restarted
/// (the attendee's second one); reset → check fails, solve → check passes. What the checker
/// measured live is the lab's answer, asserted here on every provider the suite runs on:
/// the provider still issues a token to the revoked certificate (Keycloak by default, and
/// the embedded provider as it does), the resource server without a CRL accepts it, the one
/// with the CRL refuses it in the handshake (reread without a restart); a bound token
/// outlives its certificate (no provider caps `exp` at `notAfter`) and is useless after it:
/// refused in the handshake with its expired certificate, 401 with another. Then calls flow
/// through the renewals of a 6-second certificate (solve's renewer), and reset stops the
/// renewer.
pub async fn lab10(env: &LabEnv) {
    let crl = client(env, &[], &["certs", "crl"]).await;
    assert!(crl.status.success(), "{}", text(&crl));
    let (url, crl_server) = lab_resource_server(env, false, &[env.dir.join("ca.crl.pem")]).await;
    let vars = [
        ("LAB10_CRL_RESOURCE_SERVER_URL", url),
        ("LAB10_CERT_SECONDS", "6".to_owned()),
        ("LAB10_EXPIRING_SECS", "3".to_owned()),
        ("LAB10_WINDOW_SECS", "60".to_owned()),
    ];
    reset_fails_solve_passes_with(env, &vars, "10").await;
    let seen = std::fs::read_to_string(env.dir.join("labs-work/lab10/observations.txt")).unwrap();
    for line in [
        "revoked.provider: 200",
        "revoked.resource-server: 200",
        "revoked.crl-resource-server: tls-refused",
        "expired.token-outlives-certificate: yes",
        "expired.with-its-certificate: tls-refused",
        "expired.with-another-certificate: 401",
    ] {
        assert!(seen.contains(line), "{line} in {seen}");
    }
    let pid_file = env.dir.join("labs-work/lab10/renewer.pid");
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let o = lab_with(env, &vars, &["reset", "10", "--yes"]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert!(!pid_file.exists(), "reset removes the renewer's pid file");
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        !Path::new(&format!("/proc/{}", pid.trim())).exists()
            || std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()))
                .is_ok_and(|s| s.contains(") Z ")),
        "reset stopped the renewer (pid {pid})"
    );
    let _ = crl_server.stop().await;
}
