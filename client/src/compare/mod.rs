//! `client compare`: mTLS beside its alternatives, live. The same flow (client-credentials
//! tokens, then calls to the API) runs once per [`ROWS`] entry, a client authentication
//! method and a binding, then the same three attacks ([`attacks`]); one table
//! ([`table`]) says what the thief gets, what each party checked, and what the method cost
//! in this very run.
//!
//! ```text
//! client compare                     the table (markdown), after each row's narration
//! client compare --tokens 5 --calls 20 --json   fewer requests; one JSON document
//! ```
//!
//! The cost is counted by the trace's instrumented client ([`playbook::https::Recorder`]):
//! each row sends its requests through it, on its own recorder, so the handshakes and the
//! bytes (TLS records, both ways, handshakes included) are the row's own. The rates are
//! sequential requests on kept-alive connections, one at a time: the shape of one client, not
//! a load test (`client bench` is that).
//!
//! A row Keycloak cannot give (mTLS with a DPoP proof: Keycloak 26.7.5 binds that token to the
//! certificate only) is in the table with the reason, from [`Bind::check`], and nothing run.

pub mod attacks;
pub mod table;

use std::sync::Arc;
use std::time::Instant;

use playbook::Identity;
use playbook::https::Recorder;
use playbook::rfc9449::DpopKey;
use rustls_pki_types::CertificateDer;
use serde::Serialize;
use url::Url;

use crate::error::ClientError;
use crate::http::Http;
use crate::resource;
use crate::settings::Settings;
use crate::token::{self, AuthMethod, Bind, DecodedJwt, TokenResponse};

pub use attacks::{Attacks, Outcome};

/// The API route every row calls: any valid token may read it (no role needed), so what
/// decides is the token and its binding alone.
pub const PATH: &str = "/api/whoami";

/// One way to get and use a token: how the client authenticates (`--auth`) and how the token
/// is bound (`--bind`), with what each party checks for it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Row {
    /// As the table names it.
    pub name: &'static str,
    pub auth: AuthMethod,
    pub bind: Bind,
    /// What the provider checks before it issues the token.
    pub provider_checks: &'static str,
    /// What the resource server checks on each call, beyond the token's signature, `iss`
    /// and lifetime (which it checks for every row).
    pub api_checks: &'static str,
}

/// The methods compared, in the table's order. A new method is one row here (and, if its
/// token request is a new kind, its arm in [`Run::endpoint`] and in
/// [`attacks::stolen_credential`]). The `private_key_jwt` row uses the shipped realm's
/// `client-jwt` client, whose certificate the provider takes from `certs/client-jwt.pem` at
/// import (`PLAYBOOK_JWT_CLIENT_CERT`).
pub const ROWS: &[Row] = &[
    Row {
        name: "client secret, bearer token",
        auth: AuthMethod::Secret,
        bind: Bind::None,
        provider_checks: "the client secret (HTTP Basic)",
        api_checks: "nothing more: whoever holds the token is served",
    },
    Row {
        name: "mTLS (tls_client_auth), certificate-bound",
        auth: AuthMethod::Tls,
        bind: Bind::Mtls,
        provider_checks: "the certificate's chain to the CA and the key (TLS handshake); its subject DN = x509.subjectdn",
        api_checks: "cnf.x5t#S256 = the thumbprint of this connection's certificate (RFC 8705 §3)",
    },
    Row {
        name: "DPoP (client secret + DPoP proof)",
        auth: AuthMethod::Secret,
        bind: Bind::Dpop,
        provider_checks: "the client secret; the DPoP proof (signature, htm, htu, iat) → cnf.jkt",
        api_checks: "a DPoP proof per request: signed by cnf.jkt's key, htm, htu, ath, iat, jti never seen (RFC 9449 §7.1)",
    },
    Row {
        name: "private_key_jwt (RFC 7523), bearer token",
        auth: AuthMethod::PrivateKeyJwt,
        bind: Bind::None,
        provider_checks: "a JWT signed with the client's key: the signature with its registered certificate, aud, exp/iat, a jti never seen",
        api_checks: "nothing more: whoever holds the token is served",
    },
    Row {
        name: "mTLS + DPoP",
        auth: AuthMethod::Tls,
        bind: Bind::Dpop,
        provider_checks: "",
        api_checks: "",
    },
];

