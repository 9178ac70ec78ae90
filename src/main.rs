use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = healthchat::cli::Cli::parse();
    match healthchat::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => healthchat::report(&error),
    }
}
