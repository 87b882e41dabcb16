//! `client walkthrough`: steps 1–8 of [`crate::walkthrough`], narrated, or with `--json`
//! its report; the exit code says whether every step behaved as expected. With `--html
//! FILE`, the run is recorded connection by connection and written as a page
//! ([`crate::trace`]).

use playbook::https::Recorder;

use crate::cli::WalkthroughArgs;
use crate::error::ClientError;
use crate::output::Output;
use crate::settings::Settings;
use crate::trace::Trace;
use crate::walkthrough::{self, Options};

pub(super) async fn run(
    s: &Settings,
    args: &WalkthroughArgs,
    out: &Output,
) -> Result<bool, ClientError> {
    let options = Options {
        keep_role: args.keep_role,
        skip_rogue: args.skip_rogue,
        trace: args.html.as_ref().map(|_| Recorder::new()),
    };
    let report = walkthrough::run(s, &options, out).await?;
    if let (Some(path), Some(recorder)) = (&args.html, &options.trace) {
        let trace = Trace::assemble(
            s,
            report.clone(),
            recorder.connections(),
            out.show_secrets(),
        );
        crate::trace::write(&trace, path)?;
        out.note(&format!(
            "The run as a page: {} (open it in a browser; it loads nothing from anywhere)",
            path.display()
        ));
    }
    out.json(&serde_json::to_value(&report).unwrap_or_default());
    Ok(report.all_passed())
}
