//! A version's annotation file (FORMAT.md §1): chosen (`--version`, or the newest), downloaded
//! into the Hugging Face cache (offline: found there) and indexed (FORMAT.md §2).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use thiserror::Error;

use super::index::{AnnotationError, AnnotationIndex};
use super::version::{self, ANNOTATIONS_REPO, AnnotationVersion, VersionError};
use crate::digest::Sha256;
use crate::hub::{CachedFile, DatasetRepo, Hub, HubError, ListedFile};
use crate::printer::Printer;

/// Why a downloaded annotation file cannot be used.
#[derive(Debug, Error)]
pub(super) enum DownloadError {
    #[error("could not read the cached annotation file {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file} cannot be used")]
    Unusable {
        file: String,
        #[source]
        source: AnnotationError,
    },
}

/// A version's annotation file in the Hugging Face cache, and its index.
pub(crate) struct AnnotationFile {
    /// The annotation repository, pinned.
    pub(crate) repo: DatasetRepo,
    pub(crate) version: AnnotationVersion,
    pub(crate) cached: CachedFile,
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
        let repo = pin(hub, revision).await?;
        // The annotation files are listed once: here, when the newest version is wanted, else
        // by `load` (offline, the cache answers).
        let listed = match requested.is_none() && !hub.settings().offline {
            true => Some(version::annotation_files(hub, &repo).await?),
            false => None,
        };
        let version = match requested {
            Some(version) => version,
            None => {
                let newest = version::newest(hub, &repo, listed.as_deref()).await?;
                printer.status(format!(
                    "Using the newest annotation version, {newest} (pin it with --version \
                     {newest})"
                ));
                newest
            }
        };
        load(hub, repo, version, listed, printer, found).await
    }
}

/// The annotation repository at `revision`, pinned to its commit.
async fn pin(hub: &Hub, revision: &str) -> Result<DatasetRepo, HubError> {
    hub.api()
        .pin(&DatasetRepo::new(ANNOTATIONS_REPO, revision))
        .await
}

/// Downloads the version's annotation file into the cache (or finds it there; offline, the cache
/// alone answers) and indexes it, with the repository's annotation files `listed` already or
/// listed here. A version without a file is reported with the versions that exist; for one with
/// a file, `found` is called before the file is fetched.
async fn load(
    hub: &Hub,
    repo: DatasetRepo,
    version: AnnotationVersion,
    listed: Option<Vec<(AnnotationVersion, ListedFile)>>,
    printer: &Printer,
    found: impl FnOnce(),
) -> Result<AnnotationFile> {
    let file_name = version.file_name();
    printer.status(format!("Fetching {file_name} from {}", repo.id()));
    let cached = if hub.settings().offline {
        hub.cache()
            .lookup(&repo, &file_name)?
            .ok_or_else(|| HubError::NotCached {
                repo: repo.id().to_owned(),
                file: file_name.clone(),
                cache: hub.cache().dir().to_owned(),
            })?
    } else {
        let listed = match listed {
            Some(listed) => listed,
            None => version::annotation_files(hub, &repo).await?,
        };
        let Some((_, file)) = listed.iter().find(|(listed, _)| *listed == version) else {
            return Err(VersionError::Unknown {
                requested: version,
                available: listed.iter().map(|(version, _)| *version).collect(),
            }
            .into());
        };
        found();
        hub.cached_download(&repo, file).await?
    };
    // Reading, hashing and indexing take a CPU for a while: off the runtime's threads, so the
    // shard listings and resolutions joined with this go on meanwhile.
    let path = cached.path().to_owned();
    let (size, sha256, index) = tokio::task::spawn_blocking(move || index_file(path, file_name))
        .await
        .expect("indexing the annotations does not panic")?;
    Ok(AnnotationFile {
        repo,
        version,
        cached,
        size,
        sha256,
        index: Arc::new(index),
    })
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
