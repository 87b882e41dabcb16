//! `client doctor --proxy KIND` against broken proxies, as data: each row runs the real
//! proxy (nginx, HAProxy, Apache httpd, Caddy: `proxy/KIND.sh run`) with its shipped
//! configuration broken one way (lab 11's breaks: the certificate hex-encoded, the chain
//! dropped, a client's own header not removed; and a proxy that does not ask for a
//! certificate, a header name or an encoding the lookup does not read, a source address the
//! provider does not trust) in front of a provider reading the certificate from the header,
//! and asserts doctor's first ✘ (the cause), a word of its fix, and the other ✘ it implies.
//!
//! The embedded provider runs every row (`each_proxy_breakage_is_named_on_the_embedded_provider`);
//! native Keycloak 26.7.5 with the `haproxy` lookup runs the HAProxy rows
//! (`doctor_proxy_rows_on_native_keycloak`, `#[ignore]`d, in scripts/test.sh's native
//! suite), and its log must hold the lines doctor names for each cause.
//!
//! Needs nginx, haproxy, apache2 and caddy (`.ci/run` installs them): the tests never skip.

mod common;

#[path = "../../resource-server/tests/support/nginx.rs"]
mod proxy;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use playbook::forwarded::{Format, ProxyArgs};
use playbook::pki::DevPki;
use proxy::{Kind, Proxy, free_port};
use serde_json::Value;
use supervisor::servers::{ProviderSpec, start_provider};

/// What the provider's lookup reads (both the provider's options and doctor's flags).
#[derive(Clone, Copy, PartialEq)]
struct Lookup {
    format: Format,
    header: &'static str,
    chain: Option<&'static str>,
    prefix: Option<&'static str>,
    trusted: [u8; 4],
}

const NGINX: Lookup = Lookup {
    format: Format::Nginx,
    header: "ssl-client-cert",
    chain: None,
    prefix: None,
    trusted: proxy::PROXY_SOURCE,
};
const HAPROXY: Lookup = Lookup {
    format: Format::Haproxy,
    header: "x-ssl-client-cert",
    chain: Some("x-ssl-client-chain"),
    prefix: None,
    trusted: proxy::PROXY_SOURCE,
};
const APACHE: Lookup = Lookup {
    format: Format::Apache,
    header: "ssl-client-cert",
    chain: None,
    prefix: Some("ssl-client-cert-chain"),
    trusted: proxy::PROXY_SOURCE,
};
const CADDY: Lookup = Lookup {
    format: Format::Rfc9440,
    header: "client-cert",
    chain: Some("client-cert-chain"),
    prefix: None,
    trusted: [127, 0, 0, 1],
};

/// One broken proxy: the proxy, how its shipped template is broken, the certificate (a stem
/// in the certificates' directory), the lookup, more of the driver's settings, the first ✘
/// (`None`: healthy), a word of its fix, other checks that must be ✘, and whether native
/// Keycloak with the `haproxy` lookup runs it too.
struct Row {
    name: &'static str,
    kind: Kind,
    brk: fn(String) -> String,
    cert: &'static str,
    lookup: Lookup,
    env: &'static [(&'static str, &'static str)],
    cause: Option<&'static str>,
    fix_word: &'static str,
    also: &'static [&'static str],
    native: bool,
}

fn shipped(t: String) -> String {
    t
}

/// `t` without the lines containing `needle`.
fn without(t: &str, needle: &str) -> String {
    let out: Vec<&str> = t.lines().filter(|l| !l.contains(needle)).collect();
    assert!(out.len() < t.lines().count(), "no line has {needle:?}");
    out.join("\n") + "\n"
}

