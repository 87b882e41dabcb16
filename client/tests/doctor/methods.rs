//! `client doctor --auth … --bind …` against broken setups of the other methods, as data
//! ([`METHOD_ROWS`]): each row makes its client through the admin API (as the bootstrap
//! admin), runs `client doctor --json` with its flags, and names the check that must be its
//! first ✘ (`None`: healthy) with a word of its fix, the check Keycloak's refusal of the token
//! request must be named as, and the findings that must say a word (a warning, a measure).
//! Run on the embedded provider here and on native Keycloak 26.7.5 in
//! `doctor_rows_on_native_keycloak` (one Keycloak start for both tables).

use std::path::Path;

use base64::Engine as _;
use playbook::names;
use playbook::rfc7523::AssertionKey;
use serde_json::{Value, json};

use super::common;

/// The client a row asks about, made for it (`role`: the realm role mapped to its service
/// account).
enum Made {
    /// A `client-jwt` client registering the certificate `CERTS_DIR/<cert>.pem`.
    Jwt {
        cert: &'static str,
        change: fn(&mut Value),
        role: bool,
    },
    /// A `client-secret` client with the secret [`SECRET`].
    Secret { change: fn(&mut Value), role: bool },
    /// The shipped mTLS client (no client made).
    Mtls,
}

/// An assertion made by "the person's own code": (client id, issuer, key, now) → JWS.
type MakeAssertion = fn(&str, &str, &AssertionKey, u64) -> String;

pub struct MethodRow {
    name: &'static str,
    args: &'static [&'static str],
    client: Made,
    /// The private_key_jwt key and certificate (file stems in CERTS_DIR); "" for none.
    key: &'static str,
    cert: &'static str,
    assertion: Option<MakeAssertion>,
    /// Run the doctor once before with the same assertion (it is then used up).
    replayed: bool,
    /// The secret the client sends with --auth secret (the made clients have [`SECRET`]).
    secret: &'static str,
    cause: Option<&'static str>,
    fix_word: &'static str,
    /// The check the token request's refusal must be named as (an online ✘).
    refused: Option<&'static str>,
    /// (check, word): that finding's detail or warning says the word.
    says: &'static [(&'static str, &'static str)],
}

const SECRET: &str = "doctor-row-secret-change-me";

/// The row printed as people read it.
const PRINTED: &str = "the realm registers another key";

fn keep(_: &mut Value) {}
fn dpop_on(c: &mut Value) {
    c["attributes"]["dpop.bound.access.tokens"] = json!("true");
}

/// The client's registered certificate turned into `jwks.string` (its key with `"use":
/// "sig"`, or without `use`), the certificate removed.
fn as_jwks(c: &mut Value, sig: bool) {
    let attributes = c["attributes"].as_object_mut().unwrap();
    let cert = attributes.remove("jwt.credential.certificate").unwrap();
    let der = base64::engine::general_purpose::STANDARD
        .decode(cert.as_str().unwrap())
        .unwrap();
    let mut jwk = client::doctor::methods::jwt::certificate_jwk(&der).unwrap();
    if sig {
        jwk["use"] = json!("sig");
    }
    attributes.insert("use.jwks.string".into(), json!("true"));
    attributes.insert(
        "jwks.string".into(),
        json!(json!({"keys": [jwk]}).to_string()),
    );
}

fn claims(client: &str, aud: &str, exp: u64, iat: Option<u64>) -> Value {
    let mut c = json!({"iss": client, "sub": client, "aud": aud, "exp": exp,
        "jti": playbook::rfc7523::random_id()});
    if let Some(iat) = iat {
        c["iat"] = json!(iat);
    }
    c
}

fn signed(key: &AssertionKey, claims: &Value) -> String {
    key.sign(&json!({"alg": key.alg(), "typ": "JWT"}), claims)
}

const JWT: &[&str] = &["--auth", "private-key-jwt"];
const JWT_DPOP: &[&str] = &["--auth", "private-key-jwt", "--bind", "dpop"];

/// A healthy private_key_jwt row's fields, changed per row.
const fn jwt_row(name: &'static str, client: Made) -> MethodRow {
    MethodRow {
        name,
        args: JWT,
        client,
        key: "jwt-a",
        cert: "jwt-a",
        assertion: None,
        replayed: false,
        secret: SECRET,
        cause: None,
        fix_word: "",
        refused: None,
        says: &[],
    }
}

