//! Reading a token or introspection request: the form (RFC 6749 §4.4.2, §2.3.1
//! `client_secret_post`), HTTP Basic credentials (RFC 6749 §2.3.1 `client_secret_basic`),
//! `?client_id=` and the TLS connection (RFC 8705 §2: the client certificate), gathered by
//! one extractor, [`ClientRequest`]. Nothing here decides anything: [`crate::client_auth`]
//! authenticates the client from it, [`crate::token`] and [`crate::introspect`] read their
//! parameters from it.
//!
//! What each reader sees follows Keycloak 26.7.5 (`TokenEndpoint`, RESTEasy's form reader,
//! `HttpRequest#getDecodedFormParameters`, `BasicAuthHelper`): see [`FormView`].

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use playbook::server::Connection;

use url::Url;

/// Form parameters in order, duplicates kept (for the duplicate-parameter check).
#[derive(Debug, Default, Clone)]
pub struct Form(pub Vec<(String, String)>);

impl Form {
    /// Parses `application/x-www-form-urlencoded`, removing control characters from values
    /// as `TokenEndpoint` does (`StringUtil.removeControlCharacters`).
    pub fn parse(body: &[u8]) -> Form {
        Form(
            url::form_urlencoded::parse(body)
                .map(|(k, v)| {
                    (
                        k.into_owned(),
                        v.chars().filter(|c| !c.is_control()).collect(),
                    )
                })
                .collect(),
        )
    }
    /// `MultivaluedMap#getFirst`.
    pub fn first(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    /// `TokenEndpoint#checkParameterDuplicated`: any key with more than one value.
    pub fn has_duplicates(&self) -> bool {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for (k, _) in &self.0 {
            *counts.entry(k.as_str()).or_default() += 1;
        }
        counts.values().any(|n| *n > 1)
    }
}

/// Everything a token or introspection request offers to identify its client, gathered by
/// one extractor. It does not authenticate: the token endpoint checks `grant_type` first
/// (`TokenEndpoint#processGrantRequest`), so [`crate::client_auth::authenticate`] is called
/// by the handler at the point Keycloak calls it.
#[derive(Debug)]
pub struct ClientRequest {
    /// The form as the endpoint reads it (`grant_type`, `scope`, `token`, …): see
    /// [`FormView`] for which Content-Types give one.
    pub form: Form,
    /// The form as the client authenticators read it (`client_id`, `client_secret`).
    pub auth_form: Form,
    /// HTTP Basic user name and password, URL-decoded.
    pub basic: Option<(String, String)>,
    /// `?client_id=` (only `X509ClientAuthenticator` reads it).
    pub query_client_id: Option<String>,
    pub conn: Connection,
    /// This request's base URL ([`Frontend::base_url`]).
    pub base: String,
    /// The proxy's certificate header could not be read in a way that makes Keycloak's
    /// lookup throw rather than answer "no certificate" (`envoy`; `forwarded::LookupFailed`).
    pub lookup_failed: Option<String>,
    /// The request's method and path: with [`ClientRequest::base`], what a DPoP proof's
    /// `htm` and `htu` must name (RFC 9449 §4.3).
    pub method: String,
    pub path: String,
    /// The `DPoP` header (RFC 9449 §4.1); several are joined with `,`, as JAX-RS's
    /// `getHeaderString` joins them (and the proof then fails to parse).
    pub dpop: Option<String>,
}

/// Which readers of a request body see a form, by its `Content-Type`. Keycloak 26.7.5,
/// observed on the live server (the differential check records it, scenario
/// `token_endpoint_content_types`): the endpoint's own parameters come from RESTEasy's form
/// reader, which accepts any type that *starts with* `application/x-www-form-urlencoded`;
/// the client authenticators read `HttpRequest#getDecodedFormParameters`, which needs exactly
/// that media type (parameters such as `charset` allowed). Without a Content-Type, or with
/// another type (JSON, text), both see no parameter at all: 400 "Missing form parameter:
/// grant_type", never 415.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormView {
    /// `application/x-www-form-urlencoded`, with or without parameters: everyone reads it.
    Form,
    /// A type that only starts like one (`application/x-www-form-urlencoded-evil`): the
    /// endpoint reads it, the authenticators do not.
    EndpointOnly,
    /// No Content-Type, or another one: nobody reads a parameter.
    None,
}

