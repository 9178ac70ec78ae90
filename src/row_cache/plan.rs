//! What an entry spares a read of its shard (FORMAT.md §11): the footer it keeps, the row groups
//! it indexes but lacks wanted rows of, where a read to the end takes up again, and the rows it
//! holds. The scan asks these questions; it never reads the entry's fields.

use std::collections::HashSet;
use std::ops::Range;

use bytes::Bytes;

use super::entry::{CachedRow, ShardEntry};
use super::key::IdKey;
use crate::digest::HashState;

/// A shard's footer as its entry keeps it: the `FileMetaData` bytes, and the file's last bytes
/// from `tail_start` while a read to the end is not done (else none, from the file's end).
pub struct KeptFooter {
    pub metadata: Bytes,
    pub tail_start: u64,
    pub tail: Bytes,
}

/// Row groups fetched alone, one request for the run: each checked against the SHA-256 states
/// before and after it that a checked read indexed.
pub struct GroupRun {
    pub groups: Range<usize>,
    pub states: Vec<(HashState, HashState)>,
}

/// How a read of a shard goes, given what its entry holds and the row groups its footer gives.
pub struct ReadPlan {
    /// The row groups holding a wanted row the entry indexes but does not keep.
    pub lacking: Vec<GroupRun>,
    /// The rest of the file, unless the entry indexes all of it from a checked read: from the
    /// first row group not indexed, with the whole-file SHA-256 state at its first byte.
    pub to_the_end: Option<(usize, HashState)>,
}

impl ReadPlan {
    /// A read without an entry: the whole file.
    pub fn whole_file() -> ReadPlan {
        ReadPlan {
            lacking: Vec::new(),
            to_the_end: Some((0, HashState::new())),
        }
    }
}

impl ShardEntry {
    /// The footer kept, if any.
    pub fn kept_footer(&self, file_size: u64) -> Option<KeptFooter> {
        let metadata = Bytes::from(self.footer.clone()?);
        let (tail_start, tail) = match &self.tail {
            Some((start, tail)) => (*start, Bytes::from(tail.clone())),
            None => (file_size, Bytes::new()),
        };
        Some(KeptFooter {
            metadata,
            tail_start,
            tail,
        })
    }

    /// Whether the entry's ID index fits a footer whose row groups span `row_groups`: every
    /// indexed group is one of them, its SHA-256 states standing at its first byte and past its
    /// last, and a checked read indexed them all. An index that does not fit came from another
    /// footer (or is damaged), and is not used.
    pub fn fits(&self, row_groups: &[Range<u64>]) -> bool {
        let each_fits = self.groups.values().all(|indexed| {
            row_groups.get(indexed.group as usize).is_some_and(|range| {
                indexed.before.position() == range.start && indexed.after.position() == range.end
            })
        });
        each_fits && (!self.verified || self.groups.len() == row_groups.len())
    }

    /// The read that brings the rows whose ID key is in `keys`, for an entry that [fits]
    /// (`ShardEntry::fits`) the footer.
    pub fn plan(&self, keys: &HashSet<IdKey>) -> ReadPlan {
        let mut lacking: Vec<GroupRun> = Vec::new();
        for indexed in self.groups.values() {
            let wanted = indexed.ids.iter().enumerate().any(|(position, key)| {
                keys.contains(key) && !self.rows.contains_key(&(indexed.group, position as u32))
            });
            if !wanted {
                continue;
            }
            let group = indexed.group as usize;
            let states = (indexed.before.clone(), indexed.after.clone());
            match lacking.last_mut() {
                Some(run) if run.groups.end == group => {
                    run.groups.end += 1;
                    run.states.push(states);
                }
                _ => lacking.push(GroupRun {
                    groups: group..group + 1,
                    states: vec![states],
                }),
            }
        }
        ReadPlan {
            lacking,
            to_the_end: (!self.verified).then(|| self.resume_point()),
        }
    }

