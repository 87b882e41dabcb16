//! The resource server over real TLS on loopback, with tokens minted in the test by a
//! stand-in provider (discovery + JWKS over TLS): what it accepts, what it refuses and with
//! which RFC 6750 answer, key rotation, the refetch rate limit, a provider that comes up
//! late, a provider that goes away and comes back with new keys, and the body limit.

mod support;

use std::marker::PhantomData;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use playbook::names;
use playbook::pki::DevPki;
use playbook::server::ClientAuth;
use reqwest::Method;
use resource_server::auth::{Scope, UsersRead};
use serde_json::json;
use support::*;
use tokio::net::TcpListener;

const READY: Duration = Duration::from_secs(20);

fn pki() -> DevPki {
    playbook::install_crypto_provider();
    DevPki::generate(1, 1).expect("dev PKI")
}

struct Setup {
    pki: DevPki,
    provider: TestProvider,
    server: resource_server::Running,
}

impl Setup {
    async fn start() -> Setup {
        Setup::with(|_| {}).await
    }

    async fn with(adjust: impl FnOnce(&mut resource_server::Config)) -> Setup {
        let pki = pki();
        let provider = TestProvider::start(&pki).await;
        let mut config = config(&pki, &provider);
        adjust(&mut config);
        let server = resource_server(&pki, config).await;
        server.wait_ready(READY).await.expect("keys load");
        Setup {
            pki,
            provider,
            server,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url)
    }

    async fn get(&self, path: &str, token: &str) -> Answer {
        get_with(&self.pki, &self.url(path), &self.pki.client, token).await
    }

    async fn stop(self) {
        self.server.stop().await.expect("resource server stops");
        self.provider.stop().await;
    }
}

/// The happy path: right certificate, bound token with the role → 200; `whoami` shows both
/// thumbprints and that the second call was served from the token cache.
#[tokio::test]
async fn right_certificate_and_role_get_200() {
    let s = Setup::start().await;
    let token = s.provider.token(&s.pki);

    let users = s.get(names::USERS_API_PATH, &token).await;
    assert_eq!(users.status, 200, "{users:?}");
    assert_eq!(users.body[0]["username"], "alice");

    let who = s.get("/api/whoami", &token).await;
    assert_eq!(who.status, 200, "{who:?}");
    assert_eq!(who.body["client"], names::MTLS_CLIENT_ID);
    assert_eq!(who.body["issuer"], s.provider.issuer);
    assert!(
        who.body["roles"]
            .as_array()
            .unwrap()
            .contains(&json!(names::READONLY_ROLE))
    );
    assert_eq!(who.body["scopes"], json!(["profile", "email"]));
    let binding = &who.body["binding"];
    assert_eq!(binding["result"], "matches");
    assert_eq!(binding["token_x5t_s256"], s.pki.client.x5t_s256());
    assert_eq!(binding["connection_x5t_s256"], s.pki.client.x5t_s256());
    assert_eq!(who.body["token"]["validated_from_cache"], true);
    assert_eq!(who.body["token"]["kid"], "key-1");
    // The token itself is never echoed.
    assert!(!who.body.to_string().contains(&token));

    let public = call(
        &s.pki,
        Method::GET,
        &s.url("/public"),
        Some(&s.pki.client),
        None,
    )
    .await;
    assert_eq!(public.status, 200);
    s.stop().await;
}

/// No token at all: 401 with a bare challenge, no error code (RFC 6750 §3.1).
#[tokio::test]
async fn no_token_gets_a_bare_challenge() {
    let s = Setup::start().await;
    let answer = call(
        &s.pki,
        Method::GET,
        &s.url(names::USERS_API_PATH),
        Some(&s.pki.client),
        None,
    )
    .await;
    assert_eq!(answer.status, 401);
    assert_eq!(
        answer.challenge.as_deref(),
        Some(format!("Bearer realm=\"{}\"", names::REALM).as_str())
    );
    assert_eq!(answer.error(), None);
    assert!(answer.description().contains("Bearer"), "{answer:?}");
    s.stop().await;
}

