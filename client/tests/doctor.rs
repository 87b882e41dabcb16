//! `client doctor`'s offline checks against broken setups, as data: each row builds one
//! broken certificate/key/CA set and names the check that must be the first ✘ (the cause),
//! with its fix; the healthy set has none. One row runs through the binary (`--json`).
//!
//! Online, the same for broken realms and certificates against a running provider
//! ([`ONLINE_ROWS`]): the embedded one in `cargo test`, native Keycloak 26.7.5 in
//! `doctor_rows_on_native_keycloak` (`#[ignore]`d, in scripts/test.sh's native suite), which
//! also finds, for each row's cause, the line the doctor says Keycloak logs.

mod common;
#[path = "doctor/methods.rs"]
mod methods;

use std::path::Path;

use client::doctor::{self, CHECKS, Inputs};
use playbook::names;
use playbook::pki::{CertificateAuthority, CrlState, DevPki, Issued, Revoked, Validity};
use serde_json::{Value, json};

/// Which files a row uses, from the dev PKI or made for it.
struct Setup {
    cert: String,
    key: String,
    ca: String,
    /// A CRL passed with --crl.
    crl: Option<String>,
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
        crl: None,
    }
}

/// `client.pem` with the dev CA and a CRL of `ca` listing `revoked`.
fn with_crl(p: &DevPki, ca: &playbook::pki::CertificateAuthority, revoked: &[&Issued]) -> Setup {
    let state = CrlState {
        number: 1,
        revoked: revoked
            .iter()
            .map(|i| Revoked::now(&i.cert_der).unwrap())
            .collect(),
    };
    Setup {
        crl: Some(ca.crl(&state).unwrap()),
        ..set(&p.client, &p.client, &p.ca.cert)
    }
}

/// What the `revocation` finding's detail must say for the rows with a CRL, by row name.
const REVOCATION_DETAIL: &[(&str, &str)] = &[
    ("a revoked client certificate", "serial "),
    ("a CRL from another CA", "does not apply"),
    (
        "a CRL signed by a second CA with the dev CA's DN",
        "cannot be verified",
    ),
    (
        "a stale CRL of the dev CA (past its nextUpdate)",
        "past its nextUpdate",
    ),
    (
        "healthy: a CRL of the dev CA that lists another certificate",
        "not on the CRL",
    ),
];

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
            crl: None,
        },
        Some("files"),
        "PEM",
    ),
    (
        "a revoked client certificate",
        |p, _, _| with_crl(p, &p.ca, &[&p.client]),
        Some("revocation"),
        "--new-key",
    ),
    (
        "a CRL from another CA",
        |p, _, _| with_crl(p, &p.rogue_ca, &[&p.client]),
        Some("revocation"),
        "--signed-by CA",
    ),
    (
        "a CRL signed by a second CA with the dev CA's DN",
        |p, _, _| {
            let same_dn =
                CertificateAuthority::new(names::CA_SUBJECT_DN, Validity::days_from_now(1))
                    .unwrap();
            with_crl(p, &same_dn, &[&p.client])
        },
        Some("revocation"),
        "--signed-by CA",
    ),
    (
        "a stale CRL of the dev CA (past its nextUpdate)",
        |p, _, _| {
            let past = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
            Setup {
                crl: Some(p.ca.crl_until(&CrlState::default(), past).unwrap()),
                ..set(&p.client, &p.client, &p.ca.cert)
            }
        },
        Some("revocation"),
        "keep it current",
    ),
    (
        "healthy: a CRL of the dev CA that lists another certificate",
        |p, _, _| with_crl(p, &p.ca, &[&p.other_client]),
        None,
        "",
    ),
];

