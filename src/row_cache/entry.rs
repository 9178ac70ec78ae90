//! One shard's entry in the cache of rows (FORMAT.md §11): its footer, its ID index (every row's
//! ID key, row group by row group, with the SHA-256 state before and after the group's bytes),
//! and the wanted rows runs decoded. An entry is a directory of files that each hold sealed
//! records: `footer.bin` and segments, written whole to a unique temporary name, synced and
//! renamed; and while a read goes to the end of the shard, its journal, one record appended per
//! row group as it is decoded and synced in batches, renamed to a segment once the read's
//! SHA-256 matched.
//! A run that is killed leaves whole records behind (a journal's last one may be cut short, and
//! is left out), so what it had decoded stays usable. Only the names it writes are read or
//! removed, never through a link (FORMAT.md §12).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use super::envelope::{self, Unusable};
use super::key::IdKey;
use crate::digest::HashState;
use crate::local_file::{naming, open_lock, read_own, why_unreadable};
use crate::value::Object;

const FOOTER_FILE: &str = "footer.bin";
/// The file's last bytes, as the footer read brought them, kept until the read to the end is
/// done: a run that reads on after a stop does not fetch them again.
const TAIL_FILE: &str = "tail.bin";
const SEGMENT_PREFIX: &str = "segment-";
const JOURNAL_PREFIX: &str = "journal-";
const TEMPORARY_PREFIX: &str = ".tmp-";
const LOCK_FILE: &str = ".lock";

/// The largest file of an entry read (FORMAT.md §12): a footer is at most 64 MiB, a
/// segment a few megabytes.
const MAX_ENTRY_FILE: u64 = 256 << 20;

/// Whether `name` is one an entry's files are written under (the lock aside).
pub(super) fn is_entry_file(name: &str) -> bool {
    name == FOOTER_FILE
        || name == TAIL_FILE
        || name.starts_with(SEGMENT_PREFIX)
        || name.starts_with(JOURNAL_PREFIX)
        || name.starts_with(TEMPORARY_PREFIX)
}

/// Whether `name` is one an entry's folder holds: its files and its lock.
pub(super) fn is_entry_name(name: &str) -> bool {
    name == LOCK_FILE || is_entry_file(name)
}

/// A row group in a shard's ID index.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupIndex {
    pub group: u32,
    /// The ID key of every row, in row order.
    pub ids: Vec<IdKey>,
    /// The shard's SHA-256 state at the group's first byte and past its last: their byte counts
    /// are the group's byte range.
    pub before: HashState,
    pub after: HashState,
}

/// A wanted source row, as the scan decoded it.
#[derive(Debug, Clone)]
pub struct CachedRow {
    pub group: u32,
    /// Its row number within the group.
    pub position: u32,
    pub id: String,
    pub row: Object,
}

/// A wanted source row as a segment holds it: the row's values encoded (`postcard`) on the
/// decoding thread, where encoding it costs what copying it would, before the record takes
/// them.
#[derive(Debug, Serialize, Deserialize)]
pub struct StoredRow {
    pub group: u32,
    pub position: u32,
    pub id: String,
    #[serde(with = "serde_bytes")]
    row: Vec<u8>,
}

impl StoredRow {
    pub fn new(group: u32, position: u32, id: &str, row: &Object) -> StoredRow {
        StoredRow {
            group,
            position,
            id: id.to_owned(),
            row: postcard::to_stdvec(row).expect("rows serialise"),
        }
    }

    fn decode(self) -> Option<CachedRow> {
        Some(CachedRow {
            group: self.group,
            position: self.position,
            row: postcard::from_bytes(&self.row).ok()?,
            id: self.id,
        })
    }
}

/// What one record adds to an entry.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Segment {
    pub groups: Vec<GroupIndex>,
    pub rows: Vec<StoredRow>,
    /// Set once the whole file's SHA-256 matched the published one: the index's states come from
    /// bytes that were checked.
    pub verified: bool,
}

impl Segment {
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty() && self.rows.is_empty() && !self.verified
    }
}

/// Why an entry was dropped rather than used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dropped {
    Damaged { file: String, why: &'static str },
    OtherVersion(u16),
}

