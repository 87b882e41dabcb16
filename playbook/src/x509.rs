//! Reading certificates back: subject and issuer as RFC 2253, SANs, EKUs, validity and the
//! RFC 8705 thumbprint (from [`crate::rfc8705`]). `client certs show` prints this; the servers
//! use it in logs.

use std::fmt;
use std::path::Path;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use crate::dn;
use crate::error::TlsError;

/// A certificate is "close to expiry" when less than this is left.
pub const EXPIRY_WARNING: time::Duration = time::Duration::days(3);

/// The extended key usages the playground cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `id-kp-serverAuth`: a TLS server certificate.
    Server,
    /// `id-kp-clientAuth`: a TLS client certificate.
    Client,
}

impl Purpose {
    fn eku_name(self) -> &'static str {
        match self {
            Purpose::Server => "serverAuth",
            Purpose::Client => "clientAuth",
        }
    }
    fn role(self) -> &'static str {
        match self {
            Purpose::Server => "TLS server",
            Purpose::Client => "TLS client",
        }
    }
}

/// What a person wants to know about a certificate.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CertInfo {
    /// Subject, RFC 2253 (as Keycloak compares it).
    pub subject: String,
    /// Issuer, RFC 2253.
    pub issuer: String,
    pub serial: String,
    /// DNS names and IP addresses.
    pub subject_alt_names: Vec<String>,
    /// `serverAuth`, `clientAuth`, ….
    pub extended_key_usage: Vec<String>,
    pub is_ca: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// The key: `RSA 2048`, `ECDSA P-256`, `Ed25519` (what `client certs --key-type` chose).
    pub public_key: String,
    /// RFC 8705 `x5t#S256`.
    #[serde(rename = "x5t#S256")]
    pub x5t_s256: String,
}

/// A subject public key as people name it.
fn key_name(cert: &X509Certificate<'_>) -> String {
    let spki = cert.public_key();
    let curve = || {
        spki.algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok())
            .map(|oid| oid.to_id_string())
    };
    match spki.algorithm.algorithm.to_id_string().as_str() {
        "1.2.840.113549.1.1.1" => match spki.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => format!("RSA {}", rsa.key_size()),
            _ => "RSA".to_owned(),
        },
        "1.2.840.10045.2.1" => match curve().as_deref() {
            Some("1.2.840.10045.3.1.7") => "ECDSA P-256".to_owned(),
            Some("1.3.132.0.34") => "ECDSA P-384".to_owned(),
            Some("1.3.132.0.35") => "ECDSA P-521".to_owned(),
            Some(other) => format!("ECDSA (curve {other})"),
            None => "ECDSA".to_owned(),
        },
        "1.3.101.112" => "Ed25519".to_owned(),
        "1.3.101.113" => "Ed448".to_owned(),
        other => format!("algorithm {other}"),
    }
}

