//! One shard: its footer read (`footer`), then its bytes streamed, hashed and cut into row
//! groups that decode as they arrive.

use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::Range;
use std::sync::Arc;

use arrow_schema::SchemaRef;
use bytes::Bytes;
use parquet::arrow::arrow_reader::ArrowReaderMetadata;
use tokio::sync::Semaphore;

use super::assembly::RowGroupAssembler;
use super::error::{NotParquet, ScanError, ShardProblem};
use crate::digest::HashState;
use crate::row_cache::IdKey;
use crate::shards::{ShardFile, ShardReader};
use crate::source::Source;
use crate::value::Object;

/// Row groups of one shard handed to decoding threads and not yet emitted, while the download
/// goes on; how many decode at once across shards is the caller's `decoders` semaphore.
const DECODE_WINDOW: usize = 2;

/// What a read of a shard brought: with [`ReadKind::ToTheEnd`], the SHA-256 of every byte of
/// the file; and why its rows could not all be decoded, if they could not (bytes damaged on the
/// way, when the digest is not the published one; else a corrupt shard).
#[derive(Debug)]
pub struct Scanned {
    pub sha256: Option<String>,
    pub failure: Option<ScanError>,
}

/// Which bytes of a shard a read brings, and how they are checked (FORMAT.md §1, §11).
pub enum ReadKind {
    /// From the body's position to the end of the file, every byte into the whole-file SHA-256
    /// carried on from `state` (which stands at that position); row groups `first..` decode.
    ToTheEnd { first: usize, state: HashState },
    /// Row groups `groups` alone, each checked against the SHA-256 states before and after it
    /// of a read whose whole-file SHA-256 matched.
    Groups {
        groups: Range<usize>,
        states: Vec<(HashState, HashState)>,
    },
}

/// A row group decoded: its wanted records, with (when asked for) the ID key of every row and
/// the whole-file SHA-256 states around its bytes.
pub struct DecodedGroup<T> {
    pub group: usize,
    pub keys: Vec<IdKey>,
    pub states: Option<(HashState, HashState)>,
    pub records: Vec<T>,
}

/// The bytes of one row group, addressed by file offset, so the Parquet reader can decode it
/// without the rest of the file.
pub(super) struct RowGroupBytes {
    pub offset: u64,
    pub bytes: Bytes,
    pub file_len: u64,
}

/// A scan of a shard's bytes: where they come from, which row groups they hold and how they
/// are checked, and what is done with the wanted rows.
pub struct ScanRequest<P> {
    pub body: ShardReader,
    pub kind: ReadKind,
    /// Each row group comes with every row's ID key (for the cache's ID index).
    pub index_ids: bool,
    /// The IDs wanted.
    pub targets: Arc<HashSet<String>>,
    /// What a wanted row becomes, on the decoding threads.
    pub prepare: Arc<P>,
    /// Shared by every scan of a run: one row group decodes per permit.
    pub decoders: Arc<Semaphore>,
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
    /// The footer's `FileMetaData` bytes, as the cache of rows keeps them.
    pub metadata_bytes: Bytes,
    pub(super) id_column: usize,
    /// Byte ranges of the row groups, in file order.
    pub(super) row_groups: Vec<Range<u64>>,
    /// The end of the file as the footer read fetched it, from `tail_start`: the scan does not
    /// download again the row-group bytes it holds.
    pub(super) tail: Bytes,
    pub(super) tail_start: u64,
}

impl Shard {
    /// The end of the file as the footer read fetched it, and its offset.
    pub fn tail(&self) -> (u64, &Bytes) {
        (self.tail_start, &self.tail)
    }

    /// The byte ranges of the row groups, in file order.
    pub fn row_groups(&self) -> &[Range<u64>] {
        &self.row_groups
    }

    /// The byte ranges of row groups `groups`, from the first one's start to the last one's end.
    pub fn byte_range(&self, groups: &Range<usize>) -> Range<u64> {
        match (
            self.row_groups.get(groups.start),
            groups
                .end
                .checked_sub(1)
                .and_then(|last| self.row_groups.get(last)),
        ) {
            (Some(first), Some(last)) => first.start..last.end,
            _ => 0..0,
        }
    }

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

