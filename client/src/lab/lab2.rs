//! Lab 2: DN matching in the realm (Keycloak's `X509ClientAuthenticator`).
//!
//! The lab issues certificates from the dev CA into `labs/work/lab2/`: two devices the
//! client must accept and two decoys it must refuse. The attendee changes the mTLS client's
//! `x509.subjectdn`: first an exact DN (device-042 only), then a regex with
//! `x509.allow.regex.pattern.comparison=true` (every device, no decoy). On the embedded
//! provider by editing the realm file and re-importing it (a restart); on Keycloak, which
//! skips the import of an existing realm, through the admin API.

use std::path::Path;

use playbook::names;
use playbook::pki::Validity;

use super::{Check, Ctx, Lab, LabInfo, probe};
use crate::error::ClientError;

pub const INFO: LabInfo = LabInfo {
    number: 2,
    folder: "02-dn-matching",
    title: "DN matching in the realm: exact, then a regex",
    minutes: 30,
    first_step: "look at the lab's certificates: cargo run -q -p client -- certs show labs/work/lab2/*.pem",
};

pub const LAB: Lab = Lab {
    prepare,
    ..super::lab!()
};

/// The certificates the lab issues: (file stem, subject DN, must the client accept it at
/// the end).
pub const CERTS: [(&str, &str, bool); 4] = [
    (
        "device-042",
        "CN=device-042,OU=Devices,O=OAuth2 Playbook",
        true,
    ),
    (
        "device-117",
        "CN=device-117,OU=Devices,O=OAuth2 Playbook",
        true,
    ),
    (
        "decoy-org",
        "CN=device-042,OU=Devices,O=OAuth2 Playbook Labs",
        false,
    ),
    (
        "decoy-name",
        "CN=device-042-admin,OU=Devices,O=OAuth2 Playbook",
        false,
    ),
];
const SUBJECT_DN: &str = "x509.subjectdn";
const ALLOW_REGEX: &str = "x509.allow.regex.pattern.comparison";
/// The reference solution's regex. Keycloak matches it against Java's legacy DN form
/// (`CN=…, OU=…, O=…`: comma and space), in full.
pub const SOLUTION_REGEX: &str = "CN=device-[0-9]+, OU=Devices, O=OAuth2 Playbook";
pub const REALM_COPY: &str = "realm.json";

pub async fn check(ctx: &Ctx<'_>) -> Result<Vec<Check>, ClientError> {
    let dir = ctx.dir(2)?;
    let mut checks = Vec::new();
    if let Some(missing) = CERTS
        .iter()
        .find(|(f, _, _)| !dir.join(format!("{f}.pem")).exists())
    {
        checks.push(Check::fail(
            "the lab's certificates",
            format!("{}/{}.pem", dir.display(), missing.0),
            "missing",
            "client lab reset 2 (or ./start.sh --lab 2) issues them",
        ));
        return Ok(checks);
    }
    let attrs = match probe::bootstrap_admin(ctx).await {
        Ok(api) => api.client_attributes(ctx.s.client_id.as_str()).await?,
        Err(e) => {
            checks.push(probe::unreachable("the client's attributes", &e));
            return Ok(checks);
        }
    };
    let get = |k: &str| {
        attrs
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_owned()
    };
    // Missing counts as true (OIDCAdvancedConfigWrapper#getAllowRegexPatternComparison).
    let regex = attrs
        .get(ALLOW_REGEX)
        .and_then(|v| v.as_str())
        .is_none_or(|v| v.eq_ignore_ascii_case("true"));
    let mut outcomes = Vec::new();
    for (file, dn, _) in CERTS {
        let id = probe::identity_unchecked(
            &dir.join(format!("{file}.pem")),
            &dir.join(format!("{file}.key.pem")),
        )?;
        let o = match probe::token(ctx, &id, ctx.s.client_id.as_str(), None).await {
            Ok(o) => o,
            Err(e) => {
                checks.push(probe::unreachable(&format!("token with {file}.pem"), &e));
                return Ok(checks);
            }
        };
        outcomes.push((file, dn, o.token().is_some(), o.describe()));
    }
    let accepted = |f: &str| outcomes.iter().any(|(file, _, ok, _)| *file == f && *ok);
    // Stage 1: exact, device-042 only.
    let stage1 = accepted("device-042") && !accepted("decoy-org") && !accepted("decoy-name");
    checks.push(Check::expect(
        stage1,
        "stage 1: device-042 accepted, the decoys refused",
        "device-042 → 200; decoy-org and decoy-name → 401 invalid_client",
        outcomes
            .iter()
            .map(|(f, _, _, d)| format!("{f} → {d}"))
            .collect::<Vec<_>>()
            .join(", "),
        "x509.subjectdn is compared with the certificate's subject in RFC 2253 form: most specific RDN first, values case-sensitive",
    ));
    checks.push(Check::expect(
        regex,
        "stage 2: regex comparison on",
        format!("{ALLOW_REGEX} = true"),
        format!("{ALLOW_REGEX} = {:?}", get(ALLOW_REGEX)),
        "after stage 1 works, switch the client to regex matching",
    ));
    if regex {
        for (file, dn, want, found) in outcomes.iter().map(|(f, dn, ok, d)| {
            let want = CERTS.iter().any(|(c, _, w)| c == f && *w);
            (
                f,
                dn,
                want,
                if *ok == want {
                    d.clone()
                } else {
                    format!("{d} (x509.subjectdn = {:?})", get(SUBJECT_DN))
                },
            )
        }) {
            let ok = accepted(file) == want;
            checks.push(Check::expect(
                ok,
                format!("stage 2: {file} {}", if want { "accepted" } else { "refused" }),
                if want { "200, a token".to_owned() } else { "401 invalid_client".to_owned() },
                found,
                if want {
                    format!("the regex must match {dn:?} written as Java does: \", \" between RDNs, in full")
                } else {
                    format!("a regex must match the whole DN; make it precise enough that {dn:?} does not match")
                },
            ));
        }
    }
    Ok(checks)
}

