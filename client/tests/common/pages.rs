//! The single-command trace pages (`client token|call --html FILE`), one per `--auth` and
//! `--bind` (issues 25 and 26): written against a provider, checked before any browser and
//! in headless Chromium (`browser.rs`). Run on the embedded provider (`trace_page.rs`) and
//! on native Keycloak (`labs_keycloak_native.rs`, on the Keycloak it starts anyway).

use std::path::Path;

use client::Settings;

use super::browser::{browser_check, target_dir};
use super::{client_in, jwt_client_at, text};

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

/// The private_key_jwt client the pages use, registered by the test (the realm may or may
/// not ship one); a name of this run's, so that a Keycloak keeping its database between runs
/// has none of that name yet.
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

/// Every page of [`CASES`] against the provider at `provider_url` (the servers of `s`, the
/// certificates in `dir`), named `<case><suffix>.html` under `target/trace/`: a
/// private_key_jwt client registered first through the admin API as the bootstrap admin.
pub async fn method_pages(dir: &Path, s: &Settings, provider_url: &str, suffix: &str) {
    let client_id = format!("{JWT_CLIENT}-{}", std::process::id());
    let env = jwt_client_at(dir, provider_url, &client_id).await;
    let out_dir = target_dir();
    let mut pages = Vec::new();
    for case in CASES {
        let page = out_dir.join(format!("{}{suffix}.html", case.name));
        let _ = std::fs::remove_file(&page);
        let mut all: Vec<&str> = case.args.to_vec();
        all.extend(["--html", page.to_str().unwrap()]);
        let out = client_in(dir, s, &env, &all).await;
        assert!(out.status.success(), "{}: {}", case.name, text(&out));
        let html = std::fs::read_to_string(&page)
            .unwrap_or_else(|e| panic!("{}: no page ({e}): {}", case.name, text(&out)));
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

/// The page's checks before any browser: a CSP forbidding loads, nothing to load, the
/// handshake shown, the tokens shortened.
pub fn check_html(name: &str, html: &str) {
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
pub fn rendered(page: &std::path::Path, name: &str) -> Option<serde_json::Value> {
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
