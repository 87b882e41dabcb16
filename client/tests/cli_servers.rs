//! The `client` binary (`env!("CARGO_BIN_EXE_client")`) against the in-process servers:
//! settings from environment variables as `./start.sh` passes them, the exit code of
//! `client walkthrough`, and `client token` / `client call` / `client admin` end to end.

mod common;

use std::process::Output;

use common::{client, start, start_with, text};
use playbook::names;

/// `client walkthrough --json` exits 0 and reports every step passed; presenting the wrong
/// certificate as the client's own makes step 4 fail and the exit code non-zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walkthrough_exit_code_says_whether_every_step_passed() {
    let servers = start().await;
    let ok = client(&servers, &[], &["walkthrough", "--json"]).await;
    assert!(ok.status.success(), "{}", text(&ok));
    let report: serde_json::Value = serde_json::from_slice(&ok.stdout).expect("one JSON document");
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 9, "{report:#}");
    assert!(steps.iter().all(|s| s["passed"] == true), "{report:#}");

    let other = servers.dir.path().join("other-client.pem");
    let other_key = servers.dir.path().join("other-client.key.pem");
    let bad = client(
        &servers,
        &[
            ("CLIENT_CERT", other.display().to_string()),
            ("CLIENT_KEY", other_key.display().to_string()),
        ],
        &["walkthrough"],
    )
    .await;
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    let stdout = String::from_utf8_lossy(&bad.stdout);
    assert!(stdout.contains("NOT as expected"), "{}", text(&bad));
    assert!(stdout.contains("invalid_client"), "{}", text(&bad));
    servers.stop().await;
}

/// The walkthrough passes every step with ECDSA P-256 and with Ed25519 certificates too
/// (RSA-2048, the default, is the test above): the realm's DN match, the binding and the
/// refusals do not depend on the key type.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walkthrough_passes_with_ecdsa_and_ed25519_certificates() {
    for key_type in [
        playbook::pki::KeyType::EcdsaP256,
        playbook::pki::KeyType::Ed25519,
    ] {
        let servers = start_with(key_type).await;
        let ok = client(&servers, &[], &["walkthrough", "--json"]).await;
        assert!(ok.status.success(), "{key_type}: {}", text(&ok));
        let report: serde_json::Value =
            serde_json::from_slice(&ok.stdout).expect("one JSON document");
        let steps = report["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 9, "{key_type}: {report:#}");
        assert!(
            steps.iter().all(|s| s["passed"] == true),
            "{key_type}: {report:#}"
        );
        servers.stop().await;
    }
}

/// `client token --decode --json`: tls_client_auth gives a token bound to client.pem, whole
/// in the JSON document (it is for programs); `--auth secret` (and its old spelling
/// `--secret`) gives an unbound one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_command_reports_the_binding() {
    let servers = start().await;
    let o = client(&servers, &[], &["token", "--decode", "--json"]).await;
    assert!(o.status.success(), "{}", text(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["token_type"], "Bearer");
    assert_eq!(
        doc["access_token"].as_str().unwrap().split('.').count(),
        3,
        "whole JWT without --show-secrets: {doc:#}"
    );
    assert_eq!(doc["cnf_check"]["binding"], "matches", "{doc:#}");
    assert_eq!(doc["decoded"]["claims"]["azp"], names::MTLS_CLIENT_ID);
    // The narration still shortens it.
    let o = client(&servers, &[], &["token"]).await;
    let narration = String::from_utf8_lossy(&o.stdout);
    assert!(narration.contains("eyJhbGciOi…("), "{narration}");

    for secret in [&["--auth", "secret"][..], &["--secret"]] {
        let args = [&["token"][..], secret, &["--decode", "--json"]].concat();
        let o = client(&servers, &[], &args).await;
        assert!(o.status.success(), "{secret:?}: {}", text(&o));
        let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!(doc["decoded"]["claims"].get("cnf").is_none(), "{doc:#}");
        assert_eq!(doc["decoded"]["claims"]["azp"], names::SECRET_CLIENT_ID);
    }
    // Both spellings at once is a mistake clap names.
    let o = client(&servers, &[], &["token", "--auth", "tls", "--secret"]).await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    servers.stop().await;
}

/// `client call` before and after `client admin assign-role`: 403, then 200 with the token
/// reused across paths; `remove-role` undoes it; the server's error code is printed verbatim.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_and_call_commands() {
    let servers = start().await;
    let before = client(&servers, &[], &["call", "/api/users"]).await;
    assert_eq!(before.status.code(), Some(1), "{}", text(&before));
    assert!(
        String::from_utf8_lossy(&before.stdout).contains("insufficient_scope"),
        "{}",
        text(&before)
    );

    let assign = client(&servers, &[], &["admin", "assign-role"]).await;
    assert!(assign.status.success(), "{}", text(&assign));
    assert!(
        String::from_utf8_lossy(&assign.stdout).contains("204"),
        "{}",
        text(&assign)
    );
    let again = client(&servers, &[], &["admin", "assign-role", "--json"]).await;
    let doc: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(doc["change"], "already_assigned", "idempotent: {doc:#}");

    let after = client(&servers, &[], &["call", "/api/users", "/api/whoami"]).await;
    assert!(after.status.success(), "{}", text(&after));
    let stdout = String::from_utf8_lossy(&after.stdout);
    assert!(stdout.contains("token: fetched"), "{}", text(&after));
    assert!(
        stdout.contains("token: reused from the cache"),
        "{}",
        text(&after)
    );

    let remove = client(&servers, &[], &["admin", "remove-role", "--json"]).await;
    let doc: serde_json::Value = serde_json::from_slice(&remove.stdout).unwrap();
    assert_eq!(doc["change"], "removed", "{doc:#}");

    let wrong = client(
        &servers,
        &[("CLIENT_ID", "no-such-client".into())],
        &["token"],
    )
    .await;
    assert_eq!(wrong.status.code(), Some(1), "{}", text(&wrong));
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("invalid_client"),
        "{}",
        text(&wrong)
    );
    servers.stop().await;
}

