//! `client doctor --proxy`'s reading of the proxy's configuration against the provider's
//! lookup: the header's name, its encoding, the chain, the address the proxy connects from,
//! and whether a client's own header is removed; each verdict with the fix in KIND's words.

use super::config::Observed;
use super::{Lookup, Reads, proxy_name};
use crate::doctor::Verdict;
use crate::settings::Proxy;

/// `set-header` in KIND's words.
pub(super) fn set_fix(kind: Proxy, header: &str, value: &str) -> String {
    match kind {
        Proxy::Nginx => format!("`proxy_set_header {header} {value};`"),
        Proxy::Haproxy => format!("`http-request set-header {header} {value} if {{ ssl_c_used }}`"),
        Proxy::Apache => format!(
            "`RequestHeader set {header} \"{value}\" \"expr=%{{SSL:SSL_CLIENT_VERIFY}} == 'SUCCESS'\"`"
        ),
        Proxy::Caddy | Proxy::None => format!("`header_up {header} \"{value}\"` in reverse_proxy"),
    }
}

/// What KIND writes for the lookup, if it can.
pub(super) fn value_for(kind: Proxy, lookup: Lookup) -> Option<&'static str> {
    match (kind, lookup) {
        (Proxy::Nginx, Lookup::Nginx) => Some("$ssl_client_escaped_cert"),
        (Proxy::Haproxy, Lookup::Haproxy | Lookup::Traefik) => Some("%[ssl_c_der,base64]"),
        (Proxy::Haproxy, Lookup::Rfc9440) => Some(":%[ssl_c_der,base64]:"),
        (Proxy::Apache, Lookup::Apache) => Some("%{SSL_CLIENT_CERT}s"),
        (Proxy::Caddy, Lookup::Rfc9440) => {
            Some(":{http.request.tls.client.certificate_der_base64}:")
        }
        (Proxy::Caddy, Lookup::Haproxy | Lookup::Traefik) => {
            Some("{http.request.tls.client.certificate_der_base64}")
        }
        _ => None,
    }
}

pub(super) fn header(kind: Proxy, r: &Reads, o: &Observed) -> Verdict {
    let Some(leaf) = o.leaf() else {
        let value = value_for(kind, r.lookup).unwrap_or("the certificate");
        return Err((
            format!(
                "{}: no header is set from the client's certificate{}",
                o.section,
                o.notes.iter().map(|n| format!("; {n}")).collect::<String>()
            ),
            format!(
                "forward it: {} (labs/11-proxies, step 2)",
                set_fix(kind, &r.header, value)
            ),
        ));
    };
    if leaf.header == r.header {
        return Ok(format!("{} (line {})", leaf.header, leaf.line));
    }
    Err((
        format!(
            "the proxy sets {} (line {}), the provider's {} lookup reads {}: it finds no certificate",
            leaf.header,
            leaf.line,
            r.lookup.id(),
            r.header
        ),
        format!(
            "use one name on both sides: set {} at the proxy, or {} at the provider",
            r.header,
            r.option("ssl-client-cert", &leaf.header)
        ),
    ))
}

pub(super) fn encoding(kind: Proxy, r: &Reads, o: &Observed) -> Verdict {
    let Some(leaf) = o.leaf() else {
        return Ok("not checked: no certificate is forwarded (above)".into());
    };
    if r.lookup.reads(leaf.encoding) {
        return Ok(format!("{} ({})", leaf.encoding.describe(), leaf.value));
    }
    let fix = match value_for(kind, r.lookup) {
        Some(v) => format!(
            "write it as the {} lookup decodes it: {} (labs/11-proxies: the encoding)",
            r.lookup.id(),
            set_fix(kind, &leaf.header, v)
        ),
        None => format!(
            "{} cannot write {}: give the provider the lookup of the proxy's shape (--spi-x509cert-lookup--provider={})",
            proxy_name(kind),
            r.lookup.reads_what(),
            match kind {
                Proxy::Nginx => "nginx",
                Proxy::Haproxy => "haproxy",
                Proxy::Apache => "apache",
                Proxy::Caddy | Proxy::None => "rfc9440",
            }
        ),
    };
    Err((
        format!(
            "{} (`{}`, line {}); the {} lookup decodes {}: the certificate does not parse",
            leaf.encoding.describe(),
            leaf.value,
            leaf.line,
            r.lookup.id(),
            r.lookup.reads_what()
        ),
        fix,
    ))
}

