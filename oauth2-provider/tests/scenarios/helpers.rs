//! What every scenario uses to talk to the provider under test: an HTTPS client trusting
//! only the fixture's CA (with a client certificate when asked), the realm's URLs, a request
//! sent and its answer read (and recorded for the conformance check), the token requests the
//! scenarios make most, and a JWT's decoded parts.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use playbook::Identity;
use playbook::names::{MTLS_CLIENT_ID, REALM};
use playbook::pki::Issued;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Fixture, conformance};

fn identity(issued: &Issued) -> Identity {
    Identity::unchecked(
        Path::new("scenario-client.pem"),
        vec![issued.cert_der.clone()],
        issued.key_der(),
    )
}

/// An HTTPS client trusting only the fixture's CA, presenting `cert` when given.
pub fn http(f: &Fixture, cert: Option<&Issued>) -> reqwest::Client {
    playbook::install_crypto_provider();
    let id = cert.map(identity);
    playbook::https::https_client(std::slice::from_ref(&f.pki.ca.cert.cert_der), id.as_ref())
        .expect("https client")
}

pub fn issuer(f: &Fixture) -> String {
    format!("{}/realms/{REALM}", f.base_url)
}

pub fn token_url(f: &Fixture) -> String {
    format!("{}/protocol/openid-connect/token", issuer(f))
}

/// Status, headers, JSON body (Null when the body is not JSON).
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

/// Sends a request and reads its answer, recorded for the conformance check
/// ([`conformance::record`]) when a recording is in progress.
pub async fn send(request: reqwest::RequestBuilder) -> Answer {
    let (client, request) = request.build_split();
    let request = request.expect("a well-formed request");
    let (method, url) = (request.method().clone(), request.url().clone());
    let r = client
        .execute(request)
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    Answer::read(&method, r).await
}

impl Answer {
    /// The `name` of each object in a JSON array body (roles, role mappings).
    pub fn names(&self) -> Vec<&str> {
        let items = self.body.as_array().expect("a JSON array");
        items.iter().filter_map(|r| r["name"].as_str()).collect()
    }

    async fn read(method: &reqwest::Method, r: reqwest::Response) -> Answer {
        let status = r.status();
        let headers = r.headers().clone();
        let url = r.url().clone();
        let text = r.text().await.expect("body");
        conformance::record(method, &url, status.as_u16(), &headers, &text);
        Answer {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    /// Asserts an RFC 6749 §5.2 error answer exactly.
    #[track_caller]
    pub fn assert_error(&self, status: u16, error: &str, description: &str) {
        self.assert_error_in("", status, error, description);
    }

    /// [`Answer::assert_error`], with `context` (which request) leading the failure message.
    #[track_caller]
    pub fn assert_error_in(&self, context: &str, status: u16, error: &str, description: &str) {
        assert_eq!(
            (self.status.as_u16(), &self.body),
            (
                status,
                &json!({"error": error, "error_description": description})
            ),
            "{context}expected {status} {error} '{description}'"
        );
    }

    /// Token-endpoint answers are never cached (`TokenEndpoint`: set before any check).
    #[track_caller]
    pub fn assert_no_store(&self) {
        assert_eq!(
            self.headers
                .get("cache-control")
                .and_then(|v| v.to_str().ok()),
            Some("no-store")
        );
        assert_eq!(
            self.headers.get("pragma").and_then(|v| v.to_str().ok()),
            Some("no-cache")
        );
    }

    pub fn str(&self, key: &str) -> &str {
        self.body[key]
            .as_str()
            .unwrap_or_else(|| panic!("no string '{key}' in {}", self.body))
    }
}

pub async fn post_form(client: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> Answer {
    send(client.post(url).form(form)).await
}

/// A token request of the mTLS client with its certificate.
pub async fn mtls_token(f: &Fixture, extra: &[(&str, &str)]) -> Answer {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_id", MTLS_CLIENT_ID),
    ];
    form.extend_from_slice(extra);
    post_form(&http(f, Some(&f.pki.client)), &token_url(f), &form).await
}

/// A `client_credentials` request of `client_id`, with `secret` in the form and `cert` on
/// the connection when given.
pub async fn client_credentials(
    f: &Fixture,
    client_id: &str,
    secret: Option<&str>,
    cert: Option<&Issued>,
) -> Answer {
    let form = client_credentials_form(client_id, secret);
    post_form(&http(f, cert), &token_url(f), &form).await
}

/// The form of a `client_credentials` request of `client_id`, with `secret` when given.
pub fn client_credentials_form<'a>(
    client_id: &'a str,
    secret: Option<&'a str>,
) -> Vec<(&'static str, &'a str)> {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
    ];
    if let Some(s) = secret {
        form.push(("client_secret", s));
    }
    form
}

/// The decoded payload of a JWT (no verification: tests that verify use jsonwebtoken).
pub fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT has a payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

pub fn header(jwt: &str) -> Value {
    let h = jwt.split('.').next().expect("header");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).expect("base64url")).expect("JSON")
}

/// Space-separated scope string as a sorted set.
pub fn scope_set(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s
        .split(' ')
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

pub fn realm_roles(claims: &Value) -> Vec<String> {
    claims["realm_access"]["roles"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Polls a future, turning a panic inside it into `Err` (what `futures::FutureExt::catch_unwind`
/// does), so cleanup can run before the panic continues.
pub struct CatchUnwind<F>(pub Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let inner = self.0.as_mut();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Ok(std::task::Poll::Ready(v)) => std::task::Poll::Ready(Ok(v)),
            Err(panic) => std::task::Poll::Ready(Err(panic)),
        }
    }
}
