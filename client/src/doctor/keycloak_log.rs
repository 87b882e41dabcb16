//! What Keycloak 26.7.5 writes in its log for each cause `client doctor` names, keyed to the
//! doctor's check ids: the line a person would otherwise search the server log for. Keycloak
//! answers every client-authentication failure with the same `invalid_client`; its log says
//! which it was, some of it only at DEBUG.
//!
//! The format strings are Keycloak's own (`X509ClientAuthenticator`, `ClientAuthenticationFlow`,
//! `ClientCredentialsGrantType`'s event, the event logger `org.keycloak.events`), read from
//! the 26.7.5 distribution's classes, and each is found in the log of a native Keycloak 26.7.5
//! after provoking its cause (`doctor_rows_on_native_keycloak` in `client/tests/doctor.rs`,
//! run with DEBUG on the X.509 authenticator's logger).

/// One line Keycloak logs for a cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct LogLine {
    /// The doctor check whose ✘ this line explains.
    pub check: &'static str,
    /// `WARN`, `DEBUG`, … (at DEBUG only with `--log-level=INFO,<logger>:debug`).
    pub level: &'static str,
    /// The logger (category) that writes it.
    pub logger: &'static str,
    /// Keycloak's format string (`%s` / `{0}` where it puts a value), or, for the event
    /// logger, the part of the event line that names the cause.
    pub line: &'static str,
}

/// The authenticator's logger.
const X509: &str = "org.keycloak.authentication.authenticators.client.X509ClientAuthenticator";
/// The event logger (`JBossLoggingEventListenerProvider`): a failed event at WARN.
const EVENTS: &str = "org.keycloak.events";

/// The `client-jwt` assertion's claim checks (`AbstractBaseJWTValidator`).
const JWT_VALIDATOR: &str =
    "org.keycloak.authentication.authenticators.client.AbstractBaseJWTValidator";

/// `ServicesLogger` (`KC-SERVICES…` messages).
const SERVICES: &str = "org.keycloak.services";

/// The flow that runs the client authenticators (`ClientAuthenticationFlow`).
const FLOW: &str = "org.keycloak.authentication.ClientAuthenticationFlow";

