//! One shard's entry in the cache of rows (FORMAT.md §11): its footer, its ID index (every row's
//! ID key, row group by row group, with the SHA-256 state before and after the group's bytes),
//! and the wanted rows runs decoded. An entry is a directory of immutable files, each written to
//! a unique temporary name, synced and renamed: a run that is killed leaves whole files behind
//! or none, and what it had decoded stays usable.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::envelope::{self, Unusable};
use super::key::IdKey;
use crate::digest::HashState;
use crate::value::Object;

const FOOTER_FILE: &str = "footer.bin";
const SEGMENT_PREFIX: &str = "segment-";
const TEMPORARY_PREFIX: &str = ".tmp-";
pub(super) const LOCK_FILE: &str = ".lock";

/// A row group in a shard's ID index.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupIndex {
    pub group: u32,
    /// The ID key of every row, in row order.
    pub ids: Vec<IdKey>,
    /// The shard's SHA-256 state at the group's first byte and past its last.
    pub before: HashState,
    pub after: HashState,
}

/// A wanted source row, as the scan decoded it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CachedRow {
    pub group: u32,
    /// Its row number within the group.
    pub position: u32,
    pub id: String,
    pub row: Object,
}

/// What one write adds to an entry.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Segment {
    pub groups: Vec<GroupIndex>,
    pub rows: Vec<CachedRow>,
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
    pub footer: Option<Vec<u8>>,
    pub groups: BTreeMap<u32, GroupIndex>,
    pub rows: BTreeMap<(u32, u32), CachedRow>,
    pub verified: bool,
    /// Segments written but not yet synced to disk.
    unsynced: Vec<PathBuf>,
}

impl ShardEntry {
    /// Locks the entry at `dir` (waiting while another run holds it) and reads it; an entry
    /// that cannot be used is emptied, and why is returned beside it.
    pub(super) fn open(dir: &Path) -> std::io::Result<(ShardEntry, Option<Dropped>)> {
        std::fs::create_dir_all(dir)?;
        let lock = File::create(dir.join(LOCK_FILE))?;
        lock.lock()?;
        let mut entry = ShardEntry {
            dir: dir.to_owned(),
            _lock: Some(lock),
            footer: None,
            groups: BTreeMap::new(),
            rows: BTreeMap::new(),
            verified: false,
            unsynced: Vec::new(),
        };
        let dropped = match entry.read() {
            Ok(()) => None,
            Err(dropped) => {
                entry.clear()?;
                Some(dropped)
            }
        };
        Ok((entry, dropped))
    }

    /// Empties the entry: what it held came from bytes that turned out damaged, or cannot be
    /// used.
    pub fn clear(&mut self) -> std::io::Result<()> {
        self.footer = None;
        self.groups.clear();
        self.rows.clear();
        self.verified = false;
        self.remove_files(|_| true)
    }

    /// The indexed row groups that hold a row whose ID key is one of `keys` but whose row is not
    /// kept: what a run wanting those IDs must fetch.
    pub fn groups_lacking_rows(&self, keys: &HashSet<IdKey>) -> Vec<usize> {
        self.groups
            .values()
            .filter(|group| {
                group.ids.iter().enumerate().any(|(position, key)| {
                    keys.contains(key) && !self.rows.contains_key(&(group.group, position as u32))
                })
            })
            .map(|group| group.group as usize)
            .collect()
    }

