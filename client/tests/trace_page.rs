//! `client walkthrough --html FILE` against the embedded provider, and the page opened in
//! a real browser (`common/browser.rs`): every step in the rendered DOM, no script error
//! logged, no request leaving the page; the screenshot stays in
//! `target/trace/walkthrough.png`. A copy of the page with one outside image must fail the
//! same check: the check can fail.

mod common;
#[path = "../../resource-server/tests/support/nginx.rs"]
mod nginx;

use common::browser::{browser_check, target_dir, walkthrough_page};
use common::start;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_walkthrough_page_renders_every_step_with_no_error_and_no_outside_request() {
    let servers = start().await;
    let (html, seen) = walkthrough_page(servers.dir.path(), &servers.settings, "walkthrough").await;
    servers.stop().await;
    assert!(
        html.contains(playbook::names::CA_SUBJECT_DN),
        "the CA names the embedded provider lists"
    );
    if seen.is_none() {
        return; // no browser here (outside CI): said on stderr
    }

    // The same check fails on a page that tries to load something from outside.
    let dir = target_dir();
    let tampered = dir.join("tampered.html");
    std::fs::write(
        &tampered,
        html.replacen(
            "</main>",
            r#"<img src="https://example.invalid/x.png"></main>"#,
            1,
        ),
    )
    .unwrap();
    let seen = browser_check(&tampered, &dir.join("tampered.png")).unwrap();
    assert_eq!(
        seen["requests"],
        serde_json::json!(["https://example.invalid/x.png"]),
        "{seen:#}"
    );
    assert!(
        seen["errors"].as_array().is_some_and(|e| !e.is_empty()),
        "the CSP refusal logged: {seen:#}"
    );
}

/// What a single command's page must show: the credentials each method carried, decoded
/// (`data-carried`, in page order), the token bindings drawn (`data-binding` and whether it
/// matched), the tokens' headings, and words the decoded cards must hold.
struct Case {
    name: &'static str,
    args: &'static [&'static str],
    carried: &'static [&'static str],
    bound: &'static [&'static str],
    tokens: &'static [&'static str],
    words: &'static [&'static str],
}

/// The private_key_jwt client the test registers (the realm may or may not ship one).
const JWT_CLIENT: &str = "trace-private-key-jwt";

const CASES: &[Case] = &[
    Case {
        name: "token",
        args: &["token", "--decode"],
        carried: &["tls_client_auth"],
        bound: &["x5t#S256 match"],
        tokens: &["issued (token_type: Bearer)"],
        words: &["CertificateVerify"],
    },
    Case {
        name: "call",
        args: &["call", "/api/whoami"],
        carried: &["tls_client_auth"],
        bound: &["x5t#S256 match", "x5t#S256 match"],
        tokens: &[
            "issued (token_type: Bearer)",
            "presented (Authorization: Bearer)",
        ],
        words: &[],
    },
    Case {
        name: "token-private-key-jwt",
        args: &["token", "--auth", "private-key-jwt"],
        carried: &["client_assertion"],
        bound: &["none unbound"],
        tokens: &["issued (token_type: Bearer)"],
        words: &[
            "private_key_jwt (RFC 7523",
            "iss, sub",
            JWT_CLIENT,
            "\"aud\"",
            "\"jti\"",
            "\"exp\"",
            "signature (",
            "[redacted, ",
        ],
    },
    Case {
        name: "call-private-key-jwt-dpop",
        args: &[
            "call",
            "/api/whoami",
            "--auth",
            "private-key-jwt",
            "--bind",
            "dpop",
        ],
        carried: &["client_assertion", "dpop_proof", "dpop_proof"],
        bound: &["jkt match", "jkt match"],
        tokens: &[
            "issued (token_type: DPoP)",
            "presented (Authorization: DPoP)",
        ],
        words: &[
            "\"typ\": \"dpop+jwt\"",
            "\"jwk\"",
            "\"htm\": \"POST\"",
            "\"htm\": \"GET\"",
            "\"htu\"",
            "\"iat\"",
            "\"ath\"",
            "✔ SHA-256 of the access token sent with it",
            "✔ the URL the client called",
        ],
    },
    Case {
        name: "call-secret",
        args: &["call", "/api/whoami", "--auth", "secret"],
        carried: &["client_secret_basic"],
        bound: &["none unbound", "none unbound"],
        tokens: &[
            "issued (token_type: Bearer)",
            "presented (Authorization: Bearer)",
        ],
        words: &["client_secret_basic (RFC 6749", "[redacted, "],
    },
    Case {
        name: "call-secret-dpop",
        args: &["call", "/api/whoami", "--auth", "secret", "--bind", "dpop"],
        carried: &["client_secret_basic", "dpop_proof", "dpop_proof"],
        bound: &["jkt match", "jkt match"],
        tokens: &[
            "issued (token_type: DPoP)",
            "presented (Authorization: DPoP)",
        ],
        words: &["\"typ\": \"dpop+jwt\"", "✔ the request's method"],
    },
    Case {
        name: "token-private-key-jwt-shown",
        args: &[
            "--show-secrets",
            "token",
            "--auth",
            "private-key-jwt",
            "--bind",
            "dpop",
        ],
        carried: &["client_assertion", "dpop_proof"],
        bound: &["jkt match"],
        tokens: &["issued (token_type: DPoP)"],
        words: &[],
    },
];

