//! A soak: the walkthrough's traffic against the embedded provider and the resource server
//! for a bounded time, with a line per minute: requests, unexpected answers, latency
//! percentiles and resident memory.
//!
//! ```text
//! cargo bench -p resource-server --bench soak                  # 10 minutes
//! cargo bench -p resource-server --bench soak -- --minutes 1   # or SOAK_MINUTES=1
//! ```
//!
//! Starts the embedded provider and the resource server in this process (127.0.0.1, real
//! mTLS, an in-memory dev PKI), gives the mTLS client's service account the read-only role
//! through the admin REST API (walkthrough step 5), then runs, concurrently, until the time
//! is up:
//!
//! - **tokens**: a `client_credentials` token over a kept-alive mTLS connection, then
//!   `GET /api/users` with it (a token never seen: RS256 verification), every 50 ms;
//! - **kept-alive calls** (2 workers): `GET /api/users` and `GET /api/whoami` with the
//!   latest token over one connection each (validated-token cache hits), every 10 ms;
//! - **new connections**: `GET /api/whoami` on a new TLS connection (a full mTLS handshake)
//!   each time, every 20 ms;
//! - **role changes**: every 500 ms the admin API gives the service account the write role,
//!   a new token then gets `201` from `POST /api/users`; the role is taken away again and
//!   the next token gets `403`.
//!
//! Every answer is checked against what the walkthrough expects; anything else (or a
//! transport error) is an unexpected failure, counted and the first few printed. Exit code
//! 1 when there was any. Memory is the resident set of the whole process (provider,
//! resource server and the load itself), read from `/proc/self/status` at each minute's
//! end. Results and the machine: `resource-server/RELIABILITY.md`.

mod common;

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Servers, identity};
use playbook::Identity;
use playbook::names;
use playbook::pki::DevPki;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::RwLock;

const DEFAULT_MINUTES: u64 = 10;
/// How many failure messages are kept to print (all are counted).
const KEEP_FAILURES: usize = 20;

/// `--minutes N` (or `SOAK_MINUTES`); `cargo bench` adds `--bench`, which is ignored.
fn minutes() -> Result<u64, String> {
    let mut args = std::env::args().skip(1);
    let mut minutes = std::env::var("SOAK_MINUTES").ok();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--minutes" => minutes = args.next(),
            "--bench" => {}
            other => return Err(format!("unknown argument {other:?}; use --minutes N")),
        }
    }
    match minutes {
        None => Ok(DEFAULT_MINUTES),
        Some(m) => m.parse::<u64>().ok().filter(|m| *m > 0).ok_or_else(|| {
            format!("--minutes {m:?}: expected a whole number of minutes, 1 or more")
        }),
    }
}

/// What one minute saw.
#[derive(Default)]
struct Minute {
    requests: u64,
    failures: u64,
    latencies: Vec<Duration>,
}

/// Every request's outcome, by the minute it ended in.
struct Recorder {
    start: Instant,
    minutes: Mutex<Vec<Minute>>,
    failures: Mutex<Vec<String>>,
}

impl Recorder {
    fn new(minutes: u64) -> Arc<Recorder> {
        Arc::new(Recorder {
            start: Instant::now(),
            minutes: Mutex::new((0..minutes).map(|_| Minute::default()).collect()),
            failures: Mutex::new(Vec::new()),
        })
    }

    fn record(&self, latency: Duration, outcome: Result<(), String>) {
        let index = (self.start.elapsed().as_secs() / 60) as usize;
        let mut minutes = self.minutes.lock().expect("recorder");
        let Some(minute) = minutes.get_mut(index) else {
            return; // ended after the last minute: the soak is over
        };
        minute.requests += 1;
        minute.latencies.push(latency);
        if let Err(why) = outcome {
            minute.failures += 1;
            let mut kept = self.failures.lock().expect("recorder");
            if kept.len() < KEEP_FAILURES {
                kept.push(format!("minute {}: {why}", index + 1));
            }
        }
    }

    fn done(&self) -> bool {
        self.start.elapsed().as_secs() / 60 >= self.minutes.lock().expect("recorder").len() as u64
    }
}

/// Sends `request`, times it, and records whether the status was `expected`; the body
/// (JSON, or `Null`) when it was.
async fn expect(
    recorder: &Recorder,
    what: &str,
    request: reqwest::RequestBuilder,
    expected: StatusCode,
) -> Option<Value> {
    let started = Instant::now();
    let result = async {
        let response = request.send().await.map_err(|e| format!("{what}: {e}"))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| format!("{what}: body: {e}"))?;
        if status != expected {
            return Err(format!("{what}: {status} instead of {expected}: {text}"));
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }
    .await;
    recorder.record(
        started.elapsed(),
        result.as_ref().map(|_| ()).map_err(Clone::clone),
    );
    result.ok()
}