    /// Reads the row groups `request.kind` names from its body, and the footer read's bytes
    /// when the body ends where they begin (`on_bytes` counts the body's bytes, not those: they
    /// were fetched with the footer, or kept by the cache), and calls `emit` with each row
    /// group's records, in file order: every row whose ID is wanted, after `prepare` has turned
    /// it (with its row group and row number) into what the caller keeps. `prepare` runs on the
    /// decoding threads, each row group holding one of the `decoders` permits, which all the
    /// scans of a run share. Duplicates within the shard are all emitted: the caller decides.
    ///
    /// Every byte passes through the check `kind` says as it arrives (FORMAT.md §1): a row group
    /// that cannot be decoded (a decoding thread that panics too) stops decoding but not
    /// reading, so that the caller can tell bytes damaged on the way from a corrupt shard.
    pub async fn scan<T, P, E>(
        self: Arc<Self>,
        request: ScanRequest<P>,
        mut emit: E,
        mut on_bytes: impl FnMut(u64),
    ) -> Result<Scanned, ScanError>
    where
        T: Send + 'static,
        P: Fn(usize, u32, SourceRow) -> T + Send + Sync + 'static,
        E: FnMut(DecodedGroup<T>),
    {
        let ScanRequest {
            mut body,
            kind,
            index_ids,
            targets,
            prepare,
            decoders,
        } = request;
        let (groups, mut chain, checks) = match kind {
            ReadKind::ToTheEnd { first, state } => {
                let groups = first..self.row_groups.len();
                let marks = ChainMarks::new(state, &self.row_groups[groups.clone()]);
                (groups, Some(marks), Vec::new())
            }
            ReadKind::Groups { groups, states } => (groups, None, states),
        };
        let mut assembler = RowGroupAssembler::new(
            self.row_groups[..groups.end].to_vec(),
            groups.start,
            body.position(),
        );
        let mut decoding = VecDeque::new();
        let mut failure = None;
        let mut tail_used = false;
        loop {
            while let Some(group) = assembler.pop_complete() {
                if failure.is_some() {
                    continue;
                }
                let range = &self.row_groups[group.index];
                let states = match &chain {
                    Some(chain) => Some(chain.around(range)),
                    None => {
                        let (before, after) = &checks[group.index - groups.start];
                        let mut state = before.clone();
                        state.update(&group.bytes);
                        if state != *after {
                            failure = Some(self.problem(ShardProblem::RowGroupChanged {
                                row_group: group.index,
                            }));
                            continue;
                        }
                        None
                    }
                };
                let window = RowGroupBytes {
                    offset: group.offset,
                    bytes: group.bytes,
                    file_len: self.file.size(),
                };
                let shard = Arc::clone(&self);
                let targets = Arc::clone(&targets);
                let prepare = Arc::clone(&prepare);
                // Waiting here also stops this stream's download: row groups wait as TCP
                // backpressure, not in memory, however many shards stream at once.
                let Ok(permit) = Arc::clone(&decoders).acquire_owned().await else {
                    failure = Some(self.problem(ShardProblem::DecodePanicked {
                        row_group: group.index,
                        panic: "the decoding threads were closed".to_owned(),
                    }));
                    continue;
                };
                let index = group.index;
                decoding.push_back((
                    index,
                    tokio::task::spawn_blocking(move || {
                        let _permit = permit;
                        let decoded = shard.decode_row_group(index, window, &targets, index_ids)?;
                        Ok::<_, ScanError>(DecodedGroup {
                            group: index,
                            keys: decoded.keys,
                            states,
                            records: decoded
                                .rows
                                .into_iter()
                                .map(|(position, row)| prepare(index, position, row))
                                .collect(),
                        })
                    }),
                ));
                while decoding.len() >= DECODE_WINDOW {
                    let Some((index, task)) = decoding.pop_front() else {
                        break;
                    };
                    match self.decoded(index, task.await) {
                        Ok(group) => emit(group),
                        Err(error) => failure = failure.or(Some(error)),
                    }
                }
            }
            if tail_used {
                break;
            }
            match body.next_chunk(assembler.next_boundary()).await? {
                Some(chunk) => {
                    on_bytes(chunk.len() as u64);
                    if let Some(chain) = &mut chain {
                        chain.update(&chunk);
                    }
                    if !assembler.is_finished() {
                        assembler.push(chunk);
                    }
                }
                // The stream ends where the footer read began; the rest is already here.
                None if chain.is_some() && body.position() == self.tail_start => {
                    tail_used = true;
                    if let Some(chain) = &mut chain {
                        chain.update(&self.tail);
                    }
                    if !assembler.is_finished() && assembler.position() == self.tail_start {
                        let to = (self.data_range().end.saturating_sub(self.tail_start) as usize)
                            .min(self.tail.len());
                        assembler.push(self.tail.slice(..to));
                    }
                }
                None => break,
            }
        }
        while let Some((index, task)) = decoding.pop_front() {
            match self.decoded(index, task.await) {
                Ok(group) => emit(group),
                Err(error) => failure = failure.or(Some(error)),
            }
        }
        if failure.is_none() && !assembler.is_finished() {
            failure = Some(self.problem(ShardProblem::NotParquet(NotParquet::Checked(
                "the data ended before the last row group".to_owned(),
            ))));
        }
        Ok(Scanned {
            sha256: chain.map(|chain| chain.state.finish()),
            failure,
        })
    }