/// `client token --html` and `client call --html` (one command traced, issues 25 and 26),
/// one page per `--auth`/`--bind` on the embedded provider, with a private_key_jwt client
/// of the test's own: each page renders its one part with no script error and no outside
/// request, draws the handshake, and shows what its method carried, decoded: the client
/// assertion (its signature shortened, whole with `--show-secrets`), the client secret
/// shortened, each DPoP proof with its key's thumbprint beside `cnf.jkt`, the certificate's
/// beside `cnf.x5t#S256`, and an unbound token said to be one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_token_and_call_are_traced_to_a_page_per_method() {
    let servers = start().await;
    let env = common::jwt_client(&servers, JWT_CLIENT).await;
    let dir = target_dir();
    let mut pages = Vec::new();
    for case in CASES {
        let page = dir.join(format!("{}.html", case.name));
        let _ = std::fs::remove_file(&page);
        let mut all: Vec<&str> = case.args.to_vec();
        all.extend(["--html", page.to_str().unwrap()]);
        let out = common::client_in(servers.dir.path(), &servers.settings, &env, &all).await;
        assert!(
            out.status.success(),
            "{}: {}",
            case.name,
            common::text(&out)
        );
        let html = std::fs::read_to_string(&page)
            .unwrap_or_else(|e| panic!("{}: no page ({e}): {}", case.name, common::text(&out)));
        check_html(case.name, &html);
        assert!(
            !html.contains(playbook::names::SECRET_CLIENT_SECRET)
                && !html.contains(playbook::names::DPOP_CLIENT_SECRET),
            "{}: no client secret whole",
            case.name
        );
        if case.bound.contains(&"none unbound") {
            assert!(
                html.contains("Not sender-constrained"),
                "{}: an unbound token said plainly",
                case.name
            );
        }
        pages.push((case, page, html));
    }
    servers.stop().await;
    for (case, page, html) in pages {
        let name = case.name;
        let Some(dom) = rendered(&page, name) else {
            return; // no browser here (outside CI): said on stderr
        };
        let strings = |key: &str| -> Vec<String> {
            dom[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap_or_default().to_owned())
                .collect()
        };
        assert_eq!(strings("carried"), case.carried, "{name}: {dom:#}");
        assert_eq!(strings("bound"), case.bound, "{name}: {dom:#}");
        for (heading, expected) in strings("tokens").iter().zip(case.tokens) {
            assert!(heading.contains(expected), "{name}: {heading} / {expected}");
        }
        assert_eq!(
            strings("tokens").len(),
            case.tokens.len(),
            "{name}: {dom:#}"
        );
        let decoded = strings("decoded").join("\n");
        for word in case.words {
            assert!(decoded.contains(word), "{name}: {word:?} in {decoded}");
        }
        // Every proof of a run is signed by the run's one key: one thumbprint.
        let mut jkts = strings("jkts");
        jkts.dedup();
        assert!(jkts.len() <= 1, "{name}: {jkts:?}");
        let assertion = dom["sent"]
            .as_str()
            .unwrap()
            .split("client_assertion=")
            .nth(1)
            .map(|rest| rest.split(['&', '\n']).next().unwrap().to_owned());
        match (name.ends_with("-shown"), assertion) {
            // --show-secrets: the assertion whole in the request, its signature whole.
            (true, Some(a)) => {
                let signature = a.rsplit('.').next().unwrap();
                assert!(a.matches('.').count() == 2, "{name}: {a}");
                assert!(decoded.contains(signature), "{name}: {decoded}");
            }
            (false, Some(a)) => assert!(a.contains("…("), "{name}: shortened: {a}"),
            (_, None) => assert!(!case.carried.contains(&"client_assertion")),
        }
        assert!(
            html.contains("<h1>client ") && html.contains(" --auth "),
            "{name}: the command line heads the page"
        );
    }
}

