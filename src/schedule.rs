//! The scan scheduler: every shard gets a feed for the in-order hand-over; scans start in shard
//! order, `jobs` at a time, so the shard the hand-over waits for is always among those running,
//! and each reads its footer only when it starts (the first `jobs` as soon as the shards and the
//! version's annotation file are known, before that file is in). Row groups decode one per core at most, whatever
//! `jobs` is.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;

use crate::annotations::AnnotationIndex;
use crate::dataset::SourceSchemas;
use crate::digest::HashState;
use crate::hub::HubApi;
use crate::in_order::{ShardEvent, ShardFeed};
use crate::printer::SourceBar;
use crate::record::{PreparedRecord, prepare};
use crate::row_cache::{
    CacheError, CachedRow, Dropped, GroupIndex, IdKey, RowCache, Segment, ShardEntry, StoredRow,
};
use crate::runtime;
use crate::scan::{DecodedGroup, ReadKind, ScanError, Shard, ShardProblem, SourceRow};
use crate::shards::{ShardFile, ShardReader, Verification, Verifications};
use crate::shards::{SourcePlan, SourceShards};
use crate::source::Source;

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

/// A shard opened from the Hub (footer read, body requested) and what it brought.
type Opened = Result<(Shard, ShardReader), ScanError>;

/// The shards whose scans start first, opened as soon as the shards are known and the version's
/// annotation file is found: their footers and first bytes are on the way while that file
/// downloads and is parsed, which the scans need before they decode, not before they fetch.
/// What no scan takes is cancelled.
#[derive(Default)]
pub struct OpenedAhead {
    opening: HashMap<(Source, String), OpenedShard>,
}

impl OpenedAhead {
    /// Opens the first `jobs` shards in scan order that a scan would open as its first step:
    /// those from the Hub whose entry in `cache` holds no footer. None while a source's shards
    /// could not be found: the run may stop at that (a gated source, say) before any streams.
    pub fn start(
        api: &Arc<HubApi>,
        shards: &SourceShards,
        jobs: usize,
        cache: Option<&RowCache>,
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
            let task = tokio::spawn(async move { Shard::open(&api, source, opened).await });
            opening.insert((source, file.path().to_owned()), OpenedShard(task));
        }
        OpenedAhead { opening }
    }

    fn take(&mut self, source: Source, file: &ShardFile) -> Option<OpenedShard> {
        self.opening.remove(&(source, file.path().to_owned()))
    }
}

/// A shard opening ahead of its scan; dropped unused (no scan took it, or the scan read from
/// the cache instead), it is cancelled with the body it requested.
struct OpenedShard(JoinHandle<Opened>);

impl OpenedShard {
    /// What the opening brought; `None` if it was cancelled (the runtime shutting down), so
    /// that the scan opens the shard itself.
    async fn get(mut self) -> Option<Opened> {
        match (&mut self.0).await {
            Ok(opened) => Some(opened),
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(_) => None,
        }
    }
}

