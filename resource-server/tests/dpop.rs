//! RFC 9449 DPoP at the resource server, over real TLS on loopback, with tokens minted by
//! the stand-in provider and proofs made by `playbook::rfc9449::DpopKey`: a DPoP-bound token
//! with a good proof is accepted (with or without a client certificate); each rule of
//! RFC 9449 §4.3 and §7.1 refuses with `invalid_dpop_proof` (or `invalid_token` for the
//! token's own fault) and a `DPoP` challenge; a token bound both ways needs both proofs.

mod support;

use std::time::Duration;

use playbook::names;
use playbook::pki::{DevPki, Issued};
use playbook::rfc9449::{DpopKey, ProofParts, Window, ath};
use playbook::server::ClientAuth;
use reqwest::Method;
use serde_json::json;
use support::*;

const READY: Duration = Duration::from_secs(20);

struct Setup {
    pki: DevPki,
    provider: TestProvider,
    server: resource_server::Running,
    key: DpopKey,
}

impl Setup {
    async fn start(adjust: impl FnOnce(&mut resource_server::Config)) -> Setup {
        playbook::install_crypto_provider();
        let pki = DevPki::generate(1, 1).expect("dev PKI");
        let provider = TestProvider::start(&pki).await;
        let mut config = config(&pki, &provider);
        // Connections without a certificate reach the API: a DPoP client may have none.
        config.client_auth = ClientAuth::Request;
        adjust(&mut config);
        let server = resource_server(&pki, config).await;
        server.wait_ready(READY).await.expect("keys load");
        Setup {
            pki,
            provider,
            server,
            key: DpopKey::generate().expect("DPoP key"),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url)
    }

    /// A token bound to `jkt` (and to `cert` too when given), as Keycloak mints it
    /// (`typ: DPoP`).
    fn token(&self, jkt: Option<&str>, cert: Option<&Issued>) -> String {
        let mut claims = self.provider.claims(None);
        let mut cnf = json!({});
        if let Some(jkt) = jkt {
            cnf["jkt"] = json!(jkt);
            cnf["kc-jkt-type"] = json!("DPoP");
            claims["typ"] = json!("DPoP");
        }
        if let Some(cert) = cert {
            cnf["x5t#S256"] = json!(cert.x5t_s256());
        }
        if cnf != json!({}) {
            claims["cnf"] = cnf;
        }
        self.provider.key().mint(&claims)
    }

    fn dpop_token(&self) -> String {
        self.token(Some(self.key.jkt()), None)
    }

    /// The parts of a good proof for `GET /api/whoami` with the token whose `ath` is given;
    /// a test changes one of them.
    fn parts<'a>(&self, url: &'a str, ath: &'a str) -> ProofParts<'a> {
        ProofParts {
            htm: Some("GET"),
            htu: Some(url),
            iat: Some(now() as i64),
            ath: Some(ath),
            ..Default::default()
        }
    }

    /// A proof for `GET path` with `token`, from the setup's key.
    fn proof(&self, path: &str, token: &str) -> String {
        self.key.proof("GET", &self.url(path), Some(token), now())
    }

    /// One request: `authorization` and `dpop` headers as given, `cert` on the connection.
    async fn send(
        &self,
        method: Method,
        path: &str,
        cert: Option<&Issued>,
        authorization: &str,
        dpop: &[&str],
    ) -> Answer {
        let client = https_client(&self.pki, cert);
        let mut request = client
            .request(method, self.url(path))
            .header(reqwest::header::AUTHORIZATION, authorization);
        for proof in dpop {
            request = request.header("DPoP", *proof);
        }
        let response = request.send().await.expect("request reaches the server");
        let status = response.status().as_u16();
        let challenge = response
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned());
        let text = response.text().await.expect("body");
        Answer {
            status,
            challenge,
            retry_after: None,
            body: serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
        }
    }

    /// `GET path` with `Authorization: DPoP <token>` and `proofs`, no certificate.
    async fn dpop_get(&self, path: &str, token: &str, proofs: &[&str]) -> Answer {
        self.send(Method::GET, path, None, &format!("DPoP {token}"), proofs)
            .await
    }

    async fn stop(self) {
        self.server.stop().await.expect("resource server stops");
        self.provider.stop().await;
    }
}

