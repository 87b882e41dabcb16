//! The real Keycloak behind the shipped nginx configuration, natively (no container):
//! Keycloak's `nginx` x509 lookup reads the certificate nginx forwards in `ssl-client-cert`,
//! and trusts it (and X-Forwarded-*) only from nginx's address, 127.0.0.2.
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
}
#[path = "../../resource-server/tests/support/nginx.rs"]
mod nginx;

use std::net::IpAddr;

use nginx::{Nginx, PROXY_SOURCE, free_port, loopback_addr};
use playbook::names;
use playbook::pki::DevPki;
use support::forwarded::{assert_invalid_client, claims, token};
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
