//! nginx's inheritance of `proxy_set_header`: a level (http, server, location) that sets any
//! header inherits none from the levels above it. So a location that sets only `Host` drops
//! the server's `ssl-client-cert`, a classic way to lose the certificate.

use super::Line;

/// The lines of the scope with the `proxy_set_header`s nginx does not apply to the proxying
/// location removed; a note for each level dropped.
pub(super) fn effective<'a>(lines: Vec<&'a Line>, notes: &mut Vec<String>) -> Vec<&'a Line> {
    let sets = |l: &Line| l.words[0] == "proxy_set_header";
    let proxying: Vec<&str> = lines
        .iter()
        .filter(|l| l.words[0] == "proxy_pass" && l.opener.starts_with("location"))
        .map(|l| l.opener.as_str())
        .collect();
    // The location requests go to: `location /`, else the first that proxies.
    let target = proxying
        .iter()
        .find(|o| **o == "location /")
        .or(proxying.first())
        .copied();
    let level = |l: &Line| -> u8 {
        if l.opener.starts_with("location") {
            2
        } else if l.opener.starts_with("server") {
            1
        } else {
            0
        }
    };
    let has = |lvl: u8| {
        lines
            .iter()
            .filter(|l| sets(l))
            .any(|l| level(l) == lvl && (lvl != 2 || Some(l.opener.as_str()) == target))
    };
    let keep = [2, 1, 0].into_iter().find(|lvl| has(*lvl)).unwrap_or(0);
    let mut dropped: Vec<usize> = Vec::new();
    let kept = lines
        .into_iter()
        .filter(|l| {
            if !sets(l) {
                return true;
            }
            let here = level(l) == keep && (keep != 2 || Some(l.opener.as_str()) == target);
            if !here && level(l) < keep {
                dropped.push(l.number);
            }
            here
        })
        .collect();
    if !dropped.is_empty() {
        notes.push(format!(
            "{} sets its own proxy_set_header, so nginx does not apply those of the levels above (lines {})",
            if keep == 2 {
                target.unwrap_or("the location")
            } else {
                "the server"
            },
            dropped
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    kept
}

#[cfg(test)]
mod tests {
    use crate::doctor::proxy::config::read;
    use crate::settings::Proxy;

    const CONF: &str = "http {
    proxy_set_header ssl-client-cert $ssl_client_escaped_cert;
    server {
        listen 127.0.0.1:9443 ssl;
        ssl_verify_client optional;
        location / {
            proxy_set_header Host $host;
            proxy_pass https://provider;
        }
    }
}
";

    #[test]
    fn a_location_setting_any_header_drops_the_inherited_certificate() {
        let o = read(Proxy::Nginx, CONF, 9443);
        assert_eq!(o.leaf(), None, "{o:?}");
        assert!(o.notes[0].contains("location / sets its own"), "{o:?}");
        assert!(o.notes[0].contains("lines 2"), "{o:?}");
        // Without the location's own header, the http level's applies.
        let inherited = CONF.replace("            proxy_set_header Host $host;\n", "");
        assert!(read(Proxy::Nginx, &inherited, 9443).leaf().is_some());
    }
}
