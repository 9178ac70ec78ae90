//! Hub access (FORMAT.md §1), as a chain of types each with one job: `settings` and `network`
//! read the environment; `http` says what an answer means (pure); `retry` keeps one budget per
//! operation; `client` sends requests (the token only to the Hub); `api` pins, lists and
//! resolves; `range` reads byte ranges; `cache` keeps the Hugging Face cache (no HTTP); `access`
//! puts the API and the cache side by side for the pipeline.

mod access;
mod api;
mod cache;
mod client;
mod error;
mod http;
mod network;
mod pace;
mod range;
mod repo;
mod retry;
mod settings;

pub(crate) use access::Hub;
pub(crate) use api::{HubApi, ListedFile, RemoteFile};
pub(crate) use cache::CachedFile;
pub(crate) use error::HubError;
pub(crate) use range::RangeReader;
pub(crate) use repo::DatasetRepo;
pub(crate) use retry::{RetryReporter, Retrying};
pub(crate) use settings::HubSettings;
