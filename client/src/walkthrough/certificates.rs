//! Step 1: the certificates the flow presents, read back: subject DN (RFC 2253, as the
//! realm's `x509.subjectdn` compares it), issuer, and the RFC 8705 §3.1 `x5t#S256`
//! thumbprint that reappears in the token's `cnf` at step 4.

use playbook::Identity;
use playbook::names;
use playbook::x509::{CertInfo, Purpose};
use rustls_pki_types::CertificateDer;

use super::narrate::{Steps, cert_line};
use crate::error::ClientError;
use crate::output::shell_quote;
use crate::settings::Settings;

/// The certificates the steps present, read back.
pub(super) struct Certificates {
    pub(super) client: CertInfo,
    pub(super) other: CertInfo,
}

/// Step 1: who we are, who vouches for us, and the thumbprint that will reappear in the
/// token. Passes when client.pem is a clientAuth certificate issued by the dev CA.
pub(super) fn step_1(
    steps: &mut Steps<'_>,
    s: &Settings,
    ca: &CertificateDer<'_>,
    client: &Identity,
    other: &Identity,
    rogue: Option<&Identity>,
) -> Result<Certificates, ClientError> {
    let out = steps.out;
    let d = steps.begin("1");
    let ca_info = CertInfo::from_der(ca).map_err(|detail| ClientError::File {
        path: s.ca.clone(),
        detail,
    })?;
    let client_info = info_of(client)?;
    let other_info = info_of(other)?;
    cert_line(
        out,
        &format!("{} (the dev CA, the only root we trust)", s.ca.display()),
        &ca_info,
    );
    cert_line(
        out,
        &format!(
            "{} (the realm's x509.subjectdn must equal its subject)",
            s.cert.display()
        ),
        &client_info,
    );
    cert_line(
        out,
        &format!("{} (same CA, another DN)", s.other_cert.display()),
        &other_info,
    );
    if let Some(r) = rogue {
        cert_line(
            out,
            &format!("{} (right DN, untrusted CA)", s.rogue_cert.display()),
            &info_of(r)?,
        );
    }
    out.curl(&format!(
        "openssl x509 -in {} -noout -subject -issuer -nameopt RFC2253",
        shell_quote(&s.cert.display().to_string())
    ));
    if client_info.subject != names::CLIENT_SUBJECT_DN
        && s.client_id.as_str() == names::MTLS_CLIENT_ID
    {
        out.warn(&format!(
            "the realm expects {:?}: this certificate will not authenticate {}",
            names::CLIENT_SUBJECT_DN,
            s.client_id
        ));
    }
    let issued_by_ca = client_info.issuer == ca_info.subject && client_info.allows(Purpose::Client);
    steps.finish(
        d,
        format!(
            "subject {}, issuer {}, x5t#S256 {}",
            client_info.subject, client_info.issuer, client_info.x5t_s256
        ),
        issued_by_ca,
    );
    Ok(Certificates {
        client: client_info,
        other: other_info,
    })
}

fn info_of(identity: &Identity) -> Result<CertInfo, ClientError> {
    CertInfo::from_der(identity.leaf()).map_err(|detail| ClientError::File {
        path: identity.cert_path.clone(),
        detail,
    })
}
