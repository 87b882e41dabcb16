//! The differential conformance check: every HTTP answer a scenario receives is recorded,
//! normalised (ids, timestamps, key material and token values replaced by their shape) and
//! compared with what Keycloak answered to the same request.
//!
//! Keycloak's normalised answers are committed under `tests/golden/keycloak/`, one file
//! per scenario, so every test run holds the embedded provider to them without Java
//! (`tests/conformance.rs`). The run against the native Keycloak (`tests/keycloak_native.rs`)
//! records them again and fails on any drift; `RECORD_GOLDEN=1` rewrites the committed files:
//!
//! ```sh
//! RECORD_GOLDEN=1 cargo test -p oauth2-provider --test keycloak_native -- --ignored
//! ```
//!
//! Compared, for each answer: the request (method, path, query), the status, the headers in
//! [`COMPARED_HEADERS`], and the whole body. Differences the embedded provider has on
//! purpose are listed, with their reason, in [`DELIBERATE`] (and in `oauth2-provider/README.md`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::Fixture;

/// The headers compared (lower case); the others (dates, security headers, lengths) are not.
pub const COMPARED_HEADERS: &[&str] = &[
    "content-type",
    "cache-control",
    "pragma",
    "www-authenticate",
    "allow",
    "location",
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-expose-headers",
    "access-control-max-age",
];

/// A difference from Keycloak the embedded provider has on purpose: where (a scenario name or
/// `*`, and a JSON pointer into the normalised answer, `*` matching one segment), and why.
#[derive(Debug)]
pub struct Deliberate {
    pub scenario: &'static str,
    pub pointer: &'static str,
    pub reason: &'static str,
}

/// Every deliberate difference. Each is listed in `oauth2-provider/README.md` too.
pub const DELIBERATE: &[Deliberate] = &[];

/// The answers of one recording, and the run's substitutions.
#[derive(Debug)]
struct Recorder {
    subs: Vec<(String, String)>,
    answers: Mutex<Vec<Value>>,
}

tokio::task_local! {
    static RECORDER: Arc<Recorder>;
}

/// Runs `fut` with every answer it receives recorded, normalised for `f`; returns them,
/// also when `fut` panics (then with the panic message).
pub async fn recorded<F: std::future::Future<Output = ()>>(
    f: &Fixture,
    fut: F,
) -> (Vec<Value>, Result<(), String>) {
    let store = Arc::new(Recorder {
        subs: substitutions(f),
        answers: Mutex::new(Vec::new()),
    });
    let outcome = RECORDER
        .scope(
            Arc::clone(&store),
            super::helpers::CatchUnwind(Box::pin(fut)),
        )
        .await
        .map_err(|panic| {
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "panicked".to_owned())
        });
    let answers = store.answers.lock().expect("recorder").clone();
    (answers, outcome)
}

/// Records one answer when a recording is in progress (inside [`recorded`]); else nothing.
pub fn record(
    method: &reqwest::Method,
    url: &reqwest::Url,
    status: u16,
    headers: &reqwest::header::HeaderMap,
    text: &str,
) {
    let _ = RECORDER.try_with(|store| {
        let answer = normalise_answer(&store.subs, method, url, status, headers, text);
        store.answers.lock().expect("recorder").push(answer);
    });
}

/// Runs `fut` without recording its answers: a polling loop's count of tries depends on
/// timing, not on the provider.
pub async fn unrecorded<T>(fut: impl std::future::Future<Output = T>) -> T {
    let quiet = Arc::new(Recorder {
        subs: Vec::new(),
        answers: Mutex::new(Vec::new()),
    });
    RECORDER.scope(quiet, fut).await
}

// ---------------------------------------------------------------------------------------
// Normalisation

/// Substring replacements that depend on the run, not on the provider: URLs with random
/// ports and the thumbprints of the run's freshly generated certificates.
fn substitutions(f: &Fixture) -> Vec<(String, String)> {
    let mut subs = vec![
        (f.base_url.clone(), "https://<provider>".to_owned()),
        (f.management_url.clone(), "https://<management>".to_owned()),
    ];
    let pki = &f.pki;
    for (issued, name) in [
        (&pki.client, "client.pem"),
        (&pki.other_client, "other-client.pem"),
        (&pki.rogue_client, "rogue-client.pem"),
        (&pki.provisioner, "provisioner.pem"),
        (&pki.provider, "oauth2-provider.pem"),
    ] {
        subs.push((issued.x5t_s256(), format!("<x5t#S256 of {name}>")));
    }
    subs
}

