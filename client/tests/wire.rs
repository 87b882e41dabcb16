//! The exact request the client puts on the wire, captured by a TLS server on loopback:
//! the form body byte for byte, the headers, and the certificate of the connection.
//! (The unit tests in `token.rs` pin the body we *build*; this pins what reqwest *sends*.)

use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::post;
use client::token::{self, ClientAuth, ClientId, ClientSecret, Scope, TokenRequest};
use playbook::pki::DevPki;
use playbook::server::{ClientAuth as ServerClientAuth, Connection};
use playbook::{Identity, names};
use url::Url;

/// What the capture server saw.
#[derive(Debug, Clone, Default)]
struct Seen {
    content_type: Option<String>,
    authorization: Option<String>,
    body: String,
    client_cert_x5t: Option<String>,
}

struct Capture {
    url: Url,
    seen: Arc<Mutex<Vec<Seen>>>,
    background: playbook::server::Background,
}

/// A TLS server (client certificates requested, as Keycloak's) that records each token
/// request and answers like Keycloak's token endpoint.
async fn capture(pki: &DevPki) -> Capture {
    playbook::install_crypto_provider();
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let record = seen.clone();
    let app = Router::new().route(
        "/token",
        post(move |conn: Connection, headers: HeaderMap, body: String| {
            let record = record.clone();
            async move {
                let header = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                record.lock().unwrap().push(Seen {
                    content_type: header("content-type"),
                    authorization: header("authorization"),
                    body,
                    client_cert_x5t: conn.client_leaf().map(|c| playbook::rfc8705::thumbprint(c)),
                });
                axum::Json(serde_json::json!({
                    "access_token": "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "expires_in": 300,
                    "refresh_expires_in": 0, "token_type": "Bearer", "not-before-policy": 0,
                    "scope": "profile email"
                }))
            }
        }),
    );
    let identity = Identity::from_parts(
        Path::new("oauth2-provider.pem"),
        Path::new("oauth2-provider.key.pem"),
        vec![pki.provider.cert_der.clone()],
        pki.provider.key_der(),
        None,
    )
    .unwrap();
    let tls = playbook::server::server_config(
        &identity,
        std::slice::from_ref(&pki.ca.cert.cert_der),
        ServerClientAuth::Request,
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!(
        "https://localhost:{}/token",
        listener.local_addr().unwrap().port()
    ))
    .unwrap();
    let background = playbook::server::Background::spawn(|stopped| {
        playbook::server::serve(listener, tls, app, stopped)
    });
    Capture {
        url,
        seen,
        background,
    }
}

fn client_identity(pki: &DevPki) -> Identity {
    Identity::from_parts(
        Path::new("client.pem"),
        Path::new("client.key.pem"),
        vec![pki.client.cert_der.clone()],
        pki.client.key_der(),
        None,
    )
    .unwrap()
}

/// tls_client_auth: the form is exactly `grant_type`, `client_id`, `scope` (encoded), with
/// no secret and no Authorization header; the proof is the certificate of the connection.
#[tokio::test]
async fn tls_client_auth_sends_client_id_and_the_certificate_and_no_secret() {
    let pki = DevPki::generate(2, 1).unwrap();
    let server = capture(&pki).await;
    let identity = client_identity(&pki);
    let http: client::http::Http =
        playbook::https::https_client(std::slice::from_ref(&pki.ca.cert.cert_der), Some(&identity))
            .unwrap()
            .into();
    let request = TokenRequest {
        client_id: ClientId::new(names::MTLS_CLIENT_ID),
        scope: Some(Scope::new(names::USERS_READ_SCOPE)),
        auth: ClientAuth::TlsClientAuth,
    };
    let response = token::request_token(&http, &server.url, &request)
        .await
        .unwrap();
    assert_eq!(response.expires_in, Some(300));
    assert_eq!(
        response.raw.as_object().unwrap().keys().collect::<Vec<_>>(),
        [
            "access_token",
            "expires_in",
            "refresh_expires_in",
            "token_type",
            "not-before-policy",
            "scope"
        ],
        "the response is kept as returned, field order included"
    );

    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].body,
        "grant_type=client_credentials&client_id=oauth2-playbook-client-credentials-mtls&scope=users%3Aread"
    );
    assert_eq!(
        seen[0].content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(seen[0].authorization, None);
    assert_eq!(
        seen[0].client_cert_x5t.as_deref(),
        Some(pki.client.x5t_s256().as_str())
    );
    let _ = server.background.stop().await;
}

/// client_secret_basic: the secret travels in HTTP Basic, the form has only the grant type,
/// and no certificate is presented.
#[tokio::test]
async fn client_secret_basic_sends_the_secret_only_in_the_header() {
    let pki = DevPki::generate(2, 1).unwrap();
    let server = capture(&pki).await;
    let http: client::http::Http =
        playbook::https::https_client(std::slice::from_ref(&pki.ca.cert.cert_der), None)
            .unwrap()
            .into();
    let request = TokenRequest {
        client_id: ClientId::new(names::SECRET_CLIENT_ID),
        scope: None,
        auth: ClientAuth::SecretBasic(ClientSecret::new(names::SECRET_CLIENT_SECRET)),
    };
    token::request_token(&http, &server.url, &request)
        .await
        .unwrap();
    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen[0].body, "grant_type=client_credentials");
    assert!(!seen[0].body.contains("secret"));
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some(
            "Basic b2F1dGgyLXBsYXlib29rLWNsaWVudC1jcmVkZW50aWFscy1zZWNyZXQ6cGxheWJvb2stZGV2LXNlY3JldC1jaGFuZ2UtbWU="
        )
    );
    assert_eq!(seen[0].client_cert_x5t, None);
    let _ = server.background.stop().await;
}
