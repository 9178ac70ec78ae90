//! The scan scheduler: every shard gets a feed for the in-order hand-over; scans start in shard
//! order, `jobs` at a time, so the shard the hand-over waits for is always among those running,
//! and each reads its footer only when it starts. Row groups decode one per core at most, whatever
//! `jobs` is.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc};

use crate::annotations::AnnotationIndex;
use crate::dataset::SourceSchemas;
use crate::hub::HubApi;
use crate::in_order::{ShardEvent, ShardFeed};
use crate::prepare::{PreparedRecord, prepare};
use crate::printer::SourceBar;
use crate::runtime;
use crate::scan::{Shard, SourceRow};
use crate::shard_file::ShardFile;
use crate::shards::SourcePlan;
use crate::source::Source;

/// Starts the scans of every shard of `plans` in the background; their records arrive on the
/// returned feeds, one per shard in scan order.
/// Each scan offers `schemas` the columns its shard declares, for the dataset's Parquet files.
pub fn start_scans(
    api: &Arc<HubApi>,
    plans: &[SourcePlan],
    bars: &[Arc<SourceBar>],
    index: &Arc<AnnotationIndex>,
    schemas: &Arc<SourceSchemas>,
    version: &str,
    jobs: usize,
) -> Vec<ShardFeed> {
    let decoders = Arc::new(Semaphore::new(runtime::cores()));
    let mut feeds = Vec::new();
    let mut scans = Vec::new();
    for (plan, bar) in plans.iter().zip(bars) {
        for file in &plan.shards {
            let (sender, events) = mpsc::unbounded_channel();
            feeds.push(ShardFeed {
                source: plan.source,
                path: file.path().to_owned(),
                events,
            });
            let job = ScanJob {
                api: Arc::clone(api),
                source: plan.source,
                file: file.clone(),
                targets: Arc::clone(&plan.targets),
                index: Arc::clone(index),
                version: version.to_owned(),
                bar: Arc::clone(bar),
                decoders: Arc::clone(&decoders),
                schemas: Arc::clone(schemas),
            };
            scans.push(job.run(sender));
        }
    }
    let permits = Arc::new(Semaphore::new(jobs.max(1)));
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

/// The scan of one shard, feeding the hand-over.
struct ScanJob {
    api: Arc<HubApi>,
    source: Source,
    file: ShardFile,
    targets: Arc<HashSet<String>>,
    index: Arc<AnnotationIndex>,
    version: String,
    bar: Arc<SourceBar>,
    decoders: Arc<Semaphore>,
    schemas: Arc<SourceSchemas>,
}

impl ScanJob {
    /// Reads the shard's footer, streams its row groups and sends the wanted records, then
    /// `Done` or `Failed`.
    async fn run(self, events: mpsc::UnboundedSender<ShardEvent>) {
        let ScanJob {
            api,
            source,
            file,
            targets,
            index,
            version,
            bar,
            decoders,
            schemas,
        } = self;
        let prepare = Arc::new(move |row: SourceRow| prepare(&index, &version, row));
        let emit = |record: PreparedRecord| {
            bar.saw(&record.id);
            let _ = events.send(ShardEvent::Record(record));
        };
        let size = file.size();
        let mut reported = 0;
        let mut on_bytes = |bytes| {
            reported += bytes;
            bar.read(bytes);
        };
        let result = match Shard::open(&api, source, file).await {
            Ok((shard, body)) => {
                schemas.offer(source, &shard.declared_schema);
                Arc::new(shard)
                    .scan(body, &decoders, targets, prepare, emit, &mut on_bytes)
                    .await
            }
            Err(error) => Err(error),
        };
        // The footer and the bytes around the row groups count as done too.
        bar.read(size.saturating_sub(reported));
        if result.is_ok() {
            bar.shard_done();
        }
        let _ = events.send(match result {
            Ok(()) => ShardEvent::Done,
            Err(error) => ShardEvent::Failed(error),
        });
    }
}
