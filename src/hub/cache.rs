//! The Hugging Face cache (`$HF_HUB_CACHE`), kept as `huggingface_hub` keeps it so either tool
//! finds what the other downloaded: `datasets--{owner}--{name}/blobs/{blob}`,
//! `snapshots/{commit}/{path}` linking to the blob, `refs/{revision}` naming the commit, and a lock
//! per blob at `.locks/datasets--{owner}--{name}/{blob}.lock` (the file `huggingface_hub` locks).
//! No HTTP here: [`super::Hub`] brings the bytes.
//!
//! Safer than trusting it: names from a server become path components only when they are plain
//! names, a blob is written to a unique temporary file under its lock and renamed into place, and
//! a blob's bytes are checked against its name (SHA-256 for large files, the git blob SHA-1 for
//! small ones) before use. The disk is no more trusted than the server (FORMAT.md §12):
//! folders below the cache are never entered through a link, a lock is neither truncated nor
//! followed, and a snapshot entry that leads outside the cache, or to anything but a regular
//! file, is not used.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::HubError;
use super::repo::DatasetRepo;
use crate::digest::{BlobId, blob_id_of_file};
use crate::local_file::{
    SMALL_TEXT, check_regular, make_dirs_below, open_lock, read_regular_to_string,
};

/// A file in the Hugging Face cache, and the commit of the snapshot that holds it.
#[derive(Debug, Clone)]
pub(crate) struct CachedFile {
    path: PathBuf,
    commit: Option<String>,
    /// Its bytes were checked against the hash its blob is named by.
    verified: bool,
}

impl CachedFile {
    /// The snapshot's path of the file (a link to its blob).
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn commit(&self) -> Option<&str> {
        self.commit.as_deref()
    }

    pub(crate) fn verified(&self) -> bool {
        self.verified
    }
}

/// The cache folder.
#[derive(Debug, Clone)]
pub(crate) struct HubCache {
    dir: PathBuf,
}

/// One repository's folder in the cache.
struct RepoCache {
    /// The cache folder, and the repository's folder's name in it.
    base: PathBuf,
    name: String,
    folder: PathBuf,
    locks: PathBuf,
}

impl RepoCache {
    fn new(cache_dir: &Path, repo: &DatasetRepo) -> RepoCache {
        let name = format!("datasets--{}", repo.id().replace('/', "--"));
        RepoCache {
            base: cache_dir.to_owned(),
            folder: cache_dir.join(&name),
            locks: cache_dir.join(".locks").join(&name),
            name,
        }
    }

    /// The folder `relative` of the repository's folder, made where missing, never through a
    /// link.
    fn make_dir(&self, relative: impl AsRef<Path>) -> std::io::Result<PathBuf> {
        make_dirs_below(&self.base, &Path::new(&self.name).join(relative))
    }

    fn blob(&self, name: &str) -> PathBuf {
        self.folder.join("blobs").join(name)
    }

    fn pointer(&self, commit: &str, path: &str) -> PathBuf {
        self.folder.join("snapshots").join(commit).join(path)
    }

    fn commit_of(&self, revision: &str) -> Option<String> {
        let text =
            read_regular_to_string(&self.folder.join("refs").join(revision), SMALL_TEXT).ok()?;
        let commit = text.trim();
        is_plain_name(commit).then(|| commit.to_owned())
    }
}

