//! The files of the dev PKI on disk: what one file is ([`PkiFile`]) and how a set of them is
//! written ([`write_files`]: atomically, private keys 0600, never overwriting unless asked).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::{DevPki, Issued, P12_PASSWORD, PkiError};
use crate::names;

/// One generated file.
#[derive(Debug, Clone)]
pub struct PkiFile {
    pub name: String,
    pub what: &'static str,
    pub contents: Vec<u8>,
    /// Written with mode 0600.
    pub private: bool,
}

impl PkiFile {
    /// A certificate file (mode 0644).
    pub fn cert(name: String, what: &'static str, pem: String) -> Self {
        PkiFile {
            name,
            what,
            contents: pem.into_bytes(),
            private: false,
        }
    }
    /// A private key file (mode 0600).
    pub fn key(name: String, pem: String) -> Self {
        PkiFile {
            name,
            what: "private key (mode 0600)",
            contents: pem.into_bytes(),
            private: true,
        }
    }
}

/// Writes `files` into `dir` atomically (temporary file, then rename), private ones with
/// mode 0600. Without `force`, nothing is written if any target exists.
pub fn write_files(dir: &Path, files: &[PkiFile], force: bool) -> Result<Vec<PathBuf>, PkiError> {
    std::fs::create_dir_all(dir).map_err(|source| PkiError::Io {
        path: dir.to_owned(),
        source,
    })?;
    if !force {
        let existing: Vec<PathBuf> = files
            .iter()
            .map(|f| dir.join(&f.name))
            .filter(|p| p.exists())
            .collect();
        if !existing.is_empty() {
            return Err(PkiError::WouldOverwrite(existing));
        }
    }
    let mut written = Vec::new();
    for file in files {
        let path = dir.join(&file.name);
        let io = |source| PkiError::Io {
            path: path.clone(),
            source,
        };
        // A temporary file in the same directory, renamed over the target: a reader never
        // sees a half-written key, and a crash leaves the old file intact.
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!(".{}.", file.name))
            .tempfile_in(dir)
            .map_err(io)?;
        set_mode(tmp.as_file(), if file.private { 0o600 } else { 0o644 }).map_err(io)?;
        tmp.write_all(&file.contents).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
        if force {
            tmp.persist(&path).map_err(|e| io(e.error))?;
        } else {
            // Never clobber a file that appeared since the check above.
            tmp.persist_noclobber(&path).map_err(|e| io(e.error))?;
        }
        written.push(path);
    }
    Ok(written)
}

#[cfg(unix)]
fn set_mode(file: &std::fs::File, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_file: &std::fs::File, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

impl DevPki {
    /// The files `client certs` writes, in order.
    pub fn files(&self) -> Result<Vec<PkiFile>, PkiError> {
        let mut files = Vec::new();
        let mut pair = |name: &str, what: &'static str, issued: &Issued| {
            files.push(PkiFile::cert(
                format!("{name}.pem"),
                what,
                issued.chain_pem(),
            ));
            files.push(PkiFile::key(
                format!("{name}.key.pem"),
                issued.key_pem.clone(),
            ));
        };
        pair(
            "ca",
            "dev CA: the trust anchor of every server and client",
            &self.ca.cert,
        );
        pair(
            "oauth2-provider",
            "server certificate of the authorization server",
            &self.provider,
        );
        pair(
            "resource-server",
            "server certificate of the resource server",
            &self.resource_server,
        );
        pair(
            "client",
            "client certificate the realm expects (x509.subjectdn)",
            &self.client,
        );
        pair(
            "other-client",
            "client certificate from the dev CA with another DN",
            &self.other_client,
        );
        pair(
            "rogue-client",
            "client certificate with the right DN from an untrusted CA",
            &self.rogue_client,
        );
        files.extend(Self::provisioner_files(&self.provisioner));
        files.extend(Self::jwt_client_files(&self.jwt_client));
        files.push(PkiFile::cert(
            "rogue-ca.pem".into(),
            "the untrusted CA (nobody trusts it; its key is not kept)",
            self.rogue_ca.cert.cert_pem.clone(),
        ));
        files.push(PkiFile {
            name: "client.p12".into(),
            what: "client.pem + client.key.pem + ca.pem as PKCS#12 (password 'playbook')",
            contents: self.client.pkcs12(&[&self.ca.cert], P12_PASSWORD)?,
            private: true,
        });
        Ok(files)
    }

    /// The provisioner's pair (`provisioner.pem`, `provisioner.key.pem`), also what `client
    /// certs` adds to a PKI written before the provisioner existed.
    pub fn provisioner_files(provisioner: &Issued) -> Vec<PkiFile> {
        vec![
            PkiFile::cert(
                "provisioner.pem".into(),
                "client certificate of the provisioner (admin API with realm-management roles)",
                provisioner.cert_pem.clone(),
            ),
            PkiFile::key("provisioner.key.pem".into(), provisioner.key_pem.clone()),
        ]
    }

    /// The `private_key_jwt` client's pair ([`names::JWT_CERT_FILE`],
    /// [`names::JWT_KEY_FILE`]), also what `client certs` adds to a PKI written before the
    /// shipped realm had that client.
    pub fn jwt_client_files(jwt_client: &Issued) -> Vec<PkiFile> {
        vec![
            PkiFile::cert(
                names::JWT_CERT_FILE.into(),
                "certificate of the private_key_jwt client (the provider reads its public key from PLAYBOOK_JWT_CLIENT_CERT)",
                jwt_client.cert_pem.clone(),
            ),
            PkiFile::key(names::JWT_KEY_FILE.into(), jwt_client.key_pem.clone()),
        ]
    }

    /// The base64 DER of a certificate, as Keycloak's `jwt.credential.certificate` holds it
    /// (the value of [`names::JWT_CLIENT_CERT_ENV`]).
    pub fn realm_certificate(cert: &Issued) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&cert.cert_der)
    }
}
