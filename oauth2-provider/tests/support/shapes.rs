//! The header shapes' cases, shared by the native recording (`keycloak_native_shapes.rs`)
//! and the embedded provider's check (`proxy_shapes.rs`): for each of Keycloak's six
//! x509cert-lookups, token requests with the client certificate in the header composed
//! exactly as that proxy writes it (and broken in the ways proxies break it), sent from the
//! trusted proxy's address (127.0.0.2) or from elsewhere. Each answer is normalised to
//! `{status, error, cnf}` (`cnf`: whose certificate the token is bound to) and kept per
//! shape in `tests/golden/proxy/<shape>.json`, recorded from native Keycloak.

use std::net::IpAddr;
use std::path::PathBuf;

use playbook::forwarded::shapes::compose;
use playbook::forwarded::{ChainOptions, Format, nginx_escape};
use playbook::names;
use playbook::pki::{CertificateAuthority, DevPki, Issued, Validity};
use serde_json::{Value, json};

/// The address the tests' "proxy" sends from; Keycloak trusts it (`proxy-trusted-addresses`).
pub const PROXY: [u8; 4] = [127, 0, 0, 2];
/// A client that reaches the back end directly.
pub const DIRECT: [u8; 4] = [127, 0, 0, 1];

/// Every shape Keycloak 26.7.5 reads, in the order they are recorded.
pub const SHAPES: [Format; 6] = [
    Format::Nginx,
    Format::Haproxy,
    Format::Apache,
    Format::Traefik,
    Format::Xfcc,
    Format::Rfc9440,
];

/// The certificate header each shape is configured with here, and the chain options.
pub fn setup(format: Format) -> (&'static str, ChainOptions) {
    let header = |h: &str| Some(axum::http::HeaderName::try_from(h).expect("header name"));
    match format {
        Format::Nginx => ("ssl-client-cert", ChainOptions::default()),
        Format::Haproxy => (
            "x-ssl-client-cert",
            ChainOptions {
                header: header("x-ssl-client-chain"),
                ..Default::default()
            },
        ),
        Format::Apache => (
            "ssl-client-cert",
            ChainOptions {
                prefix: Some("ssl-client-cert-chain".into()),
                ..Default::default()
            },
        ),
        Format::Traefik => ("x-forwarded-tls-client-cert", ChainOptions::default()),
        Format::Xfcc => ("x-forwarded-client-cert", ChainOptions::default()),
        Format::Rfc9440 => (
            "client-cert",
            ChainOptions {
                header: header("client-cert-chain"),
                ..Default::default()
            },
        ),
    }
}

/// Keycloak's settings for the shape: the lookup (a build-time option, so its own cached
/// build) and its options, plus the proxy trust every lookup checks.
pub fn keycloak_env(format: Format) -> Vec<(&'static str, String)> {
    let mut env = vec![
        (
            "KC_SPI_X509CERT_LOOKUP__PROVIDER",
            format.keycloak_lookup().to_owned(),
        ),
        ("KC_PROXY_HEADERS", "xforwarded".into()),
        (
            "KC_PROXY_TRUSTED_ADDRESSES",
            IpAddr::from(PROXY).to_string(),
        ),
    ];
    let (header, _) = setup(format);
    match format {
        Format::Nginx => env.push((
            "KC_SPI_X509CERT_LOOKUP__NGINX__SSL_CLIENT_CERT",
            header.into(),
        )),
        Format::Haproxy => {
            env.push((
                "KC_SPI_X509CERT_LOOKUP__HAPROXY__SSL_CLIENT_CERT",
                header.into(),
            ));
            env.push((
                "KC_SPI_X509CERT_LOOKUP__HAPROXY__SSL_CERT_CHAIN",
                "x-ssl-client-chain".into(),
            ));
        }
        Format::Apache => {
            env.push((
                "KC_SPI_X509CERT_LOOKUP__APACHE__SSL_CLIENT_CERT",
                header.into(),
            ));
            env.push((
                "KC_SPI_X509CERT_LOOKUP__APACHE__SSL_CERT_CHAIN_PREFIX",
                "ssl-client-cert-chain".into(),
            ));
        }
        // Fixed header names (envoy, traefik) or the defaults (rfc9440).
        Format::Traefik | Format::Xfcc | Format::Rfc9440 => {}
    }
    env
}

/// One token request: from where, with which headers.
pub struct Case {
    pub name: &'static str,
    pub source: [u8; 4],
    pub headers: Vec<(String, String)>,
}