impl Drop for OpenedShard {
    fn drop(&mut self) {
        self.0.abort();
    }
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
    let decoders = Arc::new(Semaphore::new(runtime::cores()));
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
            let job = ScanJob {
                api: Arc::clone(api),
                source: plan.source,
                file: file.clone(),
                targets: Arc::clone(&plan.targets),
                keys: Arc::clone(&keys),
                index: Arc::clone(index),
                version: settings.version.to_owned(),
                bar: Arc::clone(bar),
                decoders: Arc::clone(&decoders),
                schemas: Arc::clone(&reports.schemas),
                verifications: Arc::clone(&reports.verifications),
                fetched: Arc::clone(&reports.fetched),
                cache: settings.cache.cloned(),
            };
            scans.push(job.run(sender, ahead.take(plan.source, file)));
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
                    entry.verified && entry.groups_lacking_rows(&keys).is_empty()
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

/// The scan of one shard, feeding the hand-over.
struct ScanJob {
    api: Arc<HubApi>,
    source: Source,
    file: ShardFile,
    targets: Arc<HashSet<String>>,
    keys: Arc<HashSet<IdKey>>,
    index: Arc<AnnotationIndex>,
    version: String,
    bar: Arc<SourceBar>,
    decoders: Arc<Semaphore>,
    schemas: Arc<SourceSchemas>,
    verifications: Arc<Verifications>,
    fetched: Arc<AtomicU64>,
    cache: Option<RowCache>,
}

/// A wanted row a read found: its record for the artifacts, and the source row for the cache of
/// rows (when there is one).
struct FoundRow {
    cached: Option<StoredRow>,
    record: PreparedRecord,
}

/// What one read of a shard brought: the SHA-256 of the whole file when it read to the end,
/// what went wrong decoding, and the shard's records in file order.
struct Read {
    sha256: Option<String>,
    failure: Option<ScanError>,
    records: Vec<PreparedRecord>,
    rows_from_cache: u64,
    bytes_fetched: u64,
}

/// Records of a shard's row groups as reads bring them, by row group.
type FoundGroups = BTreeMap<usize, Vec<PreparedRecord>>;

/// A read to the end appends each row group's index and rows to the entry's journal as it is
/// decoded, so that a run stopped part-way loses at most the row groups in flight; the journal
/// is synced to the disk in batches, every this many row groups or [`SYNC_EVERY`].
const SYNC_GROUPS: usize = 32;
const SYNC_EVERY: Duration = Duration::from_secs(2);

impl ScanJob {
    /// Scans the shard and checks its bytes, then sends its wanted records and `Done`, or
    /// `Failed`. The records stay here until the shard's SHA-256 is checked (FORMAT.md §1): a
    /// few per shard, never handed on from bytes that came damaged.
    async fn run(self, events: mpsc::UnboundedSender<ShardEvent>, opened: Option<OpenedShard>) {
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

    /// The shard's wanted records, from bytes that hash to the published SHA-256 (or that had
    /// nothing to check against), taken from the cache of rows where it holds them (FORMAT.md
    /// §11). Bytes from the Hub that do not, or a shard from the Hub that cannot be opened, are
    /// read once more from a fresh URL, with the cache's entry emptied: damage on the way heals.
    /// `opened`, the shard opened ahead, serves the first read.
    async fn scan_checked(
        &self,
        mut opened: Option<OpenedShard>,
    ) -> Result<Vec<PreparedRecord>, ScanError> {
        let expected = self.file.expected();
        let mut entry = match (&self.cache, expected) {
            (Some(cache), Some((sha256, _))) if !self.file.is_local() => {
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
                        let reason = std::error::Error::source(&error)
                            .map_or_else(|| error.to_string(), ToString::to_string);
                        self.cache_warning(&reason);
                        None
                    }
                }
            }
            _ => None,
        };
        let mut file = self.file.clone();
        let mut second_read = false;
        loop {
            let may_read_again = file.is_remote() && expected.is_some() && !second_read;
            let read = match self.read_once(&file, entry.as_mut(), opened.take()).await {
                Err(ScanError::Shard {
                    problem: ShardProblem::NotParquet(_),
                    ..
                }) if may_read_again => None,
                other => Some(other?),
            };
            let damaged = match (&read, expected) {
                (Some(read), Some((sha256, _))) => {
                    read.sha256.as_deref().is_some_and(|got| got != sha256)
                        || matches!(
                            read.failure,
                            Some(ScanError::Shard {
                                problem: ShardProblem::RowGroupChanged { .. },
                                ..
                            })
                        )
                }
                (None, _) => true,
                (Some(_), None) => false,
            };
            if damaged && may_read_again {
                second_read = true;
                // An entry that cannot be emptied is not used again.
                if entry
                    .as_mut()
                    .is_some_and(|entry| !self.cache_write(|| entry.clear()))
                {
                    entry = None;
                }
                file = file.renewed(&self.api).await?;
                continue;
            }
            // Not read again: it was opened, so it was read.
            let read = read.expect("a shard that cannot be opened is read again");
            if let (Some((sha256, published)), Some(received)) =
                (expected.filter(|_| damaged), &read.sha256)
            {
                let (expected, received) = (sha256.to_owned(), received.clone());
                let published = published.describe();
                if let Some(entry) = &mut entry {
                    self.cache_write(|| entry.clear());
                }
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
            if let Some(failure) = read.failure {
                return Err(failure);
            }
            self.verifications.record(
                &file,
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
            return Ok(read.records);
        }
    }

    /// One read of the shard: the rows `entry` holds, the row groups it indexes but lacks rows
    /// of fetched alone, and the rest of the file (all of it without an entry) streamed and
    /// decoded, its footer first (from `opened` when the shard was opened ahead); what is decoded
    /// goes into `entry` as it comes.
    async fn read_once(
        &self,
        file: &ShardFile,
        mut entry: Option<&mut ShardEntry>,
        opened: Option<OpenedShard>,
    ) -> Result<Read, ScanError> {
        let bytes_fetched = AtomicU64::new(0);
        let count_fetched = |bytes| {
            bytes_fetched.fetch_add(bytes, Ordering::Relaxed);
            self.fetched.fetch_add(bytes, Ordering::Relaxed);
            self.bar.read(bytes);
        };
        let cached_footer = entry
            .as_ref()
            .and_then(|entry| Some((entry.footer.clone()?, entry.tail.clone())));
        let (shard, opened_body) = match cached_footer {
            Some((footer, tail)) => {
                let (tail_start, tail) = tail
                    .map(|(start, tail)| (start, Bytes::from(tail)))
                    .unwrap_or((file.size(), Bytes::new()));
                let shard =
                    Shard::with_footer(self.source, file.clone(), footer.into(), tail, tail_start)?;
                (shard, None)
            }
            None => {
                let opened = match opened {
                    Some(opened) => opened.get().await,
                    None => None,
                };
                let (shard, body) = match opened {
                    Some(opened) => opened?,
                    None => Shard::open(&self.api, self.source, file.clone()).await?,
                };
                let (_, tail) = shard.tail();
                count_fetched(tail.len() as u64);
                if let Some(kept) = entry.as_deref_mut() {
                    let (tail_start, tail) = shard.tail();
                    let footer = shard.metadata_bytes.to_vec();
                    if !self.cache_write(|| kept.write_footer(footer, tail_start, tail.to_vec())) {
                        entry = None;
                    }
                }
                (shard, Some(body))
            }
        };
        self.schemas.offer(self.source, &shard.declared_schema);
        let shard = Arc::new(shard);
        let groups = shard.row_group_count();
        let mut entry_usable = true;
        if let Some(entry) = entry.as_deref_mut()
            && (entry.groups.len() > groups || (entry.verified && entry.groups.len() != groups))
        {
            // Not the index of this footer: start again.
            let (tail_start, tail) = shard.tail();
            let footer = shard.metadata_bytes.to_vec();
            if !self.cache_write(|| {
                entry.clear()?;
                entry.write_footer(footer, tail_start, tail.to_vec())
            }) {
                entry_usable = false;
            }
        }
        if !entry_usable {
            entry = None;
        }
        let (first, state) = match entry.as_deref() {
            Some(entry) => entry.resume_point(),
            None => (0, HashState::new()),
        };
        let lacking = entry
            .as_deref()
            .map(|entry| entry.groups_lacking_rows(&self.keys))
            .unwrap_or_default();
        let mut found = FoundGroups::new();
        let mut failure = None;

        // Row groups indexed but lacking rows: fetched alone, a request per run of adjacent ones.
        for run in adjacent_runs(&lacking) {
            let entry = entry.as_deref_mut().expect("only an entry lacks rows");
            let states = run
                .clone()
                .map(|group| {
                    let indexed = &entry.groups[&(group as u32)];
                    (indexed.before.clone(), indexed.after.clone())
                })
                .collect();
            let range = shard.byte_range(&run);
            let body = file.read(&self.api, range.start, range.end);
            let mut segment = Segment::default();
            let scanned = Arc::clone(&shard)
                .scan(
                    body,
                    ReadKind::Groups {
                        groups: run,
                        states,
                    },
                    false,
                    &self.decoders,
                    Arc::clone(&self.targets),
                    self.prepare(true),
                    |group| keep_group(group, &mut found, &mut segment),
                    &count_fetched,
                )
                .await?;
            if let Some(error) = scanned.failure {
                failure = Some(error);
                break;
            }
            segment
                .rows
                .retain(|row| !entry.rows.contains_key(&(row.group, row.position)));
            self.cache_write(|| entry.write_segment(segment));
        }

        // The rest of the file, unless the entry indexes all of it from a checked read.
        let mut sha256 = None;
        let verified = entry.as_deref().is_some_and(|entry| entry.verified);
        if failure.is_none() && !verified {
            // Up to the footer read's bytes, which the shard holds already (kept in the entry
            // when the read goes on after a stop).
            let (tail_start, _) = shard.tail();
            let body = match opened_body {
                Some(body) if first == 0 => body,
                _ if state.position() <= tail_start => {
                    file.read(&self.api, state.position(), tail_start)
                }
                _ => file.read(&self.api, state.position(), file.size()),
            };
            let index_ids = entry.is_some();
            let (mut unsynced, mut synced) = (0, Instant::now());
            let scanned = Arc::clone(&shard)
                .scan(
                    body,
                    ReadKind::ToTheEnd { first, state },
                    index_ids,
                    &self.decoders,
                    Arc::clone(&self.targets),
                    self.prepare(index_ids),
                    |group| {
                        let mut segment = Segment::default();
                        keep_group(group, &mut found, &mut segment);
                        if let Some(entry) = entry.as_deref_mut() {
                            // A record into the page cache: short, not worth leaving the
                            // runtime's thread for; the batch's sync runs on a thread of its
                            // own.
                            if let Err(error) = entry.append(segment) {
                                self.cache_warning(&error);
                            }
                            unsynced += 1;
                            if unsynced >= SYNC_GROUPS || synced.elapsed() >= SYNC_EVERY {
                                if let Err(error) = entry.sync_soon() {
                                    self.cache_warning(&error);
                                }
                                (unsynced, synced) = (0, Instant::now());
                            }
                        }
                    },
                    &count_fetched,
                )
                .await?;
            if let Some(entry) = entry.as_deref_mut() {
                let matched = scanned.failure.is_none()
                    && scanned.sha256.as_deref() == self.file.expected().map(|(sha256, _)| sha256);
                self.cache_write(|| entry.finish_read(matched));
            }
            sha256 = scanned.sha256;
            failure = scanned.failure;
        }

        // Every row group's records in file order: decoded now, or from the cache.
        let mut rows_from_cache = 0;
        if let Some(entry) = entry.as_deref() {
            let cached: Vec<CachedRow> = entry
                .rows
                .values()
                .filter(|row| {
                    !found.contains_key(&(row.group as usize)) && self.targets.contains(&row.id)
                })
                .cloned()
                .collect();
            rows_from_cache = cached.len() as u64;
            let prepare = self.prepare(false);
            let prepared = tokio::task::spawn_blocking(move || {
                let mut groups = FoundGroups::new();
                for row in cached {
                    let group = row.group as usize;
                    let found = prepare(
                        group,
                        row.position,
                        SourceRow {
                            id: row.id,
                            row: row.row,
                        },
                    );
                    groups.entry(group).or_default().push(found.record);
                }
                groups
            })
            .await
            .expect("preparing cached rows does not panic");
            found.extend(prepared);
        }
        let records: Vec<PreparedRecord> = found.into_values().flatten().collect();
        for record in &records {
            self.bar.saw(&record.id);
        }
        // What the cache spared counts as read too, so the bars end full.
        let bytes_fetched = bytes_fetched.into_inner();
        self.bar.read(file.size().saturating_sub(bytes_fetched));
        Ok(Read {
            sha256,
            failure,
            records,
            rows_from_cache,
            bytes_fetched,
        })
    }

    /// Turns a wanted source row into its record (and, with `keep_source`, the row for the
    /// cache), on the decoding threads.
    fn prepare(
        &self,
        keep_source: bool,
    ) -> Arc<impl Fn(usize, u32, SourceRow) -> FoundRow + Send + Sync + 'static> {
        let (index, version) = (Arc::clone(&self.index), self.version.clone());
        Arc::new(move |group: usize, position: u32, row: SourceRow| {
            let cached =
                keep_source.then(|| StoredRow::new(group as u32, position, &row.id, &row.row));
            FoundRow {
                cached,
                record: prepare(&index, &version, row),
            }
        })
    }

