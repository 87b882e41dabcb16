//! The real Keycloak behind the shipped nginx configuration, natively (no container):
//! Keycloak's `nginx` x509 lookup reads the certificate nginx forwards in `ssl-client-cert`,
//! and trusts it (and X-Forwarded-*) only from nginx's address, 127.0.0.2. And behind the
//! shipped HAProxy, Apache httpd and Caddy configurations, each with the lookup of its shape
//! (`haproxy`, `apache`, `rfc9440`: each its own cached build, the ones
//! `keycloak_native_shapes.rs` uses), one after the other in one test (one JVM at a time):
//! the certificate, the chain of an intermediate CA's client (HAProxy and httpd forward it,
//! Caddy 2.6 cannot), and the spoofs.
//!
//! ```text
//! cargo test -p oauth2-provider --test keycloak_native_proxy -- --ignored   # Java 17+ and nginx
//! ```
//!
//! `#[ignore]`d like `keycloak_native.rs` (a first start takes minutes); without Java or
//! nginx it fails and says which is missing. The embedded provider's counterpart is
//! `resource-server/tests/behind_nginx.rs`.

mod support {
    pub mod forwarded;
    #[allow(dead_code)] // this test uses start_with only
    pub mod native;
    #[allow(dead_code)] // the composer, the setups and the chains only
    pub mod shapes;
}
#[path = "../../resource-server/tests/support/nginx.rs"]
mod nginx;

use std::net::IpAddr;

use nginx::{Kind, Nginx, PROXY_SOURCE, Proxy, free_port, loopback_addr};
use playbook::forwarded::Format;
use playbook::names;
use playbook::pki::DevPki;
use support::forwarded::{assert_invalid_client, claims, token, token_with};
use support::native::NativeKeycloak;

/// Through nginx: the right certificate gets a token bound to it, none or a forged header
/// gets 401 `invalid_client`. Straight to Keycloak: the header is not trusted from 127.0.0.1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Java 17+ and nginx: cargo test -p oauth2-provider --test keycloak_native_proxy -- --ignored"]
async fn keycloak_behind_nginx() {
    playbook::install_crypto_provider();
    let pki = DevPki::generate(1, 1).expect("PKI");
    let front = free_port();
    let front_url = format!("https://localhost:{front}");
    let proxy = IpAddr::from(PROXY_SOURCE).to_string();
    let keycloak = tokio::task::block_in_place(|| {
        NativeKeycloak::start_with(
            &pki,
            "tests-proxy",
            &[
                ("PROVIDER_URL", front_url.clone()),
                ("KC_SPI_X509CERT_LOOKUP__PROVIDER", "nginx".into()),
                (
                    "KC_SPI_X509CERT_LOOKUP__NGINX__SSL_CLIENT_CERT",
                    "ssl-client-cert".into(),
                ),
                ("KC_PROXY_HEADERS", "xforwarded".into()),
                ("KC_PROXY_TRUSTED_ADDRESSES", proxy),
            ],
        )
    })
    .expect("native Keycloak");
    let dir = tempfile::tempdir().expect("temp dir");
    let certs = dir.path().join("certs");
    playbook::pki::write_files(&certs, &pki.files().expect("PEM"), false).expect("PKI files");
    // The API side of the configuration needs a back end; none answers it in this test.
    let nginx = tokio::task::block_in_place(|| {
        Nginx::start_on(
            &certs,
            &dir.path().join("nginx"),
            front,
            loopback_addr(&keycloak.base_url),
            &[loopback_addr(&keycloak.base_url)],
            1,
        )
    });
    assert_eq!(nginx.provider_url(), front_url);

    let (status, body) = token(&pki, &front_url, [127, 0, 0, 1], Some(&pki.client), None).await;
    assert_eq!(status, 200, "{body}\n{}", keycloak.log_tail(30));
    let claims = claims(&body);
    assert_eq!(claims["cnf"]["x5t#S256"], pki.client.x5t_s256(), "{claims}");
    assert_eq!(
        claims["iss"],
        format!("{front_url}/realms/{}", names::REALM)
    );

    // No certificate; another certificate with the victim's as a forged header (nginx
    // replaces it): both anonymous or the wrong client, 401 invalid_client.
    assert_invalid_client(&token(&pki, &front_url, [127, 0, 0, 1], None, None).await);
    assert_invalid_client(
        &token(
            &pki,
            &front_url,
            [127, 0, 0, 1],
            Some(&pki.other_client),
            Some(&pki.client),
        )
        .await,
    );

    // Straight to Keycloak with the header, from an address that is not the proxy: ignored
    // (Keycloak logs `HTTP header "ssl-client-cert" is not trusted`).
    assert_invalid_client(
        &token(
            &pki,
            &keycloak.base_url,
            [127, 0, 0, 1],
            None,
            Some(&pki.client),
        )
        .await,
    );
    drop(nginx);
    drop(keycloak);
}

