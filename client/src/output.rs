//! How the client talks to a person (numbered steps, what is sent, what comes back, the
//! equivalent `curl`) or to a script (`--json`: one JSON document on stdout).
//!
//! Colours only when stdout is a terminal and `NO_COLOR` is unset. Unless `--show-secrets`,
//! a JWT shows only the start of its header (`eyJhbGciOi…(1102 chars)`) and a password or
//! secret only its length (`[redacted, 13 chars]`).

use std::io::{IsTerminal as _, Write};
use std::sync::{Arc, Mutex};

use serde_json::Value;

/// Who reads the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Narrated, numbered lines.
    Human,
    /// Only the final JSON document.
    Json,
    /// Nothing (tests that only look at the returned report).
    Quiet,
}

/// The output sink shared by every command.
pub struct Output {
    mode: Mode,
    color: bool,
    show_secrets: bool,
    out: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Output")
            .field("mode", &self.mode)
            .field("color", &self.color)
            .field("show_secrets", &self.show_secrets)
            .finish()
    }
}

/// A `Write` into shared memory, so a test can read what a command printed.
#[derive(Debug, Clone, Default)]
pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const BOLD: &str = "\x1b[1m";
const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const DIM: &str = "\x1b[2m";
const CYAN: &str = "\x1b[36m";
const RESET: &str = "\x1b[0m";

impl Output {
    /// Output to stdout; colours when stdout is a terminal and `NO_COLOR` is not set.
    pub fn stdout(json: bool, show_secrets: bool) -> Self {
        let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Output {
            mode: if json { Mode::Json } else { Mode::Human },
            color: color && !json,
            show_secrets,
            out: Mutex::new(Box::new(std::io::stdout())),
        }
    }

    /// Human output captured in memory, without colours.
    pub fn captured(show_secrets: bool) -> (Self, Captured) {
        let buf = Captured::default();
        let out = Output {
            mode: Mode::Human,
            color: false,
            show_secrets,
            out: Mutex::new(Box::new(buf.clone())),
        };
        (out, buf)
    }

