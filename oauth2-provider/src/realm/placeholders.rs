//! `${NAME}` placeholders in realm files, replaced from environment variables before the JSON
//! is parsed, as Keycloak 26.7.5's `--import-realm` does (`AbstractFileBasedImportProvider
//! #parseFile`: `StringPropertyReplacer.replaceProperties(InputStream, System::getenv)` on the
//! raw bytes of every realm and users file; the admin API's `POST /admin/realms` replaces
//! nothing).
//!
//! Measured on native Keycloak 26.7.5 (`tests/fixtures/placeholders/`, golden answers in
//! `tests/golden/corpus/placeholders.json`), and ported from its bytecode where a rule needed
//! more than the probes showed:
//!
//! | in the file | becomes |
//! |---|---|
//! | `${NAME}` | the variable's value; an **unset** variable leaves `${NAME}` as it is |
//! | `${NAME:default}` | the value, else `default` (everything after the first `:`); a variable set to the empty string is set |
//! | `${A,B}`, `${A,B:default}` | `A`'s value, else `B`'s, else the default (or `${A,B}` kept) |
//! | `${/}`, `${:}` | `/` and `:` (Java's file and path separators on Linux) |
//! | `${}`, `${ NAME }`, `${env.NAME}`, `${user.home}` | kept: only exact environment variable names are looked up, no system properties |
//! | `$${NAME}` | kept as it is (the `$` after a `$` is not looked at again) |
//! | `${A:${B}}` | nested: the inner one first |
//! | a value that holds `${…}` | replaced again (recursively; a loop fails the import) |
//! | `${` never closed | kept, with what follows (a `}` further on closes it, whatever lies between) |
//!
//! The replacement is textual: a value with a `"` or a `\` can break the JSON, as it does in
//! Keycloak (its import then fails and Keycloak does not start). An attribute whose value
//! ends up empty (`${NAME:}` with `NAME` unset) is dropped by both (a client attribute with
//! no value is no attribute).

use std::collections::BTreeMap;

/// Where placeholder values come from: the process environment (Keycloak's
/// `System.getenv`), with `overrides` consulted first (a driver that sets a variable for the
/// provider it starts in-process, e.g. the supervisor from `certs/`).
#[derive(Debug, Clone)]
pub struct Environment {
    overrides: BTreeMap<String, String>,
    process: bool,
}

impl Default for Environment {
    /// The process environment, as Keycloak reads it.
    fn default() -> Self {
        Environment {
            overrides: BTreeMap::new(),
            process: true,
        }
    }
}

impl Environment {
    /// Only `vars`, never the process environment (tests).
    pub fn only<K: Into<String>, V: Into<String>>(vars: impl IntoIterator<Item = (K, V)>) -> Self {
        Environment {
            overrides: vars
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            process: false,
        }
    }

    /// Sets `name` to `value` for the realm files, whatever the process environment says.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.overrides.insert(name.into(), value.into());
    }

    /// Sets `name` unless the process environment (or an override) already has it.
    pub fn set_default(&mut self, name: &str, value: impl Into<String>) {
        if self.get(name).is_none() {
            self.set(name, value);
        }
    }

    /// The value of `name`, if set (an empty value is set).
    pub fn get(&self, name: &str) -> Option<String> {
        if let Some(v) = self.overrides.get(name) {
            return Some(v.clone());
        }
        if self.process && !name.is_empty() && !name.contains(['=', '\0']) {
            return std::env::var(name).ok();
        }
        None
    }
}

/// Why a replacement failed (Keycloak: the import fails, and the server does not start).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlaceholderError {
    /// Keycloak's words (`IllegalStateException` after a `StackOverflowError`).
    #[error("Infinite recursion happening when replacing properties on '{0}'")]
    Recursion(String),
}

/// Keycloak's bound on a key (`MAX_KEY_LENGTH`): past it the `${` is taken as never closed.
const MAX_KEY_LENGTH: usize = 4 * 1024 * 1024;

/// How deep values holding placeholders may nest before it is a loop (Keycloak: until the
/// JVM's stack overflows; any realistic file nests two or three deep).
const MAX_DEPTH: usize = 64;

