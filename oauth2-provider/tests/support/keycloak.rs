//! A real Keycloak in a container (testcontainers), run as `oauth2-provider/keycloak-container.sh`
//! runs it: the image in `KEYCLOAK_TEST_IMAGE` (scripts/test.sh sets it to the playground's own
//! image, built from the pinned distribution by `oauth2-provider/keycloak-image.sh`, which
//! starts `--optimized`), else the official image at [`oauth2_provider::KEYCLOAK_VERSION`];
//! the server options of `oauth2-provider/keycloak.conf` (copied to
//! `/opt/keycloak/conf/keycloak.conf`, where Keycloak reads them), the realm file the embedded
//! provider imports, and a dev PKI, generated in memory and copied in as bytes with mode 0644
//! (the image runs as uid 1000; a copied file keeps the tar header's mode, and bytes get 0644).
//!
//! The network: with `KEYCLOAK_NETWORK=host` (CI, and machines where bridge networks are not
//! allowed) the container shares the host's network; there are no mapped ports, so free
//! loopback ports are picked here and passed to Keycloak, bound to 127.0.0.1. Otherwise the
//! ports are published on random host ports. Either way `--hostname-strict=false`, so the
//! issuer follows the request, and the tests never collide with a running playground.
//!
//! Every container is labelled `org.oauth2-playbook.run` (swept by
//! `scripts/container-engines.sh sweep`) and removed on drop, and on SIGINT/SIGTERM by
//! testcontainers' watchdog. The ulimits are set per container: Podman's defaults exceed
//! what some hosts allow. testcontainers 0.28 speaks Docker API 1.53 without negotiating: it
//! needs Docker Engine 29 or newer, or Podman's compatible API (DOCKER_HOST=unix://...podman.sock).
//!
//! [`require_engine`] asks the engine for a ping first and panics at once, with the way to
//! run these tests, when none answers: they fail fast, never pass silently.

use std::path::Path;
use std::time::{Duration, Instant};

use playbook::pki::DevPki;
use testcontainers::core::ContainerPort;
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

/// The ports inside the container (published network): Keycloak's HTTPS port and its
/// management interface.
const HTTPS_PORT: ContainerPort = ContainerPort::Tcp(8443);
const MANAGEMENT_PORT: ContainerPort = ContainerPort::Tcp(9000);

/// Where Keycloak imports realm files from with `--import-realm` (regular `*.json` files only).
const IMPORT_DIR: &str = "/opt/keycloak/data/import";
/// The configuration file Keycloak reads by default.
const CONF_PATH: &str = "/opt/keycloak/conf/keycloak.conf";
/// The label every container of this project carries (scripts/lib.sh PLAYBOOK_LABEL).
const RUN_LABEL: &str = "org.oauth2-playbook.run";

/// How long Keycloak may take to answer `/health/ready`: the official image runs the build
/// step first, and CI machines are slow. Generous on purpose; a crash ends the wait early.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(300);

/// How to run these tests, repeated in every failure message.
pub const HOW_TO_RUN: &str = "these tests need Docker Engine 29+ or Podman's API; they are \
     #[ignore]d by default; scripts/test.sh runs them (scripts/container-engines.sh start, \
     oauth2-provider/keycloak-image.sh build, then DOCKER_HOST=unix:///run/oauth2-playbook/podman.sock \
     KEYCLOAK_TEST_IMAGE=<the built image> KEYCLOAK_NETWORK=host \
     cargo test -p oauth2-provider --test keycloak -- --ignored)";

/// The official image at the pinned version, `quay.io/keycloak/keycloak:<tag>`.
pub fn official_image() -> String {
    format!(
        "{}:{}",
        oauth2_provider::KEYCLOAK_IMAGE,
        oauth2_provider::KEYCLOAK_VERSION
    )
}

/// The image these tests run: `KEYCLOAK_TEST_IMAGE`, else the official one.
pub fn image() -> String {
    std::env::var("KEYCLOAK_TEST_IMAGE")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(official_image)
}

/// Whether the container shares the host's network (`KEYCLOAK_NETWORK=host`).
fn host_network() -> bool {
    std::env::var("KEYCLOAK_NETWORK").is_ok_and(|v| v == "host")
}

