//! The shards whose scans start first, opened as soon as the shards are known and the version's
//! annotation file is found: their footers and first bytes are on the way while that file
//! downloads and is parsed, which the scans need before they decode, not before they fetch.
//! What no scan takes is cancelled.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::task::JoinHandle;

use crate::hub::HubApi;
use crate::printer::Printer;
use crate::row_cache::RowCache;
use crate::scan::{ScanError, Shard, ShardProblem};
use crate::shards::SourceShards;
use crate::shards::{ShardFile, ShardReader};
use crate::source::Source;

/// A shard opened from the Hub (footer read, body requested) and what it brought.
pub(super) type Opened = Result<(Shard, ShardReader), ScanError>;

/// The shards opened ahead of their scans, by source and path.
#[derive(Default)]
pub struct OpenedAhead {
    opening: HashMap<(Source, String), OpenedShard>,
}

impl OpenedAhead {
    /// Opens the first `jobs` shards in scan order that a scan would open as its first step:
    /// those from the Hub whose entry in `cache` holds no footer. None while a source's shards
    /// could not be found: the run may stop at that (a gated source, say) before any streams.
    /// Their footer reads count on `printer`'s meters as they arrive.
    pub(crate) fn start(
        api: &Arc<HubApi>,
        shards: &SourceShards,
        jobs: usize,
        cache: Option<&RowCache>,
        printer: &Printer,
    ) -> OpenedAhead {
        if shards.iter().any(|(_, found)| found.is_err()) {
            return OpenedAhead::default();
        }
        let first = shards
            .iter()
            .filter_map(|(source, found)| Some((*source, &found.as_ref().ok()?.1)))
            .flat_map(|(source, files)| files.iter().map(move |file| (source, file)))
            .take(jobs.max(1));
        let mut opening = HashMap::new();
        for (source, file) in first {
            let from_entry = cache.is_some_and(|cache| {
                file.expected().is_some_and(|(sha256, _)| {
                    cache.holds_footer(source.repo_id(), file.path(), sha256)
                })
            });
            if !file.is_remote() || from_entry {
                continue;
            }
            let (api, opened) = (Arc::clone(api), file.clone());
            let meter = printer.byte_meter(source);
            let task = tokio::spawn(async move {
                Shard::open(&api, source, opened, |bytes| meter.add(bytes)).await
            });
            opening.insert((source, file.path().to_owned()), OpenedShard(task));
        }
        OpenedAhead { opening }
    }

    pub(super) fn take(&mut self, source: Source, file: &ShardFile) -> Option<OpenedShard> {
        self.opening.remove(&(source, file.path().to_owned()))
    }
}

/// A shard opening ahead of its scan; dropped unused (no scan took it, or the scan read from
/// the cache instead), it is cancelled with the body it requested.
pub(super) struct OpenedShard(JoinHandle<Opened>);

impl OpenedShard {
    /// What the opening brought; `None` if it was cancelled (the runtime shutting down), so
    /// that the scan opens the shard itself. An opening that panicked failed to open the
    /// shard.
    pub(super) async fn get(mut self, file: &ShardFile, source: Source) -> Option<Opened> {
        match (&mut self.0).await {
            Ok(opened) => Some(opened),
            Err(error) if error.is_panic() => Some(Err(ScanError::Shard {
                repo: source.repo_id(),
                shard: file.path().to_owned(),
                problem: ShardProblem::ScanPanicked,
            })),
            Err(_) => None,
        }
    }
}

impl Drop for OpenedShard {
    fn drop(&mut self) {
        self.0.abort();
    }
}
