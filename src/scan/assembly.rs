//! Cuts a shard's byte stream into whole row groups: bytes arrive in chunks of any size, and a
//! row group is handed on as soon as its last byte is in. A chunk that is exactly a row group
//! (a local copy is read so) is handed on as it is; other row groups' bytes are copied once,
//! into a buffer of their exact size (from `spare_buffers`): a chunk that straddles two row
//! groups is split between them, never appended whole and moved. Bytes between row groups are
//! dropped.

use std::collections::VecDeque;
use std::ops::Range;

use bytes::Bytes;

use crate::shards::spare_buffers;

/// The bytes of one row group and where they start in the file.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct AssembledRowGroup {
    pub index: usize,
    pub offset: u64,
    pub bytes: Bytes,
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

    /// Where the next chunk should end for the assembler to take it whole: the start of the
    /// next row group, or the end of the one whose bytes are arriving (`None` past the last).
    pub fn next_boundary(&self) -> Option<u64> {
        let range = self.ranges.get(self.collecting)?;
        Some(if self.position < range.start {
            range.start
        } else {
            range.end
        })
    }

    /// True once every row group has been handed on.
    pub fn is_finished(&self) -> bool {
        self.collecting == self.ranges.len() && self.complete.is_empty()
    }

    /// Appends the stream's next bytes.
    pub fn push(&mut self, chunk: Bytes) {
        if let Some(range) = self.ranges.get(self.collecting).cloned()
            && self.position == range.start
            && chunk.len() as u64 == range.end - range.start
        {
            self.position = range.end;
            self.complete_with(chunk);
            self.complete_filled();
            return;
        }
        let mut chunk = &chunk[..];
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
                self.buffer = spare_buffers::take((range.end - range.start) as usize);
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
            let bytes = Bytes::from(std::mem::take(&mut self.buffer));
            self.complete_with(bytes);
        }
    }

    /// Hands on the row group being collected, with `bytes`.
    fn complete_with(&mut self, bytes: Bytes) {
        self.complete.push_back(AssembledRowGroup {
            index: self.collecting,
            offset: self.ranges[self.collecting].start,
            bytes,
        });
        self.collecting += 1;
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
            assembler.push(Bytes::copy_from_slice(piece));
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
        assembler.push(Bytes::from_static(b"efghi"));
        let indexes: Vec<usize> = std::iter::from_fn(|| assembler.pop_complete())
            .map(|group| group.index)
            .collect();
        assert_eq!(indexes, [1, 2]);
        assert!(assembler.is_finished());
    }

    #[test]
    fn nothing_comes_out_before_its_last_byte() {
        let mut assembler = RowGroupAssembler::new(vec![0..4, 4..8], 0, 0);
        assembler.push(Bytes::from_static(b"abc"));
        assert_eq!(assembler.pop_complete(), None);
        assert_eq!(assembler.position(), 3);
        assembler.push(Bytes::from_static(b"defgh"));
        assert_eq!(assembler.pop_complete().unwrap().bytes, &b"abcd"[..]);
        assert_eq!(assembler.pop_complete().unwrap().bytes, &b"efgh"[..]);
        assert_eq!(assembler.pop_complete(), None);
        assert!(assembler.is_finished());
    }

    #[test]
    fn a_chunk_that_is_a_row_group_is_handed_on_uncopied() {
        let mut assembler = RowGroupAssembler::new(vec![2..6, 6..8], 0, 0);
        assembler.push(Bytes::from_static(b"xy"));
        assert_eq!(assembler.next_boundary(), Some(6));
        let group = Bytes::from(b"abcd".to_vec());
        let address = group.as_ptr();
        assembler.push(group);
        let first = assembler.pop_complete().unwrap();
        assert_eq!((first.index, first.bytes.as_ptr()), (0, address));
        assert_eq!(assembler.next_boundary(), Some(8));
        assembler.push(Bytes::from_static(b"efg"));
        assert_eq!(assembler.pop_complete().unwrap().bytes, &b"ef"[..]);
        assert!(assembler.is_finished());
        assert_eq!(assembler.next_boundary(), None);
    }
}