/// `client call --html` through a real nginx (the shipped configuration, `proxy/nginx.sh
/// run`), in front of the provider and the resource server set up as `./start.sh --proxy
/// nginx` sets them up (`supervisor::up`'s arguments: the proxy trusted for the certificate
/// it forwards, the proxy's URL as the resource server's public URL): each page draws the
/// proxy's lane, every hop to a back end as inferred, and the binding the back end accepted;
/// with mTLS, and with DPoP (whose `htu` names the proxy's URL). Needs nginx
/// (`apt-get install nginx-light`): without it the test fails and says so, as
/// `step_3b.rs`'s does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_through_nginx_is_traced_with_the_proxy_drawn() {
    use clap::Parser as _;
    use std::net::SocketAddr;
    playbook::install_crypto_provider();
    let pki = playbook::pki::DevPki::generate(2, 1).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let certs = tmp.path();
    playbook::pki::write_files(certs, &pki.files().unwrap(), false).unwrap();
    let loopback = |port| SocketAddr::from(([127, 0, 0, 1], port));
    let (provider_port, backend_port) = (nginx::free_port(), nginx::free_port());
    let mut proxy = tokio::task::block_in_place(|| {
        nginx::Nginx::start(
            certs,
            &certs.join("nginx"),
            loopback(provider_port),
            &[loopback(backend_port)],
            1,
        )
    });
    let issuer = playbook::names::issuer_for(&proxy.provider_url(), playbook::names::REALM);
    let api = proxy.api_url();
    let args = supervisor::up::Args::parse_from([
        "supervisor",
        "--issuer",
        &issuer,
        "--resource-server",
        &api,
        "--certs-dir",
        certs.to_str().unwrap(),
        "--trusted-proxy",
        &std::net::IpAddr::from(nginx::PROXY_SOURCE).to_string(),
        "--client-cert-header",
        "ssl-client-cert",
        "--proxy",
        "nginx",
    ]);
    let mut spec = supervisor::servers::ProviderSpec::from_dir(
        certs,
        &[],
        vec![oauth2_provider::realm_file()],
        &args.proxy,
    )
    .unwrap();
    spec.port = provider_port;
    let provider = supervisor::servers::start_provider(spec).await.unwrap();
    let mut spec = supervisor::up::resource_server_spec(&args).unwrap();
    spec.port = backend_port;
    let resource_server =
        supervisor::servers::start_resource_server(spec, std::time::Duration::from_secs(20))
            .await
            .expect("the resource server, its keys fetched through nginx");
    let settings = common::settings_for(certs, &proxy.provider_url(), &api);

    let dir = target_dir();
    let cases: [(&str, &[&str], [&str; 2]); 2] = [
        (
            "call-nginx",
            &["call", "/api/whoami"],
            ["x5t#S256 match", "x5t#S256 match"],
        ),
        (
            "call-nginx-dpop",
            &["call", "/api/whoami", "--auth", "secret", "--bind", "dpop"],
            ["jkt match", "jkt match"],
        ),
    ];
    let mut pages = Vec::new();
    for (name, args, bound) in cases {
        let page = dir.join(format!("{name}.html"));
        let _ = std::fs::remove_file(&page);
        let mut all = vec!["--proxy", "nginx"];
        all.extend_from_slice(args);
        all.extend(["--html", page.to_str().unwrap()]);
        let out = common::client_in(certs, &settings, &[], &all).await;
        assert!(out.status.success(), "{name}: {}", common::text(&out));
        let html = std::fs::read_to_string(&page).unwrap();
        check_html(name, &html);
        assert!(
            html.contains("behind the proxy (nginx)")
                && html.contains("forwards this to the resource server (inferred"),
            "{name}: the proxy named, the hop inferred"
        );
        pages.push((name, page, bound));
    }
    resource_server.stop().await.unwrap();
    tokio::task::block_in_place(|| proxy.stop());
    provider.stop().await.unwrap();

    for (name, page, bound) in pages {
        let Some(dom) = rendered(&page, name) else {
            return; // no browser here (outside CI): said on stderr
        };
        assert_eq!(
            dom["lanes"],
            serde_json::json!(["client", "proxy (nginx)", "provider", "resource server"]),
            "{name}: {dom:#}"
        );
        // The token request's and the call's hops there and back, and the resource
        // server's discovery and JWKS fetch.
        assert!(dom["inferred"].as_u64().unwrap() >= 6, "{name}: {dom:#}");
        assert_eq!(dom["bound"], serde_json::json!(bound), "{name}: {dom:#}");
        if name.ends_with("dpop") {
            let decoded = dom["decoded"].to_string();
            assert!(
                decoded.contains(&format!("{api}/api/whoami"))
                    && decoded.contains("✔ the URL the client called"),
                "{name}: the proof's htu is the proxy's URL: {decoded}"
            );
        }
    }
}

