//! Step 4: the right certificate. The provider matches its subject DN with the client's
//! `x509.subjectdn` (RFC 8705 §2.1.2, Keycloak's X.509 client authenticator) and issues an
//! access token bound to it: `cnf.x5t#S256` is the certificate's thumbprint (RFC 8705 §3.1),
//! compared here with [`playbook::rfc8705::compare`] through [`DecodedJwt::binding`].

use super::client_auth::is_invalid_client;
use super::context::{Context, describe_token};
use super::narrate::{Steps, show_jwt};
use crate::error::{ClientError, PROVIDER_LOG_HINT};
use crate::token::{Binding, DecodedJwt, TokenResponse};

/// Step 4. Returns the token and its decoded form, or `None` when there is no token (the
/// later steps are then recorded as not run).
pub(super) async fn step_4(
    ctx: &Context<'_>,
    steps: &mut Steps<'_>,
) -> Result<Option<(TokenResponse, DecodedJwt)>, ClientError> {
    let out = ctx.out;
    let client_subject = ctx.client_info.subject.as_str();
    let d = steps.begin("4");
    let r = ctx
        .request_token(&ctx.with_client, client_subject, Some(ctx.cert()))
        .await;
    let token = match r {
        Ok(t) => t,
        Err(e) => {
            let e = Err(e);
            if is_invalid_client(&e) {
                out.note(&format!(
                    "The provider does not tell the client why (on purpose). Its log does: {PROVIDER_LOG_HINT}\n(a common cause: the realm's x509.subjectdn differs from {client_subject:?})"
                ));
            }
            steps.finish(d, describe_token(&e), false);
            steps.not_run_after("4", "no token from step 4");
            return Ok(None);
        }
    };
    let jwt = DecodedJwt::decode(&token.access_token)?;
    show_jwt(out, &jwt);
    let binding = jwt.binding(&ctx.client.x5t_s256());
    let (actual, passed) = describe_binding(&binding);
    steps.finish(d, actual, passed);
    Ok(Some((token, jwt)))
}

fn describe_binding(binding: &Binding) -> (String, bool) {
    match binding {
        Binding::Matches { x5t_s256 } => (
            format!("200, token bound to client.pem: cnf.x5t#S256 = {x5t_s256} = the certificate's thumbprint"),
            true,
        ),
        Binding::Differs { token, presented: ours } => (
            format!("200, but cnf.x5t#S256 {token} is not our thumbprint {ours}"),
            false,
        ),
        Binding::NoCertificate { token } => (
            format!("200, but cnf.x5t#S256 {token} and no certificate of ours to compare it with"),
            false,
        ),
        Binding::Unbound => (
            "200, but the token has no cnf claim (not certificate-bound: is tls.client.certificate.bound.access.tokens on?)".into(),
            false,
        ),
    }
}