/// Every line, by check (a check may have several: the event and the flow at WARN, the
/// reason at DEBUG). A cause Keycloak does not log (the handshake refused by the JVM before
/// Keycloak's code runs; a token issued without binding or role; a revoked certificate, which
/// Keycloak by default does not check) has none.
pub const KEYCLOAK_LOG: &[LogLine] = &[
    LogLine {
        check: "realm-subject-dn",
        level: "DEBUG",
        logger: X509,
        line: "[X509ClientCertificateAuthenticator:authenticate] Couldn't match any certificate for expected Subject DN '%s' with allow regex pattern '%s'.",
    },
    LogLine {
        check: "realm-subject-dn",
        level: "WARN",
        logger: FLOW,
        line: "Client authentication was attempted did not complete for client-x509",
    },
    LogLine {
        check: "realm-subject-dn",
        level: "WARN",
        logger: EVENTS,
        line: r#"type="CLIENT_LOGIN_ERROR", … error="invalid_client_credentials""#,
    },
    LogLine {
        check: "realm-ca-subject-dn",
        level: "DEBUG",
        logger: X509,
        line: "[X509ClientCertificateAuthenticator:authenticate] Couldn't match CA certificate for expected Subject DNx %s with allow regex pattern '%s'.",
    },
    LogLine {
        check: "realm-ca-subject-dn",
        level: "WARN",
        logger: FLOW,
        line: "Client authentication was attempted did not complete for client-x509",
    },
    LogLine {
        check: "realm-ca-subject-dn",
        level: "WARN",
        logger: EVENTS,
        line: r#"type="CLIENT_LOGIN_ERROR", … error="invalid_client_credentials""#,
    },
    LogLine {
        check: "authenticator",
        level: "WARN",
        logger: EVENTS,
        line: r#"type="CLIENT_LOGIN_ERROR", … error="invalid_client_credentials""#,
    },
    LogLine {
        check: "service-account",
        level: "WARN",
        logger: EVENTS,
        line: r#"type="CLIENT_LOGIN_ERROR", … error="invalid_client", reason="Client not enabled to retrieve service account""#,
    },
    LogLine {
        check: "client",
        level: "WARN",
        logger: EVENTS,
        line: r#"type="CLIENT_LOGIN_ERROR", … error="client_not_found""#,
    },
    // doctorproxy: behind a proxy, what the x509 lookup (here `haproxy`; the header
    // lookups share `AbstractClientCertificateFromHttpHeadersLookup`'s logger) and the
    // authenticator log; found in a native Keycloak's log by
    // `doctor_proxy_rows_on_native_keycloak` (`client/tests/doctor_proxy.rs`).
    LogLine {
        check: "proxy-header",
        level: "WARN",
        logger: LOOKUP,
        line: r#"HTTP header "%s" is empty"#,
    },
    LogLine {
        check: "proxy-header",
        level: "DEBUG",
        logger: X509,
        line: "[X509ClientCertificateAuthenticator:authenticate] x509 client certificate is not available for mutual SSL.",
    },
    LogLine {
        check: "proxy-encoding",
        level: "ERROR",
        logger: X509,
        line: "[X509ClientCertificateAuthenticator:authenticate] Exception: %s",
    },
    LogLine {
        check: "proxy-chain",
        level: "WARN",
        logger: X509,
        line: "Invalid certificate %s",
    },
    LogLine {
        check: "proxy-chain",
        level: "DEBUG",
        logger: X509,
        line: "[X509ClientCertificateAuthenticator:authenticate] Cert '%s' is not trusted by keycloak.",
    },
    LogLine {
        check: "proxy-verifies",
        level: "WARN",
        logger: X509,
        line: "Invalid certificate %s",
    },
    LogLine {
        check: "proxy-verifies",
        level: "DEBUG",
        logger: X509,
        line: "[X509ClientCertificateAuthenticator:authenticate] Cert '%s' is not trusted by keycloak.",
    },
    LogLine {
        check: "proxy-source",
        level: "WARN",
        logger: LOOKUP,
        line: r#"HTTP header "%s" is not trusted"#,
    },
    LogLine {
        check: "proxy-spoof",
        level: "DEBUG",
        logger: LOOKUP,
        line: r#"Found a valid x.509 certificate in "%s" HTTP header"#,
    },
    LogLine {
        check: "proxy-spoof",
        level: "DEBUG",
        logger: RFC9440,
        line: "Parsed certificate : Subject DN=[%s]  SerialNumber=[%s]",
    },
    LogLine {
        check: "proxy-forwarding",
        level: "DEBUG",
        logger: X509,
        line: "[X509ClientCertificateAuthenticator:authenticate] x509 client certificate is not available for mutual SSL.",
    },
    // --- doctormethods (issue 26): the methods beside mTLS, each found on its row's client in
    // a native Keycloak's log. A refused assertion is the event's invalid_client_credentials
    // (JWTClientValidator's failure; a wrong key also ServicesLogger's ERROR), a replayed jti
    // also AbstractBaseJWTValidator's WARN; an assertion to a client of another authenticator
    // is client_not_found (though the client exists); a DPoP refusal is DPoPUtil's event.
    LogLine {
        check: "jwt-authenticator",
        level: "WARN",
        logger: EVENTS,
        line: r#"type="CLIENT_LOGIN_ERROR", … error="client_not_found", client_assertion_issuer="%s""#,
    },
    LogLine {
        check: "jwt-no-key",
        level: "WARN",
        logger: EVENTS,
        line: r#"type="CLIENT_LOGIN_ERROR", … error="client_credentials_setup_required", client_assertion_issuer="%s""#,
    },
    LogLine {
        check: "jwt-registered-key",
        level: "ERROR",
        logger: SERVICES,
        line: "KC-SERVICES0025: Error when validating client assertion: %s",
    },
    LogLine {
        check: "jwt-signature",
        level: "ERROR",
        logger: SERVICES,
        line: "KC-SERVICES0025: Error when validating client assertion: %s",
    },
    LogLine {
        check: "jwt-registered-key",
        level: "WARN",
        logger: EVENTS,
        line: REFUSED_ASSERTION,
    },
    LogLine {
        check: "jwt-signing-alg",
        level: "WARN",
        logger: EVENTS,
        line: REFUSED_ASSERTION,
    },
    LogLine {
        check: "jwt-signature",
        level: "WARN",
        logger: EVENTS,
        line: REFUSED_ASSERTION,
    },
    LogLine {
        check: "jwt-alg",
        level: "WARN",
        logger: EVENTS,
        line: REFUSED_ASSERTION,
    },
    LogLine {
        check: "jwt-audience",
        level: "WARN",
        logger: EVENTS,
        line: REFUSED_ASSERTION,
    },
    LogLine {
        check: "jwt-lifetime",
        level: "WARN",
        logger: EVENTS,
        line: REFUSED_ASSERTION,
    },
    LogLine {
        check: "jwt-replay",
        level: "WARN",
        logger: EVENTS,
        line: REFUSED_ASSERTION,
    },
    LogLine {
        check: "jwt-replay",
        level: "WARN",
        logger: JWT_VALIDATOR,
        line: "Token '%s' already used when for issuedFor '%s'.",
    },
    LogLine {
        check: "dpop-required",
        level: "WARN",
        logger: EVENTS,
        line: r#"type="CLIENT_LOGIN_ERROR", … error="invalid_dpop_proof", reason="DPoP proof is missing""#,
    },
];

