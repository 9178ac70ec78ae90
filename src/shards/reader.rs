//! The readers of a shard's bytes: byte ranges from the Hub (`hub::RangeReader`, with retries)
//! or from a local copy on disk (`--source-dir`), and why a read failed.

use std::io::{Read, Seek};
use std::path::PathBuf;

use bytes::Bytes;
use thiserror::Error;

use super::spare_buffers;
use crate::hub::{HubError, RangeReader};

/// Why a shard's bytes could not be read.
#[derive(Debug, Error)]
pub(crate) enum ReadError {
    #[error(transparent)]
    Hub(#[from] HubError),
    #[error(
        "{path} of {repo} is needed, but HF_HUB_OFFLINE is set and the cache of rows does not \
         hold all of what this run wants from it"
    )]
    Offline { repo: String, path: String },
    #[error("could not read {}", path.display())]
    Disk {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl ReadError {
    /// What the user can do about it, if anything.
    pub(crate) fn next_step(&self) -> Option<String> {
        match self {
            ReadError::Hub(error) => error.next_step(),
            ReadError::Offline { .. } => Some(
                "run once online (unset HF_HUB_OFFLINE), or pass --source-dir with a local copy."
                    .to_owned(),
            ),
            ReadError::Disk { .. } => None,
        }
    }
}

/// Reads a byte range of a shard, from the Hub or from disk.
pub(crate) enum ShardReader {
    Hub(Box<RangeReader>),
    Disk(DiskReader),
    Offline {
        repo: String,
        path: String,
        offset: u64,
    },
}

impl ShardReader {
    /// Sends a Hub request now, so that its round trip overlaps other work.
    pub(crate) async fn open_early(&mut self) -> Result<(), ReadError> {
        match self {
            ShardReader::Hub(reader) => Ok(reader.open_early().await?),
            ShardReader::Disk(_) | ShardReader::Offline { .. } => Ok(()),
        }
    }

    /// The file offset of the next byte.
    pub(crate) fn position(&self) -> u64 {
        match self {
            ShardReader::Hub(reader) => reader.position(),
            ShardReader::Disk(reader) => reader.offset,
            ShardReader::Offline { offset, .. } => *offset,
        }
    }

    /// The next bytes, or `None` at the end of the range. A local copy's chunk ends at
    /// `boundary` when it is ahead (a row group's end, so that the bytes are read once, into
    /// the buffer the row group is decoded from); the Hub's chunks are as they arrive.
    pub(crate) async fn next_chunk(
        &mut self,
        boundary: Option<u64>,
    ) -> Result<Option<Bytes>, ReadError> {
        match self {
            ShardReader::Hub(reader) => Ok(reader.next_chunk().await?),
            ShardReader::Disk(reader) => reader.next_chunk(boundary).await,
            ShardReader::Offline { repo, path, .. } => Err(ReadError::Offline {
                repo: repo.clone(),
                path: path.clone(),
            }),
        }
    }
}

/// A byte range of a file on disk, read in chunks that end at the boundaries asked for.
pub(crate) struct DiskReader {
    path: PathBuf,
    file: Option<std::fs::File>,
    offset: u64,
    end: u64,
}

impl DiskReader {
    /// Bytes `start..end` of the file at `path`, which is opened at the first read.
    pub(crate) fn new(path: PathBuf, start: u64, end: u64) -> DiskReader {
        DiskReader {
            path,
            file: None,
            offset: start,
            end,
        }
    }

    async fn next_chunk(&mut self, boundary: Option<u64>) -> Result<Option<Bytes>, ReadError> {
        /// The longest chunk: the bytes past the last row group, or a row group longer than
        /// this, come in pieces (which the assembler copies).
        const MAX_CHUNK: u64 = 64 << 20;
        if self.offset >= self.end {
            return Ok(None);
        }
        let until = boundary
            .filter(|&boundary| boundary > self.offset)
            .unwrap_or(self.end)
            .min(self.end)
            .min(self.offset + MAX_CHUNK);
        let length = (until - self.offset) as usize;
        let (path, offset, file) = (self.path.clone(), self.offset, self.file.take());
        let read = tokio::task::spawn_blocking(move || {
            let file = match file {
                Some(file) => file,
                None => {
                    let mut file = std::fs::File::open(&path)?;
                    file.seek(std::io::SeekFrom::Start(offset))?;
                    file
                }
            };
            // Into the buffer's spare capacity, which `read_to_end` does not zero first.
            let mut chunk = spare_buffers::take(length);
            (&file).take(length as u64).read_to_end(&mut chunk)?;
            if chunk.len() < length {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the file ended before the bytes its footer names",
                ));
            }
            Ok((file, chunk))
        })
        .await
        // A read that panicked is a failed read (of a file that may be at fault), not a crash.
        .unwrap_or_else(|panicked| Err(std::io::Error::other(panicked)));
        let (file, chunk) = read.map_err(|source| ReadError::Disk {
            path: self.path.clone(),
            source,
        })?;
        self.file = Some(file);
        self.offset += chunk.len() as u64;
        Ok(Some(Bytes::from(chunk)))
    }
}