    /// A write to the cache of rows, and whether it was made. The cache only spares fetches:
    /// one that cannot be written (a full disk, say) is warned of, and the shard is read
    /// without it.
    fn cache_write(&self, write: impl FnOnce() -> std::io::Result<()>) -> bool {
        match tokio::task::block_in_place(write) {
            Ok(()) => true,
            Err(error) => {
                self.cache_warning(&error);
                false
            }
        }
    }

    fn cache_warning(&self, error: &dyn std::fmt::Display) {
        let root = self.cache.as_ref().map_or(Path::new(""), RowCache::root);
        self.bar.warn(format!(
            "warning: could not use the cache of rows at {}: {error}; {} of {} is read without \
             it (free disk space, or pass --no-cache)",
            root.display(),
            self.file.path(),
            self.source.repo_id()
        ));
    }
}

/// Files a decoded row group: its records under `found`; its rows, and (from a read to the end)
/// its ID index, into `segment`.
fn keep_group(group: DecodedGroup<FoundRow>, found: &mut FoundGroups, segment: &mut Segment) {
    let mut records = Vec::with_capacity(group.records.len());
    for row in group.records {
        segment.rows.extend(row.cached);
        records.push(row.record);
    }
    found.insert(group.group, records);
    if let Some((before, after)) = group.states {
        segment.groups.push(GroupIndex {
            group: group.group as u32,
            ids: group.keys,
            before,
            after,
        });
    }
}

/// `groups` (ascending) as runs of adjacent row groups.
fn adjacent_runs(groups: &[usize]) -> Vec<Range<usize>> {
    let mut runs: Vec<Range<usize>> = Vec::new();
    for &group in groups {
        match runs.last_mut() {
            Some(run) if run.end == group => run.end += 1,
            _ => runs.push(group..group + 1),
        }
    }
    runs
}

/// Why an entry of the cache was emptied, for the person watching.
fn dropped_warning(file: &ShardFile, cache: &RowCache, dropped: &Dropped) -> String {
    let why = match dropped {
        Dropped::Damaged { file, why } => format!("its file {file} is damaged ({why})"),
        Dropped::OtherVersion(version) => {
            format!("it was written in layout {version} by another healthchat")
        }
    };
    format!(
        "warning: the cached rows of {} of {} in {} were dropped: {why}; they are fetched again.",
        file.path(),
        file.repo().id(),
        cache.root().display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjacent_row_groups_share_a_request() {
        assert_eq!(adjacent_runs(&[1, 2, 3, 7, 9, 10]), [1..4, 7..8, 9..11]);
        assert!(adjacent_runs(&[]).is_empty());
    }
}
