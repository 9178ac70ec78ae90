//! One shard's scan and its promise (FORMAT.md §1): records are handed on only from bytes that
//! hash to the published SHA-256 (or that had nothing to check against). Bytes from the Hub that
//! do not, a footer that is not Parquet, or a row group the cache indexed that hashes otherwise
//! now, are read once more from a fresh URL, with the cache's entry emptied: damage on the way
//! heals. What is damaged twice, or on disk, is an error naming the shard.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use tokio::sync::{Semaphore, mpsc};

use super::ahead::OpenedShard;
use super::ledger::{CacheNotes, Read, dropped_warning};
use crate::annotations::AnnotationIndex;
use crate::dataset::SourceSchemas;
use crate::digest::Sha256;
use crate::hub::HubApi;
use crate::in_order::ShardEvent;
use crate::printer::SourceBar;
use crate::record::PreparedRecord;
use crate::row_cache::{IdKey, RowCache, ShardEntry};
use crate::scan::{ScanError, ShardProblem};
use crate::shards::{Published, ShardFile, Verification, Verifications};
use crate::source::Source;

/// What every scan of a run shares.
pub(super) struct ScanContext {
    pub api: Arc<HubApi>,
    pub index: Arc<AnnotationIndex>,
    /// The annotation version the records carry.
    pub version: String,
    /// One row group decodes per permit: one per core, whatever `--jobs` is.
    pub decoders: Arc<Semaphore>,
    pub schemas: Arc<SourceSchemas>,
    pub verifications: Arc<Verifications>,
    /// Every byte fetched, retries too.
    pub fetched: Arc<AtomicU64>,
    /// The cache of rows; `None` with `--no-cache`.
    pub cache: Option<RowCache>,
}

/// The scan of one shard, feeding the hand-over.
pub(super) struct ShardScan {
    pub context: Arc<ScanContext>,
    pub source: Source,
    pub file: ShardFile,
    /// The IDs wanted from the source, and their keys as the cache indexes them.
    pub targets: Arc<HashSet<String>>,
    pub keys: Arc<HashSet<IdKey>>,
    pub bar: Arc<SourceBar>,
}

/// What one read came to, as the read-again policy sees it.
enum Outcome {
    /// Its bytes hash to the published SHA-256, or there was nothing to check them against.
    Sound(Read),
    Damaged(Damaged),
}

/// Bytes that came damaged, against the SHA-256 `published` gives.
struct Damaged {
    damage: Damage,
    expected: String,
    published: Published,
}

enum Damage {
    /// The whole file hashed to `received`, not to the published SHA-256.
    Hash(String),
    /// Its footer is not Parquet (numbers that lie, say): the file's hash is not known yet.
    Footer(ScanError),
    /// A row group the cache indexed from a checked read hashes otherwise now.
    RowGroup(ScanError),
}

