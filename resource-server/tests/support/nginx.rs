//! A real proxy running the shipped configuration (`proxy/nginx.sh run`, `proxy/haproxy.sh
//! run`, `proxy/apache.sh run`, `proxy/caddy.sh run`) as a child process, for the tests (`behind_nginx.rs`,
//! `behind_proxies.rs`) and the benchmark (`benches/behind_nginx.rs`).

#![allow(dead_code)] // each user takes what it needs

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The proxies' source address to the back ends (nginx `proxy_bind`, HAProxy `source`, httpd
/// `ProxySourceAddress`): the back ends trust the certificate headers from it only.
pub const PROXY_SOURCE: [u8; 4] = [127, 0, 0, 2];

/// Which proxy: its driver script, the variable naming its directory, its Debian package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Nginx,
    Haproxy,
    Apache,
    /// Caddy 2.6: cannot choose its source address ([`Kind::source`]).
    Caddy,
}

impl Kind {
    fn script(self) -> &'static str {
        match self {
            Kind::Nginx => "nginx.sh",
            Kind::Haproxy => "haproxy.sh",
            Kind::Apache => "apache.sh",
            Kind::Caddy => "caddy.sh",
        }
    }

    /// The address the proxy connects to the back ends from: [`PROXY_SOURCE`], but Caddy's
    /// 127.0.0.1 (its reverse_proxy has no `local_address` in 2.6).
    pub fn source(self) -> IpAddr {
        match self {
            Kind::Caddy => IpAddr::from([127, 0, 0, 1]),
            _ => IpAddr::from(PROXY_SOURCE),
        }
    }

    fn dir_var(self) -> &'static str {
        match self {
            Kind::Nginx => "NGINX_DIR",
            Kind::Haproxy => "HAPROXY_DIR",
            Kind::Apache => "APACHE_DIR",
            Kind::Caddy => "CADDY_DIR",
        }
    }

    fn binary(self) -> &'static str {
        match self {
            Kind::Nginx => "nginx",
            Kind::Haproxy => "haproxy",
            Kind::Apache => "apache2",
            Kind::Caddy => "caddy",
        }
    }

    fn package(self) -> &'static str {
        match self {
            Kind::Nginx => "nginx-light",
            Kind::Haproxy => "haproxy",
            Kind::Apache => "apache2",
            Kind::Caddy => "caddy",
        }
    }

    /// The log a failed start is explained with.
    fn error_log(self) -> &'static str {
        match self {
            Kind::Haproxy => "logs/access.log",
            Kind::Caddy => "logs/caddy.out",
            Kind::Nginx | Kind::Apache => "logs/error.log",
        }
    }
}

/// nginx (the first proxy shipped; its tests and bench use this name).
pub type Nginx = Proxy;

/// A proxy running the shipped configuration, stopped (SIGTERM, then SIGKILL) on drop.
pub struct Proxy {
    kind: Kind,
    child: Option<Child>,
    dir: PathBuf,
    provider_port: u16,
    api_port: u16,
}

fn installed(kind: Kind) -> bool {
    let bin = kind.binary();
    ["/usr/sbin", "/usr/bin", "/usr/local/sbin"]
        .iter()
        .any(|d| Path::new(d).join(bin).exists())
}

/// `127.0.0.1:<port>` of a server whose base URL is `https://localhost:<port>`.
pub fn loopback_addr(base_url: &str) -> SocketAddr {
    let port = base_url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse::<u16>().ok());
    SocketAddr::from(([127, 0, 0, 1], port.expect("a base URL ending in :port")))
}

/// A port the OS just handed out on 127.0.0.1 (free a moment ago; nginx binds it next).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

impl Proxy {
    /// Renders and runs the shipped configuration in `dir`, with `workers` worker processes.
    pub fn start(
        certs: &Path,
        dir: &Path,
        provider: SocketAddr,
        apis: &[SocketAddr],
        workers: usize,
    ) -> Proxy {
        Self::start_on(certs, dir, free_port(), provider, apis, workers)
    }

    /// [`Nginx::start`] with the provider's front port chosen by the caller (e.g. because
    /// the provider's `--hostname` must name it before nginx starts).
    pub fn start_on(
        certs: &Path,
        dir: &Path,
        provider_port: u16,
        provider: SocketAddr,
        apis: &[SocketAddr],
        workers: usize,
    ) -> Proxy {
        Self::start_with(certs, dir, provider_port, provider, apis, workers, &[])
    }