const fn jwt_client(change: fn(&mut Value)) -> Made {
    Made::Jwt {
        cert: "jwt-a",
        change,
        role: true,
    }
}

pub const METHOD_ROWS: &[MethodRow] = &[
    MethodRow {
        says: &[("bearer-token", "gets in"), ("jwt-replay-refused", "reuse")],
        ..jwt_row("healthy: private_key_jwt, a bearer token", jwt_client(keep))
    },
    MethodRow {
        args: JWT_DPOP,
        says: &[("dpop-token", "thumbprint"), ("api-call", "200")],
        ..jwt_row(
            "healthy: private_key_jwt + DPoP, required",
            jwt_client(dpop_on),
        )
    },
    MethodRow {
        args: JWT_DPOP,
        says: &[("dpop-token", "measured: without a proof")],
        ..jwt_row(
            "private_key_jwt + DPoP, the client not requiring it",
            jwt_client(keep),
        )
    },
    MethodRow {
        cause: Some("jwt-registered-key"),
        fix_word: "jwt.credential.certificate",
        refused: Some("jwt-signature"),
        ..jwt_row(
            "the realm registers another key",
            Made::Jwt {
                cert: "jwt-b",
                change: keep,
                role: true,
            },
        )
    },
    MethodRow {
        cause: Some("jwt-signing-alg"),
        fix_word: "token.endpoint.auth.signing.alg",
        refused: Some("jwt-alg"),
        ..jwt_row(
            "the client allows only ES256, the key is RSA",
            jwt_client(|c| c["attributes"]["token.endpoint.auth.signing.alg"] = json!("ES256")),
        )
    },
    MethodRow {
        cause: Some("jwt-authenticator"),
        fix_word: "client-jwt",
        refused: Some("token"),
        ..jwt_row(
            "the client authenticates with a secret",
            Made::Secret {
                change: keep,
                role: true,
            },
        )
    },
    MethodRow {
        key: "jwt-a-cert-as-key",
        cause: Some("jwt-key"),
        fix_word: "PKCS#8",
        ..jwt_row("--jwt-key is not a private key", jwt_client(keep))
    },
    MethodRow {
        cert: "jwt-b",
        cause: Some("jwt-key-matches"),
        fix_word: "certificate made with this key",
        ..jwt_row("--jwt-cert holds another key", jwt_client(keep))
    },
    MethodRow {
        assertion: Some(|c, _, k, now| {
            signed(
                k,
                &claims(c, "https://elsewhere.example/", now + 30, Some(now)),
            )
        }),
        cause: Some("jwt-audience"),
        fix_word: "set aud to the issuer",
        refused: Some("jwt-audience"),
        ..jwt_row("an assertion for another audience", jwt_client(keep))
    },
    MethodRow {
        assertion: Some(|c, iss, k, now| signed(k, &claims(c, iss, now - 30, Some(now - 90)))),
        cause: Some("jwt-lifetime"),
        fix_word: "new assertion for each token request",
        refused: Some("jwt-lifetime"),
        ..jwt_row("an expired assertion", jwt_client(keep))
    },
    MethodRow {
        assertion: Some(|c, iss, k, now| signed(k, &claims(c, iss, now + 300, None))),
        cause: Some("jwt-lifetime"),
        fix_word: "iat",
        refused: Some("jwt-lifetime"),
        ..jwt_row("no iat, exp five minutes ahead", jwt_client(keep))
    },
    MethodRow {
        assertion: Some(|c, iss, k, now| signed(k, &claims(c, iss, now + 50, Some(now)))),
        replayed: true,
        cause: Some("jwt-replay"),
        fix_word: "new jti",
        refused: Some("jwt-replay"),
        ..jwt_row(
            "an assertion used before (its jti replayed)",
            jwt_client(keep),
        )
    },
    MethodRow {
        says: &[("jwt-registered-key", "registers this key")],
        ..jwt_row(
            "healthy: the key registered as a JWKS (jwks.string)",
            jwt_client(|c| as_jwks(c, true)),
        )
    },
    MethodRow {
        cause: Some("jwt-no-key"),
        fix_word: "\"use\": \"sig\"",
        refused: Some("jwt-no-key"),
        ..jwt_row(
            "the JWKS has the key without \"use\": \"sig\"",
            jwt_client(|c| as_jwks(c, false)),
        )
    },
    MethodRow {
        name: "a client requiring DPoP, asked without a proof",
        args: &["--auth", "secret"],
        client: Made::Secret {
            change: dpop_on,
            role: true,
        },
        cause: Some("dpop-required"),
        fix_word: "--bind dpop",
        refused: Some("dpop-required"),
        ..jwt_row("", Made::Mtls)
    },
    MethodRow {
        name: "a wrong client secret",
        args: &["--auth", "secret"],
        client: Made::Secret {
            change: keep,
            role: true,
        },
        secret: "not-the-secret",
        cause: Some("token"),
        fix_word: "CLIENT_SECRET",
        refused: Some("token"),
        ..jwt_row("", Made::Mtls)
    },
    MethodRow {
        name: "healthy: client secret, a bearer token",
        args: &["--auth", "secret"],
        client: Made::Secret {
            change: keep,
            role: true,
        },
        says: &[("bearer-token", "thief")],
        ..jwt_row("", Made::Mtls)
    },
    MethodRow {
        name: "healthy: client secret + DPoP, required",
        args: &["--auth", "secret", "--bind", "dpop"],
        client: Made::Secret {
            change: dpop_on,
            role: true,
        },
        says: &[("dpop-token", "cnf.jkt"), ("api-call", "200")],
        ..jwt_row("", Made::Mtls)
    },
    MethodRow {
        name: "--auth tls --bind dpop: Keycloak binds to the certificate only (measured)",
        args: &["--auth", "tls", "--bind", "dpop"],
        client: Made::Mtls,
        cause: Some("method-pair"),
        fix_word: "--auth secret --bind dpop",
        says: &[("dpop-token", "x5t#S256")],
        ..jwt_row("", Made::Mtls)
    },
    MethodRow {
        name: "--auth private-key-jwt --bind mtls",
        args: &["--auth", "private-key-jwt", "--bind", "mtls"],
        cause: Some("method-pair"),
        fix_word: "--bind dpop",
        ..jwt_row("", jwt_client(keep))
    },
];