pub(super) fn chain(kind: Proxy, r: &Reads, o: &Observed, chain_len: usize) -> Verdict {
    let wanted: Option<String> = match r.lookup {
        Lookup::Haproxy | Lookup::Rfc9440 => r.chain_header.clone(),
        Lookup::Apache => r.chain_prefix.as_ref().map(|p| format!("{p}_0")),
        // In the certificate's own header, or rebuilt (nginx).
        Lookup::Nginx | Lookup::Envoy | Lookup::Traefik => None,
    };
    let sent = wanted.as_ref().and_then(|w| {
        o.forwards
            .iter()
            .find(|f| f.chain.is_some() && &f.header == w)
    });
    let what = match (&sent, &wanted) {
        (Some(f), _) => format!("the proxy forwards the chain in {} (line {})", f.header, f.line),
        (None, Some(w)) => format!("the proxy sets no {w}"),
        (None, None) if r.lookup == Lookup::Nginx => {
            "nginx forwards the leaf alone; Keycloak's nginx lookup rebuilds the chain from its truststore".into()
        }
        (None, None) => format!("the {} lookup reads no chain header", r.lookup.id()),
    };
    if chain_len <= 1 {
        return Ok(format!(
            "not needed: the certificate is issued by the CA itself ({what})"
        ));
    }
    if sent.is_some() {
        return Ok(what);
    }
    let fix = match (kind, &wanted) {
        (Proxy::Haproxy, Some(h)) => format!(
            "{} and the lookup's {} (labs/11-proxies, step 3)",
            "`http-request set-header H %[ssl_c_chain_der,base64] if { ssl_c_used } { ssl_c_chain_der -m found }`".replace('H', h),
            r.option("ssl-cert-chain", h)
        ),
        (Proxy::Apache, Some(h)) => format!(
            "{} and the lookup's {}",
            set_fix(kind, h, "%{SSL_CLIENT_CERT_CHAIN_0}s"),
            r.option("ssl-cert-chain-prefix", h.trim_end_matches("_0"))
        ),
        (Proxy::Nginx, _) => "nginx has no variable for the client's chain: put the intermediate CA in Keycloak's truststore (--truststore-paths) so the nginx lookup can rebuild it, or issue client certificates from the root".into(),
        (Proxy::Caddy, _) => "Caddy 2.6 has no placeholder for the client's chain (README: Caddy in front): issue client certificates from the root Keycloak trusts, or put HAProxy or httpd in front, which forward it".into(),
        _ => format!("forward the chain in the header the {} lookup reads", r.lookup.id()),
    };
    Err((
        format!(
            "the certificate came with {} intermediate CA(s), and {what}: the provider cannot follow it to the CA it trusts",
            chain_len - 1
        ),
        fix,
    ))
}