const ROWS: &[Row] = &[
    Row {
        name: "nginx as shipped",
        kind: Kind::Nginx,
        brk: shipped,
        cert: "client",
        lookup: NGINX,
        env: &[],
        cause: None,
        fix_word: "",
        also: &[],
        native: true,
    },
    Row {
        name: "nginx does not ask for a client certificate",
        kind: Kind::Nginx,
        brk: |t| t.replacen("ssl_verify_client optional;", "", 1),
        cert: "client",
        lookup: NGINX,
        env: &[],
        cause: Some("certificate-request"),
        fix_word: "ssl_verify_client optional",
        also: &["token"],
        native: true,
    },
    Row {
        name: "nginx sets ssl-client-cert, the lookup reads x-ssl-client-cert",
        kind: Kind::Nginx,
        brk: shipped,
        cert: "client",
        lookup: Lookup {
            header: "x-ssl-client-cert",
            ..NGINX
        },
        env: &[],
        cause: Some("proxy-header"),
        fix_word: "--spi-x509cert-lookup--nginx--ssl-client-cert=ssl-client-cert",
        also: &["proxy-strips", "proxy-spoof", "proxy-forwarding", "token"],
        native: false,
    },
    Row {
        name: "nginx: the location sets its own proxy_set_header (the certificate's not inherited)",
        kind: Kind::Nginx,
        brk: |t| {
            t.replacen(
                "proxy_pass https://provider;",
                "proxy_pass https://provider;\n            proxy_set_header Host $http_host;",
                1,
            )
        },
        cert: "client",
        lookup: NGINX,
        env: &[],
        cause: Some("proxy-header"),
        fix_word: "proxy_set_header ssl-client-cert $ssl_client_escaped_cert;",
        also: &["proxy-strips", "proxy-spoof", "proxy-forwarding", "token"],
        native: true,
    },
    Row {
        name: "nginx and the right DN from an untrusted CA (walkthrough step 3b)",
        kind: Kind::Nginx,
        brk: shipped,
        cert: "rogue-client",
        lookup: NGINX,
        env: &[],
        cause: Some("chain"),
        fix_word: "answers 401 invalid_client itself",
        also: &["token"],
        native: true,
    },
    Row {
        name: "HAProxy as shipped",
        kind: Kind::Haproxy,
        brk: shipped,
        cert: "client",
        lookup: HAPROXY,
        env: &[],
        cause: None,
        fix_word: "",
        also: &[],
        native: true,
    },
    Row {
        name: "HAProxy as shipped, a client of an intermediate CA with its chain",
        kind: Kind::Haproxy,
        brk: shipped,
        cert: "inter-right",
        lookup: HAPROXY,
        env: &[],
        cause: None,
        fix_word: "",
        also: &[],
        native: true,
    },
    Row {
        name: "HAProxy: the certificate hex-encoded (lab 11)",
        kind: Kind::Haproxy,
        brk: |t| t.replace("%[ssl_c_der,base64]", "%[ssl_c_der,hex]"),
        cert: "client",
        lookup: HAPROXY,
        env: &[],
        cause: Some("proxy-encoding"),
        fix_word: "%[ssl_c_der,base64]",
        also: &["proxy-forwarding", "token"],
        native: true,
    },
    Row {
        name: "HAProxy: the chain dropped (lab 11)",
        kind: Kind::Haproxy,
        brk: |t| {
            without(
                &t,
                "x-ssl-client-chain %[ssl_c_chain_der,base64] if { ssl_c_used }",
            )
        },
        cert: "inter-right",
        lookup: HAPROXY,
        env: &[],
        cause: Some("proxy-chain"),
        fix_word: "ssl_c_chain_der",
        also: &["proxy-forwarding", "token"],
        native: true,
    },
    Row {
        name: "HAProxy: a client's own header not removed (lab 11)",
        kind: Kind::Haproxy,
        brk: |t| without(&t, "del-header x-ssl-client-cert"),
        cert: "client",
        lookup: HAPROXY,
        env: &[],
        cause: Some("proxy-strips"),
        fix_word: "del-header x-ssl-client-cert",
        also: &["proxy-spoof"],
        native: true,
    },
    Row {
        name: "HAProxy sets the certificate under another name",
        kind: Kind::Haproxy,
        brk: |t| {
            t.replace(
                "set-header x-ssl-client-cert %[ssl_c_der,base64] if { ssl_c_used }",
                "set-header ssl-client-cert %[ssl_c_der,base64] if { ssl_c_used }",
            )
        },
        cert: "client",
        lookup: HAPROXY,
        env: &[],
        cause: Some("proxy-header"),
        fix_word: "ssl-client-cert",
        also: &["proxy-forwarding", "token"],
        native: true,
    },
    Row {
        name: "HAProxy forwards certificates it did not verify (no ssl_c_verify check)",
        kind: Kind::Haproxy,
        brk: |t| without(&t, "ssl_c_verify"),
        cert: "client",
        lookup: HAPROXY,
        env: &[],
        cause: Some("proxy-verifies"),
        fix_word: "!{ ssl_c_verify 0 }",
        also: &[],
        native: true,
    },
    Row {
        name: "HAProxy forwards an untrusted CA's certificate it did not verify",
        kind: Kind::Haproxy,
        brk: |t| without(&t, "ssl_c_verify"),
        cert: "rogue-client",
        lookup: HAPROXY,
        env: &[],
        cause: Some("chain"),
        fix_word: "",
        also: &["proxy-verifies", "token"],
        native: true,
    },
    Row {
        name: "HAProxy connects from 127.0.0.3, the provider trusts 127.0.0.2",
        kind: Kind::Haproxy,
        brk: shipped,
        cert: "client",
        lookup: HAPROXY,
        env: &[("PROXY_SOURCE", "127.0.0.3")],
        cause: Some("proxy-source"),
        fix_word: "--proxy-trusted-addresses=127.0.0.3",
        also: &["proxy-forwarding", "token"],
        native: true,
    },
    Row {
        name: "Apache httpd as shipped",
        kind: Kind::Apache,
        brk: shipped,
        cert: "client",
        lookup: APACHE,
        env: &[],
        cause: None,
        fix_word: "",
        also: &[],
        native: true,
    },
    Row {
        name: "Apache httpd: a client's own header not removed",
        kind: Kind::Apache,
        brk: |t| without(&t, "RequestHeader unset ssl-client-cert early"),
        cert: "client",
        lookup: APACHE,
        env: &[],
        cause: Some("proxy-strips"),
        fix_word: "RequestHeader unset ssl-client-cert early",
        also: &["proxy-spoof"],
        native: true,
    },
    Row {
        name: "Apache httpd forwards the PEM, the provider's lookup is haproxy's",
        kind: Kind::Apache,
        brk: shipped,
        cert: "client",
        lookup: Lookup {
            format: Format::Haproxy,
            chain: None,
            prefix: None,
            ..APACHE
        },
        env: &[],
        cause: Some("proxy-encoding"),
        fix_word: "--spi-x509cert-lookup--provider=apache",
        also: &["proxy-forwarding", "token"],
        native: false,
    },
    Row {
        name: "Caddy as shipped",
        kind: Kind::Caddy,
        brk: shipped,
        cert: "client",
        lookup: CADDY,
        env: &[],
        cause: None,
        fix_word: "",
        also: &[],
        native: true,
    },
    Row {
        name: "Caddy and a client of an intermediate CA (Caddy 2.6 forwards no chain)",
        kind: Kind::Caddy,
        brk: shipped,
        cert: "inter-right",
        lookup: CADDY,
        env: &[],
        cause: Some("proxy-chain"),
        fix_word: "Caddy 2.6",
        also: &["token"],
        native: true,
    },
    Row {
        name: "Caddy and the right DN from an untrusted CA (walkthrough step 3b)",
        kind: Kind::Caddy,
        brk: shipped,
        cert: "rogue-client",
        lookup: CADDY,
        env: &[],
        cause: Some("chain"),
        fix_word: "trusted_ca_cert_file",
        also: &["handshake", "token"],
        native: true,
    },
    Row {
        name: "Caddy: a client's own Client-Cert not removed",
        kind: Kind::Caddy,
        brk: |t| {
            let kept: Vec<&str> = t
                .lines()
                .filter(|l| l.trim() != "request_header -Client-Cert")
                .collect();
            kept.join("\n") + "\n"
        },
        cert: "client",
        lookup: CADDY,
        env: &[],
        cause: Some("proxy-strips"),
        fix_word: "request_header -client-cert",
        also: &["proxy-spoof"],
        native: true,
    },
];

