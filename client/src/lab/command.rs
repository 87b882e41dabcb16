//! `client lab …`: the clap definitions and the dispatch.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{Ctx, LABS};
use crate::error::ClientError;
use crate::output::Output;
use crate::settings::Settings;

#[derive(Debug, Args)]
pub struct LabArgs {
    #[command(subcommand)]
    pub command: LabCommand,
    /// Where the attendee's files go (labs/work/labN/ for lab N; git-ignored).
    #[arg(long, env = "LAB_WORK_DIR", default_value = "labs/work", global = true)]
    pub work_dir: PathBuf,
    /// The repository root (the labs' folders, the realm file, the resource server's source).
    #[arg(long, env = "PLAYBOOK_ROOT", default_value = ".", global = true)]
    pub root: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// The labs, their order and time, and which pass now (with the servers running).
    List,
    /// Run lab N's checker: exit 0 when done; else one line per failed check (what was
    /// expected, what was found, a hint).
    Check { n: u8 },
    /// Put back the state lab N starts from (only what the lab owns). Private keys you
    /// made are kept unless --yes.
    Reset {
        n: u8,
        /// Also delete the private keys the lab's task asked you to make.
        #[arg(long)]
        yes: bool,
    },
    /// Put in place what lab N needs before the servers start, keeping your progress
    /// (./start.sh --lab N runs it; reset starts over).
    Prepare { n: u8 },
    /// Apply lab N's reference solution (for instructors and tests; see SOLUTION.md).
    Solve { n: u8 },
    /// Print lab N's card: title, time, README and first step (./start.sh --lab N uses it).
    Show { n: u8 },
}

pub async fn run(s: &Settings, args: &LabArgs, out: &Output) -> Result<bool, ClientError> {
    let yes = matches!(args.command, LabCommand::Reset { yes: true, .. });
    let ctx = Ctx {
        s,
        work: args.work_dir.clone(),
        root: args.root.clone(),
        out,
        yes,
    };
    match &args.command {
        LabCommand::List => list(&ctx).await,
        LabCommand::Check { n } => {
            let lab = super::by_number(*n)?;
            out.step(
                &n.to_string(),
                &format!("checking lab {n}: {}", lab.info.title),
            );
            let checks = (lab.check)(&ctx).await?;
            Ok(super::report(*n, &checks, out))
        }
        LabCommand::Reset { n, .. } => {
            (super::by_number(*n)?.reset)(&ctx).await?;
            Ok(true)
        }
        LabCommand::Prepare { n } => {
            let lab = super::by_number(*n)?;
            ctx.dir(*n)?;
            (lab.prepare)(&ctx)?;
            Ok(true)
        }
        LabCommand::Solve { n } => {
            (super::by_number(*n)?.solve)(&ctx).await?;
            Ok(true)
        }
        LabCommand::Show { n } => {
            let info = super::info(*n)?;
            let readme = if ctx.root == std::path::Path::new(".") {
                std::path::Path::new("labs")
                    .join(info.folder)
                    .join("README.md")
            } else {
                ctx.root.join("labs").join(info.folder).join("README.md")
            };
            out.plain(&format!(
                "Lab {}: {} (about {} minutes)\n  task:  {}\n  first: {}\n  check: cargo run -q -p client -- lab check {}",
                info.number,
                info.title,
                info.minutes,
                readme.display(),
                info.first_step,
                info.number
            ));
            out.json(&serde_json::to_value(info).unwrap_or_default());
            Ok(true)
        }
    }
}

/// Every lab with its time, and whether its checker passes now (quietly; an error, such
/// as the servers not running, shows as "cannot check").
async fn list(ctx: &Ctx<'_>) -> Result<bool, ClientError> {
    let quiet = Output::quiet();
    let mut s = ctx.s.clone();
    s.wait = std::time::Duration::from_secs(2);
    let q = Ctx {
        s: &s,
        work: ctx.work.clone(),
        root: ctx.root.clone(),
        out: &quiet,
        yes: false,
    };
    let mut rows = Vec::new();
    for lab in LABS {
        let info = lab.info;
        let state = if lab.check_in_list {
            check_state(&q, lab).await
        } else {
            "run its check to see (it streams calls)".to_owned()
        };
        ctx.out.plain(&format!(
            "{:>2}. {:<56} {:>3} min  labs/{:<26} {state}",
            info.number, info.title, info.minutes, info.folder
        ));
        rows.push(serde_json::json!({"lab": info, "state": state}));
    }
    ctx.out.json(&serde_json::Value::Array(rows));
    Ok(true)
}

/// "passes", "N of M checks pass", or why the checker could not run.
async fn check_state(q: &Ctx<'_>, lab: &super::Lab) -> String {
    match (lab.check)(q).await {
        Ok(checks) if checks.iter().all(|c| c.passed) => "passes".to_owned(),
        Ok(checks) => format!(
            "{} of {} checks pass",
            checks.iter().filter(|c| c.passed).count(),
            checks.len()
        ),
        Err(e) => format!("cannot check now ({})", first_line(&e.to_string())),
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}