    /// A row group's decoding, ended: a thread that panicked decoding it (on bytes no check
    /// had yet passed, say) is a decoding failure of the shard like any other, never a panic of
    /// the run.
    fn decoded<T>(
        &self,
        row_group: usize,
        joined: Result<Result<DecodedGroup<T>, ScanError>, tokio::task::JoinError>,
    ) -> Result<DecodedGroup<T>, ScanError> {
        joined.map_err(|error| {
            self.problem(ShardProblem::DecodePanicked {
                row_group,
                panic: panic_message(error),
            })
        })?
    }
}

/// The whole-file SHA-256 as the bytes go by, with its state kept at each row group's first
/// byte and past its last (FORMAT.md §11).
struct ChainMarks {
    state: HashState,
    /// File offsets where the state is kept, ascending; `next` is the first not reached.
    offsets: Vec<u64>,
    next: usize,
    kept: HashMap<u64, HashState>,
}

impl ChainMarks {
    fn new(state: HashState, groups: &[Range<u64>]) -> ChainMarks {
        let mut offsets: Vec<u64> = groups
            .iter()
            .flat_map(|range| [range.start, range.end])
            .filter(|&offset| offset >= state.position())
            .collect();
        offsets.dedup();
        let mut marks = ChainMarks {
            state,
            offsets,
            next: 0,
            kept: HashMap::new(),
        };
        marks.keep_reached();
        marks
    }

    fn update(&mut self, mut bytes: &[u8]) {
        while let Some(&offset) = self.offsets.get(self.next)
            && offset < self.state.position() + bytes.len() as u64
        {
            let (before, after) = bytes.split_at((offset - self.state.position()) as usize);
            self.state.update(before);
            bytes = after;
            self.keep_reached();
        }
        self.state.update(bytes);
        self.keep_reached();
    }

    fn keep_reached(&mut self) {
        while let Some(&offset) = self.offsets.get(self.next)
            && offset == self.state.position()
        {
            self.kept.insert(offset, self.state.clone());
            self.next += 1;
        }
    }

    /// The states at a row group's first byte and past its last, which the stream has passed.
    fn around(&self, range: &Range<u64>) -> (HashState, HashState) {
        let at = |offset| {
            self.kept
                .get(&offset)
                .cloned()
                .expect("a row group is complete once the stream has passed it")
        };
        (at(range.start), at(range.end))
    }
}

/// What a panicked task said, for the message of the failure it becomes.
fn panic_message(error: tokio::task::JoinError) -> String {
    if !error.is_panic() {
        return "its task was cancelled".to_owned();
    }
    let panic = error.into_panic();
    panic
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}
