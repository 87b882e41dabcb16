//! mTLS terminated at a real HAProxy and a real Apache httpd, each with its shipped
//! configuration (`proxy/haproxy/haproxy.cfg.in`, `proxy/apache/httpd.conf.in`, run by
//! `proxy/<proxy>.sh run`), in front of the embedded provider and two resource-server
//! instances, all on loopback; as `behind_nginx.rs` does for nginx.
//!
//! Each proxy forwards the certificate in its own header shape (the one Keycloak's lookup of
//! the same name reads: HAProxy base64 DER in `x-ssl-client-cert`, httpd PEM in
//! `ssl-client-cert`), strips the client's own, and connects to the back ends from
//! 127.0.0.2, the only address they accept those headers from. Every spoof is refused: the
//! header sent through the proxy by a client (stripped), the header sent straight to a back
//! end (the resource server 400, the provider ignoring it as Keycloak does).
//!
//! Chains and revocation (issue 23, item 3): a client certificate issued by an intermediate
//! CA under the dev CA, presented with its chain, is forwarded with it (HAProxy
//! `x-ssl-client-chain`, httpd `ssl-client-cert-chain_0`) and accepted by both back ends; a
//! revoked certificate is refused by the resource servers' `--crl` behind a proxy that checks
//! no CRL (401, "revoked"), and by the proxy itself with `PROXY_CRL` (HAProxy's `crl-file`:
//! 401 with the reason; httpd's `SSLCARevocationFile`: the handshake, alert
//! `certificate_revoked`).
//!
//! Needs haproxy and apache2 (`.ci/run` installs them when missing, as root). Without them
//! the tests fail and say so: they never skip.

#[path = "support/nginx.rs"]
mod proxy;
mod support;
// The provider's cases: each proxy's header names and how it composes them.
#[allow(dead_code)] // claims and token_with only
#[path = "../../oauth2-provider/tests/support/forwarded.rs"]
mod forwarded;
#[allow(dead_code)] // the composer and the setups only
#[path = "../../oauth2-provider/tests/support/shapes.rs"]
mod shapes;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use playbook::forwarded::{Format, ForwardedCerts};
use playbook::names;
use playbook::pem::Identity;
use playbook::pki::{
    CertificateAuthority, CrlState, DevPki, Issued, PkiFile, Revoked, Validity, write_files,
};
use playbook::server::ClientAuth;
use playbook::server::revocation::CrlVerifier;
use proxy::{Kind, Proxy, free_port};
use serde_json::Value;
use support::{causes, identity};
use tokio::net::TcpListener;

/// The shape each proxy writes (as its configuration and Keycloak's lookup name it; the
/// composer and the header names are the provider's cases', `support/shapes.rs`).
struct Shape {
    format: Format,
    /// The chain header a client might forge.
    chain_header: &'static str,
}

fn shape(kind: Kind) -> Shape {
    match kind {
        Kind::Haproxy => Shape {
            format: Format::Haproxy,
            chain_header: "x-ssl-client-chain",
        },
        Kind::Apache => Shape {
            format: Format::Apache,
            chain_header: "ssl-client-cert-chain_0",
        },
        Kind::Caddy => Shape {
            format: Format::Rfc9440,
            chain_header: "client-cert-chain",
        },
        Kind::Nginx => unreachable!("behind_nginx.rs"),
    }
}

impl Shape {
    fn forwarding(&self, pki: &DevPki, proxy: IpAddr) -> ForwardedCerts {
        let (header, chain) = shapes::setup(self.format);
        ForwardedCerts::new(
            header,
            self.format,
            vec![proxy],
            std::slice::from_ref(&pki.ca.cert.cert_der),
        )
        .expect("forwarding config")
        .with_chain(chain)
    }
}

struct Setup {
    kind: Kind,
    pki: DevPki,
    /// An intermediate CA under the dev CA (as `client certs intermediate` makes it) and the
    /// realm's client DN issued by it.
    intermediate: CertificateAuthority,
    inter_client: Issued,
    /// The realm's client DN from the dev CA, on the dev CA's CRL.
    revoked: Issued,
    /// Both CAs' CRLs in one file (what `PROXY_CRL` names).
    crl_file: std::path::PathBuf,
    shape: Shape,
    dir: tempfile::TempDir,
    proxy: Proxy,
    provider: oauth2_provider::Running,
    apis: Vec<resource_server::Running>,
    api_addrs: Vec<SocketAddr>,
}

