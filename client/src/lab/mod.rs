//! `client lab`: the workshop labs in `labs/`, each with a checker that looks at the live
//! servers and at the files the attendee produced.
//!
//! ```text
//! client lab list            the labs, in order, and which pass now
//! client lab check 1         exit 0 when lab 1 is done; else one line per failed check
//! client lab reset 1         the state lab 1 starts from (keys kept unless --yes)
//! client lab solve 1         the reference solution (instructors, tests)
//! ```
//!
//! Each lab is one module whose [`Lab`] value (its card, `check`, `reset`, `solve` and
//! `prepare`) is a row of [`LABS`], the only list of labs: the commands, `./start.sh --lab N`
//! and the lab tests go through it. The task and the background are in
//! `labs/NN-name/README.md`, the reference solution in `labs/NN-name/SOLUTION.md`.
//! The attendee's files go to `labs/work/labN/` (git-ignored; `--work-dir` moves it).
//!
//! A failed check says what was expected, what was found and a hint, never the solution.

pub mod command;
pub mod lab1;
pub mod lab10;
pub mod lab11;
pub mod lab12;
pub mod lab2;
pub mod lab3;
pub mod lab4;
pub mod lab5;
pub mod lab6;
pub mod lab7;
pub mod lab8;
pub mod lab9;
pub mod probe;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use serde::Serialize;

use crate::error::ClientError;
use crate::output::Output;
use crate::settings::Settings;

/// One lab's card: what `client lab list` shows and `./start.sh --lab N` prints.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LabInfo {
    pub number: u8,
    /// The folder under `labs/`.
    pub folder: &'static str,
    pub title: &'static str,
    /// Rough time for an attendee, in minutes.
    pub minutes: u16,
    /// The first step of the task, as the README words it.
    pub first_step: &'static str,
}

/// What a lab's `check`, `reset` or `solve` returns: a future borrowing the lab's context.
pub type LabFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ClientError>> + 'a>>;