impl FormView {
    pub fn of(content_type: Option<&str>) -> FormView {
        const FORM: &str = "application/x-www-form-urlencoded";
        let Some(ct) = content_type.map(str::to_ascii_lowercase) else {
            return FormView::None;
        };
        let media_type = ct.split(';').next().unwrap_or("").trim();
        if media_type == FORM {
            FormView::Form
        } else if ct.starts_with(FORM) {
            FormView::EndpointOnly
        } else {
            FormView::None
        }
    }
}

/// Where clients reach the server (Keycloak's hostname options): what the extractor needs of
/// the state to compute a request's base URL. The provider's state gives it (`FromRef`).
#[derive(Debug, Clone, Default)]
pub struct Frontend {
    /// `--hostname`; `None`: each request's `Host` header.
    pub hostname: Option<Url>,
}

impl Frontend {
    /// The server's base URL: `--hostname` when given, else `https://<Host header>` (Keycloak
    /// with `hostname-strict=false`: "dynamic from an incoming request").
    pub fn base_url(&self, headers: &HeaderMap) -> String {
        if let Some(h) = &self.hostname {
            return h.as_str().trim_end_matches('/').to_owned();
        }
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| !h.is_empty())
            .unwrap_or("localhost");
        format!("https://{host}")
    }
}

impl<S> FromRequest<S> for ClientRequest
where
    Frontend: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(req: Request, provider: &S) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let conn = match Connection::from_request_parts(&mut parts, provider).await {
            Ok(c) => c,
            Err(never) => match never {},
        };
        let lookup_failed = parts
            .extensions
            .get::<playbook::forwarded::LookupFailed>()
            .map(|f| f.0.clone());
        let headers = &parts.headers;
        let query_client_id = parts.uri.query().and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "client_id")
                .map(|(_, v)| v.into_owned())
        });
        let basic = basic_credentials(headers);
        let dpop: Vec<&str> = headers
            .get_all(playbook::rfc9449::HEADER)
            .iter()
            .map(|v| v.to_str().unwrap_or(""))
            .collect();
        let dpop = (!dpop.is_empty()).then(|| dpop.join(","));
        let (method, path) = (parts.method.to_string(), parts.uri.path().to_owned());
        let base = Frontend::from_ref(provider).base_url(headers);
        // Decided before the body is taken: `FormView::of` lower-cases it itself.
        let view = FormView::of(
            headers
                .get(header::CONTENT_TYPE)
                .map(|v| v.to_str().unwrap_or("")),
        );
        let body = Bytes::from_request(Request::from_parts(parts, body), provider)
            .await
            .map_err(IntoResponse::into_response)?;
        let form = match view {
            FormView::Form | FormView::EndpointOnly => Form::parse(&body),
            FormView::None => Form::default(),
        };
        let auth_form = match view {
            FormView::Form => form.clone(),
            FormView::EndpointOnly | FormView::None => Form::default(),
        };
        Ok(ClientRequest {
            form,
            auth_form,
            basic,
            query_client_id,
            conn,
            base,
            lookup_failed,
            method,
            path,
            dpop,
        })
    }
}

/// `BasicAuthHelper.RFC6749.parseHeader`: base64, split at the first ':', then URL-decode
/// both halves (since Keycloak 20).
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, pass) = decoded.split_once(':')?;
    // Java's URLDecoder: `+` and `%XX` decoded, everything else kept. The form parser
    // below would split at a literal `&` (found by fuzz/token_form), so that is escaped.
    let url_decode = |s: &str| -> String {
        url::form_urlencoded::parse(format!("x={}", s.replace('&', "%26")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((url_decode(user), url_decode(pass)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by `fuzz/token_form`: a `&` in a Basic password cut it short ("3csr&x" became
    /// "3csr"), so a correct secret containing `&` was refused.
    #[test]
    fn basic_credentials_keep_every_character_url_decoding_does_not_touch() {
        use base64::Engine as _;
        let basic = |raw: &str| {
            let mut headers = HeaderMap::new();
            let value = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(raw)
            );
            headers.insert(header::AUTHORIZATION, value.parse().expect("header"));
            basic_credentials(&headers)
        };
        let pair = |u: &str, p: &str| Some((u.to_owned(), p.to_owned()));
        assert_eq!(basic("o6utG2-ps3cz:3csr&x"), pair("o6utG2-ps3cz", "3csr&x"));
        assert_eq!(basic("a&b=c:p&q=r#s"), pair("a&b=c", "p&q=r#s"));
        assert_eq!(
            basic("my%20client:s+e%26cret"),
            pair("my client", "s e&cret")
        );
        assert_eq!(basic("no-colon"), None);
    }
}