/// The by-hand commands: `token --raw` prints the token alone (for `ACCESS_TOKEN=$(…)`),
/// `call` accepts a path without its leading '/', `call --auth secret` uses the client-secret
/// client's unbound token, `discover` summarises (and `--full` shows everything), and a
/// user error is a message, not a backtrace, even with RUST_BACKTRACE=1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_hand_commands() {
    let servers = start().await;
    let raw = client(&servers, &[], &["token", "--raw"]).await;
    assert!(raw.status.success(), "{}", text(&raw));
    let token = String::from_utf8_lossy(&raw.stdout);
    let token = token.trim_end();
    assert!(
        token.starts_with("eyJ") && token.split('.').count() == 3 && !token.contains('\n'),
        "{}",
        text(&raw)
    );

    let call = client(&servers, &[], &["call", "api/users"]).await;
    let stdout = String::from_utf8_lossy(&call.stdout);
    assert!(
        stdout.contains("/api/users") && stdout.contains("insufficient_scope"),
        "{}",
        text(&call)
    );
    let secret = client(&servers, &[], &["call", "--auth", "secret", "/api/whoami"]).await;
    let stdout = String::from_utf8_lossy(&secret.stdout);
    assert!(stdout.contains("client_secret_basic"), "{}", text(&secret));
    assert!(
        stdout.contains(names::SECRET_CLIENT_ID),
        "whoami names the secret client: {}",
        text(&secret)
    );

    let discover = client(&servers, &[], &["discover"]).await;
    let stdout = String::from_utf8_lossy(&discover.stdout);
    assert!(discover.status.success(), "{}", text(&discover));
    assert!(
        stdout.contains("tls_client_auth (RFC 8705 §2.1) among them: yes"),
        "{}",
        text(&discover)
    );
    assert!(
        !stdout.contains("grant_types_supported"),
        "{}",
        text(&discover)
    );
    let full = client(&servers, &[], &["discover", "--full"]).await;
    assert!(
        String::from_utf8_lossy(&full.stdout).contains("grant_types_supported"),
        "{}",
        text(&full)
    );

    let missing = client(
        &servers,
        &[
            ("RUST_BACKTRACE", "1".into()),
            ("CLIENT_CERT", "nowhere/client.pem".into()),
        ],
        &["token"],
    )
    .await;
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(missing.status.code(), Some(1), "{}", text(&missing));
    assert!(
        stderr.starts_with("error: nowhere/client.pem") && !stderr.contains("backtrace"),
        "{}",
        text(&missing)
    );
    servers.stop().await;
}

