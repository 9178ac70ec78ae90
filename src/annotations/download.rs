//! A version's annotation file (FORMAT.md §1): chosen (`--version`, or the newest), downloaded
//! into the Hugging Face cache (offline: found there), or given as a local file, and indexed
//! (FORMAT.md §2).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;
use thiserror::Error;

use super::index::{AnnotationError, AnnotationIndex};
use super::version::{self, ANNOTATIONS_REPO, AnnotationVersion, VersionError};
use crate::digest::Sha256;
use crate::hub::{CachedFile, DatasetRepo, Hub, ListedFile};
use crate::printer::Printer;

/// Why a downloaded annotation file cannot be used.
#[derive(Debug, Error)]
pub(super) enum DownloadError {
    #[error("could not read the annotation file {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("indexing the annotation file was interrupted")]
    Interrupted,
    #[error("{file} cannot be used")]
    Unusable {
        file: String,
        #[source]
        source: AnnotationError,
    },
}

/// Where an annotation file was read from.
pub(crate) enum AnnotationOrigin {
    /// The annotation repository (pinned) through the Hugging Face cache.
    Hub {
        repo: DatasetRepo,
        cached: CachedFile,
    },
    /// A file on disk (`--annotations`): a draft, say, checked before it is published.
    Local(PathBuf),
}

/// A version's annotation file, and its index.
pub(crate) struct AnnotationFile {
    pub(crate) origin: AnnotationOrigin,
    pub(crate) version: AnnotationVersion,
    pub(crate) size: u64,
    pub(crate) sha256: String,
    pub(crate) index: Arc<AnnotationIndex>,
}

impl AnnotationFile {
    /// The file of `requested` (`None`: of the newest version, said aloud) in the annotation
    /// repository at `revision`, downloaded into the Hugging Face cache (offline: found there)
    /// and indexed. Online, `found` is called once the version's file is known to exist, before
    /// it is fetched, so that a caller can start what needs the version (`|| {}` for nothing).
    pub(crate) async fn download(
        hub: &Hub,
        revision: &str,
        requested: Option<AnnotationVersion>,
        printer: &Printer,
        found: impl FnOnce(),
    ) -> Result<AnnotationFile> {
        let mut files = AnnotationFiles::pin(hub, revision).await?;
        let version = match requested {
            Some(version) => version,
            None => {
                let newest = files.newest().await?;
                printer.status(format!(
                    "Using the newest annotation version, {newest} (pin it with --version \
                     {newest})"
                ));
                newest
            }
        };
        let cached = files.fetch(version, printer, found).await?;
        // Reading, hashing and indexing take a CPU for a while: off the runtime's threads, so
        // the shard listings and resolutions joined with this go on meanwhile.
        let path = cached.path().to_owned();
        let file_name = version.file_name();
        let (size, sha256, index) =
            tokio::task::spawn_blocking(move || index_file(path, file_name))
                .await
                .map_err(|_| DownloadError::Interrupted)??;
        Ok(AnnotationFile {
            origin: AnnotationOrigin::Hub {
                repo: files.repo,
                cached,
            },
            version,
            size,
            sha256,
            index: Arc::new(index),
        })
    }

    /// The annotation file at `path` (`--annotations`), of version `requested`, else the one
    /// its name gives, indexed as a downloaded one is; `found` is called once the version is
    /// known, as for [`AnnotationFile::download`].
    pub(crate) async fn read_local(
        path: &Path,
        requested: Option<AnnotationVersion>,
        found: impl FnOnce(),
    ) -> Result<AnnotationFile> {
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned());
        let version = requested
            .or_else(|| AnnotationVersion::from_file_name(name.as_deref()?))
            .ok_or_else(|| VersionError::NotInFileName {
                path: path.to_owned(),
            })?;
        found();
        let (path, file_name) = (path.to_owned(), name.unwrap_or_default());
        let read = path.clone();
        let (size, sha256, index) =
            tokio::task::spawn_blocking(move || index_file(read, file_name))
                .await
                .map_err(|_| DownloadError::Interrupted)??;
        Ok(AnnotationFile {
            origin: AnnotationOrigin::Local(path),
            version,
            size,
            sha256,
            index: Arc::new(index),
        })
    }
}

