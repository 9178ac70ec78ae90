//! Why a side of `diff` could not be read, or its changes not written: what failed and why, and
//! (from [`CompareError::next_step`]) what to do next.

use std::path::PathBuf;

use super::json_line::JsonError;
use crate::annotations::{AnnotationError, AnnotationVersion};

#[derive(Debug, thiserror::Error)]
pub(crate) enum CompareError {
    #[error(
        "`{argument}` is neither an existing file or directory nor an annotation version \
         (MAJOR.MINOR.PATCH, e.g. 2.1.0)"
    )]
    NotASide { argument: String },
    #[error(
        "{} holds no HealthChat-11K JSONL file (HealthChat-11K_v*.jsonl)",
        directory.display()
    )]
    NoJsonl { directory: PathBuf },
    #[error(
        "{} holds several HealthChat-11K JSONL files: {}",
        directory.display(),
        files.join(", ")
    )]
    SeveralJsonl {
        directory: PathBuf,
        files: Vec<String>,
    },
    #[error("could not read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("line {line} of {} is not UTF-8 text", path.display())]
    NotUtf8 { path: PathBuf, line: usize },
    #[error("line {line} of {} is not valid JSON", path.display())]
    NotJson {
        path: PathBuf,
        line: usize,
        #[source]
        source: JsonError,
    },
    #[error("line {line} of {} is a JSON {found}, not an object", path.display())]
    NotAnObject {
        path: PathBuf,
        line: usize,
        found: &'static str,
    },
    #[error(
        "{} has no record with a `conversation_id` and a `dataset_source`: it is not a \
         HealthChat-11K JSONL file",
        path.display()
    )]
    NotHealthChat { path: PathBuf },
    #[error("the annotation file of version {version} ({}) cannot be used", path.display())]
    Annotations {
        version: AnnotationVersion,
        path: PathBuf,
        #[source]
        source: AnnotationError,
    },
    #[error("could not write the changes to {}", path.display())]
    WriteCsv {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl CompareError {
    /// What the user can do about it.
    pub(crate) fn next_step(&self) -> Option<String> {
        let step = match self {
            CompareError::NotASide { .. } => {
                "give a version (`healthchat versions` lists them), an artifacts directory \
                 written by `healthchat generate`, or its JSONL file."
            }
            CompareError::NoJsonl { .. } => {
                "give the artifacts directory `healthchat generate` wrote, or a JSONL file."
            }
            CompareError::SeveralJsonl { .. } => "give the one to compare as the side.",
            CompareError::NotUtf8 { .. } => "give a JSONL file as `healthchat generate` writes it.",
            CompareError::NotJson { .. } | CompareError::NotAnObject { .. } => {
                "regenerate the file, or give another."
            }
            CompareError::NotHealthChat { .. } => {
                "give the JSONL of an artifacts directory, or an annotation version."
            }
            CompareError::WriteCsv { .. } => {
                "check that its directory exists and is writable, or pass another --csv path."
            }
            CompareError::Read { .. } | CompareError::Annotations { .. } => return None,
        };
        Some(step.to_owned())
    }
}
