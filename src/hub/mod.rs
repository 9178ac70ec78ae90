//! Hub access (SPEC §1, §8): file listings, the annotation download into the standard Hugging Face
//! cache, and byte ranges of source shards, with redirects, retries and actionable errors.

mod error;
mod retry;
mod settings;

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{self, HeaderMap};
use reqwest::{Client, RequestBuilder, Response, StatusCode, Url};
use serde::Deserialize;

pub use error::HubError;
use retry::{Outcome, RetryPolicy};
pub use settings::{HubSettings, Token, TokenOrigin};

const USER_AGENT: &str = concat!("healthchat/", env!("CARGO_PKG_VERSION"));
const MAX_REDIRECTS: usize = 10;

/// A dataset repository at a revision (branch, tag or commit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetRepo {
    pub id: String,
    pub revision: String,
}

impl DatasetRepo {
    pub fn new(id: &str, revision: &str) -> Self {
        Self {
            id: id.to_owned(),
            revision: revision.to_owned(),
        }
    }
}

/// A file in the Hugging Face cache, and the commit of the snapshot that holds it.
#[derive(Debug, Clone)]
pub struct CachedFile {
    pub path: PathBuf,
    pub commit: Option<String>,
    /// The blob's name in the cache, which is the file's ETag.
    pub etag: Option<String>,
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

pub struct Hub {
    settings: HubSettings,
    base: Url,
    /// Follows redirects itself; reqwest drops `Authorization` when one changes host.
    client: Client,
    /// Follows none, so that `/resolve/` redirects are seen and followed once per file.
    resolver: Client,
    retry: RetryPolicy,
}

#[derive(Deserialize)]
struct TreeEntry {
    #[serde(rename = "type")]
    kind: String,
    path: String,
}

/// What a request was about, to turn an HTTP error into a message about the user's data.
struct Target<'a> {
    repo: &'a DatasetRepo,
    path: Option<&'a str>,
    what: String,
    /// False for storage (CDN) URLs, whose 401/403 say nothing about the user's Hub access.
    on_hub: bool,
}

impl Hub {
    pub fn new(settings: HubSettings) -> Result<Hub, HubError> {
        let base =
            Url::parse(&format!("{}/", settings.endpoint)).map_err(|e| HubError::BadEndpoint {
                endpoint: settings.endpoint.clone(),
                problem: e.to_string(),
            })?;
        if base.cannot_be_a_base() {
            return Err(HubError::BadEndpoint {
                endpoint: settings.endpoint.clone(),
                problem: "it has no host".to_owned(),
            });
        }
        let builder = || {
            Client::builder()
                .user_agent(USER_AGENT)
                .connect_timeout(Duration::from_secs(30))
                // A stalled stream fails this read and is resumed from its last byte.
                .read_timeout(settings.read_timeout)
        };
        let client = builder()
            .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
            .build()
            .expect("TLS backend and settings are static");
        let resolver = builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("TLS backend and settings are static");
        Ok(Hub {
            settings,
            base,
            client,
            resolver,
            retry: RetryPolicy::default(),
        })
    }

    pub fn settings(&self) -> &HubSettings {
        &self.settings
    }

    /// The dataset's page on the Hub, where gated access is requested.
    pub fn dataset_page(&self, repo_id: &str) -> String {
        format!("{}/datasets/{repo_id}", self.settings.endpoint)
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("checked in Hub::new")
            .pop_if_empty()
            .extend(segments);
        url
    }

    fn resolve_url(&self, repo: &DatasetRepo, path: &str) -> Url {
        let mut segments = vec!["datasets"];
        segments.extend(repo.id.split('/'));
        segments.extend(["resolve", repo.revision.as_str()]);
        segments.extend(path.split('/'));
        self.url(&segments)
    }

    fn with_token(&self, request: RequestBuilder, send_token: bool) -> RequestBuilder {
        match (&self.settings.token, send_token) {
            (Some((token, _)), true) => request.bearer_auth(token.secret()),
            _ => request,
        }
    }