/// A 401 with `error` in body and `DPoP` challenge (with `algs`), the description naming
/// `because`.
#[track_caller]
fn assert_dpop_refusal(answer: &Answer, error: &str, because: &str) {
    assert_eq!(answer.status, 401, "{answer:?}");
    assert_eq!(answer.error(), Some(error), "{answer:?}");
    assert!(
        answer.description().contains(because),
        "expected the reason to mention {because:?}: {answer:?}"
    );
    let challenge = answer.challenge.as_deref().expect("WWW-Authenticate");
    assert!(
        challenge.starts_with(&format!(
            "DPoP realm=\"{}\", error=\"{error}\"",
            names::REALM
        )),
        "{challenge}"
    );
    assert!(challenge.contains("algs=\"ES256 "), "{challenge}");
}

/// The happy path: a DPoP-bound token, a fresh proof of its key, no client certificate →
/// 200; `whoami` says how the token was constrained. A second request with a new proof works
/// too (a proof is per request, the token is not).
#[tokio::test]
async fn a_dpop_bound_token_with_its_proof_is_accepted() {
    let s = Setup::start(|_| {}).await;
    let token = s.dpop_token();
    let users = s
        .dpop_get(
            names::USERS_API_PATH,
            &token,
            &[&s.proof(names::USERS_API_PATH, &token)],
        )
        .await;
    assert_eq!(users.status, 200, "{users:?}");
    let who = s
        .dpop_get("/api/whoami", &token, &[&s.proof("/api/whoami", &token)])
        .await;
    assert_eq!(who.status, 200, "{who:?}");
    assert_eq!(who.body["binding"]["sender_constraint"], "dpop");
    assert_eq!(who.body["binding"]["dpop_jkt"], s.key.jkt());
    // The query is no part of htu.
    let q = s
        .dpop_get(
            "/api/whoami?x=1",
            &token,
            &[&s.proof("/api/whoami", &token)],
        )
        .await;
    assert_eq!(q.status, 200, "{q:?}");
    // The scheme is case-insensitive (RFC 7235 §2.1).
    let lower = s
        .send(
            Method::GET,
            "/api/whoami",
            None,
            &format!("dpop {token}"),
            &[&s.proof("/api/whoami", &token)],
        )
        .await;
    assert_eq!(lower.status, 200, "{lower:?}");
    s.stop().await;
}

/// RFC 9449 §11.1: the same proof twice is refused the second time; the first use counts
/// even though the answer was 200.
#[tokio::test]
async fn a_replayed_proof_is_refused() {
    let s = Setup::start(|_| {}).await;
    let token = s.dpop_token();
    let proof = s.proof("/api/whoami", &token);
    assert_eq!(
        s.dpop_get("/api/whoami", &token, &[&proof]).await.status,
        200
    );
    let again = s.dpop_get("/api/whoami", &token, &[&proof]).await;
    assert_dpop_refusal(&again, "invalid_dpop_proof", "already used");
    s.stop().await;
}

/// A proof refused for another rule does not use up its `jti`: the replay check is last.
#[tokio::test]
async fn the_replay_check_comes_last() {
    let s = Setup::start(|_| {}).await;
    let token = s.dpop_token();
    let proof = s.proof("/api/whoami", &token);
    // The same proof with another token of the same key: refused for its ath, not a replay.
    let other = s.token(Some(s.key.jkt()), Some(&s.pki.client));
    assert_dpop_refusal(
        &s.dpop_get("/api/whoami", &other, &[&proof]).await,
        "invalid_dpop_proof",
        "another token",
    );
    assert_eq!(
        s.dpop_get("/api/whoami", &token, &[&proof]).await.status,
        200
    );
    s.stop().await;
}