/// A shard's entry, locked for as long as it is held.
#[derive(Debug)]
pub struct ShardEntry {
    dir: PathBuf,
    /// Held while the entry may be written; a look by `healthchat cache` takes none.
    _lock: Option<File>,
    /// The shard's Parquet footer (its `FileMetaData` bytes).
    pub(super) footer: Option<Vec<u8>>,
    /// The footer read's bytes and their file offset, while a read to the end is not done.
    pub(super) tail: Option<(u64, Vec<u8>)>,
    pub(super) groups: BTreeMap<u32, GroupIndex>,
    pub(super) rows: BTreeMap<(u32, u32), CachedRow>,
    pub(super) verified: bool,
    /// The journal this run appends to, and whether it holds records not yet synced.
    journal: Option<(PathBuf, File)>,
    unsynced: bool,
    /// A sync of the journal running on a thread of its own (see [`ShardEntry::sync_soon`]).
    syncing: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl ShardEntry {
    fn empty(dir: &Path, lock: Option<File>) -> ShardEntry {
        ShardEntry {
            dir: dir.to_owned(),
            _lock: lock,
            footer: None,
            tail: None,
            groups: BTreeMap::new(),
            rows: BTreeMap::new(),
            verified: false,
            journal: None,
            unsynced: false,
            syncing: None,
        }
    }

    /// Locks the entry at `dir` (waiting while another run holds it) and reads it; an entry
    /// that cannot be used is emptied, and why is returned beside it.
    pub(super) fn open(dir: &Path) -> std::io::Result<(ShardEntry, Option<Dropped>)> {
        std::fs::create_dir_all(dir)?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = open_lock(&lock_path, true).map_err(|error| naming(&lock_path, error))?;
        lock.lock()?;
        let mut entry = ShardEntry::empty(dir, Some(lock));
        let dropped = match entry.read() {
            Ok(()) => None,
            Err(dropped) => {
                entry.clear()?;
                Some(dropped)
            }
        };
        Ok((entry, dropped))
    }

    /// Whether the entry in `dir` holds a footer, looked at without the lock.
    pub(super) fn holds_footer(dir: &Path) -> bool {
        dir.join(FOOTER_FILE).is_file()
    }

    /// Empties the entry: what it held came from bytes that turned out damaged, or cannot be
    /// used.
    pub fn clear(&mut self) -> std::io::Result<()> {
        // What it was syncing is removed below.
        let _ = self.wait_for_sync();
        self.journal = None;
        self.unsynced = false;
        self.footer = None;
        self.tail = None;
        self.groups.clear();
        self.rows.clear();
        self.verified = false;
        self.remove_files(is_entry_file)
    }

    /// The entry at `dir` as it is, without waiting for a lock or changing anything; `None`
    /// when there is none or it cannot be used.
    pub(super) fn look(dir: &Path) -> Option<ShardEntry> {
        let mut entry = ShardEntry::empty(dir, None);
        entry.read().ok()?;
        entry.footer.is_some().then_some(entry)
    }

    fn read(&mut self) -> Result<(), Dropped> {
        // A temporary file is what a killed run was writing: under the lock, nobody else is.
        if self._lock.is_some() {
            let _ = self.remove_files(|name| name.starts_with(TEMPORARY_PREFIX));
        }
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|entry| entry.file_name().to_string_lossy().into_owned())
                    .filter(|name| is_entry_file(name) && !name.starts_with(TEMPORARY_PREFIX))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        for name in names {
            let unusable = |why| match why {
                Unusable::OtherVersion(version) => Dropped::OtherVersion(version),
                Unusable::Damaged(why) => Dropped::Damaged {
                    file: name.clone(),
                    why,
                },
            };
            let bytes = read_own(&self.dir.join(&name), MAX_ENTRY_FILE).map_err(|error| {
                Dropped::Damaged {
                    file: name.clone(),
                    why: why_unreadable(&error),
                }
            })?;
            // Bytes as `serde_bytes` (de)serialises them: whole, not byte by byte.
            if name == FOOTER_FILE {
                let footer: ByteBuf = envelope::open(&bytes).map_err(unusable)?;
                self.footer = Some(footer.into_vec());
            } else if name == TAIL_FILE {
                let (start, tail): (u64, ByteBuf) = envelope::open(&bytes).map_err(unusable)?;
                self.tail = Some((start, tail.into_vec()));
            } else {
                let journal = name.starts_with(JOURNAL_PREFIX);
                for segment in envelope::open_all(&bytes, journal).map_err(unusable)? {
                    self.merge(segment).map_err(|why| Dropped::Damaged {
                        file: name.clone(),
                        why,
                    })?;
                }
            }
        }
        if self.footer.is_none() && !(self.groups.is_empty() && self.rows.is_empty()) {
            return Err(Dropped::Damaged {
                file: FOOTER_FILE.to_owned(),
                why: "it is missing",
            });
        }
        Ok(())
    }

