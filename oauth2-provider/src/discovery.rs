//! OpenID Provider metadata, `GET /realms/{realm}/.well-known/openid-configuration`
//! (OpenID Connect Discovery 1.0, RFC 8414, RFC 8705 §3.3 `mtls_endpoint_aliases`), as
//! Keycloak's `OIDCWellKnownProvider#getConfig` builds it.
//!
//! The document advertises every endpoint Keycloak advertises, on purpose (a client written
//! against this provider sees Keycloak's document). This provider serves only the ones the
//! playground uses: token, introspection, JWKS. The others (authorization, userinfo,
//! logout, device, PAR, CIBA, registration, revocation) answer 404 here.

use axum::extract::{FromRef as _, Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::Provider;
use crate::error::AdminError;
use crate::request::Frontend;

/// The server's base URL: `--hostname` when given, else `https://<Host header>` (Keycloak
/// with `hostname-strict=false`: "dynamic from an incoming request").
pub fn base_url(provider: &Provider, headers: &HeaderMap) -> String {
    Frontend::from_ref(provider).base_url(headers)
}

/// `Urls#realmIssuer`.
pub fn issuer(base: &str, realm: &str) -> String {
    playbook::names::issuer_for(base, realm)
}

/// Signature algorithms Keycloak registers (`SignatureProvider` factories).
const SIG_ALGS: &[&str] = &[
    "PS384", "RS384", "EdDSA", "ES384", "HS256", "HS512", "ES256", "RS256", "HS384", "ES512",
    "PS256", "PS512", "RS512",
];
const ASYM_SIG_ALGS: &[&str] = &[
    "PS384", "RS384", "EdDSA", "ES384", "ES256", "RS256", "ES512", "PS256", "PS512", "RS512",
];
/// JWE key-management algorithms (`CekManagementProvider` factories), for every
/// `*_encryption_alg_values_supported`.
const ENC_ALGS: &[&str] = &[
    "ECDH-ES+A256KW",
    "ECDH-ES+A192KW",
    "ECDH-ES+A128KW",
    "RSA-OAEP",
    "RSA-OAEP-256",
    "RSA1_5",
    "ECDH-ES",
];
/// JWE content-encryption algorithms (`ContentEncryptionProvider` factories), for every
/// `*_encryption_enc_values_supported`.
const ENC_ENCS: &[&str] = &[
    "A256GCM",
    "A192GCM",
    "A128GCM",
    "A128CBC-HS256",
    "A192CBC-HS384",
    "A256CBC-HS512",
];
/// `ClientAuthenticatorFactory#getProtocolAuthenticatorMethods("openid-connect")`, flattened.
const AUTH_METHODS: &[&str] = &[
    "private_key_jwt",
    "client_secret_basic",
    "client_secret_post",
    "tls_client_auth",
    "client_secret_jwt",
];

/// `GET /realms/{realm}/.well-known/openid-configuration`.
pub async fn openid_configuration(
    State(provider): State<Provider>,
    Path(realm): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (scopes, registration_allowed) = {
        let store = provider.read();
        let Some(r) = store.realm(&realm) else {
            return AdminError::realm_not_found().into_response();
        };
        let mut s: Vec<String> = r
            .client_scopes
            .iter()
            .filter(|s| s.protocol == "openid-connect" && s.include_in_metadata())
            .map(|s| s.name.clone())
            .collect();
        if !s.iter().any(|n| n == "openid") {
            s.insert(0, "openid".into());
        }
        (s, r.registration_allowed)
    };
    let base = base_url(&provider, &headers);
    let doc = document(&base, &realm, scopes, registration_allowed);
    let mut response = axum::Json(doc).into_response();
    let h = response.headers_mut();
    // Keycloak 26.7.5 (observed): `CacheControlUtil#noCache` in full, and CORS for any
    // `Origin` (the discovery document is public).
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, must-revalidate, no-transform, no-store"),
    );
    if let Some(origin) = headers.get(header::ORIGIN) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    response
}

