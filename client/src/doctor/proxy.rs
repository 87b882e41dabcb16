//! `client doctor --proxy KIND`: the breakages of a proxy that terminates the client's TLS
//! and forwards the certificate in a header (lab 11, `proxy/*.sh`), found as far as they
//! can be observed honestly from the client's side:
//!
//! - the CertificateRequest now comes from the proxy: the online `certificate-request`
//!   finding says so, and its fix names the proxy's own directive;
//! - with `--proxy-config FILE`, a reading of the proxy's configuration ([`config`]) for
//!   the part serving the issuer's port, against the provider's lookup (Keycloak's
//!   `spi-x509cert-lookup--provider` and its options: `--x509-lookup`, `--ssl-client-cert`,
//!   `--ssl-cert-chain`, `--ssl-cert-chain-prefix`, `--proxy-trusted-addresses`; by default
//!   the ones the shipped driver of KIND pairs with it): the header name, the encoding, the
//!   chain, the address the proxy connects from, and whether a client's own header is
//!   removed or overwritten on every request;
//! - a differential probe: the same token request without a certificate but with a forged
//!   header in the lookup's shape carrying this certificate. If that gets a token, the
//!   proxy passes a client's own header on and anyone can claim the certificate without its
//!   key (✘ spoofable);
//! - an inference: the realm expects this certificate and the proxy accepted it, yet the
//!   provider refused: the certificate is lost between the proxy and the lookup.
//!
//! The findings are data ([`PROXY_CHECKS`]) and go where a request meets them: after the
//! handshake (at the proxy), before the provider's client authentication.

mod checks;
pub mod config;
mod probe;

use std::path::PathBuf;

use serde_json::{Value, json};

use super::{Finding, Loaded, Verdict};
use crate::settings::{Proxy, Settings};
use checks::{chain, encoding, header, source, strips, verifies};
use config::{Encoding, Observed};
pub use probe::forged_headers;
use probe::spoof;

/// Every proxy check, in the order they are reported: (id, title).
pub const PROXY_CHECKS: &[(&str, &str)] = &[
    (
        "proxy-config",
        "the proxy's configuration is read (--proxy-config)",
    ),
    (
        "proxy-verifies",
        "the proxy verifies the certificate before it forwards it",
    ),
    (
        "proxy-header",
        "the proxy sets the header the provider's lookup reads",
    ),
    (
        "proxy-encoding",
        "the proxy writes the certificate in the encoding the lookup decodes",
    ),
    (
        "proxy-chain",
        "the chain reaches the lookup (a certificate from an intermediate CA)",
    ),
    (
        "proxy-source",
        "the provider trusts the header from the address the proxy connects from",
    ),
    (
        "proxy-strips",
        "a client's own certificate header never reaches the provider (removed or overwritten)",
    ),
    (
        "proxy-spoof",
        "a forged certificate header, sent without a certificate, is refused (probe)",
    ),
    (
        "proxy-forwarding",
        "the certificate reaches the provider through the proxy",
    ),
];

/// Keycloak's x509 certificate lookups (`--spi-x509cert-lookup--provider`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lookup {
    Nginx,
    Haproxy,
    Apache,
    Envoy,
    Traefik,
    Rfc9440,
}

impl Lookup {
    fn id(self) -> &'static str {
        match self {
            Lookup::Nginx => "nginx",
            Lookup::Haproxy => "haproxy",
            Lookup::Apache => "apache",
            Lookup::Envoy => "envoy",
            Lookup::Traefik => "traefik",
            Lookup::Rfc9440 => "rfc9440",
        }
    }

    /// What it decodes (Keycloak 26.7.5, the golden answers of `tests/golden/proxy/`).
    fn reads(self, e: Encoding) -> bool {
        matches!(
            (self, e),
            (Lookup::Nginx, Encoding::UrlEncodedPem)
                | (Lookup::Haproxy | Lookup::Traefik, Encoding::Base64Der)
                | (Lookup::Apache, Encoding::Pem)
                | (Lookup::Rfc9440, Encoding::Rfc9440)
        )
    }

    fn reads_what(self) -> &'static str {
        match self {
            Lookup::Nginx => "the PEM, URL-encoded (nginx's $ssl_client_escaped_cert)",
            Lookup::Haproxy => "the DER in base64 (HAProxy's %[ssl_c_der,base64])",
            Lookup::Apache => "the PEM (httpd's %{SSL_CLIENT_CERT}s)",
            Lookup::Envoy => "Envoy's x-forwarded-client-cert",
            Lookup::Traefik => "each certificate's base64, comma-joined",
            Lookup::Rfc9440 => "RFC 9440's :base64 DER:",
        }
    }
}