/// The page's checks before any browser: a CSP forbidding loads, nothing to load, the
/// handshake shown, the tokens shortened.
fn check_html(name: &str, html: &str) {
    assert!(html.contains("default-src 'none'"), "{name}: a CSP");
    for outside in [" src=", "<link", "@import", "url(http"] {
        assert!(
            !html.contains(outside),
            "{name}: the page loads nothing: {outside}"
        );
    }
    assert!(
        html.contains("CertificateRequest"),
        "{name}: the handshake shown"
    );
}

/// `page` in Chromium: its one part rendered, the script ran, no script error, no request
/// leaving the page, a screenshot beside it; the DOM's findings (`None` without a browser).
fn rendered(page: &std::path::Path, name: &str) -> Option<serde_json::Value> {
    let seen = browser_check(page, &page.with_extension("png"))?;
    assert_eq!(seen["errors"], serde_json::json!([]), "{name}: {seen:#}");
    assert_eq!(seen["requests"], serde_json::json!([]), "{name}: {seen:#}");
    let dom: serde_json::Value =
        serde_json::from_str(seen["dom"].as_str().expect("the check ran")).unwrap();
    assert_eq!(dom["parts"], serde_json::json!(["1"]), "{name}: {dom:#}");
    assert_eq!(dom["ready"], "1", "{name}: the script ran: {dom:#}");
    assert!(dom["arrows"].as_u64().unwrap() >= 1, "{name}: {dom:#}");
    assert!(dom["tls"].as_u64().unwrap() >= 1, "{name}: {dom:#}");
    assert!(
        page.with_extension("png").metadata().unwrap().len() > 10_000,
        "{name}: a screenshot"
    );
    Some(dom)
}
