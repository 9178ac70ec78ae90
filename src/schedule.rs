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
use crate::scan::{ScanError, Scanned, Shard, ShardProblem, SourceRow};
use crate::shard_file::{ShardFile, Verification, Verifications};
use crate::shards::SourcePlan;
use crate::source::Source;

/// What the scans tell beside their records: the columns their shards declare, and how their
/// bytes were checked.
pub struct ScanReports {
    pub schemas: Arc<SourceSchemas>,
    pub verifications: Arc<Verifications>,
}

/// Starts the scans of every shard of `plans` in the background; their records arrive on the
/// returned feeds, one per shard in scan order.
/// Each scan offers `reports` the columns its shard declares, for the dataset's Parquet files,
/// and how its bytes were checked, for the manifest.
pub fn start_scans(
    api: &Arc<HubApi>,
    plans: &[SourcePlan],
    bars: &[Arc<SourceBar>],
    index: &Arc<AnnotationIndex>,
    reports: &ScanReports,
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
                schemas: Arc::clone(&reports.schemas),
                verifications: Arc::clone(&reports.verifications),
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
    verifications: Arc<Verifications>,
}

impl ScanJob {
    /// Scans the shard and checks its bytes, then sends its wanted records and `Done`, or
    /// `Failed`. The records stay here until the shard's SHA-256 is checked (FORMAT.md §1): a
    /// few per shard, never handed on from bytes that came damaged.
    async fn run(self, events: mpsc::UnboundedSender<ShardEvent>) {
        let event = match self.scan_checked().await {
            Ok(records) => {
                for record in records {
                    let _ = events.send(ShardEvent::Record(record));
                }
                self.bar.shard_done();
                ShardEvent::Done
            }
            Err(error) => ShardEvent::Failed(error),
        };
        let _ = events.send(event);
    }

    /// The shard's wanted records, from bytes that hash to the published SHA-256 (or that had
    /// nothing to check against). Bytes from the Hub that do not, or a shard from the Hub that
    /// cannot be opened, are read once more from a fresh URL: damage on the way heals.
    async fn scan_checked(&self) -> Result<Vec<PreparedRecord>, ScanError> {
        let expected = self.file.expected();
        let mut file = self.file.clone();
        let mut second_read = false;
        loop {
            let mut records = Vec::new();
            let may_read_again = file.is_remote() && expected.is_some() && !second_read;
            let scanned = match self.scan_once(&file, &mut records).await {
                Err(ScanError::Shard {
                    problem: ShardProblem::NotParquet(_),
                    ..
                }) if may_read_again => None,
                other => Some(other?),
            };
            let damaged = match (&scanned, expected) {
                (Some(scanned), Some((sha256, _))) => scanned.sha256 != sha256,
                (None, _) => true,
                (Some(_), None) => false,
            };
            if damaged && may_read_again {
                second_read = true;
                file = file.renewed(&self.api).await?;
                continue;
            }
            // Not read again: it was opened, so it was scanned.
            let scanned = scanned.expect("a shard that cannot be opened is read again");
            if let Some((sha256, published)) = expected.filter(|_| damaged) {
                let (expected, received) = (sha256.to_owned(), scanned.sha256);
                let published = published.describe();
                return Err(ScanError::Shard {
                    repo: self.source.repo_id(),
                    shard: file.path().to_owned(),
                    problem: if file.is_remote() {
                        ShardProblem::DamagedOnTheWay {
                            expected,
                            received,
                            published,
                        }
                    } else {
                        ShardProblem::DamagedOnDisk {
                            expected,
                            received,
                            published,
                        }
                    },
                });
            }
            if let Some(failure) = scanned.failure {
                return Err(failure);
            }
            self.verifications.record(
                &file,
                Verification {
                    sha256: scanned.sha256,
                    against: expected.map(|(_, published)| published),
                },
            );
            return Ok(records);
        }
    }

    /// One read of the shard: its footer, its row groups streamed and decoded, its wanted
    /// records into `records`.
    async fn scan_once(
        &self,
        file: &ShardFile,
        records: &mut Vec<PreparedRecord>,
    ) -> Result<Scanned, ScanError> {
        let (index, version) = (Arc::clone(&self.index), self.version.clone());
        let prepare = Arc::new(move |row: SourceRow| prepare(&index, &version, row));
        let emit = |record: PreparedRecord| {
            self.bar.saw(&record.id);
            records.push(record);
        };
        let mut reported = 0;
        let mut on_bytes = |bytes| {
            reported += bytes;
            self.bar.read(bytes);
        };
        let (shard, body) = Shard::open(&self.api, self.source, file.clone()).await?;
        self.schemas.offer(self.source, &shard.declared_schema);
        let scanned = Arc::new(shard)
            .scan(
                body,
                &self.decoders,
                Arc::clone(&self.targets),
                prepare,
                emit,
                &mut on_bytes,
            )
            .await;
        // The footer's bytes count as read too.
        self.bar.read(file.size().saturating_sub(reported));
        scanned
    }
}
