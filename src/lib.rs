//! healthchat rebuilds HealthChat-11K. The modules follow the data flow (docs/FORMAT.md is the
//! output contract):
//!
//! `cli` → `commands` → `hub` (annotation file, shard listings and byte ranges) → `annotations`
//! (the index of wanted IDs) → `shards` (which files to scan) → `schedule` (scans in shard order)
//! → `scan` (Parquet row groups decoded as bytes arrive) → `prepare` (`record` + `pyjson` +
//! `review`: a row's output bytes) → `in_order` (records handed on in the sequential order) →
//! `tally` (first row wins, counts) → `artifacts` (files, atomic directory), `dataset` (Parquet
//! and dataset card) and `manifest`.
//! Every terminal write goes through `printer`; `exit` maps errors to exit statuses.

pub mod annotations;
pub mod artifacts;
pub mod cli;
pub mod commands;
pub mod dataset;
pub mod digest;
pub mod exit;
pub mod hub;
pub mod in_order;
pub mod local_file;
pub mod manifest;
pub mod prepare;
pub mod printer;
pub mod pyjson;
pub mod record;
pub mod review;
pub mod row_cache;
pub mod runtime;
pub mod scan;
pub mod schedule;
pub mod shard_file;
pub mod shards;
pub mod signal;
pub mod source;
pub mod spare_buffers;
pub mod summary;
pub mod tally;
pub mod value;
pub mod version;
