//! What can go wrong scanning a shard: its bytes could not be read, or they are not what a
//! shard of the source must be. The next step comes from [`ScanError::next_step`].

use arrow_schema::{ArrowError, DataType};
use parquet::errors::ParquetError;
use thiserror::Error;

use crate::shards::ReadError;

#[derive(Debug, Error)]
pub(crate) enum ScanError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("{shard} of {repo} {problem}")]
    Shard {
        repo: &'static str,
        shard: String,
        problem: ShardProblem,
    },
}

impl ScanError {
    /// What the user can do about it.
    pub(crate) fn next_step(&self) -> Option<String> {
        match self {
            ScanError::Read(error) => error.next_step(),
            ScanError::Shard { problem, .. } => problem.next_step(),
        }
    }
}

/// What is wrong with a shard's bytes, in words that follow the shard's name (with the
/// Parquet reader's own words where it has them: shown here, not as a source, so once).
#[derive(Debug, Error)]
pub(crate) enum ShardProblem {
    #[error("is not a readable Parquet file ({0})")]
    NotParquet(NotParquet),
    #[error("could not be decoded at row group {row_group} (corrupt or truncated?): {error}")]
    Decode {
        row_group: usize,
        error: DecodeFailure,
    },
    #[error("could not be decoded at row group {row_group}: the decoder failed ({panic})")]
    DecodePanicked { row_group: usize, panic: String },
    #[error("could not be scanned: a task of healthchat's failed")]
    ScanPanicked,
    #[error("has no `{column}` column (its columns: {found})")]
    MissingIdColumn { column: &'static str, found: String },
    #[error("holds text that is not valid UTF-8 in column `{column}`")]
    NotUtf8 { column: String },
    #[error(
        "came from the Hub as bytes whose SHA-256 is {received}, not the {expected} that \
         {published} gives, twice (the second time from a fresh URL): the storage, a proxy or a \
         cache on the way damages it"
    )]
    DamagedOnTheWay {
        expected: String,
        received: String,
        published: &'static str,
    },
    #[error(
        "on disk has the SHA-256 {received}, not the {expected} that {published} gives: the copy \
         is damaged or incomplete"
    )]
    DamagedOnDisk {
        expected: String,
        received: String,
        published: &'static str,
    },
    #[error(
        "came with bytes in row group {row_group} that do not hash as the checked read the cache \
         of rows indexed did, twice (the second time from a fresh URL): the storage, a proxy or \
         a cache on the way damages it"
    )]
    RowGroupChanged { row_group: usize },
    #[error("has column `{column}` of type {data_type}, which the reference cannot write as JSON")]
    UnsupportedType { column: String, data_type: DataType },
}

/// Why a shard is not Parquet that can be read.
#[derive(Debug, Error)]
pub(crate) enum NotParquet {
    /// The Parquet reader's own words.
    #[error("{0}")]
    Reader(ParquetError),
    /// What healthchat's checks of the footer's numbers found (FORMAT.md §1).
    #[error("{0}")]
    Checked(String),
}

/// What the readers said of a row group they could not decode.
#[derive(Debug, Error)]
pub(crate) enum DecodeFailure {
    #[error("{0}")]
    Parquet(#[from] ParquetError),
    #[error("{0}")]
    Arrow(#[from] ArrowError),
}

impl ShardProblem {
    fn next_step(&self) -> Option<String> {
        let step = match self {
            ShardProblem::DamagedOnTheWay { .. } => {
                "run again later; if it persists, download the shards with `hf download` and \
                 pass --source-dir."
            }
            ShardProblem::DamagedOnDisk { .. } => {
                "download it again (`hf download REPO PATH --repo-type dataset --local-dir DIR`), \
                 then run again."
            }
            ShardProblem::RowGroupChanged { .. } => {
                "run again later, or with --no-cache to read the whole shard."
            }
            ShardProblem::DecodePanicked { .. } | ShardProblem::ScanPanicked => {
                "this is a bug in healthchat: please report it with the command you ran."
            }
            ShardProblem::NotParquet(_)
            | ShardProblem::Decode { .. }
            | ShardProblem::MissingIdColumn { .. }
            | ShardProblem::NotUtf8 { .. }
            | ShardProblem::UnsupportedType { .. } => return None,
        };
        Some(step.to_owned())
    }
}