/// Every kind of bad token gets 401 `invalid_token`, each for its own reason.
#[tokio::test]
async fn bad_tokens_get_401_invalid_token_with_the_reason() {
    let s = Setup::start().await;
    let key = s.provider.key();
    let good = s.provider.claims(Some(&s.pki.client));
    let with = |patch: serde_json::Value| {
        let mut claims = good.clone();
        for (name, value) in patch.as_object().unwrap() {
            claims[name] = value.clone();
        }
        claims
    };
    let now = now();
    let stranger = SigningKey::generate(&key.kid);
    let valid = key.mint(&good);
    let (header_part, rest) = valid.split_once('.').unwrap();
    let garbled = format!("{}.{rest}", header_part.chars().rev().collect::<String>());
    let tampered = {
        let (_, sig) = valid.rsplit_once('.').unwrap();
        let forged = with(json!({"realm_access": {"roles": [names::WRITE_ROLE]}}));
        format!("{}.{}.{sig}", header_part, b64(forged.to_string()))
    };
    let mut without_typ = good.clone();
    without_typ.as_object_mut().unwrap().remove("typ");

    let cases: Vec<(&str, String, &str)> = vec![
        (
            "expired",
            key.mint(&with(json!({"exp": now - 600, "iat": now - 900}))),
            "expired",
        ),
        (
            "not yet valid",
            key.mint(&with(json!({"nbf": now + 600}))),
            "not valid before",
        ),
        (
            "issued in the future",
            key.mint(&with(json!({"iat": now + 600}))),
            "in the future",
        ),
        (
            "wrong issuer",
            key.mint(&with(
                json!({"iss": "https://evil.example/realms/oauth2-playbook"}),
            )),
            "evil.example",
        ),
        (
            "signed by another key with the right kid",
            stranger.mint(&good),
            "signature does not verify",
        ),
        (
            "claims altered after signing",
            tampered,
            "signature does not verify",
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(json!({"alg": "none", "typ": "JWT", "kid": key.kid}).to_string()),
                b64(good.to_string())
            ),
            "unsigned",
        ),
        (
            "HS256 keyed with the public key",
            sign_hs256(
                &json!({"alg": "HS256", "typ": "JWT", "kid": key.kid}),
                &good,
                &key.public_der(),
            ),
            "key confusion",
        ),
        (
            "unknown kid",
            key.sign(
                &json!({"alg": "RS256", "typ": "JWT", "kid": "nobody-knows-me"}),
                &good,
            ),
            "no key with kid",
        ),
        (
            "truncated",
            valid[..valid.len() / 2].to_owned(),
            "well-formed",
        ),
        ("garbled", garbled, "well-formed"),
        (
            "bound to another certificate",
            key.mint(&s.provider.claims(Some(&s.pki.other_client))),
            "bound to certificate",
        ),
        (
            "an ID token",
            key.mint(&with(json!({"typ": "ID"}))),
            "not an access token",
        ),
        (
            "no token type at all",
            key.mint(&without_typ),
            "does not say it is an access token",
        ),
        (
            "no exp",
            {
                let mut c = good.clone();
                c.as_object_mut().unwrap().remove("exp");
                key.mint(&c)
            },
            "no exp claim",
        ),
    ];
    for (name, token, because) in &cases {
        let answer = s.get(names::USERS_API_PATH, token).await;
        println!("{name}: {}", answer.description());
        assert_invalid_token(&answer, because);
    }
    // The valid one still passes: the refusals above are about the tokens, not the setup.
    assert_eq!(s.get(names::USERS_API_PATH, &valid).await.status, 200);
    s.stop().await;
}