/// htu must be this server's URL and the request's path; htm the request's method.
#[tokio::test]
async fn a_proof_for_another_url_or_method_is_refused() {
    let s = Setup::start(|_| {}).await;
    let token = s.dpop_token();
    let other_path = s.proof(names::USERS_API_PATH, &token);
    assert_dpop_refusal(
        &s.dpop_get("/api/whoami", &token, &[&other_path]).await,
        "invalid_dpop_proof",
        "htu",
    );
    let other_host = s
        .key
        .proof("GET", "https://api.example/api/whoami", Some(&token), now());
    assert_dpop_refusal(
        &s.dpop_get("/api/whoami", &token, &[&other_host]).await,
        "invalid_dpop_proof",
        "htu",
    );
    let post = s
        .key
        .proof("POST", &s.url("/api/whoami"), Some(&token), now());
    assert_dpop_refusal(
        &s.dpop_get("/api/whoami", &token, &[&post]).await,
        "invalid_dpop_proof",
        "htm",
    );
    s.stop().await;
}

/// iat outside Keycloak's window (10 s lifetime, 15 s skew) is refused either way.
#[tokio::test]
async fn a_stale_or_future_proof_is_refused() {
    let s = Setup::start(|_| {}).await;
    let token = s.dpop_token();
    let w = Window::KEYCLOAK;
    let (url, ath) = (s.url("/api/whoami"), ath(&token));
    let at = |iat: i64| {
        s.key.proof_with(&ProofParts {
            iat: Some(iat),
            ..s.parts(&url, &ath)
        })
    };
    let now = now() as i64;
    let stale = at(now - (w.lifetime + w.skew) as i64 - 5);
    assert_dpop_refusal(
        &s.dpop_get("/api/whoami", &token, &[&stale]).await,
        "invalid_dpop_proof",
        "iat",
    );
    let future = at(now + w.skew as i64 + 5);
    assert_dpop_refusal(
        &s.dpop_get("/api/whoami", &token, &[&future]).await,
        "invalid_dpop_proof",
        "iat",
    );
    // Within the window (a few seconds old): accepted.
    assert_eq!(
        s.dpop_get("/api/whoami", &token, &[&at(now - 3)])
            .await
            .status,
        200
    );
    s.stop().await;
}

/// ath must be there and be the hash of the token the proof comes with.
#[tokio::test]
async fn a_missing_or_wrong_ath_is_refused() {
    let s = Setup::start(|_| {}).await;
    let token = s.dpop_token();
    let no_ath = s.key.proof("GET", &s.url("/api/whoami"), None, now());
    assert_dpop_refusal(
        &s.dpop_get("/api/whoami", &token, &[&no_ath]).await,
        "invalid_dpop_proof",
        "no ath",
    );
    // Another token of the same key (minted in the same second, so with another claim).
    let other = s.token(Some(s.key.jkt()), Some(&s.pki.client));
    let for_other = s.proof("/api/whoami", &other);
    assert_ne!(other, token);
    assert_dpop_refusal(
        &s.dpop_get("/api/whoami", &token, &[&for_other]).await,
        "invalid_dpop_proof",
        "another token",
    );
    s.stop().await;
}

/// A thief with the token and a key of their own: a perfectly good proof, of another key.
/// And a proof whose header names the token's key but is signed by another.
#[tokio::test]
async fn a_proof_signed_by_another_key_is_refused() {
    let s = Setup::start(|_| {}).await;
    let token = s.dpop_token();
    let thief = DpopKey::generate().unwrap();
    let theirs = thief.proof("GET", &s.url("/api/whoami"), Some(&token), now());
    assert_dpop_refusal(
        &s.dpop_get("/api/whoami", &token, &[&theirs]).await,
        "invalid_dpop_proof",
        "another key",
    );
    let (url, ath) = (s.url("/api/whoami"), ath(&token));
    let forged = thief.proof_with(&ProofParts {
        jwk: Some(s.key.jwk()),
        ..s.parts(&url, &ath)
    });
    assert_dpop_refusal(
        &s.dpop_get("/api/whoami", &token, &[&forged]).await,
        "invalid_dpop_proof",
        "signature",
    );
    s.stop().await;
}

