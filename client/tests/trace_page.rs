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