fn uuid_pattern() -> &'static regex::Regex {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(
            r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
        )
        .expect("uuid regex")
    })
}

/// The throwaway clients' random suffix (`scenario-<prefix>-<8 hex>`, see `create_client`).
fn throwaway_pattern() -> &'static regex::Regex {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| regex::Regex::new(r"(scenario-[a-z0-9-]+?-)[0-9a-f]{8}\b").expect("regex"))
}

fn normalise_str(subs: &[(String, String)], s: &str) -> String {
    let mut out = s.to_owned();
    for (from, to) in subs {
        if !from.is_empty() {
            out = out.replace(from.as_str(), to);
        }
    }
    let out = uuid_pattern().replace_all(&out, "<uuid>");
    throwaway_pattern()
        .replace_all(&out, "${1}<id>")
        .into_owned()
}

/// A compact JWS (`eyJ….….…`): its header and claims, normalised, instead of its bytes.
fn as_jwt(s: &str) -> Option<(Value, Value)> {
    let mut parts = s.split('.');
    let (h, c, sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !h.starts_with("eyJ") || sig.is_empty() {
        return None;
    }
    let decode = |p: &str| -> Option<Value> {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()
    };
    Some((decode(h)?, decode(c)?))
}

/// Keys whose value is an instant (seconds or milliseconds since the epoch).
const INSTANT_KEYS: &[&str] = &[
    "exp",
    "iat",
    "nbf",
    "auth_time",
    "createdTimestamp",
    "created_at",
];
/// Keys whose value is a random or per-run identifier, or key material: only its shape counts.
const OPAQUE_KEYS: &[&str] = &[
    "kid",
    "jti",
    "sid",
    "session_state",
    "secret",
    "n",
    "e",
    "x",
    "y",
    "k",
    "x5c",
    "x5t",
    "x5t#S256",
    "jkt",
    "certificate",
    "publicKey",
    "at_hash",
    "c_hash",
    "client.secret.creation.time",
];
/// Lifetimes in seconds: `exp - now` is 300 or 299 depending on the clock; rounded up to
/// the minute.
const LIFETIME_KEYS: &[&str] = &["expires_in", "refresh_expires_in"];

fn shape(v: &Value) -> Value {
    match v {
        Value::String(_) => json!("<string>"),
        Value::Number(_) => json!("<number>"),
        Value::Array(items) => Value::Array(items.iter().map(shape).collect()),
        other => other.clone(),
    }
}

fn normalise_value(subs: &[(String, String)], key: Option<&str>, v: &Value) -> Value {
    if let Some(k) = key {
        if INSTANT_KEYS.contains(&k) && v.is_number() {
            return json!("<instant>");
        }
        if let Some(n) = v.as_u64().filter(|_| LIFETIME_KEYS.contains(&k)) {
            return json!(n.div_ceil(60) * 60);
        }
        if OPAQUE_KEYS.contains(&k) {
            // A thumbprint of one of the run's certificates keeps its name.
            if let Some(s) = v.as_str() {
                let named = normalise_str(subs, s);
                if named.starts_with("<x5t#S256 of ") {
                    return json!(named);
                }
            }
            return shape(v);
        }
    }
    match v {
        Value::String(s) => match as_jwt(s) {
            Some((header, claims)) => json!({
                "<jwt>": {
                    "header": normalise_value(subs, None, &header),
                    "claims": normalise_value(subs, None, &claims),
                }
            }),
            None => json!(normalise_str(subs, s)),
        },
        Value::Array(items) => {
            let mut items: Vec<Value> = items
                .iter()
                .map(|i| normalise_value(subs, None, i))
                .collect();
            // Order is not part of any answer the product relies on (roles, scopes, keys).
            items.sort_by_key(|i| i.to_string());
            Value::Array(items)
        }
        Value::Object(map) => {
            let sorted: BTreeMap<&String, Value> = map
                .iter()
                .map(|(k, v)| (k, normalise_value(subs, Some(k), v)))
                .collect();
            Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        other => other.clone(),
    }
}

/// Space-separated lists (`scope`) compare as sets.
fn normalise_scope_strings(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if let Some(s) = val.as_str().filter(|_| k == "scope") {
                    let mut parts: Vec<&str> = s.split(' ').filter(|p| !p.is_empty()).collect();
                    parts.sort_unstable();
                    *val = json!(parts.join(" "));
                    continue;
                }
                normalise_scope_strings(val);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalise_scope_strings),
        _ => {}
    }
}

