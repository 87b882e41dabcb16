//! One request/response shape for every JSON call the client makes (admin API, resource
//! server, discovery): send, read the body, and keep both the text and its JSON reading,
//! so each caller decides what an error looks like without repeating the plumbing.

use reqwest::header::HeaderMap;
use serde_json::Value;
use url::Url;

use crate::error::ClientError;

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
pub async fn send_json(request: reqwest::RequestBuilder, url: &Url) -> Result<Reply, ClientError> {
    let response = request
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| ClientError::transport(url, e))?;
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
