//! One file per command; each turns its arguments into calls of the stages and prints through
//! the printer.

mod cache;
mod completions;
mod diff;
mod generate;
mod verify;
mod versions;

use crate::cli::{Cli, Command};
use crate::runtime::block_on;

/// Runs a parsed command line; the error's chain is the message for the user.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Generate(args) => block_on(generate::run(args))?,
        Command::Versions(args) => block_on(versions::run(args))?,
        Command::Verify(args) => verify::run(&args.directory),
        Command::Diff(args) => diff::run(args),
        Command::Cache(args) => cache::run(&args),
        Command::Completions(args) => Ok(completions::run(args.shell)?),
    }
}
