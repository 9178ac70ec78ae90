//! Which shards each source has: `data/train-*.parquet` in path order (FORMAT.md §1), listed
//! and resolved on the Hub at a pinned commit, offline from what the cache of rows kept of the
//! Hub's listing, or found in a local copy with `--source-dir` (`local`); and the plan of which
//! sources to scan.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use futures_util::{StreamExt, TryStreamExt};

use super::error::FindError;
use super::file::{ShardFile, is_shard};
use super::local::{listed_sha256s, local_shards};
use crate::annotations::AnnotationIndex;
use crate::cli::RevisionArgs;
use crate::hub::{DatasetRepo, HubApi};
use crate::printer::{Printer, SourceBar};
use crate::row_cache::{CachedShard, Listing, RowCache};
use crate::source::Source;

/// A source to scan: its repository, the IDs wanted from it, and its shards in scan order.
pub(crate) struct SourcePlan {
    pub(crate) source: Source,
    pub(crate) repo: DatasetRepo,
    pub(crate) targets: Arc<HashSet<String>>,
    pub(crate) shards: Vec<ShardFile>,
}

impl SourcePlan {
    pub(crate) fn total_bytes(&self) -> u64 {
        self.shards.iter().map(ShardFile::size).sum()
    }
}

/// Resolving a shard is a small request: this many at once (over HTTP/2 they share one
/// connection), so that resolving a source takes a round trip or two whatever `--jobs` is.
const RESOLVES_AT_ONCE: usize = 16;

/// Each source's repository, pinned, with its shards (or why they could not be had).
pub(crate) type SourceShards = Vec<(Source, Result<(DatasetRepo, Vec<ShardFile>), FindError>)>;

/// Each of the `included` sources' repository at the revision asked for.
pub(crate) fn source_repos(
    included: &[Source],
    revisions: &RevisionArgs,
) -> Vec<(Source, DatasetRepo)> {
    included
        .iter()
        .map(|&source| {
            let revision = match source {
                Source::Lmsys => &revisions.lmsys_revision,
                Source::Wildchat => &revisions.wildchat_revision,
            };
            (source, DatasetRepo::new(source.repo_id(), revision))
        })
        .collect()
}

/// Offline, the rows come from the cache of rows or the shards from `--source-dir`.
pub(crate) fn check_offline(
    offline: bool,
    source_dir: Option<&Path>,
    cache: Option<&RowCache>,
) -> Result<(), FindError> {
    if offline && source_dir.is_none() && cache.is_none() {
        return Err(FindError::OfflineWithoutCache);
    }
    Ok(())
}

/// Pins, lists and resolves the shards of every source of `repos` at once (from `source_dir`
/// when given); no other source is asked for.
/// Online, what the Hub lists is kept in `cache` for offline runs; offline, `cache` answers.
pub(crate) async fn find_all_shards(
    api: &Arc<HubApi>,
    repos: &[(Source, DatasetRepo)],
    source_dir: Option<&Path>,
    cache: Option<&RowCache>,
) -> SourceShards {
    let finds = repos.iter().map(|(source, repo)| async move {
        let shards = match (source_dir, cache) {
            (Some(dir), _) => match local_shards(dir, repo) {
                Ok(shards) => Ok((repo.clone(), listed_sha256s(api, repo, shards).await)),
                Err(error) => Err(error),
            },
            (None, Some(cache)) if api.settings().offline => offline_shards(cache, repo),
            (None, _) => match api.pin(repo).await {
                Ok(pinned) => match resolve_shards(api, &pinned).await {
                    Ok(shards) => {
                        keep_listing(cache, repo, &pinned, &shards).map(|()| (pinned, shards))
                    }
                    Err(error) => Err(error),
                },
                Err(error) => Err(error.into()),
            },
        };
        (*source, shards)
    });
    futures_util::future::join_all(finds).await
}

