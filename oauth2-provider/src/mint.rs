//! Minting: the tokens of a granted request and the RFC 6749 §5.1 answer that carries them,
//! built and signed in one place for every grant (Keycloak's `TokenManager#initToken`,
//! `#generateIDToken`, `#generateRefreshToken`, `AccessTokenResponseBuilder#build`).
//!
//! A grant ([`crate::grant`]) decides who gets a token and with which scopes ([`Issue`]);
//! [`mint`] turns that into JWTs: the fixed claims, the claims of the protocol mappers
//! ([`crate::mappers`]), RFC 8705 §3.1 `cnf` for a certificate-bound token
//! ([`playbook::rfc8705::confirmation`]), each signed with the realm's active key for the
//! client's algorithm ([`crate::keys`]).
//!
//! The grants differ in the session their tokens belong to
//! (`DefaultTokenContextEncoderProvider`, which also spells the token ids):
//! - `client_credentials`: a transient session (`tr…cc`): `sub` set directly, no `sid`, no
//!   refresh token, an ID token when `openid` was requested;
//! - `password` (the admin token): an online user session (`on…ro`) with `sid`, a refresh
//!   token (HS512) and `session_state`; lightweight access tokens when the client asks for
//!   them (admin-cli does).

use serde_json::{Map, Value, json};

use crate::Provider;
use crate::grant::{Grant, Issue};
use crate::keys::{self, KeyError, RealmKeys};
use crate::mappers::{self, Claims, Context, Target};
use crate::store::{Client, Realm, secure_id};

/// The online user session of a password grant.
struct Session {
    sid: String,
    expires: i64,
}

/// Access-token lifetime: client `access.token.lifespan`, else the realm's.
fn lifespan(realm: &Realm, client: &Client) -> i64 {
    client
        .attribute("access.token.lifespan")
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|v| *v > 0)
        .unwrap_or(realm.access_token_lifespan)
}

/// Builds and signs the tokens of `issue` and returns the token response body; `base` is
/// the request's base URL (the issuer is derived from it). Fails only when no key can sign.
pub fn mint(provider: &Provider, base: &str, issue: Issue<'_>) -> Result<Value, KeyError> {
    let Issue {
        grant,
        realm,
        client,
        user,
        scopes,
        scope_param,
        mut notes,
        bound_to,
        dpop_jkt,
    } = issue;
    let cid = &client.client_id;
    let oidc = crate::scope::is_oidc_request(scope_param);
    let scope = crate::scope::scope_string(&scopes, oidc);
    let now = crate::clock::now();
    let exp = now + lifespan(realm, client);
    let issuer = crate::discovery::issuer(base, &realm.name);
    let session = match grant {
        Grant::ClientCredentials => None,
        Grant::Password => Some(Session {
            sid: uuid::Uuid::new_v4().to_string(),
            expires: now + realm.sso_session_idle_timeout,
        }),
    };
    if session.is_some() {
        notes.insert("AUTH_TIME".to_owned(), now.to_string());
    }
    // Lightweight access tokens for every grant of a client that asks for them (observed on
    // Keycloak 26.7.5 for client_credentials too); only client_credentials answers honour
    // the lower-case token type.
    let lightweight = client.attribute_true("client.use.lightweight.access.token.enabled");
    // A DPoP-bound token says so in its typ claim and in token_type (DPoPUtil's mapper).
    let typ = if dpop_jkt.is_some() {
        playbook::rfc9449::SCHEME
    } else if session.is_none() && client.attribute_true("token.response.type.bearer.lower-case") {
        "bearer"
    } else {
        "Bearer"
    };
    let session_type = if session.is_some() { "on" } else { "tr" };
    let token_type = if lightweight { "lt" } else { "rt" };
    let id_prefix = format!("{session_type}{token_type}{}", grant.shortcut());
    let jti = format!("{id_prefix}:{}", secure_id());
    let ctx = Context {
        realm,
        client,
        user,
        scopes,
        notes,
    };
    let mut claims = Claims::default();
    claims.set("exp", json!(exp));
    claims.set("iat", json!(now));
    claims.set("jti", json!(jti));
    claims.set("iss", json!(issuer));
    if session.is_none() {
        // A transient session: `sub` set directly (a user session's comes from the mappers).
        claims.set("sub", json!(user.id));
    }
    claims.set("typ", json!(typ));
    claims.set("azp", json!(cid));
    if let Some(s) = &session {
        claims.set("sid", json!(s.sid));
    }
    let target = if lightweight {
        Target::Lightweight
    } else {
        Target::AccessToken
    };
    mappers::apply(&ctx, target, &mut claims);
    if let Some(t) = &bound_to {
        claims.set("cnf", playbook::rfc8705::confirmation(t));
    }
    // A DPoP-bound token's cnf.jkt (and Keycloak's own kc-jkt-type beside it). Keycloak
    // 26.7.5, observed: when the token is certificate-bound too, the certificate binding
    // (which runs after DPoP's mapper) replaces the whole cnf, so only x5t#S256 remains,
    // while typ and token_type still say DPoP.
    if let Some(jkt) = dpop_jkt.as_ref().filter(|_| bound_to.is_none()) {
        claims.set(
            "cnf",
            json!({
                playbook::rfc9449::METHOD: jkt,
                playbook::rfc9449::KC_JKT_TYPE: playbook::rfc9449::SCHEME,
            }),
        );
    }
    claims.set("scope", json!(scope));
    let keys = provider.keys(&realm.name).expect("every realm has keys");
    let access_token = keys.sign(keys::access_token_alg(realm, client), &claims.into_json())?;

    let mut body = Map::new();
    body.insert("access_token".into(), json!(access_token));
    body.insert("expires_in".into(), json!(exp - now));
    let refresh_expires_in = session.as_ref().map_or(0, |s| s.expires - now);
    body.insert("refresh_expires_in".into(), json!(refresh_expires_in));
    if let Some(s) = &session {
        let refresh = refresh_token(&ctx, grant, &issuer, now, s, oidc);
        let refresh_token = keys.sign(keys::INTERNAL_SIGNATURE_ALG, &refresh)?;
        body.insert("refresh_token".into(), json!(refresh_token));
    }
    body.insert("token_type".into(), json!(typ));
    // The password grant (admin tokens) issues no ID token here.
    if oidc && session.is_none() {
        let id_token = id_token(&ctx, keys, &id_prefix, &issuer, now, exp, &access_token)?;
        body.insert("id_token".into(), json!(id_token));
    }
    body.insert("not-before-policy".into(), json!(0));
    if let Some(s) = &session {
        body.insert("session_state".into(), json!(s.sid));
    }
    body.insert("scope".into(), json!(scope));

    match &session {
        None => tracing::info!(
            realm = %realm.name,
            "token issued to client '{cid}': jti={jti} sub={} scope='{scope}' bound={} dpop={}",
            user.id,
            bound_to.as_deref().map(|t| &t[..8.min(t.len())]).unwrap_or("no"),
            dpop_jkt.as_deref().map(|t| &t[..8.min(t.len())]).unwrap_or("no")
        ),
        Some(s) => {
            provider.inner.open_session(&s.sid, &user.id, s.expires);
            tracing::info!(
                realm = %realm.name,
                "token issued to user '{}' via client '{cid}' (password grant), session {}",
                user.username,
                s.sid
            );
        }
    }
    Ok(Value::Object(body))
}