/// `client token --json | jq -r .access_token` gives a token the resource server accepts:
/// 403 (valid and bound, but the role is missing) before the role is assigned, 200 after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_token_is_accepted_by_the_resource_server() {
    let servers = start().await;
    let dir = servers.dir.path();
    let id = playbook::Identity::load(&dir.join("client.pem"), &dir.join("client.key.pem"), None)
        .expect("client identity");
    let ca = playbook::pem::load_ca_certs(&dir.join("ca.pem")).expect("CA");
    let http = playbook::https::https_client(&ca, Some(&id)).expect("https client");
    let url = format!(
        "{}/api/users",
        servers
            .settings
            .resource_server
            .as_str()
            .trim_end_matches('/')
    );
    let call = |token: String| {
        let http = http.clone();
        let url = url.clone();
        async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("GET /api/users")
                .status()
                .as_u16()
        }
    };
    let token = |o: &Output| -> String {
        let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
        doc["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    };
    let o = client(&servers, &[], &["token", "--json"]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        call(token(&o)).await,
        403,
        "a valid, bound token without the role"
    );
    let assign = client(&servers, &[], &["admin", "assign-role"]).await;
    assert!(assign.status.success(), "{}", text(&assign));
    let o = client(&servers, &[], &["token", "--json"]).await;
    assert_eq!(call(token(&o)).await, 200, "with the role");
    servers.stop().await;
}

/// `client bench`: stops by itself within --duration, or after --count requests; counts
/// full and resumed handshakes as --reuse says; reports bound and unbound tokens; refuses
/// a zero duration naming the flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_command_is_bounded_and_counts_handshakes() {
    let servers = start().await;
    let json = |o: &Output| -> serde_json::Value {
        assert!(o.status.success(), "{}", text(o));
        serde_json::from_slice(&o.stdout).expect("one JSON document")
    };

    // Kept alive, bounded by time: every request answered 200, one handshake per connection.
    let args = ["bench", "api", "--path", "/api/whoami", "--duration", "1.5"];
    let kept = json(&client(&servers, &[], &[&args[..], &["-c", "2", "--json"]].concat()).await);
    assert!(kept["requests"].as_u64().unwrap() > 0, "{kept:#}");
    assert_eq!(kept["requests"], kept["succeeded"], "{kept:#}");
    assert!(
        kept["elapsed_s"].as_f64().unwrap() <= 1.5 + 0.25,
        "{kept:#}"
    );
    assert!(
        kept["handshakes"]["full"].as_u64().unwrap() <= 2,
        "{kept:#}"
    );
    assert_eq!(kept["run"]["token"], "certificate-bound", "{kept:#}");
    assert!(
        kept["latency_ms"]["p50"].as_f64().unwrap() > 0.0,
        "{kept:#}"
    );

    // The token endpoint, a new connection per request with resumption, bounded by count.
    let resumed = json(
        &client(
            &servers,
            &[],
            &[
                "bench", "token", "--reuse", "resume", "-n", "6", "-c", "1", "--json",
            ],
        )
        .await,
    );
    assert_eq!(resumed["requests"], 6, "{resumed:#}");
    assert_eq!(resumed["succeeded"], 6, "{resumed:#}");
    assert!(
        resumed["handshakes"]["resumed"].as_u64().unwrap() >= 1,
        "{resumed:#}"
    );

    // A full handshake every time, with the client-secret client's unbound token.
    let full = json(
        &client(
            &servers,
            &[],
            &[
                "bench",
                "api",
                "--path",
                "/api/whoami",
                "--secret",
                "--reuse",
                "full",
                "-n",
                "4",
                "-c",
                "2",
                "--json",
            ],
        )
        .await,
    );
    assert_eq!(full["succeeded"], 4, "{full:#}");
    assert_eq!(full["handshakes"]["full"], 4, "{full:#}");
    assert_eq!(full["handshakes"]["resumed"], 0, "{full:#}");
    assert_eq!(full["run"]["token"], "unbound", "{full:#}");

    let bad = client(&servers, &[], &["bench", "--duration", "0"]).await;
    assert!(!bad.status.success(), "{}", text(&bad));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--duration"),
        "{}",
        text(&bad)
    );
    servers.stop().await;
}

