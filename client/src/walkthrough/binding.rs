//! Step 7: a stolen token is useless. The resource server compares the token's
//! `cnf.x5t#S256` with the certificate of *this* connection (RFC 8705 §3) and refuses it
//! with 401 `invalid_token` (RFC 6750 §3.1) when they differ.
//!
//! A 401 `invalid_token` alone does not say why (an expired token, an unknown signing key
//! would be one too), and the server's English description is not for programs. The client
//! decides from what it knows itself: the same token was accepted over client.pem at step 6,
//! and [`playbook::rfc8705::compare`] says its `cnf.x5t#S256` differs from the thumbprint
//! of the certificate this connection presented.

use playbook::names;

use super::authorization::WithRole;
use super::context::{Context, describe_api};
use super::narrate::Steps;
use crate::error::ClientError;
use crate::resource::ApiResponse;
use crate::token::Binding;

/// Step 7: step 6's token over a connection that presents other-client.pem.
pub(super) async fn step_7(
    ctx: &Context<'_>,
    steps: &mut Steps<'_>,
    with_role: &WithRole,
) -> Result<(), ClientError> {
    let out = ctx.out;
    let d = steps.begin("7");
    let other_x5t = ctx.other.x5t_s256();
    out.note(&format!(
        "token bound to   {}\nconnection cert  {} ({})",
        with_role.jwt.cnf_x5t_s256().unwrap_or("(unbound)"),
        other_x5t,
        ctx.other_info.subject
    ));
    let binding = with_role.jwt.binding(&other_x5t);
    let r = ctx
        .call_api(
            &ctx.with_other,
            reqwest::Method::GET,
            names::USERS_API_PATH,
            &with_role.token,
            ctx.other_cert(),
            None,
        )
        .await?;
    let refused = is_binding_refusal(&r, with_role.accepted, &binding);
    if refused {
        out.note(
            "invalid_token for a token the server accepted over client.pem a moment ago, whose\ncnf.x5t#S256 is not this certificate's thumbprint: the binding refused it (RFC 8705 §3).",
        );
    }
    steps.finish(d, describe_api(&r), refused);
    Ok(())
}

/// The certificate-binding refusal (RFC 8705 §3): a 401 `invalid_token` for a token that
/// was accepted over its own certificate (`accepted_over_own`) and whose `cnf.x5t#S256`
/// differs from this connection's certificate (`binding`), not any 401.
fn is_binding_refusal(r: &ApiResponse, accepted_over_own: bool, binding: &Binding) -> bool {
    accepted_over_own && matches!(binding, Binding::Differs { .. }) && r.is_invalid_token()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::walkthrough::context::answer as api;

    /// Step 7 passes only on the binding refusal, not on any 401.
    #[test]
    fn step_7_needs_the_binding_refusal_not_any_401() {
        let differs = playbook::rfc8705::compare(Some("abc"), Some("def"));
        let binding = api(
            401,
            r#"Bearer error="invalid_token", error_description="the token is bound to certificate x5t#S256=abc but this connection presented x5t#S256=def""#,
        );
        assert!(is_binding_refusal(&binding, true, &differs));
        // An expired token is a 401 invalid_token too, but it was not accepted at step 6.
        let expired = api(
            401,
            r#"Bearer error="invalid_token", error_description="the token expired 3s ago""#,
        );
        assert!(!is_binding_refusal(&expired, false, &differs));
        let no_token = api(401, r#"Bearer realm="api""#);
        assert!(!is_binding_refusal(&no_token, true, &differs));
        // The same certificate: whatever refused the token, it was not the binding.
        let same = playbook::rfc8705::compare(Some("abc"), Some("abc"));
        assert!(!is_binding_refusal(&binding, true, &same));
        assert!(describe_api(&binding).contains("x5t#S256=abc"));
    }
}