/// The proxy options of `client doctor` (flattened into its arguments).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ProxyDoctorArgs {
    /// With --proxy KIND: the proxy's configuration as it runs (nginx.conf, haproxy.cfg,
    /// httpd.conf, Caddyfile; ./start.sh's is under target/proxy-KIND/). The part serving
    /// the issuer's port is read: what it forwards, in which header and encoding, the
    /// chain, whether a client's own header is removed, the address it connects from.
    #[arg(long, value_name = "FILE")]
    pub proxy_config: Option<PathBuf>,
    /// The provider's lookup, Keycloak's spi-x509cert-lookup--provider (default: the one
    /// KIND's driver pairs with it: nginx, haproxy, apache, rfc9440 for caddy).
    #[arg(long, value_enum, value_name = "LOOKUP")]
    pub x509_lookup: Option<Lookup>,
    /// The header the lookup reads the certificate from (its ssl-client-cert option).
    #[arg(long, value_name = "NAME")]
    pub ssl_client_cert: Option<String>,
    /// The header the lookup reads the chain from (ssl-cert-chain: haproxy, rfc9440).
    #[arg(long, value_name = "NAME")]
    pub ssl_cert_chain: Option<String>,
    /// The chain's headers' prefix, NAME_0, NAME_1, … (ssl-cert-chain-prefix: apache).
    #[arg(long, value_name = "NAME")]
    pub ssl_cert_chain_prefix: Option<String>,
    /// Where the provider accepts the header from (Keycloak's proxy-trusted-addresses:
    /// addresses or CIDR ranges, comma-separated), checked against the proxy's source.
    #[arg(long, value_name = "IP", value_delimiter = ',')]
    pub proxy_trusted_addresses: Vec<String>,
}

/// What the provider's lookup reads, resolved from the options and KIND's defaults.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Reads {
    pub lookup: Lookup,
    pub header: String,
    pub chain_header: Option<String>,
    pub chain_prefix: Option<String>,
    pub trusted: Vec<String>,
}

impl Reads {
    /// The shipped driver's pairing for `kind` (`proxy/KIND.sh keycloak-env`), overridden
    /// by what the options say.
    pub fn resolve(kind: Proxy, a: &ProxyDoctorArgs) -> Reads {
        let (lookup, header, chain_header, chain_prefix) = match kind {
            Proxy::Haproxy => (
                Lookup::Haproxy,
                "x-ssl-client-cert",
                Some("x-ssl-client-chain"),
                None,
            ),
            Proxy::Apache => (
                Lookup::Apache,
                "ssl-client-cert",
                None,
                Some("ssl-client-cert-chain"),
            ),
            Proxy::Caddy => (
                Lookup::Rfc9440,
                "client-cert",
                Some("client-cert-chain"),
                None,
            ),
            Proxy::Nginx | Proxy::None => (Lookup::Nginx, "ssl-client-cert", None, None),
        };
        let shipped = a.x509_lookup.is_none_or(|l| l == lookup);
        let lookup = a.x509_lookup.unwrap_or(lookup);
        let fixed = match lookup {
            Lookup::Envoy => Some("x-forwarded-client-cert"),
            Lookup::Traefik => Some("x-forwarded-tls-client-cert"),
            Lookup::Rfc9440 => Some("client-cert"),
            _ => None,
        };
        let own = |o: &Option<String>, d: Option<&str>| {
            o.clone()
                .or_else(|| d.map(str::to_owned))
                .map(|h| h.to_ascii_lowercase())
        };
        Reads {
            lookup,
            header: own(
                &a.ssl_client_cert,
                if shipped {
                    Some(header)
                } else {
                    fixed.or(Some(header))
                },
            )
            .unwrap_or_default(),
            chain_header: own(
                &a.ssl_cert_chain,
                if shipped {
                    chain_header
                } else {
                    (lookup == Lookup::Rfc9440).then_some("client-cert-chain")
                },
            ),
            chain_prefix: own(&a.ssl_cert_chain_prefix, chain_prefix.filter(|_| shipped)),
            trusted: a.proxy_trusted_addresses.clone(),
        }
    }

