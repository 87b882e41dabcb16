//! The three attacks `client compare` runs on each row, from another machine: the thief
//! has its own certificate from the same CA (`other-client.pem`, so the resource server's
//! handshake lets it in) and, where DPoP is used, its own DPoP key.
//!
//! 1. **A stolen token** ([`stolen_token`]): the client's token, presented by the thief (for
//!    DPoP, with a proof of the thief's key: it has no other).
//! 2. **A stolen client credential** ([`stolen_credential`]): the thief asks for a token of
//!    its own with what it could steal. A client secret is sent on every token request, so
//!    it is stolen whole; an mTLS client's private key never leaves the client, and what the
//!    thief can get (the certificate, public by nature) is of no use without it, so the thief
//!    tries with its own certificate in the client's name.
//! 3. **A replayed DPoP proof** ([`replayed_proof`]): a request the client made (token and
//!    proof) captured and sent again by the thief.
//!
//! Each ends in an [`Outcome`]: the thief gets in, or a party refuses with its wire code and
//! reason (nothing here is decided by the client: the answers are the servers').

use playbook::rfc9449::DpopKey;
use serde::Serialize;

use super::{PATH, Row, Run};
use crate::error::ClientError;
use crate::resource::{self, ApiResponse};
use crate::token::{self, AccessToken, AuthMethod, Bind, ClientAuth};

/// Who refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// The authorization server, at its token endpoint.
    Provider,
    /// The resource server, at the API.
    ResourceServer,
}

/// What an attack came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The thief got in: the API answered it as it answers the client.
    Gets { status: u16 },
    /// A party refused, with its wire code and the reason it gave.
    Refused {
        by: Party,
        status: u16,
        error: String,
        why: String,
    },
    /// The attack does not apply to this method.
    NotApplicable { why: &'static str },
}

impl Outcome {
    /// Whether the thief got in.
    pub fn thief_gets_in(&self) -> bool {
        matches!(self, Outcome::Gets { .. })
    }

    /// The resource server's answer to the thief.
    fn answered(r: &ApiResponse) -> Outcome {
        if (200..300).contains(&r.status) {
            return Outcome::Gets { status: r.status };
        }
        Outcome::Refused {
            by: Party::ResourceServer,
            status: r.status,
            error: r
                .error_code()
                .map(|c| c.as_str().to_owned())
                .unwrap_or_default(),
            why: r.error_description().unwrap_or_default(),
        }
    }

    /// The provider's refusal of the thief's token request, or the error as it is.
    fn refused_token(e: ClientError) -> Result<Outcome, ClientError> {
        match e {
            ClientError::OAuth { error, .. } => Ok(Outcome::Refused {
                by: Party::Provider,
                status: error.status,
                error: error.error.as_str().to_owned(),
                why: error.error_description.unwrap_or_default(),
            }),
            other => Err(other),
        }
    }
}

/// The three outcomes of one row.
#[derive(Debug, Clone, Serialize)]
pub struct Attacks {
    pub stolen_token: Outcome,
    pub stolen_credential: Outcome,
    pub replayed_proof: Outcome,
}

/// Runs the three attacks on `row`, whose client holds `token` (bound to `dpop` when given).
pub async fn run(
    run: &Run<'_>,
    row: &Row,
    token: &AccessToken,
    dpop: Option<&DpopKey>,
) -> Result<Attacks, ClientError> {
    Ok(Attacks {
        stolen_token: stolen_token(run, row, token).await?,
        stolen_credential: stolen_credential(run, row).await?,
        replayed_proof: replayed_proof(run, row, token, dpop).await?,
    })
}

/// The thief's call to the API with `token`, over its own connection (its certificate),
/// with a proof of `key` (the thief's own) when given.
async fn thief_call(
    run: &Run<'_>,
    token: &AccessToken,
    key: Option<&DpopKey>,
) -> Result<Outcome, ClientError> {
    let http = run.http(Some(&run.thief), None)?;
    let answer = resource::call_with(
        &http,
        &run.s.resource_server,
        reqwest::Method::GET,
        PATH,
        token,
        None,
        key,
    )
    .await?;
    Ok(Outcome::answered(&answer))
}