/// `--bind dpop` (RFC 9449): with `--auth secret` the DPoP client's token is bound to this
/// run's key (`token_type` DPoP, `cnf.jkt`), and `client call` sends it as
/// `Authorization: DPoP` with a proof per request, which the resource server accepts. The
/// pairs the realm's clients cannot give (`--auth tls --bind none`, `--auth tls --bind dpop`,
/// `--auth secret --bind mtls`) are refused with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bind_dpop_gets_and_uses_a_dpop_bound_token() {
    let servers = start().await;
    let o = client(
        &servers,
        &[],
        &[
            "token", "--auth", "secret", "--bind", "dpop", "--decode", "--json",
        ],
    )
    .await;
    assert!(o.status.success(), "{}", text(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["token_type"], "DPoP", "{doc:#}");
    assert_eq!(doc["decoded"]["claims"]["azp"], names::DPOP_CLIENT_ID);
    assert!(
        doc["decoded"]["claims"]["cnf"]["jkt"].is_string(),
        "{doc:#}"
    );

    let call = client(
        &servers,
        &[],
        &[
            "call",
            "--auth",
            "secret",
            "--bind",
            "dpop",
            "/api/whoami",
            "/api/whoami",
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&call.stdout);
    assert!(call.status.success(), "{}", text(&call));
    assert!(
        stdout.contains("\"sender_constraint\": \"dpop\""),
        "{}",
        text(&call)
    );

    for refused in [
        ["--auth", "tls", "--bind", "none"],
        ["--auth", "secret", "--bind", "mtls"],
    ] {
        let args = [&["token"][..], &refused[..]].concat();
        let o = client(&servers, &[], &args).await;
        assert!(!o.status.success(), "{refused:?}: {}", text(&o));
        assert!(text(&o).contains("--bind"), "{refused:?}: {}", text(&o));
    }
    servers.stop().await;
}

/// `--auth private-key-jwt` end to end against the embedded provider: a `client-jwt` client
/// registered through the admin API with a certificate, whose key the client signs its
/// assertions with. `client token` gets an unbound token (or, with `--bind dpop`, one bound
/// to the run's DPoP key); `client call` uses it; each request makes a new assertion (two
/// calls, two token requests, no "Token reuse detected"). Refused with the reason:
/// `--bind mtls`, `bench --endpoint token`, a missing key file; a key the provider does not
/// hold gets the provider's refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_private_key_jwt_gets_and_uses_a_token() {
    use playbook::pki::{CertificateAuthority, Validity};
    let servers = start().await;
    let client_id = "test-private-key-jwt";
    let env = common::jwt_client(&servers, client_id).await;

    let o = client(
        &servers,
        &env,
        &["token", "--auth", "private-key-jwt", "--decode", "--json"],
    )
    .await;
    assert!(o.status.success(), "{}", text(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["token_type"], "Bearer", "{doc:#}");
    assert_eq!(doc["decoded"]["claims"]["azp"], client_id, "{doc:#}");
    assert!(doc["decoded"]["claims"].get("cnf").is_none(), "{doc:#}");

    let o = client(
        &servers,
        &env,
        &[
            "token",
            "--auth",
            "private-key-jwt",
            "--bind",
            "dpop",
            "--decode",
            "--json",
        ],
    )
    .await;
    assert!(o.status.success(), "{}", text(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["token_type"], "DPoP", "{doc:#}");
    assert!(
        doc["decoded"]["claims"]["cnf"]["jkt"].is_string(),
        "{doc:#}"
    );

    for bind in ["none", "dpop"] {
        let call = client(
            &servers,
            &env,
            &[
                "call",
                "--auth",
                "private-key-jwt",
                "--bind",
                bind,
                "/api/whoami",
            ],
        )
        .await;
        assert!(call.status.success(), "--bind {bind}: {}", text(&call));
        assert!(
            String::from_utf8_lossy(&call.stdout).contains("private_key_jwt"),
            "{}",
            text(&call)
        );
    }

    // Single-use parts are made anew per request: a client assertion (Keycloak refuses a
    // jti twice) and a DPoP proof (the resource server refuses a proof twice); a repeated
    // one would turn every request after the first into a 400/401.
    for args in [
        &["bench", "token", "--auth", "private-key-jwt"][..],
        &[
            "bench",
            "token",
            "--auth",
            "private-key-jwt",
            "--bind",
            "dpop",
        ][..],
        &[
            "bench",
            "api",
            "--auth",
            "private-key-jwt",
            "--bind",
            "dpop",
        ][..],
        &["bench", "api", "--auth", "secret", "--bind", "dpop"][..],
    ] {
        let route = if args[1] == "api" { "/api/whoami" } else { "" };
        let args = [args, &["--count", "8", "-c", "2", "--json"][..]].concat();
        let args: Vec<&str> = if route.is_empty() {
            args
        } else {
            [&args[..], &["--path", route][..]].concat()
        };
        let o = client(&servers, &env, &args).await;
        assert!(o.status.success(), "{args:?}: {}", text(&o));
        let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(report["statuses"]["200"], 8, "{args:?}: {report}");
    }
    for (args, says) in [
        (
            &["token", "--auth", "private-key-jwt", "--bind", "mtls"][..],
            "--bind",
        ),
        (&["bench", "--bind", "dpop", "--count", "1"][..], "--bind"),
    ] {
        let o = client(&servers, &env, args).await;
        assert!(!o.status.success(), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(says), "{args:?}: {}", text(&o));
    }
    let o = client(
        &servers,
        &[
            ("JWT_CLIENT_ID", client_id.to_owned()),
            ("JWT_KEY", "/nonexistent/key.pem".into()),
        ],
        &["token", "--auth", "private-key-jwt"],
    )
    .await;
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("client certs"), "{}", text(&o));
    // Another key than the registered certificate's: the provider's refusal, verbatim.
    let ca = CertificateAuthority::new("CN=jwt test", Validity::days_from_now(1)).unwrap();
    let other = ca
        .issue_client("CN=other", Validity::days_from_now(1))
        .unwrap();
    let other_file = servers.dir.path().join("other-jwt.key.pem");
    std::fs::write(&other_file, &other.key_pem).unwrap();
    let o = client(
        &servers,
        &[
            ("JWT_CLIENT_ID", client_id.to_owned()),
            ("JWT_KEY", other_file.display().to_string()),
        ],
        &["token", "--auth", "private-key-jwt"],
    )
    .await;
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("Signature on JWT token failed validation"),
        "{}",
        text(&o)
    );
    servers.stop().await;
}