/// One lab as a value: its card and its four actions. Each `labN.rs` defines its `LAB`
/// (with [`lab!`] for the actions every lab has), and [`LABS`] lists them.
#[derive(Clone, Copy)]
pub struct Lab {
    pub info: LabInfo,
    /// The checks, against the live servers and the files in `labs/work/labN`.
    pub check: for<'a> fn(&'a Ctx<'a>) -> LabFuture<'a, Vec<Check>>,
    /// Puts back the state the lab starts from: only what the lab owns.
    pub reset: for<'a> fn(&'a Ctx<'a>) -> LabFuture<'a, ()>,
    /// Applies the reference solution.
    pub solve: for<'a> fn(&'a Ctx<'a>) -> LabFuture<'a, ()>,
    /// The state the lab needs before the servers start, keeping the attendee's progress
    /// (`./start.sh --lab N` runs it, after `labs/work/labN` is made); nothing by default.
    pub prepare: fn(&Ctx<'_>) -> Result<(), ClientError>,
    /// Whether `client lab list` runs the checker (not when it streams calls until the
    /// attendee acts, as lab 6's does).
    pub check_in_list: bool,
}

impl std::fmt::Debug for Lab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lab")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// A [`Lab`] from the `INFO`, `check`, `reset` and `solve` of the module it is used in, with
/// no `prepare` and the checker run by `client lab list`; a lab overrides those with struct
/// update syntax (`Lab { prepare, ..lab!() }`).
macro_rules! lab {
    () => {
        super::Lab {
            info: INFO,
            check: |ctx| Box::pin(check(ctx)),
            reset: |ctx| Box::pin(reset(ctx)),
            solve: |ctx| Box::pin(solve(ctx)),
            prepare: |_| Ok(()),
            check_in_list: true,
        }
    };
}
pub(crate) use lab;

/// The labs, in the suggested order: the only list of them.
pub const LABS: &[Lab] = &[
    lab1::LAB,
    lab2::LAB,
    lab3::LAB,
    lab4::LAB,
    lab5::LAB,
    lab6::LAB,
    lab7::LAB,
    lab8::LAB,
    lab9::LAB,
    lab10::LAB,
    lab11::LAB,
    lab12::LAB,
];

/// The lab numbered `n`, or an error listing the valid numbers.
pub fn by_number(n: u8) -> Result<&'static Lab, ClientError> {
    LABS.iter()
        .find(|l| l.info.number == n)
        .ok_or_else(|| ClientError::Setting {
            name: "LAB",
            value: n.to_string(),
            fix: format!(
                "the labs are {} (client lab list)",
                LABS.iter()
                    .map(|l| l.info.number.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
}

/// The card of the lab numbered `n` (see [`by_number`]).
pub fn info(n: u8) -> Result<LabInfo, ClientError> {
    by_number(n).map(|l| l.info)
}

/// What every lab works with.
#[derive(Debug)]
pub struct Ctx<'a> {
    pub s: &'a Settings,
    /// `labs/work`: `labN/` below it holds the attendee's files for lab N.
    pub work: PathBuf,
    /// The repository root (the labs' READMEs, the realm file, the resource server's source).
    pub root: PathBuf,
    pub out: &'a Output,
    /// `reset --yes`: private keys the attendee made may be deleted too.
    pub yes: bool,
}

impl Ctx<'_> {
    /// `labs/work/labN`, created if missing.
    pub fn dir(&self, n: u8) -> Result<PathBuf, ClientError> {
        let dir = self.work.join(format!("lab{n}"));
        std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
        Ok(dir)
    }

    /// Removes `files` (those that exist) from lab `n`'s folder; private keys only with
    /// `--yes`, else they are kept and named.
    pub fn remove(&self, n: u8, files: &[&str], keys: &[&str]) -> Result<(), ClientError> {
        let dir = self.dir(n)?;
        for name in files {
            remove_file(&dir.join(name))?;
        }
        for name in keys {
            let path = dir.join(name);
            if !path.exists() {
                continue;
            }
            if self.yes {
                remove_file(&path)?;
                self.out
                    .note(&format!("deleted {} (--yes)", path.display()));
            } else {
                self.out.note(&format!(
                    "kept your private key {} (reset --yes deletes it too)",
                    path.display()
                ));
            }
        }
        Ok(())
    }
}

impl Ctx<'_> {
    /// Moves the attendee's `files` in lab `n`'s folder aside to `NAME.previous` (replacing
    /// an older one): the lab starts over, and nothing they wrote is lost.
    pub fn set_aside(&self, n: u8, files: &[&str]) -> Result<(), ClientError> {
        let dir = self.dir(n)?;
        for name in files {
            let path = dir.join(name);
            if path.exists() {
                let previous = dir.join(format!("{name}.previous"));
                std::fs::rename(&path, &previous).map_err(|e| io_error(&path, e))?;
                self.out.note(&format!(
                    "moved {} to {}",
                    path.display(),
                    previous.display()
                ));
            }
        }
        Ok(())
    }

    /// The dev CA from `ca.pem` and `ca.key.pem` (the labs issue their certificates with it).
    pub fn dev_ca(&self) -> Result<playbook::pki::CertificateAuthority, ClientError> {
        let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| io_error(p, e));
        let key = self
            .s
            .ca
            .parent()
            .unwrap_or(Path::new("."))
            .join("ca.key.pem");
        Ok(playbook::pki::CertificateAuthority::from_pem(
            &read(&self.s.ca)?,
            &read(&key)?,
        )?)
    }

    /// The realm file the servers import at the start of every lab
    /// (`oauth2-provider/import/oauth2-playbook-realm.json`), parsed.
    pub fn stock_realm(&self) -> Result<serde_json::Value, ClientError> {
        let path = self
            .root
            .join("oauth2-provider/import/oauth2-playbook-realm.json");
        let text = std::fs::read_to_string(&path).map_err(|e| io_error(&path, e))?;
        serde_json::from_str(&text).map_err(|e| io_error(&path, std::io::Error::other(e)))
    }

    /// Writes `realm` as lab `n`'s realm copy, `labs/work/labN/realm.json`, which
    /// `./start.sh --lab N` has the provider import.
    pub fn write_realm_copy(&self, n: u8, realm: &serde_json::Value) -> Result<(), ClientError> {
        let text = serde_json::to_string_pretty(realm).unwrap_or_default() + "\n";
        write_file(&self.dir(n)?.join("realm.json"), text.as_bytes(), false)
    }

