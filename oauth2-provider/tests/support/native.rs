//! The real Keycloak as a native process, started by `oauth2-provider/keycloak-native.sh`
//! exactly as the playground starts it (the same script, `keycloak.conf`, realm file and
//! pinned version), with four differences, all on purpose:
//! - its own instance (`KEYCLOAK_INSTANCE=tests`: its own copy of the distribution, its own
//!   database), so a running playground is never touched;
//! - free ports instead of 9443/9000, found at start;
//! - a dev PKI generated in memory for the run, written to a temporary `certs/`;
//! - for the scenario suite, the fixture realms of `tests/realm_import.rs` imported too
//!   (`KEYCLOAK_EXTRA_REALMS`).
//!
//! Dropping [`NativeKeycloak`] stops it (`keycloak-native.sh stop`): nothing is left running.
//!
//! `KEYCLOAK_TEST_RUNNER=container` runs the same suites against Keycloak in a container
//! instead, through the same driver (`oauth2-provider/keycloak.sh start container`: the
//! playground's own image, `KEYCLOAK_NETWORK=host` on machines without bridge networks);
//! scripts/test.sh does so for the labs. The container is named after the instance.

use std::path::{Path, PathBuf};
use std::process::Command;

use playbook::pki::DevPki;

/// The instance name the tests use (the playground's is `playground`).
pub const INSTANCE: &str = "tests";

/// A running native Keycloak.
#[derive(Debug)]
pub struct NativeKeycloak {
    /// `https://localhost:<port>`: discovery, token endpoint, admin API.
    pub base_url: String,
    /// `https://localhost:<management port>`: `/health/*`.
    pub management_url: String,
    env: Vec<(String, String)>,
    _certs: tempfile::TempDir,
}

/// The driver, found from the crate that includes this file (the oauth2-provider's tests,
/// and the client's lab tests, which reuse this support through `#[path]`).
fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../oauth2-provider/keycloak.sh")
}

/// How Keycloak runs: `KEYCLOAK_TEST_RUNNER` (`native`, the default, or `container`).
pub fn runner() -> String {
    std::env::var("KEYCLOAK_TEST_RUNNER")
        .ok()
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "native".to_owned())
}

/// A free port on 127.0.0.1 (bound, then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl NativeKeycloak {
    /// Starts Keycloak with `pki` as instance `instance` and waits until it is ready, with
    /// `extra` variables for the script (e.g. `PROVIDER_URL`, `KEYCLOAK_EXTRA_REALMS`) and for
    /// Keycloak (`KC_*`, passed through to kc.sh). `Err` carries the script's message (it
    /// names the fix: no Java, no Maven, download refused, a port in use, …).
    pub fn start_with(
        pki: &DevPki,
        instance: &str,
        extra: &[(&str, String)],
    ) -> Result<NativeKeycloak, String> {
        let certs = tempfile::tempdir().map_err(|e| format!("a temporary certs/: {e}"))?;
        playbook::pki::write_files(
            certs.path(),
            &pki.files().map_err(|e| e.to_string())?,
            false,
        )
        .map_err(|e| format!("writing the dev PKI: {e}"))?;
        let (port, management) = (free_port(), free_port());
        let mut env = vec![
            ("KEYCLOAK_INSTANCE".to_owned(), instance.to_owned()),
            ("CERTS_DIR".to_owned(), certs.path().display().to_string()),
            ("PROVIDER_PORT".to_owned(), port.to_string()),
            ("MANAGEMENT_PORT".to_owned(), management.to_string()),
            (
                "KEYCLOAK_START_TIMEOUT".to_owned(),
                std::env::var("KEYCLOAK_START_TIMEOUT").unwrap_or_else(|_| "300".to_owned()),
            ),
        ];
        env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        let keycloak = NativeKeycloak {
            base_url: format!("https://localhost:{port}"),
            management_url: format!("https://localhost:{management}"),
            env,
            _certs: certs,
        };
        // The script's progress goes straight to the terminal (or CI log): a first start
        // downloads and builds, and the reader should see that it is moving.
        let status = keycloak
            .command("start")
            .status()
            .map_err(|e| format!("running {}: {e}", script().display()))?;
        if !status.success() {
            return Err(format!(
                "{} start failed ({status}); its message is above",
                script().display()
            ));
        }
        Ok(keycloak)
    }

    fn command(&self, what: &str) -> Command {
        let mut cmd = Command::new(script());
        cmd.arg(what).arg(runner());
        // The run's values win over anything exported in the caller's shell.
        for name in [
            "PROVIDER_URL",
            "ISSUER",
            "REALM_FILE",
            "KC_BOOTSTRAP_ADMIN_PASSWORD",
            // The driver sets it from the run's certs/ (the PKI's client-jwt.pem).
            playbook::names::JWT_CLIENT_CERT_ENV,
        ] {
            cmd.env_remove(name);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// The issuer of the realm's tokens.
    pub fn issuer(&self) -> String {
        playbook::names::issuer_for(&self.base_url, playbook::names::REALM)
    }

    /// The last `lines` lines of Keycloak's log (for failure messages).
    pub fn log_tail(&self, lines: usize) -> String {
        let cache = self
            .command("status")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        // `status` names the log file: `… (log /path/keycloak.log)` (native only; a
        // container's log is the engine's: `docker logs oauth2-playbook-keycloak-<instance>`).
        let Some(path) = cache
            .rsplit_once("(log ")
            .and_then(|(_, rest)| rest.strip_suffix(")\n"))
        else {
            return format!("(no log: {cache})");
        };
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for NativeKeycloak {
    fn drop(&mut self) {
        match self.command("stop").output() {
            Ok(o) if o.status.success() => {}
            Ok(o) => eprintln!(
                "stopping the native Keycloak failed: {}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => eprintln!("stopping the native Keycloak failed: {e}"),
        }
    }
}
