//! How a run ends: the error's message, the next step, and the exit status (README.md, "Exit
//! status").

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::annotations::{AnnotationError, VersionError};
use crate::artifacts::ArtifactError;
use crate::compare::CompareError;
use crate::dataset::DatasetError;
use crate::hub::HubError;
use crate::in_order::HandOverError;
use crate::manifest::VerifyError;
use crate::printer::{Printer, StdoutError};
use crate::reproduce::{NotReproduced, ReproduceError};
use crate::row_cache::CacheError;
use crate::scan::ScanError;
use crate::shards::{FindError, ReadError};
use crate::signal::Interrupted;

/// `--strict` and some annotated conversations were not found.
#[derive(Debug, thiserror::Error)]
#[error(
    "{missing} annotated conversations were not found in the source datasets (--strict); the \
     artifacts were written to {}",
    directory.display()
)]
pub(crate) struct MissingConversations {
    pub(crate) missing: usize,
    pub(crate) directory: PathBuf,
}

/// `diff --exit-code` and the two sides differ.
#[derive(Debug, thiserror::Error)]
#[error("{a} and {b} differ (--exit-code)")]
pub(crate) struct Differences {
    pub(crate) a: String,
    pub(crate) b: String,
}

/// Prints an error chain as `error: outer: inner`, then what to do about it on a line of its
/// own, and gives its exit status.
pub fn report(error: &anyhow::Error) -> ExitCode {
    match next_step(error) {
        Some(step) => Printer::error(format!("{}\nNext: {step}", message(error))),
        None => Printer::error(message(error)),
    }
    status(error)
}

/// 128 + the signal's number for an interrupted run, as shells report it; 3 for missing
/// conversations with `--strict`; 4 for a result other than the one expected (`generate
/// --manifest` not reproduced, `diff --exit-code` sides that differ); else 1.
fn status(error: &anyhow::Error) -> ExitCode {
    if let Some(interrupted) = error.downcast_ref::<Interrupted>() {
        ExitCode::from(128 + interrupted.number)
    } else if error.is::<MissingConversations>() {
        ExitCode::from(3)
    } else if error.is::<Differences>() || error.is::<NotReproduced>() {
        ExitCode::from(4)
    } else {
        ExitCode::FAILURE
    }
}

/// An error and its causes as `outer: inner`; each shows its cause in its message or as its
/// source, never both.
fn message(error: &anyhow::Error) -> String {
    let messages: Vec<String> = error.chain().map(ToString::to_string).collect();
    messages.join(": ")
}

/// The next step of the outermost error in the chain that names one.
fn next_step(error: &anyhow::Error) -> Option<String> {
    type Step = fn(&(dyn Error + 'static)) -> Option<String>;
    const STEPS: [Step; 16] = [
        |cause| cause.downcast_ref::<StdoutError>()?.next_step(),
        |cause| cause.downcast_ref::<AnnotationError>()?.next_step(),
        |cause| cause.downcast_ref::<ScanError>()?.next_step(),
        |cause| cause.downcast_ref::<CacheError>()?.next_step(),
        |cause| cause.downcast_ref::<CompareError>()?.next_step(),
        |cause| cause.downcast_ref::<HubError>()?.next_step(),
        |cause| cause.downcast_ref::<FindError>()?.next_step(),
        |cause| cause.downcast_ref::<ReadError>()?.next_step(),
        |cause| cause.downcast_ref::<VersionError>()?.next_step(),
        |cause| cause.downcast_ref::<HandOverError>()?.next_step(),
        |cause| cause.downcast_ref::<ArtifactError>()?.next_step(),
        |cause| cause.downcast_ref::<DatasetError>()?.next_step(),
        |cause| cause.downcast_ref::<VerifyError>()?.next_step(),
        |cause| cause.downcast_ref::<ReproduceError>()?.next_step(),
        |cause| Some(cause.downcast_ref::<NotReproduced>()?.next_step()),
        |cause| cause.downcast_ref::<Interrupted>()?.next_step(),
    ];
    error
        .chain()
        .find_map(|cause| STEPS.iter().find_map(|step| step(cause)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn causes_are_joined_and_the_next_step_comes_last() {
        let error = Err::<(), _>(ArtifactError::Write {
            path: PathBuf::from("x"),
            source: std::io::Error::other("disk full"),
        })
        .context("generate failed")
        .unwrap_err();
        assert_eq!(
            message(&error),
            "generate failed: could not write x: disk full"
        );
        assert_eq!(
            next_step(&error).as_deref(),
            Some("check free disk space and permissions, then run again.")
        );
        assert_eq!(next_step(&anyhow::anyhow!("boom")), None);
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
