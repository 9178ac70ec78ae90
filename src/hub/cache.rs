//! The Hugging Face cache (`$HF_HUB_CACHE`), kept as `huggingface_hub` keeps it so either tool
//! finds what the other downloaded: `datasets--{owner}--{name}/blobs/{etag}`,
//! `snapshots/{commit}/{path}` linking to the blob, `refs/{revision}` naming the commit, and a lock
//! per blob at `.locks/datasets--{owner}--{name}/{etag}.lock` (the file `huggingface_hub` locks).
//!
//! Safer than trusting it: header values become path components only when they are plain names,
//! a blob is written to a unique temporary file under its lock and renamed into place, and a
//! blob's bytes are checked against its ETag (SHA-256 for large files, the git blob SHA-1 for
//! small ones) before use.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{DatasetRepo, Hub, HubError};
use crate::digest::{BlobId, blob_id_of_file};

/// A file in the Hugging Face cache, and the commit of the snapshot that holds it.
#[derive(Debug, Clone)]
pub struct CachedFile {
    pub path: PathBuf,
    pub commit: Option<String>,
    /// The blob's name in the cache, which is the file's ETag.
    pub etag: Option<String>,
}

/// One repository's folder in the cache.
struct RepoCache {
    folder: PathBuf,
    locks: PathBuf,
}

impl RepoCache {
    fn new(cache_dir: &Path, repo: &DatasetRepo) -> RepoCache {
        let name = format!("datasets--{}", repo.id.replace('/', "--"));
        RepoCache {
            folder: cache_dir.join(&name),
            locks: cache_dir.join(".locks").join(name),
        }
    }

    fn blob(&self, etag: &str) -> PathBuf {
        self.folder.join("blobs").join(etag)
    }

    fn pointer(&self, commit: &str, path: &str) -> PathBuf {
        self.folder.join("snapshots").join(commit).join(path)
    }

    fn commit_of(&self, revision: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.folder.join("refs").join(revision)).ok()?;
        let commit = text.trim();
        is_plain_name(commit).then(|| commit.to_owned())
    }
}

/// A name that is safe as one path component: letters, digits, `.`, `_`, `-`, not starting with
/// `.`, at most 128 characters. ETags and commits from a server must be such names before they
/// name files (an ETag of `"/tmp/x"` or `"../../x"` would otherwise write outside the cache).
pub(super) fn is_plain_name(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 128
        && !value.starts_with('.')
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl Hub {
    /// The cached copy of `path` at `repo`'s revision (a branch the cache has a ref for, or a
    /// commit), without asking the Hub, checked against its ETag.
    fn cached(&self, repo: &DatasetRepo, path: &str) -> Result<Option<CachedFile>, HubError> {
        let cache = RepoCache::new(&self.settings.cache_dir, repo);
        let Some(commit) = cache
            .commit_of(&repo.revision)
            .or_else(|| is_plain_name(&repo.revision).then(|| repo.revision.clone()))
        else {
            return Ok(None);
        };
        let pointer = cache.pointer(&commit, path);
        let Ok(blob) = pointer.canonicalize() else {
            return Ok(None);
        };
        let etag = blob
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .filter(|name| is_plain_name(name));
        if let Some(etag) = &etag
            && !blob_matches(&blob, etag)
        {
            return Err(HubError::CorruptCache {
                path: blob,
                etag: etag.clone(),
            });
        }
        Ok(Some(CachedFile {
            path: pointer,
            commit: Some(commit),
            etag,
        }))
    }

    /// The files at the top of any cached snapshot of `repo`, for offline listings.
    pub fn cached_files(&self, repo: &DatasetRepo) -> Vec<String> {
        let snapshots = RepoCache::new(&self.settings.cache_dir, repo)
            .folder
            .join("snapshots");
        let mut files: Vec<String> = std::fs::read_dir(snapshots)
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(|snapshot| {
                std::fs::read_dir(snapshot.path())
                    .into_iter()
                    .flatten()
                    .flatten()
            })
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        files.dedup();
        files
    }

    /// Returns the cached copy of a file, downloading it into the cache when it is missing,
    /// outdated or does not match its ETag. With `HF_HUB_OFFLINE` the cache alone answers.
    pub async fn cached_download(
        &self,
        repo: &DatasetRepo,
        path: &str,
    ) -> Result<CachedFile, HubError> {
        if self.settings.offline {
            return self.cached(repo, path)?.ok_or_else(|| HubError::NotCached {
                repo: repo.id.clone(),
                file: path.to_owned(),
                cache: self.settings.cache_dir.clone(),
            });
        }
        let file = self.resolve(repo, path).await?;
        let unsafe_name = |what: &'static str, value: &str| HubError::UnsafeName {
            what,
            value: value.chars().take(80).collect(),
            origin: file.describe(),
        };
        let etag = file.etag.clone().ok_or_else(|| HubError::BadResponse {
            what: file.describe(),
            problem: "no ETag, so the file cannot be cached".to_owned(),
        })?;
        if !is_plain_name(&etag) {
            return Err(unsafe_name("ETag", &etag));
        }
        let commit = file
            .commit
            .clone()
            .or_else(|| repo.commit.clone())
            .unwrap_or_else(|| repo.revision.clone());
        if !is_plain_name(&commit) {
            return Err(unsafe_name("commit", &commit));
        }
        if !path.split('/').all(is_plain_name) {
            return Err(unsafe_name("path", path));
        }
        let cache = RepoCache::new(&self.settings.cache_dir, repo);
        let blob = cache.blob(&etag);
        let cache_error = |path: &Path| {
            let path = path.to_owned();
            move |source| HubError::Cache { path, source }
        };
        std::fs::create_dir_all(&cache.locks).map_err(cache_error(&cache.locks))?;
        let lock_path = cache.locks.join(format!("{etag}.lock"));
        let lock = File::create(&lock_path).map_err(cache_error(&lock_path))?;
        // Another run (or huggingface_hub) may be writing this blob: wait for it.
        let lock = tokio::task::spawn_blocking(move || lock.lock().map(|()| lock))
            .await
            .expect("locking does not panic")
            .map_err(cache_error(&lock_path))?;
        if !blob_matches(&blob, &etag) {
            let bytes = self.fetch_range(&file, 0, file.size).await?;
            if !BlobId::parse(&etag).is_none_or(|id| id.matches(&bytes)) {
                return Err(HubError::BadResponse {
                    what: file.describe(),
                    problem: format!("the bytes received do not hash to their ETag {etag}"),
                });
            }
            let blobs = blob.parent().expect("blob paths have a parent");
            std::fs::create_dir_all(blobs).map_err(cache_error(blobs))?;
            let mut partial = tempfile::Builder::new()
                .prefix(&format!("{etag}."))
                .suffix(".incomplete")
                .tempfile_in(blobs)
                .map_err(cache_error(blobs))?;
            partial
                .write_all(&bytes)
                .and_then(|()| partial.as_file().sync_all())
                .map_err(cache_error(partial.path()))?;
            partial.persist(&blob).map_err(|error| HubError::Cache {
                path: blob.clone(),
                source: error.error,
            })?;
        }
        let pointer = cache.pointer(&commit, path);
        if pointer.canonicalize().ok().as_deref() != blob.canonicalize().ok().as_deref() {
            let _ = std::fs::remove_file(&pointer);
            link_snapshot(&blob, &pointer).map_err(cache_error(&pointer))?;
        }
        if repo.revision != commit && is_plain_name(&repo.revision) {
            write_ref(&cache.folder, &repo.revision, &commit)
                .map_err(cache_error(&cache.folder))?;
        }
        drop(lock);
        Ok(CachedFile {
            path: pointer,
            commit: Some(commit),
            etag: Some(etag),
        })
    }
}

