//! Why a side of `diff` could not be read, or its changes not written: what failed, why, and
//! what to do next.

use std::path::PathBuf;

use super::json_line::JsonError;
use crate::annotations::AnnotationError;
use crate::annotations::version::AnnotationVersion;

#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error(
        "`{argument}` is neither an existing file or directory nor an annotation version \
         (MAJOR.MINOR.PATCH, e.g. 2.1.0).\n\
         Next: give a version (`healthchat versions` lists them), an artifacts directory \
         written by `healthchat generate`, or its JSONL file."
    )]
    NotASide { argument: String },
    #[error(
        "annotation version {version} does not exist in {repo} at revision {revision}; \
         available versions: {}.\n\
         Next: compare two of those.",
        list(available)
    )]
    UnknownVersion {
        version: AnnotationVersion,
        repo: String,
        revision: String,
        available: Vec<AnnotationVersion>,
    },
    #[error(
        "HF_HUB_OFFLINE is set and annotation version {version} ({file} of {repo}) is not in the \
         Hugging Face cache {}; versions cached: {}.\n\
         Next: run once with network access (unset HF_HUB_OFFLINE) to cache it, or compare \
         cached versions.",
        cache.display(),
        list(cached)
    )]
    NotCached {
        version: AnnotationVersion,
        file: String,
        repo: String,
        cache: PathBuf,
        cached: Vec<AnnotationVersion>,
    },
    #[error(
        "{} holds no HealthChat-11K JSONL file (HealthChat-11K_v*.jsonl).\n\
         Next: give the artifacts directory `healthchat generate` wrote, or a JSONL file.",
        directory.display()
    )]
    NoJsonl { directory: PathBuf },
    #[error(
        "{} holds several HealthChat-11K JSONL files: {}.\n\
         Next: give the one to compare as the side.",
        directory.display(),
        files.join(", ")
    )]
    SeveralJsonl {
        directory: PathBuf,
        files: Vec<String>,
    },
    #[error("could not read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "line {line} of {} is not UTF-8 text.\n\
         Next: give a JSONL file as `healthchat generate` writes it.",
        path.display()
    )]
    NotUtf8 { path: PathBuf, line: usize },
    #[error(
        "line {line} of {} is not valid JSON ({source}).\n\
         Next: regenerate the file, or give another.",
        path.display()
    )]
    NotJson {
        path: PathBuf,
        line: usize,
        #[source]
        source: JsonError,
    },
    #[error(
        "line {line} of {} is a JSON {found}, not an object.\n\
         Next: regenerate the file, or give another.",
        path.display()
    )]
    NotAnObject {
        path: PathBuf,
        line: usize,
        found: &'static str,
    },
    #[error(
        "{} has no record with a `conversation_id` and a `dataset_source`: it is not a \
         HealthChat-11K JSONL file.\n\
         Next: give the JSONL of an artifacts directory, or an annotation version.",
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
    #[error(
        "could not write the changes to {}: {source}.\n\
         Next: check that its directory exists and is writable, or pass another --csv path.",
        path.display()
    )]
    WriteCsv {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn list(versions: &[AnnotationVersion]) -> String {
    if versions.is_empty() {
        return "none".to_owned();
    }
    let names: Vec<String> = versions.iter().map(ToString::to_string).collect();
    names.join(", ")
}
