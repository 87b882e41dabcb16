//! Test support: a stand-in token provider that serves discovery and a JWKS over TLS (like
//! any OpenID provider, Keycloak included), mints tokens with its RSA keys, can rotate them
//! and can come up late; plus a resource server under test and an HTTPS caller.
//!
//! Tokens are built by hand (header JSON, payload JSON, RS256 signature with aws-lc-rs) so
//! a test can forge exactly the bad token it needs: `alg: none`, HS256 keyed with the
//! public key, a foreign `kid`, a wrong signature.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use playbook::pki::{DevPki, Issued};
use playbook::server::{self, Background, ClientAuth};
use playbook::{Identity, names};
use resource_server::{Config, Running};
use serde_json::{Value, json};
use tokio::net::TcpListener;

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn b64_decode(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("base64url")
}

/// Presents a certificate as it is: the server is the one under test.
pub fn identity(issued: &Issued) -> Identity {
    Identity::unchecked(
        Path::new("test.pem"),
        vec![issued.cert_der.clone()],
        issued.key_der(),
    )
}

/// An RSA signing key with its `kid`.
pub struct SigningKey {
    pub kid: String,
    pair: RsaKeyPair,
}

impl SigningKey {
    pub fn generate(kid: &str) -> Arc<SigningKey> {
        Arc::new(SigningKey {
            kid: kid.to_owned(),
            pair: RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key generation"),
        })
    }

    /// The public JWK, shaped as Keycloak publishes it.
    pub fn jwk(&self) -> Value {
        let public = self.pair.public_key();
        json!({
            "kid": self.kid, "kty": "RSA", "alg": "RS256", "use": "sig",
            "n": b64(public.modulus().big_endian_without_leading_zero()),
            "e": b64(public.exponent().big_endian_without_leading_zero()),
        })
    }

    /// DER SubjectPublicKeyInfo of the public key: what a key-confusion forger would use
    /// as an HMAC secret.
    pub fn public_der(&self) -> Vec<u8> {
        self.pair
            .public_key()
            .as_der()
            .expect("public key DER")
            .as_ref()
            .to_vec()
    }

    /// An RS256 JWS over `header` and `claims`, exactly as given.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .expect("RSA signature");
        format!("{input}.{}", b64(signature))
    }

    /// Keycloak's header: `{"alg":"RS256","typ":"JWT","kid":…}`.
    pub fn header(&self) -> Value {
        json!({"alg": "RS256", "typ": "JWT", "kid": self.kid})
    }

    pub fn mint(&self, claims: &Value) -> String {
        self.sign(&self.header(), claims)
    }
}

/// A P-256 key for ES256 tokens, as RFC 9068 providers often use.
pub struct EcSigningKey {
    pub kid: String,
    pair: aws_lc_rs::signature::EcdsaKeyPair,
}

impl EcSigningKey {
    pub fn generate(kid: &str) -> EcSigningKey {
        EcSigningKey {
            kid: kid.to_owned(),
            pair: aws_lc_rs::signature::EcdsaKeyPair::generate(
                &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            )
            .expect("EC key generation"),
        }
    }

    /// The public JWK: x and y from the uncompressed point `04 || x || y`.
    pub fn jwk(&self) -> Value {
        let point = self.pair.public_key().as_ref();
        assert_eq!(point.len(), 65, "uncompressed P-256 point");
        json!({"kid": self.kid, "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig",
               "x": b64(&point[1..33]), "y": b64(&point[33..])})
    }

    /// An ES256 JWS (the signature is the fixed-size r || s, RFC 7518 §3.4).
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let signature = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .expect("EC signature");
        format!("{input}.{}", b64(signature.as_ref()))
    }
}

/// HS256 over header and claims with `secret`: the forgery a resource server must refuse.
pub fn sign_hs256(header: &Value, claims: &Value, secret: &[u8]) -> String {
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", b64(tag.as_ref()))
}

struct ProviderState {
    issuer: String,
    keys: Mutex<Vec<Arc<SigningKey>>>,
    /// Published as they are, next to the RSA keys.
    extra_jwks: Mutex<Vec<Value>>,
    discovery_hits: AtomicUsize,
    jwks_hits: AtomicUsize,
}

async fn discovery(State(state): State<Arc<ProviderState>>) -> Json<Value> {
    state.discovery_hits.fetch_add(1, Ordering::SeqCst);
    Json(json!({
        "issuer": state.issuer,
        "token_endpoint": format!("{}/protocol/openid-connect/token", state.issuer),
        "jwks_uri": format!("{}/protocol/openid-connect/certs", state.issuer),
        "tls_client_certificate_bound_access_tokens": true,
    }))
}

