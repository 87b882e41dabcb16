//! Whether the proxy forwards a certificate it did not verify: it asks without verifying
//! (nginx `optional_no_ca`, httpd `optional_no_ca`, HAProxy `ca-ignore-err`/`crt-ignore-err`,
//! Caddy `client_auth` mode `request` or `require`) and nothing checks the verification's
//! result before the request goes on (nginx `$ssl_client_verify` in an `if` or `map`, HAProxy
//! `ssl_c_verify` in a rule, httpd `SSL_CLIENT_VERIFY` in a `RewriteCond` or an `expr=`).

use super::Line;
use crate::settings::Proxy;

/// Why the proxy forwards unverified certificates, or `None` when it verifies them.
pub(super) fn unverified(kind: Proxy, lines: &[&Line], asks: Option<&str>) -> Option<String> {
    let asks = asks?;
    let any = |f: &dyn Fn(&Line) -> bool| lines.iter().any(|l| f(l));
    match kind {
        Proxy::Nginx => {
            let checked = any(&|l| {
                (l.opener.starts_with("if") || l.opener.starts_with("map"))
                    && l.opener.contains("$ssl_client_verify")
            });
            (asks.ends_with("optional_no_ca") && !checked).then(|| {
                "ssl_verify_client optional_no_ca, and no `if`/`map` on $ssl_client_verify: a certificate of any CA is forwarded".into()
            })
        }
        Proxy::Haproxy => {
            let ignores = any(&|l| {
                l.words[0] == "bind"
                    && l.words
                        .iter()
                        .any(|w| w == "ca-ignore-err" || w == "crt-ignore-err")
            });
            let checked = any(&|l| {
                l.words[0] == "http-request" && l.words.iter().any(|w| w == "ssl_c_verify")
            });
            (ignores && !checked).then(|| {
                "the bind ignores verification errors (ca-ignore-err/crt-ignore-err) and no rule checks ssl_c_verify: a certificate of any CA is forwarded".into()
            })
        }
        Proxy::Apache => {
            let checked = any(&|l| {
                l.words.iter().any(|w| w.contains("SSL_CLIENT_VERIFY"))
                    && (l.words[0].eq_ignore_ascii_case("RewriteCond")
                        || l.words.iter().any(|w| w.starts_with("expr=")))
            });
            (asks.ends_with("optional_no_ca") && !checked).then(|| {
                "SSLVerifyClient optional_no_ca, and no RewriteCond or expr= on SSL_CLIENT_VERIFY: a certificate of any CA is forwarded".into()
            })
        }
        Proxy::Caddy => (asks.ends_with(" request") || asks.ends_with(" require")).then(|| {
            format!("{asks}: Caddy asks without verifying; a certificate of any CA is forwarded")
        }),
        Proxy::None => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::doctor::proxy::config::read;
    use crate::settings::Proxy;

    const HAPROXY: &str = include_str!("../../../../../proxy/haproxy/haproxy.cfg.in");

    #[test]
    fn a_proxy_that_ignores_verification_and_checks_nothing_is_seen() {
        let t = HAPROXY.replace("@PROVIDER_PORT@", "9443");
        assert_eq!(read(Proxy::Haproxy, &t, 9443).unverified, None);
        let unchecked: String = t
            .lines()
            .filter(|l| !l.contains("ssl_c_verify"))
            .map(|l| format!("{l}\n"))
            .collect();
        let o = read(Proxy::Haproxy, &unchecked, 9443);
        assert!(o.unverified.unwrap().contains("ca-ignore-err"));
    }
}