    /// The entry at `dir` as it is, without waiting for a lock or changing anything; `None`
    /// when there is none or it cannot be used.
    pub(super) fn look(dir: &Path) -> Option<ShardEntry> {
        let mut entry = ShardEntry {
            dir: dir.to_owned(),
            _lock: None,
            footer: None,
            groups: BTreeMap::new(),
            rows: BTreeMap::new(),
            verified: false,
            unsynced: Vec::new(),
        };
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
                    .filter(|name| name == FOOTER_FILE || name.starts_with(SEGMENT_PREFIX))
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
            let bytes = std::fs::read(self.dir.join(&name)).map_err(|_| Dropped::Damaged {
                file: name.clone(),
                why: "it cannot be read",
            })?;
            if name == FOOTER_FILE {
                self.footer = Some(envelope::open(&bytes).map_err(unusable)?);
            } else {
                self.merge(envelope::open(&bytes).map_err(unusable)?);
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

    fn merge(&mut self, segment: Segment) {
        for group in segment.groups {
            self.groups.insert(group.group, group);
        }
        for row in segment.rows {
            self.rows.insert((row.group, row.position), row);
        }
        self.verified |= segment.verified;
    }

    /// The groups indexed from the first one on, without a gap: where a read stopped part-way
    /// takes up again, with the SHA-256 state there.
    pub fn resume_point(&self) -> (usize, HashState) {
        let mut state = HashState::new();
        let mut next = 0;
        while let Some(group) = self.groups.get(&(next as u32)) {
            state = group.after.clone();
            next += 1;
        }
        (next, state)
    }

    pub fn write_footer(&mut self, footer: Vec<u8>) -> std::io::Result<()> {
        self.write_file(FOOTER_FILE, &envelope::seal(&footer), true)?;
        self.footer = Some(footer);
        Ok(())
    }

    /// Adds `segment`: on disk (whole or not at all, whatever stops the process), then in
    /// memory. It is synced to the disk by the next [`ShardEntry::sync`], or now with `sync`.
    pub fn write_segment(&mut self, segment: Segment, sync: bool) -> std::io::Result<()> {
        if segment.is_empty() {
            return Ok(());
        }
        let name = format!("{SEGMENT_PREFIX}{:016x}.bin", fastrand::u64(..));
        self.write_file(&name, &envelope::seal(&segment), sync)?;
        if !sync {
            self.unsynced.push(self.dir.join(name));
        }
        self.merge(segment);
        Ok(())
    }

    /// Syncs the segments written since the last sync to the disk, in one batch.
    pub fn sync(&mut self) -> std::io::Result<()> {
        for path in self.unsynced.drain(..) {
            File::open(path)?.sync_data()?;
        }
        File::open(&self.dir)?.sync_all()
    }

    /// Rewrites the entry as one segment, synced, in place of the many a read to the end
    /// wrote as it went (one per row group).
    pub fn compact(&mut self) -> std::io::Result<()> {
        let before: Vec<PathBuf> = self.segment_files()?;
        let whole = Segment {
            groups: self.groups.values().cloned().collect(),
            rows: self.rows.values().cloned().collect(),
            verified: self.verified,
        };
        let name = format!("{SEGMENT_PREFIX}{:016x}.bin", fastrand::u64(..));
        self.write_file(&name, &envelope::seal(&whole), true)?;
        self.unsynced.clear();
        for path in before {
            std::fs::remove_file(path)?;
        }
        File::open(&self.dir)?.sync_all()
    }

    fn segment_files(&self) -> std::io::Result<Vec<PathBuf>> {
        Ok(std::fs::read_dir(&self.dir)?
            .flatten()
            .filter(|file| {
                file.file_name()
                    .to_string_lossy()
                    .starts_with(SEGMENT_PREFIX)
            })
            .map(|file| file.path())
            .collect())
    }

    fn write_file(&self, name: &str, bytes: &[u8], sync: bool) -> std::io::Result<()> {
        let temporary = self
            .dir
            .join(format!("{TEMPORARY_PREFIX}{:016x}", fastrand::u64(..)));
        let mut file = File::create(&temporary)?;
        file.write_all(bytes)?;
        if sync {
            file.sync_data()?;
        }
        drop(file);
        std::fs::rename(&temporary, self.dir.join(name))
    }

    fn remove_files(&self, which: impl Fn(&str) -> bool) -> std::io::Result<()> {
        for file in std::fs::read_dir(&self.dir)?.flatten() {
            let name = file.file_name().to_string_lossy().into_owned();
            if name != LOCK_FILE && which(&name) {
                std::fs::remove_file(file.path())?;
            }
        }
        Ok(())
    }
}
