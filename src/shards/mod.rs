//! The source shards (FORMAT.md §1): which shards each source has and the plan of what to scan
//! (`find`, with local copies in `local`), a shard's file (`file`) and the readers of its bytes
//! (`reader`), with the buffers those bytes are read into (`spare_buffers`).

mod error;
mod file;
mod find;
mod local;
mod reader;
pub(crate) mod spare_buffers;

pub(crate) use error::FindError;
pub(crate) use file::{Published, ShardFile, Verification, Verifications};
pub(crate) use find::{
    SourcePlan, SourceShards, check_offline, find_all_shards, plan_sources, progress_bars,
    source_repos,
};
pub(crate) use reader::{ReadError, ShardReader};