    /// The paths of the files directly inside `folder` ("" for the root) of a dataset repository.
    pub async fn list_folder(
        &self,
        repo: &DatasetRepo,
        folder: &str,
    ) -> Result<Vec<String>, HubError> {
        let mut segments = vec!["api", "datasets"];
        segments.extend(repo.id.split('/'));
        segments.extend(["tree", repo.revision.as_str()]);
        segments.extend(folder.split('/').filter(|s| !s.is_empty()));
        let mut next = Some(self.url(&segments));
        let target = Target {
            repo,
            path: (!folder.is_empty()).then_some(folder),
            what: format!(
                "listing {} of {}",
                if folder.is_empty() { "/" } else { folder },
                repo.id
            ),
            on_hub: true,
        };
        let mut files = Vec::new();
        while let Some(url) = next.take() {
            let response = self
                .send(&target, || {
                    self.with_token(self.client.get(url.clone()), true)
                })
                .await?;
            next = next_page(response.headers(), &url);
            let body = self.read_body(&target, response).await?;
            let entries: Vec<TreeEntry> =
                serde_json::from_slice(&body).map_err(|e| HubError::BadResponse {
                    what: target.what.clone(),
                    problem: format!("the listing is not the expected JSON ({e})"),
                })?;
            files.extend(
                entries
                    .into_iter()
                    .filter(|entry| entry.kind == "file")
                    .map(|entry| entry.path),
            );
        }
        Ok(files)
    }

    /// Follows the `/resolve/` redirects of a file (HEAD requests) to where its bytes are, and
    /// learns its size, ETag and commit on the way. This is also where gated access is checked.
    pub async fn resolve(&self, repo: &DatasetRepo, path: &str) -> Result<HubFile, HubError> {
        let target = Target {
            repo,
            path: Some(path),
            what: format!("resolving {path} of {}", repo.id),
            on_hub: true,
        };
        let mut url = self.resolve_url(repo, path);
        let mut send_token = true;
        let (mut size, mut etag, mut commit) = (None, None, None);
        let mut located = false;
        for _ in 0..=MAX_REDIRECTS {
            let response = self
                .send(&target, || {
                    self.with_token(self.resolver.head(url.clone()), send_token)
                })
                .await?;
            let headers = response.headers();
            commit = commit.or_else(|| header_str(headers, "x-repo-commit"));
            size = size.or_else(|| header_u64(headers, "x-linked-size"));
            etag = etag.or_else(|| header_str(headers, "x-linked-etag").map(|e| clean_etag(&e)));
            if !response.status().is_redirection() {
                size = size.or_else(|| header_u64(headers, header::CONTENT_LENGTH.as_str()));
                etag = etag.or_else(|| header_str(headers, "etag").map(|e| clean_etag(&e)));
                located = true;
                break;
            }
            let storage_redirect =
                headers.contains_key("x-linked-size") || headers.contains_key("x-linked-etag");
            let location = header_str(headers, header::LOCATION.as_str())
                .and_then(|location| url.join(&location).ok())
                .ok_or_else(|| HubError::BadResponse {
                    what: target.what.clone(),
                    problem: format!("HTTP {} without a valid Location", response.status()),
                })?;
            if storage_redirect || location.origin() != url.origin() {
                send_token = false;
            }
            url = location;
            // A pre-signed storage URL whose size is known needs no request of its own.
            if storage_redirect && size.is_some() {
                located = true;
                break;
            }
        }
        if !located {
            return Err(HubError::BadResponse {
                what: target.what,
                problem: format!("more than {MAX_REDIRECTS} redirects"),
            });
        }
        let size = size.ok_or_else(|| HubError::BadResponse {
            what: target.what.clone(),
            problem: "no Content-Length or X-Linked-Size".to_owned(),
        })?;
        Ok(HubFile {
            repo: repo.clone(),
            path: path.to_owned(),
            size,
            etag,
            commit,
            location: Location::Remote { url, send_token },
        })
    }

