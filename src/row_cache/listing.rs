//! What the Hub listed for a source repository at a revision: the commit and its shards with
//! their sizes and SHA-256, kept so that a warm cache answers offline (FORMAT.md §11).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::envelope;

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

/// Saves `listing` under its revision and under its commit.
pub(super) fn save(dir: &Path, revision: &str, listing: &Listing) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let sealed = envelope::seal(listing);
    for name in [revision, listing.commit.as_str()] {
        let temporary = tempfile::NamedTempFile::new_in(dir)?;
        std::fs::write(temporary.path(), &sealed)?;
        temporary.persist(dir.join(file_name(name)))?;
    }
    Ok(())
}

pub(super) fn load(dir: &Path, revision: &str) -> Option<Listing> {
    envelope::open(&std::fs::read(dir.join(file_name(revision))).ok()?).ok()
}

pub(super) fn load_all(dir: &Path) -> Vec<Listing> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|file| envelope::open(&std::fs::read(file.path()).ok()?).ok())
        .collect()
}