/// How many requests each row sends to measure its cost.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Counts {
    /// Token requests (each a client-credentials grant).
    pub tokens: u32,
    /// API calls with one token.
    pub calls: u32,
}

/// What one row cost, measured in this run by the instrumented client.
#[derive(Debug, Clone, Serialize)]
pub struct Cost {
    pub token_requests: u32,
    pub tokens_per_second: f64,
    pub calls: u32,
    pub calls_per_second: f64,
    /// TLS handshakes the row's requests needed (connections are kept alive).
    pub handshakes: usize,
    /// TLS bytes on the wire, both ways, handshakes included.
    pub bytes_written: u64,
    pub bytes_read: u64,
}

/// The token as the provider issued it: what binds it.
#[derive(Debug, Clone, Serialize)]
pub struct TokenShape {
    pub token_type: String,
    /// The members of `cnf` (`x5t#S256`, `jkt`, …); empty when unbound.
    pub cnf: Vec<String>,
}

/// One row's outcome: run, or not possible with the reason.
#[derive(Debug, Clone, Serialize)]
pub struct RowResult {
    pub row: Row,
    /// Why the row was not run (a pair the realm's clients cannot give), else `None`.
    pub not_possible: Option<String>,
    pub token: Option<TokenShape>,
    pub cost: Option<Cost>,
    pub attacks: Option<Attacks>,
}

/// What every row uses: the trust, the client's and the thief's identities, the endpoints.
#[derive(Debug)]
pub struct Run<'a> {
    pub s: &'a Settings,
    pub roots: Vec<CertificateDer<'static>>,
    /// The client's certificate (the API requires one on every connection).
    pub client: Identity,
    /// The thief's own certificate, from the same CA (`other-client.pem`): another machine.
    pub thief: Identity,
    /// The token endpoint, and its mTLS alias (RFC 8705 §5) for `tls_client_auth`.
    pub token_endpoint: Url,
    pub mtls_token_endpoint: Url,
    pub counts: Counts,
}

