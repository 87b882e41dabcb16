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

pub mod config;

use std::path::PathBuf;

use base64::Engine as _;
use serde_json::{Value, json};

use super::{Finding, Loaded, Verdict};
use crate::http::Http;
use crate::settings::{Proxy, Settings};
use config::{Encoding, Observed};

/// Every proxy check, in the order they are reported: (id, title).
pub const PROXY_CHECKS: &[(&str, &str)] = &[
    (
        "proxy-config",
        "the proxy's configuration is read (--proxy-config)",
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
    let title = PROXY_CHECKS
        .iter()
        .find(|(id, _)| *id == check)
        .map(|(_, t)| *t)
        .unwrap_or(check);
    Finding::new(check, title, verdict)
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
        if let Some(path) = &args.proxy_config {
            let f = finding(
                "proxy-config",
                Err((
                    format!("{} given without --proxy", path.display()),
                    "name the proxy: --proxy nginx|haproxy|apache|caddy".into(),
                )),
            );
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
    let summary = json!({
        "kind": proxy_name(kind),
        "config": args.proxy_config,
        "reads": reads,
        "observed": observed,
    });
    (online, summary)
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
        return (Vec::new(), Value::Null);
    }
    let (found, observed) = read_config(s, args, loaded);
    let summary = json!({
        "kind": proxy_name(s.proxy),
        "config": args.proxy_config,
        "reads": Reads::resolve(s.proxy, args),
        "observed": observed,
    });
    (found, summary)
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

/// `set-header` in KIND's words.
fn set_fix(kind: Proxy, header: &str, value: &str) -> String {
    match kind {
        Proxy::Nginx => format!("`proxy_set_header {header} {value};`"),
        Proxy::Haproxy => format!("`http-request set-header {header} {value} if {{ ssl_c_used }}`"),
        Proxy::Apache => format!(
            "`RequestHeader set {header} \"{value}\" \"expr=%{{SSL:SSL_CLIENT_VERIFY}} == 'SUCCESS'\"`"
        ),
        Proxy::Caddy | Proxy::None => format!("`header_up {header} \"{value}\"` in reverse_proxy"),
    }
}

/// What KIND writes for the lookup, if it can.
fn value_for(kind: Proxy, lookup: Lookup) -> Option<&'static str> {
    match (kind, lookup) {
        (Proxy::Nginx, Lookup::Nginx) => Some("$ssl_client_escaped_cert"),
        (Proxy::Haproxy, Lookup::Haproxy | Lookup::Traefik) => Some("%[ssl_c_der,base64]"),
        (Proxy::Haproxy, Lookup::Rfc9440) => Some(":%[ssl_c_der,base64]:"),
        (Proxy::Apache, Lookup::Apache) => Some("%{SSL_CLIENT_CERT}s"),
        (Proxy::Caddy, Lookup::Rfc9440) => {
            Some(":{http.request.tls.client.certificate_der_base64}:")
        }
        (Proxy::Caddy, Lookup::Haproxy | Lookup::Traefik) => {
            Some("{http.request.tls.client.certificate_der_base64}")
        }
        _ => None,
    }
}

fn header(kind: Proxy, r: &Reads, o: &Observed) -> Verdict {
    let Some(leaf) = o.leaf() else {
        let value = value_for(kind, r.lookup).unwrap_or("the certificate");
        return Err((
            format!(
                "{}: no header is set from the client's certificate",
                o.section
            ),
            format!(
                "forward it: {} (labs/11-proxies, step 2)",
                set_fix(kind, &r.header, value)
            ),
        ));
    };
    if leaf.header == r.header {
        return Ok(format!("{} (line {})", leaf.header, leaf.line));
    }
    Err((
        format!(
            "the proxy sets {} (line {}), the provider's {} lookup reads {}: it finds no certificate",
            leaf.header,
            leaf.line,
            r.lookup.id(),
            r.header
        ),
        format!(
            "use one name on both sides: set {} at the proxy, or {} at the provider",
            r.header,
            r.option("ssl-client-cert", &leaf.header)
        ),
    ))
}

fn encoding(kind: Proxy, r: &Reads, o: &Observed) -> Verdict {
    let Some(leaf) = o.leaf() else {
        return Ok("not checked: no certificate is forwarded (above)".into());
    };
    if r.lookup.reads(leaf.encoding) {
        return Ok(format!("{} ({})", leaf.encoding.describe(), leaf.value));
    }
    let fix = match value_for(kind, r.lookup) {
        Some(v) => format!(
            "write it as the {} lookup decodes it: {} (labs/11-proxies: the encoding)",
            r.lookup.id(),
            set_fix(kind, &leaf.header, v)
        ),
        None => format!(
            "{} cannot write {}: give the provider the lookup of the proxy's shape (--spi-x509cert-lookup--provider={})",
            proxy_name(kind),
            r.lookup.reads_what(),
            match kind {
                Proxy::Nginx => "nginx",
                Proxy::Haproxy => "haproxy",
                Proxy::Apache => "apache",
                Proxy::Caddy | Proxy::None => "rfc9440",
            }
        ),
    };
    Err((
        format!(
            "{} (`{}`, line {}); the {} lookup decodes {}: the certificate does not parse",
            leaf.encoding.describe(),
            leaf.value,
            leaf.line,
            r.lookup.id(),
            r.lookup.reads_what()
        ),
        fix,
    ))
}

fn chain(kind: Proxy, r: &Reads, o: &Observed, chain_len: usize) -> Verdict {
    let wanted: Option<String> = match r.lookup {
        Lookup::Haproxy | Lookup::Rfc9440 => r.chain_header.clone(),
        Lookup::Apache => r.chain_prefix.as_ref().map(|p| format!("{p}_0")),
        // In the certificate's own header, or rebuilt (nginx).
        Lookup::Nginx | Lookup::Envoy | Lookup::Traefik => None,
    };
    let sent = wanted.as_ref().and_then(|w| {
        o.forwards
            .iter()
            .find(|f| f.chain.is_some() && &f.header == w)
    });
    let what = match (&sent, &wanted) {
        (Some(f), _) => format!("the proxy forwards the chain in {} (line {})", f.header, f.line),
        (None, Some(w)) => format!("the proxy sets no {w}"),
        (None, None) if r.lookup == Lookup::Nginx => {
            "nginx forwards the leaf alone; Keycloak's nginx lookup rebuilds the chain from its truststore".into()
        }
        (None, None) => format!("the {} lookup reads no chain header", r.lookup.id()),
    };
    if chain_len <= 1 {
        return Ok(format!(
            "not needed: the certificate is issued by the CA itself ({what})"
        ));
    }
    if sent.is_some() {
        return Ok(what);
    }
    let fix = match (kind, &wanted) {
        (Proxy::Haproxy, Some(h)) => format!(
            "{} and the lookup's {} (labs/11-proxies, step 3)",
            "`http-request set-header H %[ssl_c_chain_der,base64] if { ssl_c_used } { ssl_c_chain_der -m found }`".replace('H', h),
            r.option("ssl-cert-chain", h)
        ),
        (Proxy::Apache, Some(h)) => format!(
            "{} and the lookup's {}",
            set_fix(kind, h, "%{SSL_CLIENT_CERT_CHAIN_0}s"),
            r.option("ssl-cert-chain-prefix", h.trim_end_matches("_0"))
        ),
        (Proxy::Nginx, _) => "nginx has no variable for the client's chain: put the intermediate CA in Keycloak's truststore (--truststore-paths) so the nginx lookup can rebuild it, or issue client certificates from the root".into(),
        (Proxy::Caddy, _) => "Caddy 2.6 has no placeholder for the client's chain (README: Caddy in front): issue client certificates from the root Keycloak trusts, or put HAProxy or httpd in front, which forward it".into(),
        _ => format!("forward the chain in the header the {} lookup reads", r.lookup.id()),
    };
    Err((
        format!(
            "the certificate came with {} intermediate CA(s), and {what}: the provider cannot follow it to the CA it trusts",
            chain_len - 1
        ),
        fix,
    ))
}

/// Whether `addr` is in `trusted` (addresses or CIDR ranges, as Keycloak's
/// proxy-trusted-addresses).
fn trusts(trusted: &[String], addr: &str) -> bool {
    let Ok(ip) = addr.parse::<std::net::IpAddr>() else {
        return trusted.iter().any(|t| t == addr);
    };
    trusted.iter().any(|t| match t.split_once('/') {
        None => t.parse::<std::net::IpAddr>().is_ok_and(|x| x == ip),
        Some((net, bits)) => match (net.parse::<std::net::IpAddr>(), bits.parse::<u32>(), ip) {
            (Ok(std::net::IpAddr::V4(n)), Ok(b), std::net::IpAddr::V4(a)) if b <= 32 => {
                let mask = u32::MAX.checked_shl(32 - b).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (Ok(std::net::IpAddr::V6(n)), Ok(b), std::net::IpAddr::V6(a)) if b <= 128 => {
                let mask = u128::MAX.checked_shl(128 - b).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        },
    })
}

fn source(kind: Proxy, r: &Reads, o: &Observed) -> Verdict {
    let from = match (&o.source, kind) {
        (Some(a), _) => a.clone(),
        (None, Proxy::Caddy) => {
            return Ok("Caddy 2.6 cannot choose its source address: it connects from this host's own, which every local program shares (README: Caddy in front)".into());
        }
        (None, _) => {
            return Ok("no source address set (proxy_bind, source, ProxySourceAddress): the proxy connects from its host's address; the provider must trust that one only".into());
        }
    };
    if r.trusted.is_empty() {
        return Ok(format!(
            "the proxy connects from {from}; not compared: give the provider's proxy-trusted-addresses with --proxy-trusted-addresses"
        ));
    }
    if trusts(&r.trusted, &from) {
        return Ok(format!("{from}, trusted ({})", r.trusted.join(", ")));
    }
    Err((
        format!(
            "the proxy connects from {from}; the provider trusts the header from {} only, so it ignores it",
            r.trusted.join(", ")
        ),
        format!(
            "make them one address: Keycloak's --proxy-trusted-addresses={from} (our servers: --trusted-proxy {from}), or the proxy's {}",
            match kind {
                Proxy::Nginx => "proxy_bind",
                Proxy::Haproxy => "`source` on its server lines",
                _ => "ProxySourceAddress",
            }
        ),
    ))
}

fn strips(kind: Proxy, r: &Reads, o: &Observed) -> Verdict {
    let mut read: Vec<String> = vec![r.header.clone()];
    read.extend(r.chain_header.clone());
    read.extend(r.chain_prefix.as_ref().map(|p| format!("{p}_0")));
    let kept: Vec<&String> = read.iter().filter(|h| !o.replaces(h)).collect();
    if kept.is_empty() {
        return Ok(format!(
            "{} removed or overwritten on every request",
            read.join(", ")
        ));
    }
    let how = |h: &str| match kind {
        Proxy::Nginx => format!(
            "`proxy_set_header {h} $ssl_client_escaped_cert;` (nginx replaces the client's)"
        ),
        Proxy::Haproxy => format!("`http-request del-header {h}` before the set-header"),
        Proxy::Apache => format!("`RequestHeader unset {h} early`"),
        Proxy::Caddy | Proxy::None => format!("`request_header -{h}`"),
    };
    Err((
        format!(
            "a client's own {} reaches the provider (the proxy sets it only with a certificate, or not at all): anyone who can reach the proxy can claim a certificate without its key",
            kept.iter()
                .map(|h| h.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        format!(
            "remove it before setting it: {} (labs/11-proxies, step 4); Keycloak cannot tell a forged header from the proxy's",
            kept.iter().map(|h| how(h)).collect::<Vec<_>>().join("; ")
        ),
    ))
}

/// The header(s) the lookup would read for `chain` (the leaf first), composed as its proxy
/// writes them.
pub fn forged_headers(
    r: &Reads,
    chain: &[rustls_pki_types::CertificateDer<'_>],
) -> Vec<(String, String)> {
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    let Some(leaf) = chain.first() else {
        return Vec::new();
    };
    let rest = &chain[1..];
    let mut out = vec![(
        r.header.clone(),
        match r.lookup {
            Lookup::Nginx => url_encode(&pem(leaf)),
            Lookup::Haproxy => b64(leaf),
            Lookup::Apache => pem(leaf).replace('\n', " "),
            Lookup::Traefik => chain.iter().map(|c| b64(c)).collect::<Vec<_>>().join(","),
            Lookup::Rfc9440 => format!(":{}:", b64(leaf)),
            Lookup::Envoy => format!("Cert=\"{}\"", url_encode(&pem(leaf))),
        },
    )];
    if rest.is_empty() {
        return out;
    }
    match (r.lookup, &r.chain_header, &r.chain_prefix) {
        (Lookup::Haproxy, Some(h), _) => {
            let all: Vec<u8> = rest.iter().flat_map(|c| c.iter().copied()).collect();
            out.push((h.clone(), b64(&all)));
        }
        (Lookup::Rfc9440, Some(h), _) => out.push((
            h.clone(),
            rest.iter()
                .map(|c| format!(":{}:", b64(c)))
                .collect::<Vec<_>>()
                .join(", "),
        )),
        (Lookup::Apache, _, Some(p)) => {
            for (i, c) in rest.iter().enumerate() {
                out.push((format!("{p}_{i}"), pem(c).replace('\n', " ")));
            }
        }
        _ => {}
    }
    out
}

fn pem(der: &[u8]) -> String {
    let b = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The differential probe: the token request without a certificate, the lookup's header(s)
/// forged with this certificate. `None` when it cannot be sent (the files do not load).
async fn spoof(
    s: &Settings,
    kind: Proxy,
    r: &Reads,
    loaded: &Loaded,
    genuine: bool,
) -> Option<Verdict> {
    let (Ok(roots), Ok(chain)) = (&loaded.ca, &loaded.chain) else {
        return None;
    };
    let http = Http::new(roots, None, None).ok()?;
    let endpoint = crate::discovery::discover(&http, &s.issuer)
        .await
        .ok()?
        .token_endpoint_for_mtls()
        .clone();
    let headers = forged_headers(r, chain);
    let names: Vec<&str> = headers.iter().map(|(h, _)| h.as_str()).collect();
    let mut request = http.post(endpoint.clone()).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", s.client_id.as_str()),
    ]);
    for (h, v) in &headers {
        request = request.header(h.as_str(), v.as_str());
    }
    let reply = match crate::http::send_json(&http, request, &endpoint).await {
        Ok(reply) => reply,
        Err(e) => {
            return Some(Ok(format!(
                "the proxy refused a request without a certificate: {}",
                playbook::report::error_chain(&e)
            )));
        }
    };
    let sent = format!(
        "no certificate, {} forged with this certificate ({} lookup's shape)",
        names.join(" and "),
        r.lookup.id()
    );
    if reply.status.is_success() && reply.json["access_token"].is_string() {
        let strip = strips(kind, r, &Observed::default())
            .err()
            .map(|(_, fix)| fix)
            .unwrap_or_default();
        return Some(Err((
            format!(
                "{sent}: {} and a token for {}: the proxy passes a client's own header on, and the provider believes it",
                reply.status.as_u16(),
                s.client_id.as_str()
            ),
            format!(
                "{strip}; and the provider must trust the header from the proxy's address only (proxy-trusted-addresses)"
            ),
        )));
    }
    let answer = format!(
        "{} {}",
        reply.status.as_u16(),
        reply.json["error"].as_str().unwrap_or("")
    );
    Some(Ok(if genuine {
        format!("{sent}: refused ({answer}), while the certificate itself gets a token")
    } else {
        format!(
            "{sent}: refused ({answer}); not conclusive: the request with the certificate is refused too"
        )
    }))
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
    fn trusted_addresses_match_as_keycloak_lists_them() {
        let t = vec!["127.0.0.2".to_owned(), "10.0.0.0/8".to_owned()];
        assert!(trusts(&t, "127.0.0.2"));
        assert!(trusts(&t, "10.1.2.3"));
        assert!(!trusts(&t, "127.0.0.1"));
    }

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

    #[test]
    fn a_url_encoded_pem_keeps_only_unreserved_characters() {
        assert_eq!(url_encode("a+b/=\n"), "a%2Bb%2F%3D%0A");
    }
}