/// `OPTIONS` on the token and introspection endpoints: a CORS preflight (`Cors#preflight`).
/// Keycloak 26.7.5 (observed): 200 with no body; with an `Origin`, these headers, whatever
/// the origin (the client's `webOrigins` are checked on the real request, not here).
pub async fn preflight(headers: HeaderMap) -> Response {
    let mut response = axum::http::StatusCode::OK.into_response();
    if let Some(origin) = headers.get(header::ORIGIN) {
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(
                "Origin, Accept, X-Requested-With, Access-Control-Request-Method, Access-Control-Request-Headers, DPoP, Content-Type, Authorization",
            ),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("3600"),
        );
    }
    response
}

/// The metadata document, fields in `OIDCConfigurationRepresentation` order;
/// `registration_allowed`: the realm's `registrationAllowed` (`prompt=create` offered).
pub fn document(base: &str, realm: &str, scopes: Vec<String>, registration_allowed: bool) -> Value {
    let iss = issuer(base, realm);
    let p = format!("{iss}/protocol/openid-connect");
    // Each endpoint URL once: the top-level fields and `mtls_endpoint_aliases` share them.
    let token = format!("{p}/token");
    let introspection = format!("{p}/token/introspect");
    let userinfo = format!("{p}/userinfo");
    let revocation = format!("{p}/revoke");
    let device = format!("{p}/auth/device");
    let registration = format!("{iss}/clients-registrations/openid-connect");
    let par = format!("{p}/ext/par/request");
    let ciba = format!("{p}/ext/ciba/auth");
    let mut d = Map::new();
    let mut put = |k: &str, v: Value| {
        d.insert(k.to_owned(), v);
    };
    put("issuer", json!(iss));
    put("authorization_endpoint", json!(format!("{p}/auth")));
    put("token_endpoint", json!(token));
    put("introspection_endpoint", json!(introspection));
    put("userinfo_endpoint", json!(userinfo));
    put("end_session_endpoint", json!(format!("{p}/logout")));
    put("frontchannel_logout_session_supported", json!(true));
    put("frontchannel_logout_supported", json!(true));
    put("jwks_uri", json!(format!("{p}/certs")));
    put(
        "check_session_iframe",
        json!(format!("{p}/login-status-iframe.html")),
    );
    put(
        "grant_types_supported",
        json!([
            "authorization_code",
            "client_credentials",
            "implicit",
            "password",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:device_code",
            "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "urn:ietf:params:oauth:grant-type:token-exchange",
            "urn:ietf:params:oauth:grant-type:uma-ticket",
            "urn:openid:params:grant-type:ciba"
        ]),
    );
    put("acr_values_supported", json!(["0", "1"]));
    put(
        "response_types_supported",
        json!([
            "code",
            "none",
            "id_token",
            "token",
            "id_token token",
            "code id_token",
            "code token",
            "code id_token token"
        ]),
    );
    put("subject_types_supported", json!(["public", "pairwise"]));
    // OIDCWellKnownProvider: `create` only where users may register (Initiating User
    // Registration via OpenID Connect).
    let mut prompts = vec!["none", "login", "consent"];
    if registration_allowed {
        prompts.push("create");
    }
    put("prompt_values_supported", json!(prompts));
    put("id_token_signing_alg_values_supported", json!(SIG_ALGS));
    put("id_token_encryption_alg_values_supported", json!(ENC_ALGS));
    put("id_token_encryption_enc_values_supported", json!(ENC_ENCS));
    let mut with_none: Vec<&str> = SIG_ALGS.to_vec();
    with_none.push("none");
    put("userinfo_signing_alg_values_supported", json!(with_none));
    put("userinfo_encryption_alg_values_supported", json!(ENC_ALGS));
    put("userinfo_encryption_enc_values_supported", json!(ENC_ENCS));
    put(
        "request_object_signing_alg_values_supported",
        json!(with_none),
    );
    put(
        "request_object_encryption_alg_values_supported",
        json!(ENC_ALGS),
    );
    put(
        "request_object_encryption_enc_values_supported",
        json!(ENC_ENCS),
    );
    put(
        "response_modes_supported",
        json!([
            "query",
            "fragment",
            "form_post",
            "query.jwt",
            "fragment.jwt",
            "form_post.jwt",
            "jwt"
        ]),
    );
    put("registration_endpoint", json!(registration));
    put("token_endpoint_auth_methods_supported", json!(AUTH_METHODS));
    put(
        "token_endpoint_auth_signing_alg_values_supported",
        json!(SIG_ALGS),
    );
    put(
        "introspection_endpoint_auth_methods_supported",
        json!(AUTH_METHODS),
    );
    put(
        "introspection_endpoint_auth_signing_alg_values_supported",
        json!(SIG_ALGS),
    );
    put(
        "authorization_signing_alg_values_supported",
        json!(SIG_ALGS),
    );
    put(
        "authorization_encryption_alg_values_supported",
        json!(ENC_ALGS),
    );
    put(
        "authorization_encryption_enc_values_supported",
        json!(ENC_ENCS),
    );
    put(
        "claims_supported",
        json!([
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "name",
            "given_name",
            "family_name",
            "preferred_username",
            "email",
            "acr",
            "azp",
            "nonce"
        ]),
    );
    put("claim_types_supported", json!(["normal"]));
    put("claims_parameter_supported", json!(true));
    put("scopes_supported", json!(scopes));
    put("request_parameter_supported", json!(true));
    put("request_uri_parameter_supported", json!(true));
    put("require_request_uri_registration", json!(true));
    put("code_challenge_methods_supported", json!(["plain", "S256"]));
    put("tls_client_certificate_bound_access_tokens", json!(true));
    put("dpop_signing_alg_values_supported", json!(ASYM_SIG_ALGS));
    put("revocation_endpoint", json!(revocation));
    put(
        "revocation_endpoint_auth_methods_supported",
        json!(AUTH_METHODS),
    );
    put(
        "revocation_endpoint_auth_signing_alg_values_supported",
        json!(SIG_ALGS),
    );
    put("backchannel_logout_supported", json!(true));
    put("backchannel_logout_session_supported", json!(true));
    put("device_authorization_endpoint", json!(device));
    put(
        "backchannel_token_delivery_modes_supported",
        json!(["poll", "ping"]),
    );
    put("backchannel_authentication_endpoint", json!(ciba));
    put(
        "backchannel_authentication_request_signing_alg_values_supported",
        json!(ASYM_SIG_ALGS),
    );
    put("require_pushed_authorization_requests", json!(false));
    put("pushed_authorization_request_endpoint", json!(par));
    // MTLSEndpointAliases: the same URLs (Keycloak has no separate mTLS host).
    put(
        "mtls_endpoint_aliases",
        json!({
            "token_endpoint": token,
            "revocation_endpoint": revocation,
            "introspection_endpoint": introspection,
            "device_authorization_endpoint": device,
            "registration_endpoint": registration,
            "userinfo_endpoint": userinfo,
            "pushed_authorization_request_endpoint": par,
            "backchannel_authentication_endpoint": ciba,
        }),
    );
    put(
        "authorization_response_iss_parameter_supported",
        json!(true),
    );
    Value::Object(d)
}

/// `GET /realms/{realm}/protocol/openid-connect/certs`, the `jwks_uri` this document names:
/// the realm's public keys ([`crate::keys::RealmKeys::jwks_bytes`]).
///
/// `OIDCLoginProtocolService#certs`.
pub async fn jwks(
    State(provider): State<Provider>,
    Path(realm): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(keys) = provider.keys(&realm) else {
        return AdminError::realm_not_found().into_response();
    };
    let body = keys.jwks_bytes();
    // Content type switches only for exactly this Accept header.
    let content_type = if headers
        .get(header::ACCEPT)
        .is_some_and(|v| v.as_bytes() == b"application/jwk-set+json")
    {
        "application/jwk-set+json"
    } else {
        "application/json"
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}
