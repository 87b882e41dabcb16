//! A request to the token endpoint written as data, for the rows of the error table
//! (`token_errors.rs`): the certificate on the connection, HTTP Basic credentials, query
//! parameters, a form or JSON body, and a throwaway client made around the request
//! (`Admin::with_throwaway_client`), named in the parameters by [`NEW_CLIENT`].

use serde_json::{Map, Value, json};

use super::Fixture;
use super::admin_api::Admin;
use super::helpers::{Answer, http, send, token_url};

/// The certificate a request presents on its TLS connection.
#[derive(Debug, Clone, Copy)]
pub enum Cert {
    None,
    /// `client.pem`: the DN the mTLS client's `x509.subjectdn` names.
    Client,
    /// `other-client.pem`: the same CA, another subject DN.
    OtherClient,
}

/// What a token request carries as its body.
#[derive(Debug, Clone, Copy)]
pub enum Body {
    /// `application/x-www-form-urlencoded`: these parameters, in this order.
    Form(&'static [(&'static str, &'static str)]),
    /// A JSON object of these members instead of a form.
    Json(&'static [(&'static str, &'static str)]),
}

/// Stands, in a row's parameters, for the clientId of the row's [`NewClient`].
pub const NEW_CLIENT: &str = "<the new client's clientId>";

/// A client made for one row with `POST /clients` (a throwaway, deleted after the request).
#[derive(Debug, Clone, Copy)]
pub struct NewClient {
    /// The start of its unique clientId.
    pub prefix: &'static str,
    /// Its `ClientRepresentation`.
    pub rep: fn() -> Value,
}

/// A `POST` to the realm's token endpoint.
#[derive(Debug, Clone, Copy)]
pub struct TokenRequest {
    pub cert: Cert,
    /// A client made around the request, named by [`NEW_CLIENT`].
    pub new_client: Option<NewClient>,
    /// HTTP Basic credentials: user name and password.
    pub basic: Option<(&'static str, &'static str)>,
    /// Query parameters of the URL (none: no `?`).
    pub query: &'static [(&'static str, &'static str)],
    pub body: Body,
}

/// A form post of `params`, without a certificate, Basic credentials, query or new client.
pub const fn form(params: &'static [(&'static str, &'static str)]) -> TokenRequest {
    TokenRequest {
        cert: Cert::None,
        new_client: None,
        basic: None,
        query: &[],
        body: Body::Form(params),
    }
}

impl TokenRequest {
    pub const fn cert(self, cert: Cert) -> TokenRequest {
        TokenRequest { cert, ..self }
    }

    pub const fn new_client(self, prefix: &'static str, rep: fn() -> Value) -> TokenRequest {
        TokenRequest {
            new_client: Some(NewClient { prefix, rep }),
            ..self
        }
    }

    pub const fn basic(self, user: &'static str, password: &'static str) -> TokenRequest {
        TokenRequest {
            basic: Some((user, password)),
            ..self
        }
    }

    pub const fn query(self, query: &'static [(&'static str, &'static str)]) -> TokenRequest {
        TokenRequest { query, ..self }
    }

    /// Sends the request (making and deleting its new client around it, when it has one).
    pub async fn send(&self, f: &Fixture) -> Answer {
        let Some(new) = self.new_client else {
            return self.send_naming(f, None).await;
        };
        let admin = Admin::login(f).await;
        admin
            .with_throwaway_client(new.prefix, (new.rep)(), |c| async move {
                self.send_naming(f, Some(&c.client_id)).await
            })
            .await
    }

    /// Sends the request, [`NEW_CLIENT`] replaced by `new_client`.
    async fn send_naming(&self, f: &Fixture, new_client: Option<&str>) -> Answer {
        let named = |value: &'static str| -> String {
            if value == NEW_CLIENT {
                new_client
                    .expect("a row naming NEW_CLIENT has a new client")
                    .to_owned()
            } else {
                value.to_owned()
            }
        };
        let params = |list: &[(&'static str, &'static str)]| -> Vec<(&'static str, String)> {
            list.iter().map(|(k, v)| (*k, named(v))).collect()
        };
        let cert = match self.cert {
            Cert::None => None,
            Cert::Client => Some(&f.pki.client),
            Cert::OtherClient => Some(&f.pki.other_client),
        };
        let mut r = http(f, cert).post(token_url(f));
        if !self.query.is_empty() {
            r = r.query(&params(self.query));
        }
        if let Some((user, password)) = self.basic {
            r = r.basic_auth(named(user), Some(password));
        }
        r = match self.body {
            Body::Form(list) => r.form(&params(list)),
            Body::Json(list) => {
                let members: Map<String, Value> = params(list)
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), json!(v)))
                    .collect();
                r.json(&Value::Object(members))
            }
        };
        send(r).await
    }
}

/// A `client_credentials` request of the mTLS client with its certificate (what
/// `helpers::mtls_token` sends), these parameters after the two.
macro_rules! mtls_form {
    ($($extra:expr),* $(,)?) => {
        $crate::scenarios::token_request::form(&[
            ("grant_type", "client_credentials"),
            ("client_id", playbook::names::MTLS_CLIENT_ID),
            $($extra),*
        ])
        .cert($crate::scenarios::token_request::Cert::Client)
    };
}

/// A `client_credentials` request of the new client (form `client_id`, and `client_secret`
/// when given).
macro_rules! new_client_form {
    () => {
        $crate::scenarios::token_request::form(&[
            ("grant_type", "client_credentials"),
            ("client_id", $crate::scenarios::token_request::NEW_CLIENT),
        ])
    };
    ($secret:expr) => {
        $crate::scenarios::token_request::form(&[
            ("grant_type", "client_credentials"),
            ("client_id", $crate::scenarios::token_request::NEW_CLIENT),
            ("client_secret", $secret),
        ])
    };
}

pub(crate) use {mtls_form, new_client_form};
