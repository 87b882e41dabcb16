//! The documented `./start.sh` combinations, as data: each provider row of
//! [`start_sh_rows!`] is six tests (with and without nginx; the walkthrough, `--keep-running`,
//! `--lab 3`), each running the real `./start.sh` (build included, so run it after `cargo build`) and
//! checks what a user sees: the exit code, the walkthrough's summary or the lab's card, and,
//! for `--keep-running` and `--lab`, servers that still answer after the walkthrough, then
//! stop on Ctrl-C (SIGINT to the script's process group, as a terminal sends it) with
//! nothing left listening. A new provider or Keycloak runner is a new row (the container
//! runner is the row `keycloak_container`).
//!
//! Rows needing Keycloak are `#[ignore]`d: the native row runs in the native part of
//! scripts/test.sh (`--test start_sh -- --ignored keycloak_native`, with KEYCLOAK_CACHE_DIR
//! from the environment), the container row in scripts/test-containers.sh. The rows
//! run one at a time (they share target/, nginx's directory and the build), each on free
//! ports, or on PROVIDER_PORT / MANAGEMENT_PORT / RESOURCE_SERVER_PORT when those are set
//! (the proxy's back ends then beside them: +1, +2), each bounded in time.
//!
//! Also here, the standing rules for the script itself: under 200 lines, and `--help` prints
//! the header exactly (the same for proxy/nginx.sh, proxy/haproxy.sh, proxy/apache.sh,
//! proxy/caddy.sh). The other proxies' rows are in [`other_proxies`].

use std::io::{BufRead as _, BufReader};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest start.sh may be: it is a thin front; new programs get a driver script.
const MAX_START_SH_LINES: usize = 200;