/// The sources that have targets, in scan order (FORMAT.md §3), each with its shards; a source
/// without targets is left out, and so is any error finding its shards.
pub(crate) fn plan_sources(
    index: &AnnotationIndex,
    shards: SourceShards,
    printer: &Printer,
) -> Result<Vec<SourcePlan>, FindError> {
    let mut plans = Vec::new();
    for (source, found) in shards {
        let targets = index.targets(source);
        if targets.is_empty() {
            continue;
        }
        printer.status(format!(
            "Looking for {} conversations in {}",
            targets.len(),
            source.repo_id()
        ));
        let (repo, shards) = found?;
        plans.push(SourcePlan {
            source,
            repo,
            targets: Arc::new(targets),
            shards,
        });
    }
    Ok(plans)
}

/// The progress bars of `plans`: one line for all sources together, above a bar per source.
pub(crate) fn progress_bars(printer: &Printer, plans: &[SourcePlan]) -> Vec<Arc<SourceBar>> {
    let sources: Vec<_> = plans
        .iter()
        .map(|plan| {
            let (total, wanted) = (plan.total_bytes(), plan.targets.len());
            (plan.source, total, wanted, plan.shards.len())
        })
        .collect();
    printer.progress(&sources)
}

/// Keeps what the Hub listed for `repo` (pinned to `pinned`), for offline runs.
fn keep_listing(
    cache: Option<&RowCache>,
    repo: &DatasetRepo,
    pinned: &DatasetRepo,
    shards: &[ShardFile],
) -> Result<(), FindError> {
    let (Some(cache), Some(commit)) = (cache, pinned.commit()) else {
        return Ok(());
    };
    let Some(shards) = shards
        .iter()
        .map(|shard| {
            shard.expected().map(|(sha256, _)| CachedShard {
                path: shard.path().to_owned(),
                size: shard.size(),
                sha256: sha256.to_owned(),
            })
        })
        .collect::<Option<Vec<_>>>()
    else {
        return Ok(());
    };
    let listing = Listing {
        commit: commit.to_owned(),
        shards,
    };
    Ok(cache.save_listing(repo.id(), repo.revision(), &listing)?)
}

/// Offline: the shards the Hub last listed for `repo` at its revision, from the cache.
fn offline_shards(
    cache: &RowCache,
    repo: &DatasetRepo,
) -> Result<(DatasetRepo, Vec<ShardFile>), FindError> {
    let Some(listing) = cache.listing(repo.id(), repo.revision()) else {
        return Err(FindError::OfflineNeverListed {
            cache: cache.root().to_owned(),
            repo: repo.id().to_owned(),
            revision: repo.revision().to_owned(),
        });
    };
    let pinned = repo.pinned(listing.commit.clone());
    let shards = listing
        .shards
        .iter()
        .map(|shard| ShardFile::offline(&pinned, &shard.path, shard.size, &shard.sha256))
        .collect();
    Ok((pinned, shards))
}

/// Lists a source's `data/train-*.parquet` shards in path order and resolves each: this is where
/// a gated repo refuses us, before anything is streamed.
async fn resolve_shards(
    api: &Arc<HubApi>,
    repo: &DatasetRepo,
) -> Result<Vec<ShardFile>, FindError> {
    let mut listed: Vec<_> = api
        .list_folder(repo, "data")
        .await?
        .into_iter()
        .filter(|file| is_shard(file.path()))
        .collect();
    listed.sort_by(|a, b| a.path().cmp(b.path()));
    if listed.is_empty() {
        return Err(FindError::NoShards {
            repo: repo.id().to_owned(),
            revision: repo.revision().to_owned(),
        });
    }
    let files = futures_util::stream::iter(listed)
        .map(|file| {
            let (api, repo) = (Arc::clone(api), repo.clone());
            async move { api.resolve(&repo, &file).await.map(ShardFile::remote) }
        })
        .buffered(RESOLVES_AT_ONCE)
        .try_collect()
        .await?;
    Ok(files)
}
