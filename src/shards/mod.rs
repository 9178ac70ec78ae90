//! The source shards (FORMAT.md §1): which shards each source has (`find`), and a shard's file
//! and the readers of its bytes (`file`), with the buffers those bytes are read into
//! (`spare_buffers`).

mod file;
mod find;
mod reader;
pub mod spare_buffers;

pub use file::{Published, ShardFile, Verification, Verifications};
pub use find::{SourcePlan, SourceShards, find_all_shards, plan_sources};
pub use reader::{DiskReader, ReadError, ShardReader};
