//! RFC 9449 DPoP (Demonstrating Proof of Possession): sender-constrained tokens without a
//! client certificate, in one place for all three crates.
//!
//! - the client signs a [proof](DpopKey::proof) for each request with a key of its own and
//!   sends it in the `DPoP` header;
//! - the provider [`verify`]s the proof at the token endpoint and binds the token to the key:
//!   `cnf.jkt`, the key's RFC 7638 [`thumbprint`];
//! - the resource server [`verify`]s the proof of each request (`htm`, `htu`, `iat` window,
//!   `ath`), refuses a replayed one ([`ReplayCache`], per instance) and compares the proof's
//!   key with the token's `cnf.jkt` ([`compare_jkt`], constant time).
//!
//! The checks are those of RFC 9449 §4.3, in the order Keycloak 26.7.5's `DPoPUtil` applies
//! them; the time window is `DPoPUtil`'s: a proof is live from `iat - skew` to
//! `iat + lifetime + skew` ([`Window::KEYCLOAK`]: 10 s lifetime, 15 s clock skew). No nonce
//! (RFC 9449 §8/§9) is used: Keycloak's token endpoint issues none.
//!
//! [RFC 9449]: https://www.rfc-editor.org/rfc/rfc9449

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// The `Authorization` scheme and the `token_type` of a DPoP-bound token (RFC 9449 §5, §7.1).
pub const SCHEME: &str = "DPoP";
/// The request header carrying the proof (RFC 9449 §4.1).
pub const HEADER: &str = "DPoP";
/// The proof's JOSE header `typ` (RFC 9449 §4.2).
pub const PROOF_TYP: &str = "dpop+jwt";
/// The member of `cnf` a DPoP-bound token carries (RFC 9449 §6.1).
pub const METHOD: &str = "jkt";
/// The member Keycloak 26.7.5 writes beside `jkt` in `cnf` (value `DPoP`; observed on the
/// live server): information about `jkt`, not a confirmation method of its own.
pub const KC_JKT_TYPE: &str = "kc-jkt-type";

/// The signature algorithms a proof may use: asymmetric only (RFC 9449 §4.3 item 5), never
/// `none` or an HMAC. What the resource server announces in its challenge's `algs`.
pub const ALGORITHMS: [Algorithm; 9] = [
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::EdDSA,
];

/// [`ALGORITHMS`] as the space-separated list of RFC 9449 §5.1 / §7.1 `algs`.
pub fn algs() -> String {
    ALGORITHMS
        .iter()
        .map(|a| format!("{a:?}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// How long a proof stays acceptable, in seconds: from `iat - skew` to
/// `iat + lifetime + skew` of the verifier's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub lifetime: u64,
    pub skew: u64,
}

impl Window {
    /// Keycloak 26.7.5's `DPoPUtil.DEFAULT_PROOF_LIFETIME` (10) and
    /// `DEFAULT_ALLOWED_CLOCK_SKEW` (15).
    pub const KEYCLOAK: Window = Window {
        lifetime: 10,
        skew: 15,
    };

    /// How long a proof's `jti` must be remembered after it was first accepted so that it
    /// cannot be accepted again: it stays live at most `lifetime + 2 × skew` after that.
    pub fn retention(&self) -> u64 {
        self.lifetime + 2 * self.skew
    }
}

/// Why a proof is refused. Every variant is RFC 9449's `invalid_dpop_proof` on the wire
/// (§7.1 at a resource server, §5 at the token endpoint); the text says which rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("the request has no DPoP proof (RFC 9449 §4.1: send it in the DPoP header)")]
    Missing,
    #[error("more than one DPoP header (RFC 9449 §4.3 item 1: exactly one)")]
    Repeated,
    #[error("the DPoP proof is not a signed JWT: {0}")]
    Malformed(String),
    #[error("the DPoP proof's typ is {0:?}, not dpop+jwt (RFC 9449 §4.3 item 4)")]
    Typ(Option<String>),
    #[error(
        "the DPoP proof's alg {0} is not an asymmetric algorithm this server accepts (RFC 9449 §4.3 item 5)"
    )]
    Alg(String),
    #[error("the DPoP proof's header has no jwk: the public key it is signed with (RFC 9449 §4.2)")]
    NoJwk,
    #[error("the DPoP proof's jwk contains private key material ({0}) (RFC 9449 §4.3 item 7)")]
    PrivateKey(String),
    #[error("the DPoP proof's jwk is not a usable public key: {0}")]
    BadKey(String),
    #[error("the DPoP proof's signature does not verify with its own jwk (RFC 9449 §4.3 item 6)")]
    Signature,
    #[error("the DPoP proof lacks a mandatory claim: {0} (RFC 9449 §4.2: jti, htm, htu, iat)")]
    MissingClaim(&'static str),
    #[error(
        "the DPoP proof is for method {proof:?}, this request is {request} (htm, RFC 9449 §4.3 item 8)"
    )]
    Htm { proof: String, request: String },
    #[error(
        "the DPoP proof is for {proof:?}, this request is for {request} (htu, RFC 9449 §4.3 item 9)"
    )]
    Htu { proof: String, request: String },
    #[error(
        "the DPoP proof was issued at {iat}, {age} s from now ({now}): outside the accepted window of {lifetime} s lifetime and {skew} s clock skew (iat, RFC 9449 §4.3 item 11)"
    )]
    NotActive {
        iat: i64,
        now: u64,
        age: i64,
        lifetime: u64,
        skew: u64,
    },
    #[error(
        "the DPoP proof has no ath, the hash of the access token it is sent with (RFC 9449 §4.3 item 12)"
    )]
    NoAth,
    #[error(
        "the DPoP proof's ath is not the hash of this access token: the proof was made for another token (RFC 9449 §4.3 item 12)"
    )]
    AthMismatch,
    #[error(
        "this DPoP proof was already used (jti seen before, RFC 9449 §11.1): make a new proof for every request"
    )]
    Replayed,
    #[error("too many DPoP proofs in flight to remember them all; retry in {0} s")]
    ReplayCacheFull(u64),
}

