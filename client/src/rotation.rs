//! Client-certificate rotation without downtime (RFC 8705 §3: a token is bound to one
//! certificate, so a new certificate needs a new token).
//!
//! [`RotatingClient`] presents the certificate in its files *as they are now*: before each
//! call it looks whether `--cert`/`--key` changed on disk and, once the new pair loads (a
//! half-written pair, new certificate with the old key, is skipped until both are there), it
//! switches the TLS identity and drops the token bound to the old certificate. It also
//! fetches a new token, once, when the resource server answers `invalid_token` (such as a
//! binding mismatch after a switch it had not seen yet). Calls in flight keep the old
//! identity and token, which are still valid together, so no call fails during a switch.

use std::path::PathBuf;

use playbook::Identity;
use playbook::x509::Purpose;
use rustls_pki_types::CertificateDer;
use url::Url;

use crate::error::ClientError;
use crate::resource::{self, ApiResponse, TokenCache, TokenSource};
use crate::token::{self, DecodedJwt, TokenRequest};

/// A hash of each file's contents (comparing contents catches a change that a modification
/// time with a coarse resolution would miss; a hash keeps the key's bytes out of `Debug`).
type Stamp = [Option<u64>; 2];

/// One call, with which certificate and token it was made.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RotatedCall {
    pub response: ApiResponse,
    /// `x5t#S256` of the certificate presented.
    pub presented: String,
    /// The token's `cnf.x5t#S256`.
    pub token_bound_to: Option<String>,
    pub token: TokenSource,
}

/// An mTLS client that follows its certificate files.
#[derive(Debug)]
pub struct RotatingClient {
    cert: PathBuf,
    key: PathBuf,
    roots: Vec<CertificateDer<'static>>,
    stamp: Stamp,
    identity: Identity,
    http: crate::http::Http,
    endpoint: Url,
    request: TokenRequest,
    cache: TokenCache,
    /// The certificate the cached token was fetched with.
    bound_to: Option<String>,
    cnf: Option<String>,
}

fn stamp(cert: &PathBuf, key: &PathBuf) -> Stamp {
    [cert, key].map(|p| {
        std::fs::read(p).ok().map(|bytes| {
            use std::hash::{Hash as _, Hasher as _};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            bytes.hash(&mut h);
            h.finish()
        })
    })
}

impl RotatingClient {
    /// Loads `cert`/`key` (they must be a valid pair now) and will fetch tokens from
    /// `endpoint` with `request` (tls_client_auth).
    pub fn new(
        cert: PathBuf,
        key: PathBuf,
        roots: Vec<CertificateDer<'static>>,
        endpoint: Url,
        request: TokenRequest,
    ) -> Result<Self, ClientError> {
        let stamp = stamp(&cert, &key);
        let identity = Identity::load(&cert, &key, Some(Purpose::Client))?;
        let http = playbook::https::https_client(&roots, Some(&identity))?.into();
        Ok(RotatingClient {
            cert,
            key,
            roots,
            stamp,
            identity,
            http,
            endpoint,
            request,
            cache: TokenCache::default(),
            bound_to: None,
            cnf: None,
        })
    }

    /// `x5t#S256` of the certificate presented now.
    pub fn x5t_s256(&self) -> String {
        self.identity.x5t_s256()
    }

    /// Switches to the files' certificate if they changed and the new pair loads; returns
    /// whether it switched. A pair that does not load yet is tried again next time.
    pub fn reload(&mut self) -> bool {
        let now = stamp(&self.cert, &self.key);
        if now == self.stamp {
            return false;
        }
        let loaded = Identity::load(&self.cert, &self.key, Some(Purpose::Client))
            .map_err(ClientError::from)
            .and_then(|id| {
                let http = playbook::https::https_client(&self.roots, Some(&id))?.into();
                Ok((id, http))
            });
        match loaded {
            Ok((identity, http)) => {
                self.stamp = now;
                let changed = identity.x5t_s256() != self.identity.x5t_s256();
                if changed {
                    tracing::info!(
                        "client certificate {} changed: now x5t#S256 {}",
                        self.cert.display(),
                        identity.x5t_s256()
                    );
                }
                self.identity = identity;
                self.http = http;
                changed
            }
            Err(e) => {
                tracing::debug!("certificate files changed but do not load yet: {e}");
                false
            }
        }
    }

    async fn fetch(&mut self) -> Result<(), ClientError> {
        let response = token::request_token(&self.http, &self.endpoint, &self.request).await?;
        self.cache.store(&response);
        self.bound_to = Some(self.identity.x5t_s256());
        self.cnf = DecodedJwt::decode(&response.access_token)
            .ok()
            .and_then(|j| j.cnf_x5t_s256().map(str::to_owned));
        Ok(())
    }

