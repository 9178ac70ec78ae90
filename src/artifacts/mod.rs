//! The artifacts directory (FORMAT.md §8, §9): the files' names (`names`), Python
//! `csv.writer`'s dialect (`csv`), and the writer of a directory that only appears under its
//! final name once every file in it is complete (`writer`).

mod csv;
mod names;
mod writer;

use std::path::PathBuf;

use thiserror::Error;

pub use csv::encode_csv;
pub use names::ArtifactNames;
pub use writer::ArtifactWriter;

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
