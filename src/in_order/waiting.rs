//! The records of one shard ahead of the one being handed on, in arrival order: in memory while
//! the waiting records of all shards stay within a budget, then on disk in a [`Spool`]. Keeping
//! them in memory spares the hand-over encoding, writing, reading and decoding each of them.

use std::collections::VecDeque;
use std::path::Path;

use super::spool::Spool;
use crate::record::PreparedRecord;

#[derive(Default)]
pub(super) struct Waiting {
    memory: VecDeque<PreparedRecord>,
    /// Once a record has gone to disk, the later ones follow it there, to keep their order.
    spool: Option<Spool>,
}

impl Waiting {
    /// Keeps `record`, in memory if `in_memory` (the bytes the waiting records of every shard
    /// hold) stays within `budget`, else in a spool in `dir`.
    pub(super) fn add(
        &mut self,
        record: PreparedRecord,
        in_memory: &mut usize,
        budget: usize,
        dir: &Path,
    ) -> std::io::Result<()> {
        let size = footprint(&record);
        if self.spool.is_none() && *in_memory + size <= budget {
            *in_memory += size;
            self.memory.push_back(record);
            return Ok(());
        }
        let spool = match &mut self.spool {
            Some(spool) => spool,
            empty => empty.insert(Spool::new(dir)?),
        };
        spool.append(&record)
    }

    /// The records in the order they were added; `in_memory` stops counting them.
    pub(super) fn drain(
        self,
        in_memory: &mut usize,
    ) -> std::io::Result<impl Iterator<Item = std::io::Result<PreparedRecord>>> {
        *in_memory -= self.memory.iter().map(footprint).sum::<usize>();
        let spooled = self.spool.map(Spool::records).transpose()?;
        Ok(self
            .memory
            .into_iter()
            .map(Ok)
            .chain(spooled.into_iter().flatten()))
    }
}

/// The memory a record holds, roughly: its encoded bytes, and its values, about twice its JSONL
/// line.
fn footprint(record: &PreparedRecord) -> usize {
    3 * record.jsonl.len() + record.full_review.len() + record.sycophancy_review.len()
}
