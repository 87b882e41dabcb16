//! The realm-corpus differential check: realm files shaped as people bring them (exports of
//! Keycloak 11 to 26, Partial exports, `kc.sh export` output, hand-written files; one or more
//! per behaviour class of issue 21), in `tests/fixtures/corpus/`, imported by the embedded
//! provider and by native Keycloak. For each file: its discovery document, its JWKS (`kty`,
//! `alg`, `use` of every key) and a `client_credentials` token for up to three clients that
//! can get one (secret clients with the file's secret, x509 clients with a certificate issued
//! for their DN): the claim names and the values of [`COMPARED_CLAIMS`].
//!
//! Keycloak's observations are committed in `tests/golden/corpus/`, one file per realm file;
//! every `cargo test` holds the embedded provider to them (no Java needed). The native run
//! imports the whole corpus in one start, observes it again and fails on drift;
//! `RECORD_GOLDEN=1` rewrites the golden files:
//!
//! ```sh
//! cargo test -p oauth2-provider --test realm_corpus                      # embedded, no Java
//! cargo test -p oauth2-provider --test realm_corpus -- --ignored         # native Keycloak
//! RECORD_GOLDEN=1 cargo test -p oauth2-provider --test realm_corpus -- --ignored
//! ```

#[allow(unused_imports, unused_macros)]
mod scenarios;
mod support {
    #[allow(dead_code)]
    pub mod native;
}

use std::path::{Path, PathBuf};
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use playbook::pki::{DevPki, Validity};
use reqwest::StatusCode;
use scenarios::conformance;
use serde_json::{Map, Value, json};
use support::native::NativeKeycloak;

/// The token claims whose values are compared (of the others, only the name).
const COMPARED_CLAIMS: &[&str] = &[
    "azp",
    "scope",
    "aud",
    "realm_access",
    "resource_access",
    "allowed-origins",
    "acr",
    "typ",
];

/// At most this many clients of a file get a token.
const CLIENTS_PER_FILE: usize = 3;

/// A DN matching each regex `x509.subjectdn` of the corpus (realm, client, DN): a regex
/// names no certificate by itself.
const REGEX_DNS: &[(&str, &str, &str)] = &[
    ("corpus-x509", "regex", "CN=anyone,O=Corpus"),
    ("corpus-x509", "regex-cn", "CN=corpus-regex-7,O=Corpus"),
    ("live-export-b", "regex", "CN=live-b-1,O=Corpus"),
];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus")
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/corpus")
}

/// The corpus's realm files, by name.
fn corpus_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("tests/fixtures/corpus")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn stem(file: &Path) -> String {
    file.file_stem()
        .expect("a file name")
        .to_string_lossy()
        .into_owned()
}

/// A client of the file that may get a token, and how it authenticates.
#[derive(Debug)]
enum Credential {
    Secret(String),
    Certificate(String),
}