    fn option(&self, name: &str, value: &str) -> String {
        format!(
            "--spi-x509cert-lookup--{}--{name}={value}",
            self.lookup.id()
        )
    }
}

fn finding(check: &'static str, verdict: Verdict) -> Finding {
    super::titled(PROXY_CHECKS, check, verdict)
}

/// The proxy's findings around the online ones: the certificate-request finding told that
/// the proxy asks, the configuration's and the probe's findings after the handshake, the
/// inference before the token. Returns the findings and a summary for `--json`.
pub async fn diagnose(
    s: &Settings,
    args: &ProxyDoctorArgs,
    loaded: &Loaded,
    mut online: Vec<Finding>,
) -> (Vec<Finding>, Value) {
    if s.proxy == Proxy::None {
        if let Some(f) = without_kind(args) {
            online.insert(after_handshake(&online), f);
        }
        return (online, Value::Null);
    }
    let kind = s.proxy;
    let reads = Reads::resolve(kind, args);
    let (mut ours, observed) = read_config(s, args, loaded);
    refine_certificate_request(&mut online, kind, observed.as_ref());
    refine_refusals(kind, &mut online);
    let genuine = online
        .iter()
        .find(|f| f.check == "token")
        .is_some_and(|f| f.ok);
    if let Some(v) = spoof(s, kind, &reads, loaded, genuine).await {
        ours.push(finding("proxy-spoof", v));
    }
    let at = after_handshake(&online);
    online.splice(at..at, ours);
    let mut inferred = finding("proxy-forwarding", forwarding(&online, loaded));
    if inferred
        .fix
        .as_deref()
        .is_some_and(|f| f.starts_with(EXPLAINED))
    {
        // Keycloak's line is the one printed with that ✘.
        inferred.keycloak_log.clear();
    }
    let at = online
        .iter()
        .position(|f| f.check == "token")
        .unwrap_or(online.len());
    online.insert(at, inferred);
    lookup_lines(&mut online, reads.lookup);
    let summary = json!({
        "kind": proxy_name(kind),
        "config": args.proxy_config,
        "reads": reads,
        "observed": observed,
    });
    (online, summary)
}

/// `--proxy-config` without `--proxy`: a ✘ naming the flag.
fn without_kind(args: &ProxyDoctorArgs) -> Option<Finding> {
    let path = args.proxy_config.as_ref()?;
    Some(finding(
        "proxy-config",
        Err((
            format!("{} given without --proxy", path.display()),
            "name the proxy: --proxy nginx|haproxy|apache|caddy".into(),
        )),
    ))
}

/// The configuration's findings (`--proxy-config`), and what was read.
fn read_config(
    s: &Settings,
    args: &ProxyDoctorArgs,
    loaded: &Loaded,
) -> (Vec<Finding>, Option<Observed>) {
    let (kind, reads) = (s.proxy, Reads::resolve(s.proxy, args));
    let port = s.issuer.port_or_known_default().unwrap_or(443);
    let Some(path) = &args.proxy_config else {
        return (Vec::new(), None);
    };
    let o = match std::fs::read_to_string(path) {
        Ok(text) => config::read(kind, &text, port),
        Err(e) => {
            let f = finding(
                "proxy-config",
                Err((
                    format!("{}: {e}", path.display()),
                    "pass the configuration the proxy runs (./start.sh's: target/proxy-KIND/)"
                        .into(),
                )),
            );
            return (vec![f], None);
        }
    };
    let chain_len = loaded.chain.as_ref().map_or(0, Vec::len);
    let found = vec![
        finding(
            "proxy-config",
            Ok(format!("{}: {}", path.display(), o.section)),
        ),
        finding("proxy-verifies", verifies(kind, &o)),
        finding("proxy-header", header(kind, &reads, &o)),
        finding("proxy-encoding", encoding(kind, &reads, &o)),
        finding("proxy-chain", chain(kind, &reads, &o, chain_len)),
        finding("proxy-source", source(kind, &reads, &o)),
        finding("proxy-strips", strips(kind, &reads, &o)),
    ];
    (found, Some(o))
}