/// `text` with its placeholders replaced from `env`, as Keycloak's import reads a file.
pub fn replace(text: &str, env: &Environment) -> Result<String, PlaceholderError> {
    // The work is on bytes, as Keycloak's stream does: `$`, `{`, `}` never occur inside a
    // multi-byte UTF-8 sequence, so the result is valid UTF-8 again.
    let bytes = text.as_bytes();
    let mut pos = 0;
    let (out, _) = replace_stream(bytes, &mut pos, false, env, 0)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// How a stream ended: the input ran out, or (inside `${`) its closing `}` was read.
#[derive(Debug, PartialEq, Eq)]
enum End {
    Eof,
    Brace,
}

/// `StringPropertyReplacer$1#read` run to the end: copies `input[pos..]`, replacing each
/// `${…}`; with `until_brace`, stops after the `}` that closes it (braces counted, but not the
/// bytes of a replacement nor the byte right after a `$`).
fn replace_stream(
    input: &[u8],
    pos: &mut usize,
    until_brace: bool,
    env: &Environment,
    depth: usize,
) -> Result<(Vec<u8>, End), PlaceholderError> {
    let mut out = Vec::new();
    let mut braces = 0usize;
    while let Some(&c) = input.get(*pos) {
        *pos += 1;
        if until_brace {
            if c == b'}' {
                if braces == 0 {
                    return Ok((out, End::Brace));
                }
                braces -= 1;
            } else if c == b'{' {
                braces += 1;
            }
        }
        if c != b'$' {
            out.push(c);
            if until_brace && out.len() >= MAX_KEY_LENGTH {
                tracing::warn!("Detected an unclosed ${{, replacement will not be performed");
                return Ok((out, End::Eof));
            }
            continue;
        }
        let Some(&next) = input.get(*pos) else {
            // Keycloak buffers the `$` with the end-of-stream marker cast to a byte (0xFF);
            // no realm file ends in `$`, so the `$` alone is kept.
            out.push(c);
            break;
        };
        *pos += 1;
        if next != b'{' {
            out.extend([c, next]);
            continue;
        }
        out.extend(placeholder(input, pos, env, depth)?);
        if until_brace && out.len() >= MAX_KEY_LENGTH {
            // Keycloak stops reading the key there and goes on with the rest of the input
            // as plain text, the `${` kept.
            tracing::warn!("Detected an unclosed ${{, replacement will not be performed");
            out.truncate(MAX_KEY_LENGTH);
            return Ok((out, End::Eof));
        }
    }
    Ok((out, End::Eof))
}

/// After `${`: reads the key (itself replaced) up to its `}`, and returns what stands for it.
fn placeholder(
    input: &[u8],
    pos: &mut usize,
    env: &Environment,
    depth: usize,
) -> Result<Vec<u8>, PlaceholderError> {
    let (key, end) = replace_stream(input, pos, true, env, depth)?;
    let key = String::from_utf8_lossy(&key).into_owned();
    let text = match end {
        End::Eof => format!("${{{key}"),
        End::Brace => match resolve(&key, env) {
            None => format!("${{{key}}}"),
            Some(value) => replace_value(&value, env, depth + 1)?,
        },
    };
    Ok(text.into_bytes())
}

/// `StringPropertyReplacer.replaceProperties(String, …)` on a value that was looked up: the
/// text before its first `${` as it is, the rest replaced again.
fn replace_value(value: &str, env: &Environment, depth: usize) -> Result<String, PlaceholderError> {
    let Some(at) = value.find("${") else {
        return Ok(value.to_owned());
    };
    if depth > MAX_DEPTH {
        return Err(PlaceholderError::Recursion(value.to_owned()));
    }
    let rest = &value.as_bytes()[at..];
    let mut pos = 0;
    let (out, _) = replace_stream(rest, &mut pos, false, env, depth)?;
    Ok(format!("{}{}", &value[..at], String::from_utf8_lossy(&out)))
}

/// `StringPropertyReplacer#replaceProperty`: the aliases, the name, `name:default`, and
/// `a,b` (also before a default).
fn resolve(key: &str, env: &Environment) -> Option<String> {
    match key {
        "/" => return Some("/".to_owned()),
        ":" => return Some(":".to_owned()),
        _ => {}
    }
    if let Some(v) = env.get(key) {
        return Some(v);
    }
    match key.find(':') {
        Some(colon) if colon > 0 => {
            let name = &key[..colon];
            env.get(name)
                .or_else(|| composite(name, env))
                .or_else(|| Some(key[colon + 1..].to_owned()))
        }
        _ => composite(key, env),
    }
}

/// `StringPropertyReplacer#resolveCompositeKey`: `a,b` is `a`, else `b` (split at the first
/// comma; `,b` and `a,` try the one side).
fn composite(key: &str, env: &Environment) -> Option<String> {
    let comma = key.find(',')?;
    let first = (comma > 0).then(|| env.get(&key[..comma])).flatten();
    first.or_else(|| {
        (comma < key.len() - 1)
            .then(|| env.get(&key[comma + 1..]))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Environment {
        Environment::only([
            ("SET", "value-set"),
            ("EMPTY", ""),
            ("NESTED", "${SET}"),
            ("LOOP", "${LOOP}"),
        ])
    }

    fn r(text: &str) -> String {
        replace(text, &env()).unwrap()
    }

    /// Each form of the native probe (`tests/fixtures/placeholders/`), as Keycloak 26.7.5
    /// turned it (the same table is held against the live answers by
    /// `tests/realm_corpus.rs`).
    #[test]
    fn the_forms_keycloak_was_seen_to_replace() {
        for (text, expected) in [
            ("${SET}", "value-set"),
            ("${UNSET}", "${UNSET}"),
            ("${UNSET:dflt}", "dflt"),
            ("${SET:dflt}", "value-set"),
            ("${env.SET}", "${env.SET}"),
            ("${env.UNSET:dflt}", "dflt"),
            ("${UNSET,SET}", "value-set"),
            ("${EMPTY}", ""),
            ("${EMPTY:dflt}", ""),
            ("x-${SET}-${SET}-y", "x-value-set-value-set-y"),
            ("${UNSET:}", ""),
            ("$${SET}", "$${SET}"),
            ("${/}", "/"),
            ("${:}", ":"),
            ("${user.home}", "${user.home}"),
            ("${}", "${}"),
            ("${UNSET:a:b}", "a:b"),
            ("${ SET }", "${ SET }"),
            ("${NESTED}", "value-set"),
            ("${UNSET:${SET}}", "value-set"),
            ("${UNSET,UNSET2:dflt}", "dflt"),
            ("${set}", "${set}"),
            ("$SET", "$SET"),
            ("${SET}${UNSET}", "value-set${UNSET}"),
        ] {
            assert_eq!(r(text), expected, "{text}");
        }
    }

    /// Braces inside a placeholder nest; a never-closed `${` keeps its text; a `}` right after
    /// a `$` does not close.
    #[test]
    fn braces_and_unclosed_placeholders() {
        assert_eq!(r("${UNSET:{a}}"), "{a}");
        assert_eq!(r("a ${SET"), "a ${SET");
        assert_eq!(r("${UNSET:cost$}x}"), "cost$}x");
        assert_eq!(r("no placeholder } { $"), "no placeholder } { $");
        assert_eq!(r("é${SET}ü"), "évalue-setü");
    }

    /// The probe that made native Keycloak refuse to start ("Unexpected character ('$' (code
    /// 36)): was expecting comma to separate Object entries"): an unclosed `${` swallows the
    /// JSON up to the next `}`, which breaks the document.
    #[test]
    fn an_unclosed_placeholder_breaks_the_json_as_in_keycloak() {
        let text = "{\"a\": \"${SET\",\n \"b\": \"${}\",\n \"c\": \"${UNSET:x}\"}";
        let replaced = r(text);
        assert!(
            serde_json::from_str::<serde_json::Value>(&replaced).is_err(),
            "{replaced}"
        );
    }

    #[test]
    fn a_loop_is_an_error() {
        assert!(matches!(
            replace("${LOOP}", &env()),
            Err(PlaceholderError::Recursion(_))
        ));
    }

    #[test]
    fn overrides_win_and_set_default_keeps_what_is_set() {
        let mut e = Environment::only([("A", "1")]);
        e.set_default("A", "2");
        e.set_default("B", "3");
        assert_eq!(e.get("A").as_deref(), Some("1"));
        assert_eq!(e.get("B").as_deref(), Some("3"));
        e.set("A", "4");
        assert_eq!(e.get("A").as_deref(), Some("4"));
    }
}
