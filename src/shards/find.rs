//! Which shards each source has: `data/train-*.parquet` in path order (FORMAT.md §1), listed
//! and resolved on the Hub at a pinned commit, or found in a local copy with `--source-dir`; and
//! the plan of which sources to scan.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use futures_util::{StreamExt, TryStreamExt};

use super::file::ShardFile;
use crate::annotations::AnnotationIndex;
use crate::hub::{DatasetRepo, HubApi, HubError};
use crate::printer::Printer;
use crate::row_cache::{CachedShard, Listing, RowCache};
use crate::source::Source;

/// A source to scan: its repository, the IDs wanted from it, and its shards in scan order.
pub struct SourcePlan {
    pub source: Source,
    pub repo: DatasetRepo,
    pub targets: Arc<HashSet<String>>,
    pub shards: Vec<ShardFile>,
}

impl SourcePlan {
    pub fn total_bytes(&self) -> u64 {
        self.shards.iter().map(ShardFile::size).sum()
    }
}

/// Resolving a shard is a small request: this many at once (over HTTP/2 they share one
/// connection), so that resolving a source takes a round trip or two whatever `--jobs` is.
const RESOLVES_AT_ONCE: usize = 16;

/// Each source's repository, pinned, with its shards (or why they could not be had).
pub type SourceShards = Vec<(Source, Result<(DatasetRepo, Vec<ShardFile>)>)>;

/// Pins, lists and resolves the shards of every source of `repos` at once (from `source_dir`
/// when given); no other source is asked for.
/// Online, what the Hub lists is kept in `cache` for offline runs; offline, `cache` answers.
pub async fn find_all_shards(
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
pub fn plan_sources(
    index: &AnnotationIndex,
    shards: SourceShards,
    printer: &Printer,
) -> Result<Vec<SourcePlan>> {
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
        let (repo, shards) = found.map_err(suggest_wildchat_alone)?;
        plans.push(SourcePlan {
            source,
            repo,
            targets: Arc::new(targets),
            shards,
        });
    }
    Ok(plans)
}

