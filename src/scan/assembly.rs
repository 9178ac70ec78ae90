//! Cuts a shard's byte stream into whole row groups: bytes arrive in chunks of any size, and a
//! row group is handed on as soon as its last byte is in. Each row group's bytes are copied
//! once, into a buffer of its exact size: a chunk that straddles two row groups is split
//! between them, never appended whole and moved. Bytes between row groups are dropped. The
//! buffers of decoded row groups are filled again ([`recycle`]).

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;

/// Buffers of row groups already decoded, for the next row groups to fill: a fresh buffer of a
/// few MB takes a page fault for every 4 KiB it fills (7 to 9 % of a run's CPU time, with the
/// kernel zeroing the pages).
static SPARE_BUFFERS: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
/// About the row groups decoding and waiting at once: more would only hold memory.
const SPARE_BUFFERS_KEPT: usize = 4;

/// Gives back the bytes of a decoded row group, once nothing else holds them.
pub(super) fn recycle(bytes: Bytes) {
    if let Ok(bytes) = bytes.try_into_mut() {
        let mut buffer = Vec::from(bytes);
        buffer.clear();
        let mut spare = SPARE_BUFFERS.lock().unwrap_or_else(PoisonError::into_inner);
        if spare.len() < SPARE_BUFFERS_KEPT {
            spare.push(buffer);
        }
    }
}

/// An empty buffer that holds `length` bytes: a spare one if one is large enough (else the
/// oldest spare one is freed, so that spare buffers follow the row groups' sizes).
fn buffer_for(length: usize) -> Vec<u8> {
    let mut spare = SPARE_BUFFERS.lock().unwrap_or_else(PoisonError::into_inner);
    match spare.iter().position(|buffer| buffer.capacity() >= length) {
        Some(position) => spare.swap_remove(position),
        None => {
            if !spare.is_empty() {
                spare.remove(0);
            }
            Vec::with_capacity(length)
        }
    }
}

/// The bytes of one row group and where they start in the file.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct AssembledRowGroup {
    pub index: usize,
    pub offset: u64,
    pub bytes: Vec<u8>,
}

pub(super) struct RowGroupAssembler {
    /// Byte ranges of the row groups, in file order, not overlapping.
    ranges: Vec<Range<u64>>,
    /// The row group whose bytes are arriving.
    collecting: usize,
    /// Its bytes so far.
    buffer: Vec<u8>,
    /// The file offset of the next byte the stream brings.
    position: u64,
    /// Row groups whose bytes are all in, not yet handed on.
    complete: VecDeque<AssembledRowGroup>,
}

impl RowGroupAssembler {
    /// An assembler of row groups `first..ranges.len()`, for a stream that starts at file offset
    /// `start` (at or before the first one's start).
    pub fn new(ranges: Vec<Range<u64>>, first: usize, start: u64) -> RowGroupAssembler {
        let mut assembler = RowGroupAssembler {
            ranges,
            collecting: first,
            buffer: Vec::new(),
            position: start,
            complete: VecDeque::new(),
        };
        assembler.complete_filled();
        assembler
    }

    /// The file offset of the next byte the stream should bring.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// True once every row group has been handed on.
    pub fn is_finished(&self) -> bool {
        self.collecting == self.ranges.len() && self.complete.is_empty()
    }

    /// Appends the stream's next bytes.
    pub fn push(&mut self, mut chunk: &[u8]) {
        while let Some(range) = self.ranges.get(self.collecting)
            && !chunk.is_empty()
        {
            if self.position < range.start {
                let gap = ((range.start - self.position) as usize).min(chunk.len());
                chunk = &chunk[gap..];
                self.position += gap as u64;
                continue;
            }
            if self.buffer.capacity() == 0 {
                self.buffer = buffer_for((range.end - range.start) as usize);
            }
            let take = ((range.end - self.position) as usize).min(chunk.len());
            self.buffer.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
            self.position += take as u64;
            self.complete_filled();
        }
        self.position += chunk.len() as u64;
    }

    /// Moves the row groups whose last byte is in (empty ones too) to `complete`.
    fn complete_filled(&mut self) {
        while let Some(range) = self.ranges.get(self.collecting)
            && self.position >= range.end
        {
            self.complete.push_back(AssembledRowGroup {
                index: self.collecting,
                offset: range.start,
                bytes: std::mem::take(&mut self.buffer),
            });
            self.collecting += 1;
        }
    }

    /// The next row group, once all its bytes are in.
    pub fn pop_complete(&mut self) -> Option<AssembledRowGroup> {
        self.complete.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `file[start..]` in chunks of `chunk` bytes and collects what comes out.
    fn assemble(
        file: &[u8],
        ranges: &[Range<u64>],
        start: u64,
        chunk: usize,
    ) -> Vec<AssembledRowGroup> {
        let mut assembler = RowGroupAssembler::new(ranges.to_vec(), 0, start);
        let mut out = Vec::new();
        for piece in file[start as usize..].chunks(chunk) {
            assembler.push(piece);
            while let Some(group) = assembler.pop_complete() {
                out.push(group);
            }
        }
        assert!(assembler.is_finished());
        out
    }

    #[test]
    fn row_groups_come_out_whole_whatever_the_chunk_size() {
        let file: Vec<u8> = (0..=255).cycle().take(100).collect();
        // A gap at 25..30 (a page index, say), and data starting at 4.
        let ranges = [4..10, 10..25, 30..31, 31..60];
        for chunk in [1, 2, 3, 7, 26, 100] {
            let groups = assemble(&file[..60], &ranges, 4, chunk);
            assert_eq!(groups.len(), ranges.len(), "chunk {chunk}");
            for (group, range) in groups.iter().zip(&ranges) {
                assert_eq!(group.offset, range.start);
                assert_eq!(
                    group.bytes,
                    &file[range.start as usize..range.end as usize],
                    "chunk {chunk}"
                );
            }
            assert_eq!(
                groups.iter().map(|g| g.index).collect::<Vec<_>>(),
                [0, 1, 2, 3]
            );
        }
    }

    #[test]
    fn a_stream_of_later_row_groups_numbers_them_as_the_file_does() {
        let mut assembler = RowGroupAssembler::new(vec![0..4, 4..8, 8..9], 1, 4);
        assembler.push(b"efghi");
        let indexes: Vec<usize> = std::iter::from_fn(|| assembler.pop_complete())
            .map(|group| group.index)
            .collect();
        assert_eq!(indexes, [1, 2]);
        assert!(assembler.is_finished());
    }

    #[test]
    fn nothing_comes_out_before_its_last_byte() {
        let mut assembler = RowGroupAssembler::new(vec![0..4, 4..8], 0, 0);
        assembler.push(b"abc");
        assert_eq!(assembler.pop_complete(), None);
        assert_eq!(assembler.position(), 3);
        assembler.push(b"defgh");
        assert_eq!(assembler.pop_complete().unwrap().bytes, b"abcd");
        assert_eq!(assembler.pop_complete().unwrap().bytes, b"efgh");
        assert_eq!(assembler.pop_complete(), None);
        assert!(assembler.is_finished());
    }
}