/// A free port on 127.0.0.1 (bound, then released for Keycloak to bind).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// `oauth2-provider/keycloak.conf`, the options start.sh, compose.yaml and these tests share.
pub fn keycloak_conf() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("keycloak.conf");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The value of `option` in a `keycloak.conf` text (`option=value` lines, `#` comments).
pub fn conf_value(conf: &str, option: &str) -> Option<String> {
    conf.lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .find(|(key, _)| key.trim() == option)
        .map(|(_, value)| value.trim().to_owned())
}

fn engine_address() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| {
        "the default Docker socket (unix:///var/run/docker.sock; DOCKER_HOST or \
         ~/.testcontainers.properties to change it)"
            .to_owned()
    })
}

/// Panics at once, with a clear message, unless a container engine answers a ping.
pub async fn require_engine() {
    let address = engine_address();
    let docker = match testcontainers::core::client::docker_client_instance().await {
        Ok(docker) => docker,
        Err(e) => panic!("no container engine answered at {address} ({e}); {HOW_TO_RUN}"),
    };
    match tokio::time::timeout(Duration::from_secs(10), docker.ping()).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => panic!("no container engine answered at {address} ({e}); {HOW_TO_RUN}"),
        Err(_) => panic!("no container engine answered at {address} within 10 s; {HOW_TO_RUN}"),
    }
}

/// A running Keycloak container. Dropping it stops and removes the container.
#[derive(Debug)]
pub struct Keycloak {
    container: ContainerAsync<GenericImage>,
    /// `https://localhost:<port>`: discovery, token endpoint, admin API.
    pub base_url: String,
    /// `https://localhost:<port>`: `/health/*` (HTTPS, no client certificate).
    pub management_url: String,
}

impl Keycloak {
    /// Starts Keycloak with `pki`'s server certificate and CA and waits until it is ready.
    pub async fn start(pki: &DevPki) -> Keycloak {
        require_engine().await;

        let conf = keycloak_conf();
        let path_of = |option: &str| {
            conf_value(&conf, option)
                .unwrap_or_else(|| panic!("oauth2-provider/keycloak.conf has no {option}="))
        };
        let realm = std::fs::read(oauth2_provider::realm_file()).expect("the realm file");

        let reference = image();
        let (name, tag) = reference
            .rsplit_once(':')
            .unwrap_or_else(|| panic!("KEYCLOAK_TEST_IMAGE={reference}: expected NAME:TAG"));
        // The official image was built with default options: it runs the build step at start.
        let mut cmd = vec!["start", "--import-realm", "--hostname-strict=false"];
        if reference != official_image() {
            cmd.insert(1, "--optimized");
        }
        let run = std::env::var("PLAYBOOK_RUN").unwrap_or_else(|_| "tests".to_owned());
        let host_ports = host_network().then(|| (free_port(), free_port()));
        // Inherent GenericImage methods first (exposed ports), then ImageExt (the request).
        let base = GenericImage::new(name, tag);
        let base = if host_ports.is_some() {
            base
        } else {
            base.with_exposed_port(HTTPS_PORT)
                .with_exposed_port(MANAGEMENT_PORT)
        };
        let mut request = base
            .with_cmd(cmd)
            .with_label(RUN_LABEL, run)
            .with_ulimit("nofile", 20_000, Some(20_000))
            .with_ulimit("nproc", 32_768, Some(32_768))
            // Keycloak's own heap, as natively (kc.sh would size it from the host's memory).
            .with_env_var("JAVA_OPTS_KC_HEAP", "-Xms64m -Xmx512m")
            .with_env_var(
                "KC_BOOTSTRAP_ADMIN_USERNAME",
                playbook::names::DEFAULT_ADMIN_USERNAME,
            )
            .with_env_var(
                "KC_BOOTSTRAP_ADMIN_PASSWORD",
                playbook::names::DEFAULT_ADMIN_PASSWORD,
            )
            // The realm file's ${PLAYBOOK_JWT_CLIENT_CERT:}, as the drivers set it from certs/.
            .with_env_var(
                playbook::names::JWT_CLIENT_CERT_ENV,
                DevPki::realm_certificate(&pki.jwt_client),
            )
            // Bytes, not host files: tar entries with mode 0644, readable by uid 1000.
            .with_copy_to(CONF_PATH, conf.clone().into_bytes())
            .with_copy_to(
                path_of("https-certificate-file"),
                pki.provider.cert_pem.clone().into_bytes(),
            )
            .with_copy_to(
                path_of("https-certificate-key-file"),
                pki.provider.key_pem.clone().into_bytes(),
            )
            .with_copy_to(
                path_of("truststore-paths"),
                pki.ca.cert.cert_pem.clone().into_bytes(),
            )
            .with_copy_to(
                format!("{IMPORT_DIR}/{}-realm.json", playbook::names::REALM),
                realm,
            )
            // Covers pulling the image on a cold machine; readiness is awaited below.
            .with_startup_timeout(STARTUP_TIMEOUT);
        if let Some((https, management)) = host_ports {
            // Not with_network("host"): testcontainers would try to create a network of that name.
            request = request
                .with_host_config_modifier(|hc| hc.network_mode = Some("host".into()))
                .with_env_var("KC_HTTP_HOST", "127.0.0.1")
                .with_env_var("KC_CACHE_EMBEDDED_NETWORK_BIND_ADDRESS", "127.0.0.1")
                .with_env_var("KC_HTTPS_PORT", https.to_string())
                .with_env_var("KC_HTTP_MANAGEMENT_PORT", management.to_string());
        }
        // The fixture realms, as the native and embedded providers import them.
        for path in crate::scenarios::fixture_realm_paths() {
            let files: Vec<std::path::PathBuf> = if path.is_dir() {
                let mut v: Vec<_> = std::fs::read_dir(&path)
                    .expect("fixture directory")
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect();
                v.sort();
                v
            } else {
                vec![path]
            };
            for file in files {
                let name = file
                    .file_name()
                    .expect("a file name")
                    .to_string_lossy()
                    .into_owned();
                let bytes = std::fs::read(&file).expect("fixture realm");
                request = request.with_copy_to(format!("{IMPORT_DIR}/{name}"), bytes);
            }
        }

        let container = request.start().await.unwrap_or_else(|e| {
            panic!(
                "could not start {} ({e}); is the image built (oauth2-provider/keycloak-image.sh build) or pullable? {HOW_TO_RUN}",
                image()
            )
        });

        let (base_url, management_url) = match host_ports {
            Some((https, management)) => (
                format!("https://localhost:{https}"),
                format!("https://localhost:{management}"),
            ),
            None => {
                let host = container.get_host().await.expect("container host");
                let https = container.get_host_port_ipv4(HTTPS_PORT).await;
                let management = container.get_host_port_ipv4(MANAGEMENT_PORT).await;
                (
                    format!(
                        "https://{host}:{}",
                        https.expect("the HTTPS port's host port")
                    ),
                    format!(
                        "https://{host}:{}",
                        management.expect("the management port's host port")
                    ),
                )
            }
        };
        let keycloak = Keycloak {
            container,
            base_url,
            management_url,
        };
        keycloak.wait_ready(pki).await;
        keycloak
    }

