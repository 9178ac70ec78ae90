//! A Parquet shard whose footer numbers lie: a few bytes of its thrift `FileMetaData` changed,
//! the file's size unchanged, so that the footer still decodes but one column chunk's first page
//! offset is negative, or its size runs past the end of the file.
//!
//! The lie is one varint of the thrift compact protocol re-encoded as another of the same length:
//! the bytes around it, and so every other field, stay as they were.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Which number of a column chunk's metadata lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FooterLie {
    /// The first column chunk's first page (`dictionary_page_offset`, else `data_page_offset`)
    /// is at a negative offset.
    NegativeOffset,
    /// A column chunk's `total_compressed_size` runs past the end of the file.
    SizePastEnd,
}

/// Bytes of a file changed: XOR-ed with `xor` from byte `at` on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    pub at: u64,
    pub xor: Vec<u8>,
}

impl Patch {
    /// Applies the part of the patch that falls in `buffer`, the file's bytes from `position`.
    pub fn apply(&self, buffer: &mut [u8], position: u64) {
        for (i, mask) in self.xor.iter().enumerate() {
            let at = self.at + i as u64;
            if let Some(offset) = at.checked_sub(position)
                && let Some(byte) = buffer.get_mut(offset as usize)
            {
                *byte ^= mask;
            }
        }
    }

    /// Whether any byte of `start..end` is changed.
    pub fn overlaps(&self, start: u64, end: u64) -> bool {
        self.at < end && start < self.at + self.xor.len() as u64
    }
}

/// The patch that makes the Parquet file at `path` tell `lie`; reads only its footer.
pub fn patch_for_file(path: &Path, lie: FooterLie) -> std::io::Result<Patch> {
    let mut file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    let invalid = |problem: String| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: {problem}", path.display()),
        )
    };
    if size < 12 {
        return Err(invalid("too short for Parquet".to_owned()));
    }
    let mut tail = [0; 8];
    file.seek(SeekFrom::Start(size - 8))?;
    file.read_exact(&mut tail)?;
    if &tail[4..] != b"PAR1" {
        return Err(invalid("no PAR1 at its end".to_owned()));
    }
    let length = u64::from(u32::from_le_bytes(tail[..4].try_into().expect("4 bytes")));
    let start = (size - 8)
        .checked_sub(length)
        .ok_or_else(|| invalid("a footer longer than the file".to_owned()))?;
    let mut metadata = vec![0; length as usize];
    file.seek(SeekFrom::Start(start))?;
    file.read_exact(&mut metadata)?;
    patch(&metadata, start, size, lie).map_err(invalid)
}

/// Writes a copy of the Parquet file `from` to `to`, its footer telling `lie`.
pub fn write_lying_copy(from: &Path, to: &Path, lie: FooterLie) -> std::io::Result<()> {
    let patch = patch_for_file(from, lie)?;
    let mut bytes = std::fs::read(from)?;
    patch.apply(&mut bytes, 0);
    std::fs::write(to, bytes)
}

/// The patch that makes `metadata`, the `FileMetaData` bytes at `metadata_start` of a file of
/// `file_size` bytes, tell `lie`.
pub fn patch(
    metadata: &[u8],
    metadata_start: u64,
    file_size: u64,
    lie: FooterLie,
) -> Result<Patch, String> {
    let chunks = column_chunks(metadata)?;
    let (field, value) = match lie {
        FooterLie::NegativeOffset => {
            let first = chunks.first().ok_or("no column chunk")?;
            let field = first.first_page_offset.ok_or("no page offset")?;
            (field, smallest_negative(field.len))
        }
        // The last chunk whose size can run past the end in as many varint bytes as it has.
        FooterLie::SizePastEnd => chunks
            .iter()
            .filter_map(|chunk| {
                let (size, offset) = (chunk.total_compressed_size?, chunk.first_page_offset?);
                let value = largest_positive(size.len);
                (offset.value.checked_add(value)? > file_size as i64).then_some((size, value))
            })
            .next_back()
            .ok_or("no column chunk's size can run past the end in as many bytes")?,
    };
    let original = &metadata[field.at..field.at + field.len];
    let replacement = zigzag_varint(value);
    debug_assert_eq!(replacement.len(), field.len);
    Ok(Patch {
        at: metadata_start + field.at as u64,
        xor: original
            .iter()
            .zip(&replacement)
            .map(|(a, b)| a ^ b)
            .collect(),
    })
}

