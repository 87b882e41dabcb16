//! The whole walkthrough in-process: the embedded provider and the resource server on
//! `127.0.0.1:0` with an in-memory dev PKI (written to a temporary directory, since the
//! client reads files as a user's would), real TLS on loopback, every step's outcome checked.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use client::admin::{AdminApi, RoleTarget};
use client::output::Output;
use client::resource::{self, TokenCache, TokenSource};
use client::token::{self, ClientAuth, TokenRequest};
use client::walkthrough::{self, Options, Report, UntrustedCaRefusal};
use client::{ClientError, Settings};
use common::start;
use playbook::pki::{DevPki, write_files};
use playbook::{Identity, names};

fn assert_step(report: &Report, number: &str, needle: &str) {
    let step = report
        .step(number)
        .unwrap_or_else(|| panic!("no step {number} in {report:#?}"));
    assert!(step.passed, "step {number} failed: {step:#?}");
    assert!(
        step.actual.contains(needle),
        "step {number}: expected {needle:?} in {:?}",
        step.actual
    );
}

/// What each step's outcome says when it passes, for every step of `STEPS` (3b's, which
/// depends on how the handshake was refused, is checked apart).
const OUTCOMES: &[(&str, &[&str])] = &[
    ("1", &[names::CLIENT_SUBJECT_DN]),
    ("2", &["invalid_client", "(HTTP 401)"]),
    ("3", &["invalid_client"]),
    ("3b", &[]),
    ("4", &["cnf.x5t#S256"]),
    ("5", &["403"]),
    ("6", &["carries", "200"]),
    ("7", &["401 invalid_token"]),
    ("8", &["403"]),
];

/// Every step of `STEPS` against the embedded provider and the resource server: each step
/// has the outcome the walkthrough promises, and the realm is left as it was found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_walkthrough_step_behaves_as_expected() {
    let servers = start().await;
    let (out, captured) = Output::captured(false);
    let report = walkthrough::run(&servers.settings, &Options::default(), &out)
        .await
        .unwrap_or_else(|e| panic!("walkthrough failed to run: {e}\n{}", captured.text()));
    let text = captured.text();

    let numbers: Vec<&str> = report.steps.iter().map(|s| s.number.as_str()).collect();
    let every: Vec<&str> = walkthrough::STEPS.iter().map(|d| d.number).collect();
    assert_eq!(numbers, every, "every step of STEPS ran, in order: {text}");
    assert!(report.all_passed(), "{report:#?}\n{text}");
    for d in walkthrough::STEPS {
        let (_, needles) = OUTCOMES
            .iter()
            .find(|(n, _)| *n == d.number)
            .unwrap_or_else(|| panic!("step {} of STEPS has no row in OUTCOMES", d.number));
        for needle in *needles {
            assert_step(&report, d.number, needle);
        }
    }
    // 3b: refused in the handshake, the step says how (its rule: tests/step_3b.rs). When the
    // client reads rustls's alert, it is recognised from the error value and explained as
    // the embedded provider's (Keycloak on Java sends certificate_unknown instead). In TLS
    // 1.3 the client has sent its request by the time the server refuses the certificate,
    // and now and then the connection is reset before the alert is read: the step passes on
    // that reset, and says so.
    let step_3b = report.step("3b").expect("step 3b");
    assert!(step_3b.passed, "step 3b failed: {step_3b:#?}");
    let alert = UntrustedCaRefusal::Alert(rustls::AlertDescription::UnknownCA).describe();
    let reset = UntrustedCaRefusal::Reset.describe();
    if step_3b.actual.starts_with(&alert) {
        println!("step 3b saw the alert: {}", step_3b.actual);
        assert!(
            text.contains("The alert is unknown_ca: rustls (the embedded provider)"),
            "{text}"
        );
    } else {
        println!("step 3b saw a reset: {}", step_3b.actual);
        assert!(
            step_3b.actual.starts_with(&reset),
            "step 3b: neither the alert nor a reset: {:?}",
            step_3b.actual
        );
    }
    // Step 7 is decided from the code and the client's own knowledge, and says so.
    assert!(
        text.contains("accepted over client.pem a moment ago")
            && text.contains("the binding refused it (RFC 8705 §3)"),
        "{text}"
    );

    // The narration shows requests, answers and curl commands, never -k, never a whole token.
    assert!(
        text.contains(
            "grant_type=client_credentials&client_id=oauth2-playbook-client-credentials-mtls"
        ),
        "{text}"
    );
    assert!(
        text.contains("--cacert") && !text.contains(" -k "),
        "{text}"
    );
    for (i, _) in text.match_indices("eyJ") {
        let window: String = text[i..].chars().take(12).collect();
        assert!(
            window.contains('…'),
            "a token is printed unshortened near: {window}"
        );
    }
    assert!(text.contains("Summary"), "{text}");

    // Left as found: the role was not assigned before, so it is not assigned after.
    assert_eq!(report.changes.len(), 1, "{:?}", report.changes);
    assert!(
        report.changes[0].contains("removed again"),
        "{:?}",
        report.changes
    );
    let again = walkthrough::run(&servers.settings, &Options::default(), &Output::quiet())
        .await
        .unwrap();
    assert!(again.all_passed(), "a second run passes too: {again:#?}");
    assert!(
        again.changes[0].contains("removed again"),
        "{:?}",
        again.changes
    );

    servers.stop().await;
}

