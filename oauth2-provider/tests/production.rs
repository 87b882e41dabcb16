//! The production shape (`oauth2-provider/production.sh`): two native Keycloak nodes on one
//! PostgreSQL, clustered over JGroups on loopback, behind nginx (mTLS ends there; Keycloak's
//! `nginx` lookup), and two resource servers behind the same nginx. One run of the real
//! script, then, in order:
//! - the nodes logged one cluster view with 2 members;
//! - a token from either node is accepted by either resource server (each node and each
//!   resource server addressed directly, as nginx would: from 127.0.0.2 with the certificate
//!   in `ssl-client-cert`);
//! - a role assigned through one node's admin API is in the next token from the other node,
//!   and its removal through the other node is in the next token from the first;
//! - node 1 stopped while the walkthrough runs through nginx: the walkthrough still passes;
//! - `production.sh down` leaves nothing: no listener on the shape's ports, no process of it,
//!   PostgreSQL's temporary directory gone.
//!
//! ```text
//! KEYCLOAK_CACHE_DIR=... cargo test -p oauth2-provider --test production -- --ignored
//! ```
//!
//! `#[ignore]`d (Java 17+, PostgreSQL 15 and nginx; two Keycloak starts: minutes on 2 cores);
//! scripts/test.sh runs it in the native part. Ports: PRODUCTION_PORT_BASE 26500 (26500-26999),
//! so a shape started by hand on the default 26000 is left alone. Each step is bounded.

mod support {
    #[allow(dead_code)] // this test uses token and claims only
    pub mod forwarded;
}

use std::io::{BufRead as _, BufReader};
use std::net::{IpAddr, Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use playbook::forwarded::nginx_escape;
use playbook::names;
use playbook::pki::DevPki;
use serde_json::Value;
use support::forwarded::{claims, token};

/// The port base the test runs the shape on (production.sh: every port is base + offset).
const BASE: u16 = 26500;
/// Keycloak's instances are `<name>-1`, `<name>-2`.
const NAME: &str = "production-tests";
/// nginx's address towards the back ends: the one they trust for `ssl-client-cert`.
const PROXY_SOURCE: [u8; 4] = [127, 0, 0, 2];

fn node_url(n: u16) -> String {
    format!("https://localhost:{}", BASE + 10 * n + 1)
}
fn api_url(n: u16) -> String {
    format!("https://localhost:{}", BASE + 450 + n)
}
fn front_issuer() -> String {
    names::issuer_for(&format!("https://localhost:{}", BASE + 443), names::REALM)
}
/// Every port the shape listens on (production.sh's header).
fn ports() -> Vec<u16> {
    let mut ports = vec![BASE + 432, BASE + 443, BASE + 444, BASE + 451, BASE + 452];
    for n in 1..=2 {
        ports.extend([BASE + 10 * n + 1, BASE + 10 * n + 2]);
        let jgroups = BASE + 100 + 20 * (n - 1);
        ports.extend([jgroups, jgroups + 50]);
    }
    ports
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("production.sh")
}

/// The shape, started by `production.sh up`; dropped, `production.sh down`.
struct Shape {
    dir: tempfile::TempDir,
    down: bool,
}

impl Shape {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(script());
        cmd.args(args)
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
            .env("PRODUCTION_PORT_BASE", BASE.to_string())
            .env("PRODUCTION_NAME", NAME)
            .env("PRODUCTION_DIR", self.dir.path().join("state"))
            .env("CERTS_DIR", self.dir.path().join("certs"))
            .env("NO_COLOR", "1");
        for name in [
            "PROVIDER_URL",
            "ISSUER",
            "RESOURCE_SERVER_URL",
            "REALM_FILE",
        ] {
            cmd.env_remove(name);
        }
        cmd
    }

    /// Runs `production.sh ARGS` to its end, at most `limit`; its output.
    fn run(&self, args: &[&str], limit: Duration) -> Output {
        let child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running production.sh");
        bounded(child, limit, &format!("production.sh {}", args.join(" ")))
    }

    fn postgres_dir(&self) -> Option<PathBuf> {
        std::fs::read_to_string(self.dir.path().join("state/postgres/dir"))
            .ok()
            .map(|d| PathBuf::from(d.trim()))
    }
}

impl Drop for Shape {
    fn drop(&mut self) {
        if !self.down {
            let out = self.run(&["down"], Duration::from_secs(120));
            eprintln!("{}", String::from_utf8_lossy(&out.stdout));
        }
    }
}