/// True when `blob` exists and its bytes hash to `etag` (a blob whose ETag is no hash, as some
/// mirrors send, is taken as it is).
fn blob_matches(blob: &Path, etag: &str) -> bool {
    match BlobId::parse(etag) {
        Some(id) => blob_id_of_file(blob, &id).is_ok_and(|matches| matches),
        None => blob.is_file(),
    }
}

/// `refs/{revision}` holds the commit, written whole or not at all.
fn write_ref(folder: &Path, revision: &str, commit: &str) -> std::io::Result<()> {
    let refs = folder.join("refs");
    std::fs::create_dir_all(&refs)?;
    let mut temporary = tempfile::NamedTempFile::new_in(&refs)?;
    temporary.write_all(commit.as_bytes())?;
    temporary
        .persist(refs.join(revision))
        .map_err(|e| e.error)?;
    Ok(())
}

fn link_snapshot(blob: &Path, pointer: &Path) -> std::io::Result<()> {
    let parent = pointer.parent().expect("snapshot paths have a parent");
    std::fs::create_dir_all(parent)?;
    #[cfg(unix)]
    {
        // Relative, like huggingface_hub, so the cache can be moved.
        let depth = pointer
            .strip_prefix(
                blob.parent()
                    .and_then(Path::parent)
                    .expect("blobs/ is inside the repo folder"),
            )
            .map(|relative| relative.components().count() - 1)
            .unwrap_or(0);
        let mut target = PathBuf::new();
        for _ in 0..depth {
            target.push("..");
        }
        target.push("blobs");
        target.push(blob.file_name().expect("blobs have a name"));
        if std::os::unix::fs::symlink(&target, pointer).is_ok() {
            return Ok(());
        }
    }
    std::fs::copy(blob, pointer).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_become_path_components() {
        for good in [
            "0123456789abcdef0123456789abcdef01234567",
            "main",
            "v2.1.0",
            "refs-pr-1",
        ] {
            assert!(is_plain_name(good), "{good}");
        }
        for bad in [
            "",
            "/tmp/x/blob",
            "../../etc",
            "..",
            ".hidden",
            "a/b",
            "a\\b",
            "a b",
        ] {
            assert!(!is_plain_name(bad), "{bad}");
        }
        assert!(!is_plain_name(&"a".repeat(129)));
    }
}
