//! `client walkthrough --html FILE` against the embedded provider, and the page opened in
//! a real browser: headless Chromium over the DevTools protocol (`scripts/browser-check.py`,
//! Python's standard library and the `chromium` package; `.ci/run` installs it). The
//! rendered DOM must show every step, no script error may be logged, no request may leave
//! the page; the screenshot stays in `target/trace/walkthrough.png`. A copy of the page with
//! one outside image must fail the same check: the check can fail.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use client::walkthrough::STEPS;
use common::{client, start, text};
use serde_json::Value;

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("trace")
}

/// What the page shows once a browser has rendered it and its script has run.
const CHECK: &str = r##"JSON.stringify({
  ready: document.body.dataset.ready,
  parts: Array.from(document.querySelectorAll("section.part[data-part]")).map(s => s.dataset.part),
  arrows: document.querySelectorAll("#diagram line.arrow").length,
  inferred: document.querySelectorAll("#diagram line.arrow.inferred").length,
  tls: document.querySelectorAll(".tls-card").length,
  bindings: Array.from(document.querySelectorAll(".binding")).map(b => b.className),
  summary: document.getElementById("summary").textContent,
  visible: document.getElementById("diagram").getBoundingClientRect().height > 100
})"##;

/// Opens `page` in headless Chromium; `None` when no browser is installed (outside CI).
fn browser_check(page: &Path, screenshot: &Path) -> Option<Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/browser-check.py");
    let has_browser = ["chromium", "chromium-browser"].iter().any(|b| {
        Command::new("sh")
            .args(["-c", &format!("command -v {b}")])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !has_browser {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must have chromium (.ci/run installs it): the trace page is tested in a browser"
        );
        eprintln!("no chromium: the page was not opened in a browser (apt-get install chromium)");
        return None;
    }
    let out = Command::new("python3")
        .arg(&script)
        .args([page.as_os_str(), screenshot.as_os_str()])
        .arg(CHECK)
        .arg("90")
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "browser check: {}", text(&out));
    Some(serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out))))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_walkthrough_page_renders_every_step_with_no_error_and_no_outside_request() {
    let servers = start().await;
    let dir = target_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("walkthrough.html");
    let out = client(
        &servers,
        &[],
        &["walkthrough", "--html", page.to_str().unwrap()],
    )
    .await;
    servers.stop().await;
    assert!(out.status.success(), "{}", text(&out));
    let html = std::fs::read_to_string(&page).unwrap();

    // Before any browser: nothing to load, credentials shortened as the terminal does.
    assert!(
        html.contains("default-src 'none'"),
        "a CSP forbidding loads"
    );
    for outside in [" src=", "<link", "@import", "url(http"] {
        assert!(!html.contains(outside), "the page loads nothing: {outside}");
    }
    assert!(html.contains("…("), "tokens shortened");
    assert!(
        html.contains(&format!(
            "password=[redacted, {} chars]",
            playbook::names::DEFAULT_ADMIN_PASSWORD.len()
        )),
        "the admin password shortened"
    );
    assert!(
        html.contains(playbook::names::CA_SUBJECT_DN),
        "the CA names listed"
    );

    let Some(seen) = browser_check(&page, &dir.join("walkthrough.png")) else {
        return;
    };
    assert_eq!(seen["errors"], serde_json::json!([]), "{seen:#}");
    assert_eq!(seen["requests"], serde_json::json!([]), "{seen:#}");
    let dom: Value = serde_json::from_str(seen["dom"].as_str().expect("the check ran")).unwrap();
    let parts: Vec<&str> = dom["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for step in STEPS {
        assert!(
            parts.contains(&step.number),
            "step {} shown: {dom:#}",
            step.number
        );
    }
    assert_eq!(
        dom["ready"].as_str(),
        Some(parts.len().to_string().as_str()),
        "the script ran: {dom:#}"
    );
    assert!(
        dom["summary"]
            .as_str()
            .is_some_and(|s| s.starts_with(&format!("{n} of {n} steps", n = STEPS.len()))),
        "{dom:#}"
    );
    assert!(dom["arrows"].as_u64().unwrap() > 20, "{dom:#}");
    assert!(
        dom["inferred"].as_u64().unwrap() >= 2,
        "the JWKS fetch drawn: {dom:#}"
    );
    assert!(dom["tls"].as_u64().unwrap() >= 5, "{dom:#}");
    let bindings: Vec<&str> = dom["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        bindings.contains(&"binding match"),
        "step 4's binding: {dom:#}"
    );
    assert!(bindings.contains(&"binding mismatch"), "step 7's: {dom:#}");
    assert_eq!(dom["visible"], true);
    assert!(dir.join("walkthrough.png").metadata().unwrap().len() > 10_000);

    // The same check fails on a page that tries to load something from outside.
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
