//! The trace page (`client walkthrough --html FILE`) written and opened in a real browser:
//! headless Chromium over the DevTools protocol (`scripts/browser-check.py`: Python's
//! standard library and the `chromium` package, which `.ci/run` installs). Shared by the
//! embedded-provider test (`trace_page.rs`) and the native Keycloak run
//! (`labs_keycloak_native.rs`, on the Keycloak it starts anyway).

use std::path::{Path, PathBuf};
use std::process::Command;

use client::Settings;
use client::walkthrough::STEPS;
use serde_json::Value;

use super::{client_in, text};

/// `target/trace/`, where the pages and their screenshots stay.
pub fn target_dir() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("trace");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What the page shows once a browser has rendered it and its script has run.
const CHECK: &str = r##"JSON.stringify({
  ready: document.body.dataset.ready,
  parts: Array.from(document.querySelectorAll("section.part[data-part]")).map(s => s.dataset.part),
  arrows: document.querySelectorAll("#diagram line.arrow").length,
  inferred: document.querySelectorAll("#diagram line.arrow.inferred").length,
  tls: document.querySelectorAll(".tls-card").length,
  bindings: Array.from(document.querySelectorAll(".binding")).map(b => b.className),
  bound: Array.from(document.querySelectorAll(".binding")).map(b => b.dataset.binding + " " + b.className.replace("binding ", "")),
  carried: Array.from(document.querySelectorAll(".carried")).map(c => c.dataset.carried),
  decoded: Array.from(document.querySelectorAll(".carried")).map(c => c.innerText),
  jkts: Array.from(document.querySelectorAll("[data-jkt]")).map(e => e.dataset.jkt),
  tokens: Array.from(document.querySelectorAll(".card.token h4")).map(h => h.textContent),
  lanes: Array.from(document.querySelectorAll("#diagram .lane-text")).map(t => t.textContent),
  sent: Array.from(document.querySelectorAll("details.exchange pre")).map(p => p.textContent).join("\n"),
  summary: document.getElementById("summary").textContent,
  visible: document.getElementById("diagram").getBoundingClientRect().height > 100
})"##;

/// Opens `page` in headless Chromium; `None` when no browser is installed (outside CI).
pub fn browser_check(page: &Path, screenshot: &Path) -> Option<Value> {
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

/// Runs `client walkthrough --html target/trace/NAME.html` with the certificates in `dir`
/// against the servers of `s`, then checks the page: before any browser (a CSP forbidding
/// loads, nothing loaded, credentials shortened), and in Chromium (every step in the DOM,
/// the script ran, no script error, no request leaving the page, the RFC 8705 binding drawn
/// matching at step 4 and not at step 7). Returns the page's HTML (and `None` for the
/// browser's findings when there is no browser outside CI).
pub async fn walkthrough_page(dir: &Path, s: &Settings, name: &str) -> (String, Option<Value>) {
    let out_dir = target_dir();
    let page = out_dir.join(format!("{name}.html"));
    let out = client_in(
        dir,
        s,
        &[],
        &["walkthrough", "--html", page.to_str().unwrap()],
    )
    .await;
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
    // Step 6 calls the admin API as the provisioner: its token over mTLS, no password.
    assert!(
        html.contains(playbook::names::PROVISIONER_CLIENT_ID),
        "the provisioner's token request shown"
    );
    assert!(
        !html.contains("password="),
        "no password on the default path"
    );
    assert!(html.contains("CertificateRequest"), "the handshakes shown");

    let Some(seen) = browser_check(&page, &out_dir.join(format!("{name}.png"))) else {
        return (html, None);
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
    assert!(
        out_dir
            .join(format!("{name}.png"))
            .metadata()
            .unwrap()
            .len()
            > 10_000
    );
    (html, Some(seen))
}
