//! Why a source's shards, or the rows a run wants from them, cannot be had.

use std::path::PathBuf;

use thiserror::Error;

use crate::hub::HubError;
use crate::row_cache::CacheError;
use crate::shards::ReadError;

#[derive(Debug, Error)]
pub(crate) enum FindError {
    #[error(transparent)]
    Hub(#[from] HubError),
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error(transparent)]
    Local(#[from] ReadError),
    #[error(
        "--source-dir {} holds no copy of {repo}: looked for {} and {}",
        dir.display(),
        roots[0].join("data").display(),
        roots[1].join("data").display()
    )]
    NoLocalCopy {
        dir: PathBuf,
        repo: String,
        /// Where a copy was looked for, the first where `hf download --local-dir` writes one.
        roots: [PathBuf; 2],
    },
    #[error("could not list {}", path.display())]
    ListLocal {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} holds no train-*.parquet shards", data.display())]
    NoLocalShards { data: PathBuf },
    #[error("{repo} has no data/train-*.parquet shards at revision {revision}")]
    NoShards { repo: String, revision: String },
    #[error(
        "HF_HUB_OFFLINE is set with --no-cache: the source datasets are streamed from the Hub, \
         and this run may not use the cache of rows."
    )]
    OfflineWithoutCache,
    #[error(
        "HF_HUB_OFFLINE is set, but the cache of rows in {} has never listed {repo} at revision \
         {revision}.",
        cache.display()
    )]
    OfflineNeverListed {
        cache: PathBuf,
        repo: String,
        revision: String,
    },
    #[error(
        "HF_HUB_OFFLINE is set, but the cache of rows in {} does not hold all the rows this run \
         wants from {} shards: {}.",
        cache.display(),
        shards.len(),
        shards.join(", ")
    )]
    OfflineRowsMissing {
        cache: PathBuf,
        /// Each as `path of repo`.
        shards: Vec<String>,
    },
}

impl FindError {
    /// What the user can do about it, if anything.
    pub(crate) fn next_step(&self) -> Option<String> {
        match self {
            FindError::Hub(error) => {
                let step = error.next_step()?;
                Some(match error {
                    // Without access to the gated lmsys-chat-1m, the openly licensed part can
                    // still be built.
                    HubError::GatedNoToken { .. }
                    | HubError::GatedNoAccess { .. }
                    | HubError::InvalidToken { .. } => format!(
                        "{step}\nOr build only the WildChat part (ODC-BY), which needs no token: \
                         add --sources wildchat."
                    ),
                    _ => step,
                })
            }
            FindError::Local(error) => error.next_step(),
            FindError::NoLocalCopy { repo, roots, .. } => Some(format!(
                "download it with `hf download {repo} --repo-type dataset --local-dir {}`.",
                roots[0].display()
            )),
            FindError::OfflineWithoutCache => Some(
                "drop --no-cache, or download the sources first (`hf download \
                 lmsys/lmsys-chat-1m --repo-type dataset --local-dir DIR/lmsys/lmsys-chat-1m`, \
                 and the same for allenai/WildChat-1M) and pass --source-dir DIR, or unset \
                 HF_HUB_OFFLINE."
                    .to_owned(),
            ),
            FindError::OfflineNeverListed { repo, .. } => Some(format!(
                "run once online (unset HF_HUB_OFFLINE), or download the shards (`hf download \
                 {repo} --repo-type dataset --local-dir DIR/{repo}`) and pass --source-dir DIR."
            )),
            FindError::OfflineRowsMissing { .. } => Some(
                "run once online (unset HF_HUB_OFFLINE), or pass --source-dir with a local copy \
                 of the sources."
                    .to_owned(),
            ),
            FindError::Cache(error) => error.next_step(),
            FindError::ListLocal { .. }
            | FindError::NoLocalShards { .. }
            | FindError::NoShards { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gated_source_suggests_the_wildchat_part_after_the_hubs_step() {
        let gated = FindError::Hub(HubError::GatedNoToken {
            repo: "lmsys/lmsys-chat-1m".to_owned(),
            page: "https://hub.test/datasets/lmsys/lmsys-chat-1m".to_owned(),
            endpoint: "https://hub.test".to_owned(),
        });
        let step = gated.next_step().unwrap();
        assert!(
            step.starts_with("accept the terms at https://hub.test/"),
            "{step}"
        );
        let wildchat = "\nOr build only the WildChat part (ODC-BY), which needs no token: add \
                        --sources wildchat.";
        assert!(step.ends_with(wildchat), "{step}");
        let missing = FindError::Hub(HubError::RepoNotFound {
            repo: "x/y".to_owned(),
            endpoint: "https://hub.test".to_owned(),
        });
        assert_eq!(missing.next_step(), None);
    }
}
