//! What the Hub listed for a source repository at a revision: the commit and its shards with
//! their sizes and SHA-256, kept so that a warm cache answers offline (FORMAT.md §11).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::envelope;
use crate::local_file::read_own;

/// The largest listing file read (FORMAT.md §12): a repository's shards, a few kilobytes.
const MAX_LISTING_FILE: u64 = 16 << 20;

/// A shard as the Hub listed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedShard {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    pub commit: String,
    pub shards: Vec<CachedShard>,
}

/// A revision as a file name: `refs/pr/1` is `refs%2Fpr%2F1`.
fn file_name(revision: &str) -> String {
    format!("{}.bin", revision.replace('%', "%25").replace('/', "%2F"))
}

/// Whether `name` is one a listing is written under (its temporary files too).
pub(super) fn is_listing_file(name: &str) -> bool {
    name.ends_with(".bin") || name.starts_with(".tmp")
}

/// Saves `listing` under its revision and under its commit, in the folder `dir`.
pub(super) fn save(dir: &Path, revision: &str, listing: &Listing) -> std::io::Result<()> {
    let sealed = envelope::seal(listing);
    for name in [revision, listing.commit.as_str()] {
        let temporary = tempfile::NamedTempFile::new_in(dir)?;
        std::fs::write(temporary.path(), &sealed)?;
        temporary.persist(dir.join(file_name(name)))?;
    }
    Ok(())
}

pub(super) fn load(dir: &Path, revision: &str) -> Option<Listing> {
    envelope::open(&read_own(&dir.join(file_name(revision)), MAX_LISTING_FILE).ok()?).ok()
}

pub(super) fn load_all(dir: &Path) -> Vec<Listing> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|file| envelope::open(&read_own(&file.path(), MAX_LISTING_FILE).ok()?).ok())
        .collect()
}