/// A valid token without the route's role: 403 `insufficient_scope`; `POST /api/users`
/// needs a role the walkthrough's client never gets.
#[tokio::test]
async fn missing_role_gets_403_insufficient_scope() {
    let s = Setup::start().await;
    let mut claims = s.provider.claims(Some(&s.pki.client));
    claims["realm_access"] = json!({"roles": ["offline_access"]});
    let no_role = s.provider.key().mint(&claims);

    let answer = s.get(names::USERS_API_PATH, &no_role).await;
    assert_eq!(answer.status, 403, "{answer:?}");
    assert_eq!(answer.error(), Some("insufficient_scope"));
    assert!(answer.description().contains(names::READONLY_ROLE));
    assert!(
        answer
            .challenge
            .as_deref()
            .unwrap()
            .contains("error=\"insufficient_scope\"")
    );
    // whoami needs no role.
    assert_eq!(s.get("/api/whoami", &no_role).await.status, 200);

    let token = s.provider.token(&s.pki);
    let post = call(
        &s.pki,
        Method::POST,
        &s.url(names::USERS_API_PATH),
        Some(&s.pki.client),
        Some(&format!("Bearer {token}")),
    )
    .await;
    assert_eq!(post.status, 403, "{post:?}");
    assert!(post.description().contains(names::WRITE_ROLE));
    s.stop().await;
}

/// Malformed `Authorization` headers: 400 `invalid_request`.
#[tokio::test]
async fn malformed_authorization_gets_400_invalid_request() {
    let s = Setup::start().await;
    let url = s.url(names::USERS_API_PATH);
    for header in ["Bearer", "Bearer not a token", "Bearer a\"b"] {
        let answer = call(&s.pki, Method::GET, &url, Some(&s.pki.client), Some(header)).await;
        assert_eq!(answer.status, 400, "{header}: {answer:?}");
        assert_eq!(answer.error(), Some("invalid_request"));
        assert!(
            answer
                .challenge
                .as_deref()
                .unwrap()
                .contains("error=\"invalid_request\"")
        );
    }
    let token = s.provider.token(&s.pki);
    let in_url = call(
        &s.pki,
        Method::GET,
        &format!("{url}?access_token={token}"),
        Some(&s.pki.client),
        None,
    )
    .await;
    assert_eq!(in_url.status, 400);
    assert!(in_url.description().contains("URL"));
    // Another scheme is not malformed, just not a bearer token: a bare challenge.
    let basic = call(
        &s.pki,
        Method::GET,
        &url,
        Some(&s.pki.client),
        Some("Basic dXNlcjpwYXNz"),
    )
    .await;
    assert_eq!(basic.status, 401);
    assert_eq!(basic.error(), None);
    s.stop().await;
}

/// The provider rotates its key: the first token with the new `kid` triggers exactly one
/// JWKS refetch and is accepted; the old key is gone.
#[tokio::test]
async fn rotated_key_is_refetched_once() {
    let s = Setup::start().await;
    let old = s.provider.token(&s.pki);
    assert_eq!(s.get(names::USERS_API_PATH, &old).await.status, 200);
    let fetched = s.provider.jwks_hits();

    let new_key = s.provider.rotate("key-2");
    let token = new_key.mint(&s.provider.claims(Some(&s.pki.client)));
    let answer = s.get(names::USERS_API_PATH, &token).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(s.provider.jwks_hits(), fetched + 1);
    let who = s.get("/api/whoami", &token).await;
    assert_eq!(who.body["token"]["kid"], "key-2");
    assert_eq!(s.provider.jwks_hits(), fetched + 1, "known kid: no refetch");

    // A never-seen token naming the retired kid is refused: key-1 is no longer published.
    let stale = SigningKey::generate("key-1").mint(&s.provider.claims(Some(&s.pki.client)));
    assert_invalid_token(&s.get(names::USERS_API_PATH, &stale).await, "key-1");
    s.stop().await;
}