    /// Writes the stock realm plus `clients` (each a [`x509_client`]) and each one's
    /// service-account user, at the end of the lists, as lab `n`'s realm copy.
    pub fn write_realm_copy_with(
        &self,
        n: u8,
        clients: &[serde_json::Value],
    ) -> Result<(), ClientError> {
        let mut realm = self.stock_realm()?;
        for rep in clients {
            let id = rep["clientId"].as_str().unwrap_or_default().to_owned();
            if let Some(list) = realm["clients"].as_array_mut() {
                list.push(rep.clone());
            }
            if let Some(users) = realm["users"].as_array_mut() {
                users.push(serde_json::json!({
                    "username": format!("service-account-{id}"),
                    "enabled": true,
                    "serviceAccountClientId": id,
                    "realmRoles": [format!("default-roles-{}", playbook::names::REALM)]
                }));
            }
        }
        self.write_realm_copy(n, &realm)
    }

    /// Copies the reference files `labs/FOLDER/solution/NAME` into lab `n`'s folder.
    pub fn copy_solution(&self, n: u8, names: &[&str]) -> Result<(), ClientError> {
        let info = info(n)?;
        let dir = self.dir(n)?;
        for name in names {
            let from = self
                .root
                .join("labs")
                .join(info.folder)
                .join("solution")
                .join(name);
            let text = std::fs::read(&from).map_err(|e| io_error(&from, e))?;
            write_file(&dir.join(name), &text, false)?;
        }
        Ok(())
    }
}

/// A service-account client authenticating with its certificate (`client-x509`), as a lab
/// adds it (admin API, realm copy): certificate-bound tokens, no refresh token, and `x509`,
/// its `x509.*` attributes.
pub fn x509_client(client_id: &str, x509: &[(&str, &str)]) -> serde_json::Value {
    let mut attributes = serde_json::json!({
        "tls.client.certificate.bound.access.tokens": "true",
        "client_credentials.use_refresh_token": "false"
    });
    for (k, v) in x509 {
        attributes[*k] = (*v).into();
    }
    serde_json::json!({
        "clientId": client_id,
        "enabled": true,
        "protocol": "openid-connect",
        "publicClient": false,
        "bearerOnly": false,
        "standardFlowEnabled": false,
        "directAccessGrantsEnabled": false,
        "serviceAccountsEnabled": true,
        "clientAuthenticatorType": "client-x509",
        "attributes": attributes
    })
}

/// One check's outcome. A failed one is printed on one line: what was expected, what was
/// found, and a hint that points the way without giving the solution.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub what: String,
    pub passed: bool,
    pub expected: String,
    pub found: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub hint: String,
}

impl Check {
    pub fn pass(what: impl Into<String>, found: impl Into<String>) -> Self {
        Check {
            what: what.into(),
            passed: true,
            expected: String::new(),
            found: found.into(),
            hint: String::new(),
        }
    }

    pub fn fail(
        what: impl Into<String>,
        expected: impl Into<String>,
        found: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Check {
            what: what.into(),
            passed: false,
            expected: expected.into(),
            found: found.into(),
            hint: hint.into(),
        }
    }

    /// `pass` when `ok`, else `fail` with the same texts.
    pub fn expect(
        ok: bool,
        what: impl Into<String>,
        expected: impl Into<String>,
        found: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        if ok {
            Check::pass(what, found)
        } else {
            Check::fail(what, expected, found, hint)
        }
    }
}

/// Prints `checks` (passed ones briefly, each failed one on one line) and returns whether
/// all passed.
pub fn report(n: u8, checks: &[Check], out: &Output) -> bool {
    for c in checks {
        if c.passed {
            out.ok(&format!("{}: {}", c.what, c.found));
        } else {
            let hint = if c.hint.is_empty() {
                String::new()
            } else {
                format!("; hint: {}", c.hint)
            };
            out.fail(&format!(
                "{}: expected {}; found {}{hint}",
                c.what, c.expected, c.found
            ));
        }
    }
    let failed = checks.iter().filter(|c| !c.passed).count();
    if failed == 0 {
        out.ok(&format!("lab {n} done: every check passed"));
    } else {
        out.plain(&format!(
            "lab {n}: {failed} of {} checks not passed yet",
            checks.len()
        ));
    }
    out.json(&serde_json::json!({"lab": n, "passed": failed == 0, "checks": checks}));
    failed == 0
}

