//! Hub access (FORMAT.md §1), split by job: `settings` and `network` read the environment, `client`
//! sends requests with retries, `response` decides what an answer means, `api` lists and resolves
//! files, `range` streams byte ranges, `cache` keeps the Hugging Face cache.

mod api;
mod cache;
mod client;
mod error;
mod network;
mod range;
mod response;
mod retry;
mod settings;

use std::path::PathBuf;

use reqwest::Url;

pub use cache::CachedFile;
pub use client::Hub;
pub use error::HubError;
pub use network::NetworkSettings;
pub use range::RangeReader;
pub use settings::{HubSettings, Token, TokenOrigin};

/// A dataset repository at a revision (branch, tag or commit), and the commit that revision
/// was resolved to once ([`Hub::pin`]): every request then names the commit, so a branch that
/// moves during a run cannot mix two commits in one output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetRepo {
    pub id: String,
    /// As asked for.
    pub revision: String,
    pub commit: Option<String>,
}

impl DatasetRepo {
    pub fn new(id: &str, revision: &str) -> Self {
        Self {
            id: id.to_owned(),
            revision: revision.to_owned(),
            commit: None,
        }
    }

    /// What requests name: the commit once pinned, else the revision.
    pub fn reference(&self) -> &str {
        self.commit.as_deref().unwrap_or(&self.revision)
    }
}

/// A file of a dataset repository and where its bytes are read from.
#[derive(Debug, Clone)]
pub struct HubFile {
    pub repo: DatasetRepo,
    pub path: String,
    pub size: u64,
    pub etag: Option<String>,
    pub commit: Option<String>,
    location: Location,
}

#[derive(Debug, Clone)]
enum Location {
    /// Where the `/resolve/` redirects led, followed once.
    Remote {
        url: Url,
        /// False once the redirect left the Hub for storage: pre-signed URLs must not get the
        /// token.
        send_token: bool,
    },
    /// A copy on disk, e.g. downloaded beforehand with `hf download`.
    Local(PathBuf),
}

impl HubFile {
    /// `path` of `repo`, read from `local` instead of the Hub.
    pub fn local(repo: &DatasetRepo, path: &str, local: PathBuf) -> Result<HubFile, HubError> {
        let size = std::fs::metadata(&local)
            .map_err(|source| HubError::Local {
                path: local.clone(),
                source,
            })?
            .len();
        Ok(HubFile {
            repo: repo.clone(),
            path: path.to_owned(),
            size,
            etag: None,
            commit: None,
            location: Location::Local(local),
        })
    }

    fn describe(&self) -> String {
        format!("reading {} of {}", self.path, self.repo.id)
    }

    /// False for storage URLs and local files: the token is only for the Hub.
    fn sends_token(&self) -> bool {
        matches!(
            self.location,
            Location::Remote {
                send_token: true,
                ..
            }
        )
    }
}