fn normalise_answer(
    subs: &[(String, String)],
    method: &reqwest::Method,
    url: &reqwest::Url,
    status: u16,
    headers: &reqwest::header::HeaderMap,
    text: &str,
) -> Value {
    let mut request = format!("{method} {}", url.path());
    if let Some(q) = url.query() {
        request.push('?');
        request.push_str(q);
    }
    let mut compared = Map::new();
    for name in COMPARED_HEADERS {
        let values: Vec<String> = headers
            .get_all(*name)
            .iter()
            .map(|v| normalise_str(subs, &String::from_utf8_lossy(v.as_bytes())))
            .collect();
        if values.is_empty() {
            continue;
        }
        let mut value = values.join(", ");
        // CORS lists come from a Java HashSet in Keycloak: their order changes between runs.
        if name.starts_with("access-control-") {
            let mut items: Vec<&str> = value.split(',').map(str::trim).collect();
            items.sort_unstable();
            value = items.join(", ");
        }
        compared.insert((*name).to_owned(), json!(value));
    }
    let mut body = match serde_json::from_str::<Value>(text) {
        Ok(v) => normalise_value(subs, None, &v),
        Err(_) if text.is_empty() => Value::Null,
        Err(_) => json!({ "<text>": normalise_str(subs, text) }),
    };
    normalise_scope_strings(&mut body);
    json!({
        "request": normalise_str(subs, &request),
        "status": status,
        "headers": Value::Object(compared),
        "body": body,
    })
}

// ---------------------------------------------------------------------------------------
// Golden files and comparison

/// `tests/golden/keycloak/`: Keycloak's normalised answers, one file per scenario.
pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/keycloak")
}

pub fn golden_path(scenario: &str) -> PathBuf {
    golden_dir().join(format!("{scenario}.json"))
}

/// The committed answers of `scenario`, if recorded.
pub fn read_golden(scenario: &str) -> Option<Vec<Value>> {
    let text = std::fs::read_to_string(golden_path(scenario)).ok()?;
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", golden_path(scenario).display()));
    v["answers"].as_array().cloned()
}

/// The file's text for `answers`: stable (sorted keys, pretty), with how it was made.
pub fn golden_text(scenario: &str, answers: &[Value]) -> String {
    let v = json!({
        "scenario": scenario,
        "keycloak": oauth2_provider::KEYCLOAK_VERSION,
        "recorded_by": "RECORD_GOLDEN=1 cargo test -p oauth2-provider --test keycloak_native -- --ignored",
        "answers": answers,
    });
    let mut text = serde_json::to_string_pretty(&v).expect("JSON");
    text.push('\n');
    text
}

/// Writes `text` to `path` atomically (a temporary file renamed over it).
pub fn write_atomically(path: &Path, text: &str) {
    let dir = path.parent().expect("a parent directory");
    std::fs::create_dir_all(dir).expect("create the golden directory");
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().expect("a file name").to_string_lossy()
    ));
    std::fs::write(&tmp, text).expect("write the golden file");
    std::fs::rename(&tmp, path).expect("rename the golden file");
}

fn pointer_matches(pattern: &str, pointer: &str) -> bool {
    let p: Vec<&str> = pattern.split('/').collect();
    let q: Vec<&str> = pointer.split('/').collect();
    p.len() <= q.len() && p.iter().zip(&q).all(|(a, b)| *a == "*" || a == b)
}

fn deliberate(scenario: &str, pointer: &str) -> Option<&'static Deliberate> {
    DELIBERATE.iter().find(|d| {
        (d.scenario == "*" || d.scenario == scenario) && pointer_matches(d.pointer, pointer)
    })
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// The JSON pointers where `a` and `b` differ, with both values (shortened).
fn differences(a: &Value, b: &Value, at: String, out: &mut Vec<(String, String, String)>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let pointer = format!("{at}/{}", escape(k));
                match (x.get(k), y.get(k)) {
                    (Some(va), Some(vb)) => differences(va, vb, pointer, out),
                    (va, vb) => out.push((pointer, brief(va), brief(vb))),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                differences(va, vb, format!("{at}/{i}"), out);
            }
        }
        _ if a == b => {}
        _ => out.push((at, brief(Some(a)), brief(Some(b)))),
    }
}

