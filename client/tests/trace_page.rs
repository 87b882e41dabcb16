//! `client walkthrough --html FILE` against the embedded provider, and the page opened in
//! a real browser (`common/browser.rs`): every step in the rendered DOM, no script error
//! logged, no request leaving the page; the screenshot stays in
//! `target/trace/walkthrough.png`. A copy of the page with one outside image must fail the
//! same check: the check can fail.

mod common;
#[path = "../../resource-server/tests/support/nginx.rs"]
mod nginx;

use common::browser::{browser_check, target_dir, walkthrough_page};
use common::pages::{check_html, method_pages, rendered};
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
    method_pages(
        servers.dir.path(),
        &servers.settings,
        &servers.provider.url,
        "",
    )
    .await;
    // A pair the realm's clients cannot give: no request, the page says why under the pair
    // asked for.
    let page = target_dir().join("token-tls-dpop.html");
    let out = common::client_in(
        servers.dir.path(),
        &servers.settings,
        &[],
        &[
            "token",
            "--auth",
            "tls",
            "--bind",
            "dpop",
            "--html",
            page.to_str().unwrap(),
        ],
    )
    .await;
    assert!(!out.status.success(), "{}", common::text(&out));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("<h1>client token --auth tls --bind dpop, traced</h1>")
            && html.contains("NOT as expected: bad setting --bind")
            && !html.contains("details class=\"exchange\""),
        "{html}"
    );
    servers.stop().await;
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
    let api = proxy.api_url();
    let args = supervisor::up::Args::parse_from(proxy.supervisor_args(certs));
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
