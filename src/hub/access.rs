//! The Hub as the pipeline uses it: the API client and the cache side by side, and the one
//! operation that needs both, a file kept in the Hugging Face cache.

use std::sync::Arc;

use super::api::{HubApi, ListedFile};
use super::cache::{CachedFile, HubCache, is_plain_name};
use super::error::HubError;
use super::range::fetch_range;
use super::repo::DatasetRepo;
use super::settings::HubSettings;

pub(crate) struct Hub {
    api: Arc<HubApi>,
    cache: HubCache,
}

impl Hub {
    pub(crate) fn new(settings: HubSettings) -> Result<Hub, HubError> {
        let cache = HubCache::new(settings.cache_dir.clone());
        Ok(Hub {
            api: Arc::new(HubApi::new(settings)?),
            cache,
        })
    }

    pub(crate) fn settings(&self) -> &HubSettings {
        self.api.settings()
    }

    pub(crate) fn api(&self) -> &Arc<HubApi> {
        &self.api
    }

    pub(crate) fn cache(&self) -> &HubCache {
        &self.cache
    }

    /// The cached copy of `file` of the pinned `repo`, downloaded into the cache when it is
    /// missing or does not hash to the blob name the listing gives. With `HF_HUB_OFFLINE`, use
    /// [`HubCache::lookup`] instead.
    pub(crate) async fn cached_download(
        &self,
        repo: &DatasetRepo,
        file: &ListedFile,
    ) -> Result<CachedFile, HubError> {
        let what = || format!("reading {} of {}", file.path(), repo.id());
        let unsafe_name = |kind: &'static str, value: &str| HubError::UnsafeName {
            what: kind,
            value: value.chars().take(80).collect(),
            origin: what(),
        };
        let blob = file.blob_name().ok_or_else(|| HubError::BadResponse {
            what: what(),
            problem: "the listing gives no hash for it, so it cannot be cached".to_owned(),
        })?;
        if !is_plain_name(blob) {
            return Err(unsafe_name("blob name", blob));
        }
        let commit = repo.reference();
        if !is_plain_name(commit) {
            return Err(unsafe_name("commit", commit));
        }
        if !file.path().split('/').all(is_plain_name) {
            return Err(unsafe_name("path", file.path()));
        }
        let lock = self.cache.lock_blob(repo, blob).await?;
        // Hashing a cached blob is blocking work: off the runtime's threads.
        let (lock, present) = tokio::task::spawn_blocking(move || {
            let present = lock.is_present();
            (lock, present)
        })
        .await
        .expect("hashing does not panic");
        if !present {
            let remote = self.api.resolve(repo, file).await?;
            let bytes = fetch_range(&self.api, &remote, 0, file.size()).await?;
            let (blob, what) = (blob.to_owned(), what());
            let (commit, path, revision) = (
                commit.to_owned(),
                file.path().to_owned(),
                repo.revision().to_owned(),
            );
            // Hashing, writing and syncing the blob are blocking work too.
            return tokio::task::spawn_blocking(move || {
                if !lock.matches(&bytes) {
                    return Err(HubError::BadResponse {
                        what,
                        problem: format!("the bytes received do not hash to {blob}, as listed"),
                    });
                }
                lock.write(&bytes)?;
                lock.link(&commit, &path, &revision)
            })
            .await
            .expect("writing the cache does not panic");
        }
        lock.link(commit, file.path(), repo.revision())
    }
}