/// The headers the proxy writes for a client that presented `leaf` with `chain` (the
/// certificates after the leaf, as the proxy has them).
pub fn proxy_headers(format: Format, leaf: &Issued, chain: &[&Issued]) -> Vec<(String, String)> {
    let (header, _) = setup(format);
    let h = |v: String| (header.to_owned(), v);
    match format {
        // nginx forwards the leaf only ($ssl_client_escaped_cert).
        Format::Nginx => vec![h(nginx_escape(&leaf.cert_pem))],
        Format::Haproxy => {
            let mut out = vec![h(compose::haproxy_leaf(&leaf.cert_der))];
            if !chain.is_empty() {
                let ders: Vec<_> = chain.iter().map(|c| &c.cert_der).collect();
                out.push(("x-ssl-client-chain".into(), compose::haproxy_chain(&ders)));
            }
            out
        }
        Format::Apache => {
            let mut out = vec![h(compose::apache(&leaf.cert_pem))];
            for (i, c) in chain.iter().enumerate() {
                out.push((
                    format!("ssl-client-cert-chain_{i}"),
                    compose::apache(&c.cert_pem),
                ));
            }
            out
        }
        Format::Traefik => {
            let mut ders = vec![&leaf.cert_der];
            ders.extend(chain.iter().map(|c| &c.cert_der));
            vec![h(compose::traefik(&ders))]
        }
        Format::Xfcc => {
            let hash = compose::xfcc_hash(&leaf.cert_der);
            let cert = nginx_escape(&leaf.cert_pem);
            let mut value = format!("By=spiffe://playbook/api;Hash={hash};Cert=\"{cert}\"");
            if !chain.is_empty() {
                let mut pem = leaf.cert_pem.clone();
                for c in chain {
                    pem.push_str(&c.cert_pem);
                }
                value.push_str(&format!(";Chain=\"{}\"", nginx_escape(&pem)));
            }
            value.push_str(";Subject=\"CN=x\";URI=");
            vec![h(value)]
        }
        Format::Rfc9440 => {
            let mut out = vec![h(compose::rfc9440(&leaf.cert_der))];
            if !chain.is_empty() {
                let list: Vec<String> = chain
                    .iter()
                    .map(|c| compose::rfc9440(&c.cert_der))
                    .collect();
                out.push(("client-cert-chain".into(), list.join(", ")));
            }
            out
        }
    }
}

/// The chain cases' certificates (issue 23, item 3): the realm's client DN issued by an
/// intermediate CA under the dev CA, as `client certs intermediate` and `client certs issue
/// --signed-by intermediate-ca` make them (`CertificateAuthority::intermediate`, the same
/// code); the same under another CA; and under another CA whose root and intermediate carry
/// the dev CA's and the intermediate's names (a forged chain: only a signature tells it apart).
pub struct Chains {
    pub intermediate: CertificateAuthority,
    pub client: Issued,
    pub rogue_intermediate: CertificateAuthority,
    pub rogue_client: Issued,
    pub forged_intermediate: CertificateAuthority,
    pub forged_client: Issued,
}

impl Chains {
    pub fn new(pki: &DevPki) -> Chains {
        let days = Validity::days_from_now(1);
        let intermediate = pki
            .ca
            .intermediate(names::INTERMEDIATE_CA_SUBJECT_DN, days)
            .expect("intermediate CA");
        let client = intermediate
            .issue_client(names::CLIENT_SUBJECT_DN, days)
            .expect("intermediate client");
        let rogue_intermediate = pki
            .rogue_ca
            .intermediate("CN=Rogue Intermediate CA,O=Not The Playbook", days)
            .expect("rogue intermediate");
        let rogue_client = rogue_intermediate
            .issue_client(names::CLIENT_SUBJECT_DN, days)
            .expect("rogue intermediate client");
        let forged_root =
            CertificateAuthority::new(names::CA_SUBJECT_DN, days).expect("forged root");
        let forged_intermediate = forged_root
            .intermediate(names::INTERMEDIATE_CA_SUBJECT_DN, days)
            .expect("forged intermediate");
        let forged_client = forged_intermediate
            .issue_client(names::CLIENT_SUBJECT_DN, days)
            .expect("forged client");
        Chains {
            intermediate,
            client,
            rogue_intermediate,
            rogue_client,
            forged_intermediate,
            forged_client,
        }
    }
}

