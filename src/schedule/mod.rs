//! The read strategy: how every shard of a run is found in the cache of rows, opened, read
//! (cache, then network or disk), checked and read again, as a few named steps:
//!
//! - `mod.rs` (here): the scans started in shard order, `jobs` at a time, each with a feed for
//!   the in-order hand-over, so the shard the hand-over waits for is always among those running;
//!   and the offline check of what the cache holds.
//! - `ahead`: the first shards opened while the annotation file downloads.
//! - `job`: one shard's scan and its promise: records only from bytes that hash to the published
//!   SHA-256, a damaged read read once more from a fresh URL (FORMAT.md §1).
//! - `read`: one read of a shard, as the entry's [`ReadPlan`](crate::row_cache::ReadPlan) says.
//! - `ledger`: what a read keeps as row groups decode: records by row group, and the entry's
//!   journal, synced in batches.
//!
//! Row groups decode one per core at most, whatever `jobs` is.

mod ahead;
mod job;
mod ledger;
mod read;

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use futures_util::FutureExt;
use tokio::sync::{Semaphore, mpsc};

use crate::annotations::AnnotationIndex;
use crate::dataset::SourceSchemas;
use crate::hub::HubApi;
use crate::in_order::{ShardEvent, ShardFeed};
use crate::printer::SourceBar;
use crate::row_cache::{CacheError, IdKey, RowCache};
use crate::runtime;
use crate::scan::{ScanError, ShardProblem};
use crate::shards::SourcePlan;
use crate::shards::Verifications;

pub use ahead::OpenedAhead;
use job::{ScanContext, ShardScan};

/// What the scans tell beside their records: the columns their shards declare, how their bytes
/// were checked and read, and how many bytes they fetched in all (retries too).
pub struct ScanReports {
    pub schemas: Arc<SourceSchemas>,
    pub verifications: Arc<Verifications>,
    pub fetched: Arc<AtomicU64>,
}

/// How a run's scans go: the annotation version their records carry, how many shards stream at
/// once, and the cache of rows (`None`: `--no-cache`).
pub struct ScanSettings<'a> {
    pub version: &'a str,
    pub jobs: usize,
    pub cache: Option<&'a RowCache>,
}

/// Starts the scans of every shard of `plans` in the background; their records arrive on the
/// returned feeds, one per shard in scan order. Shards `ahead` opened are taken from it.
/// Each scan offers `reports` the columns its shard declares, for the dataset's Parquet files,
/// and how its bytes were checked, for the manifest.
pub fn start_scans(
    api: &Arc<HubApi>,
    plans: &[SourcePlan],
    bars: &[Arc<SourceBar>],
    index: &Arc<AnnotationIndex>,
    reports: &ScanReports,
    settings: ScanSettings<'_>,
    ahead: &mut OpenedAhead,
) -> Vec<ShardFeed> {
    let context = Arc::new(ScanContext {
        api: Arc::clone(api),
        index: Arc::clone(index),
        version: settings.version.to_owned(),
        decoders: Arc::new(Semaphore::new(runtime::cores())),
        schemas: Arc::clone(&reports.schemas),
        verifications: Arc::clone(&reports.verifications),
        fetched: Arc::clone(&reports.fetched),
        cache: settings.cache.cloned(),
    });
    let mut feeds = Vec::new();
    let mut scans = Vec::new();
    for (plan, bar) in plans.iter().zip(bars) {
        let keys = Arc::new(target_keys(plan));
        for file in &plan.shards {
            let (sender, events) = mpsc::unbounded_channel();
            feeds.push(ShardFeed {
                source: plan.source,
                path: file.path().to_owned(),
                events,
            });
            let scan = ShardScan {
                context: Arc::clone(&context),
                source: plan.source,
                file: file.clone(),
                targets: Arc::clone(&plan.targets),
                keys: Arc::clone(&keys),
                bar: Arc::clone(bar),
            };
            let opened = ahead.take(plan.source, file);
            // A scan that panics all the same (a bug, never input) fails its shard with a
            // message, rather than leaving the hand-over to find its feed closed.
            let failed = sender.clone();
            let (repo, path) = (plan.source.repo_id(), file.path().to_owned());
            scans.push(async move {
                if AssertUnwindSafe(scan.run(sender, opened))
                    .catch_unwind()
                    .await
                    .is_err()
                {
                    let _ = failed.send(ShardEvent::Failed(ScanError::Shard {
                        repo,
                        shard: path,
                        problem: ShardProblem::ScanPanicked,
                    }));
                }
            });
        }
    }
    let permits = Arc::new(Semaphore::new(settings.jobs.max(1)));
    tokio::spawn(async move {
        for scan in scans {
            let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                return;
            };
            tokio::spawn(async move {
                scan.await;
                drop(permit);
            });
        }
    });
    feeds
}

/// Offline, the shards of `plans` whose wanted rows the cache does not all hold (each would need
/// bytes), as `path of repo`.
pub async fn shards_needing_bytes(
    plans: &[SourcePlan],
    cache: &RowCache,
) -> Result<Vec<String>, CacheError> {
    let mut needing = Vec::new();
    for plan in plans {
        let keys = target_keys(plan);
        for file in &plan.shards {
            let held = match file.expected() {
                Some((sha256, _)) => {
                    let (entry, _) = cache
                        .open_entry(plan.source.repo_id(), file.path(), sha256)
                        .await?;
                    entry.holds_all(&keys)
                }
                None => false,
            };
            if !held {
                needing.push(format!("{} of {}", file.path(), plan.source.repo_id()));
            }
        }
    }
    Ok(needing)
}

/// The ID keys (FORMAT.md §11) of the conversations wanted from a source.
fn target_keys(plan: &SourcePlan) -> HashSet<IdKey> {
    plan.targets.iter().map(|id| IdKey::of(id)).collect()
}
