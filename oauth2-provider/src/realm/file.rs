//! Reading what `--realm PATH` names into realm representations, as Keycloak's
//! `--import-realm` does: a realm file is one realm or an array of realms
//! (`ImportUtils#getRealmsFromStream`, `SingleFileImportProvider`); a directory is read as
//! `data/import`, where `<realm>-realm.json` comes with its `<realm>-users-N.json` files
//! (`DirImportProvider`). A type error names the JSON path of the offending field.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::error::{FieldError, Problem, RealmFileError};
use super::placeholders::{self, Environment};
use super::rep::{RealmRep, UserRep};

/// The JSON path of a `serde_path_to_error` error, and serde's message.
fn type_error(e: serde_path_to_error::Error<serde_json::Error>) -> FieldError {
    let field = e.path().to_string();
    Problem::Json(e.into_inner()).at(field)
}

/// The file as a whole: it does not parse, or it is no realm.
fn document(problem: Problem) -> FieldError {
    problem.at("(document)")
}

/// Parses a realm file the way `ImportUtils#getRealmsFromStream` reads it: one realm (a JSON
/// object) or an array of realms (what `kc.sh export --file` writes for several realms).
/// Anything else is refused, naming the JSON path (`[2]` for the third element).
pub fn parse_realms(json: &str, source: &Path) -> Result<Vec<RealmRep>, RealmFileError> {
    // Jackson reads a UTF-8 byte-order mark as such; serde_json does not.
    let json = json.strip_prefix('\u{feff}').unwrap_or(json);
    let invalid = |error: FieldError| RealmFileError::invalid(source, error);
    match json
        .trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n'])
        .chars()
        .next()
    {
        Some('{') => Ok(vec![parse(json, source)?]),
        Some('[') => {
            let items: Vec<Value> =
                serde_json::from_str(json).map_err(|e| invalid(document(e.into())))?;
            let mut realms = Vec::new();
            for (i, item) in items.into_iter().enumerate() {
                if !item.is_object() {
                    let found = json_kind(&item);
                    return Err(invalid(Problem::NotARealm { found }.at(format!("[{i}]"))));
                }
                let rep = serde_path_to_error::deserialize(item).map_err(|e| {
                    let FieldError { field, problem } = type_error(e);
                    invalid(problem.at(format!("[{i}].{field}")))
                })?;
                realms.push(rep);
            }
            Ok(realms)
        }
        _ => {
            // Not JSON at all, or a scalar: let the parser say which.
            let value: Value =
                serde_json::from_str(json).map_err(|e| invalid(document(e.into())))?;
            let found = json_kind(&value);
            Err(invalid(document(Problem::NotRealms { found })))
        }
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Parses realm JSON; a type error names the JSON path of the offending field.
pub fn parse(json: &str, source: &Path) -> Result<RealmRep, RealmFileError> {
    let de = &mut serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let mut error = type_error(e);
        if error.field == "." {
            error.field = "(document)".into();
        }
        RealmFileError::invalid(source, error)
    })
}

/// One realm to import: its representation, the file it came from and, for a directory
/// export, the users files that belong to it.
#[derive(Debug)]
pub struct RealmInput {
    pub rep: RealmRep,
    pub file: PathBuf,
    pub user_files: Vec<(PathBuf, Vec<UserRep>)>,
}

/// A `<realm>-users-N.json` file of `kc.sh export --dir` (`ImportUtils#importUsersFromStream`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct UsersFileRep {
    realm: Option<String>,
    users: Option<Vec<UserRep>>,
    federated_users: Option<Vec<Value>>,
}

/// A file's text with its `${NAME}` placeholders replaced from `env`, as Keycloak's import
/// reads every realm and users file ([`super::placeholders`]).
fn read_text(path: &Path, env: &Environment) -> Result<String, RealmFileError> {
    let text = std::fs::read_to_string(path).map_err(|cause| RealmFileError::Read {
        path: path.to_owned(),
        cause,
    })?;
    placeholders::replace(&text, env).map_err(|cause| RealmFileError::Placeholder {
        path: path.to_owned(),
        cause,
    })
}

