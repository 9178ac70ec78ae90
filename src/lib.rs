//! healthchat rebuilds HealthChat-11K. The modules follow the data flow, from the annotations to
//! the artifacts (docs/FORMAT.md is the output contract):
//!
//! - `cli`: the command line (clap types and help text).
//! - `commands`: one file per command; `generate` is the flow as a page of named steps.
//! - `hub`: the Hugging Face Hub: pins, listings, downloads, byte ranges, the Hugging Face cache.
//! - `annotations`: the annotation versions, a version's file downloaded, its index of wanted IDs.
//! - `shards`: which shards each source has (Hub, cache of rows, `--source-dir`), their readers.
//! - `schedule`: the scans started in shard order, `--jobs` at a time.
//! - `scan`: a shard's Parquet row groups decoded as their bytes arrive.
//! - `row_cache`: the cache of matched rows, which a re-run or an offline run reads instead.
//! - `value`: the ordered value model every stage passes rows and records in.
//! - `record`: a wanted row and its annotation → the output record, its JSONL line, review rows.
//! - `in_order`: records handed on in the sequential order.
//! - `tally`: the first row of an ID wins; the counts.
//! - `artifacts`: the artifacts directory, its names and files, renamed into place when whole.
//! - `dataset`: the directory as a Hugging Face dataset: Parquet files and the dataset card.
//! - `manifest`: `manifest.json`, assembled from what was read and counted; `verify`'s checks.
//! - `reproduce`: `generate --manifest`: an earlier manifest as a build, and the two compared.
//! - `compare`: two versions' annotation files or two artifacts directories compared (`diff`).
//! - `summary`: the closing summary of a run.
//! - `source`: the two source datasets. `digest`: SHA-256 and the Hub's ETag hashes.
//! - `local_file`: a file from disk read as input: regular files only, within bounds, no links.
//! - `printer`: every terminal write. `runtime`: the async runtime. `signal`: Ctrl-C and
//!   SIGTERM. `exit`: an error's message, its next step and the exit status.

pub mod annotations;
pub mod artifacts;
pub mod cli;
pub mod commands;
pub(crate) mod compare;
pub(crate) mod dataset;
pub mod digest;
pub mod exit;
pub(crate) mod hub;
pub(crate) mod in_order;
pub(crate) mod local_file;
pub(crate) mod manifest;
pub(crate) mod printer;
pub mod record;
pub(crate) mod reproduce;
pub(crate) mod row_cache;
pub(crate) mod runtime;
pub(crate) mod scan;
pub(crate) mod schedule;
pub(crate) mod shards;
pub(crate) mod signal;
pub mod source;
pub(crate) mod summary;
pub(crate) mod tally;
pub mod value;
