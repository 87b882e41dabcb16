//! Lab 9: who else can be you? A matrix of certificates against the realm's mTLS client
//! (and three lab clients), each decided by the live provider: the attendee predicts, then
//! runs it.
//!
//! `prepare 9` (run by `./start.sh --lab 9` before the servers start) makes the matrix's
//! certificates in `labs/work/lab9/` (rcgen for most, openssl for the two subjects rcgen
//! cannot write: an `emailAddress` attribute and a multi-valued RDN), a second root CA with
//! the dev CA's DN and its own key (`second-ca.pem`, trusted only through
//! `labs/work/lab9/truststore.pem`, never through `certs/ca.pem`), the realm copy with the
//! three lab clients, and the predictions template. The checker asks the live provider for a
//! token with each certificate and compares the answer with the attendee's prediction in
//! `labs/work/lab9/predictions.txt`: `token`, the RFC 6749 §5.2 error code (`invalid_client`),
//! or `handshake` (refused in the TLS handshake, whatever the alert is called: rustls says
//! `unknown_ca`, Java `certificate_unknown`).
//!
//! Every answer was recorded from native Keycloak 26.7.5 (`client/tests/
//! identity_keycloak_native.rs`, golden file `client/tests/golden/lab9-keycloak.json`), and
//! the reference predictions (`labs/09-who-else/solution/predictions.txt`) are those answers.

use std::collections::BTreeMap;
use std::path::Path;

use playbook::names;
use playbook::pki::{CertificateAuthority, Issued, Validity};

use super::probe::{self, TokenOutcome};
use super::{Check, Ctx, Lab, LabInfo};
use crate::error::ClientError;

pub const INFO: LabInfo = LabInfo {
    number: 9,
    folder: "09-who-else",
    title: "Who else can be you? Certificates that also pass as the client",
    minutes: 40,
    first_step: "read labs/work/lab9/predictions.txt and write, for each certificate, what you expect before you run it",
};

pub const LAB: Lab = Lab {
    prepare,
    ..super::lab!()
};

pub const PREDICTIONS: &str = "predictions.txt";
/// The matrix as data for scripts (`name client-id` lines): `solution/run-matrix.sh` reads it.
const CELLS_FILE: &str = "cells.txt";
pub const TRUSTSTORE: &str = "truststore.pem";
const SAME_DN_CA: &str = "second-ca.pem";

/// A lab client matched on a subject with an `emailAddress` attribute, written as
/// `openssl x509 -noout -subject -nameopt RFC2253` prints it.
pub const EMAIL_CLIENT: &str = "oauth2-playbook-lab9-email";
pub const EMAIL_DN: &str =
    "emailAddress=lab9@example.org,CN=oauth2-playbook-lab9-email,O=OAuth2 Playbook";
/// A lab client matched by a regex meant for its own certificate only.
pub const REGEX_CLIENT: &str = "oauth2-playbook-lab9-regex";
pub const REGEX_DN: &str = "CN=oauth2-playbook-lab9-regex.*";
/// A lab client whose DN has a multi-valued RDN, in the order `-subj` wrote it.
pub const MULTI_CLIENT: &str = "oauth2-playbook-lab9-multi";
pub const MULTI_DN: &str = "CN=oauth2-playbook-lab9-multi+UID=lab9,O=OAuth2 Playbook";