/// Keycloak behind `kind` (its shipped configuration) with the lookup of its shape.
async fn keycloak_behind(kind: Kind, format: Format) {
    let pki = DevPki::generate(1, 1).expect("PKI");
    let chains = support::shapes::Chains::new(&pki);
    let front = free_port();
    let front_url = format!("https://localhost:{front}");
    let mut env: Vec<(&str, String)> = support::shapes::keycloak_env(format)
        .into_iter()
        .filter(|(k, _)| *k != "KC_PROXY_TRUSTED_ADDRESSES")
        .collect();
    env.push(("KC_PROXY_TRUSTED_ADDRESSES", kind.source().to_string()));
    env.push(("PROVIDER_URL", front_url.clone()));
    let instance = format!("tests-proxy-{}", format.keycloak_lookup());
    let keycloak =
        tokio::task::block_in_place(|| NativeKeycloak::start_with(&pki, &instance, &env))
            .unwrap_or_else(|e| panic!("native Keycloak with the {format:?} lookup: {e}"));
    let dir = tempfile::tempdir().expect("temp dir");
    let certs = dir.path().join("certs");
    playbook::pki::write_files(&certs, &pki.files().expect("PEM"), false).expect("PKI files");
    // The API side of the configuration needs a back end; none answers it in this test.
    let backend = loopback_addr(&keycloak.base_url);
    let proxy = tokio::task::block_in_place(|| {
        Proxy::start_kind(
            kind,
            &certs,
            &dir.path().join("proxy"),
            front,
            backend,
            &[backend],
            &[],
        )
    });
    let log = || keycloak.log_tail(30);

    // Through the proxy: a token bound to the certificate, the issuer the proxy's URL.
    let (status, body) = token(&pki, &front_url, [127, 0, 0, 1], Some(&pki.client), None).await;
    assert_eq!(status, 200, "{kind:?}: {body}\n{}", log());
    let c = claims(&body);
    assert_eq!(c["cnf"]["x5t#S256"], pki.client.x5t_s256(), "{c}");
    assert_eq!(c["iss"], format!("{front_url}/realms/{}", names::REALM));

    // The intermediate's client with its chain: HAProxy and httpd forward the chain and
    // Keycloak finds x509.casubjectdn at its end; Caddy forwards the leaf alone: 401.
    let (status, body) =
        token_with(&pki, &front_url, [127, 0, 0, 1], Some(&chains.client), &[]).await;
    if kind == Kind::Caddy {
        assert_invalid_client(&(status, body));
    } else {
        assert_eq!(status, 200, "{kind:?}: {body}\n{}", log());
        let c = claims(&body);
        assert_eq!(c["cnf"]["x5t#S256"], chains.client.x5t_s256(), "{c}");
    }

    // No certificate, or another one with the victim's in a forged header of the proxy's own
    // shape: the proxy replaces it, 401 invalid_client.
    let forged = support::shapes::proxy_headers(format, &pki.client, &[]);
    assert_invalid_client(&token_with(&pki, &front_url, [127, 0, 0, 1], None, &forged).await);
    assert_invalid_client(
        &token_with(
            &pki,
            &front_url,
            [127, 0, 0, 1],
            Some(&pki.other_client),
            &forged,
        )
        .await,
    );
    // Straight to Keycloak with the header, from an address that is not the proxy's (behind
    // Caddy, whose own is 127.0.0.1: 127.0.0.3): not trusted, 401.
    let untrusted = if kind == Kind::Caddy {
        [127, 0, 0, 3]
    } else {
        [127, 0, 0, 1]
    };
    assert_invalid_client(&token_with(&pki, &keycloak.base_url, untrusted, None, &forged).await);
    drop(proxy);
    drop(keycloak);
}

/// HAProxy, Apache httpd and Caddy in turn, each in front of Keycloak with the lookup of its
/// shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Java 17+, haproxy, apache2 and caddy: cargo test -p oauth2-provider --test keycloak_native_proxy -- --ignored"]
async fn keycloak_behind_haproxy_apache_and_caddy() {
    playbook::install_crypto_provider();
    keycloak_behind(Kind::Haproxy, Format::Haproxy).await;
    keycloak_behind(Kind::Apache, Format::Apache).await;
    keycloak_behind(Kind::Caddy, Format::Rfc9440).await;
}
