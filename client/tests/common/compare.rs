//! `client compare`'s run as a test sees it, shared by the run on the embedded provider
//! (`tests/compare.rs`) and on native Keycloak (`tests/labs_keycloak_native.rs`, on the
//! Keycloak started for the labs): the thief's outcomes asserted, one per row and attack;
//! the numbers only present, never their values.

use std::path::Path;

use client::Settings;
use serde_json::Value;

use super::{client_in, text};

/// One attack's expected outcome: `outcome`, and for a refusal `by` whom, with which `error`.
type Expected = (&'static str, &'static str, &'static str);

/// What the thief must get: per row (`auth`, `bind`), for the stolen token, the stolen
/// credential and the replayed proof, `"gets"`, `"refused"` by whom with which code, or
/// `"not_applicable"`.
const EXPECTED: &[(&str, &str, [Expected; 3])] = &[
    (
        "secret",
        "none",
        [
            ("gets", "", ""),
            ("gets", "", ""),
            ("not_applicable", "", ""),
        ],
    ),
    (
        "tls",
        "mtls",
        [
            ("refused", "resource_server", "invalid_token"),
            ("refused", "provider", "invalid_client"),
            ("not_applicable", "", ""),
        ],
    ),
    (
        "secret",
        "dpop",
        [
            ("refused", "resource_server", "invalid_dpop_proof"),
            ("gets", "", ""),
            ("refused", "resource_server", "invalid_dpop_proof"),
        ],
    ),
    (
        "private-key-jwt",
        "none",
        [
            ("gets", "", ""),
            ("refused", "provider", "invalid_client"),
            ("not_applicable", "", ""),
        ],
    ),
];

/// Runs `client compare --json` (few requests) against the servers of `s` and asserts every
/// thief outcome; returns the table.
pub async fn compare_and_assert(dir: &Path, s: &Settings) -> String {
    let o = client_in(
        dir,
        s,
        &[],
        &["compare", "--tokens", "3", "--calls", "5", "--json"],
    )
    .await;
    assert!(o.status.success(), "client compare: {}", text(&o));
    let doc: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("client compare --json is JSON ({e}): {}", text(&o)));
    let rows = doc["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), client::compare::ROWS.len(), "{doc}");
    for (auth, bind, outcomes) in EXPECTED {
        let row = rows
            .iter()
            .find(|r| r["row"]["auth"] == *auth && r["row"]["bind"] == *bind)
            .unwrap_or_else(|| panic!("no row --auth {auth} --bind {bind}: {doc}"));
        assert!(row["not_possible"].is_null(), "{row}");
        let attacks = &row["attacks"];
        for (name, (outcome, by, error)) in ["stolen_token", "stolen_credential", "replayed_proof"]
            .iter()
            .zip(outcomes)
        {
            let got = &attacks[name];
            let what = format!("--auth {auth} --bind {bind}, {name}: {got}");
            assert_eq!(got["outcome"], *outcome, "{what}");
            if *outcome == "refused" {
                assert_eq!(
                    (&got["by"], &got["error"]),
                    (&Value::from(*by), &Value::from(*error)),
                    "{what}"
                );
                assert!(
                    !got["why"].as_str().unwrap_or_default().is_empty(),
                    "{what}: a reason"
                );
            }
        }
        // Measured, not asserted: each figure is there and counted something.
        let cost = &row["cost"];
        for figure in [
            "tokens_per_second",
            "calls_per_second",
            "handshakes",
            "bytes_read",
            "bytes_written",
        ] {
            assert!(
                cost[figure].as_f64().is_some_and(|v| v > 0.0),
                "{figure}: {cost}"
            );
        }
    }
    // mTLS + DPoP: not a token Keycloak gives; the row says why.
    let both = rows
        .iter()
        .find(|r| r["row"]["auth"] == "tls" && r["row"]["bind"] == "dpop")
        .expect("the mTLS + DPoP row");
    assert!(
        both["not_possible"]
            .as_str()
            .is_some_and(|w| w.contains("certificate")),
        "{both}"
    );
    let table = doc["table"].as_str().expect("the table").to_owned();
    assert_eq!(
        table.lines().filter(|l| l.starts_with("| ")).count(),
        rows.len() + 1,
        "{table}"
    );
    table
}

/// `client token --auth private-key-jwt` and `client call --auth private-key-jwt /api/users`
/// with nothing but the defaults (issue 26): the shipped realm's `client-jwt` client, its
/// certificate handed to the realm at the provider's start, the key `client-jwt.key.pem` of
/// `dir`. The token is a bearer token of that client with `oauth2-playbook-readonly`.
pub async fn private_key_jwt_out_of_the_box(dir: &Path, s: &Settings) {
    use playbook::names;
    let o = client_in(
        dir,
        s,
        &[],
        &["token", "--auth", "private-key-jwt", "--decode", "--json"],
    )
    .await;
    assert!(o.status.success(), "{}", text(&o));
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    let claims = &doc["decoded"]["claims"];
    assert_eq!(doc["token_type"], "Bearer", "{doc:#}");
    assert_eq!(claims["azp"], names::JWT_CLIENT_ID, "{doc:#}");
    assert!(claims.get("cnf").is_none(), "{doc:#}");
    assert!(
        claims["realm_access"]["roles"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r == names::READONLY_ROLE)),
        "{doc:#}"
    );
    let call = client_in(
        dir,
        s,
        &[],
        &["call", "--auth", "private-key-jwt", names::USERS_API_PATH],
    )
    .await;
    assert!(call.status.success(), "{}", text(&call));
}