/// A name that is safe as one path component: letters, digits, `.`, `_`, `-`, not starting with
/// `.`, at most 128 characters. Blob names and commits from a server must be such names before
/// they name files (a name of `/tmp/x` or `../../x` would otherwise write outside the cache).
pub(super) fn is_plain_name(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 128
        && !value.starts_with('.')
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn cache_error(path: &Path) -> impl FnOnce(std::io::Error) -> HubError {
    let path = path.to_owned();
    move |source| HubError::Cache { path, source }
}

impl HubCache {
    pub(crate) fn new(dir: PathBuf) -> HubCache {
        HubCache { dir }
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The cached copy of `path` at `repo`'s revision (a branch the cache has a ref for, or a
    /// commit), checked against its blob name; reading and hashing it is blocking work, done off
    /// the runtime's threads.
    pub(crate) async fn lookup(
        &self,
        repo: &DatasetRepo,
        path: &str,
    ) -> Result<Option<CachedFile>, HubError> {
        let (cache, repo, path) = (self.clone(), repo.clone(), path.to_owned());
        tokio::task::spawn_blocking(move || cache.lookup_now(&repo, &path))
            .await
            .expect("looking up the cache does not panic")
    }

    fn lookup_now(&self, repo: &DatasetRepo, path: &str) -> Result<Option<CachedFile>, HubError> {
        let cache = RepoCache::new(&self.dir, repo);
        let Some(commit) = cache
            .commit_of(repo.revision())
            .or_else(|| is_plain_name(repo.revision()).then(|| repo.revision().to_owned()))
        else {
            return Ok(None);
        };
        let pointer = cache.pointer(&commit, path);
        let (Ok(blob), Ok(folder)) = (pointer.canonicalize(), cache.folder.canonicalize()) else {
            return Ok(None);
        };
        // Only the cache vouches for what it holds: a link out of it names anything at all.
        if !blob.starts_with(&folder) {
            return Err(HubError::OutsideCache {
                path: pointer,
                target: blob,
                cache: self.dir.clone(),
            });
        }
        check_regular(&blob).map_err(|source| HubError::CacheRead {
            path: pointer.clone(),
            source,
        })?;
        // A copy in place of a link (where links cannot be made) has no blob name to check.
        if !std::fs::symlink_metadata(&pointer).is_ok_and(|m| m.file_type().is_symlink()) {
            return Ok(Some(CachedFile {
                path: pointer,
                commit: Some(commit),
                verified: false,
            }));
        }
        let name = blob
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .filter(|name| is_plain_name(name));
        if let Some(name) = &name
            && !blob_matches(&blob, name)
        {
            return Err(HubError::CorruptCache {
                path: blob,
                blob: name.clone(),
            });
        }
        Ok(Some(CachedFile {
            path: pointer,
            commit: Some(commit),
            verified: name.as_deref().and_then(BlobId::parse).is_some(),
        }))
    }

    /// The files at the top of any cached snapshot of `repo`, for offline listings.
    pub(crate) fn files(&self, repo: &DatasetRepo) -> Vec<String> {
        let snapshots = RepoCache::new(&self.dir, repo).folder.join("snapshots");
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

    /// Takes the lock of blob `name` of `repo`, waiting while another run (or `huggingface_hub`)
    /// writes it. `name` must be a plain name (see [`is_plain_name`]).
    pub(crate) async fn lock_blob(
        &self,
        repo: &DatasetRepo,
        name: &str,
    ) -> Result<BlobLock, HubError> {
        let cache = RepoCache::new(&self.dir, repo);
        std::fs::create_dir_all(&cache.locks).map_err(cache_error(&cache.locks))?;
        let lock_path = cache.locks.join(format!("{name}.lock"));
        let lock = open_lock(&lock_path, true).map_err(cache_error(&lock_path))?;
        // std's `File::lock` is flock on Unix and LockFileEx on Windows, as `filelock` uses.
        let lock = tokio::task::spawn_blocking(move || lock.lock().map(|()| lock))
            .await
            .expect("locking does not panic")
            .map_err(cache_error(&lock_path))?;
        Ok(BlobLock {
            blob: cache.blob(name),
            name: name.to_owned(),
            cache,
            _lock: lock,
        })
    }
}

/// A blob of the cache, locked: present and checked, or to be written.
pub(crate) struct BlobLock {
    cache: RepoCache,
    blob: PathBuf,
    name: String,
    _lock: File,
}

impl BlobLock {
    /// True when the blob is there and its bytes hash to its name.
    pub(crate) fn is_present(&self) -> bool {
        blob_matches(&self.blob, &self.name)
    }

    /// Whether `bytes` hash to the blob's name (a name that is no hash, as some mirrors send,
    /// cannot be checked and is taken as it is).
    pub(crate) fn matches(&self, bytes: &[u8]) -> bool {
        BlobId::parse(&self.name).is_none_or(|id| id.matches(bytes))
    }

    /// Writes the blob: into a temporary file of its own, synced, then renamed into place.
    pub(crate) fn write(&self, bytes: &[u8]) -> Result<(), HubError> {
        let blobs = self
            .cache
            .make_dir("blobs")
            .map_err(cache_error(&self.cache.folder.join("blobs")))?;
        let mut partial = tempfile::Builder::new()
            .prefix(&format!("{}.", self.name))
            .suffix(".incomplete")
            .tempfile_in(&blobs)
            .map_err(cache_error(&blobs))?;
        partial
            .write_all(bytes)
            .and_then(|()| partial.as_file().sync_all())
            .map_err(cache_error(partial.path()))?;
        partial
            .persist(&self.blob)
            .map_err(|error| HubError::Cache {
                path: self.blob.clone(),
                source: error.error,
            })?;
        Ok(())
    }

    /// Links `path` of snapshot `commit` to the blob, and points `refs/{revision}` at the
    /// commit (when the revision is a plain name other than the commit); releases the lock.
    pub(crate) fn link(
        self,
        commit: &str,
        path: &str,
        revision: &str,
    ) -> Result<CachedFile, HubError> {
        let pointer = self.cache.pointer(commit, path);
        if pointer.canonicalize().ok().as_deref() != self.blob.canonicalize().ok().as_deref() {
            // The entry's folders are the cache's own, so what is removed is the entry.
            let parent = Path::new("snapshots").join(commit).join(path);
            let parent = parent.parent().unwrap_or(Path::new("snapshots"));
            self.cache.make_dir(parent).map_err(cache_error(&pointer))?;
            let _ = std::fs::remove_file(&pointer);
            link_snapshot(&self.blob, &pointer).map_err(cache_error(&pointer))?;
        }
        if revision != commit && is_plain_name(revision) {
            let refs = self
                .cache
                .make_dir("refs")
                .map_err(cache_error(&self.cache.folder))?;
            write_ref(&refs, revision, commit).map_err(cache_error(&self.cache.folder))?;
        }
        Ok(CachedFile {
            path: pointer,
            commit: Some(commit.to_owned()),
            verified: BlobId::parse(&self.name).is_some(),
        })
    }
}

/// True when `blob` exists and its bytes hash to `name` (a blob whose name is no hash, as some
/// mirrors send, is taken as it is).
fn blob_matches(blob: &Path, name: &str) -> bool {
    match BlobId::parse(name) {
        Some(id) => blob_id_of_file(blob, &id).is_ok_and(|matches| matches),
        None => blob.is_file(),
    }
}

/// `refs/{revision}` holds the commit, written whole or not at all.
fn write_ref(refs: &Path, revision: &str, commit: &str) -> std::io::Result<()> {
    let mut temporary = tempfile::NamedTempFile::new_in(refs)?;
    temporary.write_all(commit.as_bytes())?;
    temporary
        .persist(refs.join(revision))
        .map_err(|e| e.error)?;
    Ok(())
}

/// A relative symbolic link from the snapshot to the blob, like `huggingface_hub`, so the cache
/// can be moved; where links cannot be made (Windows without developer mode, some network
/// file systems) a copy, as `huggingface_hub` falls back to.
fn link_snapshot(blob: &Path, pointer: &Path) -> std::io::Result<()> {
    let parent = pointer.parent().expect("snapshot paths have a parent");
    std::fs::create_dir_all(parent)?;
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
    if symlink_file(&target, pointer).is_ok() {
        return Ok(());
    }
    std::fs::copy(blob, pointer).map(|_| ())
}

#[cfg(unix)]
fn symlink_file(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(windows)]
fn symlink_file(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::windows::fs::symlink_file(target, link)
}

#[cfg(not(any(unix, windows)))]
fn symlink_file(_target: &Path, _link: &Path) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
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
