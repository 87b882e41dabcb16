//! Lab 11: behind a proxy. The client's TLS ends at HAProxy, and the certificate reaches the
//! provider in a request header, in the shape Keycloak's `haproxy` x509 lookup reads.
//!
//! The attendee edits `labs/work/lab11/haproxy.cfg.in` (a copy of
//! `proxy/haproxy/haproxy.cfg.in` whose provider front end forwards nothing and strips
//! nothing), then breaks it on purpose (the encoding, the chain, the stripping) and reads
//! each answer. The checker runs `proxy/haproxy.sh` with that copy in front of the live
//! provider (`PROVIDER_BACKEND`, default the issuer's port + 1, where `./start.sh --lab 11
//! --proxy haproxy` puts it) and asks through it: the dev CA's client certificate must get a
//! token bound to it, a certificate from the intermediate CA too (only with its chain), and a
//! client's own `x-ssl-client-cert`, sent without a certificate, must be refused.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use playbook::Identity;
use playbook::pki::Validity;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::{Check, Ctx, Lab, LabInfo, probe};
use crate::error::ClientError;
use crate::token::{AccessToken, DecodedJwt};

pub const INFO: LabInfo = LabInfo {
    number: 11,
    folder: "11-proxies",
    title: "Behind a proxy: forward the certificate as Keycloak reads it",
    minutes: 40,
    first_step: "./start.sh --lab 11 --proxy haproxy, then edit labs/work/lab11/haproxy.cfg.in's frontend provider",
};

pub const LAB: Lab = super::lab!();

/// The attendee's copy of the proxy's configuration template.
const CONFIG: &str = "haproxy.cfg.in";
/// The stock template the copy starts from (and the reference solution).
const TEMPLATE: &str = "proxy/haproxy/haproxy.cfg.in";
/// The header Keycloak's haproxy lookup reads the certificate from, and the chain's.
const CERT_HEADER: &str = "x-ssl-client-cert";
const CHAIN_HEADER: &str = "x-ssl-client-chain";
/// The address the proxy connects to the provider from: the one it trusts the headers from.
const PROXY_SOURCE: &str = "127.0.0.2";

/// What one request through the proxy got: the status, the OAuth error, the token's
/// `cnf.x5t#S256`.
#[derive(Debug)]
struct Answer {
    status: u16,
    error: Option<String>,
    cnf: Option<String>,
}

impl Answer {
    fn describe(&self) -> String {
        match (&self.cnf, &self.error) {
            (Some(_), _) => format!("{}, a certificate-bound token", self.status),
            (None, Some(e)) => format!("{} {e}", self.status),
            (None, None) => format!("{}, no token", self.status),
        }
    }
}

pub async fn check(ctx: &Ctx<'_>) -> Result<Vec<Check>, ClientError> {
    let dir = ctx.dir(11)?;
    let config = dir.join(CONFIG);
    if !config.exists() {
        return Ok(vec![Check::fail(
            "your proxy configuration",
            format!("{}", config.display()),
            "no such file",
            "client lab reset 11 writes the one to start from",
        )]);
    }
    let ports = (free_port()?, free_port()?);
    let proxy = Proxy {
        ctx,
        config,
        run_dir: dir.join("haproxy"),
        ports,
    };
    let started = proxy.run("start")?;
    if !started.status.success() {
        return Ok(vec![Check::fail(
            "HAProxy runs your configuration",
            "proxy/haproxy.sh start with it: listening",
            super::failure_summary(&started),
            format!(
                "haproxy -c -f {} says what it refuses",
                proxy.run_dir.join("haproxy.cfg").display()
            ),
        )]);
    }
    let checks = through(ctx, ports.0).await;
    let stopped = proxy.run("stop");
    let mut checks = checks?;
    checks.insert(
        0,
        Check::pass(
            "HAProxy runs your configuration",
            format!(
                "on https://localhost:{} (its log: {})",
                ports.0,
                proxy.log()
            ),
        ),
    );
    stopped?;
    Ok(checks)
}