impl CertInfo {
    /// Parses a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, String> {
        let (_, cert) = X509Certificate::from_der(der).map_err(|e| e.to_string())?;
        let mut sans = Vec::new();
        if let Ok(Some(ext)) = cert.subject_alternative_name() {
            for name in &ext.value.general_names {
                match name {
                    GeneralName::DNSName(d) => sans.push(format!("DNS:{d}")),
                    GeneralName::IPAddress(bytes) => sans.push(format!("IP:{}", ip_string(bytes))),
                    other => sans.push(other.to_string()),
                }
            }
        }
        let mut eku = Vec::new();
        if let Ok(Some(ext)) = cert.extended_key_usage() {
            let e = ext.value;
            for (on, name) in [
                (e.server_auth, "serverAuth"),
                (e.client_auth, "clientAuth"),
                (e.code_signing, "codeSigning"),
                (e.email_protection, "emailProtection"),
                (e.time_stamping, "timeStamping"),
                (e.ocsp_signing, "OCSPSigning"),
                (e.any, "anyExtendedKeyUsage"),
            ] {
                if on {
                    eku.push(name.to_owned());
                }
            }
            eku.extend(e.other.iter().map(|oid| oid.to_id_string()));
        }
        let validity = cert.validity();
        Ok(CertInfo {
            subject: dn::rfc2253(cert.subject()),
            issuer: dn::rfc2253(cert.issuer()),
            serial: cert.raw_serial_as_string(),
            subject_alt_names: sans,
            extended_key_usage: eku,
            is_ca: cert.is_ca(),
            not_before: validity.not_before.to_datetime(),
            not_after: validity.not_after.to_datetime(),
            public_key: key_name(&cert),
            x5t_s256: crate::rfc8705::thumbprint(der),
        })
    }

    /// Whether the certificate is for `purpose` (no EKU extension means "any").
    pub fn allows(&self, purpose: Purpose) -> bool {
        self.extended_key_usage.is_empty()
            || self
                .extended_key_usage
                .iter()
                .any(|e| e == purpose.eku_name() || e == "anyExtendedKeyUsage")
    }

    /// Time left before expiry (negative once expired).
    pub fn remaining(&self) -> time::Duration {
        self.not_after - OffsetDateTime::now_utc()
    }

    /// Checks a certificate loaded from `path` for use as `purpose` (when given): refuses an
    /// expired, not-yet-valid or wrong-EKU certificate, and logs a warning near expiry.
    pub fn check(&self, path: &Path, purpose: Option<Purpose>) -> Result<(), TlsError> {
        let now = OffsetDateTime::now_utc();
        if now > self.not_after {
            return Err(TlsError::Expired {
                path: path.to_owned(),
                subject: self.subject.clone(),
                not_after: rfc3339(self.not_after),
            });
        }
        if now < self.not_before {
            return Err(TlsError::NotYetValid {
                path: path.to_owned(),
                subject: self.subject.clone(),
                not_before: rfc3339(self.not_before),
            });
        }
        if let Some(purpose) = purpose
            && !self.allows(purpose)
        {
            return Err(TlsError::WrongEku {
                path: path.to_owned(),
                subject: self.subject.clone(),
                needed: purpose.eku_name(),
                role: purpose.role(),
            });
        }
        if let Some(warning) = self.expiry_warning() {
            tracing::warn!("{}: {warning}", path.display());
        }
        Ok(())
    }

    /// "expires in 2 days …" when the certificate is close to expiry.
    pub fn expiry_warning(&self) -> Option<String> {
        let left = self.remaining();
        (left.is_positive() && left < EXPIRY_WARNING).then(|| {
            format!(
                "certificate '{}' expires in {}h (at {}); regenerate with `client certs --force`",
                self.subject,
                left.whole_hours(),
                rfc3339(self.not_after)
            )
        })
    }
}

impl fmt::Display for CertInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "  subject:   {}", self.subject)?;
        writeln!(f, "  issuer:    {}", self.issuer)?;
        writeln!(f, "  serial:    {}", self.serial)?;
        writeln!(f, "  key:       {}", self.public_key)?;
        if self.is_ca {
            writeln!(f, "  CA:        yes")?;
        }
        if !self.subject_alt_names.is_empty() {
            writeln!(f, "  SANs:      {}", self.subject_alt_names.join(", "))?;
        }
        if !self.extended_key_usage.is_empty() {
            writeln!(f, "  EKU:       {}", self.extended_key_usage.join(", "))?;
        }
        let state = remaining_text(self.remaining());
        writeln!(
            f,
            "  validity:  {} .. {} ({state})",
            rfc3339(self.not_before),
            rfc3339(self.not_after)
        )?;
        write!(f, "  x5t#S256:  {}", self.x5t_s256)
    }
}

/// "30 days left" for a certificate generated a second ago; hours when under two days.
fn remaining_text(left: time::Duration) -> String {
    if left.is_negative() {
        "EXPIRED".to_owned()
    } else if left < time::Duration::days(2) {
        format!("{} hours left", (left.as_seconds_f64() / 3600.0).round())
    } else {
        format!("{} days left", (left.as_seconds_f64() / 86400.0).round())
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

fn ip_string(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => std::net::Ipv4Addr::from(<[u8; 4]>::try_from(bytes).unwrap_or_default()).to_string(),
        16 => std::net::Ipv6Addr::from(<[u8; 16]>::try_from(bytes).unwrap_or_default()).to_string(),
        _ => format!("{bytes:02x?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_is_rounded_and_in_hours_near_expiry() {
        use time::Duration;
        assert_eq!(
            remaining_text(Duration::days(30) - Duration::seconds(5)),
            "30 days left"
        );
        assert_eq!(remaining_text(Duration::hours(23)), "23 hours left");
        assert_eq!(remaining_text(Duration::seconds(-1)), "EXPIRED");
    }
}
