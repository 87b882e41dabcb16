//! The playground's client: the dev PKI, the Keycloak admin API, an RFC 8705 mTLS
//! client-credentials request, a call to the protected API, and the narrated walkthrough
//! that strings them together.
//!
//! Run `client --help`, or `./start.sh` at the repository root for the whole flow.
//!
//! # Layout (one module per protocol step, in the order the walkthrough uses them)
//!
//! - [`settings`]: every setting the commands share (issuer, client id, certificate paths…).
//! - [`certs`]: `client certs` (writes the dev PKI) and `client certs show` (reads it back).
//! - [`discovery`]: the issuer URL → the provider's endpoints (OpenID Connect Discovery,
//!   RFC 8414), so `client token` works against any RFC 8705 provider.
//! - [`admin`]: Keycloak's Admin REST API: give or take the realm role of the client's
//!   service-account user.
//! - [`token`]: the client-credentials grant (RFC 6749 §4.4) with `tls_client_auth`
//!   (RFC 8705 §2.1) or, for contrast, a client secret (RFC 6749 §2.3.1); decoding the JWT.
//! - [`resource`]: calling the resource server with a cached, certificate-bound token.
//! - [`walkthrough`]: steps 1–8 of the flow, each with its expected and actual outcome.
//! - [`lab`]: the workshop labs' checkers, resets and reference solutions (`client lab`).
//! - [`bench`](mod@bench): `client bench`, a bounded load against the token endpoint or an API route;
//!   [`load`]: its load generator (HTTP/1.1 over mTLS, an HDR histogram), which the resource
//!   server's `vs_bare` bench borrows.
//! - [`compare`]: `client compare`, mTLS beside a client secret and DPoP: the same flow and
//!   the same attacks, the cost measured by the instrumented client.
//! - [`output`]: numbered human output, `--json` for scripts, secrets shortened.
//! - [`rotation`]: a client that follows its certificate files: a new certificate, a new
//!   token, no failed call (workshop lab 6).
//! - [`retry`]: waiting, with backoff and a progress indicator, for a server still starting.
//! - [`http`]: send a request, read the JSON answer (shared by admin, discovery, resource).
//! - [`error`]: one error enum; the server's RFC 6749 §5.2 / RFC 6750 §3.1 code verbatim.
//! - [`cli`]: the clap definitions (the `--help` texts).
//! - [`commands`]: each command's body, and the dispatch `main` calls.

// Errors carry the URL and the server's answer so the message can name them; a CLI that
// makes a handful of requests does not care that the `Err` variant is large.
#![allow(clippy::result_large_err)]

pub mod admin;
pub mod bench;
pub mod certs;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod discovery;
pub mod doctor;
pub mod error;
pub mod http;
pub mod lab;
pub mod load;
pub mod output;
pub mod resource;
pub mod retry;
pub mod rotation;
pub mod settings;
pub mod token;
pub mod trace;
pub mod walkthrough;

pub use error::ClientError;
pub use output::Output;
pub use settings::Settings;