    pub(super) fn merge(&mut self, segment: Segment) -> Result<(), &'static str> {
        for group in segment.groups {
            self.groups.insert(group.group, group);
        }
        for row in segment.rows {
            let row = row.decode().ok_or("a row in it cannot be decoded")?;
            self.rows.insert((row.group, row.position), row);
        }
        self.verified |= segment.verified;
        Ok(())
    }

    /// Keeps the shard's footer, and the footer read's bytes from `tail_start` until the read to
    /// the end is done.
    pub fn write_footer(
        &mut self,
        footer: Vec<u8>,
        tail_start: u64,
        tail: Vec<u8>,
    ) -> std::io::Result<()> {
        let sealed = envelope::seal(&(tail_start, serde_bytes::Bytes::new(&tail)));
        self.write_file(TAIL_FILE, &sealed, false)?;
        self.tail = Some((tail_start, tail));
        let sealed = envelope::seal(&serde_bytes::Bytes::new(&footer));
        self.write_file(FOOTER_FILE, &sealed, true)?;
        self.footer = Some(footer);
        Ok(())
    }

    /// Adds `segment` as a segment of its own, synced.
    pub fn write_segment(&mut self, segment: Segment) -> std::io::Result<()> {
        if segment.is_empty() {
            return Ok(());
        }
        // Not merged, as in `append`.
        self.write_file(&segment_name(), &envelope::seal(&segment), true)?;
        Ok(())
    }

    /// Appends `segment` to this run's journal: on disk (a process that stops leaves it whole or
    /// cut short, never mixed), synced by the next [`ShardEntry::sync`].
    pub fn append(&mut self, segment: Segment) -> std::io::Result<()> {
        if segment.is_empty() {
            return Ok(());
        }
        let (_, journal) = match &mut self.journal {
            Some(journal) => journal,
            empty => {
                let path = self
                    .dir
                    .join(format!("{JOURNAL_PREFIX}{:016x}.bin", fastrand::u64(..)));
                let file = File::options().create_new(true).append(true).open(&path)?;
                empty.insert((path, file))
            }
        };
        journal.write_all(&envelope::seal(&segment))?;
        self.unsynced = true;
        // Not merged: what a read writes is for later runs (this one has its rows already, and
        // reads again only after emptying the entry), so it is not held twice.
        Ok(())
    }

    /// Makes what was appended since the last sync durable: one sync of the journal.
    pub fn sync(&mut self) -> std::io::Result<()> {
        self.wait_for_sync()?;
        if let Some((_, journal)) = &self.journal
            && self.unsynced
        {
            journal.sync_data()?;
            self.unsynced = false;
        }
        Ok(())
    }

    /// Starts syncing what was appended since the last sync, on a thread of its own, unless a
    /// sync is still running; the read goes on meanwhile (on a busy disk a sync took 1.4 s,
    /// while the shard's stream stood still). An error of that sync comes from the next call,
    /// or from [`ShardEntry::sync`].
    pub fn sync_soon(&mut self) -> std::io::Result<()> {
        if self
            .syncing
            .as_ref()
            .is_some_and(|syncing| !syncing.is_finished())
        {
            return Ok(());
        }
        self.wait_for_sync()?;
        if let Some((_, journal)) = &self.journal
            && self.unsynced
        {
            let cloned = journal.try_clone()?;
            match std::thread::Builder::new().spawn(move || cloned.sync_data()) {
                Ok(syncing) => self.syncing = Some(syncing),
                // Without a thread to spare, the sync is made here.
                Err(_) => journal.sync_data()?,
            }
            self.unsynced = false;
        }
        Ok(())
    }

    fn wait_for_sync(&mut self) -> std::io::Result<()> {
        match self.syncing.take() {
            Some(syncing) => syncing.join().expect("syncing does not panic"),
            None => Ok(()),
        }
    }

    /// Ends a read to the end of the shard: `verified` if its SHA-256 matched. The journal is
    /// synced; a verified one ends with a record saying so and becomes a segment.
    pub fn finish_read(&mut self, verified: bool) -> std::io::Result<()> {
        if verified {
            self.append(Segment {
                verified: true,
                ..Segment::default()
            })?;
        }
        self.sync()?;
        if let Some((path, _)) = self.journal.take().filter(|_| verified) {
            std::fs::rename(path, self.dir.join(segment_name()))?;
            if self.tail.take().is_some() {
                std::fs::remove_file(self.dir.join(TAIL_FILE))?;
            }
            File::open(&self.dir)?.sync_all()?;
        }
        Ok(())
    }

    fn write_file(&self, name: &str, bytes: &[u8], sync: bool) -> std::io::Result<()> {
        let temporary = self
            .dir
            .join(format!("{TEMPORARY_PREFIX}{:016x}", fastrand::u64(..)));
        let mut file = File::options()
            .write(true)
            .create_new(true)
            .open(&temporary)?;
        file.write_all(bytes)?;
        if sync {
            file.sync_data()?;
        }
        drop(file);
        std::fs::rename(&temporary, self.dir.join(name))
    }

    /// Removes the entry's files `which` picks among those it writes (never its lock): a link
    /// among them is removed itself, never followed.
    fn remove_files(&self, which: impl Fn(&str) -> bool) -> std::io::Result<()> {
        for file in std::fs::read_dir(&self.dir)?.flatten() {
            let name = file.file_name().to_string_lossy().into_owned();
            if is_entry_file(&name) && which(&name) {
                std::fs::remove_file(file.path())?;
            }
        }
        Ok(())
    }
}

fn segment_name() -> String {
    format!("{SEGMENT_PREFIX}{:016x}.bin", fastrand::u64(..))
}
