//! Steps 2, 3 and 3b: token requests the provider must refuse. With RFC 8705 §2.1
//! `tls_client_auth` the client certificate *is* the credential: none at all, one from the
//! trusted CA with another subject DN (Keycloak's `x509.subjectdn` does not match), and one
//! with the right DN from a CA the provider does not trust (refused in the TLS handshake,
//! or by the proxy in front: [`UntrustedCaRefusal`]). RFC 6749 §5.2 gives every
//! authentication failure one code, `invalid_client`.

use playbook::oauth::ErrorCode;
use playbook::pem;

use super::context::{Context, describe_token};
use super::narrate::Steps;
use super::report::Options;
use crate::error::{ClientError, PROVIDER_LOG_HINT, TransportKind};
use crate::settings::Proxy;
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
    out.note(LAB_9_NOTE);
}

/// Where step 3 points for the certificates that *also* pass as the client.
const LAB_9_NOTE: &str =
    "Which other certificates pass as this client (RDNs reordered, a regex, an intermediate CA,
a second CA with the same DN)? Lab 9, \"who else can be you?\": client lab show 9.";

/// Where step 3b points: a trusted chain proves the issuer, not that the key is still the
/// client's own.
const LAB_10_NOTE: &str =
    "A trusted chain does not say the key is still yours: a stolen key with its valid certificate
passes this step. Who notices a revoked certificate, and certificates that live minutes
instead: lab 10, \"a stolen key\": client lab show 10.";

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
    let http = crate::http::Http::new(&roots, Some(rogue), ctx.trace.as_ref())?;
    let r = ctx
        .request_token(
            &http,
            &format!("{} from Rogue CA", ctx.client_info.subject),
            Some((&s.rogue_cert, &s.rogue_key)),
        )
        .await;
    let seen = UntrustedCaRefusal::of(&r, s.proxy);
    if let Some(UntrustedCaRefusal::Alert(alert)) = seen
        && let Some(note) = untrusted_ca_note(alert)
    {
        out.note(note);
    }
    let actual = match seen {
        Some(seen) => format!("{}: {}", seen.describe(), describe_token(&r)),
        None => format!(
            "not the refusal {} gives: {}",
            topology(s.proxy),
            describe_token(&r)
        ),
    };
    steps.finish(d, actual, seen.is_some());
    out.note(LAB_10_NOTE);
    Ok(())
}

/// How step 3b saw the certificate from the untrusted CA refused: only what the topology
/// gives counts (a provider that is not there, or answers anything else, fails the step).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UntrustedCaRefusal {
    /// TLS ends at the provider, and it ended the handshake with this alert: rustls sends
    /// `unknown_ca`, Java's TLS stack `certificate_unknown`, others `bad_certificate` (see
    /// [`HANDSHAKE_REFUSALS`]).
    Alert(rustls::AlertDescription),
    /// TLS ends at the provider, and it reset or closed the connection after the handshake,
    /// before answering: in TLS 1.3 the client's handshake ends when it sends its
    /// certificate, and a server that refuses the certificate then may close the connection
    /// before its alert is read (about one try in twenty against the embedded provider).
    Reset,
    /// TLS ends at the proxy, which answered for the provider: 401 `invalid_client` (nginx
    /// from `$ssl_client_verify`, HAProxy from `ssl_c_verify`, httpd from `SSL_CLIENT_VERIFY`).
    ByProxy(Proxy),
}

/// The alerts that refuse a client certificate in the handshake.
pub const HANDSHAKE_REFUSALS: [rustls::AlertDescription; 5] = [
    rustls::AlertDescription::UnknownCA,
    rustls::AlertDescription::CertificateUnknown,
    rustls::AlertDescription::BadCertificate,
    rustls::AlertDescription::UnsupportedCertificate,
    rustls::AlertDescription::AccessDenied,
];

impl UntrustedCaRefusal {
    /// The refusal `result` is, if it is one that TLS ending at the provider
    /// ([`Proxy::None`]) or at `proxy` gives; `None` for a token, a refused connection
    /// (nothing listening: a provider that died) or any other error. Decided from the error's
    /// classified cause chain ([`TransportKind`], the alert received), never its text.
    pub fn of(result: &Result<TokenResponse, ClientError>, proxy: Proxy) -> Option<Self> {
        match (proxy, result) {
            (Proxy::Nginx | Proxy::Haproxy | Proxy::Apache, r) => {
                is_invalid_client(r).then_some(Self::ByProxy(proxy))
            }
            (
                Proxy::None | Proxy::Caddy,
                Err(ClientError::Transport {
                    kind: TransportKind::Tls,
                    alert: Some(alert),
                    ..
                }),
            ) => HANDSHAKE_REFUSALS
                .contains(alert)
                .then_some(Self::Alert(*alert)),
            (
                Proxy::None | Proxy::Caddy,
                Err(ClientError::Transport {
                    kind: TransportKind::Reset,
                    ..
                }),
            ) => Some(Self::Reset),
            (Proxy::None | Proxy::Caddy, _) => None,
        }
    }

    /// Which refusal, in words (the step's outcome starts with it).
    pub fn describe(self) -> String {
        match self {
            Self::Alert(alert) => format!("refused in the TLS handshake with the alert {alert:?}"),
            Self::Reset => {
                "refused: the provider closed the connection after the certificate was sent"
                    .to_owned()
            }
            Self::ByProxy(proxy) => format!("refused by the proxy ({proxy:?})"),
        }
    }
}

/// Where the client's TLS ends, in words.
fn topology(proxy: Proxy) -> &'static str {
    match proxy {
        Proxy::None => "TLS ending at the provider (an alert or a closed connection)",
        Proxy::Nginx => "TLS ending at nginx (its 401 invalid_client)",
        Proxy::Haproxy => "TLS ending at HAProxy (its 401 invalid_client)",
        Proxy::Apache => "TLS ending at Apache httpd (its 401 invalid_client)",
        Proxy::Caddy => "TLS ending at Caddy (an alert: it refuses another CA in the handshake)",
    }
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
