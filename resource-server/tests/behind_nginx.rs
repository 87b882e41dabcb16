//! mTLS terminated at a real nginx, as production runs it: the shipped configuration
//! (`proxy/nginx/nginx.conf.in`, rendered and run by `proxy/nginx.sh run`) in front of the
//! embedded provider and two resource-server instances, all on loopback.
//!
//! nginx verifies client certificates against the dev CA and forwards them URL-encoded in
//! `ssl-client-cert`, connecting to the back ends from 127.0.0.2, the only address they
//! accept that header from. Each step asserts what a client sees.
//!
//! Needs nginx (`apt-get install nginx-light`; `scripts/test.sh` and `.ci/run` install it
//! when they run as root). Without it the tests fail and say so: they never skip.

#[path = "support/nginx.rs"]
mod nginx;
mod support;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nginx::Nginx;
use playbook::forwarded::{Format, ForwardedCerts, nginx_escape};
use playbook::names;
use playbook::pki::{DevPki, Issued};
use playbook::server::ClientAuth;
use serde_json::Value;
use support::identity;
use tokio::net::TcpListener;

const HEADER: &str = "ssl-client-cert";
use nginx::PROXY_SOURCE;

struct Setup {
    pki: DevPki,
    _dir: tempfile::TempDir,
    nginx: Nginx,
    provider: oauth2_provider::Running,
    apis: Vec<resource_server::Running>,
    api_addrs: Vec<SocketAddr>,
}

fn forwarding(pki: &DevPki) -> ForwardedCerts {
    ForwardedCerts::new(
        HEADER,
        Format::Nginx,
        vec![IpAddr::from(PROXY_SOURCE)],
        std::slice::from_ref(&pki.ca.cert.cert_der),
    )
    .expect("forwarding config")
}

/// A resource server behind nginx on `listener`: certificates from the handshake requested,
/// forwarded ones accepted from nginx.
fn backend(pki: &DevPki, issuer: &str, listener: TcpListener) -> resource_server::Running {
    let mut config = resource_server::Config::new(issuer, vec![pki.ca.cert.cert_der.clone()]);
    config.client_auth = ClientAuth::Request;
    config.forwarded = Some(Arc::new(
        forwarding(pki).with_bearer_challenge(names::REALM),
    ));
    let tls = config
        .server_tls(&identity(&pki.resource_server))
        .expect("TLS");
    resource_server::spawn(listener, tls, config).expect("resource server")
}

impl Setup {
    /// The provider and two resource servers on loopback, nginx in front of them.
    async fn start() -> Setup {
        playbook::install_crypto_provider();
        let pki = DevPki::generate(1, 1).expect("PKI");
        let dir = tempfile::tempdir().expect("temp dir");
        let certs = dir.path().join("certs");
        playbook::pki::write_files(&certs, &pki.files().expect("PEM files"), false)
            .expect("writing the PKI");

        let options = oauth2_provider::Options {
            forwarded: Some(Arc::new(forwarding(&pki).as_keycloak())),
            ..Default::default()
        };
        let provider = oauth2_provider::spawn_dev(&pki, &[oauth2_provider::realm_file()], options)
            .await
            .expect("provider");
        let provider_addr = provider.addr;

        let mut listeners = Vec::new();
        for _ in 0..2 {
            listeners.push(TcpListener::bind("127.0.0.1:0").await.expect("bind"));
        }
        let api_addrs: Vec<SocketAddr> = listeners
            .iter()
            .map(|l| l.local_addr().expect("addr"))
            .collect();
        let nginx_dir = dir.path().join("nginx");
        let nginx = tokio::task::block_in_place(|| {
            Nginx::start(&certs, &nginx_dir, provider_addr, &api_addrs, 1)
        });

        // The issuer is the URL clients use: nginx's, not the provider's own port.
        let issuer = format!("{}/realms/{}", nginx.provider_url(), names::REALM);
        let mut apis = Vec::new();
        for listener in listeners {
            let api = backend(&pki, &issuer, listener);
            api.wait_ready(Duration::from_secs(20))
                .await
                .expect("keys loaded through nginx");
            apis.push(api);
        }
        Setup {
            pki,
            _dir: dir,
            nginx,
            provider,
            apis,
            api_addrs,
        }
    }

    fn http(&self, cert: Option<&Issued>) -> reqwest::Client {
        support::https_client(&self.pki, cert)
    }