impl Lookup {
    fn id(self) -> &'static str {
        self.format.keycloak_lookup()
    }

    /// The provider's options for it (the embedded provider reads as Keycloak does).
    fn provider_args(self) -> ProxyArgs {
        ProxyArgs {
            trusted_proxies: vec![IpAddr::from(self.trusted)],
            client_cert_header: Some(self.header.into()),
            client_cert_format: self.format,
            client_cert_chain_prefix: self.prefix.map(Into::into),
            client_cert_chain_header: self.chain.map(Into::into),
            ..ProxyArgs::default()
        }
    }

    /// doctor's flags for it.
    fn flags(self) -> Vec<String> {
        let mut f = vec![
            "--x509-lookup".into(),
            self.id().into(),
            "--ssl-client-cert".into(),
            self.header.into(),
            "--proxy-trusted-addresses".into(),
            IpAddr::from(self.trusted).to_string(),
        ];
        if let Some(c) = self.chain {
            f.extend(["--ssl-cert-chain".into(), c.into()]);
        }
        if let Some(p) = self.prefix {
            f.extend(["--ssl-cert-chain-prefix".into(), p.into()]);
        }
        f
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Nginx => "nginx",
        Kind::Haproxy => "haproxy",
        Kind::Apache => "apache",
        Kind::Caddy => "caddy",
    }
}

