//! What can go wrong writing the artifacts directory, each with the next step.

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ArtifactError {
    #[error(
        "could not create the artifacts directory in {dir}: {source}\nNext: check that the directory exists, is writable and has free space, or choose another with --output-dir."
    )]
    Create {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "could not write {path}: {source}\nNext: check free disk space and permissions, then run again."
    )]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not move the finished artifacts to {path}: {source}")]
    Rename {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