/// An i64 field of the thrift bytes: where its varint is, how long, and its value.
#[derive(Debug, Clone, Copy)]
struct Field {
    at: usize,
    len: usize,
    value: i64,
}

/// What a column chunk's `ColumnMetaData` says of where its bytes are.
#[derive(Debug, Default)]
struct ChunkNumbers {
    /// `dictionary_page_offset` if present, else `data_page_offset`: where the chunk starts.
    first_page_offset: Option<Field>,
    total_compressed_size: Option<Field>,
}

/// The column chunks of every row group, in order.
fn column_chunks(metadata: &[u8]) -> Result<Vec<ChunkNumbers>, String> {
    // FileMetaData { 4: list<RowGroup> row_groups }, RowGroup { 1: list<ColumnChunk> columns },
    // ColumnChunk { 3: ColumnMetaData meta_data }, ColumnMetaData { 7: total_compressed_size,
    // 9: data_page_offset, 11: dictionary_page_offset }.
    let mut thrift = Compact::new(metadata);
    let mut chunks = Vec::new();
    thrift.each_field(|thrift, id, kind| match (id, kind) {
        (4, LIST) => thrift.each_element(|thrift, _| {
            thrift.each_field(|thrift, id, kind| match (id, kind) {
                (1, LIST) => thrift.each_element(|thrift, _| {
                    let mut chunk = ChunkNumbers::default();
                    thrift.each_field(|thrift, id, kind| match (id, kind) {
                        (3, STRUCT) => chunk_numbers(thrift, &mut chunk),
                        _ => thrift.skip(kind),
                    })?;
                    chunks.push(chunk);
                    Ok(())
                }),
                _ => thrift.skip(kind),
            })
        }),
        _ => thrift.skip(kind),
    })?;
    Ok(chunks)
}

fn chunk_numbers(thrift: &mut Compact, chunk: &mut ChunkNumbers) -> Result<(), String> {
    let mut data_page_offset = None;
    let mut dictionary_page_offset = None;
    thrift.each_field(|thrift, id, kind| match (id, kind) {
        (7, I64) => {
            chunk.total_compressed_size = Some(thrift.i64_field()?);
            Ok(())
        }
        (9, I64) => {
            data_page_offset = Some(thrift.i64_field()?);
            Ok(())
        }
        (11, I64) => {
            dictionary_page_offset = Some(thrift.i64_field()?);
            Ok(())
        }
        _ => thrift.skip(kind),
    })?;
    chunk.first_page_offset = dictionary_page_offset.or(data_page_offset);
    Ok(())
}

/// The negative i64 closest to zero whose zigzag varint takes `len` bytes.
fn smallest_negative(len: usize) -> i64 {
    // Zigzag maps -n to 2n - 1: the smallest odd number of `len` bytes.
    let zigzag: u64 = if len == 1 {
        1
    } else {
        (1 << (7 * (len - 1))) + 1
    };
    -(zigzag.div_ceil(2) as i64)
}

/// The largest i64 whose zigzag varint takes `len` bytes.
fn largest_positive(len: usize) -> i64 {
    // Zigzag maps n to 2n: the largest even number of `len` bytes.
    let zigzag: u64 = (1u64 << (7 * len).min(63)) - 2;
    (zigzag / 2) as i64
}

fn zigzag_varint(value: i64) -> Vec<u8> {
    let mut n = ((value << 1) ^ (value >> 63)) as u64;
    let mut bytes = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            bytes.push(byte);
            return bytes;
        }
        bytes.push(byte | 0x80);
    }
}