fn brief(v: Option<&Value>) -> String {
    match v {
        None => "(absent)".to_owned(),
        Some(v) => {
            let s = v.to_string();
            if s.chars().count() > 160 {
                format!("{}…", s.chars().take(160).collect::<String>())
            } else {
                s
            }
        }
    }
}

/// Every undeclared difference between Keycloak's answers (`expected`) and `actual`, one line
/// each: `scenario answer#N (REQUEST) POINTER: keycloak VALUE, got VALUE`.
pub fn compare(scenario: &str, expected: &[Value], actual: &[Value]) -> Vec<String> {
    let mut lines = Vec::new();
    let n = expected.len().max(actual.len());
    for i in 0..n {
        let (e, a) = (expected.get(i), actual.get(i));
        let request = e.or(a).map_or("?".to_owned(), |v| {
            v["request"].as_str().unwrap_or("?").to_owned()
        });
        match (e, a) {
            (Some(e), Some(a)) => {
                let mut diffs = Vec::new();
                differences(e, a, String::new(), &mut diffs);
                for (pointer, want, got) in diffs {
                    if deliberate(scenario, &pointer).is_none() {
                        lines.push(format!(
                            "{scenario} answer#{i} ({request}) {pointer}: keycloak {want}, got {got}"
                        ));
                    }
                }
            }
            (Some(_), None) => lines.push(format!(
                "{scenario} answer#{i} ({request}): keycloak answered this request, it was never made here"
            )),
            (None, Some(_)) => lines.push(format!(
                "{scenario} answer#{i} ({request}): made here, not in Keycloak's recording"
            )),
            (None, None) => {}
        }
    }
    lines
}

/// Every scenario of the suite against `fixture` (a live Keycloak), each recorded; then the
/// recordings held to the committed golden files, or written as the new golden files with
/// `RECORD_GOLDEN=1`. This run's answers go to `live_dir`, for a diff by hand. Returns the
/// text of the failure (failed scenarios and every drift), or `None` when all agree. Shared
/// by the native Keycloak's run and the container's (testcontainers), so both are held to
/// the same answers.
pub async fn check_against_golden(
    fixture: &Arc<Fixture>,
    what: &str,
    live_dir: &Path,
) -> Option<String> {
    let record = std::env::var_os("RECORD_GOLDEN").is_some_and(|v| v == "1");
    // SCENARIOS=a,b: only these (to record or check a few by hand; CI runs them all).
    let only: Option<Vec<String>> = std::env::var("SCENARIOS")
        .ok()
        .filter(|v| !v.is_empty())
        .map(|v| v.split(',').map(str::to_owned).collect());
    let mut failed = Vec::new();
    let mut drift = Vec::new();
    for &(name, _) in super::ALL {
        if only.as_ref().is_some_and(|o| !o.iter().any(|n| n == name)) {
            continue;
        }
        let f = Arc::clone(fixture);
        let (answers, outcome) =
            tokio::spawn(async move { recorded(&f, super::run(name, &f)).await })
                .await
                .expect("scenario task");
        match &outcome {
            Ok(()) => println!("scenario {name} ... ok ({} answers)", answers.len()),
            Err(e) => {
                println!("scenario {name} ... FAILED: {e}");
                failed.push(name);
            }
        }
        let text = golden_text(name, &answers);
        write_atomically(&live_dir.join(format!("{name}.json")), &text);
        if record {
            if outcome.is_ok() {
                write_atomically(&golden_path(name), &text);
            }
            continue;
        }
        match read_golden(name) {
            Some(golden) => drift.extend(compare(name, &golden, &answers)),
            None => drift.push(format!(
                "{name}: no golden file {} (record with RECORD_GOLDEN=1)",
                golden_path(name).display()
            )),
        }
    }
    if record {
        println!(
            "golden answers rewritten in {} (review with git diff)",
            golden_dir().display()
        );
    }
    if failed.is_empty() && drift.is_empty() {
        return None;
    }
    Some(format!(
        "against {what}: {} of {} scenarios failed{}{}; {} answers drifted from the committed golden files{}\n\
         (this run's answers are in {}; if Keycloak's answer is the truth, re-record with \
         RECORD_GOLDEN=1 and fix the embedded provider)",
        failed.len(),
        super::ALL.len(),
        if failed.is_empty() { "" } else { ": " },
        failed.join(", "),
        drift.len(),
        if drift.is_empty() {
            String::new()
        } else {
            format!(":\n  {}", drift.join("\n  "))
        },
        live_dir.display(),
    ))
}