impl ShardScan {
    /// Scans the shard and checks its bytes, then sends its wanted records and `Done`, or
    /// `Failed`. The records stay here until the shard's SHA-256 is checked (FORMAT.md §1): a
    /// few per shard, never handed on from bytes that came damaged.
    pub(super) async fn run(
        self,
        events: mpsc::UnboundedSender<ShardEvent>,
        opened: Option<OpenedShard>,
    ) {
        let event = match self.scan_checked(opened).await {
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

    /// The shard's wanted records, from checked bytes, taken from the cache of rows where it
    /// holds them (FORMAT.md §11); `opened`, the shard opened ahead, serves the first read.
    async fn scan_checked(
        &self,
        mut opened: Option<OpenedShard>,
    ) -> Result<Vec<PreparedRecord>, ScanError> {
        let mut entry = self.open_entry().await;
        let mut file = self.file.clone();
        let mut first_read = true;
        loop {
            let read = self.read_once(&file, entry.as_mut(), opened.take()).await;
            let damaged = match self.assess(read)? {
                Outcome::Sound(read) => return self.accept(read, &file),
                Outcome::Damaged(damaged) => damaged,
            };
            if let Some(kept) = &mut entry {
                // An entry that cannot be emptied is not used again.
                if !self.notes().write(|| kept.clear()) {
                    entry = None;
                }
            }
            if first_read && file.is_remote() {
                first_read = false;
                file = file.renewed(&self.context.api).await?;
                continue;
            }
            return Err(self.damage_error(damaged, &file).await);
        }
    }

    /// The shard's entry in the cache of rows, locked for this scan: for shards of the Hub with
    /// a published SHA-256, which names the entry; a local copy is read whole every run, so that
    /// every run checks the copy itself.
    async fn open_entry(&self) -> Option<ShardEntry> {
        let cache = self.context.cache.as_ref()?;
        let (sha256, _) = self.file.expected()?;
        if self.file.is_local() {
            return None;
        }
        match cache
            .open_entry(self.source.repo_id(), self.file.path(), sha256)
            .await
        {
            Ok((entry, dropped)) => {
                if let Some(dropped) = dropped {
                    self.bar.warn(dropped_warning(&self.file, cache, &dropped));
                }
                Some(entry)
            }
            Err(error) => {
                // Its cause: the warning says which cache it is.
                self.notes()
                    .warn(std::error::Error::source(&error).unwrap_or(&error));
                None
            }
        }
    }

    /// Sorts a read by what its bytes proved; errors that are not about the bytes end the scan.
    fn assess(&self, read: Result<Read, ScanError>) -> Result<Outcome, ScanError> {
        let Some((expected, published)) = self.file.expected() else {
            return read.map(Outcome::Sound);
        };
        let damaged = |damage| {
            Ok(Outcome::Damaged(Damaged {
                damage,
                expected: expected.to_owned(),
                published,
            }))
        };
        let read = match read {
            Ok(read) => read,
            Err(
                error @ ScanError::Shard {
                    problem: ShardProblem::NotParquet(_),
                    ..
                },
            ) => return damaged(Damage::Footer(error)),
            Err(error) => return Err(error),
        };
        if let Some(received) = read.sha256.as_deref().filter(|&got| got != expected) {
            return damaged(Damage::Hash(received.to_owned()));
        }
        match read.failure {
            Some(
                failure @ ScanError::Shard {
                    problem: ShardProblem::RowGroupChanged { .. },
                    ..
                },
            ) => damaged(Damage::RowGroup(failure)),
            failure => Ok(Outcome::Sound(Read { failure, ..read })),
        }
    }

    /// A sound read's records, its verification kept for the manifest; a read that could not
    /// decode sound bytes fails the shard (it is corrupt as published).
    fn accept(&self, read: Read, file: &ShardFile) -> Result<Vec<PreparedRecord>, ScanError> {
        if let Some(failure) = read.failure {
            return Err(failure);
        }
        let expected = self.file.expected();
        self.context.verifications.record(
            file,
            Verification {
                // A shard read from the cache alone was checked when its entry was made,
                // against the SHA-256 the entry is named by.
                sha256: read
                    .sha256
                    .or_else(|| expected.map(|(sha256, _)| sha256.to_owned()))
                    .unwrap_or_default(),
                against: expected.map(|(_, published)| published),
                rows_from_cache: read.rows_from_cache,
                bytes_fetched: read.bytes_fetched,
            },
        );
        Ok(read.records)
    }

    /// The error for bytes damaged on the last read there is. A local copy whose footer is not
    /// Parquet is hashed whole, so that a damaged copy is told apart from a published file that
    /// cannot be read.
    async fn damage_error(&self, damaged: Damaged, file: &ShardFile) -> ScanError {
        let Damaged {
            damage,
            expected,
            published,
        } = damaged;
        let received = match damage {
            Damage::Hash(received) => received,
            Damage::RowGroup(error) => return error,
            Damage::Footer(error) if file.is_remote() => return error,
            Damage::Footer(error) => match self.hash_whole(file).await {
                Ok(received) if received != expected => received,
                Ok(_) => return error,
                Err(read_error) => return read_error,
            },
        };
        let published = published.describe();
        self.problem(if file.is_remote() {
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
        })
    }

    /// The SHA-256 of every byte of `file`.
    async fn hash_whole(&self, file: &ShardFile) -> Result<String, ScanError> {
        let mut reader = file.read(&self.context.api, 0, file.size());
        let mut hash = Sha256::new();
        while let Some(chunk) = reader.next_chunk(None).await? {
            hash.update(&chunk);
        }
        Ok(hash.finish().1)
    }

    pub(super) fn problem(&self, problem: ShardProblem) -> ScanError {
        ScanError::Shard {
            repo: self.source.repo_id(),
            shard: self.file.path().to_owned(),
            problem,
        }
    }

    /// Where this scan's warnings about the cache of rows go.
    pub(super) fn notes(&self) -> CacheNotes<'_> {
        CacheNotes {
            cache: self.context.cache.as_ref(),
            file: &self.file,
            bar: &self.bar,
        }
    }
}