/// The request a proof must match: its method, its URL as this server is reached (the
/// public URL, not a back-end address behind a proxy), and the access token sent with it
/// (at a resource server; `None` at the token endpoint).
#[derive(Debug, Clone, Copy)]
pub struct ProofRequest<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub access_token: Option<&'a str>,
}

/// A proof that passed every check but the replay check (the verifier's [`ReplayCache`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// RFC 7638 thumbprint of the proof's key: the token's `cnf.jkt`.
    pub jkt: String,
    pub jti: String,
    pub htu: String,
    pub iat: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct ProofClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    htm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    htu: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ath: Option<String>,
}

/// RFC 7638 JWK thumbprint (SHA-256, base64url): what `cnf.jkt` holds.
pub fn thumbprint(jwk: &Jwk) -> Result<String, ProofError> {
    jwk.thumbprint(ThumbprintHash::SHA256)
        .map_err(|e| ProofError::BadKey(e.to_string()))
}

/// [`thumbprint`] of a JWK read as JSON (a proof's `jwk` header member, as the trace page
/// decodes it).
pub fn thumbprint_of_json(jwk: &serde_json::Value) -> Result<String, ProofError> {
    let jwk: Jwk =
        serde_json::from_value(jwk.clone()).map_err(|e| ProofError::BadKey(e.to_string()))?;
    thumbprint(&jwk)
}

/// RFC 9449 §4.2 `ath`: base64url SHA-256 of the access token's ASCII.
pub fn ath(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, access_token.as_bytes()))
}

/// The members of a JWK that only a private key has (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];

/// The URL a proof's `htu` is compared with: without query and fragment (RFC 9449 §4.3
/// item 9), normalised as RFC 3986 §6.2.2-6.2.3 say (case of scheme and host, default port,
/// dot segments, percent-encoding), which the `url` crate's parser does.
pub fn normalise_htu(url: &str) -> Option<String> {
    let mut url = url::Url::parse(url).ok()?;
    url.set_query(None);
    url.set_fragment(None);
    Some(url.into())
}

