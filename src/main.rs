use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = healthchat::cli::Cli::parse();
    match healthchat::commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => healthchat::exit::report(&error),
    }
}
