//! The cache of matched rows (FORMAT.md §11), kept in `$HEALTHCHAT_CACHE` or
//! `$HF_HOME/healthchat`: for each shard, keyed by its repository, path and SHA-256, its ID index
//! and the source rows runs asked for (`entry`), so a re-run fetches only the row groups that
//! hold IDs it has not seen; and for each repository revision the shards it lists (`listing`),
//! so a warm cache answers offline. Every file is sealed (`envelope`).

mod entry;
mod envelope;
mod key;
mod listing;
mod plan;

use std::path::{Path, PathBuf};

use thiserror::Error;

pub(crate) use entry::{Dropped, GroupIndex, Segment, ShardEntry, StoredRow};
pub use key::IdKey;
pub use listing::{CachedShard, Listing};
pub(crate) use plan::{GroupRun, ReadPlan};

/// Why the cache could not be used.
#[derive(Debug, Error)]
#[error("could not use the cache of rows at {}", path.display())]
pub(crate) struct CacheError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

impl CacheError {
    /// What the user can do about it.
    pub(crate) fn next_step(&self) -> Option<String> {
        Some("check its permissions and free disk space, or run with --no-cache.".to_owned())
    }
}

/// What one shard's entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryContents {
    /// Source rows kept.
    pub rows: u64,
    /// Conversation IDs indexed (one per row of the row groups indexed).
    pub ids: u64,
    /// The whole shard is indexed, from a read whose SHA-256 matched.
    pub indexed_whole: bool,
}

/// The cache's folder.
#[derive(Debug, Clone)]
pub struct RowCache {
    root: PathBuf,
}

impl RowCache {
    pub fn new(root: PathBuf) -> RowCache {
        RowCache { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn rows_dir(&self) -> PathBuf {
        self.root.join("rows")
    }

    fn repo_folder(repo_id: &str) -> String {
        format!("datasets--{}", repo_id.replace('/', "--"))
    }

    /// Where the entry of shard `path` of `repo_id` with SHA-256 `sha256` lives.
    fn entry_dir(&self, repo_id: &str, path: &str, sha256: &str) -> PathBuf {
        self.rows_dir()
            .join(Self::repo_folder(repo_id))
            .join(path.replace('/', "--"))
            .join(sha256)
    }

    /// Locks and reads a shard's entry (blocking while another run holds it), with why it was
    /// emptied if it could not be used.
    pub async fn open_entry(
        &self,
        repo_id: &str,
        path: &str,
        sha256: &str,
    ) -> Result<(ShardEntry, Option<Dropped>), CacheError> {
        let dir = self.entry_dir(repo_id, path, sha256);
        let opened = {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || ShardEntry::open(&dir))
        };
        // A run that ends (an error elsewhere) cancels the task: that is an error, not a panic.
        opened
            .await
            .map_err(std::io::Error::other)
            .and_then(|opened| opened)
            .map_err(|source| CacheError { path: dir, source })
    }

    /// Whether a read of the shard will start from its entry's footer rather than by opening
    /// the file; looked at without the lock, so a guess that only decides what is fetched
    /// early.
    pub fn holds_footer(&self, repo_id: &str, path: &str, sha256: &str) -> bool {
        ShardEntry::holds_footer(&self.entry_dir(repo_id, path, sha256))
    }

    /// What the cache holds of `shard` of `repo_id`, without locking or changing it.
    pub fn look(&self, repo_id: &str, shard: &CachedShard) -> Option<EntryContents> {
        let entry = ShardEntry::look(&self.entry_dir(repo_id, &shard.path, &shard.sha256))?;
        Some(EntryContents {
            rows: entry.rows.len() as u64,
            ids: entry
                .groups
                .values()
                .map(|group| group.ids.len() as u64)
                .sum(),
            indexed_whole: entry.verified,
        })
    }

    /// Keeps what the Hub listed for `repo_id` at `revision` (resolved to `listing.commit`).
    pub fn save_listing(
        &self,
        repo_id: &str,
        revision: &str,
        listing: &Listing,
    ) -> Result<(), CacheError> {
        let dir = self.root.join("listings").join(Self::repo_folder(repo_id));
        listing::save(&dir, revision, listing).map_err(|source| CacheError { path: dir, source })
    }

    /// What the Hub last listed for `repo_id` at `revision`, if it was kept.
    pub fn listing(&self, repo_id: &str, revision: &str) -> Option<Listing> {
        let dir = self.root.join("listings").join(Self::repo_folder(repo_id));
        listing::load(&dir, revision)
    }

    /// Every kept listing, by repository ID, for `healthchat cache`.
    pub fn listings(&self) -> Vec<(String, Listing)> {
        let mut found = Vec::new();
        let dir = self.root.join("listings");
        for repo in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let folder = repo.file_name().to_string_lossy().into_owned();
            let Some(id) = folder
                .strip_prefix("datasets--")
                .map(|id| id.replacen("--", "/", 1))
            else {
                continue;
            };
            for listing in listing::load_all(&repo.path()) {
                found.push((id.clone(), listing));
            }
        }
        found.sort_by(|a, b| (&a.0, &a.1.commit).cmp(&(&b.0, &b.1.commit)));
        found.dedup_by(|a, b| a.0 == b.0 && a.1.commit == b.1.commit);
        found
    }

    /// The bytes the cache takes on disk.
    pub fn size(&self) -> u64 {
        fn size_of(path: &Path) -> u64 {
            match std::fs::symlink_metadata(path) {
                Ok(meta) if meta.is_dir() => std::fs::read_dir(path)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|entry| size_of(&entry.path()))
                    .sum(),
                Ok(meta) => meta.len(),
                Err(_) => 0,
            }
        }
        size_of(&self.root)
    }

    /// Removes the cache (waiting for no run to hold an entry is the caller's concern: an
    /// entry removed under a run is written again by it, whole).
    pub fn clean(&self) -> Result<u64, CacheError> {
        let size = self.size();
        match std::fs::remove_dir_all(&self.root) {
            Ok(()) => Ok(size),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(source) => Err(CacheError {
                path: self.root.clone(),
                source,
            }),
        }
    }
}
