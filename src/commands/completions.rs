//! `healthchat completions SHELL`: a completion script on stdout.

use crate::cli::Cli;
use crate::printer::{Printer, StdoutError};

pub(super) fn run(shell: clap_complete::Shell) -> Result<(), StdoutError> {
    let mut script = Vec::new();
    clap_complete::generate(
        shell,
        &mut <Cli as clap::CommandFactory>::command(),
        "healthchat",
        &mut script,
    );
    Printer::new(true).result(String::from_utf8_lossy(&script).trim_end())
}