/// Waits for `child` at most `limit` (killed then, and the test fails), with its output.
fn bounded(mut child: Child, limit: Duration, what: &str) -> Output {
    let started = Instant::now();
    loop {
        if child.try_wait().expect("waiting").is_some() {
            return child.wait_with_output().expect("output");
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "{what} did not end within {limit:?}:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[track_caller]
fn assert_ok(out: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what}: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A token from node `n`, as nginx asks for it: from 127.0.0.2, the client's certificate in
/// `ssl-client-cert`. Its claims.
async fn token_from(pki: &DevPki, n: u16) -> Value {
    let (status, body) = token(pki, &node_url(n), PROXY_SOURCE, None, Some(&pki.client)).await;
    assert_eq!(status, 200, "token from node {n}: {body}");
    let claims = claims(&body);
    assert_eq!(
        claims["iss"],
        front_issuer(),
        "node {n}'s issuer is the front URL"
    );
    assert_eq!(claims["cnf"]["x5t#S256"], pki.client.x5t_s256());
    body
}

fn roles(body: &Value) -> Vec<String> {
    claims(body)["realm_access"]["roles"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// An HTTPS client trusting the dev CA, connecting from `source`, without a certificate.
fn http(pki: &DevPki, source: [u8; 4]) -> reqwest::Client {
    let tls = playbook::https::client_config(std::slice::from_ref(&pki.ca.cert.cert_der), None)
        .expect("TLS");
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .local_address(IpAddr::from(source))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// `GET /api/whoami` at resource server `n` with `token`, as nginx forwards it.
async fn whoami(pki: &DevPki, n: u16, body: &Value) -> (u16, String) {
    let response = http(pki, PROXY_SOURCE)
        .get(format!("{}/api/whoami", api_url(n)))
        .bearer_auth(body["access_token"].as_str().expect("access_token"))
        .header("ssl-client-cert", nginx_escape(&pki.client.cert_pem))
        .send()
        .await
        .expect("resource server answered");
    (
        response.status().as_u16(),
        response.text().await.unwrap_or_default(),
    )
}

/// Node `n`'s Admin REST API as the bootstrap admin (password grant on `master`).
struct Admin {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Admin {
    async fn login(pki: &DevPki, n: u16) -> Admin {
        let http = http(pki, [127, 0, 0, 1]);
        let base = node_url(n);
        let body: Value = http
            .post(format!(
                "{base}/realms/{}/protocol/openid-connect/token",
                names::ADMIN_REALM
            ))
            .form(&[
                ("grant_type", "password"),
                ("client_id", names::ADMIN_CLIENT_ID),
                ("username", names::DEFAULT_ADMIN_USERNAME),
                ("password", names::DEFAULT_ADMIN_PASSWORD),
            ])
            .send()
            .await
            .expect("admin token")
            .json()
            .await
            .expect("JSON");
        let token = body["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("admin token from node {n}: {body}"))
            .to_owned();
        Admin { http, base, token }
    }

    async fn get(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}/admin/realms/{}{path}", self.base, names::REALM))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("admin API");
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.expect("JSON")
    }

    /// The service-account user's realm-role mapping of `role`: POST (add) or DELETE.
    async fn map_role(&self, method: reqwest::Method, role: &str) {
        let clients = self
            .get(&format!("/clients?clientId={}", names::MTLS_CLIENT_ID))
            .await;
        let client = clients[0]["id"].as_str().expect("client id");
        let user = self
            .get(&format!("/clients/{client}/service-account-user"))
            .await;
        let user = user["id"].as_str().expect("user id");
        let role = self.get(&format!("/roles/{role}")).await;
        let response = self
            .http
            .request(
                method.clone(),
                format!(
                    "{}/admin/realms/{}/users/{user}/role-mappings/realm",
                    self.base,
                    names::REALM
                ),
            )
            .bearer_auth(&self.token)
            .json(&[role])
            .send()
            .await
            .expect("admin API");
        assert_eq!(response.status(), 204, "{method} role mapping");
    }
}

/// The processes of this shape still alive (their command lines).
fn leftovers(state: &Path, postgres: Option<&Path>) -> Vec<String> {
    let mut marks = vec![
        format!("instances/{NAME}-"),
        state.display().to_string(),
        format!("--port {}", BASE + 451),
        format!("--port {}", BASE + 452),
    ];
    marks.extend(postgres.map(|p| p.display().to_string()));
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
        .filter(|cmd| marks.iter().any(|m| cmd.contains(m.as_str())))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Java 17+, PostgreSQL 15 and nginx: cargo test -p oauth2-provider --test production -- --ignored"]
async fn two_nodes_on_postgres_behind_nginx() {
    playbook::install_crypto_provider();
    let pki = DevPki::generate(1, 1).expect("PKI");
    let mut shape = Shape {
        dir: tempfile::tempdir().expect("temp dir"),
        down: false,
    };
    playbook::pki::write_files(
        &shape.dir.path().join("certs"),
        &pki.files().expect("PEM"),
        false,
    )
    .expect("PKI files");

    // Up, and one cluster: both nodes logged the view with 2 members.
    let up = tokio::task::block_in_place(|| shape.run(&["up"], Duration::from_secs(900)));
    let up = assert_ok(&up, "production.sh up");
    assert!(up.contains("one cluster of 2"), "{up}");
    let cluster = tokio::task::block_in_place(|| shape.run(&["cluster"], Duration::from_secs(10)));
    let cluster = assert_ok(&cluster, "production.sh cluster");
    for n in 1..=2 {
        assert!(
            cluster
                .lines()
                .any(|l| l.starts_with(&format!("node {n}: ")) && l.contains("] (2) [")),
            "node {n} logged no view of 2 members:\n{cluster}"
        );
    }
    eprintln!("{cluster}");

    // A token from either node, accepted by either resource server.
    let tokens = [token_from(&pki, 1).await, token_from(&pki, 2).await];
    for (i, body) in tokens.iter().enumerate() {
        for api in 1..=2 {
            let (status, text) = whoami(&pki, api, body).await;
            assert_eq!(
                status,
                200,
                "node {}'s token at resource server {api}: {text}",
                i + 1
            );
        }
    }

    // A role assigned through node 1 is in node 2's next token; removed through node 2, it
    // is gone from node 1's next token.
    let role = names::READONLY_ROLE;
    assert!(!roles(&token_from(&pki, 2).await).contains(&role.to_owned()));
    Admin::login(&pki, 1)
        .await
        .map_role(reqwest::Method::POST, role)
        .await;
    let after = roles(&token_from(&pki, 2).await);
    assert!(
        after.contains(&role.to_owned()),
        "assigned through node 1, node 2's next token: {after:?}"
    );
    Admin::login(&pki, 2)
        .await
        .map_role(reqwest::Method::DELETE, role)
        .await;
    let after = roles(&token_from(&pki, 1).await);
    assert!(
        !after.contains(&role.to_owned()),
        "removed through node 2, node 1's next token: {after:?}"
    );

    // The walkthrough through nginx, node 1 stopped once step 2 has begun.
    let mut walkthrough = shape
        .command(&["walkthrough"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("production.sh walkthrough");
    let stdout = walkthrough.stdout.take().expect("stdout");
    let (seen, step_2) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("2. ") {
                let _ = seen.send(());
            }
            lines.push(line);
        }
        lines
    });
    step_2
        .recv_timeout(Duration::from_secs(120))
        .expect("the walkthrough reached step 2");
    let stopped =
        tokio::task::block_in_place(|| shape.run(&["stop-node", "1"], Duration::from_secs(60)));
    assert_ok(&stopped, "production.sh stop-node 1");
    let out = tokio::task::block_in_place(|| {
        bounded(walkthrough, Duration::from_secs(180), "the walkthrough")
    });
    let lines = reader.join().expect("reader").join("\n");
    assert!(
        out.status.success() && lines.contains("9 of 9 steps behaved as expected"),
        "the walkthrough with node 1 stopped mid-run: {}\n{lines}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // Node 2 saw node 1 leave: a view of 1 member after the view of 2.
    let cluster = tokio::task::block_in_place(|| shape.run(&["cluster"], Duration::from_secs(10)));
    let cluster = assert_ok(&cluster, "production.sh cluster");
    eprintln!("{cluster}");

    // Down: nothing left.
    let postgres = shape
        .postgres_dir()
        .expect("PostgreSQL's directory recorded");
    assert!(postgres.is_dir());
    let down = tokio::task::block_in_place(|| shape.run(&["down"], Duration::from_secs(120)));
    shape.down = true;
    assert_ok(&down, "production.sh down");
    let listening: Vec<u16> = ports()
        .into_iter()
        .filter(|p| {
            TcpStream::connect_timeout(
                &(Ipv4Addr::LOCALHOST, *p).into(),
                Duration::from_millis(300),
            )
            .is_ok()
        })
        .collect();
    assert!(listening.is_empty(), "still listening: {listening:?}");
    assert!(!postgres.exists(), "{} is left", postgres.display());
    let left = leftovers(&shape.dir.path().join("state"), Some(&postgres));
    assert!(left.is_empty(), "processes left: {left:#?}");
}