    /// Reads bytes `start..end` of a resolved file, resuming after dropped connections.
    pub fn read_range(&self, file: &HubFile, start: u64, end: u64) -> RangeReader<'_> {
        RangeReader {
            hub: self,
            what: file.describe(),
            file: file.clone(),
            offset: start,
            end,
            response: None,
            local: None,
            content_etag: None,
            failures: 0,
            fresh_urls: 0,
        }
    }

    /// Reads a whole range into memory (footers and other small reads).
    pub async fn fetch_range(
        &self,
        file: &HubFile,
        start: u64,
        end: u64,
    ) -> Result<Bytes, HubError> {
        let mut reader = self.read_range(file, start, end);
        let mut bytes = Vec::with_capacity(usize::try_from(end - start).unwrap_or(0));
        while let Some(chunk) = reader.next_chunk().await? {
            bytes.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(bytes))
    }

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

    /// Sends a request, retrying what can succeed later: connection failures, timeouts, HTTP 5xx
    /// and 429 (after `Retry-After` or the `RateLimit` reset when the Hub gives one).
    async fn send(
        &self,
        target: &Target<'_>,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response, HubError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = match build().send().await {
                Ok(response) => self.classify(target, response).await,
                Err(error) => Outcome::Retry {
                    wait: None,
                    reason: describe_reqwest_error(error),
                },
            };
            match outcome {
                Outcome::Done(response) => return Ok(response),
                Outcome::Fail(error) => return Err(error),
                Outcome::Retry { wait, reason } => {
                    let wait = self.retry.wait(attempt, wait).ok_or_else(|| {
                        HubError::RetriesExhausted {
                            what: target.what.clone(),
                            attempts: attempt,
                            last: reason,
                        }
                    })?;
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    async fn classify(&self, target: &Target<'_>, response: Response) -> Outcome {
        let status = response.status();
        if status.is_success() || status.is_redirection() {
            return Outcome::Done(response);
        }
        if retry::is_transient(status) {
            return Outcome::Retry {
                wait: retry::server_wait(response.headers()),
                reason: format!("HTTP {status}"),
            };
        }
        let headers = response.headers();
        let message = header_str(headers, "x-error-message");
        if !target.on_hub {
            return Outcome::Fail(HubError::Status {
                what: target.what.clone(),
                status: status.as_u16(),
                message: message.map(|m| format!(": {m}")).unwrap_or_default(),
            });
        }
        let code = header_str(headers, "x-error-code").unwrap_or_default();
        let repo = target.repo.id.clone();
        let token_origin = self
            .settings
            .token
            .as_ref()
            .map(|(_, origin)| origin.to_string());
        let error = match (code.as_str(), status, token_origin) {
            ("RepoNotFound", _, None) if status == StatusCode::UNAUTHORIZED => HubError::Status {
                what: target.what.clone(),
                status: status.as_u16(),
                message: format!(
                    ": {repo} does not exist or is private; if it is private, set HF_TOKEN to a \
                     token that can read it"
                ),
            },
            ("RepoNotFound", _, _) => HubError::RepoNotFound {
                repo,
                endpoint: self.settings.endpoint.clone(),
            },
            ("RevisionNotFound", _, _) => HubError::RevisionNotFound {
                repo,
                revision: target.repo.revision.clone(),
            },
            ("EntryNotFound", _, _) => HubError::EntryNotFound {
                repo,
                revision: target.repo.revision.clone(),
                path: target.path.unwrap_or("/").to_owned(),
            },
            (_, StatusCode::UNAUTHORIZED, Some(origin)) => HubError::InvalidToken {
                repo,
                origin,
                endpoint: self.settings.endpoint.clone(),
            },
            (_, StatusCode::FORBIDDEN, Some(origin)) => HubError::GatedNoAccess {
                page: self.dataset_page(&repo),
                repo,
                origin,
            },
            ("GatedRepo", _, None)
            | (_, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN, None) => {
                HubError::GatedNoToken {
                    page: self.dataset_page(&repo),
                    repo,
                    endpoint: self.settings.endpoint.clone(),
                }
            }
            _ => HubError::Status {
                what: target.what.clone(),
                status: status.as_u16(),
                message: message.map(|m| format!(": {m}")).unwrap_or_default(),
            },
        };
        Outcome::Fail(error)
    }

    async fn read_body(&self, target: &Target<'_>, response: Response) -> Result<Bytes, HubError> {
        response
            .bytes()
            .await
            .map_err(|error| HubError::BadResponse {
                what: target.what.clone(),
                problem: describe_reqwest_error(error),
            })
    }
}

/// Sequential reader of a byte range. A connection that drops or stalls mid-body is reopened
/// with `Range` from the next byte, so no byte is lost or read twice.
pub struct RangeReader<'h> {
    hub: &'h Hub,
    what: String,
    file: HubFile,
    offset: u64,
    end: u64,
    response: Option<Response>,
    local: Option<tokio::fs::File>,
    /// The storage's ETag from the first response: a different one later means the file changed.
    content_etag: Option<String>,
    failures: u32,
    /// Times the storage URL was replaced by resolving the file again.
    fresh_urls: u32,
}