/// A DPoP key of the thief's own where the row uses DPoP.
fn thief_key_for(row: &Row) -> Result<Option<DpopKey>, ClientError> {
    match row.bind {
        Bind::Dpop => DpopKey::generate()
            .map(Some)
            .map_err(|e| ClientError::Jwt(format!("cannot make a DPoP key: {e}"))),
        Bind::Mtls | Bind::None => Ok(None),
    }
}

/// Attack 1: the client's token, used by the thief from its machine.
pub async fn stolen_token(
    run: &Run<'_>,
    row: &Row,
    token: &AccessToken,
) -> Result<Outcome, ClientError> {
    thief_call(run, token, thief_key_for(row)?.as_ref()).await
}

/// Attack 2: the client's credential, used by the thief to get a token of its own, then that token
/// at the API.
pub async fn stolen_credential(run: &Run<'_>, row: &Row) -> Result<Outcome, ClientError> {
    let (http, key) = match row.auth {
        // The secret is in every token request: the thief has it whole, and sends it from
        // its machine (with a DPoP key of its own where the client uses DPoP).
        AuthMethod::Secret => (run.http(None, None)?, thief_key_for(row)?),
        // The private key never leaves the client; the thief has its own certificate of
        // the same CA and asks in the client's name.
        AuthMethod::Tls => (run.http(Some(&run.thief), None)?, None),
        // The private key never leaves the client either, and each assertion is good once
        // (`jti`); the thief signs an assertion of its own, with its own key, in the client's
        // name.
        AuthMethod::PrivateKeyJwt => {
            let http = run.http(None, None)?;
            let key = thief_key_for(row)?;
            let mut request = run.s.token_request_bound(row.auth, row.bind);
            if let ClientAuth::PrivateKeyJwt(credential) = &mut request.auth {
                credential.key_file = run.s.other_key.clone();
            }
            let endpoint = run.endpoint(row.auth);
            return match token::request_token_with(&http, endpoint, &request, key.as_ref()).await {
                Ok(token) => thief_call(run, &token.access_token, key.as_ref()).await,
                Err(e) => Outcome::refused_token(e),
            };
        }
    };
    match run.token(row, &http, key.as_ref()).await {
        Ok(token) => thief_call(run, &token.access_token, key.as_ref()).await,
        Err(e) => Outcome::refused_token(e),
    }
}

/// Attack 3: a request of the client's (its token and its DPoP proof), captured and sent again from
/// the thief's machine. The client's own request is sent first and must be served.
pub async fn replayed_proof(
    run: &Run<'_>,
    row: &Row,
    token: &AccessToken,
    dpop: Option<&DpopKey>,
) -> Result<Outcome, ClientError> {
    let key = match (row.bind, dpop) {
        (Bind::Dpop, Some(key)) => key,
        (Bind::Mtls, _) => {
            return Ok(Outcome::NotApplicable {
                why: "no proof travels in the request: the proof of possession is the TLS \
                      handshake's CertificateVerify, signed over that handshake alone",
            });
        }
        _ => {
            return Ok(Outcome::NotApplicable {
                why: "no proof: the token alone is the credential (see the stolen token)",
            });
        }
    };
    let url = resource::api_url(&run.s.resource_server, PATH)?;
    let proof = key.proof(
        "GET",
        url.as_str(),
        Some(token.secret()),
        crate::token::unix_now(),
    );
    let call = async |http: &crate::http::Http| {
        resource::call_with_proof(
            http,
            &run.s.resource_server,
            reqwest::Method::GET,
            PATH,
            token,
            None,
            Some(&proof),
        )
        .await
    };
    let own = call(&run.http(Some(&run.client), None)?).await?;
    if own.status != 200 {
        return Err(ClientError::Unexpected {
            what: "the client's own DPoP call, before the replay",
            method: reqwest::Method::GET,
            url,
            status: own.status,
            body: own.summary(),
        });
    }
    let replayed = call(&run.http(Some(&run.thief), None)?).await?;
    Ok(Outcome::answered(&replayed))
}