    /// The mTLS client's token request through nginx, presenting `cert`, with an optional
    /// `ssl-client-cert` header of the client's own making.
    async fn token(&self, cert: Option<&Issued>, forged: Option<&Issued>) -> (u16, Value) {
        let mut request = self
            .http(cert)
            .post(format!(
                "{}/realms/{}/protocol/openid-connect/token",
                self.nginx.provider_url(),
                names::REALM
            ))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", names::MTLS_CLIENT_ID),
            ]);
        if let Some(f) = forged {
            request = request.header(HEADER, nginx_escape(&f.cert_pem));
        }
        read(request).await
    }

    async fn whoami(
        &self,
        base: &str,
        cert: Option<&Issued>,
        forged: Option<&Issued>,
        token: &str,
    ) -> (u16, Value) {
        let mut request = self
            .http(cert)
            .get(format!("{base}/api/whoami"))
            .bearer_auth(token);
        if let Some(f) = forged {
            request = request.header(HEADER, nginx_escape(&f.cert_pem));
        }
        read(request).await
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

/// Asserts a refusal: the status, the OAuth error code, and a reason that says `because`.
#[track_caller]
fn refused(status: u16, body: &Value, want_status: u16, code: &str, because: &str) {
    assert_eq!(
        (status, body["error"].as_str()),
        (want_status, Some(code)),
        "{body}"
    );
    let reason = body["error_description"].as_str().unwrap_or_default();
    assert!(
        reason.contains(because),
        "expected {because:?} in the reason: {body}"
    );
}

/// The whole flow through nginx, and every way it is meant to fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_terminated_at_nginx() {
    let s = Setup::start().await;
    let pki = &s.pki;
    let api = s.nginx.api_url();

    // A token through the proxy: the forwarded certificate authenticates the client and
    // the token is bound to it; the issuer is the proxy's URL.
    let (status, body) = s.token(Some(&pki.client), None).await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned();
    // The client's address comes from nginx's X-Forwarded-For, not the proxy's own.
    let payload = token.split('.').nth(1).expect("a JWT");
    let claims: Value = serde_json::from_slice(&support::b64_decode(payload)).expect("claims");
    assert_eq!(claims["clientAddress"], "127.0.0.1", "{claims}");
    let (status, who) = s.whoami(&api, Some(&pki.client), None, &token).await;
    assert_eq!(status, 200, "{who}");
    assert_eq!(
        who["issuer"],
        format!("{}/realms/{}", s.nginx.provider_url(), names::REALM)
    );
    assert_eq!(who["binding"]["result"], "matches", "{who}");
    assert_eq!(
        who["binding"]["token_x5t_s256"],
        pki.client.x5t_s256(),
        "{who}"
    );
    let at = who["binding"]["tls_terminated_at"]
        .as_str()
        .unwrap_or_default();
    assert!(at.starts_with("proxy 127.0.0.2:"), "{who}");

    // Both instances behind the one upstream answer (round robin).
    for _ in 0..3 {
        let (status, body) = s.whoami(&api, Some(&pki.client), None, &token).await;
        assert_eq!(status, 200, "{body}");
    }
    let log = s.nginx.access_log();
    for addr in &s.api_addrs {
        assert!(
            log.contains(&format!("upstream={addr}")),
            "{addr} never used:\n{log}"
        );
    }

    // A stolen token over a connection with another certificate: nginx forwards that
    // certificate, and the binding check refuses it.
    let (status, body) = s.whoami(&api, Some(&pki.other_client), None, &token).await;
    refused(status, &body, 401, "invalid_token", "bound to certificate");

    // The shipped configuration strips a client-sent header: the thief adds the victim's
    // certificate as ssl-client-cert, nginx replaces it with the one actually presented.
    let (status, body) = s
        .whoami(&api, Some(&pki.other_client), Some(&pki.client), &token)
        .await;
    refused(status, &body, 401, "invalid_token", "bound to certificate");
    // At the provider, with no certificate at all, the forged header is dropped (an empty
    // $ssl_client_escaped_cert is not sent): an anonymous client, 401 invalid_client.
    let (status, body) = s.token(None, Some(&pki.client)).await;
    refused(status, &body, 401, "invalid_client", "");

    // Without a certificate at all, at the provider: the OAuth error from the provider.
    let (status, body) = s.token(None, None).await;
    refused(status, &body, 401, "invalid_client", "");
    // A certificate from another CA: nginx refuses it, as the OAuth error (not HTML).
    let (status, body) = s.token(Some(&pki.rogue_client), None).await;
    refused(status, &body, 401, "invalid_client", "could not verify");
    // The API requires one: nginx answers 401 invalid_token itself.
    let (status, body) = s.whoami(&api, None, None, &token).await;
    refused(status, &body, 401, "invalid_token", "");

    // The header sent straight to a back end (from 127.0.0.1, not the proxy): refused by the
    // resource server (400), ignored by the provider (401), as Keycloak does.
    let direct = format!("https://localhost:{}", s.api_addrs[0].port());
    let (status, body) = s
        .whoami(&direct, Some(&pki.client), Some(&pki.client), &token)
        .await;
    refused(
        status,
        &body,
        400,
        "invalid_request",
        "only accepted from a trusted proxy",
    );
    let direct_provider = s.provider.url.clone();
    let (status, body) = read(
        s.http(None)
            .post(format!(
                "{direct_provider}/realms/{}/protocol/openid-connect/token",
                names::REALM
            ))
            .header(HEADER, nginx_escape(&pki.client.cert_pem))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", names::MTLS_CLIENT_ID),
            ]),
    )
    .await;
    // As Keycloak 26.7.5 (observed): the header is not trusted, the client is anonymous.
    refused(status, &body, 401, "invalid_client", "");

    let Setup {
        mut nginx,
        provider,
        apis,
        pki,
        ..
    } = s;
    // One instance down: nginx takes it out and the other one answers.
    let mut apis = apis.into_iter();
    apis.next().expect("two").stop().await.expect("stop");
    let http = playbook::https::https_client(
        std::slice::from_ref(&pki.ca.cert.cert_der),
        Some(&identity(&pki.client)),
    )
    .expect("client");
    let call = || {
        http.get(format!("{api}/api/whoami"))
            .bearer_auth(&token)
            .send()
    };
    for _ in 0..2 {
        assert_eq!(call().await.expect("answered").status(), 200);
    }
    // Both down: 502 from nginx, at once.
    apis.next().expect("two").stop().await.expect("stop");
    let started = Instant::now();
    assert_eq!(call().await.expect("answered").status(), 502);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // The proxy down: a connection error within the connect timeout, not a hang.
    tokio::task::block_in_place(|| nginx.stop());
    let started = Instant::now();
    let err = call().await.expect_err("nobody listens");
    assert!(err.is_connect(), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    provider.stop().await.expect("provider stops");
}