impl Setup {
    async fn start(kind: Kind) -> Setup {
        playbook::install_crypto_provider();
        let pki = DevPki::generate(1, 1).expect("PKI");
        let shape = shape(kind);
        let dir = tempfile::tempdir().expect("temp dir");
        let certs = dir.path().join("certs");
        playbook::pki::write_files(&certs, &pki.files().expect("PEM files"), false)
            .expect("writing the PKI");
        // The intermediate and its client as the provider's chain cases make them.
        let shapes::Chains {
            intermediate,
            client: inter_client,
            ..
        } = shapes::Chains::new(&pki);
        let days = Validity::days_from_now(1);
        let revoked = pki
            .ca
            .issue_client(names::CLIENT_SUBJECT_DN, days)
            .expect("a client certificate to revoke");
        // The dev CA's CRL lists `revoked`; the intermediate's lists nothing (rustls and
        // OpenSSL want a CRL for every CA of the chain).
        let ca_crl = pki
            .ca
            .crl(&CrlState {
                number: 1,
                revoked: vec![Revoked::now(&revoked.cert_der).expect("serial")],
            })
            .expect("CRL");
        let inter_crl = intermediate
            .crl(&CrlState {
                number: 1,
                revoked: Vec::new(),
            })
            .expect("CRL");
        write_files(
            &certs,
            &[
                PkiFile::cert("ca.crl.pem".into(), "CRL", ca_crl.clone()),
                PkiFile::cert("intermediate-ca.crl.pem".into(), "CRL", inter_crl.clone()),
                PkiFile::cert("all.crl.pem".into(), "CRL", ca_crl + &inter_crl),
            ],
            false,
        )
        .expect("CRL files");
        let options = oauth2_provider::Options {
            forwarded: Some(Arc::new(
                shape.forwarding(&pki, kind.source()).as_keycloak(),
            )),
            ..Default::default()
        };
        let provider = oauth2_provider::spawn_dev(&pki, &[oauth2_provider::realm_file()], options)
            .await
            .expect("provider");
        let mut listeners = Vec::new();
        for _ in 0..2 {
            listeners.push(TcpListener::bind("127.0.0.1:0").await.expect("bind"));
        }
        let api_addrs: Vec<SocketAddr> = listeners
            .iter()
            .map(|l| l.local_addr().expect("addr"))
            .collect();
        let proxy_dir = dir.path().join("proxy");
        let provider_addr = provider.addr;
        let proxy = tokio::task::block_in_place(|| {
            Proxy::start_kind(
                kind,
                &certs,
                &proxy_dir,
                free_port(),
                provider_addr,
                &api_addrs,
                &[],
            )
        });
        let issuer = format!("{}/realms/{}", proxy.provider_url(), names::REALM);
        let mut apis = Vec::new();
        for listener in listeners {
            let mut config =
                resource_server::Config::new(&issuer, vec![pki.ca.cert.cert_der.clone()]);
            config.client_auth = ClientAuth::Request;
            // `resource-server --crl certs/ca.crl.pem --crl certs/intermediate-ca.crl.pem`.
            let crls = Arc::new(
                CrlVerifier::new(
                    &config.ca,
                    config.client_auth,
                    vec![
                        certs.join("ca.crl.pem"),
                        certs.join("intermediate-ca.crl.pem"),
                    ],
                )
                .expect("CRLs"),
            );
            config.crls = Some(Arc::clone(&crls));
            config.forwarded = Some(Arc::new(
                shape
                    .forwarding(&pki, kind.source())
                    .with_bearer_challenge(names::REALM)
                    .with_verifier(crls),
            ));
            let tls = config
                .server_tls(&identity(&pki.resource_server))
                .expect("TLS");
            let api = resource_server::spawn(listener, tls, config).expect("resource server");
            api.wait_ready(Duration::from_secs(20))
                .await
                .expect("keys loaded through the proxy");
            apis.push(api);
        }
        Setup {
            kind,
            pki,
            intermediate,
            inter_client,
            revoked,
            crl_file: certs.join("all.crl.pem"),
            shape,
            dir,
            proxy,
            provider,
            apis,
            api_addrs,
        }
    }