// The thrift compact protocol's types.
const BOOL_TRUE: u8 = 1;
const BOOL_FALSE: u8 = 2;
const BYTE: u8 = 3;
const I16: u8 = 4;
const I32: u8 = 5;
const I64: u8 = 6;
const DOUBLE: u8 = 7;
const BINARY: u8 = 8;
const LIST: u8 = 9;
const SET: u8 = 10;
const MAP: u8 = 11;
const STRUCT: u8 = 12;

/// A reader of thrift compact protocol bytes that walks structs and skips what it is not asked
/// for.
struct Compact<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Compact<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Compact { bytes, at: 0 }
    }

    fn byte(&mut self) -> Result<u8, String> {
        let byte = *self.bytes.get(self.at).ok_or("thrift ends early")?;
        self.at += 1;
        Ok(byte)
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("a varint longer than 10 bytes".to_owned())
    }

    fn i64_field(&mut self) -> Result<Field, String> {
        let at = self.at;
        let zigzag = self.varint()?;
        let value = (zigzag >> 1) as i64 ^ -((zigzag & 1) as i64);
        Ok(Field {
            at,
            len: self.at - at,
            value,
        })
    }

    /// Calls `on_field` with each field of the struct that starts here, which must read or
    /// skip the field's value; stops after the struct's end.
    fn each_field(
        &mut self,
        mut on_field: impl FnMut(&mut Self, i16, u8) -> Result<(), String>,
    ) -> Result<(), String> {
        let mut last_id = 0i16;
        loop {
            let header = self.byte()?;
            if header == 0 {
                return Ok(());
            }
            let kind = header & 0x0f;
            let delta = header >> 4;
            let id = if delta == 0 {
                let zigzag = self.varint()?;
                ((zigzag >> 1) as i64 ^ -((zigzag & 1) as i64)) as i16
            } else {
                last_id + i16::from(delta)
            };
            // A bool field's value is its type.
            if kind != BOOL_TRUE && kind != BOOL_FALSE {
                on_field(self, id, kind)?;
            }
            last_id = id;
        }
    }

    /// Calls `on_element` with each element's type of the list or set that starts here.
    fn each_element(
        &mut self,
        mut on_element: impl FnMut(&mut Self, u8) -> Result<(), String>,
    ) -> Result<(), String> {
        let header = self.byte()?;
        let kind = header & 0x0f;
        let count = match header >> 4 {
            15 => self.varint()?,
            short => u64::from(short),
        };
        for _ in 0..count {
            on_element(self, kind)?;
        }
        Ok(())
    }

    fn skip(&mut self, kind: u8) -> Result<(), String> {
        match kind {
            // In a list, a bool takes a byte.
            BOOL_TRUE | BOOL_FALSE | BYTE => self.byte().map(drop),
            I16 | I32 | I64 => self.varint().map(drop),
            DOUBLE => self.advance(8),
            BINARY => {
                let len = self.varint()?;
                self.advance(usize::try_from(len).map_err(|e| e.to_string())?)
            }
            LIST | SET => self.each_element(|thrift, kind| thrift.skip(kind)),
            MAP => {
                let count = self.varint()?;
                if count == 0 {
                    return Ok(());
                }
                let kinds = self.byte()?;
                for _ in 0..count {
                    self.skip(kinds >> 4)?;
                    self.skip(kinds & 0x0f)?;
                }
                Ok(())
            }
            STRUCT => self.each_field(|thrift, _, kind| thrift.skip(kind)),
            other => Err(format!("unknown thrift type {other}")),
        }
    }

    fn advance(&mut self, len: usize) -> Result<(), String> {
        if self.bytes.len() - self.at < len {
            return Err("thrift ends early".to_owned());
        }
        self.at += len;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use parquet::file::metadata::ParquetMetaDataReader;

    use super::*;

    /// The fixtures' shards, written by pyarrow.
    fn fixture_shards() -> Vec<PathBuf> {
        let datasets =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/hub/datasets");
        let mut shards = Vec::new();
        for repo in ["allenai/WildChat-1M", "lmsys/lmsys-chat-1m"] {
            for entry in std::fs::read_dir(datasets.join(repo).join("data")).unwrap() {
                shards.push(entry.unwrap().path());
            }
        }
        shards.sort();
        assert_eq!(shards.len(), 7);
        shards
    }

    /// Each column chunk's first page offset and compressed size, as the `parquet` crate decodes
    /// the footer of `file` (healthchat's decoder).
    fn chunk_ranges(file: &[u8]) -> Vec<(i64, i64)> {
        let size = file.len();
        let length = u32::from_le_bytes(file[size - 8..size - 4].try_into().unwrap()) as usize;
        let metadata =
            ParquetMetaDataReader::decode_metadata(&file[size - 8 - length..size - 8]).unwrap();
        metadata
            .row_groups()
            .iter()
            .flat_map(|row_group| row_group.columns())
            .map(|column| {
                let start = column
                    .dictionary_page_offset()
                    .unwrap_or(column.data_page_offset());
                (start, column.compressed_size())
            })
            .collect()
    }

    /// A lying copy of `shard` (by [`write_lying_copy`]) and the chunk ranges of it and of the
    /// original; checks that a few footer bytes changed, the size did not, and that one chunk's
    /// numbers differ.
    fn lying_copy(shard: &Path, lie: FooterLie) -> (usize, (i64, i64), u64) {
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("lying.parquet");
        write_lying_copy(shard, &copy, lie).unwrap();
        let (clean, lying) = (std::fs::read(shard).unwrap(), std::fs::read(&copy).unwrap());
        assert_eq!(clean.len(), lying.len());
        let changed: Vec<usize> = (0..clean.len()).filter(|&i| clean[i] != lying[i]).collect();
        assert!((1..=10).contains(&changed.len()), "{changed:?}");
        let footer_length = u32::from_le_bytes(clean[clean.len() - 8..][..4].try_into().unwrap());
        assert!(changed[0] >= clean.len() - 8 - footer_length as usize);
        let (clean_ranges, lying_ranges) = (chunk_ranges(&clean), chunk_ranges(&lying));
        let differing: Vec<usize> = (0..clean_ranges.len())
            .filter(|&i| clean_ranges[i] != lying_ranges[i])
            .collect();
        assert_eq!(differing.len(), 1, "one column chunk lies");
        let chunk = differing[0];
        (chunk, lying_ranges[chunk], clean.len() as u64)
    }

    #[test]
    fn a_lying_footer_still_decodes_with_a_negative_offset() {
        for shard in fixture_shards() {
            let (chunk, (start, _), _) = lying_copy(&shard, FooterLie::NegativeOffset);
            assert_eq!(chunk, 0, "{}", shard.display());
            assert!(start < 0, "{}: {start}", shard.display());
        }
    }

    #[test]
    fn a_lying_footer_still_decodes_with_a_size_past_the_end() {
        for shard in fixture_shards() {
            let (_, (start, size), file_size) = lying_copy(&shard, FooterLie::SizePastEnd);
            assert!(start >= 0, "{}", shard.display());
            assert!(
                start + size > file_size as i64,
                "{}: {start} + {size}",
                shard.display()
            );
        }
    }

    #[test]
    fn a_patch_applies_across_buffers() {
        let patch = Patch {
            at: 6,
            xor: vec![1, 2, 3, 4],
        };
        let mut whole = vec![0u8; 12];
        patch.apply(&mut whole, 0);
        let (mut first, mut second) = (vec![0u8; 8], vec![0u8; 4]);
        patch.apply(&mut first, 0);
        patch.apply(&mut second, 8);
        assert_eq!([first, second].concat(), whole);
        assert_eq!(whole[6..10], [1, 2, 3, 4]);
        assert!(patch.overlaps(9, 20) && !patch.overlaps(10, 20) && !patch.overlaps(0, 6));
    }

    #[test]
    fn zigzag_varints_keep_their_length() {
        for len in 1..=9 {
            assert_eq!(zigzag_varint(smallest_negative(len)).len(), len);
            assert_eq!(zigzag_varint(largest_positive(len)).len(), len);
            assert!(smallest_negative(len) < 0 && largest_positive(len) > 0);
        }
    }
}
