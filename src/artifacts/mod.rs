//! The artifacts directory (FORMAT.md §8, §9): the files' names (`names`), Python
//! `csv.writer`'s dialect (`csv`), and the writer of a directory that only appears under its
//! final name once every file in it is complete (`writer`).

mod csv;
mod error;
mod names;
mod writer;

pub use csv::encode_csv;
pub(crate) use error::ArtifactError;
pub(crate) use names::ArtifactNames;
pub(crate) use writer::ArtifactWriter;