/// nginx's `ssl_crl` (proxy/nginx.sh `PROXY_CRL`, the dev CA's CRL as `client certs revoke`
/// writes it): the revoked client certificate is refused by the proxy itself, 401 saying
/// `certificate revoked`; another certificate of the same CA goes through to the back end;
/// on the provider's front the revoked certificate's token request gets nginx's own 401
/// `invalid_client`, so no provider behind it (Keycloak's default issues a token) is asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_ssl_crl_refuses_a_revoked_certificate() {
    use playbook::pki::{CrlState, PkiFile, Revoked};
    playbook::install_crypto_provider();
    let pki = DevPki::generate(1, 1).expect("PKI");
    let dir = tempfile::tempdir().expect("temp dir");
    let certs = dir.path().join("certs");
    let crl = pki
        .ca
        .crl(&CrlState {
            number: 1,
            revoked: vec![Revoked::now(&pki.client.cert_der).expect("serial")],
        })
        .expect("CRL");
    let mut files = pki.files().expect("PEM files");
    files.push(PkiFile::cert("ca.crl.pem".into(), "CRL", crl));
    playbook::pki::write_files(&certs, &files, false).expect("writing the PKI");

    // One back end; its provider is never reached (nothing here needs a token).
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let api_addr = listener.local_addr().expect("addr");
    let api = backend(&pki, "https://localhost:1/realms/none", listener);
    let nowhere = SocketAddr::from(([127, 0, 0, 1], nginx::free_port()));
    let nginx_dir = dir.path().join("nginx");
    let crl_path = certs.join("ca.crl.pem").display().to_string();
    let nginx = tokio::task::block_in_place(|| {
        Nginx::start_with(
            &certs,
            &nginx_dir,
            nginx::free_port(),
            nowhere,
            &[api_addr],
            1,
            &[("PROXY_CRL", crl_path)],
        )
    });
    let url = format!("{}/api/whoami", nginx.api_url());
    let get = |cert: &Issued| {
        read(
            support::https_client(&pki, Some(cert))
                .get(&url)
                .bearer_auth("not-a-token"),
        )
    };

    let (status, body) = get(&pki.client).await;
    refused(status, &body, 401, "invalid_token", "certificate revoked");

    let (status, body) = get(&pki.other_client).await;
    let reason = body["error_description"].as_str().unwrap_or_default();
    assert!(
        !reason.contains("the proxy requires"),
        "other-client.pem is not revoked and reaches the back end: {status} {body}"
    );

    // The provider's front (Keycloak behind nginx, lab 10): nginx refuses the revoked
    // certificate's token request itself, 401 invalid_client naming the reason, before any
    // back end could answer (none listens here: whatever the provider would say, it is never
    // asked).
    let token_url = format!(
        "{}/realms/{}/protocol/openid-connect/token",
        nginx.provider_url(),
        names::REALM
    );
    let form = format!(
        "grant_type=client_credentials&client_id={}",
        names::MTLS_CLIENT_ID
    );
    let (status, body) = read(
        support::https_client(&pki, Some(&pki.client))
            .post(&token_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form),
    )
    .await;
    refused(status, &body, 401, "invalid_client", "certificate revoked");
    drop(nginx);
    api.stop().await.expect("stop");
}