/// `<realm>-users-<N>.json` or `<realm>-federated-users-<N>.json`: `(realm, N, federated)`.
fn users_file_name(name: &str) -> Option<(&str, u64, bool)> {
    let stem = name.strip_suffix(".json")?;
    let (rest, n) = stem.rsplit_once('-')?;
    let n: u64 = n
        .parse()
        .ok()
        .filter(|_| n.bytes().all(|b| b.is_ascii_digit()))?;
    if let Some(realm) = rest.strip_suffix("-federated-users") {
        return Some((realm, n, true));
    }
    rest.strip_suffix("-users").map(|realm| (realm, n, false))
}

/// Reads what `--realm PATH` names: a realm file (one realm or an array of realms), or a
/// directory read as Keycloak's `--import-realm` reads `data/import`: each regular `*.json`
/// file directly in it (subdirectories are not read), where `<realm>-realm.json` comes with
/// its `<realm>-users-N.json` files (`DirImportProvider`), and any other file is a realm
/// file (`SingleFileImportProvider`).
/// `${NAME}` placeholders are replaced from `env` first, as Keycloak does.
pub fn read_path(path: &Path, env: &Environment) -> Result<Vec<RealmInput>, RealmFileError> {
    if !path.is_dir() {
        let text = read_text(path, env)?;
        return Ok(parse_realms(&text, path)?
            .into_iter()
            .map(|rep| RealmInput {
                rep,
                file: path.to_owned(),
                user_files: Vec::new(),
            })
            .collect());
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|cause| RealmFileError::Read {
            path: path.to_owned(),
            cause,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let name_of = |p: &Path| {
        p.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_owned()
    };
    let realm_names: Vec<String> = files
        .iter()
        .filter_map(|p| name_of(p).strip_suffix("-realm.json").map(str::to_owned))
        .collect();
    let mut inputs = Vec::new();
    let mut users: Vec<(String, u64, PathBuf)> = Vec::new();
    for file in &files {
        let name = name_of(file);
        if let Some((realm, n, federated)) = users_file_name(&name)
            && realm_names.iter().any(|r| r == realm)
        {
            if federated {
                tracing::warn!(
                    "{}: federated users (user storage providers) are not supported by this provider; file skipped",
                    file.display()
                );
            } else {
                users.push((realm.to_owned(), n, file.clone()));
            }
            continue;
        }
        let text = read_text(file, env)?;
        let reps = parse_realms(&text, file)?;
        if let Some(expected) = name.strip_suffix("-realm.json") {
            // DirImportProvider#importRealm.
            if let [rep] = reps.as_slice()
                && rep.realm.as_deref() != Some(expected)
            {
                let problem = Problem::FileNameMismatch {
                    file_name: name.clone(),
                    realm: rep.realm.clone().unwrap_or_default(),
                };
                return Err(RealmFileError::invalid(file, problem.at("realm")));
            }
        }
        inputs.extend(reps.into_iter().map(|rep| RealmInput {
            rep,
            file: file.clone(),
            user_files: Vec::new(),
        }));
    }
    if inputs.is_empty() {
        tracing::warn!(
            "{}: no realm files (*.json) directly in this directory; nothing imported from it",
            path.display()
        );
    }
    users.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    for (realm, _, file) in users {
        let text = read_text(&file, env)?;
        let de = &mut serde_json::Deserializer::from_str(&text);
        let rep: UsersFileRep = serde_path_to_error::deserialize(de)
            .map_err(|e| RealmFileError::invalid(&file, type_error(e)))?;
        // ImportUtils#importUsersFromStream.
        if let Some(other) = rep.realm.as_deref().filter(|r| *r != realm) {
            let problem = Problem::UsersRealmMismatch {
                realm,
                file_realm: other.to_owned(),
            };
            return Err(RealmFileError::invalid(file, problem.at("realm")));
        }
        if rep.federated_users.is_some_and(|f| !f.is_empty()) {
            tracing::warn!(
                "{}: federatedUsers are not supported by this provider; skipped",
                file.display()
            );
        }
        let target = inputs
            .iter_mut()
            .find(|i| i.rep.realm.as_deref() == Some(realm.as_str()))
            .expect("a users file is only taken for a <realm>-realm.json of the directory");
        target
            .user_files
            .push((file, rep.users.unwrap_or_default()));
    }
    Ok(inputs)
}
