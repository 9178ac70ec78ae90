//! The Hugging Face cache (`$HF_HUB_CACHE`): `datasets--{owner}--{name}/` with `blobs/` named by
//! ETag, `snapshots/<commit>/<path>` pointing at them and `refs/<revision>` naming the commit, as
//! `huggingface_hub` keeps it, so either tool finds what the other downloaded.

use std::path::{Path, PathBuf};

use super::{DatasetRepo, Hub, HubError};

/// A file in the Hugging Face cache, and the commit of the snapshot that holds it.
#[derive(Debug, Clone)]
pub struct CachedFile {
    pub path: PathBuf,
    pub commit: Option<String>,
    /// The blob's name in the cache, which is the file's ETag.
    pub etag: Option<String>,
}

impl Hub {
    fn cache(&self, repo: &DatasetRepo) -> hf_hub::CacheRepo {
        hf_hub::Cache::new(self.settings.cache_dir.clone()).repo(hf_hub::Repo::with_revision(
            repo.id.clone(),
            hf_hub::RepoType::Dataset,
            repo.revision.clone(),
        ))
    }

    /// The cached copy of `path` at `repo`'s revision (a branch the cache has a ref for, or a
    /// commit), without asking the Hub.
    fn cached(&self, repo: &DatasetRepo, path: &str) -> Option<CachedFile> {
        let cache = self.cache(repo);
        let pointer = cache.get(path).or_else(|| {
            let snapshot = cache.pointer_path(&repo.revision).join(path);
            snapshot.exists().then_some(snapshot)
        })?;
        // snapshots/<commit>/<path>
        let commit = pointer
            .ancestors()
            .nth(path.split('/').count())
            .and_then(Path::file_name)
            .map(|name| name.to_string_lossy().into_owned());
        let etag = pointer
            .canonicalize()
            .ok()
            .and_then(|blob| blob.file_name().map(|n| n.to_string_lossy().into_owned()));
        Some(CachedFile {
            path: pointer,
            commit,
            etag,
        })
    }

    /// The files at the top of any cached snapshot of `repo`, for offline listings.
    pub fn cached_files(&self, repo: &DatasetRepo) -> Vec<String> {
        let snapshots = self
            .settings
            .cache_dir
            .join(format!("datasets--{}", repo.id.replace('/', "--")))
            .join("snapshots");
        let mut files: Vec<String> = std::fs::read_dir(snapshots)
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(|snapshot| {
                std::fs::read_dir(snapshot.path())
                    .into_iter()
                    .flatten()
                    .flatten()
            })
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        files.dedup();
        files
    }

    /// Returns the cached copy of a file, downloading it into the Hugging Face cache layout
    /// (`blobs/`, `snapshots/<commit>/`, `refs/<revision>`) when it is missing or outdated.
    /// With `HF_HUB_OFFLINE` the cache alone answers.
    pub async fn cached_download(
        &self,
        repo: &DatasetRepo,
        path: &str,
    ) -> Result<CachedFile, HubError> {
        let cache = self.cache(repo);
        if self.settings.offline {
            return self.cached(repo, path).ok_or_else(|| HubError::NotCached {
                repo: repo.id.clone(),
                file: path.to_owned(),
                cache: self.settings.cache_dir.clone(),
            });
        }
        let file = self.resolve(repo, path).await?;
        let etag = file.etag.clone().ok_or_else(|| HubError::BadResponse {
            what: file.describe(),
            problem: "no ETag, so the file cannot be cached".to_owned(),
        })?;
        let commit = file.commit.clone().unwrap_or_else(|| repo.revision.clone());
        let blob = cache.blob_path(&etag);
        let pointer = cache.pointer_path(&commit).join(path);
        let cache_error = |path: &Path| {
            let path = path.to_owned();
            move |source| HubError::Cache { path, source }
        };
        if !blob.exists() {
            let bytes = self.fetch_range(&file, 0, file.size).await?;
            let parent = blob.parent().expect("blob paths have a parent");
            std::fs::create_dir_all(parent).map_err(cache_error(parent))?;
            let partial = blob.with_extension("incomplete");
            std::fs::write(&partial, &bytes).map_err(cache_error(&partial))?;
            std::fs::rename(&partial, &blob).map_err(cache_error(&blob))?;
        }
        if !pointer.exists() {
            link_snapshot(&blob, &pointer).map_err(cache_error(&pointer))?;
        }
        cache
            .create_ref(&commit)
            .map_err(cache_error(&self.settings.cache_dir))?;
        Ok(CachedFile {
            path: pointer,
            commit: Some(commit),
            etag: Some(etag),
        })
    }
}

fn link_snapshot(blob: &Path, pointer: &Path) -> std::io::Result<()> {
    let parent = pointer.parent().expect("snapshot paths have a parent");
    std::fs::create_dir_all(parent)?;
    #[cfg(unix)]
    {
        // Relative, like huggingface_hub, so the cache can be moved.
        let depth = pointer
            .strip_prefix(
                blob.parent()
                    .and_then(Path::parent)
                    .expect("blobs/ is inside the repo folder"),
            )
            .map(|relative| relative.components().count() - 1)
            .unwrap_or(0);
        let mut target = PathBuf::new();
        for _ in 0..depth {
            target.push("..");
        }
        target.push("blobs");
        target.push(blob.file_name().expect("blobs have a name"));
        if std::os::unix::fs::symlink(&target, pointer).is_ok() {
            return Ok(());
        }
    }
    std::fs::copy(blob, pointer).map(|_| ())
}
