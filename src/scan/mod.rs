//! The shard scan (FORMAT.md §3): each Parquet shard is read in one streaming request after
//! its footer (`footer`), the stream is cut into whole row groups (`assembly`), and each row group
//! is decoded as soon as its bytes are in (`row_group`), while the next ones download (`shard`).
//! Only the ID column is decoded for every row; the other columns (`schema`, `cells`) only for
//! wanted rows.

mod assembly;
mod cells;
mod error;
mod footer;
mod row_group;
mod schema;
mod shard;

pub(crate) use error::{ScanError, ShardProblem};
pub use shard::{DecodedGroup, ReadKind, ScanRequest, Shard, SourceRow};
