//! `client doctor`: the offline checks of [`crate::doctor`] on --cert and --key (or --p12)
//! and --ca, then, unless --offline, the online ones ([`crate::doctor::online`]) against the
//! issuer and the realm; each finding ✔ or ✘ with the fix and Keycloak's log line for the
//! cause. `--json`: the findings as one JSON document.

use serde_json::json;

use crate::cli::DoctorArgs;
use crate::doctor::{self, Finding, Inputs, Loaded};
use crate::output::Output;
use crate::settings::Settings;

pub(super) async fn run(s: &Settings, args: &DoctorArgs, out: &Output) -> bool {
    let inputs = Inputs {
        cert: s.cert.clone(),
        key: s.key.clone(),
        ca: s.ca.clone(),
        pkcs12: args
            .p12
            .as_ref()
            .map(|p| (p.clone(), args.p12_password.clone())),
        crls: args.crl.clone(),
    };
    let what = match &inputs.pkcs12 {
        Some((p12, _)) => format!("{} (PKCS#12)", p12.display()),
        None => format!("{} (key {})", inputs.cert.display(), inputs.key.display()),
    };
    out.heading(&format!(
        "client doctor: {what}, CA {}",
        inputs.ca.display()
    ));
    let loaded = Loaded::read(&inputs);
    let mut offline = doctor::offline(&loaded);
    doctor::proxy::refine_refusals(s.proxy, &mut offline);
    print(out, &offline);
    let proxy;
    let online = if args.offline {
        let (findings, summary) = doctor::proxy::offline(s, &args.behind, &loaded);
        if !findings.is_empty() {
            out.heading(&format!(
                "the proxy's configuration ({})",
                doctor::proxy::proxy_name(s.proxy)
            ));
            print(out, &findings);
        }
        proxy = summary;
        findings
    } else {
        out.heading(&format!(
            "online: {}{} (client {}, the realm read as {})",
            s.issuer,
            match s.proxy {
                crate::settings::Proxy::None => String::new(),
                kind => format!(", through {}", doctor::proxy::proxy_name(kind)),
            },
            s.client_id.as_str(),
            match s.admin_as {
                crate::settings::AdminAs::Provisioner => "provisioner",
                crate::settings::AdminAs::Bootstrap => "bootstrap",
            }
        ));
        let recorder = playbook::https::Recorder::new();
        let findings = doctor::online::diagnose(s, &loaded, &recorder).await;
        let (findings, summary) = doctor::proxy::diagnose(s, &args.behind, &loaded, findings).await;
        proxy = summary;
        print(out, &findings);
        findings
    };
    let healthy = offline.iter().chain(&online).all(|f| f.ok);
    if healthy {
        out.plain(if args.offline {
            "\nNothing offline explains a refusal; without --offline the server and the realm are asked too."
        } else {
            "\nNothing found: the server accepts this certificate, the realm expects it, and the token is bound and carries the role."
        });
    }
    out.json(&json!({
        "cert": inputs.cert, "key": inputs.key, "ca": inputs.ca, "crl": inputs.crls,
        "p12": inputs.pkcs12.as_ref().map(|(p, _)| p),
        "issuer": (!args.offline).then(|| s.issuer.as_str()),
        "healthy": healthy, "findings": offline, "online": online,
        "proxy": proxy,
    }));
    healthy
}

fn print(out: &Output, findings: &[Finding]) {
    for f in findings {
        if f.ok {
            out.ok(&format!("{}: {}", f.title, f.detail));
            continue;
        }
        out.fail(&format!("{}: {}", f.title, f.detail));
        if let Some(fix) = &f.fix {
            out.note(&format!("  fix: {fix}"));
        }
        for line in &f.keycloak_log {
            out.note(&format!(
                "  Keycloak logs ({} {}): {}",
                line.level, line.logger, line.line
            ));
        }
    }
}