/// Resident memory of this process (Linux), in MiB.
fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// What the workers share.
struct Soak {
    recorder: Arc<Recorder>,
    ca: Vec<rustls_pki_types::CertificateDer<'static>>,
    client: Identity,
    token_url: String,
    admin_token_url: String,
    admin_base: String,
    api: String,
    /// The latest `client_credentials` token (the tokens worker renews it).
    token: RwLock<String>,
}

impl Soak {
    fn http(&self) -> reqwest::Client {
        playbook::https::https_client(&self.ca, Some(&self.client)).expect("client")
    }

    async fn new_token(&self, http: &reqwest::Client) -> Option<String> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", names::MTLS_CLIENT_ID),
        ];
        let body = expect(
            &self.recorder,
            "token",
            http.post(&self.token_url).form(&form),
            StatusCode::OK,
        )
        .await?;
        body["access_token"].as_str().map(str::to_owned)
    }

    async fn tokens(&self) {
        let http = self.http();
        while !self.recorder.done() {
            if let Some(token) = self.new_token(&http).await {
                let users = http.get(format!("{}{}", self.api, names::USERS_API_PATH));
                expect(
                    &self.recorder,
                    "users (new token)",
                    users.bearer_auth(&token),
                    StatusCode::OK,
                )
                .await;
                *self.token.write().await = token;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn kept_alive(&self) {
        let http = self.http();
        let paths = [names::USERS_API_PATH, "/api/whoami"];
        for path in paths.iter().cycle() {
            if self.recorder.done() {
                break;
            }
            let token = self.token.read().await.clone();
            let call = http.get(format!("{}{path}", self.api)).bearer_auth(token);
            expect(&self.recorder, path, call, StatusCode::OK).await;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn new_connections(&self) {
        while !self.recorder.done() {
            let token = self.token.read().await.clone();
            let call = self
                .http()
                .get(format!("{}/api/whoami", self.api))
                .bearer_auth(token);
            expect(
                &self.recorder,
                "whoami (new connection)",
                call,
                StatusCode::OK,
            )
            .await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The admin token (master realm, password grant), as the walkthrough gets it.
    async fn admin_token(&self, http: &reqwest::Client) -> Option<String> {
        let form = [
            ("grant_type", "password"),
            ("client_id", names::ADMIN_CLIENT_ID),
            ("username", names::DEFAULT_ADMIN_USERNAME),
            ("password", names::DEFAULT_ADMIN_PASSWORD),
        ];
        let body = expect(
            &self.recorder,
            "admin token",
            http.post(&self.admin_token_url).form(&form),
            StatusCode::OK,
        )
        .await?;
        body["access_token"].as_str().map(str::to_owned)
    }

    /// `GET` on the admin API, expecting 200.
    async fn admin_get(&self, http: &reqwest::Client, admin: &str, path: &str) -> Option<Value> {
        let request = http
            .get(format!("{}{path}", self.admin_base))
            .bearer_auth(admin);
        expect(&self.recorder, path, request, StatusCode::OK).await
    }

    /// The service account's user id and the role `name`, through the admin API.
    async fn account_and_role(
        &self,
        http: &reqwest::Client,
        admin: &str,
        name: &str,
    ) -> Option<(String, Value)> {
        let clients = self
            .admin_get(
                http,
                admin,
                &format!("/clients?clientId={}", names::MTLS_CLIENT_ID),
            )
            .await?;
        let client = clients[0]["id"].as_str()?.to_owned();
        let user = self
            .admin_get(
                http,
                admin,
                &format!("/clients/{client}/service-account-user"),
            )
            .await?;
        let role = self
            .admin_get(http, admin, &format!("/roles/{name}"))
            .await?;
        Some((user["id"].as_str()?.to_owned(), role))
    }

    /// Gives (`add`) or takes away the realm role `role` from the service account.
    async fn change_role(
        &self,
        http: &reqwest::Client,
        admin: &str,
        user: &str,
        role: &Value,
        add: bool,
    ) {
        let url = format!("{}/users/{user}/role-mappings/realm", self.admin_base);
        let request = if add {
            http.post(url)
        } else {
            http.delete(url)
        };
        let what = if add { "add role" } else { "remove role" };
        expect(
            &self.recorder,
            what,
            request.bearer_auth(admin).json(&json!([role])),
            StatusCode::NO_CONTENT,
        )
        .await;
    }

    async fn role_changes(&self) {
        let http = self.http();
        let users = format!("{}{}", self.api, names::USERS_API_PATH);
        let new_user = json!({"username": "carol", "email": "carol@example.org"});
        while !self.recorder.done() {
            let Some(admin) = self.admin_token(&http).await else {
                continue;
            };
            let Some((user, role)) = self
                .account_and_role(&http, &admin, names::WRITE_ROLE)
                .await
            else {
                continue;
            };
            for (add, expected) in [(true, StatusCode::CREATED), (false, StatusCode::FORBIDDEN)] {
                self.change_role(&http, &admin, &user, &role, add).await;
                if let Some(token) = self.new_token(&http).await {
                    let post = http.post(&users).bearer_auth(token).json(&new_user);
                    expect(&self.recorder, "create user", post, expected).await;
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// Prints one line per minute as it ends, then the totals; `true` if nothing failed.
async fn report(recorder: &Recorder, minutes: u64) -> bool {
    println!("| minute | requests | unexpected | p50 ms | p99 ms | max ms | RSS MiB |");
    println!("|---|---|---|---|---|---|---|");
    let (mut requests, mut failures) = (0, 0);
    for index in 0..minutes {
        let end = recorder.start + Duration::from_secs(60 * (index + 1));
        tokio::time::sleep_until(end.into()).await;
        // Requests that end right at the boundary land in the next minute: give this one
        // a moment to be complete before it is read.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let rss = rss_mib().map_or("n/a".to_owned(), |m| format!("{m:.1}"));
        let mut all = recorder.minutes.lock().expect("recorder");
        let minute = &mut all[index as usize];
        minute.latencies.sort();
        let pct = |p: f64| {
            let l = &minute.latencies;
            l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
                .map_or(0.0, |d| d.as_secs_f64() * 1e3)
        };
        println!(
            "| {} | {} | {} | {:.2} | {:.2} | {:.2} | {rss} |",
            index + 1,
            minute.requests,
            minute.failures,
            pct(0.50),
            pct(0.99),
            pct(1.0),
        );
        requests += minute.requests;
        failures += minute.failures;
    }
    println!();
    println!("total: {requests} requests, {failures} unexpected");
    for failure in recorder.failures.lock().expect("recorder").iter() {
        println!("  {failure}");
    }
    failures == 0
}

#[tokio::main]
async fn main() -> ExitCode {
    let minutes = match minutes() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    playbook::install_crypto_provider();
    let pki = DevPki::generate(2, 1).expect("pki");
    let ca = vec![pki.ca.cert.cert_der.clone()];
    let servers = Servers::start(&pki).await;
    let (issuer, provider, server) = (&servers.issuer, &servers.provider, &servers.server);

    let soak = Arc::new(Soak {
        recorder: Recorder::new(minutes),
        ca,
        client: identity(&pki.client),
        token_url: format!("{issuer}/protocol/openid-connect/token"),
        admin_token_url: format!(
            "{}/protocol/openid-connect/token",
            names::issuer_for(&provider.url, names::ADMIN_REALM)
        ),
        admin_base: format!("{}/admin/realms/{}", provider.url, names::REALM),
        api: server.url.clone(),
        token: RwLock::new(String::new()),
    });
    // Walkthrough step 5: the read-only role, once, before the traffic starts.
    let http = soak.http();
    let admin = soak.admin_token(&http).await.expect("admin token");
    let (user, role) = soak
        .account_and_role(&http, &admin, names::READONLY_ROLE)
        .await
        .expect("service account and role");
    soak.change_role(&http, &admin, &user, &role, true).await;
    *soak.token.write().await = soak.new_token(&http).await.expect("first token");

    println!(
        "soak: {minutes} min against {} and {} (127.0.0.1, mTLS)",
        provider.url, server.url
    );
    let mut workers = tokio::task::JoinSet::new();
    {
        let s = soak.clone();
        workers.spawn(async move { s.tokens().await });
    }
    for _ in 0..2 {
        let s = soak.clone();
        workers.spawn(async move { s.kept_alive().await });
    }
    {
        let s = soak.clone();
        workers.spawn(async move { s.new_connections().await });
    }
    {
        let s = soak.clone();
        workers.spawn(async move { s.role_changes().await });
    }
    let clean = report(&soak.recorder, minutes).await;
    workers.join_all().await;
    servers.stop().await;
    if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