/// The annotation repository at a pinned revision and its annotation files, listed once for
/// every version fetched (FORMAT.md §1).
pub(crate) struct AnnotationFiles<'h> {
    hub: &'h Hub,
    repo: DatasetRepo,
    listed: Option<Vec<(AnnotationVersion, ListedFile)>>,
}

impl<'h> AnnotationFiles<'h> {
    /// The annotation repository at `revision`, pinned to its commit (offline: as it is).
    pub(crate) async fn pin(hub: &'h Hub, revision: &str) -> Result<AnnotationFiles<'h>> {
        let repo = hub
            .api()
            .pin(&DatasetRepo::new(ANNOTATIONS_REPO, revision))
            .await?;
        Ok(AnnotationFiles {
            hub,
            repo,
            listed: None,
        })
    }

    /// The newest version: of the repository's files (listed here, once), offline of the
    /// cache's.
    pub(crate) async fn newest(&mut self) -> Result<AnnotationVersion> {
        if !self.hub.settings().offline {
            self.listed().await?;
        }
        version::newest(self.hub, &self.repo, self.listed.as_deref()).await
    }

    /// `version`'s file in the Hugging Face cache: downloaded (or found there, already
    /// downloaded) online, once `found` is called, which is when the file is known to exist;
    /// offline, found in the cache alone. A version without a file is reported with the
    /// versions that exist (offline: that are cached).
    pub(crate) async fn fetch(
        &mut self,
        version: AnnotationVersion,
        printer: &Printer,
        found: impl FnOnce(),
    ) -> Result<CachedFile> {
        let (hub, file_name) = (self.hub, version.file_name());
        if hub.settings().offline {
            return match hub.cache().lookup(&self.repo, &file_name).await? {
                Some(cached) => Ok(cached),
                None => Err(VersionError::NotCached {
                    requested: version,
                    repo: self.repo.id().to_owned(),
                    cache: hub.cache().dir().to_owned(),
                    cached: version::available(hub, &self.repo).await?,
                }
                .into()),
            };
        }
        let Some((_, file)) = self.listed().await?.iter().find(|(v, _)| *v == version) else {
            let available = self.listed().await?.iter().map(|(v, _)| *v).collect();
            return Err(VersionError::Unknown {
                requested: version,
                available,
            }
            .into());
        };
        let file = file.clone();
        found();
        if !self.is_cached(&file).await {
            printer.status(format!("Fetching {file_name} from {}", self.repo.id()));
        }
        Ok(hub.cached_download(&self.repo, &file).await?)
    }

    /// True when the cache's snapshot of the pinned commit holds `file` with the bytes the
    /// listing names: nothing is fetched then, so nothing is said.
    async fn is_cached(&self, file: &ListedFile) -> bool {
        let at_commit = DatasetRepo::new(self.repo.id(), self.repo.reference());
        let cached = self
            .hub
            .cache()
            .lookup(&at_commit, file.path())
            .await
            .ok()
            .flatten();
        cached
            .and_then(|cached| cached.path().canonicalize().ok())
            .is_some_and(|blob| blob.file_name().and_then(|name| name.to_str()) == file.blob_name())
    }

    /// The repository's annotation files, listed on the first call.
    async fn listed(&mut self) -> Result<&Vec<(AnnotationVersion, ListedFile)>> {
        if self.listed.is_none() {
            let listed = version::annotation_files(self.hub, &self.repo).await?;
            self.listed = Some(listed);
        }
        Ok(self.listed.get_or_insert_default())
    }
}

/// The size, SHA-256 and index of the annotation file at `path`.
fn index_file(
    path: PathBuf,
    file_name: String,
) -> Result<(u64, String, AnnotationIndex), DownloadError> {
    let text =
        std::fs::read_to_string(&path).map_err(|source| DownloadError::Read { path, source })?;
    let mut hash = Sha256::new();
    hash.update(text.as_bytes());
    let (size, sha256) = hash.finish();
    let index = AnnotationIndex::from_jsonl(text).map_err(|source| DownloadError::Unusable {
        file: file_name,
        source,
    })?;
    Ok((size, sha256, index))
}
