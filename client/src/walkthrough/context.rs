//! What the steps share: the settings, the provider's metadata (OpenID Connect Discovery /
//! RFC 8414), one HTTPS client per certificate presented, and the two exchanges every step
//! narrates the same way: a client-credentials token request (RFC 6749 §4.4 with RFC 8705
//! §2.1 `tls_client_auth`) and a bearer call to the resource server (RFC 6750 §2.1), each
//! with what is sent, the equivalent curl command and what comes back.

use std::path::Path;

use playbook::Identity;
use playbook::https::Recorder;
use playbook::x509::CertInfo;
use serde_json::{Value, json};

use crate::admin::AdminApi;
use crate::discovery::ProviderMetadata;
use crate::error::{ClientError, TransportKind};
use crate::http::Http;
use crate::output::{Output, shell_quote};
use crate::resource::{self, ApiResponse};
use crate::retry;
use crate::settings::Settings;
use crate::token::{self, AuthMethod, CurlTls, TokenResponse};

/// A certificate and its key, as files (for the curl lines).
pub(super) type CertFiles<'a> = (&'a Path, &'a Path);

/// Everything the steps share.
pub(super) struct Context<'a> {
    pub(super) s: &'a Settings,
    pub(super) out: &'a Output,
    pub(super) metadata: ProviderMetadata,
    /// No client certificate.
    pub(super) anonymous: Http,
    /// client.pem, the client's own certificate.
    pub(super) with_client: Http,
    /// other-client.pem: same CA, another DN.
    pub(super) with_other: Http,
    pub(super) client: Identity,
    pub(super) other: Identity,
    pub(super) client_info: CertInfo,
    pub(super) other_info: CertInfo,
    /// Right DN, untrusted CA (step 3b), when the file exists and 3b is not skipped.
    pub(super) rogue: Option<Identity>,
    /// Where a traced run (`--html`) records its connections.
    pub(super) trace: Option<Recorder>,
}

impl Context<'_> {
    /// client.pem and its key.
    pub(super) fn cert(&self) -> CertFiles<'_> {
        (self.s.cert.as_path(), self.s.key.as_path())
    }

    /// other-client.pem and its key.
    pub(super) fn other_cert(&self) -> CertFiles<'_> {
        (self.s.other_cert.as_path(), self.s.other_key.as_path())
    }

    fn curl_tls(&self, cert: Option<CertFiles<'_>>) -> CurlTls {
        CurlTls {
            ca: self.s.ca.clone(),
            cert: cert.map(|(c, k)| (c.to_owned(), k.to_owned())),
        }
    }

    /// Narrates and sends a token request over `http`.
    pub(super) async fn request_token(
        &self,
        http: &Http,
        presenting: &str,
        cert: Option<CertFiles<'_>>,
    ) -> Result<TokenResponse, ClientError> {
        let endpoint = self.metadata.token_endpoint_for_mtls();
        let request = self.s.token_request(AuthMethod::Tls);
        self.out.send(&format!(
            "POST {endpoint}\nContent-Type: application/x-www-form-urlencoded\n{}\n(TLS client certificate: {presenting}; no client_secret anywhere)",
            request.form_body()
        ));
        self.out
            .curl(&request.curl(endpoint, &self.curl_tls(cert), self.out.show_secrets()));
        let result = token::request_token(http, endpoint, &request).await;
        match &result {
            Ok(response) => self
                .out
                .recv(&format!("200 OK {}", self.out.redacted_json(&response.raw))),
            Err(ClientError::OAuth { error, .. }) => self.out.recv(&format!(
                "{} {}",
                error.status,
                json!({"error": error.error, "error_description": error.error_description})
            )),
            Err(e) => self.out.recv(&format!("no HTTP answer: {e}")),
        }
        result
    }

    /// Narrates and sends an API call over `http`.
    pub(super) async fn call_api(
        &self,
        http: &Http,
        method: reqwest::Method,
        path: &str,
        token: &TokenResponse,
        cert: CertFiles<'_>,
        body: Option<&Value>,
    ) -> Result<ApiResponse, ClientError> {
        let url = resource::api_url(&self.s.resource_server, path)?;
        self.out.send(&format!(
            "{method} {url}\nAuthorization: Bearer {}{}\n(TLS client certificate: {})",
            self.out.secret(token.access_token.secret()),
            body.map(|b| format!("\n{b}")).unwrap_or_default(),
            cert.0.display()
        ));
        let mut curl = format!(
            "{} -H \"Authorization: Bearer $ACCESS_TOKEN\"",
            self.curl_tls(Some(cert)).args()
        );
        if let Some(b) = body {
            curl.push_str(&format!(
                " -X {method} -H 'Content-Type: application/json' -d {}",
                shell_quote(&b.to_string())
            ));
        }
        curl.push(' ');
        curl.push_str(&shell_quote(url.as_str()));
        self.out.curl(&curl);
        // The resource server may still be starting (./start.sh starts both at once).
        let response = retry::until_up("the resource server", &url, self.s.wait, || {
            resource::call(
                http,
                &self.s.resource_server,
                method.clone(),
                path,
                &token.access_token,
                body,
            )
        })
        .await?;
        self.out.recv(&response.summary());
        Ok(response)
    }

    /// Narrates and sends a call to the users route over client.pem, as steps 5, 6 and 8 do.
    pub(super) async fn call_users(
        &self,
        method: reqwest::Method,
        token: &TokenResponse,
        body: Option<&Value>,
    ) -> Result<ApiResponse, ClientError> {
        let path = playbook::names::USERS_API_PATH;
        self.call_api(&self.with_client, method, path, token, self.cert(), body)
            .await
    }

    /// A fresh admin session (Keycloak's admin tokens live 60 s: log in when needed).
    pub(super) async fn admin(&self) -> Result<AdminApi, ClientError> {
        self.out.note(&format!(
            "{}:",
            crate::admin::identity_note(self.s.admin_as)
        ));
        let api = AdminApi::open(self.s, self.trace.as_ref()).await?;
        self.out.exchanges(&api.take_exchanges());
        Ok(api)
    }
}

/// A token request's outcome in one line: the token, the server's error code, or the
/// refused handshake.
pub(super) fn describe_token(result: &Result<TokenResponse, ClientError>) -> String {
    match result {
        Ok(r) => format!(
            "200 with a {} token (expires_in {})",
            r.token_type,
            r.expires_in
                .map(|e| e.to_string())
                .unwrap_or_else(|| "not given".into())
        ),
        Err(ClientError::OAuth { error, .. }) => error.to_string(),
        Err(ClientError::Transport {
            kind: TransportKind::Tls,
            detail,
            ..
        }) => format!("TLS handshake refused ({detail})"),
        Err(e) => e.to_string(),
    }
}

/// An API answer in one line: status, RFC 6750 §3.1 code and description.
pub(super) fn describe_api(r: &ApiResponse) -> String {
    match (r.error_code(), r.error_description()) {
        (Some(code), Some(why)) => format!("{} {code} ({why})", r.status),
        (Some(code), None) => format!("{} {code}", r.status),
        _ => format!("{}", r.status),
    }
}

/// An answer with this status and `WWW-Authenticate`, for the steps' unit tests.
#[cfg(test)]
pub(super) fn answer(status: u16, www_authenticate: &str) -> ApiResponse {
    ApiResponse {
        status,
        www_authenticate: Some(www_authenticate.to_owned()),
        body: Value::Null,
    }
}