/// How a certificate of the matrix is made.
#[derive(Debug, Clone, Copy)]
pub enum Make {
    /// Issued by the dev CA (rcgen) with this subject (RFC 2253 order).
    DevCa(&'static str),
    /// Issued by the dev CA with openssl, `-subj` as given (`multivalue`: `-multivalue-rdn`).
    Openssl {
        subj: &'static str,
        multivalue: bool,
    },
    /// Issued by an intermediate CA (under the dev CA) whose own subject is `ca`; the file
    /// holds the leaf and the intermediate.
    UnderIntermediate {
        ca: &'static str,
        leaf: &'static str,
    },
    /// Issued by the second root CA, which has the dev CA's DN and another key.
    SameDnCa(&'static str),
    /// Self-signed, with this subject.
    SelfSigned(&'static str),
}

/// One cell: a certificate, and the client it asks a token for.
#[derive(Debug, Clone, Copy)]
pub struct Cell {
    pub name: &'static str,
    /// The client id sent (the realm's mTLS client unless a lab client is named).
    pub client: &'static str,
    pub make: Make,
    /// What the cell shows, for the predictions template.
    pub about: &'static str,
    /// Where to look when the prediction was wrong (never the answer itself).
    pub hint: &'static str,
}

const MTLS: &str = names::MTLS_CLIENT_ID;

/// The matrix, in the order of the README.
pub const CELLS: &[Cell] = &[
    Cell {
        name: "exact",
        client: MTLS,
        make: Make::DevCa(names::CLIENT_SUBJECT_DN),
        about: "the dev CA, the realm's DN exactly (the walkthrough's certs/client.pem)",
        hint: "is the provider running with this lab's realm (./start.sh --lab 9)?",
    },
    Cell {
        name: "reordered",
        client: MTLS,
        make: Make::DevCa("O=OAuth2 Playbook,CN=oauth2-playbook-client-credentials-mtls"),
        about: "the dev CA, the same two RDNs in the other order",
        hint: "x509.subjectdn is compared as a string, after Java renders both DNs in RFC 2253 (README: background)",
    },
    Cell {
        name: "case",
        client: MTLS,
        make: Make::DevCa("CN=oauth2-playbook-client-credentials-mtls,O=OAUTH2 PLAYBOOK"),
        about: "the dev CA, the organisation in capitals",
        hint: "x509.subjectdn is compared as a string, after Java renders both DNs in RFC 2253 (README: background)",
    },
    Cell {
        name: "email",
        client: EMAIL_CLIENT,
        make: Make::Openssl {
            subj: "/O=OAuth2 Playbook/CN=oauth2-playbook-lab9-email/emailAddress=lab9@example.org",
            multivalue: false,
        },
        about: "the dev CA (openssl), with emailAddress; its client's DN is what openssl -nameopt RFC2253 prints",
        hint: "how does Java render an attribute it has no RFC 2253 keyword for, and how does it parse emailAddress=? (README: background)",
    },
    Cell {
        name: "regex",
        client: REGEX_CLIENT,
        make: Make::DevCa("CN=oauth2-playbook-lab9-regex-impostor,O=Someone Else"),
        about: "the dev CA, CN oauth2-playbook-lab9-regex-impostor, asking as the regex client",
        hint: "the regex is matched against Java's legacy rendering 'CN=…, O=…' as a whole (Pattern.matches)",
    },
    Cell {
        name: "intermediate",
        client: MTLS,
        make: Make::UnderIntermediate {
            ca: names::CLIENT_SUBJECT_DN,
            leaf: "CN=someone-else,O=OAuth2 Playbook",
        },
        about: "CN=someone-else, issued by an intermediate CA whose own DN is the realm's client DN",
        hint: "which certificate of the chain is compared with x509.subjectdn?",
    },
    Cell {
        name: "same-dn-ca",
        client: MTLS,
        make: Make::SameDnCa(names::CLIENT_SUBJECT_DN),
        about: "the realm's DN, issued by a second CA with the dev CA's DN (trusted by the lab's truststore.pem)",
        hint: "the TLS layer trusts both CAs (truststore.pem); what does x509.casubjectdn compare? (keycloak/keycloak#52801)",
    },
    Cell {
        name: "self-signed",
        client: MTLS,
        make: Make::SelfSigned(names::CLIENT_SUBJECT_DN),
        about: "the realm's DN, self-signed, trusted by nobody",
        hint: "who trusts this certificate at the TLS layer?",
    },
    Cell {
        name: "multi-valued",
        client: MULTI_CLIENT,
        make: Make::Openssl {
            subj: "/O=OAuth2 Playbook/CN=oauth2-playbook-lab9-multi+UID=lab9",
            multivalue: true,
        },
        about: "the dev CA (openssl -multivalue-rdn), CN+UID in one RDN, as its client's DN writes them",
        hint: "in which order does DER keep the attributes of one RDN, and in which does Java print them?",
    },
];

/// The words a prediction may use.
pub const WORDS: &str = "token, invalid_client (or another RFC 6749 error code) or handshake";

/// The answer as a prediction names it: `token`, the error code, or `handshake`.
pub fn word(outcome: &TokenOutcome) -> String {
    match outcome {
        TokenOutcome::Issued(_) => "token".into(),
        TokenOutcome::Refused(e) => e.error.to_string(),
        TokenOutcome::TlsRefused(_) => "handshake".into(),
    }
}

/// `name: word` lines; `#` starts a comment; an empty word is no prediction.
pub fn parse(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let l = l.split('#').next().unwrap_or("").trim();
            let (k, v) = l.split_once(':')?;
            let v = v.trim().to_ascii_lowercase();
            (!v.is_empty()).then(|| (k.trim().to_ascii_lowercase(), v))
        })
        .collect()
}

fn cert_file(cell: &Cell) -> String {
    format!("{}.pem", cell.name)
}

fn key_file(cell: &Cell) -> String {
    format!("{}.key.pem", cell.name)
}

/// Asks the live provider for a token with each cell's certificate (as its client); for a
/// cell whose files cannot be loaded, what is wrong with them.
pub async fn observe(
    ctx: &Ctx<'_>,
    dir: &Path,
) -> Result<Vec<(&'static Cell, Result<TokenOutcome, String>)>, ClientError> {
    let mut seen = Vec::new();
    for cell in CELLS {
        let (cert, key) = (dir.join(cert_file(cell)), dir.join(key_file(cell)));
        let outcome = match probe::identity_unchecked(&cert, &key) {
            Ok(id) => Ok(probe::token(ctx, &id, cell.client, None).await?),
            Err(e) => Err(format!("{}: {e}", cert.display())),
        };
        seen.push((cell, outcome));
    }
    Ok(seen)
}

pub async fn check(ctx: &Ctx<'_>) -> Result<Vec<Check>, ClientError> {
    let dir = ctx.dir(9)?;
    let predictions = parse(&super::read_optional(&dir.join(PREDICTIONS))?.unwrap_or_default());
    let mut checks = Vec::new();
    let observed = match observe(ctx, &dir).await {
        Ok(o) => o,
        Err(e) => {
            checks.push(probe::unreachable("the matrix", &e));
            return Ok(checks);
        }
    };
    for (cell, outcome) in observed {
        let what = format!("{} ({} as {})", cell.name, cert_file(cell), cell.client);
        let live = match outcome {
            Ok(o) => word(&o),
            Err(e) => {
                checks.push(Check::fail(
                    what,
                    "the lab's certificate and key",
                    e,
                    "client lab prepare 9 makes them",
                ));
                continue;
            }
        };
        let Some(predicted) = predictions.get(cell.name) else {
            checks.push(Check::fail(
                what,
                format!(
                    "your prediction after '{}:' in labs/work/lab9/{PREDICTIONS}",
                    cell.name
                ),
                "no prediction",
                format!("predict first ({WORDS}), then run it (README step 2)"),
            ));
            continue;
        };
        checks.push(Check::expect(
            *predicted == live,
            what,
            format!("{predicted} (your prediction)"),
            live,
            cell.hint,
        ));
    }
    Ok(checks)
}

/// The lab's clients, as the admin API creates them and as the realm copy lists them.
fn client_reps() -> Vec<serde_json::Value> {
    [
        (EMAIL_CLIENT, EMAIL_DN, "false"),
        (REGEX_CLIENT, REGEX_DN, "true"),
        (MULTI_CLIENT, MULTI_DN, "false"),
    ]
    .into_iter()
    .map(|(id, dn, regex)| {
        super::x509_client(
            id,
            &[
                ("x509.subjectdn", dn),
                ("x509.allow.regex.pattern.comparison", regex),
                ("x509.casubjectdn", names::CA_SUBJECT_DN),
            ],
        )
    })
    .collect()
}

/// The stock realm plus the lab's clients and their service-account users, at the end.
fn write_realm_copy(ctx: &Ctx<'_>) -> Result<(), ClientError> {
    ctx.write_realm_copy_with(9, &client_reps())
}

/// The predictions template: one `name:` line per cell, with what it is.
fn template() -> String {
    let mut t = format!(
        "# Lab 9: for each certificate, what happens when it asks for a token as its client?\n# Write one word after the colon, before you run it: {WORDS}.\n"
    );
    for cell in CELLS {
        t.push_str(&format!(
            "\n# {} as {}: {}\n{}:\n",
            cert_file(cell),
            cell.client,
            cell.about,
            cell.name
        ));
    }
    t
}

/// Every file of the matrix exists.
fn complete(dir: &Path) -> bool {
    dir.join(TRUSTSTORE).exists()
        && dir.join(CELLS_FILE).exists()
        && CELLS
            .iter()
            .all(|c| dir.join(cert_file(c)).exists() && dir.join(key_file(c)).exists())
}

/// Makes every certificate of the matrix, the second CA and the truststore (all replaced).
fn make_certificates(ctx: &Ctx<'_>, dir: &Path) -> Result<(), ClientError> {
    let ca = ctx.dev_ca()?;
    let validity = || Validity::days_from_now(7);
    let same_dn_ca = CertificateAuthority::new(names::CA_SUBJECT_DN, validity())?;
    for cell in CELLS {
        let issued: Issued = match cell.make {
            Make::DevCa(dn) => ca.issue_client(dn, validity())?,
            Make::Openssl { subj, multivalue } => {
                openssl_issue(ctx, dir, cell, subj, multivalue)?;
                continue;
            }
            Make::UnderIntermediate { ca: inter, leaf } => ca
                .intermediate(inter, validity())?
                .issue_client(leaf, validity())?,
            Make::SameDnCa(dn) => same_dn_ca.issue_client(dn, validity())?,
            Make::SelfSigned(dn) => playbook::pki::self_signed_client(dn, validity())?,
        };
        super::write_file(&dir.join(key_file(cell)), issued.key_pem.as_bytes(), true)?;
        super::write_file(
            &dir.join(cert_file(cell)),
            issued.chain_pem().as_bytes(),
            false,
        )?;
    }
    let cells: String = CELLS
        .iter()
        .map(|c| format!("{} {}\n", c.name, c.client))
        .collect();
    super::write_file(&dir.join(CELLS_FILE), cells.as_bytes(), false)?;
    let ca_pem = same_dn_ca.cert.cert_pem.as_bytes();
    super::write_file(&dir.join(SAME_DN_CA), ca_pem, false)?;
    // The only place the second CA is trusted: the provider's extra truststore for this lab.
    super::write_file(&dir.join(TRUSTSTORE), ca_pem, false)
}

/// A certificate made the way an attendee makes one: a key and a CSR with openssl, signed
/// by the dev CA with `openssl x509 -req` (random serial; clientAuth).
fn openssl_issue(
    ctx: &Ctx<'_>,
    dir: &Path,
    cell: &Cell,
    subj: &str,
    multivalue: bool,
) -> Result<(), ClientError> {
    let (key, cert) = (key_file(cell), cert_file(cell));
    let csr = format!("{}.csr.pem", cell.name);
    let ext = format!("{}.ext", cell.name);
    super::remove_file(&dir.join(&key))?;
    super::lab1::openssl_key(dir, &key)?;
    let mut req = vec!["req", "-new", "-key", &key, "-subj", subj, "-out", &csr];
    if multivalue {
        req.push("-multivalue-rdn");
    }
    super::run("openssl", &req, dir)?;
    super::write_file(
        &dir.join(&ext),
        b"basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
        false,
    )?;
    let abs = |p: &Path| std::path::absolute(p).map_err(|e| super::io_error(p, e));
    let ca_cert = abs(&ctx.s.ca)?;
    let ca_key = abs(&ctx.s.ca.with_file_name("ca.key.pem"))?;
    super::run(
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_cert.display().to_string(),
            "-CAkey",
            &ca_key.display().to_string(),
            "-days",
            "7",
            "-extfile",
            &ext,
            "-out",
            &cert,
        ],
        dir,
    )?;
    super::remove_file(&dir.join(&csr))?;
    super::remove_file(&dir.join(&ext))
}