/// Whether `addr` is in `trusted` (addresses or CIDR ranges, as Keycloak's
/// proxy-trusted-addresses).
pub(super) fn trusts(trusted: &[String], addr: &str) -> bool {
    let Ok(ip) = addr.parse::<std::net::IpAddr>() else {
        return trusted.iter().any(|t| t == addr);
    };
    trusted.iter().any(|t| match t.split_once('/') {
        None => t.parse::<std::net::IpAddr>().is_ok_and(|x| x == ip),
        Some((net, bits)) => match (net.parse::<std::net::IpAddr>(), bits.parse::<u32>(), ip) {
            (Ok(std::net::IpAddr::V4(n)), Ok(b), std::net::IpAddr::V4(a)) if b <= 32 => {
                let mask = u32::MAX.checked_shl(32 - b).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (Ok(std::net::IpAddr::V6(n)), Ok(b), std::net::IpAddr::V6(a)) if b <= 128 => {
                let mask = u128::MAX.checked_shl(128 - b).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        },
    })
}

pub(super) fn source(kind: Proxy, r: &Reads, o: &Observed) -> Verdict {
    let from = match (&o.source, kind) {
        (Some(a), _) => a.clone(),
        (None, Proxy::Caddy) => {
            return Ok("Caddy 2.6 cannot choose its source address: it connects from this host's own, which every local program shares (README: Caddy in front)".into());
        }
        (None, _) => {
            return Ok("no source address set (proxy_bind, source, ProxySourceAddress): the proxy connects from its host's address; the provider must trust that one only".into());
        }
    };
    if r.trusted.is_empty() {
        return Ok(format!(
            "the proxy connects from {from}; not compared: give the provider's proxy-trusted-addresses with --proxy-trusted-addresses"
        ));
    }
    if trusts(&r.trusted, &from) {
        return Ok(format!("{from}, trusted ({})", r.trusted.join(", ")));
    }
    Err((
        format!(
            "the proxy connects from {from}; the provider trusts the header from {} only, so it ignores it",
            r.trusted.join(", ")
        ),
        format!(
            "make them one address: Keycloak's --proxy-trusted-addresses={from} (our servers: --trusted-proxy {from}), or the proxy's {}",
            match kind {
                Proxy::Nginx => "proxy_bind",
                Proxy::Haproxy => "`source` on its server lines",
                _ => "ProxySourceAddress",
            }
        ),
    ))
}

pub(super) fn strips(kind: Proxy, r: &Reads, o: &Observed) -> Verdict {
    let mut read: Vec<String> = vec![r.header.clone()];
    read.extend(r.chain_header.clone());
    read.extend(r.chain_prefix.as_ref().map(|p| format!("{p}_0")));
    let kept: Vec<&String> = read.iter().filter(|h| !o.replaces(h)).collect();
    if kept.is_empty() {
        return Ok(format!(
            "{} removed or overwritten on every request",
            read.join(", ")
        ));
    }
    let how = |h: &str| match kind {
        Proxy::Nginx => format!(
            "`proxy_set_header {h} $ssl_client_escaped_cert;` (nginx replaces the client's)"
        ),
        Proxy::Haproxy => format!("`http-request del-header {h}` before the set-header"),
        Proxy::Apache => format!("`RequestHeader unset {h} early`"),
        Proxy::Caddy | Proxy::None => format!("`request_header -{h}`"),
    };
    Err((
        format!(
            "a client's own {} reaches the provider (the proxy sets it only with a certificate, or not at all): anyone who can reach the proxy can claim a certificate without its key",
            kept.iter()
                .map(|h| h.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        format!(
            "remove it before setting it: {} (labs/11-proxies, step 4); Keycloak cannot tell a forged header from the proxy's",
            kept.iter().map(|h| how(h)).collect::<Vec<_>>().join("; ")
        ),
    ))
}

/// Whether the proxy verifies what it forwards.
pub(super) fn verifies(kind: Proxy, o: &Observed) -> Verdict {
    let Some(why) = &o.unverified else {
        return Ok(match &o.asks {
            Some(asks) => {
                format!("{asks}, and a certificate that does not verify is not forwarded")
            }
            None => "not checked: the proxy asks for no certificate".into(),
        });
    };
    let fix = match kind {
        Proxy::Nginx => {
            "`ssl_verify_client optional;` (it verifies against ssl_client_certificate), or answer 401 when $ssl_client_verify is not SUCCESS"
        }
        Proxy::Haproxy => {
            "answer 401 when the verification failed: `http-request return status 401 … if { ssl_c_used } !{ ssl_c_verify 0 }` (proxy/haproxy/haproxy.cfg.in)"
        }
        Proxy::Apache => {
            "`RewriteCond %{SSL:SSL_CLIENT_VERIFY} !^(SUCCESS|NONE)$` then `RewriteRule ^ - [R=401,L]`, and set the header only with `expr=%{SSL:SSL_CLIENT_VERIFY} == 'SUCCESS'` (proxy/apache/httpd.conf.in)"
        }
        Proxy::Caddy | Proxy::None => {
            "client_auth `mode verify_if_given` with `trusted_ca_cert_file` (proxy/caddy/Caddyfile.in)"
        }
    };
    Err((
        format!(
            "{why}; the provider verifies it again (Keycloak: \"Cert … is not trusted by keycloak\"), but a back end that trusts the header alone takes any certificate"
        ),
        format!("verify at the proxy: {fix}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_addresses_match_as_keycloak_lists_them() {
        let t = vec!["127.0.0.2".to_owned(), "10.0.0.0/8".to_owned()];
        assert!(trusts(&t, "127.0.0.2"));
        assert!(trusts(&t, "10.1.2.3"));
        assert!(!trusts(&t, "127.0.0.1"));
    }
}
