//! HTTPS clients: our dev CA as the *only* root, and optionally a client identity.
//!
//! No system roots, no "accept invalid certificates" switch: the playground verifies
//! every server against `ca.pem`, as curl does with `--cacert certs/ca.pem`.

use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::CertificateDer;

use crate::error::TlsError;
use crate::pem::Identity;

/// A rustls client config trusting only `roots`, presenting `identity` when asked.
pub fn client_config(
    roots: &[CertificateDer<'static>],
    identity: Option<&Identity>,
) -> Result<rustls::ClientConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut store = rustls::RootCertStore::empty();
    for ca in roots {
        store.add(ca.clone())?;
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(store);
    let mut config = match identity {
        Some(id) => builder.with_client_auth_cert(id.chain.clone(), id.key.clone_key())?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    if cfg!(debug_assertions) {
        config.key_log = Arc::new(rustls::KeyLogFile::new());
    }
    Ok(config)
}

/// A reqwest client over [`client_config`]. Redirects are not followed: a token or API
/// response that redirects is an error to show, not a hop to take with our certificate.
pub fn https_client(
    roots: &[CertificateDer<'static>],
    identity: Option<&Identity>,
) -> Result<reqwest::Client, TlsError> {
    Ok(reqwest::Client::builder()
        .use_preconfigured_tls(client_config(roots, identity)?)
        .https_only(true)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("oauth2-playbook/", env!("CARGO_PKG_VERSION")))
        .build()?)
}
