//! What a row of a `client doctor` table expects of its `--json` document: the first ✘ (the
//! cause; `None`: healthy), a word of its fix, other checks that must be ✘ too, and the exit
//! status that goes with it (`client/tests/doctor.rs`, `client/tests/doctor_proxy.rs`).

use serde_json::Value;

pub struct Expect<'a> {
    pub name: &'a str,
    pub cause: Option<&'a str>,
    pub fix_word: &'a str,
    pub also: &'a [&'a str],
}

/// Every finding of the document: the offline ones, then the online ones.
pub fn findings(json: &Value) -> Vec<&Value> {
    json["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(json["online"].as_array().into_iter().flatten())
        .collect()
}

/// What is wrong with the document for `e` (empty: as expected); `success`: the exit status.
pub fn check(e: &Expect<'_>, json: &Value, success: bool) -> Vec<String> {
    let all = findings(json);
    let dump = || serde_json::to_string_pretty(&all).unwrap_or_default();
    let first = all.iter().find(|f| f["ok"] == false);
    let got = first.and_then(|f| f["check"].as_str());
    if got != e.cause {
        return vec![format!(
            "{}: first ✘ {got:?}, expected {:?}:\n{}",
            e.name,
            e.cause,
            dump()
        )];
    }
    let mut wrong = Vec::new();
    if success != e.cause.is_none() {
        wrong.push(format!("{}: exit status success={success}", e.name));
    }
    if let Some(f) = first {
        let fix = f["fix"].as_str().unwrap_or_default();
        if !fix.contains(e.fix_word) {
            wrong.push(format!(
                "{}: the fix does not say {:?}: {fix}",
                e.name, e.fix_word
            ));
        }
    }
    for c in e.also {
        if !all.iter().any(|f| f["check"] == *c && f["ok"] == false) {
            wrong.push(format!("{}: {c} is not ✘:\n{}", e.name, dump()));
        }
    }
    wrong
}

/// `client certs ARGS` in `dir` for each of `commands` (the rows' extra certificates).
pub fn certs(dir: &std::path::Path, commands: &[&[&str]]) {
    for args in commands {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_client"))
            .arg("certs")
            .args(*args)
            .env("CERTS_DIR", dir)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "certs {args:?}: {}",
            super::text(&out)
        );
    }
}

/// The bootstrap admin's session at `s`'s provider, the role given to the mTLS client's
/// service account first (as walkthrough step 6 does).
pub async fn admin_with_role(s: &client::Settings) -> client::admin::AdminApi {
    use playbook::names;
    let mut admin = s.clone();
    admin.admin_as = client::admin::AdminAs::Bootstrap;
    let api = client::admin::AdminApi::open(&admin, None)
        .await
        .expect("the bootstrap admin's session");
    let target = api
        .resolve(names::MTLS_CLIENT_ID, names::READONLY_ROLE)
        .await
        .unwrap();
    api.assign(&target).await.unwrap();
    api
}
