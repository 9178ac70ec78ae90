//! What a read keeps as its row groups decode: their records, by row group, and (with an entry
//! of the cache of rows) their rows and ID index, appended to the entry's journal as they come
//! and synced in batches (FORMAT.md §11). The cache only spares fetches: a write that fails is
//! warned of, and the read goes on without the entry.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::printer::SourceBar;
use crate::record::PreparedRecord;
use crate::row_cache::{Dropped, GroupIndex, RowCache, Segment, ShardEntry, StoredRow};
use crate::scan::{DecodedGroup, ScanError};
use crate::shards::ShardFile;

/// A read to the end appends each row group's index and rows to the entry's journal as it is
/// decoded, so that a run stopped part-way loses at most the row groups in flight; the journal
/// is synced to the disk in batches, every this many row groups or [`SYNC_EVERY`].
const SYNC_GROUPS: usize = 32;
const SYNC_EVERY: Duration = Duration::from_secs(2);

/// A wanted row a read found: its record for the artifacts, and the source row for the cache of
/// rows (when there is one).
pub(super) struct FoundRow {
    pub cached: Option<StoredRow>,
    pub record: PreparedRecord,
}

/// Records of a shard's row groups as reads bring them, by row group.
pub(super) type FoundGroups = BTreeMap<usize, Vec<PreparedRecord>>;

/// What one read of a shard brought: the SHA-256 of the whole file when it read to the end,
/// what went wrong decoding, and the shard's records in file order.
pub(super) struct Read {
    pub sha256: Option<String>,
    pub failure: Option<ScanError>,
    pub records: Vec<PreparedRecord>,
    pub rows_from_cache: u64,
    pub bytes_fetched: u64,
}

/// The records a read found, and the entry it writes to as it goes.
pub(super) struct Ledger<'a> {
    pub found: FoundGroups,
    entry: Option<&'a mut ShardEntry>,
    notes: CacheNotes<'a>,
    unsynced: usize,
    synced: Instant,
}

impl<'a> Ledger<'a> {
    pub(super) fn new(entry: Option<&'a mut ShardEntry>, notes: CacheNotes<'a>) -> Ledger<'a> {
        Ledger {
            found: FoundGroups::new(),
            entry,
            notes,
            unsynced: 0,
            synced: Instant::now(),
        }
    }

    /// Files a row group of row groups fetched alone: its records, and as one segment of the
    /// entry the rows it does not hold yet.
    pub(super) fn keep_fetched(&mut self, groups: Vec<DecodedGroup<FoundRow>>) {
        let mut segment = Segment::default();
        for group in groups {
            self.file(group, &mut segment);
        }
        if let Some(entry) = self.entry.as_deref_mut() {
            segment
                .rows
                .retain(|row| !entry.holds_row(row.group, row.position));
            self.notes.write(|| entry.write_segment(segment));
        }
    }

    /// Files a row group of a read to the end: its records, and its rows and ID index appended
    /// to the entry's journal, synced every [`SYNC_GROUPS`] row groups or [`SYNC_EVERY`]. A
    /// record into the page cache is short, not worth leaving the runtime's thread for; the
    /// batch's sync runs on a thread of its own.
    pub(super) fn keep_streamed(&mut self, group: DecodedGroup<FoundRow>) {
        let mut segment = Segment::default();
        self.file(group, &mut segment);
        let Some(entry) = self.entry.as_deref_mut() else {
            return;
        };
        if let Err(error) = entry.append(segment) {
            self.notes.warn(&error);
        }
        self.unsynced += 1;
        if self.unsynced >= SYNC_GROUPS || self.synced.elapsed() >= SYNC_EVERY {
            if let Err(error) = entry.sync_soon() {
                self.notes.warn(&error);
            }
            (self.unsynced, self.synced) = (0, Instant::now());
        }
    }

    /// Ends a read to the end: the journal synced, and made a segment if the read's bytes
    /// matched the published SHA-256.
    pub(super) fn finish_read(&mut self, matched: bool) {
        if let Some(entry) = self.entry.as_deref_mut() {
            self.notes.write(|| entry.finish_read(matched));
        }
    }

    /// The entry, while it is still used.
    pub(super) fn entry(&self) -> Option<&ShardEntry> {
        self.entry.as_deref()
    }

    /// A decoded row group's records under `found`; its rows, and (from a read to the end) its
    /// ID index, into `segment`.
    fn file(&mut self, group: DecodedGroup<FoundRow>, segment: &mut Segment) {
        let mut records = Vec::with_capacity(group.records.len());
        for row in group.records {
            segment.rows.extend(row.cached);
            records.push(row.record);
        }
        self.found.insert(group.group, records);
        if let Some((before, after)) = group.states {
            segment.groups.push(GroupIndex {
                group: group.group as u32,
                ids: group.keys,
                before,
                after,
            });
        }
    }
}

/// Where a scan's warnings about the cache of rows go, and how its writes are made.
#[derive(Clone, Copy)]
pub(super) struct CacheNotes<'a> {
    pub cache: Option<&'a RowCache>,
    pub file: &'a ShardFile,
    pub bar: &'a SourceBar,
}

impl CacheNotes<'_> {
    /// A write to the cache of rows, and whether it was made: one that cannot be (a full disk,
    /// say) is warned of, and the shard is read without the entry.
    pub(super) fn write(&self, write: impl FnOnce() -> std::io::Result<()>) -> bool {
        match tokio::task::block_in_place(write) {
            Ok(()) => true,
            Err(error) => {
                self.warn(&error);
                false
            }
        }
    }

    pub(super) fn warn(&self, error: &dyn std::error::Error) {
        let root = self.cache.map_or(Path::new(""), RowCache::root);
        self.bar.warn(format!(
            "warning: could not use the cache of rows at {}: {error}; {} of {} is read without \
             it (free disk space, or pass --no-cache)",
            root.display(),
            self.file.path(),
            self.file.repo().id()
        ));
    }
}

/// Why an entry of the cache was emptied, for the person watching.
pub(super) fn dropped_warning(file: &ShardFile, cache: &RowCache, dropped: &Dropped) -> String {
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
