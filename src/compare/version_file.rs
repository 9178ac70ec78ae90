//! The annotation files of the versions `diff` compares, in the Hugging Face cache: downloaded
//! when missing (the repository listed once for all of them), offline taken from the cache
//! alone. No source shard is touched.

use std::path::PathBuf;

use anyhow::Result;

use super::error::CompareError;
use crate::annotations::version::{self, ANNOTATIONS_REPO, AnnotationVersion};
use crate::hub::{DatasetRepo, Hub, HubSettings, ListedFile};
use crate::printer::Printer;

/// The annotation repository at a pinned revision, and its annotation files once listed.
pub struct AnnotationFiles {
    hub: Hub,
    repo: DatasetRepo,
    listed: Option<Vec<(AnnotationVersion, ListedFile)>>,
}

impl AnnotationFiles {
    /// The Hub as the environment sets it up, and `revision` of the annotation repository
    /// pinned to a commit (offline, as it is).
    pub async fn open(revision: &str) -> Result<AnnotationFiles> {
        let hub = Hub::new(HubSettings::from_env())?;
        let repo = hub
            .api()
            .pin(&DatasetRepo::new(ANNOTATIONS_REPO, revision))
            .await?;
        Ok(AnnotationFiles {
            hub,
            repo,
            listed: None,
        })
    }

    /// The path of `version`'s file in the cache.
    pub async fn fetch(
        &mut self,
        version: AnnotationVersion,
        printer: &Printer,
    ) -> Result<PathBuf> {
        let (hub, repo) = (&self.hub, &self.repo);
        let file_name = version.file_name();
        if hub.settings().offline {
            return match hub.cache().lookup(repo, &file_name)? {
                Some(file) => Ok(file.path().to_owned()),
                None => Err(CompareError::NotCached {
                    version,
                    file: file_name,
                    repo: repo.id().to_owned(),
                    cache: hub.cache().dir().to_owned(),
                    cached: version::available(hub, repo).await?,
                }
                .into()),
            };
        }
        let listed = match &mut self.listed {
            Some(listed) => listed,
            None => self
                .listed
                .insert(version::annotation_files(hub, repo).await?),
        };
        let Some((_, file)) = listed.iter().find(|(listed, _)| *listed == version) else {
            return Err(CompareError::UnknownVersion {
                version,
                repo: repo.id().to_owned(),
                revision: repo.revision().to_owned(),
                available: listed.iter().map(|(version, _)| *version).collect(),
            }
            .into());
        };
        printer.status(format!("Fetching {file_name} from {}", repo.id()));
        Ok(hub.cached_download(repo, file).await?.path().to_owned())
    }
}