/// `TokenManager#generateIDToken` + `generateAccessTokenHash` (only with `scope=openid`).
fn id_token(
    ctx: &Context<'_>,
    keys: &RealmKeys,
    id_prefix: &str,
    issuer: &str,
    now: i64,
    exp: i64,
    access_token: &str,
) -> Result<String, KeyError> {
    let alg = keys::id_token_alg(ctx.realm, ctx.client);
    let at_hash = keys::oidc_hash(alg, access_token.as_bytes());
    let mut claims = Claims::default();
    claims.set("exp", json!(exp));
    claims.set("iat", json!(now));
    claims.set("jti", json!(format!("{id_prefix}:{}", secure_id())));
    claims.set("iss", json!(issuer));
    claims.aud.push(ctx.client.client_id.clone());
    claims.set("sub", json!(ctx.user.id));
    claims.set("typ", json!("ID"));
    claims.set("azp", json!(ctx.client.client_id));
    claims.set("at_hash", json!(at_hash));
    mappers::apply(ctx, Target::IdToken, &mut claims);
    keys.sign(alg, &claims.into_json())
}

/// `TokenManager#generateRefreshToken` of an online session. Keycloak 26.7.5 (observed):
/// HS512-signed, no `sub`, `prov: default`, and every scope in effect in `scope`, also those
/// not listed in the access token's.
fn refresh_token(
    ctx: &Context<'_>,
    grant: Grant,
    issuer: &str,
    now: i64,
    session: &Session,
    oidc: bool,
) -> Value {
    let mut all_scopes: Vec<&str> = ctx.scopes.iter().map(|s| s.name.as_str()).collect();
    if oidc {
        all_scopes.insert(0, "openid");
    }
    json!({
        "exp": session.expires, "iat": now, "jti": format!("onrt{}:{}", grant.shortcut(), secure_id()),
        "iss": issuer, "aud": issuer, "typ": "Refresh", "azp": ctx.client.client_id,
        "sid": session.sid, "scope": all_scopes.join(" "), "prov": "default",
    })
}