/// A flood of made-up `kid`s costs the provider at most one refetch per interval. Tokens
/// issued before our last fetch (old `iat`) get a definitive 401: the keys we hold are
/// newer than they are.
#[tokio::test]
async fn unknown_kid_refetches_are_rate_limited() {
    let s = Setup::with(|c| c.min_refetch_interval = Duration::from_secs(3600)).await;
    let before = s.provider.jwks_hits();
    let key = s.provider.key();
    let mut claims = s.provider.claims(Some(&s.pki.client));
    claims["iat"] = json!(now() - 120);
    for i in 0..8 {
        let bogus = key.sign(
            &json!({"alg": "RS256", "typ": "JWT", "kid": format!("bogus-{i}")}),
            &claims,
        );
        let answer = s.get(names::USERS_API_PATH, &bogus).await;
        assert_invalid_token(&answer, &format!("bogus-{i}"));
        if i > 0 {
            assert!(
                answer.description().contains("at most one refetch"),
                "{answer:?}"
            );
        }
    }
    assert_eq!(s.provider.jwks_hits(), before + 1);
    s.stop().await;
}

/// A key rotation while someone floods made-up `kid`s: the flood holds the refetch slot,
/// and a token signed with the key the provider has just published gets 503 with
/// `Retry-After` (it cannot be checked yet), never 401; once the slot is free (2 s here) a
/// refetch brings the new key and the token gets 200, flood or not.
#[tokio::test]
async fn a_rotation_during_a_kid_flood_never_gets_401() {
    let s = Setup::with(|c| c.min_refetch_interval = Duration::from_secs(2)).await;
    let claims = s.provider.claims(Some(&s.pki.client));
    let junk = |i: usize| {
        s.provider.key().sign(
            &json!({"alg": "RS256", "typ": "JWT", "kid": format!("junk-{i}")}),
            &claims,
        )
    };
    // The first made-up kid costs a refetch that does not find it: the slot is taken.
    assert_invalid_token(
        &s.get(names::USERS_API_PATH, &junk(0)).await,
        "even after refetching",
    );
    let new_key = s.provider.rotate("key-rotated");
    let token = new_key.mint(&claims);
    let first = s.get(names::USERS_API_PATH, &token).await;
    println!("during the flood: {}", first.description());
    assert_eq!(first.status, 503, "{first:?}");
    assert_eq!(first.error(), Some("temporarily_unavailable"));
    assert_eq!(first.challenge, None, "not the token's fault: no challenge");
    let wait: u64 = first
        .retry_after
        .as_deref()
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=2).contains(&wait), "{first:?}");
    for needed in ["key-rotated", "cannot be checked yet"] {
        assert!(first.description().contains(needed), "{needed}: {first:?}");
    }

    // The flood goes on; the rotated token is retried as Retry-After says (bounded poll).
    let mut answer = first;
    for i in 1..=40 {
        let _ = s.get(names::USERS_API_PATH, &junk(i)).await;
        answer = s.get(names::USERS_API_PATH, &token).await;
        assert_ne!(answer.status, 401, "a rotated key got 401: {answer:?}");
        if answer.status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(answer.status, 200, "{answer:?}");
    s.stop().await;
}

/// Provider down at start: the server starts anyway, answers 503 with the reason, and
/// recovers by itself once the provider is up.
#[tokio::test]
async fn provider_late_gives_503_then_recovers() {
    let pki = pki();
    let mut provider = TestProvider::not_started().await;
    let server = resource_server(&pki, config(&pki, &provider)).await;
    let token = provider.token(&pki);
    let users = format!("{}{}", server.url, names::USERS_API_PATH);

    let ready = call(
        &pki,
        Method::GET,
        &format!("{}/health/ready", server.url),
        Some(&pki.client),
        None,
    )
    .await;
    assert_eq!(ready.status, 503, "{ready:?}");
    assert_eq!(ready.body["status"], "DOWN");
    let live = call(
        &pki,
        Method::GET,
        &format!("{}/health/live", server.url),
        Some(&pki.client),
        None,
    )
    .await;
    assert_eq!(live.status, 200);

    let answer = get_with(&pki, &users, &pki.client, &token).await;
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(answer.error(), Some("temporarily_unavailable"));
    assert!(answer.description().contains("not loaded"), "{answer:?}");
    assert_eq!(answer.challenge, None);

    provider.start_late(&pki).await;
    server
        .wait_ready(READY)
        .await
        .expect("keys load once the provider is up");
    assert_eq!(
        get_with(&pki, &users, &pki.client, &token).await.status,
        200
    );
    server.stop().await.expect("stops");
    provider.stop().await;
}