/// Issues the lab's certificates from the dev CA into `dir` (keys the lab owns: replaced).
fn issue_certs(ctx: &Ctx<'_>, dir: &Path) -> Result<(), ClientError> {
    let ca = ctx.dev_ca()?;
    for (file, dn, _) in CERTS {
        let issued = ca.issue_client(dn, Validity::days_from_now(7))?;
        super::write_file(
            &dir.join(format!("{file}.pem")),
            issued.cert_pem.as_bytes(),
            false,
        )?;
        super::write_file(
            &dir.join(format!("{file}.key.pem")),
            issued.key_pem.as_bytes(),
            true,
        )?;
    }
    Ok(())
}

/// The offline part of the start state: the certificates and the realm copy, when missing
/// (`./start.sh --lab 2` runs this before the provider imports the copy).
pub fn prepare(ctx: &Ctx<'_>) -> Result<(), ClientError> {
    let dir = ctx.dir(2)?;
    if !dir.join("device-042.pem").exists() {
        issue_certs(ctx, &dir)?;
    }
    if !dir.join(REALM_COPY).exists() {
        write_realm_copy(ctx, &dir, None)?;
    }
    Ok(())
}

/// `labs/work/lab2/realm.json`: the stock realm file, or with the mTLS client's
/// `x509.*` attributes set to `attrs`.
fn write_realm_copy(
    ctx: &Ctx<'_>,
    dir: &Path,
    attrs: Option<[(&str, &str); 2]>,
) -> Result<(), ClientError> {
    let Some(attrs) = attrs else {
        // Byte for byte: an attendee diffs the copy against the stock file.
        let stock = ctx
            .root
            .join("oauth2-provider/import/oauth2-playbook-realm.json");
        let text = std::fs::read(&stock).map_err(|e| super::io_error(&stock, e))?;
        return super::write_file(&dir.join(REALM_COPY), &text, false);
    };
    let mut realm = ctx.stock_realm()?;
    if let Some(clients) = realm["clients"].as_array_mut() {
        for c in clients
            .iter_mut()
            .filter(|c| c["clientId"] == ctx.s.client_id.as_str())
        {
            for (k, v) in attrs {
                c["attributes"][k] = serde_json::Value::String(v.to_owned());
            }
        }
    }
    ctx.write_realm_copy(2, &realm)
}

/// The realm's own `x509.subjectdn` back (exact), through the admin API and in the copy.
pub async fn reset(ctx: &Ctx<'_>) -> Result<(), ClientError> {
    let dir = ctx.dir(2)?;
    issue_certs(ctx, &dir)?;
    write_realm_copy(ctx, &dir, None)?;
    set(
        ctx,
        [
            (SUBJECT_DN, names::CLIENT_SUBJECT_DN),
            (ALLOW_REGEX, "false"),
        ],
    )
    .await?;
    ctx.out.ok("lab 2 reset: the client's x509.subjectdn is the realm's own again (exact); labs/work/lab2/ has fresh certificates and realm.json");
    ctx.out
        .note("the client's usual certificate (certs/client.pem) works again");
    Ok(())
}

pub async fn solve(ctx: &Ctx<'_>) -> Result<(), ClientError> {
    let dir = ctx.dir(2)?;
    let attrs = [(SUBJECT_DN, SOLUTION_REGEX), (ALLOW_REGEX, "true")];
    write_realm_copy(ctx, &dir, Some(attrs))?;
    set(ctx, attrs).await?;
    ctx.out.ok(&format!("lab 2 solved: x509.subjectdn = {SOLUTION_REGEX:?} as a regex (admin API, and labs/work/lab2/realm.json)"));
    Ok(())
}

async fn set(ctx: &Ctx<'_>, attrs: [(&str, &str); 2]) -> Result<(), ClientError> {
    let api = probe::bootstrap_admin(ctx).await?;
    api.set_client_attributes(ctx.s.client_id.as_str(), &attrs)
        .await
}