/// Verifies a proof against the request it came with, at `now` (seconds since the epoch).
/// Everything but the replay check, which needs the verifier's memory ([`ReplayCache`]).
pub fn verify(
    proof: &str,
    request: ProofRequest<'_>,
    window: Window,
    now: u64,
) -> Result<Proof, ProofError> {
    // The raw header: jsonwebtoken's Jwk drops members it does not know, among them a
    // private key's `d`, which must be refused, not ignored.
    let raw_header = proof
        .split('.')
        .next()
        .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok())
        .and_then(|h| serde_json::from_slice::<serde_json::Value>(&h).ok())
        .ok_or_else(|| ProofError::Malformed("its header is not base64url JSON".into()))?;
    let header = jsonwebtoken::decode_header(proof).map_err(|e| match raw_header.get("alg") {
        Some(alg) if e.to_string().contains("alg") || e.to_string().contains("variant") => {
            ProofError::Alg(alg.to_string())
        }
        _ => ProofError::Malformed(e.to_string()),
    })?;
    if header.typ.as_deref() != Some(PROOF_TYP) {
        return Err(ProofError::Typ(header.typ));
    }
    if !ALGORITHMS.contains(&header.alg) {
        return Err(ProofError::Alg(format!("{:?}", header.alg)));
    }
    let Some(jwk) = header.jwk.as_ref() else {
        return Err(ProofError::NoJwk);
    };
    if let Some(raw_jwk) = raw_header.get("jwk").and_then(|j| j.as_object()) {
        let private: Vec<&str> = PRIVATE_MEMBERS
            .into_iter()
            .filter(|m| raw_jwk.contains_key(*m))
            .collect();
        if !private.is_empty() {
            return Err(ProofError::PrivateKey(private.join(", ")));
        }
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|e| ProofError::BadKey(e.to_string()))?;
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<ProofClaims>(proof, &key, &validation)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => ProofError::Signature,
            jsonwebtoken::errors::ErrorKind::InvalidAlgorithm
            | jsonwebtoken::errors::ErrorKind::InvalidKeyFormat
            | jsonwebtoken::errors::ErrorKind::InvalidEcdsaKey
            | jsonwebtoken::errors::ErrorKind::InvalidRsaKey(_) => {
                ProofError::BadKey(format!("{e} for alg {:?}", header.alg))
            }
            _ => ProofError::Malformed(e.to_string()),
        })?
        .claims;

    let (Some(jti), Some(htm), Some(htu), Some(iat)) =
        (claims.jti, claims.htm, claims.htu, claims.iat)
    else {
        return Err(ProofError::MissingClaim("jti, htm, htu or iat"));
    };
    if jti.trim().is_empty() {
        return Err(ProofError::MissingClaim("jti"));
    }
    let request_htu = normalise_htu(request.url);
    if request_htu.is_none() || normalise_htu(&htu) != request_htu {
        return Err(ProofError::Htu {
            proof: htu,
            request: request_htu.unwrap_or_else(|| request.url.to_owned()),
        });
    }
    if htm != request.method {
        return Err(ProofError::Htm {
            proof: htm,
            request: request.method.to_owned(),
        });
    }
    let now_i = i64::try_from(now).unwrap_or(i64::MAX);
    let (lifetime, skew) = (window.lifetime as i64, window.skew as i64);
    if !(iat <= now_i + skew && iat >= now_i - lifetime - skew) {
        return Err(ProofError::NotActive {
            iat,
            now,
            age: iat - now_i,
            lifetime: window.lifetime,
            skew: window.skew,
        });
    }
    if let Some(token) = request.access_token {
        use subtle::ConstantTimeEq as _;
        let Some(proof_ath) = claims.ath else {
            return Err(ProofError::NoAth);
        };
        if !bool::from(proof_ath.as_bytes().ct_eq(ath(token).as_bytes())) {
            return Err(ProofError::AthMismatch);
        }
    }
    Ok(Proof {
        jkt: thumbprint(jwk)?,
        jti,
        htu,
        iat,
    })
}

/// Compares a token's `cnf.jkt` with the thumbprint of the proof's key, in constant time.
pub fn compare_jkt(token: &str, proof: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    bool::from(token.as_bytes().ct_eq(proof.as_bytes()))
}

/// The `jti`s of accepted proofs, remembered for [`Window::retention`] seconds, at most
/// `capacity` of them: bounded in size and in time.
///
/// When it is full of proofs still live, a new proof is refused
/// ([`ProofError::ReplayCacheFull`]) rather than a remembered one forgotten: forgetting
/// would let that proof be replayed. The memory is this process's: two instances behind
/// one proxy each accept a proof once (RFC 9449 §11.1).
#[derive(Debug)]
pub struct ReplayCache {
    capacity: usize,
    retention: u64,
    seen: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    /// Key → the time it may be forgotten.
    keys: HashMap<[u8; 32], u64>,
    /// Keys in the order they were inserted, which is also the order of their expiry.
    order: VecDeque<([u8; 32], u64)>,
}

