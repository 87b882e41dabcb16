//! What the playground's three binaries share: its names, the dev PKI, PEM loading and the
//! mTLS plumbing, so the client, the provider and the resource server cannot drift apart.
//!
//! # Layout: a core, and the plumbing behind features
//!
//! The core is always built: knowledge, no HTTP, no command line, no I/O beyond files.
//!
//! - [`names`]: realm, client ids, role, scope, ports, DNs: defined once.
//! - [`pki`]: the dev CA and every certificate the walkthrough uses (rcgen).
//! - [`pem`]: loading certificates and keys, errors that name the file.
//! - [`x509`]: reading a certificate back (subject, issuer, EKUs, validity).
//! - [`rfc8705`]: certificate-bound tokens: the `x5t#S256` thumbprint, the `cnf` claim, the
//!   comparison (constant time) and its typed outcome, for all three crates.
//! - [`rfc9449`]: DPoP: proofs (made, verified), the `jkt` thumbprint, the replay cache, for
//!   all three crates.
//! - [`oauth`]: the wire error codes, RFC 6749 §5.2 and RFC 6750 §3.1, as enums; the RFC 6750
//!   challenge, written and read.
//! - [`error`]: [`TlsError`], what loading certificates or building TLS configs refuses.
//! - [`dn`]: distinguished names rendered as Keycloak compares them (RFC 2253).
//!
//! The plumbing, each part behind the feature of its direction (`Cargo.toml` says which):
//!
//! - `server`: [`server`] (a client-certificate-verifying `ServerConfig` and the HTTPS accept
//!   loop) and [`forwarded`] (client certificates forwarded by a TLS-terminating reverse proxy).
//! - `https`: [`https`] (an HTTPS client that trusts only the dev CA, with an optional
//!   identity) and [`discovery`] (the provider's metadata from its issuer).
//! - `report`: [`report`], what the binaries' `main` share: logging, and how a failure is
//!   reported (one cause-chain printer, [`report::error_chain`], for every crate).
//! - `cli`: clap's derives on the option types ([`pki::KeyType`], the servers' options).
//!
//! The load generator of `client bench` lives in the client (`client::load`).
//!
//! One crypto provider is used everywhere: aws-lc-rs.

pub mod dn;
pub mod error;
pub mod names;
pub mod oauth;
pub mod pem;
pub mod pki;
pub mod rfc7523;
pub mod rfc8705;
pub mod rfc9449;
pub mod x509;

#[cfg(feature = "https")]
pub mod discovery;
#[cfg(feature = "server")]
pub mod forwarded;
#[cfg(feature = "https")]
pub mod https;
#[cfg(feature = "report")]
pub mod report;
#[cfg(feature = "server")]
pub mod server;

pub use error::TlsError;
pub use pem::Identity;
#[cfg(feature = "server")]
pub use server::{ClientAuth, Connection};

/// Installs aws-lc-rs as rustls' process-wide crypto provider. Our own configs name the
/// provider explicitly; this covers any library that asks for the process default.
/// Safe to call more than once.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