/// Up to [`CLIENTS_PER_FILE`] clients that can get a `client_credentials` token: enabled,
/// confidential, with a service account or Authorization Services, and a credential the
/// file gives (a secret, or an x509 DN).
fn token_clients(realm: &str, rep: &Value) -> Vec<(String, Credential)> {
    let flag = |c: &Value, k: &str| c[k].as_bool().unwrap_or(false);
    let mut out = Vec::new();
    for c in rep["clients"].as_array().into_iter().flatten() {
        let Some(id) = c["clientId"].as_str() else {
            continue;
        };
        let may = c["enabled"].as_bool().unwrap_or(true)
            && !flag(c, "publicClient")
            && !flag(c, "bearerOnly")
            && (flag(c, "serviceAccountsEnabled") || flag(c, "authorizationServicesEnabled"));
        if !may {
            continue;
        }
        let credential = match c["clientAuthenticatorType"].as_str() {
            Some("client-x509") => {
                let attrs = &c["attributes"];
                let dn = if attrs["x509.allow.regex.pattern.comparison"] == "true" {
                    REGEX_DNS
                        .iter()
                        .find(|(r, cl, _)| *r == realm && *cl == id)
                        .map(|(_, _, dn)| (*dn).to_owned())
                        .unwrap_or_else(|| panic!("{realm}/{id}: no DN in REGEX_DNS"))
                } else {
                    attrs["x509.subjectdn"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned()
                };
                Credential::Certificate(dn)
            }
            _ => match c["secret"].as_str() {
                Some(s) => Credential::Secret(s.to_owned()),
                None => continue,
            },
        };
        out.push((id.to_owned(), credential));
        if out.len() == CLIENTS_PER_FILE {
            break;
        }
    }
    out
}

/// Arrays sorted, the base URL replaced: what depends on the run or on a Java `HashSet`
/// leaves the comparison.
fn normalised(v: &Value, base: &str) -> Value {
    match v {
        Value::String(s) if !base.is_empty() => json!(s.replace(base, "https://<provider>")),
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(|i| normalised(i, base)).collect();
            items.sort_by_key(|i| i.to_string());
            Value::Array(items)
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), normalised(v, base)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn jwt_claims(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("a JWS");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

/// What a token says that the corpus compares.
fn token_summary(claims: &Value) -> Value {
    let map = claims.as_object().expect("a claims object");
    let mut names: Vec<&String> = map.keys().collect();
    names.sort();
    let mut out = Map::new();
    out.insert("claims".into(), json!(names));
    for k in COMPARED_CLAIMS {
        if let Some(v) = map.get(*k) {
            let v = match (*k, v) {
                ("scope", Value::String(s)) => {
                    let mut words: Vec<&str> = s.split(' ').filter(|w| !w.is_empty()).collect();
                    words.sort_unstable();
                    json!(words.join(" "))
                }
                ("aud", Value::String(s)) => json!([s]),
                _ => v.clone(),
            };
            out.insert((*k).to_owned(), normalised(&v, ""));
        }
    }
    Value::Object(out)
}

/// Discovery, JWKS and tokens of one realm file, at `base` (`https://localhost:PORT`).
async fn observe(base: &str, pki: &DevPki, file: &Path) -> Value {
    let rep: Value = serde_json::from_str(&std::fs::read_to_string(file).expect("the realm file"))
        .expect("JSON");
    let realm = rep["realm"].as_str().expect("a realm name");
    let issuer = format!("{base}/realms/{realm}");
    let ca = std::slice::from_ref(&pki.ca.cert.cert_der);
    let plain = playbook::https::https_client(ca, None).expect("https client");
    let get = |url: String| {
        let plain = plain.clone();
        async move {
            let r = plain.get(&url).send().await.expect(&url);
            (r.status(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, discovery) = get(format!("{issuer}/.well-known/openid-configuration")).await;
    assert_eq!(status, StatusCode::OK, "discovery of {realm}");
    let (status, jwks) = get(format!("{issuer}/protocol/openid-connect/certs")).await;
    assert_eq!(status, StatusCode::OK, "JWKS of {realm}");
    let keys: Vec<Value> = jwks["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|k| json!({"kty": k["kty"], "alg": k["alg"], "use": k["use"]}))
        .collect();

    let mut tokens = Map::new();
    for (client_id, credential) in token_clients(realm, &rep) {
        let mut form = vec![
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", client_id.clone()),
        ];
        let http = match &credential {
            Credential::Secret(s) => {
                form.push(("client_secret", s.clone()));
                plain.clone()
            }
            Credential::Certificate(dn) => {
                let issued = pki
                    .ca
                    .issue_client(dn, Validity::days_from_now(1))
                    .unwrap_or_else(|e| panic!("a certificate for {dn}: {e}"));
                let id = playbook::Identity::unchecked(
                    Path::new("corpus-client.pem"),
                    vec![issued.cert_der.clone()],
                    issued.key_der(),
                );
                playbook::https::https_client(ca, Some(&id)).expect("https client")
            }
        };
        let r = http
            .post(format!("{issuer}/protocol/openid-connect/token"))
            .form(&form)
            .send()
            .await
            .expect("token request");
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        let summary = match body["access_token"].as_str() {
            Some(t) if status == 200 => {
                json!({"status": status, "token": token_summary(&jwt_claims(t))})
            }
            _ => json!({"status": status, "error": body["error"]}),
        };
        tokens.insert(client_id, summary);
    }
    json!({
        "discovery": normalised(&discovery, base),
        "jwks": {"count": keys.len(), "keys": normalised(&Value::Array(keys), base)},
        "tokens": tokens,
    })
}

fn golden_path(file: &Path) -> PathBuf {
    golden_dir().join(format!("{}.json", stem(file)))
}

fn read_golden(file: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(golden_path(file)).ok()?;
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", golden_path(file).display()));
    Some(v["observed"].clone())
}

fn golden_text(file: &Path, observed: &Value) -> String {
    let v = json!({
        "file": format!("tests/fixtures/corpus/{}.json", stem(file)),
        "keycloak": oauth2_provider::KEYCLOAK_VERSION,
        "recorded_by": "RECORD_GOLDEN=1 cargo test -p oauth2-provider --test realm_corpus -- --ignored",
        "observed": observed,
    });
    let mut text = serde_json::to_string_pretty(&v).expect("JSON");
    text.push('\n');
    text
}

/// Every difference between Keycloak's observation of `file` and `actual`, by JSON pointer.
fn differences(file: &Path, expected: &Value, actual: &Value) -> Vec<String> {
    conformance::compare(
        &format!("corpus/{}", stem(file)),
        std::slice::from_ref(expected),
        std::slice::from_ref(actual),
    )
}

/// Every corpus file against the embedded provider, held to Keycloak's golden observations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_provider_serves_the_corpus_as_keycloak_did() {
    playbook::install_crypto_provider();
    let pki = DevPki::generate(2, 1).expect("dev PKI");
    let files = corpus_files();
    assert!(files.len() >= 30, "the corpus has {} files", files.len());
    let running =
        oauth2_provider::spawn_dev(&pki, &[corpus_dir()], oauth2_provider::Options::default())
            .await
            .expect("the corpus imports");
    let mut found = Vec::new();
    for file in &files {
        let actual = observe(&running.url, &pki, file).await;
        match read_golden(file) {
            Some(golden) => found.extend(differences(file, &golden, &actual)),
            None => found.push(format!(
                "{}: Keycloak's observation was never recorded: run RECORD_GOLDEN=1 cargo test \
                 -p oauth2-provider --test realm_corpus -- --ignored",
                golden_path(file).display()
            )),
        }
    }
    assert!(
        found.is_empty(),
        "{} differences from Keycloak {} in the realm corpus:\n  {}",
        found.len(),
        oauth2_provider::KEYCLOAK_VERSION,
        found.join("\n  ")
    );
}

/// The whole corpus imported by one native Keycloak, observed, compared with the golden files
/// (or recorded, with `RECORD_GOLDEN=1`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Java 17+ (and Maven the first time); scripts/test.sh runs it: cargo test -p oauth2-provider --test realm_corpus -- --ignored"]
async fn native_keycloak_serves_the_corpus_as_recorded() {
    playbook::install_crypto_provider();
    let pki = std::sync::Arc::new(DevPki::generate(2, 1).expect("dev PKI"));
    let files = corpus_files();
    let started = Instant::now();
    let start_pki = std::sync::Arc::clone(&pki);
    let keycloak = tokio::task::spawn_blocking(move || {
        // The corpus and the placeholder probe, with the probe's variables.
        let mut env = vec![
            (
                "KEYCLOAK_EXTRA_REALMS",
                format!(
                    "{}:{}",
                    corpus_dir().display(),
                    placeholders_dir().display()
                ),
            ),
            // Keycloak imports a realm file in 5 to 15 s on 2 cores: the corpus takes minutes.
            (
                "KEYCLOAK_START_TIMEOUT",
                std::env::var("KEYCLOAK_START_TIMEOUT").unwrap_or_else(|_| "1200".to_owned()),
            ),
        ];
        env.extend(probe_env(&start_pki));
        NativeKeycloak::start_with(&start_pki, "corpus", &env)
    })
    .await
    .expect("start task")
    .unwrap_or_else(|e| panic!("the native Keycloak did not start: {e}"));
    let ready = started.elapsed();
    let record = std::env::var_os("RECORD_GOLDEN").is_some_and(|v| v == "1");
    let mut drift = Vec::new();
    for file in &files {
        let observed = observe(&keycloak.base_url, &pki, file).await;
        if record {
            conformance::write_atomically(&golden_path(file), &golden_text(file, &observed));
        } else {
            match read_golden(file) {
                Some(golden) => drift.extend(differences(file, &golden, &observed)),
                None => drift.push(format!("{}: not recorded", golden_path(file).display())),
            }
        }
    }
    let placeholders = observe_placeholders(&keycloak.base_url, &pki).await;
    let placeholders_golden = golden_dir().join("placeholders.json");
    if record {
        let text = format!(
            "{}\n",
            serde_json::to_string_pretty(&placeholders).expect("JSON")
        );
        conformance::write_atomically(&placeholders_golden, &text);
    } else {
        drift.extend(conformance::compare(
            "corpus/placeholders",
            &[read_json(&placeholders_golden)],
            &[placeholders],
        ));
    }
    let refusals = refusals_of(&keycloak, &pki).await;
    let refused_golden = golden_dir().join("refused.json");
    if record {
        let text = format!(
            "{}\n",
            serde_json::to_string_pretty(&refusals).expect("JSON")
        );
        conformance::write_atomically(&refused_golden, &text);
    } else {
        let golden: Value = serde_json::from_str(
            &std::fs::read_to_string(&refused_golden).expect("tests/golden/corpus/refused.json"),
        )
        .expect("JSON");
        drift.extend(conformance::compare(
            "corpus/refused",
            &[golden],
            &[refusals],
        ));
    }
    println!(
        "realm corpus: {} files; Keycloak ready in {:.0} s, observed in {:.0} s more",
        files.len(),
        ready.as_secs_f64(),
        (started.elapsed() - ready).as_secs_f64()
    );
    assert!(
        drift.is_empty(),
        "Keycloak's answers drifted from the golden files ({} differences; RECORD_GOLDEN=1 \
         rewrites them):\n  {}\n--- Keycloak's log ---\n{}",
        drift.len(),
        drift.join("\n  "),
        keycloak.log_tail(40)
    );
}

/// The placeholder probe: a realm file with each form of `${…}` Keycloak's import replaces
/// (or keeps), and `client-jwt` clients whose certificate is a placeholder.
fn placeholders_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/placeholders")
}

/// The variables the probe is imported with (both providers; the shipped realm's
/// `PLAYBOOK_JWT_CLIENT_CERT` comes from the run's `certs/`, set by the driver).
fn probe_env(pki: &DevPki) -> Vec<(&'static str, String)> {
    vec![
        ("PLAYBOOK_PROBE_SET", "value-set".to_owned()),
        ("PLAYBOOK_PROBE_EMPTY", String::new()),
        ("PLAYBOOK_PROBE_NESTED", "${PLAYBOOK_PROBE_SET}".to_owned()),
        (
            "PLAYBOOK_PROBE_CERT",
            DevPki::realm_certificate(&pki.other_client),
        ),
    ]
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A `client_credentials` request authenticated by a signed JWT made with `key`: the status,
/// and the token's shape or the refusal.
async fn jwt_token(
    http: &reqwest::Client,
    issuer: &str,
    client_id: &str,
    key: &playbook::pki::Issued,
) -> Value {
    let signer = playbook::rfc7523::AssertionKey::from_pkcs8_der(key.key_der().secret_der())
        .expect("a signing key");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs();
    let r = http
        .post(format!("{issuer}/protocol/openid-connect/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", playbook::rfc7523::ASSERTION_TYPE),
            (
                "client_assertion",
                &signer.assertion(client_id, issuer, now),
            ),
        ])
        .send()
        .await
        .expect("token request");
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    match body["access_token"].as_str() {
        Some(t) => {
            let claims = jwt_claims(t);
            let roles = &claims["realm_access"]["roles"];
            json!({
                "status": status,
                "token_type": body["token_type"],
                "azp": claims["azp"],
                "readonly": roles.as_array().is_some_and(|r| r.iter().any(|r| r == playbook::names::READONLY_ROLE)),
            })
        }
        None => {
            json!({"status": status, "error": body["error"], "error_description": body["error_description"]})
        }
    }
}

/// The bootstrap admin's access token at `base` (`master`, `admin-cli`, the password grant).
async fn admin_bearer(http: &reqwest::Client, base: &str) -> String {
    let token: Value = http
        .post(format!(
            "{base}/realms/master/protocol/openid-connect/token"
        ))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "admin-cli"),
            ("username", playbook::names::DEFAULT_ADMIN_USERNAME),
            ("password", playbook::names::DEFAULT_ADMIN_PASSWORD),
        ])
        .send()
        .await
        .expect("admin token")
        .json()
        .await
        .expect("JSON");
    token["access_token"]
        .as_str()
        .expect("an admin token")
        .to_owned()
}

/// What the placeholder probe became at `base` (read back through the admin API: the `forms`
/// client's description and its `pNN` and `p-…` attributes, each `client-jwt` client's
/// certificate and its token answer), and the shipped realm's `private_key_jwt` client with
/// the run's certificate.
async fn observe_placeholders(base: &str, pki: &DevPki) -> Value {
    let ca = std::slice::from_ref(&pki.ca.cert.cert_der);
    let http = playbook::https::https_client(ca, None).expect("https client");
    let bearer = admin_bearer(&http, base).await;
    let bearer = bearer.as_str();
    let clients: Value = http
        .get(format!("{base}/admin/realms/placeholders/clients"))
        .bearer_auth(bearer)
        .send()
        .await
        .expect("GET clients")
        .json()
        .await
        .expect("JSON");
    let probe_cert = DevPki::realm_certificate(&pki.other_client);
    let issuer = format!("{base}/realms/placeholders");
    let mut out = Map::new();
    for c in clients.as_array().expect("an array of clients") {
        let id = c["clientId"].as_str().unwrap_or_default();
        let attributes = c["attributes"].as_object().cloned().unwrap_or_default();
        if id == "forms" {
            let forms: Map<String, Value> = attributes
                .into_iter()
                .filter(|(k, _)| {
                    k.starts_with("p-")
                        || k.len() == 3
                            && k.starts_with('p')
                            && k[1..].bytes().all(|b| b.is_ascii_digit())
                })
                .collect();
            out.insert(
                id.to_owned(),
                json!({"description": c["description"], "attributes": forms}),
            );
        } else if id.starts_with("jwt-") {
            let certificate = match attributes.get("jwt.credential.certificate") {
                None => json!("(no attribute)"),
                Some(v) if *v == probe_cert => json!("(the variable's value)"),
                Some(v) => v.clone(),
            };
            let answer = jwt_token(&http, &issuer, id, &pki.other_client).await;
            out.insert(
                id.to_owned(),
                json!({"certificate": certificate, "token": answer}),
            );
        }
    }
    let shipped = playbook::names::issuer_for(base, playbook::names::REALM);
    out.insert(
        "shipped realm: oauth2-playbook-client-credentials-jwt".to_owned(),
        jwt_token(
            &http,
            &shipped,
            playbook::names::JWT_CLIENT_ID,
            &pki.jwt_client,
        )
        .await,
    );
    Value::Object(out)
}

/// The placeholder probe on the embedded provider, held to what Keycloak made of it
/// (`tests/golden/corpus/placeholders.json`): the same replacement, the same clients, the
/// same token answers; and the shipped realm's `private_key_jwt` client usable with the run's
/// certificate (set from the PKI, as the drivers set it from `certs/`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_provider_replaces_placeholders_as_keycloak_did() {
    playbook::install_crypto_provider();
    let pki = DevPki::generate(2, 1).expect("dev PKI");
    let options = oauth2_provider::Options {
        environment: oauth2_provider::realm::Environment::only(probe_env(&pki)),
        ..Default::default()
    };
    let running = oauth2_provider::spawn_dev(
        &pki,
        &[oauth2_provider::realm_file(), placeholders_dir()],
        options,
    )
    .await
    .expect("the probe imports");
    let actual = observe_placeholders(&running.url, &pki).await;
    let golden = read_json(&golden_dir().join("placeholders.json"));
    let found = conformance::compare("corpus/placeholders", &[golden], &[actual]);
    assert!(
        found.is_empty(),
        "{} differences from Keycloak's placeholders:\n  {}",
        found.len(),
        found.join("\n  ")
    );
}

/// The realm files Keycloak refuses (issue 21, class 6), in `tests/fixtures/corpus-refused/`.
const REFUSED: &[&str] = &[
    "global-profile-name-realm.json",
    "scope-mappings-unknown-client-realm.json",
];

fn refused_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/corpus-refused")
        .join(name)
}

