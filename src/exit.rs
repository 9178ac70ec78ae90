//! How a run ends: the error's message and the exit status (README.md, "Exit status").

use std::path::PathBuf;
use std::process::ExitCode;

use crate::printer::Printer;
use crate::signal::Interrupted;

/// `--strict` and some annotated conversations were not found.
#[derive(Debug, thiserror::Error)]
#[error(
    "{missing} annotated conversations were not found in the source datasets (--strict); the \
     artifacts were written to {}",
    directory.display()
)]
pub struct MissingConversations {
    pub missing: usize,
    pub directory: PathBuf,
}

/// `diff --exit-code` and the two sides differ.
#[derive(Debug, thiserror::Error)]
#[error("{a} and {b} differ (--exit-code)")]
pub struct Differences {
    pub a: String,
    pub b: String,
}

/// Prints an error chain as `error: outer: inner` and gives its exit status.
pub fn report(error: &anyhow::Error) -> ExitCode {
    Printer::error(message(error));
    status(error)
}

/// 128 + the signal's number for an interrupted run, as shells report it; 3 for missing
/// conversations with `--strict`; 4 for differences with `diff --exit-code`; else 1.
fn status(error: &anyhow::Error) -> ExitCode {
    if let Some(interrupted) = error.downcast_ref::<Interrupted>() {
        ExitCode::from(128 + interrupted.number)
    } else if error.is::<MissingConversations>() {
        ExitCode::from(3)
    } else if error.is::<Differences>() {
        ExitCode::from(4)
    } else {
        ExitCode::FAILURE
    }
}

/// An error and its causes as `outer: inner`, leaving out a cause whose text an outer message
/// already quotes.
fn message(error: &anyhow::Error) -> String {
    let mut message = error.to_string();
    for cause in error.chain().skip(1) {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn causes_are_joined_once() {
        let error = Err::<(), _>(std::io::Error::other("disk full"))
            .context("could not write x: disk full")
            .context("generate failed")
            .unwrap_err();
        assert_eq!(
            message(&error),
            "generate failed: could not write x: disk full"
        );
    }

    #[test]
    fn statuses_follow_the_readme() {
        let interrupted = anyhow::Error::from(Interrupted {
            name: "SIGTERM",
            number: 15,
        });
        assert_eq!(status(&interrupted), ExitCode::from(143));
        let missing = anyhow::Error::from(MissingConversations {
            missing: 2,
            directory: PathBuf::from("out"),
        });
        assert_eq!(status(&missing), ExitCode::from(3));
        let differences = anyhow::Error::from(Differences {
            a: "1.0.0".to_owned(),
            b: "2.1.0".to_owned(),
        });
        assert_eq!(status(&differences), ExitCode::from(4));
        assert_eq!(status(&anyhow::anyhow!("boom")), ExitCode::FAILURE);
    }
}