impl ReplayCache {
    pub fn new(capacity: usize, window: Window) -> Self {
        ReplayCache {
            capacity,
            retention: window.retention(),
            seen: Mutex::new(Seen::default()),
        }
    }

    /// Remembers the proof, or says it was seen before. The key is the proof's `jti` and
    /// `htu` (as Keycloak's `DPoPReplayCheck` keys it), hashed.
    pub fn check(&self, proof: &Proof, now: u64) -> Result<(), ProofError> {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(proof.jti.as_bytes());
        ctx.update(b"\n");
        ctx.update(proof.htu.as_bytes());
        let key: [u8; 32] = ctx
            .finish()
            .as_ref()
            .try_into()
            .expect("SHA-256 is 32 bytes");
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(&(old, expiry)) = seen.order.front() {
            if expiry > now {
                break;
            }
            seen.order.pop_front();
            if seen.keys.get(&old) == Some(&expiry) {
                seen.keys.remove(&old);
            }
        }
        if seen.keys.contains_key(&key) {
            return Err(ProofError::Replayed);
        }
        if seen.keys.len() >= self.capacity {
            let wait = seen
                .order
                .front()
                .map_or(1, |(_, expiry)| expiry.saturating_sub(now).max(1));
            return Err(ProofError::ReplayCacheFull(wait));
        }
        let expiry = now + self.retention;
        seen.keys.insert(key, expiry);
        seen.order.push_back((key, expiry));
        Ok(())
    }

    /// How many proofs are remembered now.
    pub fn len(&self) -> usize {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A client's DPoP key: EC P-256, signing ES256 proofs. Generated in memory, or read back
/// from the PKCS#8 DER it was saved as.
pub struct DpopKey {
    pkcs8: Vec<u8>,
    jwk: Jwk,
    jkt: String,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopKey")
            .field("jkt", &self.jkt)
            .field("private_key", &"[redacted]")
            .finish()
    }
}

/// A DPoP key could not be made or read.
#[derive(Debug, thiserror::Error)]
#[error("DPoP key: {0}")]
pub struct KeyError(String);

impl DpopKey {
    /// A new P-256 key.
    pub fn generate() -> Result<Self, KeyError> {
        let doc =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|e| KeyError(e.to_string()))?;
        Self::from_pkcs8(doc.as_ref())
    }

    /// The key saved as PKCS#8 DER (the body of a `PRIVATE KEY` PEM block).
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, KeyError> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
            .map_err(|e| KeyError(format!("not a P-256 PKCS#8 key: {e}")))?;
        // The public key is the uncompressed point 0x04 || x || y.
        let point = pair.public_key().as_ref();
        let (x, y) = point[1..].split_at(32);
        let jwk: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "EC", "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y),
        }))
        .map_err(|e| KeyError(e.to_string()))?;
        let jkt = thumbprint(&jwk).map_err(|e| KeyError(e.to_string()))?;
        Ok(DpopKey {
            pkcs8: pkcs8.to_vec(),
            jwk,
            jkt,
        })
    }

    /// The PKCS#8 DER to save (a secret: write it 0600).
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public key as the proofs carry it.
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// RFC 7638 thumbprint: the `cnf.jkt` of tokens bound to this key.
    pub fn jkt(&self) -> &str {
        &self.jkt
    }

    /// A proof for one request: `htm`, `htu` (query and fragment removed), `iat` = `now`, a
    /// fresh random `jti`, and `ath` when an access token goes with it.
    pub fn proof(&self, method: &str, url: &str, access_token: Option<&str>, now: u64) -> String {
        self.proof_with(&ProofParts {
            htm: Some(method),
            htu: Some(&normalise_htu(url).unwrap_or_else(|| url.to_owned())),
            iat: Some(now as i64),
            ath: access_token.map(ath).as_deref(),
            ..ProofParts::default()
        })
    }

    /// A proof from explicit parts, wrong ones included: what tests and the walkthrough's
    /// attacks use to show each refusal.
    pub fn proof_with(&self, parts: &ProofParts<'_>) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some(parts.typ.unwrap_or(PROOF_TYP).to_owned());
        header.jwk = Some(parts.jwk.unwrap_or(&self.jwk).clone());
        let jti = parts.jti.map(str::to_owned).unwrap_or_else(random_jti);
        let claims = ProofClaims {
            jti: Some(jti),
            htm: parts.htm.map(str::to_owned),
            htu: parts.htu.map(str::to_owned),
            iat: parts.iat,
            ath: parts.ath.map(str::to_owned),
        };
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ec_der(&self.pkcs8))
            .expect("an ES256 signature with a P-256 key cannot fail")
    }
}

