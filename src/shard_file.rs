//! A source shard and where its bytes are read from: the Hub (a resolved file, read in byte
//! ranges with retries) or a local copy (`--source-dir`, read from disk, no HTTP involved).

use std::collections::HashMap;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use thiserror::Error;

use crate::digest::is_sha256;
use crate::hub::{DatasetRepo, HubApi, HubError, RangeReader, RemoteFile};
use crate::spare_buffers;

/// Why a shard's bytes could not be read.
#[derive(Debug, Error)]
pub enum ReadError {
    #[error(transparent)]
    Hub(#[from] HubError),
    #[error(
        "{path} of {repo} is needed, but HF_HUB_OFFLINE is set and the cache of rows does not \
         hold all of what this run wants from it.\nNext: run once online (unset HF_HUB_OFFLINE), \
         or pass --source-dir with a local copy."
    )]
    Offline { repo: String, path: String },
    #[error("could not read {}: {source}", path.display())]
    Disk {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where the SHA-256 a shard is checked against comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// The Hub's listing (`lfs.oid`).
    HubListing,
    /// What `hf download` recorded beside the file it wrote
    /// (`.cache/huggingface/download/{path}.metadata`, second line).
    DownloadMetadata,
    /// The name of the blob a Hugging Face cache snapshot links the file to.
    CacheBlob,
}

impl Published {
    /// For the manifest and messages.
    pub fn describe(self) -> &'static str {
        match self {
            Published::HubListing => "the Hub's listing",
            Published::DownloadMetadata => "the metadata `hf download` wrote beside it",
            Published::CacheBlob => "its blob name in the Hugging Face cache",
        }
    }
}

/// How a shard was read: the SHA-256 of its bytes, where the SHA-256 it matched was published
/// (`None`: there was nothing to check it against), and how much came from the cache of rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub sha256: String,
    pub against: Option<Published>,
    pub rows_from_cache: u64,
    pub bytes_fetched: u64,
}

/// The verifications of a run's shards, by repository and path, as the scans finish.
#[derive(Debug, Default)]
pub struct Verifications(Mutex<HashMap<(String, String), Verification>>);

impl Verifications {
    pub fn record(&self, shard: &ShardFile, verification: Verification) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                (shard.repo.id().to_owned(), shard.path.clone()),
                verification,
            );
    }

    pub fn of(&self, shard: &ShardFile) -> Option<Verification> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(shard.repo.id().to_owned(), shard.path.clone()))
            .cloned()
    }
}

/// A shard of a source repository.
#[derive(Debug, Clone)]
pub struct ShardFile {
    repo: DatasetRepo,
    path: String,
    size: u64,
    /// The SHA-256 its bytes must hash to, and where it was published.
    expected: Option<(String, Published)>,
    origin: Origin,
}

#[derive(Debug, Clone)]
enum Origin {
    Hub(Box<RemoteFile>),
    Disk(PathBuf),
    /// Offline: known from the cache of rows' listing, with no way to its bytes.
    Offline,
}

impl ShardFile {
    pub fn remote(file: RemoteFile) -> ShardFile {
        ShardFile {
            repo: file.repo().clone(),
            path: file.path().to_owned(),
            size: file.size(),
            expected: file
                .listed()
                .sha256()
                .map(|sha256| (sha256.to_owned(), Published::HubListing)),
            origin: Origin::Hub(Box::new(file)),
        }
    }

    /// A shard the cache of rows listed, offline: its rows can come from the cache, its bytes
    /// from nowhere.
    pub fn offline(repo: &DatasetRepo, path: &str, size: u64, sha256: &str) -> ShardFile {
        ShardFile {
            repo: repo.clone(),
            path: path.to_owned(),
            size,
            expected: Some((sha256.to_owned(), Published::HubListing)),
            origin: Origin::Offline,
        }
    }

    /// `path` of `repo`, read from `root/path` on disk (a copy laid out as the repository is),
    /// checked against what `hf download` recorded beside it, or the blob a Hugging Face cache
    /// snapshot links it to, when either is there.
    pub fn local(repo: &DatasetRepo, path: &str, root: &Path) -> Result<ShardFile, ReadError> {
        let local = root.join(path);
        let size = std::fs::metadata(&local)
            .map_err(|source| ReadError::Disk {
                path: local.clone(),
                source,
            })?
            .len();
        let expected = download_metadata_sha256(root, path)
            .map(|sha256| (sha256, Published::DownloadMetadata))
            .or_else(|| cache_blob_sha256(&local).map(|sha256| (sha256, Published::CacheBlob)));
        Ok(ShardFile {
            repo: repo.clone(),
            path: path.to_owned(),
            size,
            expected,
            origin: Origin::Disk(local),
        })
    }