impl Run<'_> {
    /// The token endpoint `auth` uses.
    fn endpoint(&self, auth: AuthMethod) -> &Url {
        match auth {
            AuthMethod::Tls => &self.mtls_token_endpoint,
            AuthMethod::Secret | AuthMethod::PrivateKeyJwt => &self.token_endpoint,
        }
    }

    /// An HTTPS handle presenting `identity`, recording into `recorder` when given.
    fn http(
        &self,
        identity: Option<&Identity>,
        recorder: Option<&Recorder>,
    ) -> Result<Http, ClientError> {
        Http::new(&self.roots, identity, recorder)
    }

    /// One token for `row`, over `http`, bound to `dpop` when given: the one place a row's
    /// token request is made (the attacks' too).
    pub async fn token(
        &self,
        row: &Row,
        http: &Http,
        dpop: Option<&DpopKey>,
    ) -> Result<TokenResponse, ClientError> {
        let request = self.s.token_request_bound(row.auth, row.bind);
        token::request_token_with(http, self.endpoint(row.auth), &request, dpop).await
    }

    /// The handle a row's token requests go through: with the client certificate when the
    /// method presents it, else without.
    fn token_http(
        &self,
        row: &Row,
        api: &Http,
        recorder: Option<&Recorder>,
    ) -> Result<Http, ClientError> {
        if row.auth.presents_certificate() {
            Ok(api.clone())
        } else {
            self.http(None, recorder)
        }
    }

    /// Runs `row`: its cost, then the attacks on its token and credential.
    pub async fn row(&self, row: &Row) -> Result<RowResult, ClientError> {
        if let Err(why) = row.bind.check(row.auth) {
            return Ok(RowResult {
                row: *row,
                not_possible: Some(why),
                token: None,
                cost: None,
                attacks: None,
            });
        }
        let dpop = match row.bind {
            Bind::Dpop => {
                Some(Arc::new(DpopKey::generate().map_err(|e| {
                    ClientError::Jwt(format!("cannot make a DPoP key: {e}"))
                })?))
            }
            Bind::Mtls | Bind::None => None,
        };
        let (cost, token) = self.cost(row, dpop.as_deref()).await?;
        let shape = shape(&token)?;
        let attacks = attacks::run(self, row, &token.access_token, dpop.as_deref()).await?;
        Ok(RowResult {
            row: *row,
            not_possible: None,
            token: Some(shape),
            cost: Some(cost),
            attacks: Some(attacks),
        })
    }

    /// `counts.tokens` token requests, then `counts.calls` calls with the last token, all
    /// through one recorder; the last token is returned for the attacks.
    async fn cost(
        &self,
        row: &Row,
        dpop: Option<&DpopKey>,
    ) -> Result<(Cost, TokenResponse), ClientError> {
        let recorder = Recorder::new();
        let api = self.http(Some(&self.client), Some(&recorder))?;
        let token_http = self.token_http(row, &api, Some(&recorder))?;
        let tokens = self.counts.tokens.max(1);
        let started = Instant::now();
        let mut token = self.token(row, &token_http, dpop).await?;
        for _ in 1..tokens {
            token = self.token(row, &token_http, dpop).await?;
        }
        let token_secs = started.elapsed().as_secs_f64();

        let started = Instant::now();
        for _ in 0..self.counts.calls {
            let answer = resource::call_with(
                &api,
                &self.s.resource_server,
                reqwest::Method::GET,
                PATH,
                &token.access_token,
                None,
                dpop,
            )
            .await?;
            if answer.status != 200 {
                return Err(ClientError::Unexpected {
                    what: "the client's own call (with its own token)",
                    method: reqwest::Method::GET,
                    url: resource::api_url(&self.s.resource_server, PATH)?,
                    status: answer.status,
                    body: answer.summary(),
                });
            }
        }
        let call_secs = started.elapsed().as_secs_f64();
        let (bytes_read, bytes_written) = recorder.bytes();
        let rate = |n: u32, secs: f64| if secs > 0.0 { f64::from(n) / secs } else { 0.0 };
        Ok((
            Cost {
                token_requests: tokens,
                tokens_per_second: rate(tokens, token_secs),
                calls: self.counts.calls,
                calls_per_second: rate(self.counts.calls, call_secs),
                handshakes: recorder.handshakes(),
                bytes_written,
                bytes_read,
            },
            token,
        ))
    }
}

/// `token_type` and the members of `cnf`.
fn shape(token: &TokenResponse) -> Result<TokenShape, ClientError> {
    let jwt = DecodedJwt::decode(&token.access_token)?;
    let cnf = jwt
        .claims
        .get("cnf")
        .and_then(serde_json::Value::as_object)
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    Ok(TokenShape {
        token_type: token.token_type.clone(),
        cnf,
    })
}

/// Every row of [`ROWS`], in order.
pub async fn run_all(run: &Run<'_>) -> Result<Vec<RowResult>, ClientError> {
    let mut results = Vec::new();
    for row in ROWS {
        results.push(run.row(row).await?);
    }
    Ok(results)
}

/// The machine the numbers were measured on: CPUs the process may use, the CPU model and
/// the memory (from `/proc` on Linux; "unknown" elsewhere).
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let field = |file: &str, name: &str| {
        std::fs::read_to_string(file).ok().and_then(|text| {
            text.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
    };
    let model = field("/proc/cpuinfo", "model name").unwrap_or_else(|| "unknown CPU".into());
    let memory = field("/proc/meminfo", "MemTotal")
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or_else(
            || "unknown memory".to_owned(),
            |kib| format!("{:.1} GiB memory", kib as f64 / 1024.0 / 1024.0),
        );
    format!("{cpus} CPUs ({model}), {memory}, {}", std::env::consts::OS)
}
