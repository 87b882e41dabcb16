//! DPoP at the token endpoint (RFC 9449 §5), as Keycloak 26.7.5 answers: the DPoP client
//! (`dpop.bound.access.tokens`) gets a DPoP-bound token for a good proof and a 400 with
//! `DPoPUtil`'s message for each bad one; a client that does not require DPoP may still send
//! a proof, and its token is then bound to the proof's key as well.

use playbook::names::{DPOP_CLIENT_ID, DPOP_CLIENT_SECRET, SECRET_CLIENT_ID, SECRET_CLIENT_SECRET};
use playbook::pki::Issued;
use playbook::rfc9449::{DpopKey, ProofParts};
use reqwest::StatusCode;
use serde_json::json;

use super::Fixture;
use super::helpers::*;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// A `client_credentials` request of `client_id` with `secret` in the form, `cert` on the
/// connection, and `proof` (when given) in the `DPoP` header.
async fn dpop_request(
    f: &Fixture,
    client_id: &str,
    secret: Option<&str>,
    cert: Option<&Issued>,
    proof: Option<&str>,
) -> Answer {
    let form = client_credentials_form(client_id, secret);
    let mut request = http(f, cert).post(token_url(f)).form(&form);
    if let Some(p) = proof {
        request = request.header("DPoP", p);
    }
    send(request).await
}

/// A good proof for the token endpoint.
fn proof(f: &Fixture, key: &DpopKey) -> String {
    key.proof("POST", &token_url(f), None, now() as u64)
}

/// The DPoP client with a good proof: a DPoP-bound token (`token_type` and `typ` DPoP,
/// `cnf.jkt` the key's RFC 7638 thumbprint, no certificate binding).
pub async fn dpop_token_response(f: &Fixture) {
    let key = DpopKey::generate().expect("DPoP key");
    let a = dpop_request(
        f,
        DPOP_CLIENT_ID,
        Some(DPOP_CLIENT_SECRET),
        None,
        Some(&proof(f, &key)),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    a.assert_no_store();
    assert_eq!(a.body["token_type"], "DPoP", "{}", a.body);
    let claims = claims(a.str("access_token"));
    assert_eq!(claims["typ"], "DPoP", "{claims}");
    // Keycloak adds a member of its own beside jkt.
    assert_eq!(
        claims["cnf"],
        json!({"jkt": key.jkt(), "kc-jkt-type": "DPoP"}),
        "{claims}"
    );
    assert_eq!(claims["azp"], DPOP_CLIENT_ID);
}

/// The DPoP client's refusals: no proof, then one bad proof per rule, each a 400
/// `invalid_request` with Keycloak's words; a replayed proof is refused the second time.
pub async fn dpop_proof_refusals(f: &Fixture) {
    let key = DpopKey::generate().expect("DPoP key");
    let other = DpopKey::generate().expect("DPoP key");
    let url = token_url(f);
    let now = now();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "wrong htu",
            key.proof("POST", &format!("{url}/other"), None, now as u64),
            "DPoP HTTP URL mismatch",
        ),
        (
            "wrong htm",
            key.proof("GET", &url, None, now as u64),
            "DPoP HTTP method mismatch",
        ),
        (
            "stale iat",
            key.proof("POST", &url, None, (now - 60) as u64),
            "DPoP proof is not active",
        ),
        (
            "future iat",
            key.proof("POST", &url, None, (now + 60) as u64),
            "DPoP proof is not active",
        ),
        (
            "typ JWT",
            key.proof_with(&ProofParts {
                typ: Some("JWT"),
                htm: Some("POST"),
                htu: Some(&url),
                iat: Some(now),
                ..Default::default()
            }),
            "Invalid or missing type in DPoP header: JWT",
        ),
        (
            "signed by another key",
            other.proof_with(&ProofParts {
                jwk: Some(key.jwk()),
                htm: Some("POST"),
                htu: Some(&url),
                iat: Some(now),
                ..Default::default()
            }),
            "DPoP verification failure: org.keycloak.exceptions.TokenSignatureInvalidException: Invalid token signature",
        ),
        (
            "no htm",
            key.proof_with(&ProofParts {
                htu: Some(&url),
                iat: Some(now),
                ..Default::default()
            }),
            "DPoP mandatory claims are missing",
        ),
        (
            "not a JWT",
            "abc".to_owned(),
            "DPoP header verification failure",
        ),
    ];
    let a = dpop_request(f, DPOP_CLIENT_ID, Some(DPOP_CLIENT_SECRET), None, None).await;
    a.assert_error_in(
        "no proof: ",
        400,
        "invalid_request",
        "DPoP proof is missing",
    );
    for (what, proof, description) in &cases {
        let a = dpop_request(
            f,
            DPOP_CLIENT_ID,
            Some(DPOP_CLIENT_SECRET),
            None,
            Some(proof),
        )
        .await;
        a.assert_error_in(&format!("{what}: "), 400, "invalid_request", description);
    }
    let once = proof(f, &key);
    let first = dpop_request(
        f,
        DPOP_CLIENT_ID,
        Some(DPOP_CLIENT_SECRET),
        None,
        Some(&once),
    )
    .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let again = dpop_request(
        f,
        DPOP_CLIENT_ID,
        Some(DPOP_CLIENT_SECRET),
        None,
        Some(&once),
    )
    .await;
    again.assert_error_in(
        "replayed: ",
        400,
        "invalid_request",
        "DPoP proof has already been used",
    );
    // A wrong secret is refused before the proof is looked at.
    let a = dpop_request(
        f,
        DPOP_CLIENT_ID,
        Some("wrong"),
        None,
        Some(&proof(f, &key)),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.body);
}

/// A client that does not require DPoP and sends a proof anyway: the secret client's token
/// is DPoP-bound; the mTLS client's says `DPoP` (`token_type`, `typ`) but is bound to the
/// certificate only (Keycloak's certificate binding replaces the `cnf` DPoP wrote: no
/// `jkt`); a bad proof from either is refused as from the DPoP client.
pub async fn dpop_proof_from_other_clients(f: &Fixture) {
    let key = DpopKey::generate().expect("DPoP key");
    let secret = dpop_request(
        f,
        SECRET_CLIENT_ID,
        Some(SECRET_CLIENT_SECRET),
        None,
        Some(&proof(f, &key)),
    )
    .await;
    assert_eq!(secret.status, StatusCode::OK, "{}", secret.body);
    assert_eq!(secret.body["token_type"], "DPoP", "{}", secret.body);
    let claims_of = |a: &Answer| claims(a.str("access_token"));
    assert_eq!(
        claims_of(&secret)["cnf"],
        json!({"jkt": key.jkt(), "kc-jkt-type": "DPoP"})
    );

    let mtls = dpop_request(
        f,
        playbook::names::MTLS_CLIENT_ID,
        None,
        Some(&f.pki.client),
        Some(&proof(f, &key)),
    )
    .await;
    assert_eq!(mtls.status, StatusCode::OK, "{}", mtls.body);
    assert_eq!(mtls.body["token_type"], "DPoP", "{}", mtls.body);
    assert_eq!(claims_of(&mtls)["typ"], "DPoP");
    assert_eq!(
        claims_of(&mtls)["cnf"],
        json!({"x5t#S256": f.pki.client.x5t_s256()})
    );

    let stale = key.proof("POST", &token_url(f), None, (now() - 60) as u64);
    let a = dpop_request(
        f,
        SECRET_CLIENT_ID,
        Some(SECRET_CLIENT_SECRET),
        None,
        Some(&stale),
    )
    .await;
    a.assert_error(400, "invalid_request", "DPoP proof is not active");
}