/// No proof, two proofs, a proof that is not a JWT, a proof with typ JWT.
#[tokio::test]
async fn a_missing_or_malformed_proof_is_refused() {
    let s = Setup::start(|_| {}).await;
    let token = s.dpop_token();
    assert_dpop_refusal(
        &s.dpop_get("/api/whoami", &token, &[]).await,
        "invalid_dpop_proof",
        "no DPoP proof",
    );
    let (a, b) = (
        s.proof("/api/whoami", &token),
        s.proof("/api/whoami", &token),
    );
    assert_dpop_refusal(
        &s.dpop_get("/api/whoami", &token, &[&a, &b]).await,
        "invalid_dpop_proof",
        "more than one",
    );
    assert_dpop_refusal(
        &s.dpop_get("/api/whoami", &token, &["abc"]).await,
        "invalid_dpop_proof",
        "not a signed JWT",
    );
    let (url, ath) = (s.url("/api/whoami"), ath(&token));
    let jwt = s.key.proof_with(&ProofParts {
        typ: Some("JWT"),
        ..s.parts(&url, &ath)
    });
    assert_dpop_refusal(
        &s.dpop_get("/api/whoami", &token, &[&jwt]).await,
        "invalid_dpop_proof",
        "typ",
    );
    s.stop().await;
}

/// A DPoP-bound token sent as a bearer token is refused (even with its proof beside it,
/// even on a connection with a certificate); a token that is not DPoP-bound sent with the
/// DPoP scheme is refused too.
#[tokio::test]
async fn the_scheme_must_match_the_binding() {
    let s = Setup::start(|_| {}).await;
    let token = s.dpop_token();
    let proof = s.proof("/api/whoami", &token);
    let as_bearer = s
        .send(
            Method::GET,
            "/api/whoami",
            Some(&s.pki.client),
            &format!("Bearer {token}"),
            &[&proof],
        )
        .await;
    assert_dpop_refusal(&as_bearer, "invalid_token", "sent as a bearer token");

    let mtls_only = s.token(None, Some(&s.pki.client));
    let dpop_scheme = s
        .send(
            Method::GET,
            "/api/whoami",
            Some(&s.pki.client),
            &format!("DPoP {mtls_only}"),
            &[&s.proof("/api/whoami", &mtls_only)],
        )
        .await;
    assert_dpop_refusal(&dpop_scheme, "invalid_token", "not DPoP-bound");
    // The same certificate-bound token as a bearer token with its certificate: 200.
    let ok = s
        .send(
            Method::GET,
            "/api/whoami",
            Some(&s.pki.client),
            &format!("Bearer {mtls_only}"),
            &[],
        )
        .await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(ok.body["binding"]["sender_constraint"], "mtls");
    s.stop().await;
}

/// A token bound both ways (`x5t#S256` and `jkt`, as Keycloak mints for a certificate-bound
/// client that sent a proof) needs both: the proof and the certificate.
#[tokio::test]
async fn a_token_bound_both_ways_needs_both_proofs() {
    let s = Setup::start(|_| {}).await;
    let token = s.token(Some(s.key.jkt()), Some(&s.pki.client));
    let both = s
        .send(
            Method::GET,
            "/api/whoami",
            Some(&s.pki.client),
            &format!("DPoP {token}"),
            &[&s.proof("/api/whoami", &token)],
        )
        .await;
    assert_eq!(both.status, 200, "{both:?}");
    assert_eq!(both.body["binding"]["sender_constraint"], "mtls+dpop");

    // The proof without the certificate.
    let no_cert = s
        .dpop_get("/api/whoami", &token, &[&s.proof("/api/whoami", &token)])
        .await;
    assert_eq!(no_cert.status, 401, "{no_cert:?}");
    assert_eq!(no_cert.error(), Some("invalid_token"));
    assert!(no_cert.description().contains("no client certificate"));
    // The proof with another certificate.
    let other_cert = s
        .send(
            Method::GET,
            "/api/whoami",
            Some(&s.pki.other_client),
            &format!("DPoP {token}"),
            &[&s.proof("/api/whoami", &token)],
        )
        .await;
    assert_eq!(other_cert.status, 401, "{other_cert:?}");
    assert!(other_cert.description().contains("x5t#S256"));
    // The certificate without the proof.
    let no_proof = s
        .send(
            Method::GET,
            "/api/whoami",
            Some(&s.pki.client),
            &format!("Bearer {token}"),
            &[],
        )
        .await;
    assert_dpop_refusal(&no_proof, "invalid_token", "sent as a bearer token");
    s.stop().await;
}

