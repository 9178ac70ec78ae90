//! `healthchat diff A B`: what changed between two annotation versions or artifacts
//! directories, per source (README.md, "What changed between versions").
//!
//! `side` says what an argument names (a version's annotation file is fetched by
//! `annotations::AnnotationFiles`); `records` reads a side's conversations (`json_line` reads the
//! artifacts' JSONL as Python does); `comparison` walks both sides with `fields` (what is
//! compared, in canonical form: `key`) and `detail` (where records differ); `counts`, `report`
//! and `changes` say what it found.

mod changes;
mod comparison;
mod counts;
mod detail;
mod error;

pub(crate) use error::CompareError;
mod fields;
mod json_line;
mod key;
mod records;
mod report;
mod side;

pub use changes::write_csv;
pub use comparison::compare;
pub use records::Records;
pub use report::{SideReport, json, lines};
pub use side::Side;