/// The rows' key pairs, made with `client certs` in CERTS_DIR, and a certificate passed as
/// a key.
fn make_keys(dir: &Path) {
    for name in ["jwt-a", "jwt-b"] {
        if dir.join(format!("{name}.pem")).exists() {
            continue;
        }
        common::doctor::certs(dir, &[&["issue", name]]);
    }
    std::fs::copy(dir.join("jwt-a.pem"), dir.join("jwt-a-cert-as-key.key.pem")).unwrap();
}

fn certificate_b64(dir: &Path, stem: &str) -> String {
    let der = playbook::pem::load_certs(&dir.join(format!("{stem}.pem"))).unwrap();
    base64::engine::general_purpose::STANDARD.encode(&der[0])
}

/// Makes the client `rep` (unless it exists), and maps the realm role to its service account
/// when `role`.
pub async fn make_client(api: &client::admin::AdminApi, rep: &Value, role: bool) {
    api.ensure_client(rep).await.unwrap();
    if role {
        let id = rep["clientId"].as_str().unwrap();
        let target = api.resolve(id, names::READONLY_ROLE).await.unwrap();
        api.assign(&target).await.unwrap();
    }
}

/// Each row's client, made as the bootstrap admin; the clientIds.
async fn make_clients(dir: &Path, s: &client::Settings) -> Vec<String> {
    let mut admin = s.clone();
    admin.admin_as = client::admin::AdminAs::Bootstrap;
    let api = client::admin::AdminApi::open(&admin, None)
        .await
        .expect("the bootstrap admin's session");
    let mut ids = Vec::new();
    for (i, row) in METHOD_ROWS.iter().enumerate() {
        let id = format!("doctor-method-{i}");
        let base = json!({
            "clientId": id, "enabled": true, "protocol": "openid-connect", "publicClient": false,
            "standardFlowEnabled": false, "directAccessGrantsEnabled": false,
            "serviceAccountsEnabled": true,
            "defaultClientScopes": ["basic", "acr", "roles", "profile", "email", "web-origins", "service_account"]
        });
        let (mut rep, change, role) = match &row.client {
            Made::Mtls => {
                let target = api
                    .resolve(names::MTLS_CLIENT_ID, names::READONLY_ROLE)
                    .await
                    .unwrap();
                api.assign(&target).await.unwrap();
                ids.push(names::MTLS_CLIENT_ID.to_owned());
                continue;
            }
            Made::Jwt { cert, change, role } => {
                let mut rep = base;
                rep["clientAuthenticatorType"] = json!("client-jwt");
                rep["attributes"] = json!({"jwt.credential.certificate": certificate_b64(dir, cert), "use.jwks.url": "false"});
                (rep, change, role)
            }
            Made::Secret { change, role } => {
                let mut rep = base;
                rep["clientAuthenticatorType"] = json!("client-secret");
                rep["secret"] = json!(SECRET);
                rep["attributes"] = json!({});
                (rep, change, role)
            }
        };
        change(&mut rep);
        make_client(&api, &rep, *role).await;
        ids.push(id);
    }
    ids
}