    /// `GET {base}{path}` with the current certificate and a token bound to it.
    pub async fn get(&mut self, base: &Url, path: &str) -> Result<RotatedCall, ClientError> {
        self.reload();
        if self.bound_to.as_deref() != Some(self.identity.x5t_s256().as_str()) {
            // The token belongs to the previous certificate: it would be refused.
            self.cache.clear();
        }
        let mut source = TokenSource::Cached;
        if self.cache.valid().is_none() {
            self.fetch().await?;
            source = TokenSource::Fetched;
        }
        let mut response = self.call(base, path).await?;
        if response.is_invalid_token() {
            self.reload();
            self.cache.clear();
            self.fetch().await?;
            source = TokenSource::Refetched;
            response = self.call(base, path).await?;
        }
        Ok(RotatedCall {
            response,
            presented: self.identity.x5t_s256(),
            token_bound_to: self.cnf.clone(),
            token: source,
        })
    }

    async fn call(&self, base: &Url, path: &str) -> Result<ApiResponse, ClientError> {
        let token = self.cache.valid().cloned().ok_or_else(|| {
            ClientError::Jwt(
                "the provider issued a token that expires within the cache margin".into(),
            )
        })?;
        resource::call(&self.http, base, reqwest::Method::GET, path, &token, None).await
    }
}

/// `client call --every SECS PATH…`: calls each path every `every` seconds until Ctrl-C,
/// one line per call saying which certificate it presented and whether the token was new.
pub async fn watch(
    s: &crate::Settings,
    paths: &[String],
    every: f64,
    out: &crate::Output,
) -> Result<bool, ClientError> {
    let interval = std::time::Duration::try_from_secs_f64(every)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| ClientError::Setting {
            name: "--every",
            value: every.to_string(),
            fix: "a number of seconds greater than 0, e.g. 0.5".into(),
        })?;
    let roots = playbook::pem::load_ca_certs(&s.ca)?;
    let http = playbook::https::https_client(&roots, None)?.into();
    let url = crate::discovery::discovery_url(&s.issuer)?;
    let m = crate::retry::until_up("the provider", &url, s.wait, || {
        crate::discovery::discover(&http, &s.issuer)
    })
    .await?;
    let request = TokenRequest {
        client_id: s.client_id.clone(),
        scope: s.scope.clone(),
        auth: crate::token::ClientAuth::TlsClientAuth,
    };
    let mut client = RotatingClient::new(
        s.cert.clone(),
        s.key.clone(),
        roots,
        m.token_endpoint_for_mtls().clone(),
        request,
    )?;
    out.note(&format!(
        "calling every {every}s until Ctrl-C; replace {} and {} to rotate",
        s.cert.display(),
        s.key.display()
    ));
    let (mut calls, mut failed) = (0u64, 0u64);
    loop {
        for path in paths {
            let path = if path.starts_with('/') {
                path.clone()
            } else {
                format!("/{path}")
            };
            calls += 1;
            match client.get(&s.resource_server, &path).await {
                Ok(call) => {
                    failed += u64::from(call.response.status >= 300);
                    let x5t: String = call.presented.chars().take(12).collect();
                    out.plain(&format!(
                        "{path} → {} (certificate x5t#S256 {x5t}…, token {})",
                        call.response.summary().lines().next().unwrap_or(""),
                        match call.token {
                            TokenSource::Cached => "cached",
                            TokenSource::Fetched => "new",
                            TokenSource::Refetched => "refetched after invalid_token",
                        }
                    ));
                }
                Err(e) => {
                    failed += 1;
                    out.fail(&format!("{path}: {}", playbook::report::error_chain(&e)));
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    out.plain(&format!("{calls} calls, {failed} failed"));
    Ok(failed == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use playbook::pki::{DevPki, write_files};

    /// A new certificate with the old key is not loaded (the old pair stays); once the key
    /// follows, the client switches.
    #[test]
    fn a_half_written_pair_is_skipped_until_complete() {
        playbook::install_crypto_provider();
        let pki = DevPki::generate(2, 1).unwrap();
        let dir = tempfile::tempdir().unwrap();
        write_files(dir.path(), &pki.files().unwrap(), false).unwrap();
        let (cert, key) = (
            dir.path().join("client.pem"),
            dir.path().join("client.key.pem"),
        );
        let request = TokenRequest {
            client_id: crate::token::ClientId::new("c"),
            scope: None,
            auth: crate::token::ClientAuth::TlsClientAuth,
        };
        let roots = vec![pki.ca.cert.cert_der.clone()];
        let endpoint = Url::parse("https://localhost:1/token").unwrap();
        let mut client =
            RotatingClient::new(cert.clone(), key.clone(), roots, endpoint, request).unwrap();
        let old = client.x5t_s256();
        assert!(!client.reload(), "nothing changed");

        let new = pki
            .ca
            .issue_client(
                playbook::names::CLIENT_SUBJECT_DN,
                playbook::pki::Validity::days_from_now(1),
            )
            .unwrap();
        std::fs::write(&cert, &new.cert_pem).unwrap();
        assert!(!client.reload(), "new certificate, old key: not a pair");
        assert_eq!(client.x5t_s256(), old);
        std::fs::write(&key, &new.key_pem).unwrap();
        assert!(client.reload(), "the pair is complete");
        assert_eq!(client.x5t_s256(), new.x5t_s256());
    }
}
