//! A wanted source row and its annotation become the output record and its bytes (FORMAT.md
//! §4 to §7): `prepare` runs the stage, `overlay` shapes the record, `pyjson` writes its JSONL
//! line and `review` derives its review rows.

mod overlay;
mod prepare;
pub mod pyjson;
pub mod review;

pub(crate) use prepare::{PreparedRecord, prepare};