/// Pre-signed storage URLs expire (the Hub's last about an hour); one that is refused is
/// replaced by resolving the file again, this many times per range.
const MAX_FRESH_URLS: u32 = 5;

impl RangeReader<'_> {
    /// The next bytes of the range, or `None` at its end.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, HubError> {
        if let Location::Local(path) = &self.file.location {
            let path = path.clone();
            return self.next_local_chunk(path).await;
        }
        loop {
            if self.offset >= self.end {
                return Ok(None);
            }
            if self.response.is_none() {
                self.response = Some(self.open().await?);
            }
            let response = self.response.as_mut().expect("opened above");
            let failure = match response.chunk().await {
                Ok(Some(chunk)) => {
                    let take = chunk
                        .len()
                        .min(usize::try_from(self.end - self.offset).unwrap_or(usize::MAX));
                    if take == 0 {
                        continue;
                    }
                    self.offset += take as u64;
                    self.failures = 0;
                    return Ok(Some(chunk.slice(..take)));
                }
                Ok(None) => "the connection closed before the end of the range".to_owned(),
                Err(error) => describe_reqwest_error(error),
            };
            self.response = None;
            self.failures += 1;
            let wait = self.hub.retry.wait(self.failures, None).ok_or_else(|| {
                HubError::RetriesExhausted {
                    what: self.what.clone(),
                    attempts: self.failures,
                    last: failure,
                }
            })?;
            tokio::time::sleep(wait).await;
        }
    }

    async fn next_local_chunk(&mut self, path: PathBuf) -> Result<Option<Bytes>, HubError> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        const CHUNK: u64 = 1 << 20;
        if self.offset >= self.end {
            return Ok(None);
        }
        let local_error = |source| HubError::Local {
            path: path.clone(),
            source,
        };
        let file = match &mut self.local {
            Some(file) => file,
            empty => {
                let mut file = tokio::fs::File::open(&path).await.map_err(local_error)?;
                file.seek(std::io::SeekFrom::Start(self.offset))
                    .await
                    .map_err(local_error)?;
                empty.insert(file)
            }
        };
        let mut chunk = vec![0; CHUNK.min(self.end - self.offset) as usize];
        file.read_exact(&mut chunk).await.map_err(local_error)?;
        self.offset += chunk.len() as u64;
        Ok(Some(Bytes::from(chunk)))
    }

    async fn open(&mut self) -> Result<Response, HubError> {
        loop {
            match self.request().await {
                Err(HubError::Status { status, .. })
                    if !self.file.sends_token()
                        && matches!(status, 400 | 401 | 403 | 404 | 410)
                        && self.fresh_urls < MAX_FRESH_URLS =>
                {
                    self.fresh_urls += 1;
                    self.refresh_url().await?;
                }
                other => return other,
            }
        }
    }

    /// Resolves the file again for a new storage URL, after checking it is still the same file.
    async fn refresh_url(&mut self) -> Result<(), HubError> {
        let fresh = self.hub.resolve(&self.file.repo, &self.file.path).await?;
        self.check_size(fresh.size)?;
        self.check_etag(self.file.etag.as_deref(), fresh.etag.as_deref())?;
        self.file = fresh;
        Ok(())
    }

    /// A file that is not the one first resolved any more.
    fn changed(&self, problem: String) -> HubError {
        HubError::Changed {
            what: self.what.clone(),
            problem,
        }
    }

    fn check_size(&self, now: u64) -> Result<(), HubError> {
        if now == self.file.size {
            return Ok(());
        }
        Err(self.changed(format!(
            "its size went from {} to {now} bytes",
            self.file.size
        )))
    }

    /// Where both ETags are known, they must agree.
    fn check_etag(&self, before: Option<&str>, now: Option<&str>) -> Result<(), HubError> {
        match (before, now) {
            (Some(before), Some(now)) if before != now => {
                Err(self.changed(format!("ETag {before} became {now}")))
            }
            _ => Ok(()),
        }
    }

    async fn request(&mut self) -> Result<Response, HubError> {
        let Location::Remote { url, send_token } = &self.file.location else {
            unreachable!("local files are read by next_local_chunk")
        };
        let target = Target {
            repo: &self.file.repo,
            path: Some(&self.file.path),
            what: self.what.clone(),
            on_hub: *send_token,
        };
        let range = format!("bytes={}-{}", self.offset, self.end - 1);
        let response = self
            .hub
            .send(&target, || {
                let request = self
                    .hub
                    .client
                    .get(url.clone())
                    .header(header::RANGE, range.as_str());
                self.hub.with_token(request, *send_token)
            })
            .await?;
        let etag = header_str(response.headers(), "etag").map(|e| clean_etag(&e));
        self.check_etag(self.content_etag.as_deref(), etag.as_deref())?;
        if self.content_etag.is_none() {
            self.content_etag = etag;
        }
        match response.status() {
            StatusCode::PARTIAL_CONTENT => {
                let content_range =
                    header_str(response.headers(), "content-range").unwrap_or_default();
                let (start, total) =
                    parse_content_range(&content_range).ok_or_else(|| HubError::BadResponse {
                        what: self.what.clone(),
                        problem: format!("invalid Content-Range `{content_range}`"),
                    })?;
                if start != self.offset {
                    return Err(HubError::BadResponse {
                        what: self.what.clone(),
                        problem: format!(
                            "asked for bytes from {}, got them from {start}",
                            self.offset
                        ),
                    });
                }
                if let Some(total) = total {
                    self.check_size(total)?;
                }
            }
            StatusCode::OK if self.offset == 0 => {}
            StatusCode::RANGE_NOT_SATISFIABLE => {
                return Err(self.changed(format!("it is now shorter than {} bytes", self.end)));
            }
            status => {
                return Err(HubError::BadResponse {
                    what: self.what.clone(),
                    problem: format!("HTTP {status} to a Range request"),
                });
            }
        }
        Ok(response)
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

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name)?.to_str().ok().map(str::to_owned)
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    header_str(headers, name)?.trim().parse().ok()
}