async fn jwks(State(state): State<Arc<ProviderState>>) -> Json<Value> {
    state.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let keys: Vec<Value> = state.keys.lock().unwrap().iter().map(|k| k.jwk()).collect();
    // Keycloak also publishes an encryption key; the resource server must skip it.
    let mut keys = keys;
    keys.extend(state.extra_jwks.lock().unwrap().iter().cloned());
    keys.push(
        json!({"kid": "enc-key", "kty": "RSA", "alg": "RSA-OAEP", "use": "enc",
                     "n": "sXch", "e": "AQAB"}),
    );
    Json(json!({ "keys": keys }))
}

/// A minimal OpenID provider: discovery + JWKS over TLS, and a token minter.
pub struct TestProvider {
    pub issuer: String,
    pub addr: SocketAddr,
    state: Arc<ProviderState>,
    server: Option<Background>,
}

impl TestProvider {
    /// Starts on a fresh loopback port with one signing key.
    pub async fn start(pki: &DevPki) -> TestProvider {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let mut provider = TestProvider::stopped(listener.local_addr().expect("addr"));
        provider.serve(pki, listener);
        provider
    }

    /// A provider that is not running yet: its port is reserved and then released, so the
    /// resource server sees "connection refused" until [`TestProvider::start_late`].
    pub async fn not_started() -> TestProvider {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        TestProvider::stopped(listener.local_addr().expect("addr"))
    }

    /// Stops serving, as `Ctrl-C` on a provider does; [`TestProvider::start_late`] brings
    /// it back on the same port (with the same keys unless [`TestProvider::rotate`]d).
    pub async fn go_away(&mut self) {
        if let Some(server) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(10), server.stop())
                .await
                .expect("the provider stops within 10 s")
                .expect("provider task and serve loop");
        }
    }

    pub async fn start_late(&mut self, pki: &DevPki) {
        let listener = TcpListener::bind(self.addr)
            .await
            .expect("re-bind the provider's reserved port");
        self.serve(pki, listener);
    }

    fn stopped(addr: SocketAddr) -> TestProvider {
        let issuer = names::issuer_for(&format!("https://localhost:{}", addr.port()), names::REALM);
        TestProvider {
            state: Arc::new(ProviderState {
                issuer: issuer.clone(),
                keys: Mutex::new(vec![SigningKey::generate("key-1")]),
                extra_jwks: Mutex::new(Vec::new()),
                discovery_hits: AtomicUsize::new(0),
                jwks_hits: AtomicUsize::new(0),
            }),
            issuer,
            addr,
            server: None,
        }
    }

    fn serve(&mut self, pki: &DevPki, listener: TcpListener) {
        let tls = server::server_config(
            &identity(&pki.provider),
            std::slice::from_ref(&pki.ca.cert.cert_der),
            ClientAuth::Request,
        )
        .expect("provider TLS config");
        let realm = format!("/realms/{}", names::REALM);
        let app = Router::new()
            .route(
                &format!("{realm}/.well-known/openid-configuration"),
                get(discovery),
            )
            .route(&format!("{realm}/protocol/openid-connect/certs"), get(jwks))
            .with_state(self.state.clone());
        self.server = Some(Background::spawn(|stopped| {
            server::serve(listener, tls, app, stopped)
        }));
    }

    /// The current signing key (the last one published).
    pub fn key(&self) -> Arc<SigningKey> {
        self.state
            .keys
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("a key")
    }

    /// Key rotation: a new key replaces the published ones.
    pub fn rotate(&self, kid: &str) -> Arc<SigningKey> {
        let key = SigningKey::generate(kid);
        *self.state.keys.lock().unwrap() = vec![key.clone()];
        key
    }

    /// Publishes another JWK (an EC key, say) next to the RSA keys.
    pub fn publish(&self, jwk: Value) {
        self.state.extra_jwks.lock().unwrap().push(jwk);
    }

    pub fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    /// Claims shaped like a Keycloak client-credentials access token for `pki.client`,
    /// bound to its certificate and carrying the read-only role.
    pub fn claims(&self, bound_to: Option<&Issued>) -> Value {
        let now = now();
        let mut claims = json!({
            "exp": now + 300, "iat": now, "jti": format!("trrtcc:{}", now),
            "iss": self.issuer, "aud": "account", "sub": "3f1a9a52-service-account",
            "typ": "Bearer", "azp": names::MTLS_CLIENT_ID, "acr": "1",
            "realm_access": {"roles": ["offline_access", "uma_authorization",
                                        format!("default-roles-{}", names::REALM),
                                        names::READONLY_ROLE]},
            "scope": "profile email",
            "preferred_username": format!("service-account-{}", names::MTLS_CLIENT_ID),
            "client_id": names::MTLS_CLIENT_ID,
        });
        if let Some(cert) = bound_to {
            claims["cnf"] = json!({"x5t#S256": cert.x5t_s256()});
        }
        claims
    }

    /// A valid token for `pki.client`, signed with the current key.
    pub fn token(&self, pki: &DevPki) -> String {
        self.key().mint(&self.claims(Some(&pki.client)))
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), server.stop()).await;
        }
    }
}