    /// A token request to `base` presenting `cert`, with headers of the client's own making.
    async fn token(
        &self,
        base: &str,
        cert: Option<&Issued>,
        forged: &[(String, String)],
    ) -> (u16, Value) {
        let mut request = self
            .client_for(base, cert)
            .post(format!(
                "{base}/realms/{}/protocol/openid-connect/token",
                names::REALM
            ))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", names::MTLS_CLIENT_ID),
            ]);
        for (name, value) in forged {
            request = request.header(name.as_str(), value.as_str());
        }
        read(request).await
    }

    async fn whoami(
        &self,
        base: &str,
        cert: Option<&Issued>,
        forged: &[(String, String)],
        token: &str,
    ) -> (u16, Value) {
        let mut request = self
            .client_for(base, cert)
            .get(format!("{base}/api/whoami"))
            .bearer_auth(token);
        for (name, value) in forged {
            request = request.header(name.as_str(), value.as_str());
        }
        read(request).await
    }

    /// Where requests straight to a back end come from: 127.0.0.1, not the proxy's address;
    /// behind Caddy (whose own is 127.0.0.1) another loopback address, 127.0.0.3.
    fn untrusted(&self) -> IpAddr {
        match self.kind {
            Kind::Caddy => IpAddr::from([127, 0, 0, 3]),
            _ => IpAddr::from([127, 0, 0, 1]),
        }
    }

    /// A client for `base`: from [`Setup::untrusted`] when it is a back end.
    fn client_for(&self, base: &str, cert: Option<&Issued>) -> reqwest::Client {
        let direct = base == self.provider.url
            || self
                .api_addrs
                .iter()
                .any(|a| base.ends_with(&format!(":{}", a.port())));
        client(&self.pki, cert, direct.then(|| self.untrusted()))
    }

    /// The victim's certificate as a forged header, in this proxy's shape.
    fn forged(&self, cert: &Issued) -> Vec<(String, String)> {
        shapes::proxy_headers(self.shape.format, cert, &[])
    }
}

/// An HTTPS client presenting `cert` with its chain (the intermediate CA after the leaf),
/// connecting from `from` when given.
fn client(pki: &DevPki, cert: Option<&Issued>, from: Option<IpAddr>) -> reqwest::Client {
    let id = cert.map(|c| {
        Identity::unchecked(
            std::path::Path::new("test.pem"),
            c.cert_chain(),
            c.key_der(),
        )
    });
    let tls =
        playbook::https::client_config(std::slice::from_ref(&pki.ca.cert.cert_der), id.as_ref())
            .expect("TLS");
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .local_address(from)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("https client")
}