/// `--offline` behind a proxy: the configuration's findings only (no probe).
pub fn offline(s: &Settings, args: &ProxyDoctorArgs, loaded: &Loaded) -> (Vec<Finding>, Value) {
    if s.proxy == Proxy::None {
        let findings = without_kind(args).into_iter().collect();
        return (findings, Value::Null);
    }
    let (mut found, observed) = read_config(s, args, loaded);
    let reads = Reads::resolve(s.proxy, args);
    lookup_lines(&mut found, reads.lookup);
    let summary = json!({
        "kind": proxy_name(s.proxy),
        "config": args.proxy_config,
        "reads": reads,
        "observed": observed,
    });
    (found, summary)
}

/// Each ✘'s Keycloak lines as `lookup` writes them (rfc9440 logs under its own class).
fn lookup_lines(findings: &mut [Finding], lookup: Lookup) {
    for f in findings.iter_mut().filter(|f| !f.keycloak_log.is_empty()) {
        f.keycloak_log = super::keycloak_log::lines_for_lookup(f.check, lookup.id());
    }
}

fn after_handshake(online: &[Finding]) -> usize {
    online
        .iter()
        .position(|f| f.check == "handshake")
        .map_or(online.len(), |i| i + 1)
}

/// Behind KIND, a certificate that does not chain to the CA is refused by the proxy, not
/// the provider (walkthrough step 3b behind a proxy): the offline `chain` finding's fix, and
/// the online `handshake` finding's when Caddy ends the handshake, say so in KIND's words.
pub fn refine_refusals(kind: Proxy, findings: &mut [Finding]) {
    let ca = match kind {
        Proxy::None => return,
        Proxy::Nginx => "ssl_client_certificate",
        Proxy::Haproxy => "the bind line's ca-file",
        Proxy::Apache => "SSLCACertificateFile",
        Proxy::Caddy => "client_auth's trusted_ca_cert_file",
    };
    let how = match kind {
        Proxy::Caddy => {
            "Caddy refuses it in the TLS handshake (client_auth verify_if_given: the alert bad_certificate)"
        }
        _ => {
            "the proxy verifies it and answers 401 invalid_client itself (\"the proxy could not verify the client certificate against the CA\"): the provider never sees the request"
        }
    };
    for f in findings.iter_mut().filter(|f| !f.ok) {
        let alert_from_server = f.check == "handshake" && f.detail.contains("server ended it");
        if f.check == "chain" || alert_from_server {
            f.fix = Some(format!(
                "behind {}, {how} (walkthrough step 3b behind a proxy): use a certificate issued by the CA in {ca}, or add this CA there (and to the provider's truststore, which verifies the forwarded certificate again)",
                proxy_name(kind)
            ));
        }
    }
}

/// How KIND asks for a client certificate.
fn ask_fix(kind: Proxy) -> &'static str {
    match kind {
        Proxy::Nginx => {
            "nginx: `ssl_verify_client optional;` and `ssl_client_certificate ca.pem;` in the server block (proxy/nginx/nginx.conf.in)"
        }
        Proxy::Haproxy => {
            "HAProxy: `verify optional ca-file ca.pem` on the front end's bind line (proxy/haproxy/haproxy.cfg.in)"
        }
        Proxy::Apache => {
            "httpd: `SSLVerifyClient optional_no_ca` and `SSLCACertificateFile ca.pem` in the virtual host (proxy/apache/httpd.conf.in)"
        }
        Proxy::Caddy | Proxy::None => {
            "Caddy: `client_auth { mode verify_if_given; trusted_ca_cert_file ca.pem }` in the site's tls block (proxy/caddy/Caddyfile.in)"
        }
    }
}

