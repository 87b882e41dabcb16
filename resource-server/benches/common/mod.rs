//! What the benches share: the embedded provider and the resource server started in this
//! process on 127.0.0.1 (real mTLS, an in-memory dev PKI), and the client's identity.

use std::path::Path;
use std::time::Duration;

use playbook::Identity;
use playbook::pki::{DevPki, Issued};

/// The two servers of the walkthrough, running, and the issuer the resource server trusts.
pub struct Servers {
    pub provider: oauth2_provider::Running,
    pub server: resource_server::Running,
    pub issuer: String,
}

impl Servers {
    /// Starts both and waits until the resource server has the provider's keys.
    pub async fn start(pki: &DevPki) -> Servers {
        let ca = vec![pki.ca.cert.cert_der.clone()];
        let provider = oauth2_provider::spawn_dev(
            pki,
            &[oauth2_provider::realm_file()],
            oauth2_provider::Options::default(),
        )
        .await
        .expect("provider starts");
        let issuer = playbook::names::issuer_for(&provider.url, playbook::names::REALM);
        let config = resource_server::Config::new(&issuer, ca);
        let server_identity = Identity::from_parts(
            Path::new("resource-server.pem"),
            Path::new("resource-server.key.pem"),
            vec![pki.resource_server.cert_der.clone()],
            pki.resource_server.key_der(),
            None,
        )
        .expect("server identity");
        let tls = config.server_tls(&server_identity).expect("tls");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let server = resource_server::spawn(listener, tls, config).expect("resource server");
        server
            .wait_ready(Duration::from_secs(10))
            .await
            .expect("keys loaded");
        Servers {
            provider,
            server,
            issuer,
        }
    }

    pub async fn stop(self) {
        self.server.stop().await.expect("resource server stops");
        self.provider.stop().await.expect("provider stops");
    }
}

/// The client certificate and key, as `client.pem` / `client.key.pem` would load.
pub fn identity(issued: &Issued) -> Identity {
    Identity::from_parts(
        Path::new("client.pem"),
        Path::new("client.key.pem"),
        vec![issued.cert_der.clone()],
        issued.key_der(),
        None,
    )
    .expect("client identity")
}