/// With the role already assigned (an earlier run with --keep-role), the walkthrough
/// removes it first so that step 5 still shows 403, and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_already_assigned_role_is_removed_first_and_restored() {
    let servers = start().await;
    let keep = Options {
        keep_role: true,
        skip_rogue: true,
        ..Options::default()
    };
    let first = walkthrough::run(&servers.settings, &keep, &Output::quiet())
        .await
        .unwrap();
    assert!(first.all_passed(), "{first:#?}");
    assert!(
        first.changes[0].contains("--keep-role"),
        "{:?}",
        first.changes
    );
    assert!(first.step("3b").is_none(), "3b skipped on request");

    let (out, captured) = Output::captured(false);
    let second = walkthrough::run(&servers.settings, &Options::default(), &out)
        .await
        .unwrap();
    assert!(second.all_passed(), "{second:#?}\n{}", captured.text());
    assert!(
        captured.text().contains("already has"),
        "{}",
        captured.text()
    );
    assert!(
        second.changes[0].contains("as found"),
        "{:?}",
        second.changes
    );
    servers.stop().await;
}

/// `client call`'s cache: a rejected token (`invalid_token`) is replaced exactly once, and
/// the next call reuses the fresh token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_token_is_refetched_once_on_invalid_token() {
    let servers = start().await;
    let s = &servers.settings;
    // Give the client the role so that the calls succeed once the token is good.
    walkthrough::run(
        s,
        &Options {
            keep_role: true,
            skip_rogue: true,
            ..Options::default()
        },
        &Output::quiet(),
    )
    .await
    .unwrap();

    let roots = playbook::pem::load_ca_certs(&s.ca).unwrap();
    let identity = Identity::load(&s.cert, &s.key, None).unwrap();
    let http: client::http::Http = playbook::https::https_client(&roots, Some(&identity))
        .unwrap()
        .into();
    let metadata = client::discovery::discover(&http, &s.issuer).await.unwrap();
    let endpoint = metadata.token_endpoint_for_mtls().clone();
    let request = TokenRequest {
        client_id: s.client_id.clone(),
        scope: None,
        auth: ClientAuth::TlsClientAuth,
    };
    let mut fetches = 0;
    let mut fetch = async || {
        fetches += 1;
        token::request_token(&http, &endpoint, &request).await
    };

    // A garbage token in the cache, as if it had been revoked or the keys rotated.
    let mut cache = TokenCache::default();
    let bogus = token::TokenResponse::from_json(
        &endpoint,
        serde_json::json!({"access_token": "eyJhbGciOiJSUzI1NiJ9.e30.AAAA", "token_type": "Bearer", "expires_in": 300}),
    )
    .unwrap();
    cache.store(&bogus);

    let mut users = async |cache: &mut TokenCache| {
        resource::call_cached(
            &http,
            &s.resource_server,
            reqwest::Method::GET,
            names::USERS_API_PATH,
            None,
            cache,
            &mut fetch,
        )
        .await
        .unwrap()
    };
    let (first, source) = users(&mut cache).await;
    assert_eq!(
        (first.status, source),
        (200, TokenSource::Refetched),
        "{first:?}"
    );
    let (second, source) = users(&mut cache).await;
    assert_eq!(
        (second.status, source),
        (200, TokenSource::Cached),
        "{second:?}"
    );
    assert_eq!(fetches, 1, "one refetch, then the cache");
    servers.stop().await;
}

/// A provider that is not there: the walkthrough gives up after the wait it names.
#[tokio::test]
async fn unreachable_provider_gives_up_with_a_message_naming_the_wait() {
    let pki = DevPki::generate(2, 1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path(), &pki.files().unwrap(), false).unwrap();
    // A port nothing listens on: bind, read the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut s = Settings::for_servers(
        dir.path(),
        &format!("https://localhost:{port}"),
        "https://localhost:1",
    );
    s.wait = Duration::from_millis(500);
    let err = walkthrough::run(&s, &Options::default(), &Output::quiet())
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::GaveUp { .. }), "{err}");
    assert!(err.to_string().contains("--wait"), "{err}");
}

/// Whether the mTLS client's service-account user has the read role now (asked through
/// the admin API, as `client admin status` does).
async fn role_assigned(s: &Settings) -> bool {
    let (api, target) = admin(s).await;
    api.is_assigned(&target).await.unwrap()
}

async fn admin(s: &Settings) -> (AdminApi, RoleTarget) {
    let roots = playbook::pem::load_ca_certs(&s.ca).unwrap();
    let http: client::http::Http = playbook::https::https_client(&roots, None).unwrap().into();
    let api = AdminApi::login(
        http,
        s.admin_base().unwrap(),
        &s.realm,
        &s.admin_username,
        &s.admin_password,
    )
    .await
    .unwrap();
    let target = api
        .resolve(s.client_id.as_str(), names::READONLY_ROLE)
        .await
        .unwrap();
    (api, target)
}