/// `--client-auth request`: a connection without a certificate reaches the API; public
/// routes answer, protected ones say a certificate is needed.
#[tokio::test]
async fn request_mode_without_certificate_gets_401() {
    let s = Setup::with(|c| c.client_auth = ClientAuth::Request).await;
    let token = s.provider.token(&s.pki);
    let bearer = format!("Bearer {token}");
    let public = call(&s.pki, Method::GET, &s.url("/public"), None, None).await;
    assert_eq!(public.status, 200);
    let anonymous = call(
        &s.pki,
        Method::GET,
        &s.url(names::USERS_API_PATH),
        None,
        Some(&bearer),
    )
    .await;
    assert_invalid_token(&anonymous, "no client certificate");
    // Neither certificate nor token: a bare challenge that names both.
    let nothing = call(
        &s.pki,
        Method::GET,
        &s.url(names::USERS_API_PATH),
        None,
        None,
    )
    .await;
    assert_eq!(nothing.status, 401);
    assert_eq!(nothing.error(), None);
    assert!(
        nothing.description().contains("client certificate"),
        "{nothing:?}"
    );
    let with_cert = call(
        &s.pki,
        Method::GET,
        &s.url(names::USERS_API_PATH),
        Some(&s.pki.client),
        Some(&bearer),
    )
    .await;
    assert_eq!(with_cert.status, 200);
    s.stop().await;
}

/// The binding is checked on every request, cached token or not: the same token from
/// another certificate is refused after it was accepted.
#[tokio::test]
async fn cached_token_is_still_checked_against_the_connection() {
    let s = Setup::start().await;
    let token = s.provider.token(&s.pki);
    assert_eq!(s.get(names::USERS_API_PATH, &token).await.status, 200);
    let stolen = get_with(
        &s.pki,
        &s.url(names::USERS_API_PATH),
        &s.pki.other_client,
        &token,
    )
    .await;
    assert_invalid_token(&stolen, &s.pki.other_client.x5t_s256());
    s.stop().await;
}

/// Unbound tokens pass by default (shown as `unbound`); `--require-binding` refuses them.
#[tokio::test]
async fn require_binding_refuses_unbound_tokens() {
    let s = Setup::start().await;
    let unbound = s.provider.key().mint(&s.provider.claims(None));
    let who = s.get("/api/whoami", &unbound).await;
    assert_eq!(who.status, 200);
    assert_eq!(who.body["binding"]["result"], "unbound");
    s.stop().await;

    let s = Setup::with(|c| c.require_binding = true).await;
    let unbound = s.provider.key().mint(&s.provider.claims(None));
    assert_invalid_token(&s.get("/api/whoami", &unbound).await, "not bound");
    assert_eq!(
        s.get("/api/whoami", &s.provider.token(&s.pki)).await.status,
        200
    );
    s.stop().await;
}

