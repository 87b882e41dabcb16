//! Unit tests of the realm import: the shipped realm, the shapes a realm file may have,
//! and errors that name the file and the field.

use std::path::Path;

use super::{import, parse, parse_realms};

fn err(json: &str) -> String {
    let path = Path::new("bad-realm.json");
    match parse(json, path).and_then(|r| import(r, path)) {
        Ok(_) => panic!("expected an error for {json}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_shipped_realm_imports() {
    let path = crate::realm_file();
    let text = std::fs::read_to_string(&path).unwrap();
    let realm = import(parse(&text, &path).unwrap(), &path).unwrap();
    let mtls = realm
        .client_by_client_id(playbook::names::MTLS_CLIENT_ID)
        .unwrap();
    assert_eq!(mtls.client_authenticator_type, "client-x509");
    assert_eq!(
        mtls.attribute("x509.subjectdn"),
        Some(playbook::names::CLIENT_SUBJECT_DN)
    );
    assert_eq!(
        mtls.attribute("x509.casubjectdn"),
        Some(playbook::names::CA_SUBJECT_DN)
    );
    let secret = realm
        .client_by_client_id(playbook::names::SECRET_CLIENT_ID)
        .unwrap();
    assert_eq!(
        secret.secret.as_deref(),
        Some(playbook::names::SECRET_CLIENT_SECRET)
    );
    assert!(realm.role_by_name(playbook::names::READONLY_ROLE).is_some());
    assert!(realm.role_by_name(playbook::names::WRITE_ROLE).is_some());
    assert!(realm.service_account_of(&mtls.id).is_some());
    assert!(
        mtls.optional_scopes
            .iter()
            .any(|s| s == playbook::names::USERS_READ_SCOPE)
    );
    // The default role holds what Keycloak adds on import.
    let sa = realm.service_account_of(&mtls.id).unwrap();
    let names: Vec<_> = realm
        .effective_roles(sa)
        .iter()
        .map(|(r, _)| r.name.clone())
        .collect();
    for n in [
        "default-roles-oauth2-playbook",
        "offline_access",
        "uma_authorization",
        "view-profile",
        "manage-account",
        "manage-account-links",
    ] {
        assert!(names.contains(&n.to_owned()), "{n} in {names:?}");
    }
    assert!(!names.contains(&playbook::names::READONLY_ROLE.to_owned()));
}

/// `ImportUtils#getRealmsFromStream`: an object or an array of objects; a byte-order
/// mark is fine; anything else names what it found.
#[test]
fn a_realm_file_is_a_realm_or_an_array_of_realms() {
    let path = Path::new("r.json");
    let one = parse_realms("\u{feff} {\"realm\":\"r\"}", path).unwrap();
    assert_eq!(one[0].realm.as_deref(), Some("r"));
    let two = parse_realms(r#"[{"realm":"a"},{"realm":"b"}]"#, path).unwrap();
    assert_eq!(two.len(), 2);
    assert!(parse_realms("[]", path).unwrap().is_empty());
    let e = parse_realms("42", path).unwrap_err().to_string();
    assert!(
        e.contains("(document)") && e.contains("found a number"),
        "{e}"
    );
    let e = parse_realms(r#"[{"realm":"a","enabled":"yes"}]"#, path)
        .unwrap_err()
        .to_string();
    assert!(e.contains("`[0].enabled`"), "{e}");
}

#[test]
fn type_errors_name_the_file_and_the_field() {
    let e = err(r#"{"realm":"r","clients":[{"clientId":"c","enabled":"yes"}]}"#);
    assert!(e.contains("bad-realm.json"), "{e}");
    assert!(e.contains("clients[0].enabled"), "{e}");
}

#[test]
fn semantic_errors_name_the_field() {
    let e = err(r#"{"enabled":true}"#);
    assert!(
        e.contains("`realm`") && e.contains("Realm name cannot be empty"),
        "{e}"
    );
    let e = err(r#"{"realm":"r","clients":[{"enabled":true}]}"#);
    assert!(e.contains("clients[0].clientId"), "{e}");
    let e = err(r#"{"realm":"r","users":[{"username":"u","serviceAccountClientId":"nope"}]}"#);
    assert!(e.contains("users[0].serviceAccountClientId"), "{e}");
    let e = err(r#"{"realm":"r","clients":[{"clientId":"c","attributes":{"a":[1]}}]}"#);
    assert!(e.contains("clients[0].attributes.a"), "{e}");
}

#[test]
fn unknown_fields_are_ignored_and_defaults_apply() {
    let path = Path::new("r.json");
    let rep = parse(
        r#"{"realm":"r","enabled":true,"someFutureField":{"x":1},
            "clients":[{"clientId":"c","serviceAccountsEnabled":true,"attributes":{"flag":true,"n":3}}]}"#,
        path,
    )
    .unwrap();
    let realm = import(rep, path).unwrap();
    let c = realm.client_by_client_id("c").unwrap();
    assert_eq!(c.client_authenticator_type, "client-secret");
    assert!(c.enabled && c.standard_flow_enabled && c.full_scope_allowed);
    assert_eq!(c.attribute("flag"), Some("true"));
    assert_eq!(c.attribute("n"), Some("3"));
    // A service-account client without its user gets one, with the default roles.
    let sa = realm.service_account_of(&c.id).unwrap();
    assert_eq!(sa.username, "service-account-c");
    assert_eq!(sa.role_ids, vec![realm.default_role_id.clone()]);
}

/// The typed errors read as the `"<field>: <message>"` strings they replaced: the file, the
/// JSON path in backquotes, the problem; a `FieldError` alone (the admin API's 400 for a bad
/// client) is `<field>: <problem>`.
#[test]
fn errors_read_file_field_and_problem() {
    let cases = [
        (
            r#"{"realm":"r","clients":[{"enabled":true}]}"#,
            "field `clients[0].clientId`: missing",
        ),
        (
            r#"{"realm":"r","clients":[{"clientId":"c","attributes":{"a":[1]}}]}"#,
            "field `clients[0].attributes.a`: expected a string value",
        ),
        (
            r#"{"realm":"r","roles":{"client":{"app":[{"name":"x"}]}}}"#,
            "field `roles.client.app`: App doesn't exist in role definitions: app",
        ),
        (
            r#"{"realm":"r","users":[{"username":"u","serviceAccountClientId":"nope"}]}"#,
            "field `users[0].serviceAccountClientId`: Unable to find client specified for service account link. Client: nope",
        ),
    ];
    for (json, expected) in cases {
        assert_eq!(err(json), format!("realm file bad-realm.json: {expected}"));
    }
    let bad_client = super::client_from_rep(Default::default(), "client").unwrap_err();
    assert_eq!(bad_client.to_string(), "client.clientId: missing");
}
