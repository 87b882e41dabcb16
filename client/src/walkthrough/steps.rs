//! The walkthrough's steps, defined once: number, title and expected outcome of each.
//!
//! Everything that names a step reads [`STEPS`]: the narration and the report
//! (`narrate`), the final summary, `client walkthrough --help` ([`help_list`]), and
//! the test below that checks README.md's walkthrough table against it
//! ([`readme_rows`]). RFC 8705 §2.1 (mutual-TLS client authentication) and §3
//! (certificate-bound tokens) are what steps 2–4 and 7 show; RFC 6750 §3.1 names the
//! resource server's refusals in steps 5, 7 and 8.

/// One step of the flow: its number, what it does, what should happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepDef {
    pub number: &'static str,
    pub name: &'static str,
    pub expected: &'static str,
}

/// Every step, in order; the narration, the summary, the report, `--help` and the README
/// check all read this table.
pub const STEPS: &[StepDef] = &[
    StepDef {
        number: "1",
        name: "The certificates",
        expected: "client.pem is a clientAuth certificate issued by the dev CA",
    },
    StepDef {
        number: "2",
        name: "Token request without a client certificate",
        expected: "401 invalid_client",
    },
    StepDef {
        number: "3",
        name: "Token request with the wrong certificate (same CA, other DN)",
        expected: "401 invalid_client",
    },
    StepDef {
        number: "3b",
        name: "Token request with a certificate from an untrusted CA (right DN)",
        // Both refuse it in the handshake, with different alerts: rustls (the embedded
        // provider) sends unknown_ca, Java's TLS stack (Keycloak 26.7.5, even under
        // https-client-auth=request) certificate_unknown. Behind a proxy the proxy refuses
        // it (nginx: 401 invalid_client); the step passes only on what its topology gives
        // (client_auth::UntrustedCaRefusal).
        expected: "refused in the TLS handshake (rustls: UnknownCA; Keycloak on Java: CertificateUnknown), no token",
    },
    StepDef {
        number: "4",
        name: "Token request with the right certificate",
        expected: "200 with an access token whose cnf.x5t#S256 is client.pem's thumbprint",
    },
    StepDef {
        number: "5",
        name: "Resource server without the role",
        expected: "403 insufficient_scope (the token lacks the realm role)",
    },
    StepDef {
        number: "6",
        name: "Assign the role through the admin API; a new token carries it",
        expected: "role assigned, the new token has it in realm_access.roles, 200",
    },
    StepDef {
        number: "7",
        name: "The same token over a connection with another certificate",
        expected: "401 invalid_token: cnf.x5t#S256 does not match this connection's certificate",
    },
    StepDef {
        number: "8",
        name: "A write call the role does not allow",
        expected: "403 insufficient_scope (POST needs another role)",
    },
];

/// The step numbered `number` in [`STEPS`].
pub(super) fn def(number: &str) -> &'static StepDef {
    STEPS
        .iter()
        .find(|d| d.number == number)
        .expect("every step number used is in STEPS")
}

/// The list `client walkthrough --help` prints: each step's number and title, then what
/// it should show.
pub fn help_list() -> String {
    STEPS
        .iter()
        .map(|d| format!("  {:<3} {}\n      → {}", d.number, d.name, d.expected))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first three columns of README.md's walkthrough table (`| # | step | expected |`),
/// as the test below expects them (backticks in the README are not compared).
pub fn readme_rows() -> Vec<[&'static str; 3]> {
    STEPS
        .iter()
        .map(|d| [d.number, d.name, d.expected])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// README.md's walkthrough table: one row per step, in order, whose `#`, `step` and
    /// `expected` cells say what [`STEPS`] says (the `what it teaches` column is the
    /// README's own).
    #[test]
    fn the_readme_table_is_the_step_list() {
        let readme = include_str!("../../../README.md");
        let header = "| # | step | expected | what it teaches |";
        let table = readme
            .split_once(header)
            .expect("README.md has the walkthrough table")
            .1;
        let rows: Vec<Vec<String>> = table
            .lines()
            .skip(2) // the rest of the header line, then |---|
            .take_while(|l| l.starts_with('|'))
            .map(|l| {
                l.trim_matches('|')
                    .split(" | ")
                    .take(3)
                    .map(|cell| cell.trim().replace('`', ""))
                    .collect()
            })
            .collect();
        let expected: Vec<Vec<String>> = readme_rows()
            .iter()
            .map(|row| row.iter().map(|c| (*c).to_owned()).collect())
            .collect();
        assert_eq!(
            rows,
            expected,
            "README.md's walkthrough table must say what walkthrough::STEPS says; its first \
             three columns should read:\n{}",
            readme_rows()
                .iter()
                .map(|[n, s, e]| format!("| {n} | {s} | {e} |"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    #[test]
    fn the_help_list_names_every_step() {
        let help = help_list();
        for d in STEPS {
            assert!(help.contains(d.name) && help.contains(d.expected), "{help}");
        }
        assert_eq!(help.lines().count(), 2 * STEPS.len());
    }
}