/// A token bound by a confirmation method this server does not check (`jwk`, RFC 7800) is
/// the issuer saying "only with proof of that key": it gets 401 `invalid_token` naming the
/// method, never acceptance as a plain bearer token, and not even next to a matching
/// `x5t#S256` (half the binding unchecked is no binding). An empty `cnf` is refused too; a
/// plain `x5t#S256` binding still passes. A DPoP-bound token (`jkt`, RFC 9449) sent as a
/// bearer token is refused with a `DPoP` challenge (tests/dpop.rs has the rest of DPoP).
#[tokio::test]
async fn tokens_bound_by_an_unchecked_confirmation_method_are_refused() {
    let s = Setup::start().await;
    let bound = |cnf: serde_json::Value| {
        let mut claims = s.provider.claims(None);
        claims["cnf"] = cnf;
        s.provider.key().mint(&claims)
    };
    let dpop = bound(json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}));
    let answer = s.get(names::USERS_API_PATH, &dpop).await;
    assert_eq!(answer.status, 401, "{answer:?}");
    assert_eq!(answer.error(), Some("invalid_token"));
    assert!(answer.description().contains("DPoP-bound"), "{answer:?}");
    let challenge = answer.challenge.as_deref().unwrap_or_default();
    assert!(challenge.starts_with("DPoP realm="), "{challenge}");

    let both = bound(json!({"x5t#S256": s.pki.client.x5t_s256(), "jkt": "abc"}));
    let answer = s.get(names::USERS_API_PATH, &both).await;
    assert_eq!(answer.status, 401, "{answer:?}");
    assert!(answer.description().contains("jkt"), "{answer:?}");
    let jwk = bound(json!({"jwk": {"kty": "EC", "crv": "P-256", "x": "a", "y": "b"}}));
    assert_invalid_token(&s.get(names::USERS_API_PATH, &jwk).await, "[\"jwk\"]");
    let half = bound(json!({"x5t#S256": s.pki.client.x5t_s256(), "jwk": {"kty": "EC"}}));
    assert_invalid_token(&s.get(names::USERS_API_PATH, &half).await, "[\"jwk\"]");
    assert_invalid_token(
        &s.get(names::USERS_API_PATH, &bound(json!({}))).await,
        "empty",
    );

    let mtls = bound(json!({"x5t#S256": s.pki.client.x5t_s256()}));
    assert_eq!(s.get(names::USERS_API_PATH, &mtls).await.status, 200);
    s.stop().await;
}

/// A provider that follows RFC 9068 (`typ: at+jwt`, `client_id`, no `typ` claim) is
/// understood too; `--audience` and `--authorized-party` are enforced when set.
#[tokio::test]
async fn rfc9068_tokens_and_audience() {
    let s = Setup::with(|c| {
        c.audience = Some("https://api.example".into());
        c.authorized_party = Some(names::MTLS_CLIENT_ID.into());
    })
    .await;
    let key = s.provider.key();
    let mut claims = s.provider.claims(Some(&s.pki.client));
    let obj = claims.as_object_mut().unwrap();
    obj.remove("typ");
    obj.remove("azp");
    claims["aud"] = json!(["https://api.example", "other"]);
    let header = json!({"alg": "RS256", "typ": "at+jwt", "kid": key.kid});
    assert_eq!(
        s.get(names::USERS_API_PATH, &key.sign(&header, &claims))
            .await
            .status,
        200
    );

    claims["aud"] = json!("account");
    assert_invalid_token(
        &s.get(names::USERS_API_PATH, &key.sign(&header, &claims))
            .await,
        "audience",
    );
    claims["aud"] = json!("https://api.example");
    claims["client_id"] = json!("someone-else");
    assert_invalid_token(
        &s.get(names::USERS_API_PATH, &key.sign(&header, &claims))
            .await,
        "someone-else",
    );
    s.stop().await;
}

