//! One shard: its footer read (`footer`), then its bytes streamed, hashed and cut into row
//! groups that decode as they arrive.

use std::collections::{HashSet, VecDeque};
use std::ops::Range;
use std::sync::Arc;

use arrow_schema::SchemaRef;
use bytes::Bytes;
use parquet::arrow::arrow_reader::ArrowReaderMetadata;
use tokio::sync::Semaphore;

use super::assembly::RowGroupAssembler;
use super::error::{ScanError, ShardProblem};
use crate::digest::Sha256;
use crate::shard_file::{ShardFile, ShardReader};
use crate::source::Source;
use crate::value::Object;

/// Row groups of one shard handed to decoding threads and not yet emitted, while the download
/// goes on; how many decode at once across shards is the caller's `decoders` semaphore.
const DECODE_WINDOW: usize = 2;

/// A shard read to its end: the SHA-256 of every byte of it, and why its rows could not all be
/// decoded, if they could not (bytes damaged on the way, when the digest is not the published
/// one; else a corrupt shard).
#[derive(Debug)]
pub struct Scanned {
    pub sha256: String,
    pub failure: Option<ScanError>,
}

/// The bytes of one row group, addressed by file offset, so the Parquet reader can decode it
/// without the rest of the file.
pub(super) struct RowGroupBytes {
    pub offset: u64,
    pub bytes: Bytes,
    pub file_len: u64,
}

/// A source row whose ID is wanted.
#[derive(Debug)]
pub struct SourceRow {
    pub id: String,
    pub row: Object,
}

/// A shard whose footer has been read.
pub struct Shard {
    pub source: Source,
    pub file: ShardFile,
    /// The columns as the shard declares them (text as text), for the dataset's Parquet files.
    pub declared_schema: SchemaRef,
    pub(super) metadata: ArrowReaderMetadata,
    pub(super) id_column: usize,
    /// Byte ranges of the row groups, in file order.
    pub(super) row_groups: Vec<Range<u64>>,
    /// The end of the file as the footer read fetched it, from `tail_start`: the scan does not
    /// download again the row-group bytes it holds.
    pub(super) tail: Bytes,
    pub(super) tail_start: u64,
}

impl Shard {
    /// The bytes the scan downloads: from the first row group to the end of the last.
    pub fn data_range(&self) -> Range<u64> {
        match (self.row_groups.first(), self.row_groups.last()) {
            (Some(first), Some(last)) => first.start..last.end,
            _ => 0..0,
        }
    }

    pub(super) fn problem(&self, problem: ShardProblem) -> ScanError {
        ScanError::Shard {
            repo: self.source.repo_id(),
            shard: self.file.path().to_owned(),
            problem,
        }
    }

    /// Reads the shard from `body` (the stream [`Shard::open`] started, from byte 0) and the
    /// footer read's bytes, and calls `emit` with every row whose ID is in `targets`, in file
    /// order, after `prepare` has turned it into what the caller keeps. `prepare` runs on the
    /// decoding threads, each row group holding one of `decoders`' permits, which all the scans
    /// of a run share. Duplicates within the shard are all emitted: the caller decides.
    ///
    /// Every byte of the file passes through one SHA-256 as it arrives (FORMAT.md §1), and the
    /// digest comes back with the outcome: a row group that cannot be decoded stops decoding but
    /// not reading, so that the caller can tell bytes damaged on the way from a corrupt shard.
    pub async fn scan<T, P, E>(
        self: Arc<Self>,
        mut body: ShardReader<'_>,
        decoders: &Arc<Semaphore>,
        targets: Arc<HashSet<String>>,
        prepare: Arc<P>,
        mut emit: E,
        mut on_bytes: impl FnMut(u64),
    ) -> Result<Scanned, ScanError>
    where
        T: Send + 'static,
        P: Fn(SourceRow) -> T + Send + Sync + 'static,
        E: FnMut(T),
    {
        let data = self.data_range();
        let mut assembler = RowGroupAssembler::new(self.row_groups.clone(), body.position());
        let mut hash = Sha256::new();
        let mut decoding = VecDeque::new();
        let mut failure = None;
        let mut tail_used = false;
        loop {
            while let Some(group) = assembler.pop_complete() {
                if failure.is_some() {
                    continue;
                }
                let window = RowGroupBytes {
                    offset: group.offset,
                    bytes: Bytes::from(group.bytes),
                    file_len: self.file.size(),
                };
                let shard = Arc::clone(&self);
                let targets = Arc::clone(&targets);
                let prepare = Arc::clone(&prepare);
                // Waiting here also stops this stream's download: row groups wait as TCP
                // backpressure, not in memory, however many shards stream at once.
                let permit = Arc::clone(decoders)
                    .acquire_owned()
                    .await
                    .expect("the decoder semaphore is never closed");
                decoding.push_back(tokio::task::spawn_blocking(move || {
                    let _permit = permit;
                    let rows = shard.decode_row_group(group.index, window, &targets)?;
                    Ok::<_, ScanError>(rows.into_iter().map(|row| prepare(row)).collect::<Vec<T>>())
                }));
                while decoding.len() >= DECODE_WINDOW {
                    let decoded = decoding
                        .pop_front()
                        .expect("non-empty")
                        .await
                        .expect("decoding does not panic");
                    match decoded {
                        Ok(records) => records.into_iter().for_each(&mut emit),
                        Err(error) => failure = failure.or(Some(error)),
                    }
                }
            }
            if tail_used {
                break;
            }
            match body.next_chunk().await? {
                Some(chunk) => {
                    on_bytes(chunk.len() as u64);
                    hash.update(&chunk);
                    if !assembler.is_finished() {
                        assembler.push(&chunk);
                    }
                }
                // The stream ends where the footer read began; the rest is already here.
                None if body.position() == self.tail_start => {
                    tail_used = true;
                    on_bytes(self.tail.len() as u64);
                    hash.update(&self.tail);
                    if !assembler.is_finished() && assembler.position() == self.tail_start {
                        let to = data.end.saturating_sub(self.tail_start) as usize;
                        assembler.push(&self.tail[..to]);
                    }
                }
                None => {
                    return Err(self.problem(ShardProblem::NotParquet(
                        "the data ended before the last row group".to_owned(),
                    )));
                }
            }
        }
        while let Some(task) = decoding.pop_front() {
            match task.await.expect("decoding does not panic") {
                Ok(records) => records.into_iter().for_each(&mut emit),
                Err(error) => failure = failure.or(Some(error)),
            }
        }
        if failure.is_none() && !assembler.is_finished() {
            failure = Some(self.problem(ShardProblem::NotParquet(
                "the data ended before the last row group".to_owned(),
            )));
        }
        let (_, sha256) = hash.finish();
        Ok(Scanned { sha256, failure })
    }
}
