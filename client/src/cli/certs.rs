//! `client certs`'s arguments: the dev PKI and what lab 9, lab 10 and the proxies' chains make
//! on demand (intermediate and second CAs, certificates with a chosen DN, revocation, renewal).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use playbook::names;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CertsArgs {
    #[command(subcommand)]
    pub show: Option<CertsCommand>,
    /// Directory to write to (default: CERTS_DIR).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace existing files (servers already running keep the old certificates until
    /// they are restarted).
    #[arg(long)]
    pub force: bool,
    /// Validity of the leaf certificates in days, from now (the CAs get twice as long).
    #[arg(long, default_value_t = playbook::pki::DEFAULT_LEAF_DAYS)]
    pub days: i64,
    /// The key algorithm of every certificate (CA, servers, clients). Keycloak and rustls
    /// take all four; browsers do not take ed25519 (see certs/README.md).
    #[arg(long, env = "KEY_TYPE", value_enum, default_value_t)]
    pub key_type: playbook::pki::KeyType,
}

#[derive(Debug, Subcommand)]
pub enum CertsCommand {
    /// Check that CERTS_DIR holds every certificate and key the walkthrough
    /// needs, none expired; exits non-zero, naming the fix, when not (./start.sh runs it).
    Check,
    /// Print subject and issuer (RFC 2253), SANs, EKU, validity and the RFC 8705 thumbprint
    /// x5t#S256 of each certificate; warns when one is close to expiry.
    Show {
        /// PEM files (keys among them are recognised and skipped; a .p12 is recognised and
        /// the openssl command to read it is printed).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Make an intermediate CA in CERTS_DIR, signed by the dev CA (or --signed-by): NAME.pem and
    /// NAME.key.pem (mode 0600). It signs client certificates only (pathLenConstraint 0);
    /// servers trusting ca.pem accept them, because each presents it after itself.
    ///
    /// Example: client certs intermediate && client certs issue intermediate-client --signed-by intermediate-ca
    Intermediate {
        /// The file name in CERTS_DIR, without .pem.
        #[arg(default_value = names::INTERMEDIATE_CA_NAME)]
        name: String,
        /// Its subject DN, RFC 2253 order (most specific first).
        #[arg(long, default_value = names::INTERMEDIATE_CA_SUBJECT_DN)]
        dn: String,
        #[command(flatten)]
        signing: crate::certs::issue::Signing,
    },
    /// Issue a client certificate (clientAuth) from a CA of CERTS_DIR: NAME.pem (the
    /// certificate, then any intermediate CA it presents) and NAME.key.pem (mode 0600).
    ///
    /// Example: client certs issue intermediate-client --signed-by intermediate-ca
    Issue {
        /// The file name in CERTS_DIR, without .pem.
        name: String,
        /// The subject DN, RFC 2253 order (most specific first), in any order of RDNs you want
        /// (`O=…,CN=…` is another DN to Keycloak); keywords CN, O, OU, C, ST, L, DC, UID,
        /// SERIALNUMBER, EMAILADDRESS (written as an IA5String; Keycloak renders it
        /// `1.2.840.113549.1.9.1=#16…`, lab 9), …. Multi-valued RDNs (`CN=a+UID=b`) need openssl
        /// (lab 9 shows how). Default: the DN the realm's x509.subjectdn expects.
        #[arg(long, default_value = names::CLIENT_SUBJECT_DN)]
        dn: String,
        /// A CRL distribution point in the certificate (RFC 5280 §4.2.1.13): the URL where a
        /// verifier that fetches CRLs itself finds the CA's list (Java with
        /// -Dcom.sun.security.enableCRLDP=true, lab 10). Kept by `client certs renew`.
        #[arg(long, value_name = "URL")]
        crl_url: Option<url::Url>,
        #[command(flatten)]
        signing: crate::certs::issue::Signing,
    },
    /// Make another root CA, by default with the dev CA's very DN: NAME.pem and NAME.key.pem.
    /// It is never added to ca.pem, so no server trusts it unless given it (lab 9 does, in
    /// its own truststore).
    Ca {
        /// The file name in CERTS_DIR, without .pem.
        #[arg(default_value = "same-dn-ca")]
        name: String,
        /// Its subject DN, RFC 2253 order; default: the dev CA's.
        #[arg(long, default_value = names::CA_SUBJECT_DN)]
        dn: String,
        /// Validity in days, from now.
        #[arg(long, default_value_t = playbook::pki::DEFAULT_CA_DAYS)]
        days: i64,
        /// Replace NAME.pem and NAME.key.pem if they exist.
        #[arg(long)]
        force: bool,
    },
    /// Revoke NAME.pem: its serial number goes on the CRL of the CA that signed it,
    /// CA.crl.pem (the whole list, signed again; nextUpdate a week away). The certificate
    /// and its key are left as they are.
    ///
    /// Example: client certs revoke client && resource-server --crl certs/ca.crl.pem
    Revoke {
        /// The certificate's file name in CERTS_DIR, without .pem.
        name: String,
        /// The CA that signed it (NAME.pem and NAME.key.pem in CERTS_DIR).
        #[arg(long, default_value = "ca")]
        signed_by: String,
    },
    /// Write (or refresh) the CRL of a CA, CA.crl.pem, with the certificates revoked so far:
    /// a verifier checking revocation wants one for every CA of a chain.
    Crl {
        /// The CA (NAME.pem and NAME.key.pem in CERTS_DIR).
        #[arg(long, default_value = "ca")]
        signed_by: String,
    },
    /// Issue NAME.pem again for the same key and subject, for as long as it lived, replacing
    /// the file atomically: once, or on a schedule until Ctrl-C (--every, --at). The key is
    /// kept unless --new-key.
    ///
    /// Example: client certs issue short --seconds 60 && client certs renew short --at 0.66
    Renew {
        /// The certificate's file name in CERTS_DIR, without .pem.
        name: String,
        /// The CA that signed it (NAME.pem and NAME.key.pem in CERTS_DIR).
        #[arg(long, default_value = "ca")]
        signed_by: String,
        /// Renew every this many seconds.
        #[arg(long, conflicts_with = "at")]
        every: Option<f64>,
        /// Renew each time this fraction of the certificate's lifetime has passed (0.66 is
        /// what `step ca renew --daemon` does).
        #[arg(long)]
        at: Option<f64>,
        /// Stop after this many renewals (default: once without --every/--at, else until
        /// Ctrl-C).
        #[arg(long)]
        times: Option<u64>,
        /// Make a new key too (written before the certificate); without it the key is kept.
        #[arg(long)]
        new_key: bool,
    },
}
