//! A source shard and where its bytes are read from: the Hub (a resolved file, read in byte
//! ranges with retries) or a local copy (`--source-dir`, read from disk, no HTTP involved).

use std::path::PathBuf;

use bytes::Bytes;
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::hub::{DatasetRepo, HubApi, HubError, RangeReader, RemoteFile, fetch_range};

/// Why a shard's bytes could not be read.
#[derive(Debug, Error)]
pub enum ReadError {
    #[error(transparent)]
    Hub(#[from] HubError),
    #[error("could not read {}: {source}", path.display())]
    Disk {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A shard of a source repository.
#[derive(Debug, Clone)]
pub struct ShardFile {
    repo: DatasetRepo,
    path: String,
    size: u64,
    origin: Origin,
}

#[derive(Debug, Clone)]
enum Origin {
    Hub(Box<RemoteFile>),
    Disk(PathBuf),
}

impl ShardFile {
    pub fn remote(file: RemoteFile) -> ShardFile {
        ShardFile {
            repo: file.repo().clone(),
            path: file.path().to_owned(),
            size: file.size(),
            origin: Origin::Hub(Box::new(file)),
        }
    }

    /// `path` of `repo`, read from `local` on disk.
    pub fn local(repo: &DatasetRepo, path: &str, local: PathBuf) -> Result<ShardFile, ReadError> {
        let size = std::fs::metadata(&local)
            .map_err(|source| ReadError::Disk {
                path: local.clone(),
                source,
            })?
            .len();
        Ok(ShardFile {
            repo: repo.clone(),
            path: path.to_owned(),
            size,
            origin: Origin::Disk(local),
        })
    }

    pub fn repo(&self) -> &DatasetRepo {
        &self.repo
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The SHA-256 the Hub publishes for the shard (its listing's `lfs.oid`); `None` for a
    /// local copy.
    pub fn sha256(&self) -> Option<&str> {
        match &self.origin {
            Origin::Hub(file) => file.listed().sha256(),
            Origin::Disk(_) => None,
        }
    }

    /// A sequential reader of bytes `start..end`.
    pub fn read<'a>(&self, api: &'a HubApi, start: u64, end: u64) -> ShardReader<'a> {
        match &self.origin {
            Origin::Hub(file) => {
                ShardReader::Hub(Box::new(RangeReader::new(api, file, start, end)))
            }
            Origin::Disk(path) => ShardReader::Disk(DiskReader {
                path: path.clone(),
                file: None,
                offset: start,
                end,
            }),
        }
    }

    /// Bytes `start..end`, whole (footers and other small reads).
    pub async fn fetch(&self, api: &HubApi, start: u64, end: u64) -> Result<Bytes, ReadError> {
        match &self.origin {
            Origin::Hub(file) => Ok(fetch_range(api, file, start, end).await?),
            Origin::Disk(_) => {
                let mut reader = self.read(api, start, end);
                let mut bytes = Vec::with_capacity(usize::try_from(end - start).unwrap_or(0));
                while let Some(chunk) = reader.next_chunk().await? {
                    bytes.extend_from_slice(&chunk);
                }
                Ok(Bytes::from(bytes))
            }
        }
    }
}

/// Reads a byte range of a shard, from the Hub or from disk.
pub enum ShardReader<'a> {
    Hub(Box<RangeReader<'a>>),
    Disk(DiskReader),
}

impl ShardReader<'_> {
    /// Sends a Hub request now, so that its round trip overlaps other work.
    pub async fn open_early(&mut self) -> Result<(), ReadError> {
        match self {
            ShardReader::Hub(reader) => Ok(reader.open_early().await?),
            ShardReader::Disk(_) => Ok(()),
        }
    }

    /// The file offset of the next byte.
    pub fn position(&self) -> u64 {
        match self {
            ShardReader::Hub(reader) => reader.position(),
            ShardReader::Disk(reader) => reader.offset,
        }
    }

    /// The next bytes, or `None` at the end of the range.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, ReadError> {
        match self {
            ShardReader::Hub(reader) => Ok(reader.next_chunk().await?),
            ShardReader::Disk(reader) => reader.next_chunk().await,
        }
    }
}

/// A byte range of a file on disk, read a MiB at a time.
pub struct DiskReader {
    path: PathBuf,
    file: Option<tokio::fs::File>,
    offset: u64,
    end: u64,
}

impl DiskReader {
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, ReadError> {
        const CHUNK: u64 = 1 << 20;
        if self.offset >= self.end {
            return Ok(None);
        }
        let path = &self.path;
        let disk_error = |source| ReadError::Disk {
            path: path.clone(),
            source,
        };
        let file = match &mut self.file {
            Some(file) => file,
            empty => {
                let mut file = tokio::fs::File::open(path).await.map_err(disk_error)?;
                file.seek(std::io::SeekFrom::Start(self.offset))
                    .await
                    .map_err(disk_error)?;
                empty.insert(file)
            }
        };
        let mut chunk = vec![0; CHUNK.min(self.end - self.offset) as usize];
        file.read_exact(&mut chunk).await.map_err(disk_error)?;
        self.offset += chunk.len() as u64;
        Ok(Some(Bytes::from(chunk)))
    }
}