pub fn io_error(path: &Path, e: std::io::Error) -> ClientError {
    ClientError::Setting {
        name: "LAB_WORK_DIR",
        value: path.display().to_string(),
        fix: e.to_string(),
    }
}

/// Reads a text file; `None` if it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<String>, ClientError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path, e)),
    }
}

/// Writes `contents` atomically (a temporary file in the same folder, then a rename);
/// `private` files get mode 0600.
pub fn write_file(path: &Path, contents: &[u8], private: bool) -> Result<(), ClientError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let file = playbook::pki::PkiFile {
        name,
        what: "lab file",
        contents: contents.to_vec(),
        private,
    };
    playbook::pki::write_files(dir, &[file], true)?;
    Ok(())
}

pub fn remove_file(path: &Path) -> Result<(), ClientError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error(path, e)),
    }
}

/// Runs a program (the solutions shell out to openssl, as the attendee does), failing with
/// its stderr.
pub fn run(program: &str, args: &[&str], cwd: &Path) -> Result<String, ClientError> {
    let output = std::process::Command::new(program)
        .args(args)
        .current_dir(cwd)
        .output()
        .map_err(|e| ClientError::Setting {
            name: "PATH",
            value: program.to_owned(),
            fix: format!(
                "cannot run {program} ({e}); install it (Debian: apt-get install {program})"
            ),
        })?;
    if !output.status.success() {
        return Err(ClientError::Setting {
            name: "command",
            value: format!("{program} {}", args.join(" ")),
            fix: format!(
                "failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `bash SCRIPT` from the repository root with the settings in its environment, under the
/// names `scripts/env.sh` uses (so a script that sources it talks to the servers being
/// checked), plus `extra`.
pub fn run_bash(
    ctx: &Ctx<'_>,
    script: &Path,
    extra: &[(&str, &str)],
) -> Result<std::process::Output, ClientError> {
    run_bash_args(ctx, script, &[], extra)
}

/// [`run_bash`] with arguments for the script (`proxy/haproxy.sh start`).
pub fn run_bash_args(
    ctx: &Ctx<'_>,
    script: &Path,
    args: &[&str],
    extra: &[(&str, &str)],
) -> Result<std::process::Output, ClientError> {
    let abs = |p: &Path| std::path::absolute(p).map_err(|e| io_error(p, e));
    let certs = abs(ctx.s.ca.parent().unwrap_or(Path::new(".")))?;
    let base = ctx.s.admin_base()?;
    let mut cmd = std::process::Command::new("bash");
    cmd.arg(abs(script)?)
        .args(args)
        .current_dir(&ctx.root)
        .env("PROVIDER_URL", base.as_str().trim_end_matches('/'))
        .env("ISSUER", ctx.s.issuer.as_str())
        .env("REALM", &ctx.s.realm)
        .env("CLIENT_ID", ctx.s.client_id.as_str())
        .env(
            "PROVISIONER_CLIENT_ID",
            ctx.s.provisioner_client_id.as_str(),
        )
        .env("CERTS_DIR", certs)
        .env("LAB_WORK_DIR", abs(&ctx.work)?)
        .env(
            "RESOURCE_SERVER_URL",
            ctx.s.resource_server.as_str().trim_end_matches('/'),
        )
        .env("KC_BOOTSTRAP_ADMIN_USERNAME", &ctx.s.admin_username)
        .env("KC_BOOTSTRAP_ADMIN_PASSWORD", ctx.s.admin_password.secret());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.output().map_err(|e| io_error(script, e))
}

/// The last non-empty line of a finished command's stderr, with its exit status.
pub fn failure_summary(output: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    format!("{} ({last})", output.status)
}

/// A reference solution's script (`labs/FOLDER/solution/NAME`) run with [`run_bash`].
pub fn run_solution(
    ctx: &Ctx<'_>,
    n: u8,
    name: &str,
    extra: &[(&str, &str)],
) -> Result<(), ClientError> {
    let script = ctx
        .root
        .join("labs")
        .join(info(n)?.folder)
        .join("solution")
        .join(name);
    let output = run_bash(ctx, &script, extra)?;
    if !output.status.success() {
        return Err(ClientError::Setting {
            name: "solution script",
            value: script.display().to_string(),
            fix: format!("failed: {}", failure_summary(&output)),
        });
    }
    Ok(())
}
