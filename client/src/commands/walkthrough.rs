//! `client walkthrough`: steps 1–8 of [`crate::walkthrough`], narrated, or with `--json`
//! its report; the exit code says whether every step behaved as expected.

use crate::cli::WalkthroughArgs;
use crate::error::ClientError;
use crate::output::Output;
use crate::settings::Settings;
use crate::walkthrough::{self, Options};

pub(super) async fn run(
    s: &Settings,
    args: &WalkthroughArgs,
    out: &Output,
) -> Result<bool, ClientError> {
    let options = Options {
        keep_role: args.keep_role,
        skip_rogue: args.skip_rogue,
    };
    let report = walkthrough::run(s, &options, out).await?;
    out.json(&serde_json::to_value(&report).unwrap_or_default());
    Ok(report.all_passed())
}