async fn read(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("request answered");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[track_caller]
fn refused(answer: &(u16, Value), want_status: u16, code: &str, because: &str) {
    let (status, body) = answer;
    assert_eq!(
        (*status, body["error"].as_str()),
        (want_status, Some(code)),
        "{body}"
    );
    let reason = body["error_description"].as_str().unwrap_or_default();
    assert!(reason.contains(because), "expected {because:?} in: {body}");
}

/// The flow through the proxy, and every spoof refused.
async fn terminated_at(kind: Kind) {
    let s = Setup::start(kind).await;
    let pki = &s.pki;
    let front = s.proxy.provider_url();
    let api = s.proxy.api_url();

    // A token through the proxy: the forwarded certificate authenticates the client and
    // binds the token; the client's address is the proxy's X-Forwarded-For.
    let (status, body) = s.token(&front, Some(&pki.client), &[]).await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned();
    let payload = token.split('.').nth(1).expect("a JWT");
    let claims: Value = serde_json::from_slice(&support::b64_decode(payload)).expect("claims");
    assert_eq!(claims["cnf"]["x5t#S256"], pki.client.x5t_s256(), "{claims}");
    assert_eq!(claims["clientAddress"], "127.0.0.1", "{claims}");

    // The API through the proxy: bound to the forwarded certificate, TLS ended at the proxy;
    // both instances answer in turn.
    for _ in 0..4 {
        let (status, who) = s.whoami(&api, Some(&pki.client), &[], &token).await;
        assert_eq!(status, 200, "{who}");
        assert_eq!(who["binding"]["result"], "matches", "{who}");
        let at = who["binding"]["tls_terminated_at"]
            .as_str()
            .unwrap_or_default();
        assert!(
            at.starts_with(&format!("proxy {}:", kind.source())),
            "{who}"
        );
    }
    // (Caddy's access log does not name the upstream.)
    if kind != Kind::Caddy {
        let log = s.proxy.access_log();
        for addr in &s.api_addrs {
            assert!(log.contains(&addr.to_string()), "{addr} never used:\n{log}");
        }
    }

    // A client's own chain header through the proxy is stripped too: one the resource
    // server could not read (it refuses those, 400) never reaches it.
    let junk = [(s.shape.chain_header.to_owned(), "hello".to_owned())];
    let (status, who) = s.whoami(&api, Some(&pki.client), &junk, &token).await;
    assert_eq!(status, 200, "{who}");

    // A stolen token with another certificate, and the victim's as a forged header: the
    // proxy replaces the header with the certificate actually presented.
    let forged = s.forged(&pki.client);
    refused(
        &s.whoami(&api, Some(&pki.other_client), &forged, &token)
            .await,
        401,
        "invalid_token",
        "bound to certificate",
    );
    // No certificate and the forged header at the provider: stripped, anonymous, 401.
    refused(
        &s.token(&front, None, &forged).await,
        401,
        "invalid_client",
        "",
    );
    // Another CA: the proxy refuses it with the OAuth error (Caddy: in the handshake); the
    // API wants a certificate.
    if kind == Kind::Caddy {
        let err = client(pki, Some(&pki.rogue_client), None)
            .get(format!("{front}/realms/{}", names::REALM))
            .send()
            .await
            .expect_err("Caddy refuses another CA's certificate in the handshake");
        assert!(
            causes(&err).contains("AlertReceived(BadCertificate)"),
            "{}",
            causes(&err)
        );
    } else {
        refused(
            &s.token(&front, Some(&pki.rogue_client), &[]).await,
            401,
            "invalid_client",
            "could not verify",
        );
    }
    refused(
        &s.whoami(&api, None, &[], &token).await,
        401,
        "invalid_token",
        "",
    );

    // The header straight to a back end, from an address that is not the proxy's (127.0.0.1;
    // behind Caddy 127.0.0.3): the resource server refuses it (400); the provider ignores
    // it, as Keycloak does (401, anonymous).
    if kind == Kind::Caddy {
        // What Caddy 2.6's missing `local_address` costs: from 127.0.0.1, Caddy's own address,
        // any local program's forged header is believed.
        let direct = format!("https://localhost:{}", s.api_addrs[0].port());
        let (status, who) = client(pki, Some(&pki.other_client), None)
            .get(format!("{direct}/api/whoami"))
            .bearer_auth(&token)
            .headers(
                forged
                    .iter()
                    .map(|(n, v)| (n.parse().expect("name"), v.parse().expect("value")))
                    .collect(),
            )
            .send()
            .await
            .map(|r| r.status().as_u16())
            .map(|st| (st, Value::Null))
            .expect("answered");
        assert_eq!(
            status, 200,
            "{who}: the forged header from 127.0.0.1 is believed"
        );
    }
    let direct = format!("https://localhost:{}", s.api_addrs[0].port());
    refused(
        &s.whoami(&direct, Some(&pki.client), &forged, &token).await,
        400,
        "invalid_request",
        "only accepted from a trusted proxy",
    );
    // The chain header alone, straight to a back end: refused as well.
    refused(
        &s.whoami(&direct, Some(&pki.client), &junk, &token).await,
        400,
        "invalid_request",
        "only accepted from a trusted proxy",
    );
    refused(
        &s.token(&s.provider.url, None, &forged).await,
        401,
        "invalid_client",
        "",
    );

    chains_and_revocation(&s, kind).await;

    let Setup {
        mut proxy,
        provider,
        apis,
        ..
    } = s;
    tokio::task::block_in_place(|| proxy.stop());
    for api in apis {
        api.stop().await.expect("stop");
    }
    provider.stop().await.expect("provider stops");
}

/// The intermediate's client through the proxy, then a revoked certificate: refused by the
/// resource servers' CRLs behind this proxy, and by a second instance of the proxy given the
/// CRL (`PROXY_CRL`).
async fn chains_and_revocation(s: &Setup, kind: Kind) {
    let pki = &s.pki;
    let front = s.proxy.provider_url();
    let api = s.proxy.api_url();

    if kind == Kind::Caddy {
        // Caddy 2.6 verifies the chain but forwards the leaf alone (no placeholder for the
        // chain): the provider cannot tie it to x509.casubjectdn, the resource server cannot
        // verify it.
        refused(
            &s.token(&front, Some(&s.inter_client), &[]).await,
            401,
            "invalid_client",
            "",
        );
        let (_, body) = s.token(&front, Some(&pki.client), &[]).await;
        let token = body["access_token"].as_str().expect("token").to_owned();
        refused(
            &s.whoami(&api, Some(&s.inter_client), &[], &token).await,
            400,
            "invalid_request",
            "does not verify against the CA",
        );
    } else {
        // The chain goes along: the provider (Keycloak's reading: the trust anchor is the
        // issuer of the last certificate, x509.casubjectdn the dev CA) and the resource server
        // (verified to the dev CA through the forwarded intermediate) both accept it.
        let (status, body) = s.token(&front, Some(&s.inter_client), &[]).await;
        assert_eq!(status, 200, "{body}");
        let token = body["access_token"].as_str().expect("token").to_owned();
        let claims = token_claims(&token);
        assert_eq!(
            claims["cnf"]["x5t#S256"],
            s.inter_client.x5t_s256(),
            "{claims}"
        );
        let (status, who) = s.whoami(&api, Some(&s.inter_client), &[], &token).await;
        assert_eq!(status, 200, "{who}");
        assert_eq!(who["binding"]["result"], "matches", "{who}");
        // The leaf without its chain at the proxy: it cannot verify.
        let mut no_chain = s.inter_client.clone();
        no_chain.chain.clear();
        refused(
            &s.token(&front, Some(&no_chain), &[]).await,
            401,
            "invalid_client",
            "could not verify",
        );
    }
    assert!(
        s.intermediate.signed(&s.inter_client.cert_der),
        "the intermediate issued it"
    );

    // Revoked, behind a proxy that checks no CRL: the provider issues a token (as Keycloak
    // does: it checks no CRL by default), the resource servers' --crl refuse the forwarded
    // certificate with 401 and the reason.
    let (status, body) = s.token(&front, Some(&s.revoked), &[]).await;
    assert_eq!(status, 200, "{body}");
    let revoked_token = body["access_token"].as_str().expect("token").to_owned();
    refused(
        &s.whoami(&api, Some(&s.revoked), &[], &revoked_token).await,
        401,
        "invalid_request",
        "revoked",
    );

    // The same proxy given the CRL refuses it itself (Caddy 2.6's client_auth reads no CRL).
    if kind == Kind::Caddy {
        return;
    }
    let dir = s.dir.path().join(format!("proxy-crl-{kind:?}"));
    let mut with_crl = tokio::task::block_in_place(|| {
        Proxy::start_kind(
            kind,
            &s.dir.path().join("certs"),
            &dir,
            free_port(),
            s.provider.addr,
            &s.api_addrs,
            &[("PROXY_CRL", s.crl_file.display().to_string())],
        )
    });
    let (front, api) = (with_crl.provider_url(), with_crl.api_url());
    // A certificate not on the list still passes, with its chain too.
    let (status, body) = s.token(&front, Some(&pki.client), &[]).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = s.token(&front, Some(&s.inter_client), &[]).await;
    assert_eq!(status, 200, "{body}");
    match kind {
        // crl-file: the handshake completes (verify optional), ssl_c_verify is 23.
        Kind::Haproxy => {
            refused(
                &s.token(&front, Some(&s.revoked), &[]).await,
                401,
                "invalid_client",
                "revoked",
            );
            refused(
                &s.whoami(&api, Some(&s.revoked), &[], &revoked_token).await,
                401,
                "invalid_token",
                "revoked",
            );
        }
        // SSLCARevocationFile: optional_no_ca does not excuse a revoked certificate; the
        // handshake fails with the alert certificate_revoked.
        Kind::Apache => {
            for url in [&front, &api] {
                let err = client(pki, Some(&s.revoked), None)
                    .get(format!("{url}/realms/{}", names::REALM))
                    .send()
                    .await
                    .expect_err("refused in the handshake");
                let text = causes(&err);
                assert!(text.contains("CertificateRevoked"), "{text}");
            }
        }
        Kind::Nginx | Kind::Caddy => unreachable!("behind_nginx.rs; Caddy returned above"),
    }
    tokio::task::block_in_place(|| with_crl.stop());
}

fn token_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&support::b64_decode(payload)).expect("claims")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_terminated_at_haproxy() {
    terminated_at(Kind::Haproxy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_terminated_at_apache() {
    terminated_at(Kind::Apache).await;
}

/// Caddy (RFC 9440 `Client-Cert`): what it cannot do is checked too (no chain forwarded, no
/// source address of its own, no CRL).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_terminated_at_caddy() {
    terminated_at(Kind::Caddy).await;
}