async fn assign_role(s: &Settings) {
    let (api, target) = admin(s).await;
    api.assign(&target).await.unwrap();
}

/// A step that fails in the middle (step 4: the wrong certificate presented as the
/// client's own) ends the run early, and the role that was assigned when it started (so it
/// was removed for step 5) is assigned again. A missing rogue-client.pem is reported as a
/// skipped step 3b, not dropped silently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_step_still_restores_the_role_as_found() {
    let servers = start().await;
    assign_role(&servers.settings).await;
    std::fs::remove_file(&servers.settings.rogue_cert).unwrap();
    let mut s = servers.settings.clone();
    s.cert = s.other_cert.clone();
    s.key = s.other_key.clone();

    let (out, captured) = Output::captured(false);
    let report = walkthrough::run(&s, &Options::default(), &out)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", captured.text()));
    let text = captured.text();
    let step4 = report.step("4").unwrap();
    assert!(
        !step4.passed && step4.actual.contains("invalid_client"),
        "{report:#?}"
    );
    // Every step after 4 in STEPS is reported as not run.
    let after_4 = walkthrough::STEPS
        .iter()
        .skip_while(|d| d.number != "4")
        .skip(1);
    for d in after_4 {
        assert!(
            report.step(d.number).unwrap().actual.starts_with("not run"),
            "{report:#?}"
        );
    }
    assert!(text.contains("does not tell the client why"), "{text}");
    assert!(text.contains("oauth2-provider.log"), "{text}");
    assert!(
        report
            .skipped
            .iter()
            .any(|s| s.starts_with("3b") && s.contains("rogue-client.pem")),
        "{report:#?}"
    );
    assert!(text.contains("skipped"), "{text}");
    assert!(
        report.changes[0].contains("as found"),
        "{:?}",
        report.changes
    );
    assert!(
        role_assigned(&servers.settings).await,
        "the role was assigned before the run and must be again"
    );
    servers.stop().await;
}

/// A request that gets no answer (the resource server is not there) returns an error from
/// the middle of the flow after the role was removed for step 5: it is put back anyway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_in_the_middle_still_restores_an_assigned_role() {
    let servers = start().await;
    assign_role(&servers.settings).await;
    let mut s = servers.settings.clone();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    s.resource_server = url::Url::parse(&format!("https://localhost:{port}")).unwrap();
    s.wait = Duration::from_millis(500);
    let err = walkthrough::run(&s, &Options::default(), &Output::quiet())
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::GaveUp { .. }), "{err}");
    assert!(
        role_assigned(&servers.settings).await,
        "restored after {err}"
    );
    servers.stop().await;
}

/// The other direction: the role was not assigned, step 6 assigns it, and then the
/// resource server breaks the connection (no answer at all, an `Err` out of step 6): the
/// role is removed again, as it was found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_after_step_6_assigned_the_role_removes_it_again() {
    let servers = start().await;
    assert!(!role_assigned(&servers.settings).await);
    let dir = servers.dir.path();
    let roots = playbook::pem::load_ca_certs(&dir.join("ca.pem")).unwrap();
    let identity = Identity::load(
        &dir.join("resource-server.pem"),
        &dir.join("resource-server.key.pem"),
        None,
    )
    .unwrap();
    let tls =
        playbook::server::server_config(&identity, &roots, playbook::server::ClientAuth::Required)
            .unwrap();
    // Answers step 5 as the real resource server would (403 insufficient_scope), then
    // drops the connection without an answer (a panicking handler ends its connection).
    let calls = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().route(
        names::USERS_API_PATH,
        axum::routing::get(move || {
            let calls = calls.clone();
            async move {
                if calls.fetch_add(1, Ordering::SeqCst) > 0 {
                    panic!("test: the resource server breaks the connection");
                }
                (
                    axum::http::StatusCode::FORBIDDEN,
                    [(
                        axum::http::header::WWW_AUTHENTICATE,
                        r#"Bearer error="insufficient_scope", error_description="needs the realm role""#,
                    )],
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = playbook::server::Background::spawn(|stopped| {
        playbook::server::serve(listener, tls, app, stopped)
    });

    let mut s = servers.settings.clone();
    s.resource_server = url::Url::parse(&format!("https://localhost:{port}")).unwrap();
    s.wait = Duration::from_millis(500);
    let (out, captured) = Output::captured(false);
    let err = walkthrough::run(&s, &Options::default(), &out)
        .await
        .unwrap_err();
    let text = captured.text();
    assert!(
        text.contains("6. Assign the role") && text.contains("204"),
        "step 6 assigned the role before the error: {text}"
    );
    assert!(
        !role_assigned(&servers.settings).await,
        "removed again after {err}\n{text}"
    );
    let _ = server.stop().await;
    servers.stop().await;
}