/// The chain cases, the same for every shape: the intermediate's client with its chain, the
/// chain dropped, longer than `certificate-chain-length` (1), in the wrong order, from another
/// CA, and forged with our CAs' names.
fn chain_cases(format: Format, pki: &DevPki, chains: &Chains) -> Vec<Case> {
    let via = |name, headers| Case {
        name,
        source: PROXY,
        headers,
    };
    let inter = &chains.intermediate.cert;
    let root = &pki.ca.cert;
    vec![
        via(
            "intermediate_with_chain",
            proxy_headers(format, &chains.client, &[inter]),
        ),
        via(
            "intermediate_chain_missing",
            proxy_headers(format, &chains.client, &[]),
        ),
        via(
            "intermediate_chain_too_long",
            proxy_headers(format, &chains.client, &[inter, root, &pki.other_client]),
        ),
        via(
            "intermediate_chain_wrong_order",
            proxy_headers(format, &chains.client, &[root, inter]),
        ),
        via(
            "intermediate_from_another_ca",
            proxy_headers(
                format,
                &chains.rogue_client,
                &[&chains.rogue_intermediate.cert],
            ),
        ),
        via(
            "intermediate_forged_with_our_names",
            proxy_headers(
                format,
                &chains.forged_client,
                &[&chains.forged_intermediate.cert],
            ),
        ),
    ]
}

/// Every case of one shape.
pub fn cases(format: Format, pki: &DevPki, chains: &Chains) -> Vec<Case> {
    let (header, _) = setup(format);
    let header = header.to_owned();
    let ca = &pki.ca.cert;
    let via = |name, headers| Case {
        name,
        source: PROXY,
        headers,
    };
    let leaf = proxy_headers(format, &pki.client, &[]);
    let mut twice = leaf.clone();
    twice.extend(proxy_headers(format, &pki.other_client, &[]));
    let mut all = vec![
        via("leaf", leaf.clone()),
        via(
            "leaf_and_ca_as_chain",
            proxy_headers(format, &pki.client, &[ca]),
        ),
        via("no_header", vec![]),
        via("empty_header", vec![(header.clone(), String::new())]),
        via("garbage", vec![(header.clone(), "hello".into())]),
        via(
            "other_client",
            proxy_headers(format, &pki.other_client, &[]),
        ),
        via("other_ca", proxy_headers(format, &pki.rogue_client, &[])),
        via("twice_right_first", twice),
        Case {
            name: "from_an_untrusted_address",
            source: DIRECT,
            headers: leaf.clone(),
        },
    ];
    let b64 = compose::haproxy_leaf(&pki.client.cert_der);
    match format {
        Format::Nginx => {
            // URL-encoding off at the proxy ($ssl_client_cert is not even one line; the
            // closest a header gets): base64's '+' becomes a space when Keycloak decodes.
            all.push(via(
                "not_url_encoded",
                vec![(header, compose::apache(&pki.client.cert_pem))],
            ));
        }
        Format::Haproxy => {
            let mut bad_chain = leaf.clone();
            bad_chain.push(("x-ssl-client-chain".into(), "hello".into()));
            all.push(via("chain_not_base64", bad_chain));
            all.push(via(
                "pem_leaf",
                vec![(header, compose::apache(&pki.client.cert_pem))],
            ));
        }
        Format::Apache => {
            let mut bad_chain = leaf.clone();
            bad_chain.push(("ssl-client-cert-chain_0".into(), "hello".into()));
            all.push(via("chain_not_a_certificate", bad_chain));
            all.push(via("bare_base64_leaf", vec![(header, b64)]));
        }
        Format::Traefik => {
            all.push(via(
                "chain_not_a_certificate",
                vec![(header.clone(), format!("{b64},hello"))],
            ));
            let ca64 = compose::haproxy_leaf(&ca.cert_der);
            all.push(via(
                "beyond_chain_length_not_read",
                vec![(header.clone(), format!("{b64},{ca64},hello"))],
            ));
            all.push(via("url_encoded", vec![(header, nginx_escape(&b64))]));
        }
        Format::Xfcc => {
            let cert = nginx_escape(&pki.client.cert_pem);
            let other = nginx_escape(&pki.other_client.cert_pem);
            all.push(via(
                "hash_wrong",
                vec![(
                    header.clone(),
                    format!("Hash={};Cert=\"{cert}\"", "0".repeat(64)),
                )],
            ));
            all.push(via(
                "unquoted_cert",
                vec![(header.clone(), format!("Cert={cert}"))],
            ));
            all.push(via(
                "chain_only",
                vec![(header.clone(), format!("Chain=\"{cert}\""))],
            ));
            all.push(via(
                "two_hops",
                vec![(
                    header.clone(),
                    format!("By=spiffe://a;Cert=\"{other}\",By=spiffe://b;Cert=\"{cert}\""),
                )],
            ));
            all.push(via(
                "no_cert_key",
                vec![(header, "By=spiffe://a;Subject=\"CN=x\"".into())],
            ));
        }
        Format::Rfc9440 => {
            let ca_seq = compose::rfc9440(&ca.cert_der);
            let mut long = leaf.clone();
            long.push(("client-cert-chain".into(), format!("{ca_seq}, {ca_seq}")));
            all.push(via("chain_longer_than_length", long));
            all.push(via("not_a_byte_sequence", vec![(header.clone(), b64)]));
            let mut bad_chain = leaf.clone();
            bad_chain.push(("client-cert-chain".into(), "hello".into()));
            all.push(via("chain_not_a_byte_sequence", bad_chain));
        }
    }
    all.extend(chain_cases(format, pki, chains));
    all
}