/// Offline, before the servers start: the realm copy, the matrix and the template, each if
/// missing.
pub fn prepare(ctx: &Ctx<'_>) -> Result<(), ClientError> {
    let dir = ctx.dir(9)?;
    if !dir.join("realm.json").exists() {
        write_realm_copy(ctx)?;
    }
    if !complete(&dir) {
        make_certificates(ctx, &dir)?;
    }
    if !dir.join(PREDICTIONS).exists() {
        super::write_file(&dir.join(PREDICTIONS), template().as_bytes(), false)?;
    }
    Ok(())
}

/// The predictions set aside and a blank template; the realm copy and the lab's clients;
/// the matrix made again only when incomplete or with `--yes` (the keys are the lab's, but
/// a running provider trusts this truststore.pem).
pub async fn reset(ctx: &Ctx<'_>) -> Result<(), ClientError> {
    let dir = ctx.dir(9)?;
    write_realm_copy(ctx)?;
    if ctx.yes || !complete(&dir) {
        make_certificates(ctx, &dir)?;
    }
    ctx.set_aside(9, &[PREDICTIONS])?;
    super::write_file(&dir.join(PREDICTIONS), template().as_bytes(), false)?;
    let api = probe::bootstrap_admin(ctx).await?;
    let mut created = 0;
    for rep in client_reps() {
        created += usize::from(api.ensure_client(&rep).await?);
    }
    ctx.out.ok(&format!(
        "lab 9 reset: {} certificates in {}, a blank {PREDICTIONS}; the realm has the lab's three clients{}. The same-DN CA is trusted only when the provider starts with ./start.sh --lab 9",
        CELLS.len(),
        dir.display(),
        if created > 0 { format!(" ({created} created now)") } else { String::new() }
    ));
    Ok(())
}

/// The reference predictions (native Keycloak's recorded answers), and the matrix if it is
/// missing.
pub async fn solve(ctx: &Ctx<'_>) -> Result<(), ClientError> {
    let dir = ctx.dir(9)?;
    if !complete(&dir) {
        make_certificates(ctx, &dir)?;
    }
    ctx.copy_solution(9, &[PREDICTIONS])?;
    ctx.out.ok(
        "lab 9 solved: labs/work/lab9/predictions.txt holds Keycloak's answers; client lab check 9",
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predictions_are_name_word_lines_and_blank_is_none() {
        let p = parse("# x\nexact: Token # yes\nreordered:\n  Case : handshake\n");
        assert_eq!(p.get("exact").map(String::as_str), Some("token"));
        assert_eq!(p.get("case").map(String::as_str), Some("handshake"));
        assert!(!p.contains_key("reordered"));
    }

    #[test]
    fn the_template_names_every_cell_without_a_prediction() {
        let t = template();
        for cell in CELLS {
            assert!(t.contains(&format!("\n{}:\n", cell.name)), "{t}");
        }
        assert!(parse(&t).is_empty());
    }
}
