//! The differential conformance check, embedded side: every scenario of the shared suite runs
//! against the embedded provider with its answers recorded and normalised, and each answer is
//! compared with what Keycloak answered to the same request (`tests/golden/keycloak/`,
//! recorded from a live Keycloak by `tests/keycloak_native.rs`). No Java needed: the golden
//! files are committed. Differences on purpose are listed in `scenarios::conformance::DELIBERATE`.

#[allow(unused_imports, unused_macros)]
mod scenarios;
mod support {
    pub mod embedded;
}

use scenarios::conformance;

/// One provider of its own (not shared with `tests/embedded.rs`), so no other test changes
/// its state while the answers are recorded. Scenarios run one after another, as against
/// Keycloak.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_provider_answers_as_keycloak_did() {
    let fixture = support::embedded::start().await;
    let mut differences = Vec::new();
    for &(name, _) in scenarios::ALL {
        let (answers, outcome) =
            conformance::recorded(&fixture, scenarios::run(name, &fixture)).await;
        if let Err(e) = outcome {
            differences.push(format!("{name}: the scenario failed here: {e}"));
        }
        match conformance::read_golden(name) {
            Some(golden) => differences.extend(conformance::compare(name, &golden, &answers)),
            None => differences.push(format!(
                "{name}: Keycloak's answers were never recorded ({} is missing): run \
                 RECORD_GOLDEN=1 cargo test -p oauth2-provider --test keycloak_native -- --ignored",
                conformance::golden_path(name).display()
            )),
        }
    }
    assert!(
        differences.is_empty(),
        "{} undeclared differences from Keycloak {}:\n  {}",
        differences.len(),
        oauth2_provider::KEYCLOAK_VERSION,
        differences.join("\n  ")
    );
}

/// The check can fail: a golden answer changed on purpose is reported, naming the place.
#[test]
fn a_changed_golden_answer_is_reported() {
    let golden =
        conformance::read_golden("error_unknown_client").expect("error_unknown_client is recorded");
    let mut changed = golden.clone();
    changed[0]["body"]["error_description"] = serde_json::json!("something else");
    let found = conformance::compare("error_unknown_client", &changed, &golden);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("/body/error_description"), "{}", found[0]);
    assert!(conformance::compare("error_unknown_client", &golden, &golden).is_empty());
}
