//! The golden Hub: healthchat's fixtures (`tests/fixtures/hub`) served as its tests serve them,
//! and as `testhub --golden` serves them for CONTRIBUTING.md's "Try the network path against the local Hub" and `tests/wheel.py`. One
//! function for all of them, so that what a reader tries is what the tests check.

use std::path::PathBuf;

use crate::HubConfig;

/// The fixtures' repositories.
pub const LMSYS: &str = "lmsys/lmsys-chat-1m";
pub const WILDCHAT: &str = "allenai/WildChat-1M";
pub const ANNOTATIONS: &str = "yahskapar/HealthChat-11K";
/// The token granted access to the gated [`LMSYS`].
pub const GRANTED_TOKEN: &str = "hf_granted_0123456789";
/// A token the Hub knows, not granted access to [`LMSYS`].
pub const DENIED_TOKEN: &str = "hf_denied_0123456789";
/// Files from this size on are redirected to the storage host: every shard, no annotation file.
pub const REDIRECT_FROM: u64 = 100_000;
/// Entries per page of a tree listing: few, so that every listing takes several pages.
pub const PAGE_SIZE: usize = 2;

/// The golden Hub over `root`, a tree laid out like `tests/fixtures/hub`: [`LMSYS`] gated and
/// granted to [`GRANTED_TOKEN`], [`DENIED_TOKEN`] known, large files redirected to the storage
/// host like the Hub's LFS files, listings paginated.
pub fn config(root: impl Into<PathBuf>) -> HubConfig {
    HubConfig::new(root)
        .gate(LMSYS, &[GRANTED_TOKEN])
        .known_token(DENIED_TOKEN)
        .redirect_files_from(REDIRECT_FROM)
        .page_size(PAGE_SIZE)
}