/// The event of an assertion Keycloak refused (JWTClientValidator's failure): one line for
/// every cause of a refused `private_key_jwt` assertion.
const REFUSED_ASSERTION: &str = r#"type="CLIENT_LOGIN_ERROR", … error="invalid_client_credentials", client_assertion_issuer="%s""#;

/// The header lookups' logger (doctorproxy).
const LOOKUP: &str = "org.keycloak.services.x509.AbstractClientCertificateFromHttpHeadersLookup";
/// The rfc9440 lookup's own logger (it does not extend the header lookups' class).
const RFC9440: &str = "org.keycloak.services.x509.Rfc9440ClientCertificateLookup";

/// The lines `check`'s cause leaves with Keycloak's lookup `lookup` (its
/// spi-x509cert-lookup--provider id): the header lookups' logger, or rfc9440's own.
pub fn lines_for_lookup(check: &str, lookup: &str) -> Vec<LogLine> {
    let rfc9440 = lookup == "rfc9440";
    KEYCLOAK_LOG
        .iter()
        .filter(|l| l.check == check)
        .filter(|l| match l.logger {
            LOOKUP => !rfc9440,
            RFC9440 => rfc9440,
            _ => true,
        })
        .copied()
        .collect()
}

/// The lines Keycloak logs for `check`'s cause (behind a proxy: with the header lookups;
/// [`lines_for_lookup`] for another).
pub fn lines_for(check: &str) -> Vec<LogLine> {
    lines_for_lookup(check, "")
}

/// For each of `checks`, the lines Keycloak logs for it that `log` does not hold, named (the
/// native tests' check of this table against a real log).
pub fn missing_in<'a>(log: &str, checks: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    missing_in_lookup(log, checks, "")
}

/// [`missing_in`] for a Keycloak started with the lookup `lookup`.
pub fn missing_in_lookup<'a>(
    log: &str,
    checks: impl IntoIterator<Item = &'a str>,
    lookup: &str,
) -> Vec<String> {
    checks
        .into_iter()
        .flat_map(|check| lines_for_lookup(check, lookup))
        .filter(|line| !line.found_in(log))
        .map(|line| format!("{}: Keycloak's log has no line {:?}", line.check, line.line))
        .collect()
}

impl LogLine {
    /// Whether some line of `log` is this one: its literal parts (between the `%s`, `{0}` and
    /// `…` placeholders) appear in it in order. Used to check the table against a real log.
    pub fn found_in(&self, log: &str) -> bool {
        let parts: Vec<&str> = self
            .line
            .split(['…'])
            .flat_map(|p| p.split("%s"))
            .flat_map(|p| p.split("{0}"))
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        log.lines().any(|line| {
            let mut rest = line;
            parts.iter().all(|p| match rest.find(p) {
                Some(at) => {
                    rest = &rest[at + p.len()..];
                    true
                }
                None => false,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_found_by_its_literal_parts_in_order() {
        let l = lines_for("realm-subject-dn")[0];
        let log = "2026-12-07 DEBUG [org.keycloak...] [X509ClientCertificateAuthenticator:authenticate] Couldn't match any certificate for expected Subject DN 'CN=x' with allow regex pattern 'false'.";
        assert!(l.found_in(log));
        assert!(!l.found_in(
            "[X509ClientCertificateAuthenticator:authenticate] Matched CN=x certificate."
        ));
        let event = lines_for("realm-subject-dn")[2];
        assert!(event.found_in(r#"WARN [org.keycloak.events] type="CLIENT_LOGIN_ERROR", realmId="r", clientId="c", error="invalid_client_credentials", grant_type="client_credentials""#));
        assert!(!event.found_in(r#"type="CLIENT_LOGIN_ERROR", error="client_not_found""#));
    }

    #[test]
    fn every_line_names_a_doctor_check() {
        let ids: Vec<&str> = crate::doctor::CHECKS
            .iter()
            .map(|c| c.id)
            .chain(
                crate::doctor::online::ONLINE_CHECKS
                    .iter()
                    .chain(crate::doctor::methods::METHOD_CHECKS)
                    .map(|(id, _)| *id),
            )
            .chain(crate::doctor::proxy::PROXY_CHECKS.iter().map(|(id, _)| *id))
            .collect();
        for l in KEYCLOAK_LOG {
            assert!(ids.contains(&l.check), "{l:?}");
        }
    }
}