    /// Whether a read of the shard would fetch nothing: the entry indexes all of it from a
    /// checked read and keeps every row wanted (offline, the shard has no other source).
    pub fn holds_all(&self, keys: &HashSet<IdKey>) -> bool {
        let plan = self.plan(keys);
        plan.lacking.is_empty() && plan.to_the_end.is_none()
    }

    /// The rows kept whose ID is in `targets`, except those of row groups `fetched` (whose rows
    /// this read decoded itself).
    pub fn rows_wanted(
        &self,
        targets: &HashSet<String>,
        fetched: impl Fn(usize) -> bool,
    ) -> Vec<CachedRow> {
        self.rows
            .values()
            .filter(|row| !fetched(row.group as usize) && targets.contains(&row.id))
            .cloned()
            .collect()
    }

    /// Whether row `position` of row group `group` is kept.
    pub fn holds_row(&self, group: u32, position: u32) -> bool {
        self.rows.contains_key(&(group, position))
    }

    /// The groups indexed from the first one on, without a gap: where a read stopped part-way
    /// takes up again, with the SHA-256 state there.
    fn resume_point(&self) -> (usize, HashState) {
        let mut state = HashState::new();
        let mut next = 0;
        while let Some(group) = self.groups.get(&(next as u32)) {
            state = group.after.clone();
            next += 1;
        }
        (next, state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row_cache::entry::GroupIndex;
    use crate::row_cache::entry::Segment;

    fn state_at(position: u64) -> HashState {
        let mut state = HashState::new();
        state.update(&vec![0; position as usize]);
        state
    }

    fn indexed(group: u32, range: Range<u64>, ids: &[&str]) -> GroupIndex {
        GroupIndex {
            group,
            ids: ids.iter().map(|id| IdKey::of(id)).collect(),
            before: state_at(range.start),
            after: state_at(range.end),
        }
    }

    fn entry_with(groups: Vec<GroupIndex>, verified: bool) -> ShardEntry {
        let dir = tempfile::tempdir().unwrap();
        let (mut entry, _) = ShardEntry::open(dir.path()).unwrap();
        entry
            .merge(Segment {
                groups,
                rows: Vec::new(),
                verified,
            })
            .unwrap();
        entry
    }

    #[test]
    fn lacking_row_groups_come_in_adjacent_runs_and_a_verified_entry_reads_no_further() {
        let ranges = [4..10, 10..20, 20..30, 30..40];
        let entry = entry_with(
            ranges
                .iter()
                .enumerate()
                .map(|(group, range)| {
                    let id = ["a", "b", "x", "c"][group];
                    indexed(group as u32, range.clone(), &[id])
                })
                .collect(),
            true,
        );
        assert!(entry.fits(&ranges));
        let keys = ["a", "b", "c"].iter().map(|id| IdKey::of(id)).collect();
        let plan = entry.plan(&keys);
        let runs: Vec<_> = plan.lacking.iter().map(|run| run.groups.clone()).collect();
        assert_eq!(runs, [0..2, 3..4]);
        assert_eq!(plan.lacking[0].states.len(), 2);
        assert!(plan.to_the_end.is_none());
        assert!(!entry.holds_all(&keys));
    }

    #[test]
    fn an_index_of_another_footer_does_not_fit() {
        let entry = entry_with(
            vec![indexed(0, 4..10, &["a"]), indexed(5, 10..20, &["b"])],
            false,
        );
        assert!(!entry.fits(&[4..10, 10..20]), "a group the footer lacks");
        let entry = entry_with(vec![indexed(0, 4..10, &["a"])], false);
        assert!(!entry.fits(&[4..12, 12..20]), "states at other offsets");
        assert!(entry.fits(&[4..10, 10..20]));
        let (first, state) = entry.plan(&HashSet::new()).to_the_end.unwrap();
        assert_eq!((first, state.position()), (1, 10));
        let entry = entry_with(vec![indexed(0, 4..10, &["a"])], true);
        assert!(
            !entry.fits(&[4..10, 10..20]),
            "verified, yet not every group indexed"
        );
    }
}
