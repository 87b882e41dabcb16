//! The offline check `revocation`: is the certificate (or a CA of its chain) on a certificate
//! revocation list given with `--crl`? The verdict is rustls' client verifier built with
//! `with_crls`, exactly as `resource-server --crl` builds it (every certificate of the chain
//! below the trust anchor checked, a certificate whose issuer has no CRL refused as unknown
//! status, a CRL's signature verified with its issuer's key), so the doctor and the resource
//! server give the same answer; x509-parser reads the entry (serial, date, reason) and the
//! lists' issuers and `nextUpdate` for the words.
//!
//! Keycloak 26.7.5 logs no line for this cause by default: it does not check revocation at
//! all (lab 10), so [`super::KEYCLOAK_LOG`] has none.

use std::sync::Arc;

use rustls::{CertRevocationListError, CertificateError};
use rustls_pki_types::UnixTime;
use x509_parser::prelude::{FromDer as _, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;

use super::{Loaded, Verdict, not_loaded};

/// A DN as Keycloak renders it (RFC 2253), as the other findings show DNs.
fn dn(name: &x509_parser::x509::X509Name<'_>) -> String {
    playbook::dn::rfc2253(name)
}

/// Who notices a revoked certificate, as lab 10 (labs/10-a-stolen-key) recorded it.
pub const WHO_NOTICES: &str = "who notices (lab 10): Keycloak 26.7.5 as configured here still issues a token (200: none of its options is a CRL for client certificates, and it logs no line for this); with -Dcom.sun.net.ssl.checkRevocation=true -Dcom.sun.security.enableCRLDP=true (JAVA_OPTS_APPEND) and the CRL served at the URL the certificate names, the JVM refuses it in the handshake (alert certificate_unknown); the resource server with --crl refuses it in the handshake (alert certificate_revoked); nginx with ssl_crl in front answers 401 naming `certificate revoked`; the resource server without --crl answers 200";

const MAKE_CRL: &str = "pass the CRL of the CA that issued the certificate (`client certs crl --signed-by CA` writes CA.crl.pem, `client certs revoke NAME` too), one per issuing CA of the chain";

pub(super) fn revocation(l: &Loaded) -> Verdict {
    let crls = match &l.crls {
        Ok(crls) if crls.is_empty() => {
            return Ok("not checked: no --crl given (Keycloak by default does not check revocation either)".to_owned());
        }
        Ok(crls) => crls,
        Err(e) => return Err((e.clone(), MAKE_CRL.to_owned())),
    };
    let (Ok(chain), Ok(ca)) = (&l.chain, &l.ca) else {
        return not_loaded();
    };
    let mut parsed = Vec::new();
    for (path, der) in crls {
        match x509_parser::parse_x509_crl(der) {
            Ok((_, crl)) => parsed.push((path, crl)),
            Err(e) => {
                return Err((
                    format!("{}: not an X.509 CRL ({e})", path.display()),
                    MAKE_CRL.to_owned(),
                ));
            }
        }
    }
    let certs: Vec<X509Certificate<'_>> = chain
        .iter()
        .filter_map(|c| X509Certificate::from_der(c).ok().map(|(_, c)| c))
        .collect();
    let Some(leaf) = certs.first() else {
        return not_loaded();
    };
    let issuer = dn(leaf.issuer());
    let applies =
        |crl: &CertificateRevocationList<'_>| certs.iter().any(|c| c.issuer() == crl.issuer());
    let described =
        |crls: &mut dyn Iterator<Item = &(&std::path::PathBuf, CertificateRevocationList<'_>)>| {
            crls.map(|(p, c)| format!("{} (issuer {})", p.display(), dn(c.issuer())))
                .collect::<Vec<_>>()
                .join(", ")
        };

    match rustls_verdict(chain, ca, crls) {
        Ok(()) => {}
        Err(rustls::Error::InvalidCertificate(CertificateError::Revoked)) => {
            return Err((revoked(&certs, &parsed), revoked_fix()));
        }
        Err(rustls::Error::InvalidCertificate(CertificateError::UnknownRevocationStatus)) => {
            let detail = if parsed.iter().any(|(_, c)| applies(c)) {
                format!(
                    "no CRL applies to every CA of the chain (the certificate's issuer is {issuer}; given: {}): rustls, as resource-server --crl, refuses a certificate whose issuer has no CRL (unknown revocation status)",
                    described(&mut parsed.iter())
                )
            } else {
                format!(
                    "the CRL does not apply: it was issued by another CA than the certificate's ({issuer}); given: {}. It says nothing about this certificate, and resource-server --crl with only this list refuses every certificate of {issuer} (unknown revocation status)",
                    described(&mut parsed.iter())
                )
            };
            return Err((detail, MAKE_CRL.to_owned()));
        }
        Err(rustls::Error::InvalidCertRevocationList(e)) => {
            let why = match e {
                CertRevocationListError::BadSignature => {
                    "not signed by the key of the certificate's issuer (a CA with the same DN but another key made it)".to_owned()
                }
                other => format!("{other:?}"),
            };
            return Err((
                format!(
                    "a CRL cannot be verified: {why}; given: {}",
                    described(&mut parsed.iter())
                ),
                MAKE_CRL.to_owned(),
            ));
        }
        Err(e) => {
            return Err((
                format!("not checked: the chain does not verify ({e})"),
                "fix the chain first (above)".to_owned(),
            ));
        }
    }
    let now = time::OffsetDateTime::now_utc();
    if let Some((path, crl)) = parsed
        .iter()
        .find(|(_, c)| applies(c) && c.next_update().is_some_and(|next| next.to_datetime() < now))
    {
        return Err((
            format!(
                "{}: the CRL of {} is past its nextUpdate ({}): stale, a certificate revoked since is not on it (rustls, as resource-server --crl, still uses it)",
                path.display(),
                dn(crl.issuer()),
                crl.next_update().map(|t| t.to_string()).unwrap_or_default()
            ),
            "make the CA's list again (`client certs crl --signed-by CA`, nextUpdate a week away) and keep it current".to_owned(),
        ));
    }
    let unused: Vec<_> = parsed.iter().filter(|(_, c)| !applies(c)).collect();
    let mut detail = format!(
        "not on the CRL of {issuer}: verified as resource-server --crl verifies it (rustls with_crls)"
    );
    if !unused.is_empty() {
        detail.push_str(&format!(
            "; not applying (another CA's): {}",
            described(&mut unused.into_iter())
        ));
    }
    Ok(detail)
}

/// rustls' client verifier with the CRLs, as the resource server builds it.
fn rustls_verdict(
    chain: &[rustls_pki_types::CertificateDer<'static>],
    ca: &[rustls_pki_types::CertificateDer<'static>],
    crls: &[(
        std::path::PathBuf,
        rustls_pki_types::CertificateRevocationListDer<'static>,
    )],
) -> Result<(), rustls::Error> {
    let mut roots = rustls::RootCertStore::empty();
    for c in ca {
        roots.add(c.clone())?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .with_crls(crls.iter().map(|(_, c)| c.clone()))
            .build()
            .map_err(|e| rustls::Error::General(e.to_string()))?;
    verifier
        .verify_client_cert(&chain[0], &chain[1..], UnixTime::now())
        .map(|_| ())
}

/// The entry that revokes a certificate of the chain: its serial, date and reason.
fn revoked(
    certs: &[X509Certificate<'_>],
    crls: &[(&std::path::PathBuf, CertificateRevocationList<'_>)],
) -> String {
    for (i, cert) in certs.iter().enumerate() {
        for (path, crl) in crls.iter().filter(|(_, c)| c.issuer() == cert.issuer()) {
            let Some(entry) = crl
                .iter_revoked_certificates()
                .find(|r| r.raw_serial() == cert.raw_serial())
            else {
                continue;
            };
            let whose = if i == 0 {
                "the certificate".to_owned()
            } else {
                format!("its CA {}", dn(cert.subject()))
            };
            let reason = entry
                .reason_code()
                .map(|(_, r)| format!(", reason {r}"))
                .unwrap_or_default();
            return format!(
                "revoked: {whose}, serial {}, revoked on {}{reason}, on the CRL of {} ({})",
                entry.raw_serial_as_string(),
                entry.revocation_date.to_datetime(),
                dn(crl.issuer()),
                path.display()
            );
        }
    }
    "revoked (rustls: CertificateRevoked)".to_owned()
}

fn revoked_fix() -> String {
    format!(
        "a revoked certificate stays revoked: use a new certificate (`client certs renew NAME --new-key`, or issue a new one: `client certs issue NAME`); if its key was stolen the new certificate needs a new key too (--new-key: a renewal for the old key leaves the thief a valid certificate). {WHO_NOTICES}"
    )
}