/// Keycloak's answer to importing each of [`REFUSED`] through its admin API
/// (`POST /admin/realms`, the import `--import-realm` runs): status, body (500
/// `unknown_error`) and the reason its log gives (the first exception message logged), by file.
async fn refusals_of(keycloak: &NativeKeycloak, pki: &DevPki) -> Value {
    let base = keycloak.base_url.as_str();
    let ca = std::slice::from_ref(&pki.ca.cert.cert_der);
    let http = playbook::https::https_client(ca, None).expect("https client");
    let bearer = admin_bearer(&http, base).await;
    let bearer = bearer.as_str();
    let mut out = Map::new();
    for name in REFUSED {
        let body = std::fs::read_to_string(refused_file(name)).expect("a refused fixture");
        let logged_before = keycloak.log_tail(usize::MAX).lines().count();
        let r = http
            .post(format!("{base}/admin/realms"))
            .bearer_auth(bearer)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("POST /admin/realms");
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        let log = keycloak.log_tail(usize::MAX);
        let reason = log.lines().skip(logged_before).find_map(|l| {
            l.rsplit_once("Exception: ")
                .map(|(_, m)| m.trim().to_owned())
        });
        out.insert(
            (*name).to_owned(),
            json!({"status": status, "body": body, "reason": reason}),
        );
    }
    Value::Object(out)
}