/// A bearer token on a connection without a certificate is still refused (the API is
/// mutual TLS for bearer tokens), and `--require-binding` is met by a DPoP binding alone.
#[tokio::test]
async fn bearer_tokens_still_need_the_certificate() {
    let s = Setup::start(|c| c.require_binding = true).await;
    let mtls = s.token(None, Some(&s.pki.client));
    let no_cert = s
        .send(
            Method::GET,
            "/api/whoami",
            None,
            &format!("Bearer {mtls}"),
            &[],
        )
        .await;
    assert_invalid_token(&no_cert, "no client certificate");
    let unbound = s.token(None, None);
    let refused = s
        .send(
            Method::GET,
            "/api/whoami",
            Some(&s.pki.client),
            &format!("Bearer {unbound}"),
            &[],
        )
        .await;
    assert_invalid_token(&refused, "not bound");
    let token = s.dpop_token();
    let dpop = s
        .dpop_get("/api/whoami", &token, &[&s.proof("/api/whoami", &token)])
        .await;
    assert_eq!(dpop.status, 200, "{dpop:?}");
    s.stop().await;
}

/// Behind a proxy the client calls the proxy's URL: with `public_url` set to it, a proof
/// for that URL is accepted and one for this server's own address refused.
#[tokio::test]
async fn htu_is_compared_with_the_public_url() {
    let s = Setup::start(|c| c.public_url = Some("https://api.example:9999/orders".into())).await;
    let token = s.dpop_token();
    let public = s.key.proof(
        "GET",
        "https://api.example:9999/orders/api/whoami",
        Some(&token),
        now(),
    );
    assert_eq!(
        s.dpop_get("/api/whoami", &token, &[&public]).await.status,
        200
    );
    assert_dpop_refusal(
        &s.dpop_get("/api/whoami", &token, &[&s.proof("/api/whoami", &token)])
            .await,
        "invalid_dpop_proof",
        "htu",
    );
    s.stop().await;
}

/// The replay cache is per instance (RFC 9449 §11.1): a proof replayed to a second instance
/// serving the same URL is accepted there once. What the README warns about; the production
/// answer is a shared cache or a short window.
#[tokio::test]
async fn the_replay_cache_is_per_instance() {
    let s = Setup::start(|c| c.public_url = Some("https://api.example".into())).await;
    let mut second_config = config(&s.pki, &s.provider);
    second_config.client_auth = ClientAuth::Request;
    second_config.public_url = Some("https://api.example".into());
    let second = resource_server(&s.pki, second_config).await;
    second.wait_ready(READY).await.expect("keys load");

    let token = s.dpop_token();
    let proof = s
        .key
        .proof("GET", "https://api.example/api/whoami", Some(&token), now());
    let client = https_client(&s.pki, None);
    let get = |base: &str| {
        client
            .get(format!("{base}/api/whoami"))
            .header("Authorization", format!("DPoP {token}"))
            .header("DPoP", &proof)
            .send()
    };
    assert_eq!(get(&s.server.url).await.unwrap().status(), 200);
    assert_eq!(get(&second.url).await.unwrap().status(), 200);
    assert_eq!(get(&s.server.url).await.unwrap().status(), 401);
    assert_eq!(get(&second.url).await.unwrap().status(), 401);
    second.stop().await.unwrap();
    s.stop().await;
}
