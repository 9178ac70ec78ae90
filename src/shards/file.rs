//! A source shard and where its bytes are read from: the Hub (a resolved file, read in byte
//! ranges with retries) or a local copy (`--source-dir`, read from disk, no HTTP involved).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

use super::reader::{DiskReader, ReadError, ShardReader};
use crate::digest::is_sha256;
use crate::hub::{DatasetRepo, HubApi, RangeReader, RemoteFile};

/// Where the SHA-256 a shard is checked against comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Published {
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
    pub(crate) fn describe(self) -> &'static str {
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
pub(crate) struct Verification {
    pub(crate) sha256: String,
    pub(crate) against: Option<Published>,
    pub(crate) rows_from_cache: u64,
    pub(crate) bytes_fetched: u64,
}

/// The verifications of a run's shards, by repository and path, as the scans finish.
#[derive(Debug, Default)]
pub(crate) struct Verifications(Mutex<HashMap<(String, String), Verification>>);

impl Verifications {
    pub(crate) fn record(&self, shard: &ShardFile, verification: Verification) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                (shard.repo.id().to_owned(), shard.path.clone()),
                verification,
            );
    }

    pub(crate) fn of(&self, shard: &ShardFile) -> Option<Verification> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(shard.repo.id().to_owned(), shard.path.clone()))
            .cloned()
    }
}

/// A shard of a source repository.
#[derive(Debug, Clone)]
pub(crate) struct ShardFile {
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
    pub(crate) fn remote(file: RemoteFile) -> ShardFile {
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
    pub(crate) fn offline(repo: &DatasetRepo, path: &str, size: u64, sha256: &str) -> ShardFile {
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
    pub(crate) fn local(
        repo: &DatasetRepo,
        path: &str,
        root: &Path,
    ) -> Result<ShardFile, ReadError> {
        let local = root.join(path);
        // A FIFO or device in the copy is refused by what it is, before its size means anything.
        let size = crate::local_file::check_regular(&local)
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
    pub(crate) fn with_listed_sha256(mut self, sha256: Option<&str>) -> ShardFile {
        if self.expected.is_none() {
            self.expected = sha256.map(|sha256| (sha256.to_owned(), Published::HubListing));
        }
        self
    }

    /// The SHA-256 the shard's bytes must hash to, and where it was published.
    pub(crate) fn expected(&self) -> Option<(&str, Published)> {
        self.expected
            .as_ref()
            .map(|(sha256, published)| (sha256.as_str(), *published))
    }

    /// True for a shard read from the Hub, which a second request may bring undamaged.
    pub(crate) fn is_remote(&self) -> bool {
        matches!(self.origin, Origin::Hub(_))
    }

    /// True for a local copy (`--source-dir`): read whole, never through the cache of rows,
    /// so that every run checks the copy itself.
    pub(crate) fn is_local(&self) -> bool {
        matches!(self.origin, Origin::Disk(_))
    }

    /// The same shard from a fresh URL, past any cache on the way (a local copy stays as it is).
    pub(crate) async fn renewed(&self, api: &HubApi) -> Result<ShardFile, ReadError> {
        let origin = match &self.origin {
            Origin::Hub(file) => Origin::Hub(Box::new(api.resolve_again(file).await?)),
            other => other.clone(),
        };
        Ok(ShardFile {
            origin,
            ..self.clone()
        })
    }

    pub(crate) fn repo(&self) -> &DatasetRepo {
        &self.repo
    }

    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// A sequential reader of bytes `start..end`.
    pub(crate) fn read(&self, api: &Arc<HubApi>, start: u64, end: u64) -> ShardReader {
        match &self.origin {
            Origin::Hub(file) => {
                ShardReader::Hub(Box::new(RangeReader::new(api, file, start, end)))
            }
            Origin::Disk(path) => ShardReader::Disk(DiskReader::new(path.clone(), start, end)),
            Origin::Offline => ShardReader::Offline {
                repo: self.repo.id().to_owned(),
                path: self.path.clone(),
                offset: start,
            },
        }
    }

    /// Bytes `start..end`, whole (footers and other small reads), each chunk counted by
    /// `on_bytes` as it arrives.
    pub(crate) async fn fetch(
        &self,
        api: &Arc<HubApi>,
        start: u64,
        end: u64,
        on_bytes: impl Fn(u64),
    ) -> Result<Bytes, ReadError> {
        /// The most reserved up front: `start..end` comes from a server's listing or a footer,
        /// which may be wrong or hostile; past it the buffer grows with the bytes that arrive.
        const RESERVED: u64 = 1 << 20;
        let mut reader = self.read(api, start, end);
        let reserved = end.saturating_sub(start).min(RESERVED);
        let mut bytes = Vec::with_capacity(reserved as usize);
        while let Some(chunk) = reader.next_chunk(None).await? {
            on_bytes(chunk.len() as u64);
            bytes.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(bytes))
    }
}

/// True for the path of a shard: `data/train-*.parquet` (FORMAT.md §1).
pub(super) fn is_shard(path: &str) -> bool {
    let name = path.strip_prefix("data/").unwrap_or_default();
    name.starts_with("train-") && name.ends_with(".parquet") && !name.contains('/')
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_train_parquet_files_directly_in_data_are_shards() {
        assert!(is_shard("data/train-00000-of-00004.parquet"));
        for other in [
            "data/test-0.parquet",
            "data/train-0.json",
            "data/sub/train-0.parquet",
            "train-0.parquet",
        ] {
            assert!(!is_shard(other), "{other}");
        }
    }
}