/// `--auth private-key-jwt` out of the box: the shipped realm's `client-jwt` client with the
/// certificate of `client certs` (`client-jwt.pem`, set at import as the drivers set
/// `PLAYBOOK_JWT_CLIENT_CERT`), the key `client-jwt.key.pem` by default: no flag, no
/// registration. Its service account has `oauth2-playbook-readonly`, so `client call` reads
/// `/api/users`. A `certs/` without that pair (written before it existed) gets it from
/// `client certs`, nothing else touched; the key is 0600.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_private_key_jwt_works_with_the_shipped_realm() {
    let servers = start().await;
    common::compare::private_key_jwt_out_of_the_box(servers.dir.path(), &servers.settings).await;

    // An older certs/: the pair removed, `client certs` adds it back from the same CA.
    let dir = servers.dir.path();
    let ca_before = std::fs::read(dir.join("ca.pem")).unwrap();
    for name in [names::JWT_CERT_FILE, names::JWT_KEY_FILE] {
        std::fs::remove_file(dir.join(name)).unwrap();
    }
    let o = client(&servers, &[], &["certs"]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("private_key_jwt client's key pair"),
        "{}",
        text(&o)
    );
    assert_eq!(std::fs::read(dir.join("ca.pem")).unwrap(), ca_before);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.join(names::JWT_KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Nothing more to add: refused, nothing overwritten.
    let key_before = std::fs::read(dir.join(names::JWT_KEY_FILE)).unwrap();
    let o = client(&servers, &[], &["certs"]).await;
    assert!(!o.status.success(), "{}", text(&o));
    assert_eq!(
        std::fs::read(dir.join(names::JWT_KEY_FILE)).unwrap(),
        key_before
    );
    servers.stop().await;
}