/// A config for the resource server under test, trusting the test PKI and retrying fast.
pub fn config(pki: &DevPki, provider: &TestProvider) -> Config {
    let mut config = Config::new(&provider.issuer, vec![pki.ca.cert.cert_der.clone()]);
    config.retry_min_delay = Duration::from_millis(100);
    config.retry_max_delay = Duration::from_millis(500);
    config
}

/// Starts the resource server under test on a fresh loopback port.
pub async fn resource_server(pki: &DevPki, config: Config) -> Running {
    let tls = config
        .server_tls(&identity(&pki.resource_server))
        .expect("resource server TLS config");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    resource_server::spawn(listener, tls, config).expect("spawn resource server")
}

/// One HTTP answer, read completely.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub challenge: Option<String>,
    pub retry_after: Option<String>,
    pub body: Value,
}

impl Answer {
    pub fn error(&self) -> Option<&str> {
        self.body["error"].as_str()
    }
    pub fn description(&self) -> &str {
        self.body["error_description"].as_str().unwrap_or_default()
    }
}

/// An HTTPS client that trusts only `pki`'s CA and presents `cert` when given.
pub fn https_client(pki: &DevPki, cert: Option<&Issued>) -> reqwest::Client {
    let id = cert.map(identity);
    playbook::https::https_client(std::slice::from_ref(&pki.ca.cert.cert_der), id.as_ref())
        .expect("https client")
}

/// Calls `url` over a new TLS connection, presenting `cert` and sending `authorization`.
pub async fn call(
    pki: &DevPki,
    method: reqwest::Method,
    url: &str,
    cert: Option<&Issued>,
    authorization: Option<&str>,
) -> Answer {
    let client = https_client(pki, cert);
    let mut request = client.request(method.clone(), url);
    if let Some(value) = authorization {
        request = request.header(reqwest::header::AUTHORIZATION, value);
    }
    if method == reqwest::Method::POST {
        request = request.json(&json!({"username": "carol", "email": "carol@example.org"}));
    }
    answer(request).await
}

/// POSTs `body` as `application/json` with the client certificate and `token`.
pub async fn post_body(pki: &DevPki, url: &str, token: &str, body: Vec<u8>) -> Answer {
    let client = https_client(pki, Some(&pki.client));
    let request = client
        .post(url)
        .bearer_auth(token)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body);
    answer(request).await
}

async fn answer(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("request reaches the server");
    let status = response.status().as_u16();
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|v: &reqwest::header::HeaderValue| v.to_str().expect("ASCII header").to_owned())
    };
    let challenge = header(reqwest::header::WWW_AUTHENTICATE);
    let retry_after = header(reqwest::header::RETRY_AFTER);
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        challenge,
        retry_after,
        body,
    }
}

/// GET with the client certificate and `Authorization: Bearer <token>`.
pub async fn get_with(pki: &DevPki, url: &str, cert: &Issued, token: &str) -> Answer {
    call(
        pki,
        reqwest::Method::GET,
        url,
        Some(cert),
        Some(&format!("Bearer {token}")),
    )
    .await
}

/// Asserts a 401 `invalid_token` whose description contains `because`, in body and header.
#[track_caller]
pub fn assert_invalid_token(answer: &Answer, because: &str) {
    assert_eq!(answer.status, 401, "{answer:?}");
    assert_eq!(answer.error(), Some("invalid_token"), "{answer:?}");
    assert!(
        answer.description().contains(because),
        "expected the reason to mention {because:?}: {answer:?}"
    );
    let challenge = answer.challenge.as_deref().expect("WWW-Authenticate");
    assert!(
        challenge.starts_with(&format!(
            "Bearer realm=\"{}\", error=\"invalid_token\"",
            names::REALM
        )),
        "{challenge}"
    );
}

/// The debug form of an error with all its causes (reqwest hides rustls' alert inside).
pub fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = format!("{err:?}");
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(&format!(" <- {e:?}"));
        source = e.source();
    }
    text
}
