//! What can go wrong writing the artifacts directory, and the next step.

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub(crate) enum ArtifactError {
    #[error("could not create the artifacts directory in {}", dir.display())]
    Create {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "cannot write the artifacts into {}: {} is a file, not a directory",
        dir.display(),
        file.display()
    )]
    NotADirectory { dir: PathBuf, file: PathBuf },
    #[error("could not write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not move the finished artifacts to {}", path.display())]
    Rename {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl ArtifactError {
    /// What the user can do about it, if anything.
    pub(crate) fn next_step(&self) -> Option<String> {
        let step = match self {
            ArtifactError::Create { .. } => {
                "check that the directory exists, is writable and has free space, or choose \
                 another with --output-dir."
            }
            ArtifactError::NotADirectory { .. } => {
                "choose a directory with --output-dir (a directory that does not exist yet is \
                 created), or move the file out of the way."
            }
            ArtifactError::Write { .. } => "check free disk space and permissions, then run again.",
            ArtifactError::Rename { .. } => return None,
        };
        Some(step.to_owned())
    }
}