fn write(dir: &Path, s: &Setup) -> Inputs {
    let inputs = Inputs {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
        ca: dir.join("ca.pem"),
        pkcs12: None,
        crls: s.crl.iter().map(|_| dir.join("ca.crl.pem")).collect(),
    };
    if let Some(crl) = &s.crl {
        std::fs::write(dir.join("ca.crl.pem"), crl).unwrap();
    }
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
        if let Some((_, word)) = REVOCATION_DETAIL.iter().find(|(n, _)| n == name) {
            let revocation = findings.iter().find(|f| f.check == "revocation").unwrap();
            if !revocation.detail.contains(word) {
                wrong.push(format!(
                    "{name}: the revocation finding does not say {word:?}: {}",
                    revocation.detail
                ));
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
        "--offline",
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

/// Through the binary: `--crl` with a CRL listing the certificate exits non-zero, and
/// `--json` carries the revocation (its serial and the fix).
#[tokio::test]
async fn the_command_names_a_revoked_certificate_from_crl_in_its_json() {
    let pki = DevPki::generate(2, 1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let inputs = write(dir.path(), &with_crl(&pki, &pki.ca, &[&pki.client]));
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
        "--offline",
        "--crl",
        inputs.crls[0].to_str().unwrap(),
    ];
    let out = common::client_in(dir.path(), &s, &[], &args).await;
    assert!(!out.status.success(), "{}", common::text(&out));
    let json: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", common::text(&out)));
    let revocation = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "revocation")
        .unwrap();
    assert_eq!(revocation["ok"], false, "{json:#}");
    let serial = x509_parser::parse_x509_certificate(&pki.client.cert_der)
        .unwrap()
        .1
        .raw_serial_as_string();
    let detail = revocation["detail"].as_str().unwrap();
    assert!(detail.contains(&serial), "{detail}");
    let fix = revocation["fix"].as_str().unwrap();
    assert!(
        fix.contains("new key") && fix.contains("certificate_revoked"),
        "{fix}"
    );
}

// ---------------------------------------------------------------------------------------
// Online: broken setups against a running provider (the embedded one here, native Keycloak
// in `doctor_rows_on_native_keycloak`), each named by its first ✘.

/// The client a row asks about.
enum RowClient {
    /// The realm's mTLS client (its service account given the role before the rows run).
    Mtls,
    /// Another client of the realm, by clientId.
    Named(&'static str),
    /// A client made for the row: the mTLS client's settings, changed by the function; the
    /// role is mapped to its service account when `role` is true.
    Made { change: fn(&mut Value), role: bool },
}

/// One online row: its name, the certificate (a file stem in CERTS_DIR, or `p12:PASSWORD`
/// for client.p12), the client, the first ✘ (`None`: healthy), a word its fix must contain,
/// and other checks that must be ✘ too.
struct OnlineRow {
    name: &'static str,
    cert: &'static str,
    client: RowClient,
    cause: Option<&'static str>,
    fix_word: &'static str,
    also: &'static [&'static str],
}

fn keep(_: &mut Value) {}

const ONLINE_ROWS: &[OnlineRow] = &[
    OnlineRow {
        name: "healthy: client.pem, the mTLS client with its role",
        cert: "client",
        client: RowClient::Mtls,
        cause: None,
        fix_word: "",
        also: &[],
    },
    OnlineRow {
        name: "healthy: the same from client.p12 (PKCS#12)",
        cert: "p12:playbook",
        client: RowClient::Mtls,
        cause: None,
        fix_word: "",
        also: &[],
    },
    OnlineRow {
        name: "PKCS#12 with the wrong password",
        cert: "p12:wrong",
        client: RowClient::Mtls,
        cause: Some("files"),
        fix_word: "--p12",
        also: &[],
    },
    OnlineRow {
        name: "the role not mapped to the service account",
        cert: "client",
        client: RowClient::Made {
            change: keep,
            role: false,
        },
        cause: Some("role"),
        fix_word: "assign-role",
        also: &["token-role"],
    },
    OnlineRow {
        name: "a certificate of the same CA with another DN",
        cert: "other-client",
        client: RowClient::Mtls,
        cause: Some("realm-subject-dn"),
        fix_word: "x509.subjectdn",
        also: &["token"],
    },
    OnlineRow {
        name: "x509.subjectdn in the wrong order (O first)",
        cert: "client",
        client: RowClient::Made {
            change: |c| c["attributes"]["x509.subjectdn"] = json!(reversed_dn()),
            role: true,
        },
        cause: Some("realm-subject-dn"),
        fix_word: "RFC 2253 order",
        also: &["token"],
    },
    OnlineRow {
        name: "x509.casubjectdn names another CA",
        cert: "client",
        client: RowClient::Made {
            change: |c| c["attributes"]["x509.casubjectdn"] = json!("CN=Some Other CA,O=Elsewhere"),
            role: true,
        },
        cause: Some("realm-ca-subject-dn"),
        fix_word: "x509.casubjectdn",
        also: &["token"],
    },
    OnlineRow {
        name: "certificate binding off",
        cert: "client",
        client: RowClient::Made {
            change: |c| {
                c["attributes"]["tls.client.certificate.bound.access.tokens"] = json!("false")
            },
            role: true,
        },
        cause: Some("binding-attribute"),
        fix_word: "tls.client.certificate.bound.access.tokens",
        also: &["token-binding"],
    },
    OnlineRow {
        name: "no service account",
        cert: "client",
        client: RowClient::Made {
            change: |c| c["serviceAccountsEnabled"] = json!(false),
            role: false,
        },
        cause: Some("service-account"),
        fix_word: "Service accounts",
        also: &["token"],
    },
    OnlineRow {
        name: "the roles scope is not a default scope",
        cert: "client",
        client: RowClient::Made {
            change: |c| {
                c["defaultClientScopes"] = json!([
                    "basic",
                    "acr",
                    "profile",
                    "email",
                    "web-origins",
                    "service_account"
                ])
            },
            role: true,
        },
        cause: Some("roles-scope"),
        fix_word: "Default scope",
        also: &["token-role"],
    },
    OnlineRow {
        name: "the client authenticates with a secret",
        cert: "client",
        client: RowClient::Named(names::SECRET_CLIENT_ID),
        cause: Some("authenticator"),
        fix_word: "client-x509",
        also: &["token"],
    },
    OnlineRow {
        name: "a client id the realm does not have",
        cert: "client",
        client: RowClient::Named("no-such-client-doctor"),
        cause: Some("client"),
        fix_word: "CLIENT_ID",
        also: &["token"],
    },
    OnlineRow {
        name: "the right DN from an untrusted CA",
        cert: "rogue-client",
        client: RowClient::Mtls,
        cause: Some("chain"),
        fix_word: "step 3b",
        also: &["handshake", "token"],
    },
    OnlineRow {
        name: "the right DN from a second CA with the dev CA's DN",
        cert: "same-dn-leaf",
        client: RowClient::Mtls,
        cause: Some("chain"),
        fix_word: "truststore",
        also: &["handshake", "token"],
    },
    OnlineRow {
        name: "the right DN under an intermediate CA (chain sent)",
        cert: "inter-right",
        client: RowClient::Mtls,
        cause: None,
        fix_word: "",
        also: &[],
    },
    OnlineRow {
        name: "an intermediate CA named like the client, another DN on the leaf",
        cert: "inter-named-leaf",
        client: RowClient::Mtls,
        cause: Some("realm-subject-dn"),
        fix_word: "x509.subjectdn",
        also: &["token"],
    },
    OnlineRow {
        name: "a server certificate (serverAuth only)",
        cert: "resource-server",
        client: RowClient::Mtls,
        cause: Some("client-auth-eku"),
        fix_word: "clientAuth",
        also: &[],
    },
];

/// The realm's client DN with its RDNs the other way round.
fn reversed_dn() -> String {
    let mut rdns: Vec<&str> = names::CLIENT_SUBJECT_DN.split(',').collect();
    rdns.reverse();
    rdns.join(",")
}

/// The mTLS client's settings under another clientId (what a made row starts from).
fn made_client(client_id: &str) -> Value {
    json!({
        "clientId": client_id,
        "enabled": true,
        "protocol": "openid-connect",
        "publicClient": false,
        "bearerOnly": false,
        "standardFlowEnabled": false,
        "directAccessGrantsEnabled": false,
        "serviceAccountsEnabled": true,
        "clientAuthenticatorType": "client-x509",
        "attributes": {
            "x509.subjectdn": names::CLIENT_SUBJECT_DN,
            "x509.allow.regex.pattern.comparison": "false",
            "x509.casubjectdn": names::CA_SUBJECT_DN,
            "tls.client.certificate.bound.access.tokens": "true"
        },
        "defaultClientScopes": ["basic", "acr", "roles", "profile", "email", "web-origins", "service_account"]
    })
}

/// The rows' extra certificates, each made with `client certs` in CERTS_DIR (the dev PKI is
/// there): an intermediate CA and the right DN under it, an intermediate named like the
/// client with another DN under it, a second root with the dev CA's DN and the right DN under it.
const MAKE_CERTIFICATES: &[&[&str]] = &[
    &["intermediate"],
    &["issue", "inter-right", "--signed-by", "intermediate-ca"],
    &[
        "intermediate",
        "inter-named",
        "--dn",
        names::CLIENT_SUBJECT_DN,
    ],
    &[
        "issue",
        "inter-named-leaf",
        "--signed-by",
        "inter-named",
        "--dn",
        "CN=someone-else,O=OAuth2 Playbook",
    ],
    &["ca", "same-dn-ca"],
    &["issue", "same-dn-leaf", "--signed-by", "same-dn-ca"],
];

fn make_certificates(dir: &Path) {
    common::doctor::certs(dir, MAKE_CERTIFICATES);
}

/// The clients the rows need, made as the bootstrap admin, and the role given to the mTLS
/// client's service account. Returns each row's clientId.
async fn make_clients(s: &client::Settings) -> Vec<String> {
    let api = common::doctor::admin_with_role(s).await;
    let mut ids = Vec::new();
    for (i, row) in ONLINE_ROWS.iter().enumerate() {
        let id = match &row.client {
            RowClient::Mtls => names::MTLS_CLIENT_ID.to_owned(),
            RowClient::Named(id) => (*id).to_owned(),
            RowClient::Made { change, role } => {
                let id = format!("doctor-row-{i}");
                let mut rep = made_client(&id);
                change(&mut rep);
                api.ensure_client(&rep).await.unwrap();
                if *role {
                    let target = api.resolve(&id, names::READONLY_ROLE).await.unwrap();
                    api.assign(&target).await.unwrap();
                }
                id
            }
        };
        ids.push(id);
    }
    ids
}

/// Runs every online row with `client doctor --json` against `s`; the wrong ones, and the
/// first ✘ of each row (for the log check).
async fn run_online_rows(dir: &Path, s: &client::Settings) -> (Vec<String>, Vec<&'static str>) {
    make_certificates(dir);
    let ids = make_clients(s).await;
    let mut wrong = Vec::new();
    let mut causes = Vec::new();
    for (row, client_id) in ONLINE_ROWS.iter().zip(&ids) {
        let mut env = vec![("CLIENT_ID", client_id.clone())];
        // The shipped provisioner may view only the mTLS client's service account (its admin
        // permissions): the made clients' users are read as the bootstrap admin.
        if matches!(row.client, RowClient::Made { .. }) {
            env.push(("ADMIN_AS", "bootstrap".to_owned()));
        }
        match row.cert.strip_prefix("p12:") {
            Some(password) => {
                env.push(("CLIENT_P12", dir.join("client.p12").display().to_string()));
                env.push(("P12_PASSWORD", password.to_owned()));
            }
            None => {
                env.push((
                    "CLIENT_CERT",
                    dir.join(format!("{}.pem", row.cert)).display().to_string(),
                ));
                env.push((
                    "CLIENT_KEY",
                    dir.join(format!("{}.key.pem", row.cert))
                        .display()
                        .to_string(),
                ));
            }
        }
        let out = common::client_in(dir, s, &env, &["--json", "doctor"]).await;
        let json: Value = match serde_json::from_slice(&out.stdout) {
            Ok(j) => j,
            Err(e) => {
                wrong.push(format!(
                    "{}: no JSON ({e}): {}",
                    row.name,
                    common::text(&out)
                ));
                continue;
            }
        };
        let e = common::doctor::Expect {
            name: row.name,
            cause: row.cause,
            fix_word: row.fix_word,
            also: row.also,
        };
        let problems = common::doctor::check(&e, &json, out.status.success());
        if problems.is_empty() {
            causes.extend(row.cause);
        }
        wrong.extend(problems);
    }
    (wrong, causes)
}

/// Every online row on the embedded provider.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_broken_realm_or_certificate_is_named_online_on_the_embedded_provider() {
    let servers = common::start().await;
    let (wrong, _) = run_online_rows(servers.dir.path(), &servers.settings).await;
    servers.stop().await;
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[allow(dead_code)]
#[path = "../../oauth2-provider/tests/support/native.rs"]
mod native;

/// Every online row against native Keycloak 26.7.5 (one start), with DEBUG on the X.509
/// authenticator's logger; then, for each row's cause, the lines the doctor says Keycloak
/// logs must be in Keycloak's log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Java 17+: cargo test -p client --test doctor -- --ignored"]
async fn doctor_rows_on_native_keycloak() {
    playbook::install_crypto_provider();
    let pki = std::sync::Arc::new(DevPki::generate(2, 1).unwrap());
    let dir = tempfile::tempdir().unwrap();
    playbook::pki::write_files(dir.path(), &pki.files().unwrap(), false).unwrap();
    let keycloak = tokio::task::spawn_blocking({
        let pki = std::sync::Arc::clone(&pki);
        move || {
            native::NativeKeycloak::start_with(
                &pki,
                "doctor-tests",
                &[(
                    "KC_LOG_LEVEL",
                    "INFO,org.keycloak.authentication.authenticators.client.X509ClientAuthenticator:debug"
                        .to_owned(),
                )],
            )
        }
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("the native Keycloak did not start: {e}"));
    let s = common::settings_for(dir.path(), &keycloak.base_url, "https://localhost:1");
    let (mut wrong, causes) = run_online_rows(dir.path(), &s).await;
    // One row as people read it (the README shows it): the DN in the wrong order.
    let i = ONLINE_ROWS
        .iter()
        .position(|r| r.name.starts_with("x509.subjectdn in the wrong order"))
        .unwrap();
    let env = [("CLIENT_ID", format!("doctor-row-{i}"))];
    let out = common::client_in(dir.path(), &s, &env, &["doctor"]).await;
    let text = common::text(&out);
    println!("{text}");
    if !text.contains("Keycloak logs (DEBUG") {
        wrong.push(format!("the narration names no log line: {text}"));
    }
    // The methods' rows (doctor/methods.rs) on the same Keycloak, with a resource server.
    let resource_server = common::spawn_resource_server(&pki, &keycloak.issuer()).await;
    let s = common::settings_for(dir.path(), &keycloak.base_url, &resource_server.url);
    let started = std::time::Instant::now();
    let (method_wrong, method_causes) = methods::run_method_rows(dir.path(), &s).await;
    println!("the method rows took {:.0?}", started.elapsed());
    resource_server.stop().await.unwrap();
    wrong.extend(method_wrong);
    let log = keycloak.log_tail(1_000_000);
    // Kept for reading: the line each cause logs, in Keycloak's own log.
    let kept = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/doctor-keycloak-native.log"
    );
    let _ = std::fs::write(kept, &log);
    wrong.extend(methods::check_log(&log, &method_causes));
    wrong.extend(client::doctor::keycloak_log::missing_in(&log, causes));
    let tail = keycloak.log_tail(80);
    drop(keycloak);
    assert!(
        wrong.is_empty(),
        "{}\n--- Keycloak's log ---\n{tail}",
        wrong.join("\n")
    );
}