    /// [`Nginx::start_on`] with more of `proxy/nginx.sh`'s settings (e.g. `PROXY_CRL`).
    pub fn start_with(
        certs: &Path,
        dir: &Path,
        provider_port: u16,
        provider: SocketAddr,
        apis: &[SocketAddr],
        workers: usize,
        env: &[(&str, String)],
    ) -> Proxy {
        let mut all = vec![("NGINX_WORKERS", workers.to_string())];
        all.extend_from_slice(env);
        Self::start_kind(Kind::Nginx, certs, dir, provider_port, provider, apis, &all)
    }

    /// The `kind` proxy's shipped configuration in `dir`, with more of its driver's settings
    /// in `env` (`NGINX_WORKERS`: nginx only, 1 unless given).
    pub fn start_kind(
        kind: Kind,
        certs: &Path,
        dir: &Path,
        provider_port: u16,
        provider: SocketAddr,
        apis: &[SocketAddr],
        env: &[(&str, String)],
    ) -> Proxy {
        assert!(
            installed(kind),
            "{} is not installed: these tests drive a real one. Install it with \
             `apt-get install {}` (scripts/test.sh and .ci/run do so when run as root)",
            kind.binary(),
            kind.package()
        );
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../proxy")
            .join(kind.script());
        let api_port = free_port();
        let backends: Vec<String> = apis.iter().map(ToString::to_string).collect();
        let child = Command::new(&script)
            .arg("run")
            .env(kind.dir_var(), dir)
            .env("CERTS_DIR", certs)
            .env("PROXY_PROVIDER_PORT", provider_port.to_string())
            .env("PROXY_API_PORT", api_port.to_string())
            .env("PROVIDER_BACKEND", provider.to_string())
            .env("API_BACKENDS", backends.join(" "))
            .env("PROXY_SOURCE", IpAddr::from(PROXY_SOURCE).to_string())
            .env("NGINX_WORKERS", "1")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("running proxy/nginx.sh run");
        let mut nginx = Proxy {
            kind,
            child: Some(child),
            dir: dir.to_owned(),
            provider_port,
            api_port,
        };
        nginx.wait_listening(Duration::from_secs(10));
        nginx
    }

    fn wait_listening(&mut self, limit: Duration) {
        let start = Instant::now();
        loop {
            let up = [self.provider_port, self.api_port]
                .iter()
                .all(|p| std::net::TcpStream::connect(("127.0.0.1", *p)).is_ok());
            if up {
                return;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "{} exited at start ({status}); its log: {}",
                    self.kind.binary(),
                    std::fs::read_to_string(self.dir.join(self.kind.error_log()))
                        .unwrap_or_default()
                );
            }
            assert!(
                start.elapsed() < limit,
                "{} not listening after {limit:?}",
                self.kind.binary()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn provider_url(&self) -> String {
        format!("https://localhost:{}", self.provider_port)
    }

    pub fn api_url(&self) -> String {
        format!("https://localhost:{}", self.api_port)
    }

    /// The supervisor's arguments for our servers behind this nginx, as `./start.sh --proxy
    /// nginx` passes them: the realm's issuer and the resource server's URL at the proxy,
    /// the certificates in `certs`, the proxy trusted for the certificate it forwards.
    pub fn supervisor_args(&self, certs: &Path) -> Vec<String> {
        assert_eq!(self.kind, Kind::Nginx, "ssl-client-cert is nginx's header");
        let issuer = format!("{}/realms/{}", self.provider_url(), playbook::names::REALM);
        [
            "supervisor",
            "--issuer",
            &issuer,
            "--resource-server",
            &self.api_url(),
            "--certs-dir",
            &certs.display().to_string(),
            "--trusted-proxy",
            &IpAddr::from(PROXY_SOURCE).to_string(),
            "--client-cert-header",
            "ssl-client-cert",
            "--proxy",
            "nginx",
        ]
        .map(str::to_owned)
        .to_vec()
    }

    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("logs/access.log")).unwrap_or_default()
    }

    /// SIGTERM (a fast shutdown for all three), then waits, at most 5 s, before SIGKILL.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}