    /// A local copy with nothing beside it to check against, checked against the Hub's
    /// listing instead.
    pub fn with_listed_sha256(mut self, sha256: Option<&str>) -> ShardFile {
        if self.expected.is_none() {
            self.expected = sha256.map(|sha256| (sha256.to_owned(), Published::HubListing));
        }
        self
    }

    /// The SHA-256 the shard's bytes must hash to, and where it was published.
    pub fn expected(&self) -> Option<(&str, Published)> {
        self.expected
            .as_ref()
            .map(|(sha256, published)| (sha256.as_str(), *published))
    }

    /// True for a shard read from the Hub, which a second request may bring undamaged.
    pub fn is_remote(&self) -> bool {
        matches!(self.origin, Origin::Hub(_))
    }

    /// True for a local copy (`--source-dir`): read whole, never through the cache of rows,
    /// so that every run checks the copy itself.
    pub fn is_local(&self) -> bool {
        matches!(self.origin, Origin::Disk(_))
    }

    /// The same shard from a fresh URL, past any cache on the way (a local copy stays as it is).
    pub async fn renewed(&self, api: &HubApi) -> Result<ShardFile, ReadError> {
        let origin = match &self.origin {
            Origin::Hub(file) => Origin::Hub(Box::new(api.resolve_again(file).await?)),
            other => other.clone(),
        };
        Ok(ShardFile {
            origin,
            ..self.clone()
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

    /// A sequential reader of bytes `start..end`.
    pub fn read(&self, api: &Arc<HubApi>, start: u64, end: u64) -> ShardReader {
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
            Origin::Offline => ShardReader::Offline {
                repo: self.repo.id().to_owned(),
                path: self.path.clone(),
                offset: start,
            },
        }
    }

    /// Bytes `start..end`, whole (footers and other small reads).
    pub async fn fetch(&self, api: &Arc<HubApi>, start: u64, end: u64) -> Result<Bytes, ReadError> {
        let mut reader = self.read(api, start, end);
        let mut bytes = Vec::with_capacity(usize::try_from(end - start).unwrap_or(0));
        while let Some(chunk) = reader.next_chunk(None).await? {
            bytes.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(bytes))
    }
}

/// Reads a byte range of a shard, from the Hub or from disk.
pub enum ShardReader {
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
    pub async fn open_early(&mut self) -> Result<(), ReadError> {
        match self {
            ShardReader::Hub(reader) => Ok(reader.open_early().await?),
            ShardReader::Disk(_) | ShardReader::Offline { .. } => Ok(()),
        }
    }

    /// The file offset of the next byte.
    pub fn position(&self) -> u64 {
        match self {
            ShardReader::Hub(reader) => reader.position(),
            ShardReader::Disk(reader) => reader.offset,
            ShardReader::Offline { offset, .. } => *offset,
        }
    }

    /// The next bytes, or `None` at the end of the range. A local copy's chunk ends at
    /// `boundary` when it is ahead (a row group's end, so that the bytes are read once, into
    /// the buffer the row group is decoded from); the Hub's chunks are as they arrive.
    pub async fn next_chunk(&mut self, boundary: Option<u64>) -> Result<Option<Bytes>, ReadError> {
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
pub struct DiskReader {
    path: PathBuf,
    file: Option<std::fs::File>,
    offset: u64,
    end: u64,
}

impl DiskReader {
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
                    let mut file = crate::local_file::open_regular(&path)?;
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
        .expect("reading a file does not panic");
        let (file, chunk) = read.map_err(|source| ReadError::Disk {
            path: self.path.clone(),
            source,
        })?;
        self.file = Some(file);
        self.offset += chunk.len() as u64;
        Ok(Some(Bytes::from(chunk)))
    }
}

/// The SHA-256 `hf download --local-dir ROOT` recorded for `path`: the second line (the ETag,
/// which is the SHA-256 for LFS files) of `ROOT/.cache/huggingface/download/{path}.metadata`.
fn download_metadata_sha256(root: &Path, path: &str) -> Option<String> {
    let metadata = root
        .join(".cache/huggingface/download")
        .join(format!("{path}.metadata"));
    let text =
        crate::local_file::read_regular_to_string(&metadata, crate::local_file::SMALL_TEXT).ok()?;
    let etag = text.lines().nth(1)?.trim().trim_matches('"');
    is_sha256(etag).then(|| etag.to_ascii_lowercase())
}

/// The blob name of a file in a Hugging Face cache snapshot (`snapshots/{commit}/{path}` links
/// to `blobs/{sha256}` for LFS files).
fn cache_blob_sha256(local: &Path) -> Option<String> {
    let blob = local.canonicalize().ok()?;
    let in_blobs = blob.parent()?.file_name()? == "blobs";
    let name = blob.file_name()?.to_str()?;
    (in_blobs && is_sha256(name)).then(|| name.to_ascii_lowercase())
}