/// The shipped template and the file its driver renders, by kind.
fn files(kind: Kind) -> (&'static str, &'static str, &'static str) {
    match kind {
        Kind::Nginx => ("nginx/nginx.conf.in", "NGINX_TEMPLATE", "nginx.conf"),
        Kind::Haproxy => ("haproxy/haproxy.cfg.in", "HAPROXY_TEMPLATE", "haproxy.cfg"),
        Kind::Apache => ("apache/httpd.conf.in", "APACHE_TEMPLATE", "httpd.conf"),
        Kind::Caddy => ("caddy/Caddyfile.in", "CADDY_TEMPLATE", "Caddyfile"),
    }
}

/// The intermediate CA and the realm's DN under it, made with `client certs` in `dir`.
fn make_certificates(dir: &Path) {
    common::doctor::certs(
        dir,
        &[
            &["intermediate"],
            &["issue", "inter-right", "--signed-by", "intermediate-ca"],
        ],
    );
}

/// The role given to the mTLS client's service account, as the bootstrap admin, at `base`.
async fn give_role(dir: &Path, base: &str) {
    let s = common::settings_for(dir, base, "https://localhost:1");
    common::doctor::admin_with_role(&s).await;
}

/// Runs `row`'s broken proxy on `front` in front of `backend`, then `client doctor --json`
/// through it (`text`: the narration instead, returned as a JSON string); the row's problems
/// (empty when right) and doctor's JSON.
async fn run_row(
    row: &Row,
    dir: &Path,
    front: u16,
    backend: SocketAddr,
    text: bool,
) -> (Vec<String>, Value) {
    let (template, var, rendered) = files(row.kind);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../proxy");
    let stock = std::fs::read_to_string(root.join(template)).unwrap();
    let run = tempfile::tempdir().unwrap();
    let broken = run.path().join("template");
    std::fs::write(&broken, (row.brk)(stock)).unwrap();
    let mut env: Vec<(&str, String)> = vec![(var, broken.display().to_string())];
    env.extend(row.env.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let proxy_dir = run.path().join("proxy");
    let proxy = tokio::task::block_in_place(|| {
        Proxy::start_kind(row.kind, dir, &proxy_dir, front, backend, &[backend], &env)
    });
    let s = common::settings_for(dir, &proxy.provider_url(), "https://localhost:1");
    let config: PathBuf = proxy_dir.join(rendered);
    let mut args: Vec<String> = vec![
        if text { "--wait=10" } else { "--json" }.into(),
        "--proxy".into(),
        kind_name(row.kind).into(),
        "doctor".into(),
        "--proxy-config".into(),
        config.display().to_string(),
    ];
    args.extend(row.lookup.flags());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let client_env = [
        ("ADMIN_AS", "bootstrap".to_owned()),
        (
            "CLIENT_CERT",
            dir.join(format!("{}.pem", row.cert)).display().to_string(),
        ),
        (
            "CLIENT_KEY",
            dir.join(format!("{}.key.pem", row.cert))
                .display()
                .to_string(),
        ),
    ];
    let out = common::client_in(dir, &s, &client_env, &args).await;
    drop(proxy);
    if text {
        return (Vec::new(), Value::String(common::text(&out)));
    }
    let json: Value = match serde_json::from_slice(&out.stdout) {
        Ok(j) => j,
        Err(e) => {
            return (
                vec![format!(
                    "{}: no JSON ({e}): {}",
                    row.name,
                    common::text(&out)
                )],
                Value::Null,
            );
        }
    };
    (check(row, &json, out.status.success()), json)
}

/// The row's expectations against doctor's JSON.
fn check(row: &Row, json: &Value, success: bool) -> Vec<String> {
    let e = common::doctor::Expect {
        name: row.name,
        cause: row.cause,
        fix_word: row.fix_word,
        also: row.also,
    };
    let mut wrong = common::doctor::check(&e, json, success);
    if !wrong.is_empty() {
        return wrong;
    }
    let all = common::doctor::findings(json);
    // Every row behind a proxy reads its configuration and probes a forged header.
    for c in ["proxy-config", "proxy-spoof", "proxy-forwarding"] {
        if !all.iter().any(|f| f["check"] == c) {
            wrong.push(format!("{}: no {c} finding", row.name));
        }
    }
    if json["proxy"]["observed"]["section"]
        .as_str()
        .is_none_or(|s| s.contains("serves port"))
    {
        wrong.push(format!(
            "{}: the proxy's part was not found: {}",
            row.name, json["proxy"]
        ));
    }
    wrong
}

/// Every row in front of the embedded provider, configured per row with the row's lookup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_proxy_breakage_is_named_on_the_embedded_provider() {
    playbook::install_crypto_provider();
    let pki = DevPki::generate(2, 1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    playbook::pki::write_files(dir.path(), &pki.files().unwrap(), false).unwrap();
    make_certificates(dir.path());
    let roots = vec![pki.ca.cert.cert_der.clone()];
    let mut wrong = Vec::new();
    for row in ROWS {
        let mut spec = ProviderSpec::dev(&pki).unwrap();
        let forwarded = row.lookup.provider_args().build(&roots).unwrap().unwrap();
        spec.options.forwarded = Some(Arc::new(forwarded.as_keycloak()));
        let provider = start_provider(spec).await.unwrap();
        give_role(dir.path(), &provider.url).await;
        let backend = proxy::loopback_addr(&provider.url);
        let (problems, _) = run_row(row, dir.path(), free_port(), backend, false).await;
        wrong.extend(problems);
        provider.stop().await.unwrap();
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[allow(dead_code)]
#[path = "../../oauth2-provider/tests/support/native.rs"]
mod native;

/// Keycloak's options for `lookup` (`--spi-x509cert-lookup--provider` and its own options, as
/// `proxy/<proxy>.sh env` prints them; rfc9440 reads its default headers).
fn keycloak_env(lookup: Lookup) -> Vec<(String, String)> {
    let id = lookup.id();
    let option = |name: &str| format!("KC_SPI_X509CERT_LOOKUP__{}__{name}", id.to_uppercase());
    let mut env = vec![("KC_SPI_X509CERT_LOOKUP__PROVIDER".to_owned(), id.to_owned())];
    if lookup.format != playbook::forwarded::Format::Rfc9440 {
        env.push((option("SSL_CLIENT_CERT"), lookup.header.to_owned()));
    }
    if let Some(chain) = lookup
        .chain
        .filter(|_| lookup.format != playbook::forwarded::Format::Rfc9440)
    {
        env.push((option("SSL_CERT_CHAIN"), chain.to_owned()));
    }
    if let Some(prefix) = lookup.prefix {
        env.push((option("SSL_CERT_CHAIN_PREFIX"), prefix.to_owned()));
    }
    env
}

/// The rows in front of native Keycloak 26.7.5, one start per shipped lookup (nginx,
/// haproxy, apache, rfc9440: each proxy's driver pairing; DEBUG on the lookups' and the X.509
/// authenticator's loggers); then, for each row's cause (and a forged header that passed),
/// the lines doctor says Keycloak logs must be in that start's log. The rows whose provider
/// reads another header or format than the proxy's driver pairs (a mismatch made on purpose)
/// run on the embedded provider only; the HAProxy "another name" row stands for them here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Java 17+, nginx, haproxy, apache2 and caddy: cargo test -p client --test doctor_proxy -- --ignored"]
async fn doctor_proxy_rows_on_native_keycloak() {
    playbook::install_crypto_provider();
    let pki = Arc::new(DevPki::generate(2, 1).unwrap());
    let dir = tempfile::tempdir().unwrap();
    playbook::pki::write_files(dir.path(), &pki.files().unwrap(), false).unwrap();
    make_certificates(dir.path());
    // One front port for every row: Keycloak's hostname names it.
    let front = free_port();
    let mut wrong = Vec::new();
    for lookup in [HAPROXY, NGINX, APACHE, CADDY] {
        let started = std::time::Instant::now();
        let mut env = keycloak_env(lookup);
        env.extend([
            ("KC_PROXY_HEADERS".to_owned(), "xforwarded".to_owned()),
            (
                "KC_PROXY_TRUSTED_ADDRESSES".to_owned(),
                IpAddr::from(lookup.trusted).to_string(),
            ),
            (
                "KC_LOG_LEVEL".to_owned(),
                "INFO,org.keycloak.services.x509:debug,org.keycloak.authentication.authenticators.client.X509ClientAuthenticator:debug".to_owned(),
            ),
            ("PROVIDER_URL".to_owned(), format!("https://localhost:{front}")),
        ]);
        let keycloak = tokio::task::spawn_blocking({
            let pki = Arc::clone(&pki);
            move || {
                let env: Vec<(&str, String)> =
                    env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
                native::NativeKeycloak::start_with(&pki, "doctor-proxy-tests", &env)
            }
        })
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("the native Keycloak ({}) did not start: {e}", lookup.id()));
        give_role(dir.path(), &keycloak.base_url).await;
        let backend = proxy::loopback_addr(&keycloak.base_url);
        let mut causes = Vec::new();
        for row in ROWS.iter().filter(|r| r.native && r.lookup == lookup) {
            let (problems, _) = run_row(row, dir.path(), front, backend, false).await;
            if problems.is_empty() {
                causes.extend(row.cause);
                // The proxy's findings that are not the cause but leave a line in the log.
                causes.extend(
                    row.also
                        .iter()
                        .filter(|c| ["proxy-spoof", "proxy-verifies"].contains(*c)),
                );
            }
            wrong.extend(problems);
        }
        if lookup == HAPROXY {
            // One row as people read it (the README shows it): lab 11's hex encoding.
            let hex = ROWS.iter().find(|r| r.name.contains("hex")).unwrap();
            let (_, text) = run_row(hex, dir.path(), front, backend, true).await;
            println!("{}", text.as_str().unwrap_or_default());
        }
        let log = keycloak.log_tail(1_000_000);
        let missing = client::doctor::keycloak_log::missing_in_lookup(&log, causes, lookup.id());
        if !missing.is_empty() {
            wrong.extend(missing);
            wrong.push(format!(
                "--- Keycloak's log ({}) ---\n{}",
                lookup.id(),
                keycloak.log_tail(60)
            ));
        }
        drop(keycloak);
        println!(
            "the {} lookup's rows took {:.0?}",
            lookup.id(),
            started.elapsed()
        );
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// `--offline`: the configuration alone is read (lab 11's hint), no server asked: the hex
/// break is named, and nothing else of the proxy's is ✘.
#[tokio::test]
async fn offline_the_configuration_alone_names_the_break() {
    let pki = DevPki::generate(1, 1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    playbook::pki::write_files(dir.path(), &pki.files().unwrap(), false).unwrap();
    let stock = include_str!("../../proxy/haproxy/haproxy.cfg.in");
    let config = dir.path().join("haproxy.cfg");
    std::fs::write(
        &config,
        stock.replace("%[ssl_c_der,base64]", "%[ssl_c_der,hex]"),
    )
    .unwrap();
    let s = common::settings_for(dir.path(), "https://localhost:1", "https://localhost:2");
    let args = [
        "--json",
        "--proxy",
        "haproxy",
        "doctor",
        "--offline",
        "--proxy-config",
        config.to_str().unwrap(),
    ];
    let out = common::client_in(dir.path(), &s, &[], &args).await;
    assert!(!out.status.success(), "{}", common::text(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let failed: Vec<&str> = json["online"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["ok"] == false)
        .filter_map(|f| f["check"].as_str())
        .collect();
    assert_eq!(failed, ["proxy-encoding"], "{json:#}");
    assert_eq!(json["proxy"]["kind"], "HAProxy");
}