/// How the provider runs.
#[derive(Debug, Clone, Copy)]
enum Provider {
    /// `--provider embedded` (behind the proxy: no `--provider`, which means the same).
    Embedded,
    /// `--provider keycloak --runner <runner>`.
    Keycloak(&'static str),
}

/// What the run is asked to do.
#[derive(Debug, Clone, Copy)]
enum Mode {
    Walkthrough,
    KeepRunning,
    Lab(u8),
}

#[derive(Debug, Clone, Copy)]
struct Row {
    provider: Provider,
    /// `--proxy <name>`, or none.
    proxy: Option<&'static str>,
    mode: Mode,
}

/// One row per provider; each row is six tests, one per combination of the proxy (none,
/// nginx) and the mode (the walkthrough, `--keep-running`, `--lab 3`), in a module named
/// after the row: `keycloak_native::nginx_keep_running` is issue 20's bug (the walkthrough
/// ran, then nginx and Keycloak were stopped at once). [`PROVIDERS`] lists the rows.
macro_rules! start_sh_rows {
    ($($(#[$attr:meta])* $name:ident: $provider:expr;)*) => {
        /// Every provider row.
        #[allow(dead_code)]
        const PROVIDERS: &[(&str, Provider)] = &[$((stringify!($name), $provider)),*];
        $(
            mod $name {
                use super::*;
                start_sh_rows!(@tests $provider, [$(#[$attr])*],
                    walkthrough: None, Mode::Walkthrough;
                    keep_running: None, Mode::KeepRunning;
                    lab: None, Mode::Lab(3);
                    nginx: Some("nginx"), Mode::Walkthrough;
                    nginx_keep_running: Some("nginx"), Mode::KeepRunning;
                    nginx_lab: Some("nginx"), Mode::Lab(3););
            }
        )*
    };
    (@tests $provider:expr, $attrs:tt, $($test:ident: $proxy:expr, $mode:expr;)*) => {
        $(start_sh_rows!(@one $attrs $test, $provider, $proxy, $mode);)*
    };
    (@one [$(#[$attr:meta])*] $test:ident, $provider:expr, $proxy:expr, $mode:expr) => {
        #[test]
        $(#[$attr])*
        fn $test() {
            run_row(Row { provider: $provider, proxy: $proxy, mode: $mode });
        }
    };
}

start_sh_rows! {
    embedded: Provider::Embedded;
    #[ignore = "native Keycloak: scripts/test.sh's native part"]
    keycloak_native: Provider::Keycloak("native");
    #[ignore = "Keycloak in a container: scripts/test-containers.sh"]
    keycloak_container: Provider::Keycloak("container");
}

/// The other real proxies (issue 23): the walkthrough behind HAProxy, Apache httpd and Caddy,
/// on the embedded provider and on native Keycloak with the lookup of each proxy's shape
/// (`proxy/<proxy>.sh keycloak-env`). The walkthrough only: `--keep-running` and `--lab`
/// behind a proxy are the nginx rows' (the same start.sh code).
mod other_proxies {
    use super::*;

    macro_rules! proxy_rows {
        ($($(#[$attr:meta])* $test:ident: $provider:expr, $proxy:literal;)*) => {
            $(
                #[test]
                $(#[$attr])*
                fn $test() {
                    run_row(Row { provider: $provider, proxy: Some($proxy), mode: Mode::Walkthrough });
                }
            )*
        };
    }

    proxy_rows! {
        embedded_haproxy: Provider::Embedded, "haproxy";
        embedded_apache: Provider::Embedded, "apache";
        embedded_caddy: Provider::Embedded, "caddy";
        #[ignore = "native Keycloak: scripts/test.sh's native part"]
        keycloak_native_haproxy: Provider::Keycloak("native"), "haproxy";
        #[ignore = "native Keycloak: scripts/test.sh's native part"]
        keycloak_native_apache: Provider::Keycloak("native"), "apache";
        #[ignore = "native Keycloak: scripts/test.sh's native part"]
        keycloak_native_caddy: Provider::Keycloak("native"), "caddy";
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace holds supervisor/")
        .to_owned()
}

/// The rows share target/ (the build, nginx's directory, the logs): one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The ports of one run: front (what the client uses) and, behind the proxy, back ends.
#[derive(Debug)]
struct Ports {
    provider: u16,
    management: u16,
    resource_server: u16,
    backend_provider: u16,
    backend_apis: [u16; 2],
}

impl Ports {
    fn pick() -> Ports {
        let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u16>().ok());
        if let (Some(provider), Some(management), Some(resource_server)) = (
            env("PROVIDER_PORT"),
            env("MANAGEMENT_PORT"),
            env("RESOURCE_SERVER_PORT"),
        ) {
            return Ports {
                provider,
                management,
                resource_server,
                backend_provider: provider + 1,
                backend_apis: [resource_server + 1, resource_server + 2],
            };
        }
        // Held together while picking, so that the six are distinct.
        let listeners: Vec<TcpListener> = (0..6)
            .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a free port"))
            .collect();
        let p: Vec<u16> = listeners
            .iter()
            .map(|l| l.local_addr().unwrap().port())
            .collect();
        Ports {
            provider: p[0],
            management: p[1],
            resource_server: p[2],
            backend_provider: p[3],
            backend_apis: [p[4], p[5]],
        }
    }

    /// Every port a server of this run listens on.
    fn all(&self, proxy: Option<&str>) -> Vec<u16> {
        let mut ports = vec![self.provider, self.management, self.resource_server];
        if proxy.is_some() {
            ports.push(self.backend_provider);
            ports.extend(self.backend_apis);
        }
        ports
    }
}

fn listening(port: u16) -> bool {
    TcpStream::connect_timeout(&(Ipv4Addr::LOCALHOST, port).into(), Duration::from_secs(1)).is_ok()
}

/// A running ./start.sh: its output as it comes, line by line.
struct Run {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Run {
    fn start(row: Row, ports: &Ports, work: &Path) -> Run {
        let mut cmd = Command::new(root().join("start.sh"));
        match row.provider {
            Provider::Embedded if row.proxy.is_some() => {}
            Provider::Embedded => {
                cmd.args(["--provider", "embedded"]);
            }
            Provider::Keycloak(runner) => {
                cmd.args(["--provider", "keycloak", "--runner", runner]);
            }
        }
        if let Some(proxy) = row.proxy {
            cmd.args(["--proxy", proxy]);
        }
        match row.mode {
            Mode::Walkthrough => {}
            Mode::KeepRunning => {
                cmd.arg("--keep-running");
            }
            Mode::Lab(n) => {
                cmd.args(["--lab", &n.to_string()]);
            }
        }
        // Nothing from the developer's shell changes what is tested; no container engine
        // is asked unless the row says so.
        for var in [
            "ISSUER",
            "PROVIDER_URL",
            "RESOURCE_SERVER_URL",
            "REALM_FILE",
            "KC_TRUSTSTORE_PATHS",
            "KEYCLOAK_RUNNER",
            "KEYCLOAK_INSTANCE",
            "CLIENT_ID",
            "REALM",
        ] {
            cmd.env_remove(var);
        }
        // The container row uses the engine the environment names (CONTAINER_ENGINE,
        // KEYCLOAK_NETWORK: scripts/test-containers.sh sets them); the others ask none.
        if !matches!(row.provider, Provider::Keycloak("container")) {
            cmd.env("CONTAINER_ENGINE", "no-container-engine-in-these-tests");
        }
        let apis = format!("{} {}", ports.backend_apis[0], ports.backend_apis[1]);
        cmd.current_dir(root())
            .env("PROVIDER_PORT", ports.provider.to_string())
            .env("MANAGEMENT_PORT", ports.management.to_string())
            .env("RESOURCE_SERVER_PORT", ports.resource_server.to_string())
            .env("BACKEND_PROVIDER_PORT", ports.backend_provider.to_string())
            .env("BACKEND_API_PORTS", apis)
            .env("CERTS_DIR", work.join("certs"))
            .env("LAB_WORK_DIR", work.join("labs"))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: SIGINT to the group is a terminal's Ctrl-C.
            .process_group(0);
        let mut child = cmd.spawn().expect("run ./start.sh");
        let (tx, lines) = mpsc::channel();
        let seen = Arc::new(Mutex::new(Vec::new()));
        for pipe in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let (tx, seen) = (tx.clone(), Arc::clone(&seen));
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    seen.lock().unwrap().push(line.clone());
                    let _ = tx.send(line);
                }
            });
        }
        Run { child, lines, seen }
    }

    fn output(&self) -> String {
        self.seen.lock().unwrap().join("\n")
    }

    /// Waits for a line containing `text`, at most until `deadline`.
    fn wait_for_line(&mut self, text: &str, deadline: Instant) {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => return,
                Ok(_) => {}
                Err(_) => {
                    self.kill();
                    panic!(
                        "no line with {text:?} in time (or ./start.sh ended); its output:\n{}",
                        self.output()
                    );
                }
            }
        }
    }

    /// Ctrl-C, as a terminal sends it: SIGINT to the whole process group.
    fn interrupt(&self) {
        let group = format!("-{}", self.child.id());
        let status = Command::new("kill")
            .args(["-INT", "--", &group])
            .status()
            .unwrap();
        assert!(status.success(), "kill -INT {group}");
    }

    /// The exit code, at most until `deadline` (then the group is killed and the test fails).
    fn wait(&mut self, deadline: Instant) -> Option<i32> {
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        self.kill();
        panic!(
            "./start.sh did not end in time; its output:\n{}",
            self.output()
        );
    }

    fn kill(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

/// Whether `url` answers 2xx over TLS trusting the run's CA (with the client certificate).
fn answers(url: &str, certs: &Path) -> bool {
    Command::new("curl")
        .args(["-sSf", "--max-time", "5", "-o", "/dev/null", "--cacert"])
        .arg(certs.join("ca.pem"))
        .arg("--cert")
        .arg(certs.join("client.pem"))
        .arg("--key")
        .arg(certs.join("client.key.pem"))
        .arg(url)
        .status()
        .is_ok_and(|s| s.success())
}

fn run_row(row: Row) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let ports = Ports::pick();
    let work = tempfile_dir();
    // Bounded: a first build, Keycloak's start (a minute or two), the walkthrough, the stop.
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut run = Run::start(row, &ports, work.path());
    let steps = client::walkthrough::STEPS.len();
    let summary = format!("{steps} of {steps} steps behaved as expected");
    match row.mode {
        Mode::Walkthrough => {
            let code = run.wait(deadline);
            let out = run.output();
            assert_eq!(code, Some(0), "{row:?}: exit code; output:\n{out}");
            assert!(out.contains(&summary), "{row:?}: {summary:?} in:\n{out}");
            assert!(out.contains("the walkthrough passed"), "{row:?}:\n{out}");
        }
        Mode::KeepRunning | Mode::Lab(_) => {
            let kept = "servers keep running (--keep-running); Ctrl-C stops them";
            run.wait_for_line(kept, deadline);
            let out = run.output();
            match row.mode {
                Mode::Lab(n) => assert!(
                    out.contains(&format!("setup done; lab {n}"))
                        && out.contains(&format!("Lab {n}")),
                    "{row:?}: the lab's card in:\n{out}"
                ),
                _ => assert!(out.contains(&summary), "{row:?}: {summary:?} in:\n{out}"),
            }
            // Still up after the walkthrough (or the card): every server, through the front.
            std::thread::sleep(Duration::from_secs(2));
            let certs = work.path().join("certs");
            let issuer = format!(
                "https://localhost:{}/realms/oauth2-playbook/.well-known/openid-configuration",
                ports.provider
            );
            let api = format!("https://localhost:{}/health/ready", ports.resource_server);
            for url in [&issuer, &api] {
                if !answers(url, &certs) {
                    run.kill();
                    panic!(
                        "{row:?}: {url} does not answer after the walkthrough:\n{}",
                        run.output()
                    );
                }
            }
            run.interrupt();
            let code = run.wait(deadline);
            let out = run.output();
            assert_eq!(
                code,
                Some(0),
                "{row:?}: exit code after Ctrl-C; output:\n{out}"
            );
        }
    }
    // Nothing this run started is left listening (Keycloak's stop is waited for).
    let left: Vec<u16> = ports
        .all(row.proxy)
        .into_iter()
        .filter(|&p| listening(p))
        .collect();
    assert!(
        left.is_empty(),
        "{row:?}: still listening on {left:?} after ./start.sh ended:\n{}",
        run.output()
    );
}

/// A temporary directory for the run's certificates and lab files.
fn tempfile_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

/// The header comment, as `--help` must print it: after the shebang, up to the first line
/// that is not a comment, without shellcheck directives and the leading "# ".
fn header(script: &Path) -> String {
    let text = std::fs::read_to_string(script).unwrap();
    let mut out = String::new();
    for line in text.lines().skip(1) {
        let Some(comment) = line.strip_prefix('#') else {
            break;
        };
        if comment.starts_with(" shellcheck ") {
            continue;
        }
        out.push_str(comment.strip_prefix(' ').unwrap_or(comment));
        out.push('\n');
    }
    out
}

#[test]
fn help_prints_the_header_exactly() {
    // The production shape's drivers (issue 23) first, the proxies' after start.sh.
    for script in [
        "oauth2-provider/production.sh",
        "oauth2-provider/postgres.sh",
        "start.sh",
        "proxy/nginx.sh",
        "proxy/haproxy.sh",
        "proxy/apache.sh",
        "proxy/caddy.sh",
    ] {
        let path = root().join(script);
        let out = Command::new(&path).arg("--help").output().unwrap();
        assert!(out.status.success(), "{script} --help");
        let expected = header(&path);
        assert!(expected.lines().count() > 10, "{script}: a real header");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            expected,
            "{script} --help"
        );
    }
}

#[test]
fn start_sh_is_a_thin_front() {
    let text = std::fs::read_to_string(root().join("start.sh")).unwrap();
    let lines = text.lines().count();
    assert!(
        lines < MAX_START_SH_LINES,
        "start.sh has {lines} lines (the limit is {MAX_START_SH_LINES}): it reads flags, \
         builds and calls drivers; a new outside program gets a driver script \
         (oauth2-provider/, proxy/), our own servers belong to the supervisor"
    );
}

#[test]
fn every_provider_has_a_row() {
    let rows: Vec<&str> = PROVIDERS.iter().map(|(name, _)| *name).collect();
    assert!(
        rows.contains(&"embedded") && rows.contains(&"keycloak_native"),
        "{rows:?}"
    );
}