/// The parts of a proof [`DpopKey::proof_with`] makes; `None` leaves a claim out (or, for
/// `typ`, `jwk` and `jti`, takes the right value).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProofParts<'a> {
    pub typ: Option<&'a str>,
    /// Another public key in the header than the one that signs.
    pub jwk: Option<&'a Jwk>,
    pub jti: Option<&'a str>,
    pub htm: Option<&'a str>,
    pub htu: Option<&'a str>,
    pub iat: Option<i64>,
    pub ath: Option<&'a str>,
}

fn random_jti() -> String {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system's random source");
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://localhost:8443/api/users";
    const NOW: u64 = 1_800_000_000;

    fn request(token: Option<&str>) -> ProofRequest<'_> {
        ProofRequest {
            method: "GET",
            url: URL,
            access_token: token,
        }
    }

    /// RFC 7638 §3.1's example key and its thumbprint.
    #[test]
    fn thumbprint_is_rfc_7638() {
        let jwk: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"
        }))
        .unwrap();
        assert_eq!(
            thumbprint(&jwk).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    /// RFC 9449 §7.1's example: ath of the token "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU".
    #[test]
    fn ath_is_rfc_9449() {
        assert_eq!(
            ath("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }

    #[test]
    fn a_good_proof_verifies_and_names_its_key() {
        let key = DpopKey::generate().unwrap();
        let proof = key.proof("GET", URL, Some("tok"), NOW);
        let ok = verify(&proof, request(Some("tok")), Window::KEYCLOAK, NOW).unwrap();
        assert_eq!(ok.jkt, key.jkt());
        // Read back from its PKCS#8, the key is the same key.
        assert_eq!(DpopKey::from_pkcs8(key.pkcs8()).unwrap().jkt(), key.jkt());
        // The query is not part of htu on either side.
        let with_query = ProofRequest {
            url: "https://LOCALHOST:8443/api/users?x=1",
            ..request(Some("tok"))
        };
        verify(&proof, with_query, Window::KEYCLOAK, NOW).unwrap();
    }

    #[test]
    fn each_rule_refuses() {
        let key = DpopKey::generate().unwrap();
        let other = DpopKey::generate().unwrap();
        let now = NOW as i64;
        fn full(p: ProofParts<'_>, now: i64) -> ProofParts<'_> {
            ProofParts {
                htm: p.htm.or(Some("GET")),
                htu: p.htu.or(Some(URL)),
                iat: p.iat.or(Some(now)),
                ..p
            }
        }
        let check = |proof: &str| verify(proof, request(None), Window::KEYCLOAK, NOW);
        let err = |p: ProofParts<'_>| check(&key.proof_with(&full(p, now))).unwrap_err();
        assert!(check(&key.proof_with(&full(ProofParts::default(), now))).is_ok());
        assert_eq!(
            err(ProofParts {
                typ: Some("JWT"),
                ..Default::default()
            }),
            ProofError::Typ(Some("JWT".into()))
        );
        assert_eq!(
            err(ProofParts {
                jwk: Some(other.jwk()),
                ..Default::default()
            }),
            ProofError::Signature
        );
        assert!(matches!(
            err(ProofParts {
                htm: Some("POST"),
                ..Default::default()
            }),
            ProofError::Htm { .. }
        ));
        assert!(matches!(
            err(ProofParts {
                htu: Some("https://localhost:8443/api/admin"),
                ..Default::default()
            }),
            ProofError::Htu { .. }
        ));
        assert!(matches!(
            err(ProofParts {
                htu: Some("https://localhost:9443/api/users"),
                ..Default::default()
            }),
            ProofError::Htu { .. }
        ));
        // The edges of the window are inside it; one second beyond is out.
        let w = Window::KEYCLOAK;
        for ok in [now + w.skew as i64, now - (w.lifetime + w.skew) as i64] {
            assert!(
                check(&key.proof_with(&full(
                    ProofParts {
                        iat: Some(ok),
                        ..Default::default()
                    },
                    now
                )))
                .is_ok()
            );
        }
        for stale in [
            now + w.skew as i64 + 1,
            now - (w.lifetime + w.skew) as i64 - 1,
        ] {
            assert!(matches!(
                err(ProofParts {
                    iat: Some(stale),
                    ..Default::default()
                }),
                ProofError::NotActive { .. }
            ));
        }
        let no_htm = key.proof_with(&ProofParts {
            htu: Some(URL),
            iat: Some(now),
            ..Default::default()
        });
        assert!(matches!(
            check(&no_htm).unwrap_err(),
            ProofError::MissingClaim(_)
        ));
        // ath: required with a token, and must be that token's.
        let no_ath = key.proof("GET", URL, None, NOW);
        assert_eq!(
            verify(&no_ath, request(Some("tok")), w, NOW).unwrap_err(),
            ProofError::NoAth
        );
        let other_token = key.proof("GET", URL, Some("another"), NOW);
        assert_eq!(
            verify(&other_token, request(Some("tok")), w, NOW).unwrap_err(),
            ProofError::AthMismatch
        );
        assert!(matches!(
            check("not a jwt").unwrap_err(),
            ProofError::Malformed(_)
        ));
    }

    /// A header that carries the private key (`d`) is refused, as is an HMAC or `none`.
    #[test]
    fn private_keys_and_symmetric_algorithms_are_refused() {
        let enc = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let key = DpopKey::generate().unwrap();
        let mut jwk = serde_json::to_value(key.jwk()).unwrap();
        jwk["d"] = "secret".into();
        let body = enc(serde_json::json!({"jti": "j", "htm": "GET", "htu": URL, "iat": NOW}));
        let with_d = format!(
            "{}.{body}.c2ln",
            enc(serde_json::json!({"typ": PROOF_TYP, "alg": "ES256", "jwk": jwk}))
        );
        assert_eq!(
            verify(&with_d, request(None), Window::KEYCLOAK, NOW).unwrap_err(),
            ProofError::PrivateKey("d".into())
        );
        for alg in ["HS256", "none"] {
            let proof = format!(
                "{}.{body}.c2ln",
                enc(
                    serde_json::json!({"typ": PROOF_TYP, "alg": alg, "jwk": {"kty": "oct", "k": "c2VjcmV0"}})
                )
            );
            let e = verify(&proof, request(None), Window::KEYCLOAK, NOW).unwrap_err();
            assert!(
                matches!(e, ProofError::Alg(_) | ProofError::Malformed(_)),
                "{alg}: {e:?}"
            );
        }
        let no_jwk = format!(
            "{}.{body}.c2ln",
            enc(serde_json::json!({"typ": PROOF_TYP, "alg": "ES256"}))
        );
        assert_eq!(
            verify(&no_jwk, request(None), Window::KEYCLOAK, NOW).unwrap_err(),
            ProofError::NoJwk
        );
    }

    #[test]
    fn the_replay_cache_is_bounded_in_size_and_time() {
        let w = Window {
            lifetime: 10,
            skew: 5,
        };
        let cache = ReplayCache::new(2, w);
        let proof = |jti: &str| Proof {
            jkt: "k".into(),
            jti: jti.into(),
            htu: URL.into(),
            iat: 0,
        };
        cache.check(&proof("a"), 100).unwrap();
        assert_eq!(cache.check(&proof("a"), 101), Err(ProofError::Replayed));
        // The same jti for another URL is another proof.
        let mut elsewhere = proof("a");
        elsewhere.htu = "https://localhost:8443/api/other".into();
        cache.check(&elsewhere, 102).unwrap();
        // Full of live proofs: a new one is refused, not an old one forgotten.
        assert_eq!(
            cache.check(&proof("b"), 103),
            Err(ProofError::ReplayCacheFull(17))
        );
        // Still remembered just before its retention ends, forgotten after.
        assert_eq!(
            cache.check(&proof("a"), 100 + w.retention() - 1),
            Err(ProofError::Replayed)
        );
        cache.check(&proof("b"), 100 + w.retention()).unwrap();
        assert_eq!(cache.len(), 2);
    }
}