/// Keeps what the Hub listed for `repo` (pinned to `pinned`), for offline runs.
fn keep_listing(
    cache: Option<&RowCache>,
    repo: &DatasetRepo,
    pinned: &DatasetRepo,
    shards: &[ShardFile],
) -> Result<()> {
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
fn offline_shards(cache: &RowCache, repo: &DatasetRepo) -> Result<(DatasetRepo, Vec<ShardFile>)> {
    let Some(listing) = cache.listing(repo.id(), repo.revision()) else {
        bail!(
            "HF_HUB_OFFLINE is set, but the cache of rows in {} has never listed {} at revision \
             {}.\nNext: run once online (unset HF_HUB_OFFLINE), or download the shards (`hf \
             download {} --repo-type dataset --local-dir DIR/{}`) and pass --source-dir DIR.",
            cache.root().display(),
            repo.id(),
            repo.revision(),
            repo.id(),
            repo.id()
        );
    };
    let pinned = repo.pinned(listing.commit.clone());
    let shards = listing
        .shards
        .iter()
        .map(|shard| ShardFile::offline(&pinned, &shard.path, shard.size, &shard.sha256))
        .collect();
    Ok((pinned, shards))
}

/// Without access to the gated lmsys-chat-1m, the openly licensed part can still be built.
fn suggest_wildchat_alone(error: anyhow::Error) -> anyhow::Error {
    let gated = matches!(
        error.downcast_ref::<HubError>(),
        Some(
            HubError::GatedNoToken { .. }
                | HubError::GatedNoAccess { .. }
                | HubError::InvalidToken { .. }
        )
    );
    if gated {
        anyhow::anyhow!(
            "{error}\nOr build only the WildChat part (ODC-BY), which needs no token: add \
             --sources wildchat."
        )
    } else {
        error
    }
}

/// Local shards with nothing beside them to check against, given the SHA-256 of the Hub's
/// listing when the Hub can be asked (online). A listing that cannot be had (offline, no
/// token for a gated repository) leaves them unverified, as the summary and manifest then say.
async fn listed_sha256s(
    api: &HubApi,
    repo: &DatasetRepo,
    shards: Vec<ShardFile>,
) -> Vec<ShardFile> {
    if api.settings().offline || shards.iter().all(|shard| shard.expected().is_some()) {
        return shards;
    }
    let listed = match api.pin(repo).await {
        Ok(pinned) => api.list_folder(&pinned, "data").await.unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    shards
        .into_iter()
        .map(|shard| {
            let sha256 = listed
                .iter()
                .find(|file| file.path() == shard.path() && file.size() == shard.size())
                .and_then(|file| file.sha256())
                .map(str::to_owned);
            shard.with_listed_sha256(sha256.as_deref())
        })
        .collect()
}

/// The shards of `repo` in a local copy laid out as on the Hub: `DIR/{owner}/{name}/data/` (as
/// `hf download --local-dir DIR/{owner}/{name}` writes it) or `DIR/datasets/{owner}/{name}/data/`.
fn local_shards(dir: &Path, repo: &DatasetRepo) -> Result<Vec<ShardFile>> {
    let candidates = [dir.join(repo.id()), dir.join("datasets").join(repo.id())];
    let Some(root) = candidates.iter().find(|c| c.join("data").is_dir()) else {
        bail!(
            "--source-dir {} holds no copy of {}: looked for {}\nNext: download it with `hf \
             download {} --repo-type dataset --local-dir {}`.",
            dir.display(),
            repo.id(),
            candidates
                .iter()
                .map(|c| c.join("data").display().to_string())
                .collect::<Vec<_>>()
                .join(" and "),
            repo.id(),
            candidates[0].display()
        );
    };
    let mut paths: Vec<String> = std::fs::read_dir(root.join("data"))
        .with_context(|| format!("could not list {}", root.join("data").display()))?
        .flatten()
        .map(|entry| format!("data/{}", entry.file_name().to_string_lossy()))
        .filter(|path| is_shard(path))
        .collect();
    paths.sort();
    if paths.is_empty() {
        bail!(
            "{} holds no train-*.parquet shards",
            root.join("data").display()
        );
    }
    paths
        .into_iter()
        .map(|path| Ok(ShardFile::local(repo, &path, root)?))
        .collect()
}

fn is_shard(path: &str) -> bool {
    let name = path.strip_prefix("data/").unwrap_or_default();
    name.starts_with("train-") && name.ends_with(".parquet") && !name.contains('/')
}

/// Lists a source's `data/train-*.parquet` shards in path order and resolves each: this is where
/// a gated repo refuses us, before anything is streamed.
async fn resolve_shards(api: &Arc<HubApi>, repo: &DatasetRepo) -> Result<Vec<ShardFile>> {
    let mut listed: Vec<_> = api
        .list_folder(repo, "data")
        .await?
        .into_iter()
        .filter(|file| is_shard(file.path()))
        .collect();
    listed.sort_by(|a, b| a.path().cmp(b.path()));
    if listed.is_empty() {
        bail!(
            "{} has no data/train-*.parquet shards at revision {}",
            repo.id(),
            repo.revision()
        );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_train_parquet_files_directly_in_data_are_shards() {
        assert!(is_shard("data/train-00000-of-00004.parquet"));
        for other in [
            "data/test-0.parquet",
            "data/train-0.json",
            "data/sub/train-0.parquet",
            "train-0.parquet",
        ] {
            assert!(!is_shard(other), "{other}");
        }
    }

    #[test]
    fn a_local_copy_is_found_in_either_layout_and_sorted() {
        let dir = tempfile::tempdir().unwrap();
        let repo = DatasetRepo::new("allenai/WildChat-1M", "main");
        let data = dir.path().join("datasets/allenai/WildChat-1M/data");
        std::fs::create_dir_all(&data).unwrap();
        for name in ["train-1.parquet", "train-0.parquet", "notes.txt"] {
            std::fs::write(data.join(name), "PAR1").unwrap();
        }
        let shards = local_shards(dir.path(), &repo).unwrap();
        let paths: Vec<&str> = shards.iter().map(ShardFile::path).collect();
        assert_eq!(paths, ["data/train-0.parquet", "data/train-1.parquet"]);
        let error = local_shards(&dir.path().join("nothing"), &repo).unwrap_err();
        assert!(error.to_string().contains("hf download"), "{error}");
    }
}