/// Runs every method row with `client doctor --json` against `s`; the wrong ones, and each
/// row's causes (its first ✘ and its refusal) with its client, for [`check_log`].
pub async fn run_method_rows(
    dir: &Path,
    s: &client::Settings,
) -> (Vec<String>, Vec<(&'static str, String)>) {
    make_keys(dir);
    let ids = make_clients(dir, s).await;
    let mut wrong = Vec::new();
    let mut causes = Vec::new();
    for (row, client_id) in METHOD_ROWS.iter().zip(&ids) {
        let mut env = vec![
            ("ADMIN_AS", "bootstrap".to_owned()),
            ("JWT_CLIENT_ID", client_id.clone()),
            ("SECRET_CLIENT_ID", client_id.clone()),
            ("CLIENT_SECRET", row.secret.to_owned()),
        ];
        if !row.key.is_empty() {
            env.push((
                "JWT_KEY",
                dir.join(format!("{}.key.pem", row.key))
                    .display()
                    .to_string(),
            ));
            env.push((
                "JWT_CERT",
                dir.join(format!("{}.pem", row.cert)).display().to_string(),
            ));
        }
        let mut args: Vec<String> = ["--json", "doctor"]
            .iter()
            .chain(row.args)
            .map(|a| a.to_string())
            .collect();
        if let Some(make) = row.assertion {
            let der = playbook::pem::load_key(&dir.join(format!("{}.key.pem", row.key))).unwrap();
            let key = AssertionKey::from_pkcs8_der(der.secret_der()).unwrap();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let issuer = s.issuer.as_str().trim_end_matches('/');
            let file = dir.join(format!("{client_id}.jwt"));
            std::fs::write(&file, make(client_id, issuer, &key, now)).unwrap();
            args.extend(["--assertion".to_owned(), file.display().to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        if row.replayed {
            common::client_in(dir, s, &env, &args).await;
        }
        let out = common::client_in(dir, s, &env, &args).await;
        if row.name == PRINTED {
            // As people read it (the README shows it from native Keycloak).
            let text = common::client_in(dir, s, &env, &args[1..]).await;
            println!("{}", String::from_utf8_lossy(&text.stdout));
        }
        let json = match json_of(row.name, &out) {
            Ok(j) => j,
            Err(e) => {
                wrong.push(e);
                continue;
            }
        };
        let online: Vec<&Value> = json["online"].as_array().into_iter().flatten().collect();
        let all: Vec<&Value> = json["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(online.iter().copied())
            .collect();
        let dump = || serde_json::to_string_pretty(&all).unwrap();
        match first_failure(
            row.name,
            &all,
            out.status.success(),
            row.cause,
            row.fix_word,
        ) {
            Ok(w) => wrong.extend(w),
            Err(e) => {
                wrong.push(e);
                continue;
            }
        }
        if let Some(refused) = row.refused {
            // The token request's refusal: the last online ✘, after the realm's findings.
            let named = online
                .iter()
                .rev()
                .find(|f| f["ok"] == false)
                .and_then(|f| f["check"].as_str());
            if named != Some(refused) {
                wrong.push(format!(
                    "{}: the refusal is named {named:?}, expected {refused:?}:\n{}",
                    row.name,
                    dump()
                ));
            }
            causes.push((refused, client_id.clone()));
        }
        for (check, word) in row.says {
            let said = all
                .iter()
                .rev()
                .find(|f| f["check"] == *check)
                .map(|f| format!("{} {}", f["detail"], f["warning"]));
            if !said.as_deref().is_some_and(|t| t.contains(word)) {
                wrong.push(format!(
                    "{}: {check} does not say {word:?}: {said:?}",
                    row.name
                ));
            }
        }
        causes.extend(row.cause.map(|c| (c, client_id.clone())));
    }
    (wrong, causes)
}

/// Each cause's lines (`keycloak_log.rs`) in Keycloak's `log`, on its row's client: among the
/// lines naming that client (`clientId="…"`) or naming none (the loggers' own lines).
pub fn check_log(log: &str, causes: &[(&'static str, String)]) -> Vec<String> {
    let mut wrong = Vec::new();
    for (cause, client) in causes {
        let named = format!("clientId=\"{client}\"");
        let lines: String = log
            .lines()
            .filter(|l| l.contains(&named) || !l.contains("clientId="))
            .map(|l| format!("{l}\n"))
            .collect();
        for line in client::doctor::keycloak_log::lines_for(cause) {
            if !line.found_in(&lines) {
                wrong.push(format!(
                    "{cause} ({client}): Keycloak's log has no line {:?}",
                    line.line
                ));
            }
        }
    }
    wrong
}

/// The `--json` document a run printed, or what is wrong.
pub fn json_of(name: &str, out: &std::process::Output) -> Result<Value, String> {
    serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("{name}: no JSON ({e}): {}", common::text(out)))
}

/// A row's findings judged: `Err` when its first ✘ is not `cause` (`None`: no ✘), the row
/// judged no further; else what is wrong besides (the exit status, a fix without `fix_word`).
pub fn first_failure(
    name: &str,
    all: &[&Value],
    success: bool,
    cause: Option<&str>,
    fix_word: &str,
) -> Result<Vec<String>, String> {
    let first = all.iter().find(|f| f["ok"] == false);
    let got = first.and_then(|f| f["check"].as_str());
    if got != cause {
        let dump = serde_json::to_string_pretty(all).unwrap();
        return Err(format!(
            "{name}: first ✘ {got:?}, expected {cause:?}:\n{dump}"
        ));
    }
    let mut wrong = Vec::new();
    if success != cause.is_none() {
        wrong.push(format!(
            "{name}: exit status {}",
            if success { 0 } else { 1 }
        ));
    }
    let fix = first.and_then(|f| f["fix"].as_str()).unwrap_or_default();
    if first.is_some() && !fix.contains(fix_word) {
        wrong.push(format!("{name}: the fix does not say {fix_word:?}: {fix}"));
    }
    Ok(wrong)
}

/// Every method row on the embedded provider.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_broken_method_is_named_on_the_embedded_provider() {
    let servers = common::start().await;
    let (wrong, _) = run_method_rows(servers.dir.path(), &servers.settings).await;
    servers.stop().await;
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Offline, through the binary: a person's expired assertion, no server asked; `--json` names
/// the cause (`jwt-lifetime`) with Keycloak's line, and the pair and the key are ✔.
#[tokio::test]
async fn offline_an_expired_assertion_is_named_without_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let pki = playbook::pki::DevPki::generate(2, 1).unwrap();
    playbook::pki::write_files(dir.path(), &pki.files().unwrap(), false).unwrap();
    make_keys(dir.path());
    let der = playbook::pem::load_key(&dir.path().join("jwt-a.key.pem")).unwrap();
    let key = AssertionKey::from_pkcs8_der(der.secret_der()).unwrap();
    let s = common::settings_for(dir.path(), "https://localhost:1", "https://localhost:2");
    let issuer = s.issuer.as_str().trim_end_matches('/');
    let now = client::token::unix_now();
    let file = dir.path().join("expired.jwt");
    std::fs::write(
        &file,
        signed(
            &key,
            &claims(names::JWT_CLIENT_ID, issuer, now - 30, Some(now - 90)),
        ),
    )
    .unwrap();
    let env = [
        (
            "JWT_KEY",
            dir.path().join("jwt-a.key.pem").display().to_string(),
        ),
        (
            "JWT_CERT",
            dir.path().join("jwt-a.pem").display().to_string(),
        ),
    ];
    let args = [
        "--json",
        "doctor",
        "--auth",
        "private-key-jwt",
        "--offline",
        "--assertion",
        file.to_str().unwrap(),
    ];
    let out = common::client_in(dir.path(), &s, &env, &args).await;
    assert!(!out.status.success(), "{}", common::text(&out));
    let json = json_of("offline", &out).unwrap();
    assert_eq!(json["online"], json!([]), "{json:#}");
    let findings = json["findings"].as_array().unwrap();
    let verdict = |id: &str| {
        findings
            .iter()
            .find(|f| f["check"] == id)
            .map(|f| f["ok"].clone())
    };
    assert_eq!(verdict("method-pair"), Some(json!(true)), "{json:#}");
    assert_eq!(verdict("jwt-key-matches"), Some(json!(true)), "{json:#}");
    assert_eq!(verdict("jwt-lifetime"), Some(json!(false)), "{json:#}");
    let lifetime = findings
        .iter()
        .find(|f| f["check"] == "jwt-lifetime")
        .unwrap();
    assert!(
        lifetime["keycloak_log"]
            .as_array()
            .is_some_and(|l| !l.is_empty()),
        "{json:#}"
    );
}

/// A resource server that believes it is at another public URL (behind a proxy, without
/// `--public-url` set to the proxy's): the DPoP call is refused on `htu`, and the doctor names
/// the API call with the fix (the token itself is fine).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dpop_call_to_an_api_at_another_public_url_is_named() {
    let servers = common::start().await;
    let (dir, s) = (servers.dir.path(), &servers.settings);
    let file = |name: &str| dir.join(name);
    let mut config = resource_server::Config::new(
        s.issuer.as_str(),
        playbook::pem::load_ca_certs(&file("ca.pem")).unwrap(),
    );
    config.public_url = Some("https://api.elsewhere.example/".into());
    let (cert, key) = (file("resource-server.pem"), file("resource-server.key.pem"));
    let identity = playbook::Identity::from_parts(
        &cert,
        &key,
        playbook::pem::load_certs(&cert).unwrap(),
        playbook::pem::load_key(&key).unwrap(),
        None,
    )
    .unwrap();
    let spec = supervisor::servers::ResourceServerSpec {
        config,
        identity,
        port: 0,
    };
    let elsewhere =
        supervisor::servers::start_resource_server(spec, std::time::Duration::from_secs(20))
            .await
            .unwrap();
    let mut admin = s.clone();
    admin.admin_as = client::admin::AdminAs::Bootstrap;
    let api = client::admin::AdminApi::open(&admin, None).await.unwrap();
    let rep = json!({"clientId": "doctor-method-htu", "enabled": true, "publicClient": false,
        "serviceAccountsEnabled": true, "clientAuthenticatorType": "client-secret", "secret": SECRET,
        "attributes": {"dpop.bound.access.tokens": "true"},
        "defaultClientScopes": ["basic", "roles", "profile", "email", "service_account"]});
    make_client(&api, &rep, true).await;
    let env = [
        ("ADMIN_AS", "bootstrap".to_owned()),
        ("SECRET_CLIENT_ID", "doctor-method-htu".to_owned()),
        ("CLIENT_SECRET", SECRET.to_owned()),
        ("RESOURCE_SERVER_URL", elsewhere.url.clone()),
    ];
    let args = ["--json", "doctor", "--auth", "secret", "--bind", "dpop"];
    let out = common::client_in(dir, s, &env, &args).await;
    elsewhere.stop().await.unwrap();
    servers.stop().await;
    let json = json_of("htu", &out).unwrap();
    let all: Vec<&Value> = json["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(json["online"].as_array().into_iter().flatten())
        .collect();
    let wrong = first_failure(
        "htu",
        &all,
        out.status.success(),
        Some("api-call"),
        "public URL",
    )
    .unwrap();
    assert!(wrong.is_empty(), "{wrong:?}");
    let call = all.iter().find(|f| f["check"] == "api-call").unwrap();
    assert!(call["detail"].as_str().unwrap().contains("401"), "{call:#}");
}
