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
use playbook::pki::{DevPki, Issued};
use playbook::server::ClientAuth;
use proxy::{Kind, PROXY_SOURCE, Proxy, free_port};
use serde_json::Value;
use support::identity;
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
        Kind::Nginx => unreachable!("behind_nginx.rs"),
    }
}

impl Shape {
    fn forwarding(&self, pki: &DevPki) -> ForwardedCerts {
        let (header, chain) = shapes::setup(self.format);
        ForwardedCerts::new(
            header,
            self.format,
            vec![IpAddr::from(PROXY_SOURCE)],
            std::slice::from_ref(&pki.ca.cert.cert_der),
        )
        .expect("forwarding config")
        .with_chain(chain)
    }
}

struct Setup {
    pki: DevPki,
    shape: Shape,
    _dir: tempfile::TempDir,
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
        let options = oauth2_provider::Options {
            forwarded: Some(Arc::new(shape.forwarding(&pki).as_keycloak())),
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
            config.forwarded = Some(Arc::new(
                shape.forwarding(&pki).with_bearer_challenge(names::REALM),
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
            pki,
            shape,
            _dir: dir,
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
        let mut request = support::https_client(&self.pki, cert)
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
        let mut request = support::https_client(&self.pki, cert)
            .get(format!("{base}/api/whoami"))
            .bearer_auth(token);
        for (name, value) in forged {
            request = request.header(name.as_str(), value.as_str());
        }
        read(request).await
    }

    /// The victim's certificate as a forged header, in this proxy's shape.
    fn forged(&self, cert: &Issued) -> Vec<(String, String)> {
        shapes::proxy_headers(self.shape.format, cert, &[])
    }
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
        assert!(at.starts_with("proxy 127.0.0.2:"), "{who}");
    }
    let log = s.proxy.access_log();
    for addr in &s.api_addrs {
        assert!(log.contains(&addr.to_string()), "{addr} never used:\n{log}");
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
    // Another CA: the proxy refuses it with the OAuth error; the API wants a certificate.
    refused(
        &s.token(&front, Some(&pki.rogue_client), &[]).await,
        401,
        "invalid_client",
        "could not verify",
    );
    refused(
        &s.whoami(&api, None, &[], &token).await,
        401,
        "invalid_token",
        "",
    );

    // The header straight to a back end, from 127.0.0.1 (not the proxy): the resource server
    // refuses it (400); the provider ignores it, as Keycloak does (401, anonymous).
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_terminated_at_haproxy() {
    terminated_at(Kind::Haproxy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_terminated_at_apache() {
    terminated_at(Kind::Apache).await;
}
