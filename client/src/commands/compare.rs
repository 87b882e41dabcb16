//! `client compare`: each row of [`crate::compare::ROWS`] run live (its cost, then the three
//! attacks), narrated row by row, then the one table; `--json` gives the rows, the table and
//! the machine they were measured on.

use playbook::x509::Purpose;
use playbook::{Identity, pem};
use serde_json::json;

use super::{identity, token_endpoint};
use crate::cli::CompareArgs;
use crate::compare::{self, Counts, Outcome, Run};
use crate::error::ClientError;
use crate::output::Output;
use crate::settings::Settings;
use crate::token::ClientAuth;

pub(super) async fn run(
    s: &Settings,
    args: &CompareArgs,
    out: &Output,
) -> Result<bool, ClientError> {
    let client = identity(s)?;
    let thief = Identity::load(&s.other_cert, &s.other_key, Some(Purpose::Client))?;
    let run = Run {
        s,
        roots: pem::load_ca_certs(&s.ca)?,
        client,
        thief,
        token_endpoint: token_endpoint(s, &ClientAuth::SecretBasic(s.client_secret.clone()))
            .await?,
        mtls_token_endpoint: token_endpoint(s, &ClientAuth::TlsClientAuth).await?,
        counts: Counts {
            tokens: args.tokens,
            calls: args.calls,
        },
    };
    let machine = compare::machine();
    out.plain(&format!("measured on {machine}"));
    let mut results = Vec::new();
    for (i, row) in compare::ROWS.iter().enumerate() {
        out.step(
            &(i + 1).to_string(),
            &format!(
                "{} (--auth {} --bind {})",
                row.name,
                format!("{:?}", row.auth).to_lowercase(),
                format!("{:?}", row.bind).to_lowercase()
            ),
        );
        let result = run.row(row).await?;
        narrate(&result, out);
        results.push(result);
    }
    let table = compare::table::render(&results);
    out.heading("The comparison (numbers from this run)");
    out.plain(&table);
    out.json(&json!({"machine": machine, "rows": results, "table": table}));
    Ok(true)
}

/// One row's token, cost and attacks, as they came.
fn narrate(r: &compare::RowResult, out: &Output) {
    if let Some(why) = &r.not_possible {
        out.note(&format!("not run: {why}"));
        return;
    }
    if let (Some(token), Some(cost)) = (&r.token, &r.cost) {
        out.ok(&format!(
            "{} token requests ({:.0}/s), {} API calls ({:.0}/s), {} TLS handshakes, {} bytes \
             on the wire; token_type {}, cnf {:?}",
            cost.token_requests,
            cost.tokens_per_second,
            cost.calls,
            cost.calls_per_second,
            cost.handshakes,
            cost.bytes_read + cost.bytes_written,
            token.token_type,
            token.cnf
        ));
    }
    let Some(attacks) = &r.attacks else { return };
    for (name, outcome) in [
        (
            "a stolen token, used from another machine",
            &attacks.stolen_token,
        ),
        (
            "a stolen client credential, for a new token",
            &attacks.stolen_credential,
        ),
        ("a replayed DPoP proof", &attacks.replayed_proof),
    ] {
        match outcome {
            Outcome::Gets { status } => out.warn(&format!("{name}: the thief gets in ({status})")),
            Outcome::Refused {
                by,
                status,
                error,
                why,
            } => out.ok(&format!(
                "{name}: refused by the {}: {status} {error}: {why}",
                match by {
                    compare::attacks::Party::Provider => "provider",
                    compare::attacks::Party::ResourceServer => "resource server",
                }
            )),
            Outcome::NotApplicable { why } => out.note(&format!("{name}: n/a, {why}")),
        }
    }
}
