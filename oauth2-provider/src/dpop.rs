//! DPoP at the token endpoint ([RFC 9449 §5]), as Keycloak 26.7.5's
//! `DPoPUtil.handleDPoPHeader` does it, after client authentication and before the grant:
//!
//! - a client whose `dpop.bound.access.tokens` attribute is `true` must send a proof;
//! - any other client *may* send one: when it does, the proof is checked the same way and
//!   the token is bound to its key; but a certificate-bound client's token keeps only its
//!   `x5t#S256` (Keycloak's certificate binding replaces the `cnf` DPoP wrote) while its
//!   `typ` and `token_type` say `DPoP` (observed on the live server);
//! - the proof's checks are `playbook::rfc9449`'s, with `DPoPUtil`'s window (10 s lifetime,
//!   15 s clock skew), no nonce, and replay refused (`jti` and `htu`, for the window);
//! - a bad proof is 400 `invalid_request` with `DPoPUtil`'s message (not RFC 9449's
//!   `invalid_dpop_proof`, which Keycloak only writes into its event log).
//!
//! A bound token says `typ: DPoP`, carries `cnf.jkt` (and Keycloak's own
//! `cnf.kc-jkt-type: DPoP`), and the response's `token_type` is `DPoP` ([`crate::mint`]).
//!
//! [RFC 9449 §5]: https://www.rfc-editor.org/rfc/rfc9449#section-5

use playbook::rfc9449::{self, ProofError, ProofRequest, Window};

use crate::error::{OAuthError, Refusal};
use crate::request::ClientRequest;
use crate::store::Client;

/// `DPoPUtil.DEFAULT_PROOF_LIFETIME` and `DEFAULT_ALLOWED_CLOCK_SKEW`.
pub const WINDOW: Window = Window::KEYCLOAK;

/// The client attribute that makes a proof mandatory (`OIDCAdvancedConfigWrapper#isUseDPoP`).
pub const REQUIRED_ATTRIBUTE: &str = "dpop.bound.access.tokens";

/// The proof of a token request, when the client must send one or sent one: the `jkt` to
/// bind the token to. `None` when there is no proof and none is needed.
pub fn handle_dpop_header(
    client: &Client,
    req: &ClientRequest,
    replay: &rfc9449::ReplayCache,
) -> Result<Option<String>, Refusal> {
    let required = client.attribute_true(REQUIRED_ATTRIBUTE);
    let Some(proof) = req.dpop.as_deref() else {
        if required {
            return Err(refusal(&client.client_id, &ProofError::Missing));
        }
        return Ok(None);
    };
    let now = u64::try_from(crate::clock::now()).unwrap_or_default();
    let url = format!("{}{}", req.base, req.path);
    let request = ProofRequest {
        method: &req.method,
        url: &url,
        access_token: None,
    };
    let proof = rfc9449::verify(proof, request, WINDOW, now)
        .and_then(|p| replay.check(&p, now).map(|()| p))
        .map_err(|e| refusal(&client.client_id, &e))?;
    Ok(Some(proof.jkt))
}

fn refusal(client_id: &str, e: &ProofError) -> Refusal {
    Refusal::new(
        OAuthError::invalid_request(keycloak_message(e)),
        format!("client '{client_id}': {e}"),
    )
}

/// The `error_description` Keycloak 26.7.5 gives for each refusal (`DPoPUtil`'s messages,
/// as the live server words them).
pub fn keycloak_message(e: &ProofError) -> String {
    match e {
        ProofError::Missing => "DPoP proof is missing".into(),
        ProofError::Repeated | ProofError::Malformed(_) => {
            "DPoP header verification failure".into()
        }
        ProofError::Typ(typ) => format!(
            "Invalid or missing type in DPoP header: {}",
            typ.as_deref().unwrap_or("null")
        ),
        ProofError::Alg(alg) => format!("Unsupported DPoP algorithm: {}", alg.trim_matches('"')),
        ProofError::NoJwk => "No JWK in DPoP header".into(),
        ProofError::PrivateKey(_) => "Private key material must not be present in DPoP JWK".into(),
        ProofError::BadKey(_) => "Unsupported key type in DPoP header".into(),
        // The Java exception's toString, as the live server words it.
        ProofError::Signature => "DPoP verification failure: \
                                  org.keycloak.exceptions.TokenSignatureInvalidException: \
                                  Invalid token signature"
            .into(),
        ProofError::MissingClaim(_) => "DPoP mandatory claims are missing".into(),
        ProofError::Htu { .. } => "DPoP HTTP URL mismatch".into(),
        ProofError::Htm { .. } => "DPoP HTTP method mismatch".into(),
        ProofError::NotActive { .. } => "DPoP proof is not active".into(),
        ProofError::NoAth => "No access token hash in DPoP proof".into(),
        ProofError::AthMismatch => "DPoP proof access token hash mismatch".into(),
        ProofError::Replayed | ProofError::ReplayCacheFull(_) => {
            "DPoP proof has already been used".into()
        }
    }
}
