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

use crate::local_file::{dirs_below, make_dirs_below};

/// The cache's folders: entries, and the listings kept for offline runs.
const ROWS: &str = "rows";
const LISTINGS: &str = "listings";

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

    fn repo_folder(repo_id: &str) -> String {
        format!("datasets--{}", repo_id.replace('/', "--"))
    }

    /// Where the entry of shard `path` of `repo_id` with SHA-256 `sha256` lives, in the cache.
    fn entry_path(repo_id: &str, path: &str, sha256: &str) -> PathBuf {
        Path::new(ROWS)
            .join(Self::repo_folder(repo_id))
            .join(path.replace('/', "--"))
            .join(sha256)
    }

    fn entry_dir(&self, repo_id: &str, path: &str, sha256: &str) -> PathBuf {
        self.root.join(Self::entry_path(repo_id, path, sha256))
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
            let (root, relative) = (self.root.clone(), Self::entry_path(repo_id, path, sha256));
            // Its folders made, or entered, only as folders: never through a link.
            tokio::task::spawn_blocking(move || {
                ShardEntry::open(&make_dirs_below(&root, &relative)?)
            })
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
        let relative = Self::entry_path(repo_id, &shard.path, &shard.sha256);
        let entry = ShardEntry::look(&dirs_below(&self.root, &relative).ok()??)?;
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
        let relative = Path::new(LISTINGS).join(Self::repo_folder(repo_id));
        make_dirs_below(&self.root, &relative)
            .and_then(|dir| listing::save(&dir, revision, listing))
            .map_err(|source| CacheError {
                path: self.root.join(relative),
                source,
            })
    }

    /// What the Hub last listed for `repo_id` at `revision`, if it was kept.
    pub fn listing(&self, repo_id: &str, revision: &str) -> Option<Listing> {
        let relative = Path::new(LISTINGS).join(Self::repo_folder(repo_id));
        listing::load(&dirs_below(&self.root, &relative).ok()??, revision)
    }

    /// Every kept listing, by repository ID, for `healthchat cache`.
    pub fn listings(&self) -> Vec<(String, Listing)> {
        let mut found = Vec::new();
        let dir = self.root.join(LISTINGS);
        let repos = std::fs::read_dir(&dir).into_iter().flatten().flatten();
        for repo in repos.filter(|repo| repo.file_type().is_ok_and(|t| t.is_dir())) {
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

    /// Removes what the cache wrote (FORMAT.md §12): the entries' files and the kept
    /// listings, then the folders they leave empty. Anything else, a file of the user's or a
    /// link, stays and is counted; no link is followed. (Waiting for no run to hold an entry is
    /// the caller's concern: an entry removed under a run is written again by it, whole.)
    pub fn clean(&self) -> Result<Cleaned, CacheError> {
        let mut cleaned = Cleaned::default();
        let error = |source| CacheError {
            path: self.root.clone(),
            source,
        };
        let trees: [(&str, &[NameTest]); 2] = [
            (
                ROWS,
                &[is_repo_folder, any_name, any_name, entry::is_entry_name],
            ),
            (LISTINGS, &[is_repo_folder, listing::is_listing_file]),
        ];
        for (folder, levels) in trees {
            if let Some(dir) = dirs_below(&self.root, Path::new(folder)).map_err(error)? {
                clean_below(&dir, levels, &mut cleaned).map_err(error)?;
                let _ = std::fs::remove_dir(dir);
            }
        }
        let _ = std::fs::remove_dir(&self.root);
        Ok(cleaned)
    }
}

/// What [`RowCache::clean`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Cleaned {
    pub removed_bytes: u64,
    /// Files and folders it did not write, left in place.
    pub kept: u64,
}

/// Whether a name, at one level of the cache's folders, is one the cache writes.
type NameTest = fn(&str) -> bool;

fn is_repo_folder(name: &str) -> bool {
    name.starts_with("datasets--")
}

fn any_name(_: &str) -> bool {
    true
}

/// Removes below `dir` the names `levels` says the cache writes, level by level (folders, and
/// at the last level files), and the folders that leaves empty; counts the rest.
fn clean_below(dir: &Path, levels: &[NameTest], cleaned: &mut Cleaned) -> std::io::Result<()> {
    let Some((ours, deeper)) = levels.split_first() else {
        return Ok(());
    };
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        // Of the entry itself: a link is a link, never what it points to.
        let file_type = entry.file_type()?;
        let name = entry.file_name().to_string_lossy().into_owned();
        match (ours(&name), deeper.is_empty(), file_type.is_dir()) {
            (true, true, false) => {
                let size = entry.metadata().map_or(0, |metadata| metadata.len());
                std::fs::remove_file(entry.path())?;
                cleaned.removed_bytes += size;
            }
            (true, false, true) => {
                clean_below(&entry.path(), deeper, cleaned)?;
                let _ = std::fs::remove_dir(entry.path());
            }
            _ => cleaned.kept += 1,
        }
    }
    Ok(())
}
