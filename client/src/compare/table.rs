//! `client compare`'s one table, in markdown (it reads in a terminal and pastes into the
//! README as it is): per method, what the token looked like, what the thief got in each
//! attack, what each party checked, and the run's measured cost. A row Keycloak cannot give
//! has its reason under the table.

use super::attacks::{Outcome, Party};
use super::{RowResult, TokenShape};

/// The table's columns, in order.
const COLUMNS: [&str; 11] = [
    "method",
    "token",
    "stolen token, used from another machine",
    "stolen client credential, new token",
    "replayed DPoP proof",
    "the provider checked",
    "the resource server checked",
    "token requests/s",
    "API calls/s",
    "TLS handshakes",
    "bytes on the wire",
];

/// The whole table, then one line per row that was not run.
pub fn render(results: &[RowResult]) -> String {
    let mut lines = vec![
        format!("| {} |", COLUMNS.join(" | ")),
        format!("|{}", "---|".repeat(COLUMNS.len())),
    ];
    let mut notes = Vec::new();
    for r in results {
        let cells: Vec<String> = match (&r.not_possible, &r.token, &r.cost, &r.attacks) {
            (None, Some(token), Some(cost), Some(attacks)) => vec![
                r.row.name.to_owned(),
                token_cell(token),
                outcome_cell(&attacks.stolen_token),
                outcome_cell(&attacks.stolen_credential),
                outcome_cell(&attacks.replayed_proof),
                r.row.provider_checks.to_owned(),
                format!("signature, iss, exp; {}", r.row.api_checks),
                format!("{:.0}", cost.tokens_per_second),
                format!("{:.0}", cost.calls_per_second),
                format!(
                    "{} for {} token requests + {} calls",
                    cost.handshakes, cost.token_requests, cost.calls
                ),
                format!(
                    "{} ({} per request)",
                    kib(cost.bytes_read + cost.bytes_written),
                    (cost.bytes_read + cost.bytes_written)
                        / u64::from((cost.token_requests + cost.calls).max(1))
                ),
            ],
            _ => {
                let why = r.not_possible.clone().unwrap_or_default();
                notes.push(format!("- {}: not run. {why}", r.row.name));
                let mut cells = vec![r.row.name.to_owned(), "not issued (below)".to_owned()];
                cells.resize(COLUMNS.len(), "—".to_owned());
                cells
            }
        };
        let cells: Vec<String> = cells.iter().map(|c| cell(c)).collect();
        lines.push(format!("| {} |", cells.join(" | ")));
    }
    let mut text = lines.join("\n");
    if !notes.is_empty() {
        text.push_str("\n\n");
        text.push_str(&notes.join("\n"));
    }
    text
}

/// `Bearer, no cnf` / `DPoP, cnf.jkt`.
fn token_cell(t: &TokenShape) -> String {
    if t.cnf.is_empty() {
        format!("{}, no cnf", t.token_type)
    } else {
        let cnf: Vec<String> = t.cnf.iter().map(|m| format!("cnf.{m}")).collect();
        format!("{}, {}", t.token_type, cnf.join(" + "))
    }
}

/// `**gets in** (200)` / `refused by the resource server: 401 invalid_token (…)`.
fn outcome_cell(o: &Outcome) -> String {
    match o {
        Outcome::Gets { status } => format!("**gets in** ({status})"),
        Outcome::Refused {
            by,
            status,
            error,
            why,
        } => {
            let by = match by {
                Party::Provider => "the provider",
                Party::ResourceServer => "the resource server",
            };
            format!("refused by {by}: {status} {error} ({})", short(why, 90))
        }
        Outcome::NotApplicable { why } => format!("n/a: {why}"),
    }
}

/// A cell's text on one line, its pipes escaped.
fn cell(text: &str) -> String {
    text.replace('\n', " ").replace('|', "\\|")
}

/// The first `n` characters of `text`, `…` when cut.
fn short(text: &str, n: usize) -> String {
    if text.chars().count() <= n {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(n).collect::<String>())
    }
}

/// `12.3 KiB`.
fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::{Attacks, Cost, ROWS};

    /// A run row and a row not run: every run row has every column, the other its reason
    /// under the table; a pipe in a server's reason does not break the table.
    #[test]
    fn every_row_has_every_column() {
        let run = RowResult {
            row: ROWS[0],
            not_possible: None,
            token: Some(TokenShape {
                token_type: "Bearer".into(),
                cnf: vec![],
            }),
            cost: Some(Cost {
                token_requests: 10,
                tokens_per_second: 100.0,
                calls: 20,
                calls_per_second: 400.0,
                handshakes: 2,
                bytes_written: 4096,
                bytes_read: 8192,
            }),
            attacks: Some(Attacks {
                stolen_token: Outcome::Gets { status: 200 },
                stolen_credential: Outcome::Refused {
                    by: Party::Provider,
                    status: 401,
                    error: "invalid_client".into(),
                    why: "a | b".into(),
                },
                replayed_proof: Outcome::NotApplicable { why: "no proof" },
            }),
        };
        let not_run = RowResult {
            row: *ROWS
                .iter()
                .find(|r| r.name == "mTLS + DPoP")
                .expect("the mTLS + DPoP row"),
            not_possible: Some("Keycloak binds it to the certificate only".into()),
            token: None,
            cost: None,
            attacks: None,
        };
        let text = render(&[run, not_run]);
        let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("| ")).collect();
        assert_eq!(rows.len(), 3, "{text}");
        for row in &rows {
            let unescaped = row.replace("\\|", "");
            assert_eq!(unescaped.matches('|').count(), COLUMNS.len() + 1, "{row}");
        }
        assert!(rows[1].contains("**gets in** (200)"), "{text}");
        assert!(rows[1].contains("12.0 KiB (409 per request)"), "{text}");
        assert!(
            text.contains("- mTLS + DPoP: not run. Keycloak binds"),
            "{text}"
        );
    }
}
