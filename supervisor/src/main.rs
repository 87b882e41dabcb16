//! `supervisor`: starts the playground's own servers, runs the walkthrough (or shows a
//! lab), and stops them on exit; `./start.sh` runs it last. See `supervisor --help`.

use std::process::ExitCode;

use clap::Parser as _;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args = supervisor::up::Args::parse();
    playbook::report::init_logging("warn", playbook::report::LogTo::Stderr);
    playbook::install_crypto_provider();
    supervisor::up::run(args).await
}
