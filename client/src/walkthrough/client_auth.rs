//! Steps 2, 3 and 3b: token requests the provider must refuse. With RFC 8705 §2.1
//! `tls_client_auth` the client certificate *is* the credential: none at all, one from the
//! trusted CA with another subject DN (Keycloak's `x509.subjectdn` does not match), and one
//! with the right DN from a CA the provider does not trust (refused in the TLS handshake).
//! RFC 6749 §5.2 gives every authentication failure one code, `invalid_client`.

use playbook::oauth::ErrorCode;
use playbook::pem;

use super::context::{Context, describe_token};
use super::narrate::Steps;
use super::report::Options;
use crate::error::{ClientError, PROVIDER_LOG_HINT, TransportKind};
use crate::token::TokenResponse;

/// Step 2: no client certificate: nothing proves who we are, so the provider cannot
/// authenticate the client.
pub(super) async fn step_2(ctx: &Context<'_>, steps: &mut Steps<'_>) {
    let d = steps.begin("2");
    ctx.out
        .note("The form names the client, but nothing proves it: no certificate, no secret.");
    let r = ctx.request_token(&ctx.anonymous, "none", None).await;
    steps.finish(d, describe_token(&r), is_invalid_client(&r));
}

/// Step 3: the wrong certificate: trusted CA, so the handshake succeeds, but its subject
/// DN is not the one registered for this client.
pub(super) async fn step_3(ctx: &Context<'_>, steps: &mut Steps<'_>) {
    let out = ctx.out;
    let d = steps.begin("3");
    out.note(&format!(
        "The handshake succeeds (the CA is trusted), but the provider compares the subject\n{:?} with the client's x509.subjectdn and finds no match.",
        ctx.other_info.subject
    ));
    let r = ctx
        .request_token(
            &ctx.with_other,
            &ctx.other_info.subject,
            Some(ctx.other_cert()),
        )
        .await;
    steps.finish(d, describe_token(&r), is_invalid_client(&r));
    if is_invalid_client(&r) {
        out.note(&format!(
            "Why exactly is not in the answer (on purpose); the provider's log says: {PROVIDER_LOG_HINT}"
        ));
    }
}

/// Step 3b: right DN, untrusted CA: the provider's truststore does not vouch for it.
/// Skipped (and said so) without rogue-client.pem; not run at all with `--skip-rogue`.
pub(super) async fn step_3b(
    ctx: &Context<'_>,
    steps: &mut Steps<'_>,
    options: &Options,
) -> Result<(), ClientError> {
    let (s, out) = (ctx.s, ctx.out);
    let Some(rogue) = &ctx.rogue else {
        if options.skip_rogue {
            steps.skipped.push("3b: --skip-rogue".into());
        } else {
            steps.skip(
                "3b",
                &format!(
                    "{} not found (regenerate the dev PKI with `client certs --force`)",
                    s.rogue_cert.display()
                ),
            );
        }
        return Ok(());
    };
    let d = steps.begin("3b");
    out.note("Same subject DN as client.pem, but signed by a CA the provider does not trust:\na DN alone proves nothing; the chain to a trusted CA is what makes it a proof.");
    let roots = pem::load_ca_certs(&s.ca)?;
    let http = playbook::https::https_client(&roots, Some(rogue))?;
    let r = ctx
        .request_token(
            &http,
            &format!("{} from Rogue CA", ctx.client_info.subject),
            Some((&s.rogue_cert, &s.rogue_key)),
        )
        .await;
    let refused = is_invalid_client(&r)
        || matches!(
            &r,
            Err(ClientError::Transport {
                kind: TransportKind::Tls | TransportKind::Other,
                ..
            })
        );
    if let Some(note) = r
        .as_ref()
        .err()
        .and_then(|e| untrusted_ca_note(e.tls_alert()?))
    {
        out.note(note);
    }
    steps.finish(d, describe_token(&r), refused);
    Ok(())
}

/// RFC 6749 §5.2 `invalid_client` on a 401: the provider could not authenticate the client.
pub(super) fn is_invalid_client(result: &Result<TokenResponse, ClientError>) -> bool {
    matches!(
        result,
        Err(ClientError::OAuth { error, .. })
            if error.status == 401 && error.error == ErrorCode::InvalidClient
    )
}

/// Step 3b: the same refusal goes by two names, depending on the server's TLS stack; the
/// alert it sent (not the text of the error) says which one this server is.
fn untrusted_ca_note(alert: rustls::AlertDescription) -> Option<&'static str> {
    use rustls::AlertDescription as A;
    match alert {
        A::UnknownCA => Some(
            "The alert is unknown_ca: rustls (the embedded provider) names the reason, a chain that\nleads to no CA it trusts. Keycloak, on Java, refuses the same certificate with the\ngeneric certificate_unknown: the same refusal, at the same moment.",
        ),
        A::CertificateUnknown => Some(
            "The alert is certificate_unknown: Keycloak runs on Java, and Java's TLS stack (JSSE)\nsends this generic alert for a client certificate it cannot build a path to a trusted\nCA for; its reason (\"PKIX path building failed\") stays inside the JVM. rustls (the\nembedded provider) sends unknown_ca for the same certificate: the same refusal, at the\nsame moment, named differently. Either way no HTTP request was sent.",
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Step 3b's note follows the alert the server sent: Java's certificate_unknown is
    /// explained as Keycloak's, rustls's unknown_ca as the embedded provider's.
    #[test]
    fn step_3b_explains_the_alert_the_server_sent() {
        use rustls::AlertDescription as A;
        let java = untrusted_ca_note(A::CertificateUnknown).expect("a note for Java's alert");
        assert!(
            java.contains("certificate_unknown") && java.contains("Java") && java.contains("PKIX"),
            "{java}"
        );
        let rustls = untrusted_ca_note(A::UnknownCA).expect("a note for rustls's alert");
        assert!(
            rustls.contains("unknown_ca") && rustls.contains("embedded provider"),
            "{rustls}"
        );
        assert_ne!(java, rustls);
        assert_eq!(untrusted_ca_note(A::BadCertificate), None);
        assert_eq!(untrusted_ca_note(A::HandshakeFailure), None);
    }
}
