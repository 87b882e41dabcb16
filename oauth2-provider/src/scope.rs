//! The `scope` parameter (RFC 6749 §3.3) as Keycloak reads it at the token endpoint and at
//! introspection: which client scopes a request may have and gets (`TokenManager#isValidScope`,
//! `DefaultClientSessionContext`), and the `scope` string a token carries.

use crate::store::{Client, ClientScope, Realm};

/// Java's `String#split(" ")`: trailing empty strings dropped; no separator → the input.
pub(crate) fn java_split(s: &str) -> Vec<&str> {
    let mut parts: Vec<&str> = s.split(' ').collect();
    if parts.len() == 1 {
        return parts;
    }
    while parts.last() == Some(&"") {
        parts.pop();
    }
    parts
}

/// A request for an OpenID Connect token: `openid` among the requested scopes.
pub(crate) fn is_oidc_request(scope: Option<&str>) -> bool {
    scope.is_some_and(|s| java_split(s).contains(&"openid"))
}

/// `TokenManager#isValidScope` then the scopes in effect: the client's default scopes plus
/// the optional ones requested. `Err` = `invalid_scope`.
pub(crate) fn scopes_in_effect<'a>(
    realm: &'a Realm,
    client: &Client,
    scope_param: Option<&str>,
) -> Result<Vec<&'a ClientScope>, ()> {
    let requested: Vec<&str> = match scope_param {
        None => Vec::new(),
        Some(s) => {
            // parseScopeParameter: distinct names; `openid` is not a client scope.
            let mut v: Vec<&str> = Vec::new();
            for x in java_split(s) {
                if x != "openid" && !v.contains(&x) {
                    v.push(x);
                }
            }
            v
        }
    };
    let lookup = |names: &[String]| -> Vec<&'a ClientScope> {
        names
            .iter()
            .filter_map(|n| realm.scope_by_name(n))
            .filter(|s| s.protocol == client.protocol)
            .collect()
    };
    let defaults = lookup(&client.default_scopes);
    let optional = lookup(&client.optional_scopes);
    for r in &requested {
        let ok = defaults.iter().chain(optional.iter()).any(|s| s.name == *r);
        if !ok {
            return Err(());
        }
    }
    let mut out = defaults;
    out.extend(
        optional
            .into_iter()
            .filter(|s| requested.contains(&s.name.as_str())),
    );
    Ok(out)
}

/// `DefaultClientSessionContext#getScopeString` (+ `TokenUtil.attachOIDCScope`).
pub(crate) fn scope_string(scopes: &[&ClientScope], oidc: bool) -> String {
    let mut names: Vec<&str> = scopes
        .iter()
        .filter(|s| s.include_in_token_scope())
        .map(|s| s.name.as_str())
        .collect();
    if oidc {
        names.insert(0, "openid");
    }
    names.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_split_drops_trailing_empties_only() {
        assert_eq!(java_split(""), vec![""]);
        assert_eq!(java_split("a b"), vec!["a", "b"]);
        assert_eq!(java_split("a "), vec!["a"]);
        assert_eq!(java_split(" a"), vec!["", "a"]);
        assert_eq!(java_split("a  b"), vec!["a", "", "b"]);
        assert!(java_split(" ").is_empty());
    }
}
