//! `client doctor`'s offline checks against broken setups, as data: each row builds one
//! broken certificate/key/CA set and names the check that must be the first ✘ (the cause),
//! with its fix; the healthy set has none. One row runs through the binary (`--json`).

mod common;

use std::path::Path;

use client::doctor::{self, CHECKS, Inputs};
use playbook::names;
use playbook::pki::{DevPki, Issued, Validity};

/// Which files a row uses, from the dev PKI or made for it.
struct Setup {
    cert: String,
    key: String,
    ca: String,
}

/// A broken setup: its name, how to build it, the check that must be its first ✘ (`None`:
/// healthy), and a word the fix must contain.
type Row = (
    &'static str,
    fn(&DevPki, &Issued, &Issued) -> Setup,
    Option<&'static str>,
    &'static str,
);

fn set(cert: &Issued, key: &Issued, ca: &Issued) -> Setup {
    Setup {
        cert: cert.cert_pem.clone(),
        key: key.key_pem.clone(),
        ca: ca.cert_pem.clone(),
    }
}

const ROWS: &[Row] = &[
    (
        "healthy: client.pem, its key, the dev CA",
        |p, _, _| set(&p.client, &p.client, &p.ca.cert),
        None,
        "",
    ),
    (
        "the key of another certificate",
        |p, _, _| set(&p.client, &p.other_client, &p.ca.cert),
        Some("key-matches"),
        "key generated with this certificate",
    ),
    (
        "an expired certificate",
        |p, expired, _| set(expired, expired, &p.ca.cert),
        Some("validity"),
        "CertificateExpired",
    ),
    (
        "a server certificate (serverAuth only)",
        |p, _, _| set(&p.resource_server, &p.resource_server, &p.ca.cert),
        Some("client-auth-eku"),
        "clientAuth",
    ),
    (
        "the right DN from an untrusted CA",
        |p, _, _| set(&p.rogue_client, &p.rogue_client, &p.ca.cert),
        Some("chain"),
        "step 3b",
    ),
    (
        "the CA file is another CA",
        |p, _, _| set(&p.client, &p.client, &p.rogue_ca.cert),
        Some("chain"),
        "truststore",
    ),
    (
        "a self-signed certificate with the right DN",
        |p, _, selfsigned| set(selfsigned, selfsigned, &p.ca.cert),
        Some("chain"),
        "UnknownCA",
    ),
    (
        "not PEM at all",
        |p, _, _| Setup {
            cert: "hello".into(),
            key: p.client.key_pem.clone(),
            ca: p.ca.cert.cert_pem.clone(),
        },
        Some("files"),
        "PEM",
    ),
];

fn write(dir: &Path, s: &Setup) -> Inputs {
    let inputs = Inputs {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
        ca: dir.join("ca.pem"),
    };
    std::fs::write(&inputs.cert, &s.cert).unwrap();
    std::fs::write(&inputs.key, &s.key).unwrap();
    std::fs::write(&inputs.ca, &s.ca).unwrap();
    inputs
}

#[test]
fn each_broken_setup_is_named_by_its_first_failing_check_with_the_fix() {
    let pki = DevPki::generate(2, 1).unwrap();
    let expired = pki
        .ca
        .issue_client(names::CLIENT_SUBJECT_DN, Validity::expired())
        .unwrap();
    let selfsigned =
        playbook::pki::self_signed_client(names::CLIENT_SUBJECT_DN, Validity::days_from_now(1))
            .unwrap();
    let mut wrong = Vec::new();
    for (name, build, cause, fix_word) in ROWS {
        let dir = tempfile::tempdir().unwrap();
        let findings = doctor::diagnose(&write(dir.path(), &build(&pki, &expired, &selfsigned)));
        assert_eq!(findings.len(), CHECKS.len());
        let first = findings.iter().find(|f| !f.ok);
        let got = first.map(|f| f.check);
        if got != *cause {
            wrong.push(format!(
                "{name}: first ✘ {got:?}, expected {cause:?}: {findings:#?}"
            ));
            continue;
        }
        if let Some(f) = first {
            let fix = f.fix.as_deref().unwrap_or_default();
            if !fix.contains(fix_word) {
                wrong.push(format!("{name}: the fix does not say {fix_word:?}: {fix}"));
            }
        }
        if cause.is_none() {
            let subject = findings.iter().find(|f| f.check == "subject-dn").unwrap();
            assert_eq!(subject.detail, names::CLIENT_SUBJECT_DN, "{name}");
            let issuer = findings.iter().find(|f| f.check == "issuer-dn").unwrap();
            assert_eq!(issuer.detail, names::CA_SUBJECT_DN, "{name}");
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Through the binary: a broken set exits non-zero, and `--json` names the cause.
#[tokio::test]
async fn the_command_exits_non_zero_and_its_json_names_the_cause() {
    let pki = DevPki::generate(2, 1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let inputs = write(
        dir.path(),
        &set(&pki.rogue_client, &pki.rogue_client, &pki.ca.cert),
    );
    let s = common::settings_for(dir.path(), "https://localhost:1", "https://localhost:2");
    let args = [
        "--cert",
        inputs.cert.to_str().unwrap(),
        "--key",
        inputs.key.to_str().unwrap(),
        "--ca",
        inputs.ca.to_str().unwrap(),
        "--json",
        "doctor",
    ];
    let out = common::client_in(dir.path(), &s, &[], &args).await;
    assert!(!out.status.success(), "{}", common::text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", common::text(&out)));
    assert_eq!(json["healthy"], false);
    let chain = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "chain")
        .unwrap();
    assert_eq!(chain["ok"], false, "{json:#}");
}