/// `W/"abc"` and `"abc"` → `abc`, as `huggingface_hub` normalises ETags.
fn clean_etag(etag: &str) -> String {
    etag.trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .to_owned()
}

/// `bytes 0-99/1234` → (0, Some(1234)); `bytes 0-99/*` → (0, None).
fn parse_content_range(value: &str) -> Option<(u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, _) = range.split_once('-')?;
    let total = match total.trim() {
        "*" => None,
        total => Some(total.parse().ok()?),
    };
    Some((start.trim().parse().ok()?, total))
}

/// The `rel="next"` target of a `Link` header (the Hub's listing pagination).
fn next_page(headers: &HeaderMap, current: &Url) -> Option<Url> {
    let link = header_str(headers, header::LINK.as_str())?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params.contains("rel=\"next\"").then(|| {
            let target = target.trim().trim_start_matches('<').trim_end_matches('>');
            current.join(target).ok()
        })?
    })
}

/// The error and its causes, without the URL (a storage URL's signature is no one's business).
fn describe_reqwest_error(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges_parse() {
        assert_eq!(
            parse_content_range("bytes 10-99/1234"),
            Some((10, Some(1234)))
        );
        assert_eq!(parse_content_range("bytes 0-0/*"), Some((0, None)));
        assert_eq!(parse_content_range("items 0-1/2"), None);
    }

    #[test]
    fn etags_are_normalised() {
        assert_eq!(clean_etag("W/\"abc\""), "abc");
        assert_eq!(clean_etag("\"abc\""), "abc");
    }

    #[test]
    fn next_page_is_found_in_a_link_header() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::LINK,
            "<https://hub.test/api/datasets/a/b/tree/main?cursor=xyz>; rel=\"next\""
                .parse()
                .unwrap(),
        );
        let current = Url::parse("https://hub.test/api/datasets/a/b/tree/main").unwrap();
        assert_eq!(
            next_page(&headers, &current).unwrap().as_str(),
            "https://hub.test/api/datasets/a/b/tree/main?cursor=xyz"
        );
        assert_eq!(next_page(&HeaderMap::new(), &current), None);
    }

    #[test]
    fn urls_encode_revisions_and_keep_endpoint_paths() {
        let mut settings = HubSettings::from_env();
        settings.endpoint = "http://127.0.0.1:8080/mirror".to_owned();
        let hub = Hub::new(settings).unwrap();
        let repo = DatasetRepo::new("lmsys/lmsys-chat-1m", "refs/convert/parquet");
        assert_eq!(
            hub.resolve_url(&repo, "data/train-0.parquet").as_str(),
            "http://127.0.0.1:8080/mirror/datasets/lmsys/lmsys-chat-1m/resolve/refs%2Fconvert%2Fparquet/data/train-0.parquet"
        );
    }
}
