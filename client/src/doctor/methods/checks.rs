//! The checks of `client doctor --auth … --bind …` as data: their ids and titles
//! ([`METHOD_CHECKS`]) and Keycloak's refusals of a token request by their words
//! ([`REFUSALS`]).

use crate::doctor::{Finding, Verdict};

/// The methods' own checks (id, title), in the order they are reported; those they share
/// with mTLS (discovery, the client, its service account, role and scope) are
/// [`ONLINE_CHECKS`](crate::doctor::online::ONLINE_CHECKS).
pub const METHOD_CHECKS: &[(&str, &str)] = &[
    (
        "method-pair",
        "Keycloak can give this pair of --auth and --bind",
    ),
    (
        "jwt-key",
        "the private_key_jwt key (--jwt-key) loads and can sign",
    ),
    (
        "jwt-key-matches",
        "the key belongs to its certificate (--jwt-cert)",
    ),
    (
        "jwt-assertion",
        "your assertion (--assertion) is one Keycloak accepts",
    ),
    (
        "jwt-claims",
        "the assertion names the client (iss = sub = client_id)",
    ),
    (
        "jwt-alg",
        "the assertion's algorithm is one the client accepts",
    ),
    (
        "jwt-audience",
        "the assertion's audience is the issuer (one value)",
    ),
    (
        "jwt-lifetime",
        "the assertion is current (exp; iat at most 60 s old)",
    ),
    (
        "jwt-replay",
        "each assertion is new (a jti Keycloak has not seen)",
    ),
    (
        "jwt-authenticator",
        "the client authenticates by a signed JWT (clientAuthenticatorType client-jwt)",
    ),
    (
        "secret-authenticator",
        "the client authenticates by its secret (clientAuthenticatorType client-secret)",
    ),
    (
        "jwt-no-key",
        "the realm holds a key Keycloak can use for the client (a certificate, or a JWKS signing key)",
    ),
    (
        "jwt-registered-key",
        "the key the realm registers for the client is this key",
    ),
    (
        "jwt-signing-alg",
        "the client's token.endpoint.auth.signing.alg allows this key's algorithm",
    ),
    (
        "dpop-required",
        "DPoP as the client requires it (dpop.bound.access.tokens)",
    ),
    ("token", "a token request with this method"),
    (
        "jwt-signature",
        "the assertion's signature verifies with the key the realm registers",
    ),
    ("dpop-proof", "the token endpoint accepts the DPoP proof"),
    (
        "jwt-replay-refused",
        "the provider refuses the same assertion a second time (its jti)",
    ),
    ("bearer-token", "the token is a bearer token (no cnf)"),
    (
        "dpop-token",
        "the token is bound to the proof's key (token_type DPoP, cnf.jkt)",
    ),
    (
        "api-call",
        "the resource server accepts the token (GET /api/whoami)",
    ),
];

/// Keycloak 26.7.5's refusals of a token request, by the words of its `error_description`
/// (the golden answers of `oauth2-provider/tests/golden/keycloak/client_jwt_*.json` and
/// `dpop_*.json`): the check each names and the fix (`{issuer}` stands for the issuer).
pub const REFUSALS: &[(&str, &str, &str)] = &[
    (
        "Unable to load public key",
        "jwt-no-key",
        "register this key for the client: jwt.credential.certificate = the certificate of --jwt-key (base64 DER), or a JWKS with \"use\": \"sig\"; a kid in the header must name a registered key",
    ),
    (
        "Signature on JWT token failed validation",
        "jwt-signature",
        "the realm holds another key for this client, or the algorithm does not fit the key (a registered RSA certificate verifies RS256 only): register the certificate of --jwt-key",
    ),
    (
        "Invalid signature algorithm",
        "jwt-alg",
        "sign with an asymmetric algorithm the client allows (token.endpoint.auth.signing.alg, when set, is the only one)",
    ),
    (
        "Invalid token audience",
        "jwt-audience",
        "set aud to the issuer, {issuer}, as one string",
    ),
    (
        "Multiple audiences not allowed",
        "jwt-audience",
        "one audience only: the issuer, {issuer}",
    ),
    (
        "Token exp claim is required",
        "jwt-lifetime",
        "set exp, a minute ahead",
    ),
    (
        "Token is not active",
        "jwt-lifetime",
        "the assertion expired (or its nbf is ahead): make a new one for each token request; check the clock",
    ),
    (
        "Token was issued in the future",
        "jwt-lifetime",
        "check the clocks (NTP): Keycloak allows 15 s",
    ),
    (
        "Token was issued too far in the past",
        "jwt-lifetime",
        "make a new assertion for each token request: Keycloak takes one at most 60 s old",
    ),
    (
        "Token expiration is too far in the future",
        "jwt-lifetime",
        "set iat, or exp at most 60 s ahead",
    ),
    (
        "Token jti claim is required",
        "jwt-replay",
        "set jti to a new random value in each assertion",
    ),
    (
        "Token reuse detected",
        "jwt-replay",
        "make a new assertion, with a new jti, for each token request: Keycloak remembers every jti until the assertion expires",
    ),
    (
        "client_id parameter does not match",
        "jwt-claims",
        "send client_id equal to the assertion's sub, or no client_id",
    ),
    (
        "Parameter client_assertion_type",
        "jwt-claims",
        "send client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    ),
    (
        "DPoP proof is missing",
        "dpop-required",
        "the client requires DPoP (dpop.bound.access.tokens): send a proof (--bind dpop), or turn the attribute off to get bearer tokens",
    ),
    (
        "DPoP",
        "dpop-proof",
        "make a fresh proof for each request: htm POST, htu the token endpoint, iat now (Keycloak allows a few seconds), a new jti, typ dpop+jwt, signed by the key in its jwk",
    ),
];

pub(super) fn finding(check: &'static str, verdict: Verdict) -> Finding {
    let title = METHOD_CHECKS
        .iter()
        .chain(crate::doctor::online::ONLINE_CHECKS)
        .find(|(id, _)| *id == check)
        .map(|(_, t)| *t)
        .unwrap_or(check);
    Finding::new(check, title, verdict)
}
