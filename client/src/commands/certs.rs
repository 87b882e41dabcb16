//! `client certs`: the development PKI written to CERTS_DIR, `client certs show FILE…`
//! (subject and issuer as RFC 2253, EKU, validity, the RFC 8705 §3.1 `x5t#S256`
//! thumbprint) and `client certs check`; the work is in [`crate::certs`].

use std::path::Path;

use crate::certs;
use crate::cli::{CertsArgs, CertsCommand};
use crate::error::ClientError;
use crate::output::Output;

/// Runs `client certs …`; `certs_dir` is the global CERTS_DIR.
pub(super) fn run(certs_dir: &Path, args: &CertsArgs, out: &Output) -> Result<bool, ClientError> {
    match &args.show {
        Some(CertsCommand::Show { files }) => Ok(certs::show(files, out)),
        Some(CertsCommand::Check) => Ok(certs::check(certs_dir, out)),
        Some(CertsCommand::Intermediate { name, dn, signing }) => {
            certs::issue::intermediate(certs_dir, name, dn, signing, out)?;
            Ok(true)
        }
        Some(CertsCommand::Issue {
            name,
            dn,
            crl_url,
            signing,
        }) => {
            let crl_url = crl_url.as_ref().map(url::Url::as_str);
            certs::issue::issue(certs_dir, name, dn, crl_url, signing, out)?;
            Ok(true)
        }
        Some(CertsCommand::Ca {
            name,
            dn,
            days,
            force,
        }) => {
            certs::issue::root(certs_dir, name, dn, *days, *force, out)?;
            Ok(true)
        }
        Some(CertsCommand::Revoke { name, signed_by }) => {
            certs::revoke::revoke(certs_dir, name, signed_by, out)?;
            Ok(true)
        }
        Some(CertsCommand::Crl { signed_by }) => {
            certs::revoke::crl(certs_dir, signed_by, out)?;
            Ok(true)
        }
        Some(CertsCommand::Renew {
            name,
            signed_by,
            every,
            at,
            times,
            new_key,
        }) => {
            use certs::renew::Schedule;
            let schedule = match (every, at) {
                (Some(s), _) => Schedule::Every(std::time::Duration::from_secs_f64(s.max(0.1))),
                (None, Some(f)) => Schedule::At(*f),
                (None, None) => Schedule::Once,
            };
            certs::renew::renew(certs_dir, name, signed_by, schedule, *times, *new_key, out)?;
            Ok(true)
        }
        None => {
            let dir = args.out.as_deref().unwrap_or(certs_dir);
            certs::generate(dir, args.force, args.days, args.key_type, out)?;
            if args.force {
                out.warn(
                    "servers that are already running still use the old certificates: restart them (./start.sh), or TLS fails with BadSignature / unknown issuer",
                );
            }
            Ok(true)
        }
    }
}
