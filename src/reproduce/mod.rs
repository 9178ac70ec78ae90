//! `healthchat generate --manifest FILE` (FORMAT.md §9): an earlier build's manifest read as
//! input and turned into the same build (`plan`), and the new build's artifacts and missing
//! conversations beside the earlier ones (`compare`).

mod compare;
mod plan;

use std::path::PathBuf;

use thiserror::Error;

pub(crate) use compare::{NotReproduced, Reproduction};
pub(crate) use plan::Rebuild;

use crate::manifest::ManifestError;

/// Why the build a manifest describes cannot be made.
#[derive(Debug, Error)]
pub(crate) enum ReproduceError {
    #[error(transparent)]
    Manifest(ManifestError),
    #[error("{} cannot be rebuilt: {problem}", path.display())]
    Unusable { path: PathBuf, problem: String },
    #[error(
        "commit {commit} of {repo}, which {} names, is not on the Hub: the build it describes \
         cannot be reproduced from the Hub",
        path.display()
    )]
    CommitGone {
        path: PathBuf,
        repo: String,
        commit: String,
        version: String,
        source_repo: bool,
    },
}

impl ReproduceError {
    /// What the user can do about it, if anything.
    pub(crate) fn next_step(&self) -> Option<String> {
        match self {
            ReproduceError::Manifest(error) => error.next_step().or_else(|| {
                Some(
                    "pass the manifest.json of an artifacts directory that `healthchat generate` \
                     wrote."
                        .to_owned(),
                )
            }),
            ReproduceError::Unusable { .. } => Some(
                "pass the manifest.json an earlier `healthchat generate` wrote, as it wrote it."
                    .to_owned(),
            ),
            ReproduceError::CommitGone {
                repo,
                version,
                source_repo: true,
                ..
            } => Some(format!(
                "if you have a copy of {repo}'s shards at that commit, pass it with --source-dir; \
                 `healthchat generate --version {version}` builds from the commits the Hub has now."
            )),
            ReproduceError::CommitGone { version, .. } => Some(format!(
                "a Hugging Face cache that holds the annotation file at that commit serves it \
                 offline (HF_HOME=... HF_HUB_OFFLINE=1); `healthchat generate --version {version}` \
                 builds from the commits the Hub has now."
            )),
        }
    }
}

/// A value from a manifest as it may be shown on a terminal: control characters escaped, at most
/// 80 characters.
fn shown(value: &str) -> String {
    let mut escaped: String = value.escape_debug().take(80).collect();
    if value.escape_debug().nth(80).is_some() {
        escaped.push_str("...");
    }
    escaped
}
