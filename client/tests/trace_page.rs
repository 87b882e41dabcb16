//! `client walkthrough --html FILE` against the embedded provider, and the page opened in
//! a real browser (`common/browser.rs`): every step in the rendered DOM, no script error
//! logged, no request leaving the page; the screenshot stays in
//! `target/trace/walkthrough.png`. A copy of the page with one outside image must fail the
//! same check: the check can fail.

mod common;

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

/// `client token --html` and `client call --html` (one command traced, issue 25): each page
/// renders its one part with no script error and no outside request, draws the handshake
/// with its CertificateRequest, and the call's page the token's binding matching; `--proxy
/// nginx` (the page only: the servers here are not behind one) draws the proxy lane and the
/// hop to the back end as inferred.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_token_and_call_are_traced_to_a_page() {
    let servers = start().await;
    let dir = target_dir();
    let cases: [(&str, &[&str], &[&str]); 3] = [
        ("token", &[], &["token", "--decode"]),
        ("call", &[], &["call", "/api/whoami"]),
        (
            "call-proxy",
            &["--proxy", "nginx"],
            &["call", "/api/whoami"],
        ),
    ];
    let mut pages = Vec::new();
    for (name, global, args) in cases {
        let page = dir.join(format!("{name}.html"));
        let _ = std::fs::remove_file(&page);
        let mut all: Vec<&str> = global.to_vec();
        all.extend_from_slice(args);
        all.extend(["--html", page.to_str().unwrap()]);
        let out = common::client_in(servers.dir.path(), &servers.settings, &[], &all).await;
        // Behind --proxy the client expects a proxy's answers; the page is written anyway.
        if global.is_empty() {
            assert!(out.status.success(), "{name}: {}", common::text(&out));
        }
        let html = std::fs::read_to_string(&page)
            .unwrap_or_else(|e| panic!("{name}: no page ({e}): {}", common::text(&out)));
        assert!(html.contains("default-src 'none'"), "{name}: a CSP");
        assert!(
            html.contains("CertificateRequest"),
            "{name}: the handshake shown"
        );
        assert!(html.contains("…("), "{name}: the token shortened");
        pages.push((name, page));
    }
    servers.stop().await;
    for (name, page) in pages {
        let Some(seen) = browser_check(&page, &dir.join(format!("{name}.png"))) else {
            return; // no browser here (outside CI): said on stderr
        };
        assert_eq!(seen["errors"], serde_json::json!([]), "{name}: {seen:#}");
        assert_eq!(seen["requests"], serde_json::json!([]), "{name}: {seen:#}");
        let dom: serde_json::Value =
            serde_json::from_str(seen["dom"].as_str().expect("the check ran")).unwrap();
        assert_eq!(dom["parts"], serde_json::json!(["1"]), "{name}: {dom:#}");
        assert_eq!(dom["ready"], "1", "{name}: the script ran: {dom:#}");
        assert!(dom["arrows"].as_u64().unwrap() >= 1, "{name}: {dom:#}");
        assert!(dom["tls"].as_u64().unwrap() >= 1, "{name}: {dom:#}");
        if name == "call" {
            assert!(
                dom["bindings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|b| b == "binding match"),
                "{name}: the binding drawn: {dom:#}"
            );
        }
        if name == "call-proxy" {
            assert!(
                dom["inferred"].as_u64().unwrap() >= 1,
                "the proxy's hop to the back end, inferred: {dom:#}"
            );
        }
    }
}