    /// No output at all.
    pub fn quiet() -> Self {
        Output {
            mode: Mode::Quiet,
            color: false,
            show_secrets: false,
            out: Mutex::new(Box::new(std::io::sink())),
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn is_human(&self) -> bool {
        self.mode == Mode::Human
    }

    fn line(&self, text: &str) {
        if self.is_human() {
            let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
            // A closed pipe (`client … | head`) is not worth a panic.
            let _ = writeln!(out, "{text}");
        }
    }

    fn paint(&self, color: &str, text: &str) -> String {
        if self.color {
            format!("{color}{text}{RESET}")
        } else {
            text.to_owned()
        }
    }

    /// `4. With the right certificate` (bold), preceded by a blank line.
    pub fn step(&self, number: &str, title: &str) {
        self.line("");
        self.line(&self.paint(BOLD, &format!("{number}. {title}")));
    }

    /// A heading without a number (`Summary`, `Before we start`).
    pub fn heading(&self, title: &str) {
        self.line("");
        self.line(&self.paint(BOLD, title));
    }

    /// What we send: `   → POST https://…`.
    pub fn send(&self, text: &str) {
        for (i, l) in text.lines().enumerate() {
            let mark = if i == 0 { "→" } else { " " };
            self.line(&format!("   {} {l}", self.paint(CYAN, mark)));
        }
    }

    /// What comes back: `   ← 200 OK {…}`.
    /// A request and its answer (`→`, then `←`): long representations cut down with
    /// [`brief`], tokens and secrets shortened.
    pub fn exchange(&self, e: &crate::http::Exchange) {
        match &e.sent {
            Some(body) => self.send(&format!("{} {}\n{body}", e.method, e.url)),
            None => self.send(&format!("{} {}", e.method, e.url)),
        }
        match &e.answer {
            Value::Null => self.recv(&e.status.to_string()),
            Value::String(text) => self.recv(&format!("{} {text}", e.status)),
            json => self.recv(&format!(
                "{} {}",
                e.status,
                self.redacted_json(&brief(json))
            )),
        }
    }

    /// `result` as it is, once `exchanges` (the requests that produced it, a failed one
    /// included) are narrated: `out.narrated(api.call().await, api.take_exchanges())?`.
    pub fn narrated<T, E>(
        &self,
        result: Result<T, E>,
        exchanges: Vec<crate::http::Exchange>,
    ) -> Result<T, E> {
        self.exchanges(&exchanges);
        result
    }

    /// Each of `exchanges`, in order (see [`Output::exchange`]).
    pub fn exchanges(&self, exchanges: &[crate::http::Exchange]) {
        for e in exchanges {
            self.exchange(e);
        }
    }

    pub fn recv(&self, text: &str) {
        for (i, l) in text.lines().enumerate() {
            let mark = if i == 0 { "←" } else { " " };
            self.line(&format!("   {} {l}", self.paint(CYAN, mark)));
        }
    }

    /// The equivalent curl command, dimmed.
    pub fn curl(&self, command: &str) {
        self.line(&self.paint(DIM, &format!("   $ {command}")));
    }

    /// An explanation.
    pub fn note(&self, text: &str) {
        for l in text.lines() {
            self.line(&format!("     {l}"));
        }
    }

    /// A plain line, not indented.
    pub fn plain(&self, text: &str) {
        self.line(text);
    }

    pub fn ok(&self, text: &str) {
        self.line(&format!("   {} {text}", self.paint(GREEN, "✔")));
    }

    pub fn fail(&self, text: &str) {
        self.line(&format!("   {} {text}", self.paint(RED, "✘")));
    }

    pub fn warn(&self, text: &str) {
        self.line(&format!("   {} {text}", self.paint(YELLOW, "!")));
    }

    /// The final document in `--json` mode (nothing in the other modes).
    pub fn json(&self, value: &Value) {
        if self.mode == Mode::Json {
            let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
            let _ = writeln!(out, "{}", pretty(value));
        }
    }

    /// A token or secret as it may be shown: whole with `--show-secrets`, else shortened.
    pub fn secret(&self, value: &str) -> String {
        if self.show_secrets {
            value.to_owned()
        } else {
            shorten(value)
        }
    }

    /// A JSON body as it may be shown: token and secret fields shortened.
    pub fn redacted_json(&self, value: &Value) -> String {
        self.redacted(value).to_string()
    }

    /// The same, as a value (to pretty-print or to put into a `--json` document).
    pub fn redacted(&self, value: &Value) -> Value {
        if self.show_secrets {
            value.clone()
        } else {
            redact(value)
        }
    }

    /// Whether `--show-secrets` was given.
    pub fn show_secrets(&self) -> bool {
        self.show_secrets
    }
}

/// The fields of an admin representation worth showing; the rest is counted, not printed.
const BRIEF_FIELDS: &[&str] = &[
    "id",
    "clientId",
    "username",
    "name",
    "enabled",
    "serviceAccountsEnabled",
    "clientAuthenticatorType",
    "composite",
    "clientRole",
];

/// A representation cut down to `BRIEF_FIELDS`, with `"…": "+N more fields"` when
/// something was left out (Keycloak's ClientRepresentation alone has ~30 fields).
pub fn brief(value: &Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(brief).collect()),
        Value::Object(map) => {
            let mut kept: serde_json::Map<String, Value> = map
                .iter()
                .filter(|(k, _)| BRIEF_FIELDS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let left_out = map.len() - kept.len();
            if left_out > 0 && !kept.is_empty() {
                kept.insert(
                    "…".into(),
                    Value::String(format!("+{left_out} more fields")),
                );
                Value::Object(kept)
            } else {
                value.clone()
            }
        }
        other => other.clone(),
    }
}

/// A credential as it may be shown without `--show-secrets`.
///
/// A JWT keeps its first 10 characters (`eyJhbGciOi…(1102 chars)`): that is the start of
/// its header, public and enough to recognise it. Anything else (a password, a client
/// secret, an opaque token) shows only its length (`[redacted, 13 chars]`): a prefix of a
/// short secret is most of the secret.
pub fn shorten(value: &str) -> String {
    const KEEP: usize = 10;
    let chars = value.chars().count();
    let looks_like_jwt = value.starts_with("eyJ") && value.matches('.').count() == 2;
    if looks_like_jwt && chars > 2 * KEEP {
        let head: String = value.chars().take(KEEP).collect();
        format!("{head}…({chars} chars)")
    } else {
        format!("[redacted, {chars} chars]")
    }
}

/// The JSON fields that carry credentials.
const SECRET_FIELDS: &[&str] = &[
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "secret",
    "password",
];

/// A copy of `value` with every credential field shortened, at any depth.
pub fn redact(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) if SECRET_FIELDS.contains(&k.as_str()) => {
                            Value::String(shorten(s))
                        }
                        other => redact(other),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

/// A shell word, quoted only when needed (for the printed curl commands).
pub fn shell_quote(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// A JSON value indented for people.
pub fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_shortened_in_json_bodies() {
        let body = serde_json::json!({
            "access_token": "eyJhbGciOiJSUzI1NiJ9.payload.signature",
            "expires_in": 300,
            "nested": {"client_secret": "playbook-dev-secret-change-me"}
        });
        let shown = redact(&body).to_string();
        assert!(!shown.contains("payload.signature"), "{shown}");
        assert!(!shown.contains("change-me"), "{shown}");
        assert!(shown.contains("eyJhbGciOi…(38 chars)"), "{shown}");
        assert!(shown.contains("\"expires_in\":300"), "{shown}");
    }

    #[test]
    fn brief_keeps_the_identifying_fields_and_counts_the_rest() {
        let client = serde_json::json!([{"id": "u1", "clientId": "c", "attributes": {}, "protocol": "openid-connect"}]);
        assert_eq!(
            brief(&client).to_string(),
            r#"[{"id":"u1","clientId":"c","…":"+2 more fields"}]"#
        );
        let token = serde_json::json!({"access_token": "x", "expires_in": 60});
        assert_eq!(
            brief(&token),
            token,
            "objects without known fields are left whole"
        );
    }

    #[test]
    fn secrets_show_only_their_length() {
        assert_eq!(shorten("admin"), "[redacted, 5 chars]");
        assert_eq!(shorten("CorrectHorse!"), "[redacted, 13 chars]");
        assert_eq!(
            shorten("playbook-dev-secret-change-me"),
            "[redacted, 29 chars]"
        );
        // An opaque (non-JWT) token is a secret like any other.
        assert_eq!(
            shorten("a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4"),
            "[redacted, 44 chars]"
        );
    }

    #[test]
    fn shell_quoting_leaves_plain_words_alone() {
        assert_eq!(shell_quote("certs/ca.pem"), "certs/ca.pem");
        assert_eq!(shell_quote("scope=users:read"), "scope=users:read");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
