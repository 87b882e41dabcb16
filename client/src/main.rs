//! `client`: the playground's command line. Parses the arguments and hands over to
//! [`client::commands::run`]; see `client --help`.

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    // `.env` in the current directory, if any; variables already set win.
    if let Err(err) = dotenvy::from_path(".env")
        && !err.not_found()
    {
        eprintln!("error: {}", env_file_error(".env", &err));
        return ExitCode::FAILURE;
    }
    let cli = client::cli::Cli::parse();
    playbook::report::init_logging("warn", playbook::report::LogTo::Stderr);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(client::commands::run(cli))
}

/// dotenvy reports a bad line by its text and a character offset; people want the line
/// number and the expected shape.
fn env_file_error(path: &str, err: &dotenvy::Error) -> String {
    match err {
        dotenvy::Error::LineParse(line, _) => {
            let number = std::fs::read_to_string(path)
                .ok()
                .and_then(|text| {
                    let first = line.lines().next().unwrap_or(line);
                    text.lines().position(|l| l.trim() == first.trim())
                })
                .map(|i| format!(" line {}", i + 1))
                .unwrap_or_default();
            format!(
                "{path}{number}: {:?} is not KEY=value (comments start with #; quote values with spaces)",
                line.lines().next().unwrap_or(line)
            )
        }
        other => format!("{path}: {}", playbook::report::error_chain(other)),
    }
}