/// The mTLS client's token request to `base` from the case's source, presenting no
/// certificate of its own, with the case's headers; normalised.
pub async fn answer(pki: &DevPki, chains: &Chains, base: &str, case: &Case) -> Value {
    let (status, body) =
        super::forwarded::token_with(pki, base, case.source, None, &case.headers).await;
    let cnf = body["access_token"].as_str().map(|_| {
        let x5t = super::forwarded::claims(&body)["cnf"]["x5t#S256"].clone();
        [
            ("client", &pki.client),
            ("other_client", &pki.other_client),
            ("ca", &pki.ca.cert),
            ("intermediate_client", &chains.client),
            ("rogue_intermediate_client", &chains.rogue_client),
            ("forged_client", &chains.forged_client),
        ]
        .into_iter()
        .find(|(_, c)| x5t == c.x5t_s256())
        .map_or_else(|| format!("unknown {x5t}"), |(n, _)| n.to_owned())
    });
    json!({ "status": status, "error": body["error"], "cnf": cnf })
}

/// Every case's answer, by name.
pub async fn answers(format: Format, pki: &DevPki, base: &str) -> Value {
    let mut out = serde_json::Map::new();
    let chains = Chains::new(pki);
    for case in cases(format, pki, &chains) {
        out.insert(
            case.name.to_owned(),
            answer(pki, &chains, base, &case).await,
        );
    }
    Value::Object(out)
}

/// The pinned Keycloak version (scripts/keycloak.env).
fn keycloak_version() -> String {
    let env = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/keycloak.env");
    std::fs::read_to_string(env)
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            let v = l.strip_prefix("KEYCLOAK_VERSION=")?;
            Some(
                v.split(":-")
                    .nth(1)?
                    .trim_end_matches(['}', '"'])
                    .to_owned(),
            )
        })
        .unwrap_or_default()
}

pub fn golden_path(format: Format) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/proxy")
        .join(format!("{}.json", format.keycloak_lookup()))
}

/// Writes the golden file (`RECORD_GOLDEN=1`) or compares with it.
pub fn record_or_compare(format: Format, answers: &Value, recorded_by: &str) {
    let path = golden_path(format);
    if std::env::var("RECORD_GOLDEN").is_ok_and(|v| v == "1") {
        let doc = json!({
            "keycloak": keycloak_version(),
            "lookup": format.keycloak_lookup(),
            "recorded_by": recorded_by,
            "answers": answers,
        });
        std::fs::create_dir_all(path.parent().expect("dir")).expect("golden dir");
        let tmp = path.with_extension("json.tmp");
        std::fs::write(
            &tmp,
            serde_json::to_string_pretty(&doc).expect("json") + "\n",
        )
        .expect("write golden");
        std::fs::rename(&tmp, &path).expect("golden in place");
        eprintln!("recorded {}", path.display());
        return;
    }
    compare(format, answers);
}

/// Asserts that `answers` equal the golden answers, naming every case that differs.
pub fn compare(format: Format, answers: &Value) {
    let path = golden_path(format);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; record it: RECORD_GOLDEN=1 cargo test -p oauth2-provider --test keycloak_native_shapes -- --ignored",
            path.display()
        )
    });
    let golden: Value = serde_json::from_str(&text).expect("golden JSON");
    let golden = &golden["answers"];
    let mut diffs = Vec::new();
    for (name, want) in golden.as_object().expect("answers") {
        let got = &answers[name];
        if got != want {
            diffs.push(format!("  {name}: Keycloak {want}, here {got}"));
        }
    }
    for name in answers.as_object().expect("answers").keys() {
        if golden.get(name).is_none() {
            diffs.push(format!("  {name}: no golden answer (record again)"));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} shape differs from Keycloak's answers ({}):\n{}",
        format.keycloak_lookup(),
        path.display(),
        diffs.join("\n")
    );
}
