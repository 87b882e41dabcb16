//! `client doctor`: the offline checks of [`crate::doctor`] on --cert, --key and --ca, each
//! finding ✔ or ✘ with the fix; `--json`: the findings as one JSON document.

use serde_json::json;

use crate::doctor::{self, Inputs};
use crate::output::Output;
use crate::settings::Settings;

pub(super) fn run(s: &Settings, out: &Output) -> bool {
    let inputs = Inputs {
        cert: s.cert.clone(),
        key: s.key.clone(),
        ca: s.ca.clone(),
    };
    out.heading(&format!(
        "client doctor: {} (key {}), CA {}",
        inputs.cert.display(),
        inputs.key.display(),
        inputs.ca.display()
    ));
    let findings = doctor::diagnose(&inputs);
    for f in &findings {
        if f.ok {
            out.ok(&format!("{}: {}", f.title, f.detail));
        } else {
            out.fail(&format!("{}: {}", f.title, f.detail));
            if let Some(fix) = &f.fix {
                out.note(&format!("  fix: {fix}"));
            }
        }
    }
    let healthy = findings.iter().all(|f| f.ok);
    if healthy {
        out.plain("\nNothing offline explains a refusal; the realm's settings (x509.subjectdn equal to the subject above) are next.");
    }
    out.json(&json!({"cert": inputs.cert, "key": inputs.key, "ca": inputs.ca, "healthy": healthy, "findings": findings}));
    healthy
}
