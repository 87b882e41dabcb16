//! Steps 5, 6 and 8: authentication is not authorization. The resource server refuses a
//! valid, bound token that lacks the realm role a route needs with 403
//! `insufficient_scope` (RFC 6750 §3.1); the admin API (Keycloak's Admin REST API, a realm
//! role mapping of the service-account user) gives the role, and only a *new* token
//! carries it; a write route needs a role the client never gets.

use playbook::names;
use playbook::oauth::BearerError;
use serde_json::json;

use super::context::{Context, describe_api, describe_token};
use super::narrate::Steps;
use crate::admin::{Change, RoleTarget};
use crate::error::ClientError;
use crate::resource::ApiResponse;
use crate::token::{DecodedJwt, TokenResponse};

/// Step 5: authenticated, but not authorized: the token lacks the realm role the route needs.
pub(super) async fn step_5(
    ctx: &Context<'_>,
    steps: &mut Steps<'_>,
    token: &TokenResponse,
    jwt: &DecodedJwt,
) -> Result<(), ClientError> {
    let out = ctx.out;
    let d = steps.begin("5");
    out.note(&format!(
        "GET {} needs realm role {}; realm_access.roles in this token: {:?}",
        names::USERS_API_PATH,
        names::READONLY_ROLE,
        jwt.realm_roles()
    ));
    out.note(
        "The curl lines below use $ACCESS_TOKEN; set it with:\n  ACCESS_TOKEN=$(cargo run -q -p client -- token --raw)",
    );
    let r = ctx.call_users(reqwest::Method::GET, token, None).await?;
    steps.finish(d, describe_api(&r), is_insufficient_scope(&r));
    Ok(())
}

/// Step 6's token, and whether the resource server accepted it over client.pem (step 7
/// relies on that to tell the binding refusal from any other 401).
pub(super) struct WithRole {
    pub(super) token: TokenResponse,
    pub(super) jwt: DecodedJwt,
    pub(super) accepted: bool,
}

/// Step 6: the admin gives the service-account user the role; roles are read when a token
/// is issued, so a *new* token is needed to carry it. `None` when there is no new token
/// (the later steps are then recorded as not run).
pub(super) async fn step_6(
    ctx: &Context<'_>,
    steps: &mut Steps<'_>,
    target: &RoleTarget,
) -> Result<Option<WithRole>, ClientError> {
    let out = ctx.out;
    let d = steps.begin("6");
    let admin = ctx.admin().await?;
    let change = out.narrated(admin.assign(target).await, admin.take_exchanges())?;
    drop(admin);
    out.note("a new token (roles are copied into the token when it is issued):");
    let token = ctx
        .request_token(&ctx.with_client, &ctx.client_info.subject, Some(ctx.cert()))
        .await;
    let token = match token {
        Ok(t) => t,
        Err(e) => {
            let actual = format!(
                "role {change:?}, but no new token: {}",
                describe_token(&Err(e))
            );
            steps.finish(d, actual, false);
            steps.not_run_after("6", "no token from step 6");
            return Ok(None);
        }
    };
    let jwt = DecodedJwt::decode(&token.access_token)?;
    let has_role = jwt.has_realm_role(names::READONLY_ROLE);
    out.note(&format!("realm_access.roles now: {:?}", jwt.realm_roles()));
    let r = ctx.call_users(reqwest::Method::GET, &token, None).await?;
    let accepted = r.status == 200;
    steps.finish(
        d,
        format!(
            "role {}, the new token {} it, GET {}",
            match change {
                Change::Added => "assigned",
                _ => "was already assigned",
            },
            if has_role {
                "carries"
            } else {
                "does NOT carry"
            },
            describe_api(&r)
        ),
        has_role && accepted,
    );
    Ok(Some(WithRole {
        token,
        jwt,
        accepted,
    }))
}

/// Step 8: authorization is per route: the read role does not allow writing.
pub(super) async fn step_8(
    ctx: &Context<'_>,
    steps: &mut Steps<'_>,
    token: &TokenResponse,
) -> Result<(), ClientError> {
    let d = steps.begin("8");
    ctx.out.note(&format!(
        "POST {} needs realm role {}, which this client never gets.",
        names::USERS_API_PATH,
        names::WRITE_ROLE
    ));
    let body = json!({"username": "walkthrough-user"});
    let r = ctx
        .call_users(reqwest::Method::POST, token, Some(&body))
        .await?;
    steps.finish(d, describe_api(&r), is_insufficient_scope(&r));
    Ok(())
}

/// RFC 6750 §3.1 `insufficient_scope` on a 403: authenticated, not authorized.
fn is_insufficient_scope(r: &ApiResponse) -> bool {
    r.status == 403 && r.error_code() == Some(BearerError::InsufficientScope)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::walkthrough::context::answer as api;

    #[test]
    fn steps_5_and_8_need_insufficient_scope() {
        assert!(is_insufficient_scope(&api(
            403,
            r#"Bearer error="insufficient_scope""#
        )));
        assert!(!is_insufficient_scope(&api(403, r#"Bearer realm="api""#)));
    }
}
