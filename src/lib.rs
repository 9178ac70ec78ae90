//! healthchat rebuilds HealthChat-11K. The modules follow the data flow:
//! `cli` → `hub` → `annotations` → `scan` → `record` / `pyjson` → `review` → `artifacts`,
//! driven by `generate`; `progress` is the only one that draws on the terminal.

pub mod annotations;
pub mod artifacts;
pub mod cli;
pub mod generate;
pub mod hub;
pub mod progress;
pub mod pyjson;
pub mod record;
pub mod review;
pub mod scan;
pub mod source;
pub mod value;
pub mod version;

use std::process::ExitCode;

use cli::{Cli, Command};

/// Runs a parsed command line; the error's chain is the message for the user.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Generate(args) => runtime.block_on(async {
            let progress = progress::Progress::new(args.quiet);
            let hub = hub::Hub::new(hub::HubSettings::from_env())?;
            let options = generate::GenerateOptions {
                version: args.version,
                output_dir: args.output_dir,
                jobs: usize::from(args.jobs),
            };
            let summary = tokio::select! {
                summary = generate::generate(hub, options, &progress) => summary?,
                _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted; no artifacts were written"),
            };
            generate::print_summary(&summary, &progress);
            println!("{}", summary.directory.display());
            Ok(())
        }),
    }
}

/// Prints an error chain as `error: outer: inner` and gives the exit status.
pub fn report(error: &anyhow::Error) -> ExitCode {
    eprintln!("error: {error:#}");
    ExitCode::FAILURE
}
