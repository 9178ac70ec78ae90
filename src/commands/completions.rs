//! `healthchat completions SHELL`: a completion script on stdout.

use crate::cli::Cli;

pub fn run(shell: clap_complete::Shell) {
    clap_complete::generate(
        shell,
        &mut <Cli as clap::CommandFactory>::command(),
        "healthchat",
        &mut std::io::stdout(),
    );
}