fn refine_certificate_request(online: &mut [Finding], kind: Proxy, o: Option<&Observed>) {
    let Some(f) = online.iter_mut().find(|f| f.check == "certificate-request") else {
        return;
    };
    f.detail = format!("from the proxy ({}): {}", proxy_name(kind), f.detail);
    if f.ok {
        return;
    }
    if f.detail.contains("did not ask") {
        let read = match o.map(|o| o.asks.as_deref()) {
            Some(None) => " (its configuration asks for none)",
            Some(Some(_)) => " (its configuration asks: is it the file the proxy runs?)",
            None => "",
        };
        f.detail.push_str(read);
        f.fix = Some(format!(
            "behind a proxy, the proxy must ask for the certificate and verify it (as Keycloak's https-client-auth=request): {}",
            ask_fix(kind)
        ));
    }
}

/// The proxy's findings that make the provider refuse (a forged header passing does not).
const CAUSES: &[&str] = &[
    "proxy-header",
    "proxy-encoding",
    "proxy-chain",
    "proxy-source",
];
const EXPLAINED: &str = "the proxy's ✘ above says where";

/// How the proxy is called in the narration.
pub fn proxy_name(kind: Proxy) -> &'static str {
    match kind {
        Proxy::Nginx => "nginx",
        Proxy::Haproxy => "HAProxy",
        Proxy::Apache => "Apache httpd",
        Proxy::Caddy => "Caddy",
        Proxy::None => "no proxy",
    }
}

/// The inference: the token refused while nothing before it explains why.
fn forwarding(online: &[Finding], loaded: &Loaded) -> Verdict {
    let token = online.iter().find(|f| f.check == "token");
    match token {
        Some(t) if t.ok => {
            return Ok("a token was issued for the certificate presented to the proxy".into());
        }
        None => return Ok("not checked: no token request was made".into()),
        Some(_) => {}
    }
    let earlier = super::offline(loaded)
        .into_iter()
        .chain(online.iter().cloned())
        .filter(|f| !f.ok && !f.check.starts_with("proxy-") && !f.check.starts_with("token"))
        .map(|f| f.check)
        .filter(|c| *c != "admin")
        .collect::<Vec<_>>();
    let realm_read = online.iter().any(|f| f.check == "admin" && f.ok);
    let ours: Vec<&str> = online
        .iter()
        .filter(|f| !f.ok && CAUSES.contains(&f.check))
        .map(|f| f.check)
        .collect();
    if !ours.is_empty() {
        return Err((
            "the provider refused the token request: the certificate did not reach its lookup as the lookup reads it".into(),
            format!("{EXPLAINED} ({}): fix it and ask again", ours.join(", ")),
        ));
    }
    if !earlier.is_empty() {
        return Ok(format!(
            "not the cause: {} explain the refusal",
            earlier.join(", ")
        ));
    }
    Err((
        format!(
            "the proxy accepted the certificate and {}, yet the provider refused the token request: the certificate did not reach its lookup as the lookup reads it",
            if realm_read {
                "the realm expects it"
            } else {
                "it is well formed (the realm could not be read)"
            }
        ),
        "give doctor the proxy's configuration (--proxy-config FILE) and the provider's lookup (--x509-lookup, --ssl-client-cert, --proxy-trusted-addresses): the usual causes are the header's name, its encoding, the chain and the trusted address (labs/11-proxies)".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_defaults_to_its_drivers_lookup() {
        let a = ProxyDoctorArgs::default();
        let h = Reads::resolve(Proxy::Haproxy, &a);
        assert_eq!(
            (h.lookup, h.header.as_str()),
            (Lookup::Haproxy, "x-ssl-client-cert")
        );
        assert_eq!(h.chain_header.as_deref(), Some("x-ssl-client-chain"));
        let c = Reads::resolve(Proxy::Caddy, &a);
        assert_eq!(
            (c.lookup, c.header.as_str()),
            (Lookup::Rfc9440, "client-cert")
        );
        let other = ProxyDoctorArgs {
            x509_lookup: Some(Lookup::Haproxy),
            ..a
        };
        let n = Reads::resolve(Proxy::Apache, &other);
        assert_eq!(
            (n.lookup, n.header.as_str(), n.chain_prefix),
            (Lookup::Haproxy, "ssl-client-cert", None)
        );
    }
}