/// The embedded provider refuses each of [`REFUSED`] with the reason Keycloak gave.
#[test]
fn embedded_provider_refuses_what_keycloak_refused() {
    let path = golden_dir().join("refused.json");
    let golden: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("refused.json")).expect("JSON");
    for name in REFUSED {
        let keycloak = &golden[*name];
        assert_ne!(
            keycloak["status"].as_u64(),
            Some(201),
            "Keycloak accepted {name}"
        );
        let error = oauth2_provider::Provider::from_realm_file(
            &refused_file(name),
            oauth2_provider::Options::default(),
        )
        .expect_err("the embedded provider refuses it too");
        let oauth2_provider::realm::RealmFileError::Invalid { error, .. } = error else {
            panic!("{name}: not refused for a field: {error}");
        };
        // Keycloak's reason is the first exception its log names (for a client profile, the
        // ModelException whose cause the embedded provider names after it).
        let reason = keycloak["reason"]
            .as_str()
            .expect("Keycloak logged a reason");
        let ours = error.problem.to_string();
        assert!(
            ours.starts_with(reason),
            "{name} at {}: Keycloak logged '{reason}', the embedded provider says '{ours}'",
            error.field
        );
    }
}

/// A golden observation edited by hand is reported, naming the place.
#[test]
fn an_edited_golden_observation_is_reported() {
    let file = corpus_dir().join("corpus-v11-0-3.json");
    let golden = read_golden(&file).expect("corpus-v11-0-3 is recorded");
    let mut edited = golden.clone();
    edited["tokens"]["svc"]["token"]["azp"] = json!("someone-else");
    let found = differences(&file, &edited, &golden);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("/tokens/svc/token/azp"), "{}", found[0]);
    assert!(differences(&file, &golden, &golden).is_empty());
}