/// The three requests through the proxy on `port`, each as a check.
async fn through(ctx: &Ctx<'_>, port: u16) -> Result<Vec<Check>, ClientError> {
    let mut endpoint = probe::token_endpoint(ctx).await?;
    endpoint.set_port(Some(port)).map_err(|()| {
        super::io_error(
            Path::new(endpoint.as_str()),
            std::io::Error::other("no port"),
        )
    })?;
    let client_id = ctx.s.client_id.as_str();

    let own = probe::identity_unchecked(&ctx.s.cert, &ctx.s.key)?;
    let leaf = playbook::pem::load_certs(&ctx.s.cert)?;
    let own_x5t = leaf.first().map(|c| playbook::rfc8705::thumbprint(c));
    let a = request(ctx, &endpoint, client_id, Some(&own), None).await?;
    let mut checks = vec![Check::expect(
        a.status == 200 && a.cnf.is_some() && a.cnf == own_x5t,
        "the dev CA's client certificate, through your proxy",
        "200, a token bound to it (cnf.x5t#S256)",
        a.describe(),
        format!(
            "does the provider front end set {CERT_HEADER} from the verified certificate, encoded as Keycloak's haproxy lookup decodes it (the DER, in base64)? is the provider behind it trusting {PROXY_SOURCE} (./start.sh --lab 11 --proxy haproxy)?"
        ),
    )];

    let (identity, x5t) = intermediate_client(ctx)?;
    let b = request(ctx, &endpoint, client_id, Some(&identity), None).await?;
    checks.push(Check::expect(
        b.status == 200 && b.cnf.as_deref() == Some(x5t.as_str()),
        "a certificate from the intermediate CA, with its chain",
        "200, a token bound to it",
        b.describe(),
        format!(
            "the client sent the intermediate CA after its certificate; Keycloak's haproxy lookup reads it from {CHAIN_HEADER}: does the proxy set it (HAProxy's ssl_c_chain_der)?"
        ),
    ));

    let forged = pem_body(
        &std::fs::read_to_string(&ctx.s.cert).map_err(|e| super::io_error(&ctx.s.cert, e))?,
    );
    let c = request(ctx, &endpoint, client_id, None, Some(&forged)).await?;
    checks.push(Check::expect(
        c.status == 401 && c.cnf.is_none(),
        format!("a client's own {CERT_HEADER}, sent without a certificate"),
        "401 invalid_client (the header stripped at the proxy)",
        c.describe(),
        format!(
            "anyone can send {CERT_HEADER}: what must the proxy do with the one a client sends before it sets its own?"
        ),
    ));
    Ok(checks)
}

/// A client-credentials request for `client_id` at `endpoint`, with `identity` on the
/// connection and `forged` as the client's own certificate header, when given.
async fn request(
    ctx: &Ctx<'_>,
    endpoint: &url::Url,
    client_id: &str,
    identity: Option<&Identity>,
    forged: Option<&str>,
) -> Result<Answer, ClientError> {
    let http = probe::https(ctx, identity)?;
    let mut request = http.post(endpoint.clone()).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
    ]);
    if let Some(value) = forged {
        request = request.header(CERT_HEADER, value);
    }
    let reply = crate::http::send_json(&http, request, endpoint).await?;
    let token = reply.json["access_token"].as_str();
    let cnf = token.and_then(|t| {
        DecodedJwt::decode(&AccessToken::new(t))
            .ok()?
            .cnf_x5t_s256()
            .map(str::to_owned)
    });
    Ok(Answer {
        status: reply.status.as_u16(),
        error: reply.json["error"].as_str().map(str::to_owned),
        cnf,
    })
}

/// A client certificate with the realm client's DN from an intermediate CA under the dev CA
/// (as `client certs intermediate` makes it), presented with the intermediate after it; and
/// its thumbprint.
fn intermediate_client(ctx: &Ctx<'_>) -> Result<(Identity, String), ClientError> {
    let days = Validity::days_from_now(1);
    let intermediate = ctx
        .dev_ca()?
        .intermediate(playbook::names::INTERMEDIATE_CA_SUBJECT_DN, days)?;
    let issued = intermediate.issue_client(playbook::names::CLIENT_SUBJECT_DN, days)?;
    let key = PrivateKeyDer::from_pem_slice(issued.key_pem.as_bytes()).map_err(|e| {
        super::io_error(
            Path::new("intermediate client key"),
            std::io::Error::other(e.to_string()),
        )
    })?;
    let mut chain: Vec<CertificateDer<'static>> = vec![issued.cert_der.clone()];
    chain.extend(issued.chain.iter().cloned());
    Ok((
        Identity::unchecked(Path::new("intermediate-client.pem"), chain, key),
        issued.x5t_s256(),
    ))
}

/// A PEM certificate's body on one line: its DER in base64, what HAProxy's
/// `%[ssl_c_der,base64]` writes.
fn pem_body(pem: &str) -> String {
    pem.lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .map(str::trim)
        .collect()
}

fn free_port() -> Result<u16, ClientError> {
    let listener = std::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .map_err(|e| super::io_error(Path::new("127.0.0.1:0"), e))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| super::io_error(Path::new("127.0.0.1:0"), e))
}

/// `proxy/haproxy.sh` with the attendee's copy, in a run directory of its own, on free
/// ports, in front of the live servers.
struct Proxy<'a> {
    ctx: &'a Ctx<'a>,
    config: PathBuf,
    run_dir: PathBuf,
    ports: (u16, u16),
}

