//! One request/response shape for every JSON call the client makes (admin API, resource
//! server, discovery): send, read the body, and keep both the text and its JSON reading,
//! so each caller decides what an error looks like without repeating the plumbing.

use std::sync::Arc;

use playbook::https::InstrumentedClient;
use reqwest::header::HeaderMap;
use serde_json::Value;
use url::Url;

use crate::error::ClientError;

/// The client's HTTPS handle: a reqwest client (its builders make every request), and,
/// when a run is traced (`client walkthrough --html`), the instrumented client that sends
/// them instead, recording what each TLS connection carried. It dereferences to the
/// reqwest client, so `http.get(url)` builds a request either way; [`Http::send`] sends it.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    instrumented: Option<Arc<InstrumentedClient>>,
}

impl From<reqwest::Client> for Http {
    fn from(client: reqwest::Client) -> Self {
        Http {
            client,
            instrumented: None,
        }
    }
}

impl std::ops::Deref for Http {
    type Target = reqwest::Client;
    fn deref(&self) -> &reqwest::Client {
        &self.client
    }
}

impl Http {
    /// Requests built with `client`'s builders, sent (and recorded) by `instrumented`.
    pub fn instrumented(client: reqwest::Client, instrumented: InstrumentedClient) -> Self {
        Http {
            client,
            instrumented: Some(Arc::new(instrumented)),
        }
    }

    /// A handle trusting only `roots`, presenting `identity`; instrumented, recording into
    /// `trace`, when the run is traced.
    pub fn new(
        roots: &[rustls_pki_types::CertificateDer<'static>],
        identity: Option<&playbook::Identity>,
        trace: Option<&playbook::https::Recorder>,
    ) -> Result<Self, ClientError> {
        let client = playbook::https::https_client(roots, identity)?;
        Ok(match trace {
            Some(recorder) => Http::instrumented(
                client,
                InstrumentedClient::new(roots, identity, recorder.clone())?,
            ),
            None => client.into(),
        })
    }

    /// Whether requests go through an instrumented client.
    pub fn is_instrumented(&self) -> bool {
        self.instrumented.is_some()
    }

    /// Sends `request` (to `url`, named in errors): through the instrumented client when
    /// there is one, else through reqwest.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
        url: &Url,
    ) -> Result<reqwest::Response, ClientError> {
        match &self.instrumented {
            None => request
                .send()
                .await
                .map_err(|e| ClientError::transport(url, e)),
            Some(tap) => {
                let request = request
                    .build()
                    .map_err(|e| ClientError::transport(url, e))?;
                tap.send(request)
                    .await
                    .map_err(|e| ClientError::transport_instrumented(url, &e))
            }
        }
    }
}

/// What came back.
#[derive(Debug)]
pub struct Reply {
    pub status: reqwest::StatusCode,
    pub headers: HeaderMap,
    /// The body as sent.
    pub text: String,
    /// The body read as JSON: `Null` when empty, a JSON string holding the text when it is
    /// not JSON.
    pub json: Value,
}

impl Reply {
    pub fn header(&self, name: reqwest::header::HeaderName) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// The first `n` characters of the body, for error messages.
    pub fn excerpt(&self, n: usize) -> String {
        self.text.chars().take(n).collect()
    }
}

/// One request and its answer, kept for the caller to narrate (`Output::exchange`): the
/// admin API returns these rather than printing them.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub method: reqwest::Method,
    pub url: Url,
    /// The body sent, as it may be shown (a password already redacted), if any.
    pub sent: Option<String>,
    pub status: reqwest::StatusCode,
    /// The answer's body: its JSON, `Null` when empty, a JSON string holding the text when
    /// it is not JSON.
    pub answer: Value,
}

/// Sends `request` (to `url`, named in errors) asking for JSON, and reads the whole answer.
/// Only a failure to get an answer at all is an `Err`; any HTTP status is a [`Reply`].
pub async fn send_json(
    http: &Http,
    request: reqwest::RequestBuilder,
    url: &Url,
) -> Result<Reply, ClientError> {
    let response = http
        .send(
            request.header(reqwest::header::ACCEPT, "application/json"),
            url,
        )
        .await?;
    let status = response.status();
    let headers = response.headers().clone();
    let text = response
        .text()
        .await
        .map_err(|e| ClientError::transport(url, e))?;
    let json = if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.clone()))
    };
    Ok(Reply {
        status,
        headers,
        text,
        json,
    })
}