/// An ES256 key published next to the RSA one (a new `kid`: one refetch) verifies
/// RFC 9068-style tokens; the EC key cannot be used for an RS256 token.
#[tokio::test]
async fn es256_tokens_verify_with_an_ec_key() {
    let s = Setup::start().await;
    let ec = EcSigningKey::generate("ec-1");
    s.provider.publish(ec.jwk());
    let mut claims = s.provider.claims(Some(&s.pki.client));
    claims.as_object_mut().unwrap().remove("typ");
    let token = ec.sign(
        &json!({"alg": "ES256", "typ": "at+jwt", "kid": "ec-1"}),
        &claims,
    );
    let who = s.get("/api/whoami", &token).await;
    assert_eq!(who.status, 200, "{who:?}");
    assert_eq!(who.body["token"]["alg"], "ES256");

    // Same kid, RSA algorithm: refused before any signature check (alg/key mismatch).
    let confused = s.provider.key().sign(
        &json!({"alg": "RS256", "typ": "at+jwt", "kid": "ec-1"}),
        &claims,
    );
    assert_invalid_token(&s.get("/api/whoami", &confused).await, "Ec key");
    s.stop().await;
}

/// The scope guard over real TLS: exact match, never substring.
#[tokio::test]
async fn scope_guard_matches_exactly() {
    let pki = pki();
    let provider = TestProvider::start(&pki).await;
    let config = config(&pki, &provider);
    let tls = config
        .server_tls(&identity(&pki.resource_server))
        .expect("tls");
    let state = resource_server::AppState::new(config).expect("state");
    // Keys first, then serve: nothing to poll for.
    tokio::time::timeout(READY, state.load_keys())
        .await
        .expect("the stand-in provider's keys load");
    let app = Router::new()
        .route(
            "/scoped",
            get(|Scope(auth, PhantomData): Scope<UsersRead>| async move {
                auth.claims().scopes().join(" ")
            }),
        )
        .with_state(state.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!(
        "https://localhost:{}/scoped",
        listener.local_addr().unwrap().port()
    );
    let server = playbook::server::Background::spawn(|stopped| {
        playbook::server::serve(listener, tls, app, stopped)
    });

    let mint = |scope: &str| {
        let mut claims = provider.claims(Some(&pki.client));
        claims["scope"] = json!(scope);
        provider.key().mint(&claims)
    };
    let near_miss = get_with(
        &pki,
        &url,
        &pki.client,
        &mint("profile users:readonly admin:users:read"),
    )
    .await;
    assert_eq!(near_miss.status, 403, "{near_miss:?}");
    assert_eq!(near_miss.error(), Some("insufficient_scope"));
    assert!(
        near_miss
            .challenge
            .unwrap()
            .contains("scope=\"users:read\"")
    );
    let granted = get_with(&pki, &url, &pki.client, &mint("profile users:read")).await;
    assert_eq!(granted.status, 200, "{granted:?}");

    let _ = server.stop().await;
    provider.stop().await;
}

/// The provider goes away and comes back with new keys, as the embedded provider does at
/// every start. Tokens whose `kid` is cached keep working meanwhile; a token with the new
/// `kid` gets 503 `temporarily_unavailable` while the provider is down (we cannot tell
/// whether it is bad), then 200 soon after the provider is back: the failed refetch did not
/// take the rate-limit slot (an hour here), only a short backoff. The first successful
/// refetch takes the slot again, so the flood protection is back.
#[tokio::test]
async fn provider_restart_with_new_keys_gives_503_then_200() {
    let mut s = Setup::with(|c| c.min_refetch_interval = Duration::from_secs(3600)).await;
    let users = s.url(names::USERS_API_PATH);
    let claims = s.provider.claims(Some(&s.pki.client));
    let old = s.provider.key().mint(&claims);
    assert_eq!(s.get(names::USERS_API_PATH, &old).await.status, 200);

    s.provider.go_away().await;
    // Cached kid: verified with the cached key, provider or not (a token never seen before).
    let mut fresh = claims.clone();
    fresh["jti"] = json!("while-the-provider-is-down");
    let fresh = s.provider.key().mint(&fresh);
    assert_eq!(s.get(names::USERS_API_PATH, &fresh).await.status, 200);

    let new_key = s.provider.rotate("key-after-restart");
    let token = new_key.mint(&claims);
    let down = get_with(&s.pki, &users, &s.pki.client, &token).await;
    println!("provider down: {}", down.description());
    assert_eq!(down.status, 503, "{down:?}");
    assert_eq!(down.error(), Some("temporarily_unavailable"));
    assert_eq!(down.challenge, None, "not the token's fault: no challenge");
    assert_eq!(down.retry_after.as_deref(), Some("1"), "{down:?}");
    for needed in [
        "key-after-restart",
        s.provider.issuer.as_str(),
        "cannot be told",
    ] {
        assert!(down.description().contains(needed), "{needed}: {down:?}");
    }
    // Still 503 within the backoff: the answer comes from the last failure.
    let again = get_with(&s.pki, &users, &s.pki.client, &token).await;
    assert_eq!(again.status, 503, "{again:?}");

    let hits = s.provider.jwks_hits();
    s.provider.start_late(&s.pki).await;
    // The next attempt is allowed after the backoff (1 s here); bounded poll, no timing
    // assertion.
    let mut answer = get_with(&s.pki, &users, &s.pki.client, &token).await;
    for _ in 0..50 {
        if answer.status != 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        answer = get_with(&s.pki, &users, &s.pki.client, &token).await;
    }
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(s.provider.jwks_hits(), hits + 1, "one refetch on recovery");
    // The flood protection still works: the first made-up kid costs one refetch (the
    // recovery refetch found its kid, so it took no slot), the next ones none.
    let mut old = claims.clone();
    old["iat"] = json!(now() - 120);
    let bogus = |kid: &str| new_key.sign(&json!({"alg": "RS256", "typ": "JWT", "kid": kid}), &old);
    let refused = s.get(names::USERS_API_PATH, &bogus("bogus-1")).await;
    assert_invalid_token(&refused, "even after refetching");
    let refused = s.get(names::USERS_API_PATH, &bogus("bogus-2")).await;
    assert_invalid_token(&refused, "at most one refetch");
    assert_eq!(s.provider.jwks_hits(), hits + 2);
    s.stop().await;
}

/// `POST /api/users` reads a body: one over `max_body_bytes` gets 413, one that is not the
/// expected JSON gets 400/422, both as RFC-shaped JSON `invalid_request`; a fitting one
/// gets 201. The role is checked first, so without it the body is never read (403).
#[tokio::test]
async fn request_body_is_limited_and_checked() {
    let s = Setup::with(|c| c.max_body_bytes = 1024).await;
    let url = s.url(names::USERS_API_PATH);
    let mut claims = s.provider.claims(Some(&s.pki.client));
    claims["realm_access"] = json!({"roles": [names::WRITE_ROLE]});
    let writer = s.provider.key().mint(&claims);
    let user = |name: &str| {
        json!({"username": name, "email": "carol@example.org"})
            .to_string()
            .into_bytes()
    };

    let created = post_body(&s.pki, &url, &writer, user("carol")).await;
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(created.body["username"], "carol");

    let too_large = post_body(&s.pki, &url, &writer, user(&"c".repeat(2000))).await;
    assert_eq!(too_large.status, 413, "{too_large:?}");
    assert_eq!(too_large.error(), Some("invalid_request"));
    assert!(
        too_large.description().contains("1024 bytes"),
        "{too_large:?}"
    );
    assert_eq!(too_large.challenge, None);

    let not_json = post_body(&s.pki, &url, &writer, b"{bad".to_vec()).await;
    assert_eq!(not_json.status, 400, "{not_json:?}");
    assert_eq!(not_json.error(), Some("invalid_request"));
    assert!(not_json.description().contains("username"), "{not_json:?}");
    let wrong_shape = post_body(&s.pki, &url, &writer, b"{}".to_vec()).await;
    assert_eq!(wrong_shape.status, 422, "{wrong_shape:?}");

    let reader = s.provider.token(&s.pki);
    let forbidden = post_body(&s.pki, &url, &reader, user(&"c".repeat(2000))).await;
    assert_eq!(forbidden.status, 403, "{forbidden:?}");
    s.stop().await;
}