    /// Polls `/health/ready` over HTTPS, trusting only our CA (as start.sh's curl does),
    /// until 200; panics with Keycloak's log if it exits or the timeout passes.
    async fn wait_ready(&self, pki: &DevPki) {
        let http = playbook::https::https_client(std::slice::from_ref(&pki.ca.cert.cert_der), None)
            .expect("https client");
        let url = format!("{}/health/ready", self.management_url);
        let started = Instant::now();
        loop {
            let last = match http.get(&url).send().await {
                Ok(r) if r.status() == reqwest::StatusCode::OK => return,
                Ok(r) => format!("HTTP {}", r.status()),
                Err(e) => format!("{e}"),
            };
            if !self.container.is_running().await.unwrap_or(false) {
                panic!(
                    "Keycloak exited during startup ({url}: {last}); its log:\n{}",
                    self.logs().await
                );
            }
            if started.elapsed() > STARTUP_TIMEOUT {
                panic!(
                    "Keycloak not ready after {:?} ({url}: {last}); its log:\n{}",
                    STARTUP_TIMEOUT,
                    self.logs().await
                );
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// The issuer of the realm's tokens: `{base_url}/realms/oauth2-playbook`.
    pub fn issuer(&self) -> String {
        playbook::names::issuer_for(&self.base_url, playbook::names::REALM)
    }

    /// Keycloak's stdout and stderr so far (for failure messages).
    pub async fn logs(&self) -> String {
        let out = self.container.stdout_to_vec().await.unwrap_or_default();
        let err = self.container.stderr_to_vec().await.unwrap_or_default();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&err)
        )
    }
}
