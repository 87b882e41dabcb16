//! `supervisor`: starts the playground's own servers, runs the walkthrough (or shows a
//! lab), and stops them on exit; `./start.sh` runs it last. See `supervisor --help`.

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let args = supervisor::up::Args::parse();
    playbook::report::init_logging("warn", playbook::report::LogTo::Stderr);
    playbook::install_crypto_provider();
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
    runtime.block_on(supervisor::up::run(args))
}
