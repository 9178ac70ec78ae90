//! A source's shards in a local copy (`--source-dir`), laid out as on the Hub, checked against
//! what was published for them (FORMAT.md §1).

use std::path::Path;

use super::error::FindError;
use super::file::{ShardFile, is_shard};
use crate::hub::{DatasetRepo, HubApi};

/// The shards of `repo` in a local copy laid out as on the Hub: `DIR/{owner}/{name}/data/` (as
/// `hf download --local-dir DIR/{owner}/{name}` writes it) or `DIR/datasets/{owner}/{name}/data/`.
pub(super) fn local_shards(dir: &Path, repo: &DatasetRepo) -> Result<Vec<ShardFile>, FindError> {
    let roots = [dir.join(repo.id()), dir.join("datasets").join(repo.id())];
    let Some(root) = roots.iter().find(|root| root.join("data").is_dir()) else {
        return Err(FindError::NoLocalCopy {
            dir: dir.to_owned(),
            repo: repo.id().to_owned(),
            roots,
        });
    };
    let data = root.join("data");
    let mut paths: Vec<String> = std::fs::read_dir(&data)
        .map_err(|source| FindError::ListLocal {
            path: data.clone(),
            source,
        })?
        .flatten()
        .map(|entry| format!("data/{}", entry.file_name().to_string_lossy()))
        .filter(|path| is_shard(path))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(FindError::NoLocalShards { data });
    }
    paths
        .into_iter()
        .map(|path| Ok(ShardFile::local(repo, &path, root)?))
        .collect()
}

/// Local shards with nothing beside them to check against, given the SHA-256 of the Hub's
/// listing when the Hub can be asked (online). A listing that cannot be had (offline, no
/// token for a gated repository) leaves them unverified, as the summary and manifest then say.
pub(super) async fn listed_sha256s(
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let step = error.next_step().unwrap_or_default();
        assert!(step.contains("hf download"), "{error}: {step}");
    }
}