impl Proxy<'_> {
    fn run(&self, command: &str) -> Result<std::process::Output, ClientError> {
        let script = self.ctx.root.join("proxy/haproxy.sh");
        let backend = provider_backend(self.ctx)?;
        let api = host_port(&self.ctx.s.resource_server, 0)?;
        let (provider_port, api_port) = (self.ports.0.to_string(), self.ports.1.to_string());
        let config =
            std::path::absolute(&self.config).map_err(|e| super::io_error(&self.config, e))?;
        let run_dir =
            std::path::absolute(&self.run_dir).map_err(|e| super::io_error(&self.run_dir, e))?;
        super::run_bash_args(
            self.ctx,
            &script,
            &[command],
            &[
                ("HAPROXY_TEMPLATE", &config.display().to_string()),
                ("HAPROXY_DIR", &run_dir.display().to_string()),
                ("PROXY_PROVIDER_PORT", &provider_port),
                ("PROXY_API_PORT", &api_port),
                ("PROVIDER_BACKEND", &backend),
                ("API_BACKENDS", &api),
                ("PROXY_SOURCE", PROXY_SOURCE),
            ],
        )
    }

    fn log(&self) -> String {
        self.run_dir.join("logs/access.log").display().to_string()
    }
}

/// Where the provider listens behind the proxy: `PROVIDER_BACKEND`, else the issuer's port
/// + 1 (`./start.sh --proxy`'s and `proxy/lib.sh`'s convention).
fn provider_backend(ctx: &Ctx<'_>) -> Result<String, ClientError> {
    match std::env::var("PROVIDER_BACKEND") {
        Ok(b) if !b.trim().is_empty() => Ok(b.trim().to_owned()),
        _ => host_port(&ctx.s.issuer, 1),
    }
}

/// `127.0.0.1:PORT` for a loopback URL, its port plus `add`.
fn host_port(url: &url::Url, add: u16) -> Result<String, ClientError> {
    let port = url.port_or_known_default().unwrap_or(443);
    Ok(format!("127.0.0.1:{}", port.saturating_add(add)))
}

/// The configuration a reset starts from: the stock template with the provider front end's
/// forwarding lines taken out (nothing forwarded, nothing stripped) and a TODO in their place.
pub fn starter(template: &str) -> String {
    let mut out = String::from(
        "# Lab 11: HAProxy in front of the provider (labs/11-proxies/README.md).\n\
         # proxy/haproxy.sh renders this file (@NAME@ placeholders); client lab check 11 runs it.\n\n",
    );
    let mut section = "";
    let mut todo_written = false;
    let mut in_header = true;
    for line in template.lines() {
        if in_header {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            in_header = false;
        }
        if !line.starts_with(' ') && !line.trim().is_empty() && !line.starts_with('#') {
            section = line.trim();
        }
        let forwarding = line.contains("x-ssl-client-") || line.contains("Every forwarded header");
        if section == "frontend provider" && forwarding {
            if !todo_written {
                out.push_str(
                    "    # TODO: forward the verified client certificate and its chain in the headers\n\
                     #       Keycloak's haproxy lookup reads (x-ssl-client-cert, x-ssl-client-chain),\n\
                     #       and make sure a client's own never reach the provider.\n",
                );
                todo_written = true;
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

pub async fn reset(ctx: &Ctx<'_>) -> Result<(), ClientError> {
    ctx.set_aside(11, &[CONFIG])?;
    let path = ctx.root.join(TEMPLATE);
    let template = std::fs::read_to_string(&path).map_err(|e| super::io_error(&path, e))?;
    let dir = ctx.dir(11)?;
    super::write_file(&dir.join(CONFIG), starter(&template).as_bytes(), false)?;
    ctx.out.ok(&format!(
        "lab 11 reset: {} forwards no certificate and strips no header",
        dir.join(CONFIG).display()
    ));
    Ok(())
}

/// `labs/11-proxies/solution/solve.sh`: the stock template, which forwards both headers and
/// strips a client's own.
pub async fn solve(ctx: &Ctx<'_>) -> Result<(), ClientError> {
    super::run_solution(ctx, 11, "solve.sh", &[])?;
    ctx.out
        .ok("lab 11 solved: labs/work/lab11/haproxy.cfg.in forwards the certificate and its chain, and strips a client's own");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STOCK: &str = include_str!("../../../proxy/haproxy/haproxy.cfg.in");

    fn provider_frontend(cfg: &str) -> String {
        cfg.lines()
            .skip_while(|l| *l != "frontend provider")
            .take_while(|l| !l.starts_with("frontend api"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_starter_forwards_and_strips_nothing_at_the_provider_only() {
        assert!(provider_frontend(STOCK).contains("set-header x-ssl-client-cert"));
        assert!(provider_frontend(STOCK).contains("del-header x-ssl-client-cert"));
        let s = starter(STOCK);
        let front = provider_frontend(&s);
        assert!(front.contains("TODO"), "{front}");
        assert!(!front.contains("x-ssl-client-cert %["), "{front}");
        assert!(!front.contains("del-header x-ssl-client"), "{front}");
        // The API's front end and the rest are the template's.
        assert!(s.contains("frontend api"));
        assert!(s.contains("@API_BACKENDS@"));
        assert_eq!(s.matches("set-header x-ssl-client-cert").count(), 1);
    }

    #[test]
    fn a_pem_body_is_the_der_in_base64() {
        let pem = "-----BEGIN CERTIFICATE-----\nQUJD\nREVG\n-----END CERTIFICATE-----\n";
        assert_eq!(pem_body(pem), "QUJDREVG");
    }
}
