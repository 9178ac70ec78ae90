//! `healthchat cache`: where the cache of matched rows is, its size and what it holds, per
//! repository commit (FORMAT.md §11); `healthchat cache clean` removes it.

use anyhow::Result;
use indicatif::HumanBytes;
use serde::Serialize;

use crate::cli::{CacheAction, CacheArgs};
use crate::hub::HubSettings;
use crate::printer::Printer;
use crate::row_cache::RowCache;

/// What the cache holds of one repository commit.
#[derive(Debug, Serialize)]
struct CommitContents {
    repository: String,
    commit: String,
    /// Shards of the commit with an entry, of all it lists.
    shards_cached: usize,
    shards_listed: usize,
    /// Shards indexed whole, from a checked read.
    shards_indexed: usize,
    rows: u64,
    ids: u64,
}

pub(super) fn run(args: &CacheArgs) -> Result<()> {
    let printer = Printer::new(false);
    let cache = RowCache::new(HubSettings::from_env().row_cache_dir);
    match args.action {
        Some(CacheAction::Clean) => clean(&cache, args.json, &printer),
        None => show(&cache, args.json, &printer),
    }
}

fn show(cache: &RowCache, json: bool, printer: &Printer) -> Result<()> {
    let size = cache.size();
    let commits: Vec<CommitContents> = cache
        .listings()
        .into_iter()
        .map(|(repository, listing)| {
            let looks: Vec<_> = listing
                .shards
                .iter()
                .filter_map(|shard| cache.look(&repository, shard))
                .collect();
            CommitContents {
                shards_cached: looks.len(),
                shards_listed: listing.shards.len(),
                shards_indexed: looks.iter().filter(|look| look.indexed_whole).count(),
                rows: looks.iter().map(|look| look.rows).sum(),
                ids: looks.iter().map(|look| look.ids).sum(),
                repository,
                commit: listing.commit,
            }
        })
        .collect();
    if json {
        #[derive(Serialize)]
        struct Shown<'a> {
            path: &'a std::path::Path,
            size_bytes: u64,
            commits: &'a [CommitContents],
        }
        printer.result(serde_json::to_string_pretty(&Shown {
            path: cache.root(),
            size_bytes: size,
            commits: &commits,
        })?)?;
        return Ok(());
    }
    printer.result(format!(
        "Cache of matched rows: {} ({})",
        cache.root().display(),
        HumanBytes(size)
    ))?;
    if commits.is_empty() {
        printer.result("  empty: `healthchat generate` fills it as it scans")?;
    }
    for commit in &commits {
        printer.result(format!(
            "  {} @ {}: {}/{} shards cached ({} indexed whole), {} rows, {} IDs indexed",
            commit.repository,
            commit.commit,
            commit.shards_cached,
            commit.shards_listed,
            commit.shards_indexed,
            commit.rows,
            commit.ids
        ))?;
    }
    Ok(())
}

fn clean(cache: &RowCache, json: bool, printer: &Printer) -> Result<()> {
    let cleaned = cache.clean()?;
    if cleaned.kept > 0 {
        Printer::warning(format!(
            "{} files or folders in {} were not written by the cache of matched rows, and stay",
            cleaned.kept,
            cache.root().display()
        ));
    }
    if json {
        printer.result(serde_json::json!({
            "path": cache.root(),
            "removed_bytes": cleaned.removed_bytes,
        }))?;
    } else {
        printer.result(format!(
            "Removed the cache of matched rows at {} ({})",
            cache.root().display(),
            HumanBytes(cleaned.removed_bytes)
        ))?;
    }
    Ok(())
}
